/* acpi.c — ACPI 6.3 tables for kiln's hardware-reduced x86 board: RSDP, XSDT, FADT, DSDT, MADT,
 * and MCFG with a PCI bus. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "pci/pci_bus.h"
#include "devices/acpi_sleep.h"
#include "devices/pvpanic.h"
#include "devices/uart16550.h"

#define OEM_ID		 "KILN  "
#define OEM_TABLE_ID	 "KILNVM  "
#define OEM_REVISION	 1
#define CREATOR_ID	 "KILN"
#define CREATOR_REVISION 1
#define TABLE_ALIGN	 16 /* the RSDP needs 16; the rest are aligned alike for tidiness */

/* Revisions of ACPI 6.3 (edk2's Acpi63.h agrees). */
#define RSDP_REVISION	    2
#define XSDT_REVISION	    1
#define FADT_REVISION	    6
#define FADT_MINOR_REVISION 3
#define DSDT_REVISION	    2 /* 64-bit integers */
#define MADT_REVISION	    5

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* of the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_gpa; /* 0: no RSDT; revision 2 readers use the XSDT */
	uint32_t length;
	uint64_t xsdt_gpa;
	uint8_t ext_checksum; /* of all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

/* Generic Address Structure (ACPI 6.3 §5.2.3.2). */
struct acpi_gas {
	uint8_t space_id; /* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1: byte */
	uint64_t address;
} __attribute__((packed));

#define GAS_SYSTEM_IO	 1
#define GAS_ACCESS_BYTE	 1
#define FADT_RESET_VALUE 0xfe /* i8042 command: pulse the reset line */

/* FADT (ACPI 6.3 §5.2.9, table 5-34). */
struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk, pm_tmr_blk;
	uint32_t gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_blk_len, gpe1_blk_len;
	uint8_t gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	char hypervisor_vendor[8];
} __attribute__((packed));

/* FADT flags and IA-PC boot architecture flags (ACPI 6.3 tables 5-35, 5-36). */
#define FADT_WBINVD	     (1u << 0)
#define FADT_PWR_BUTTON	     (1u << 4) /* set: no fixed-feature power button */
#define FADT_SLP_BUTTON	     (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_RESET_REG_SUP   (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)
#define IAPC_LEGACY_DEVICES  (1u << 0)
#define IAPC_8042	     (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define FADT_NO_C2C3_LAT     0x0fff /* P_LVL2_LAT > 100, P_LVL3_LAT > 1000: no C2/C3 */
#define CMOS_CENTURY_INDEX   0x32   /* kiln's RTC keeps the century there */

/* MADT (ACPI 6.3 §5.2.12) and its entries. */
struct madt_header {
	struct acpi_header h;
	uint32_t lapic_gpa;
	uint32_t flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length, uid, apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length, id, reserved;
	uint32_t gpa, gsi_base;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length, uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

struct madt_x2apic {
	uint8_t type, length;
	uint16_t reserved;
	uint32_t x2apic_id, flags, uid;
} __attribute__((packed));

struct madt_x2apic_nmi {
	uint8_t type, length;
	uint16_t flags;
	uint32_t uid;
	uint8_t lint, reserved[3];
} __attribute__((packed));

enum { MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_LAPIC_NMI = 4, MADT_X2APIC = 9, MADT_X2APIC_NMI = 10 };

#define MADT_PCAT_COMPAT   (1u << 0)
#define MADT_ENABLED	   (1u << 0)
#define MADT_ALL_UID	   0xff
#define MADT_ALL_X2UID	   0xffffffffu
#define MADT_NMI_FLAGS	   0x0005 /* MPS INTI flags: active high (01), edge (01 << 2) */
#define MADT_NMI_LINT	   1
#define MADT_X2APIC_MIN_ID 255 /* IDs from here need x2APIC entries (ACPI 6.3 §5.2.12.12) */
#define MADT_IOAPIC_MAX_ID 254
#define VIRTIO_HID	   "LNRO0005"
#define COM_HID		   "PNP0501"
#define RTC_HID		   "PNP0B00"
#define KBD_HID		   "PNP0303"
#define PVPANIC_HID	   "QEMU0001"
#define DSDT_RES_MAX	   64 /* bytes of one device's _CRS (the PCI host bridge: 52) */

_Static_assert(sizeof(struct acpi_header) == 36, "ACPI table header is 36 bytes");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP revision 2 is 36 bytes");
_Static_assert(sizeof(struct acpi_gas) == 12, "generic address structure is 12 bytes");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112 &&
		   offsetof(struct acpi_fadt, x_dsdt) == 140 &&
		   offsetof(struct acpi_fadt, sleep_control_reg) == 244,
	       "FADT field offsets");
_Static_assert(sizeof(struct madt_lapic) == 8 && sizeof(struct madt_ioapic) == 12 &&
		   sizeof(struct madt_lapic_nmi) == 6 && sizeof(struct madt_x2apic) == 16 &&
		   sizeof(struct madt_x2apic_nmi) == 12,
	       "MADT entry sizes");

/* The host-side image of [LAYOUT_ACPI_GPA, LAYOUT_ACPI_END), filled front to back. */
struct acpi_area {
	uint8_t *buf;
	size_t used, size;
};

/* Reserve len bytes, TABLE_ALIGN-aligned; NULL if they do not fit. */
static uint8_t *area_alloc(struct acpi_area *a, size_t len, uint64_t *gpa)
{
	size_t off = (a->used + TABLE_ALIGN - 1) & ~(size_t)(TABLE_ALIGN - 1);

	if (off > a->size || len > a->size - off)
		return NULL;
	a->used = off + len;
	*gpa = LAYOUT_ACPI_GPA + off;
	return a->buf + off;
}

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)-sum;
}

/* Fill the common header of table t (length bytes, all written) and set its checksum last. */
static void header_finish(uint8_t *t, const char *sig, uint32_t length, uint8_t revision)
{
	struct acpi_header h = {.length = length,
				.revision = revision,
				.oem_revision = OEM_REVISION,
				.creator_revision = CREATOR_REVISION};

	memcpy(h.signature, sig, sizeof(h.signature));
	memcpy(h.oem_id, OEM_ID, sizeof(h.oem_id));
	memcpy(h.oem_table_id, OEM_TABLE_ID, sizeof(h.oem_table_id));
	memcpy(h.creator_id, CREATOR_ID, sizeof(h.creator_id));
	memcpy(t, &h, sizeof(h));
	t[offsetof(struct acpi_header, checksum)] = checksum(t, length);
}

static struct acpi_gas gas_io8(uint16_t port)
{
	return (struct acpi_gas){.space_id = GAS_SYSTEM_IO,
				 .bit_width = 8,
				 .access_size = GAS_ACCESS_BYTE,
				 .address = port};
}

/* \_SB.<name>: a legacy device as an OS's PNP layer finds it, _HID hid (an EISA ID such as
 * "PNP0501", or a string ID such as "QEMU0001"), _UID uid, and the resources in r (finished with
 * aml_res_end). */
static void dsdt_legacy(struct aml_buf *b, const char *name, const char *hid, uint64_t uid,
			const struct aml_buf *r)
{
	aml_device_open(b, name);
	aml_name(b, "_HID");
	if (strlen(hid) == 7)
		aml_eisaid(b, hid);
	else
		aml_string(b, hid);
	aml_name(b, "_UID");
	aml_integer(b, uid);
	aml_name(b, "_CRS");
	aml_buffer(b, r->p, r->len);
	aml_close(b);
}

/* A 16550 at a fixed port with an ISA IRQ, as PNP0501. */
static void dsdt_com(struct aml_buf *b, unsigned i)
{
	static const char *const name[2] = {"COM1", "COM2"};
	static const uint16_t port[2] = {LAYOUT_COM1_PORT, LAYOUT_COM2_PORT};
	static const uint8_t irq[2] = {LAYOUT_COM1_IRQ, LAYOUT_COM2_IRQ};
	uint8_t res[DSDT_RES_MAX];
	struct aml_buf r;

	aml_init(&r, res, sizeof(res));
	aml_res_io(&r, port[i], UART16550_PORTS);
	aml_res_irq_noflags(&r, irq[i]);
	aml_res_end(&r);
	dsdt_legacy(b, name[i], COM_HID, i + 1, &r);
}

/* The CMOS RTC (PNP0B00), without an interrupt: kiln's RTC raises none, so the OS offers no
 * alarms rather than waiting for ones that never come. */
static void dsdt_rtc(struct aml_buf *b)
{
	uint8_t res[DSDT_RES_MAX];
	struct aml_buf r;

	aml_init(&r, res, sizeof(res));
	aml_res_io(&r, LAYOUT_RTC_PORT, 2);
	aml_res_end(&r);
	dsdt_legacy(b, "RTC_", RTC_HID, 0, &r);
}

/* The i8042 with its keyboard (PNP0303): data port, command/status port, IRQ 1. No mouse
 * (PNP0F13), so the OS leaves the AUX port alone. */
static void dsdt_kbd(struct aml_buf *b)
{
	uint8_t res[DSDT_RES_MAX];
	struct aml_buf r;

	aml_init(&r, res, sizeof(res));
	aml_res_io(&r, LAYOUT_I8042_PORT, 1);
	aml_res_io(&r, LAYOUT_I8042_CMD_PORT, 1);
	aml_res_irq_noflags(&r, LAYOUT_I8042_IRQ);
	aml_res_end(&r);
	dsdt_legacy(b, "PS2K", KBD_HID, 0, &r);
}

/* QEMU's pvpanic port (QEMU0001), which Linux's pvpanic driver matches. */
static void dsdt_pvpanic(struct aml_buf *b, uint16_t port)
{
	uint8_t res[DSDT_RES_MAX];
	struct aml_buf r;

	aml_init(&r, res, sizeof(res));
	aml_res_io(&r, port, PVPANIC_PORTS);
	aml_res_end(&r);
	dsdt_legacy(b, "PEVT", PVPANIC_HID, 0, &r);
}

/* A virtio-mmio device as Linux's virtio_mmio driver matches it (LNRO0005). */
static void dsdt_virtio(struct aml_buf *b, unsigned i, const struct virtio_slot *d)
{
	uint8_t res[DSDT_RES_MAX];
	struct aml_buf r;
	char name[5];

	snprintf(name, sizeof(name), "VR%02u", i % 100);
	aml_init(&r, res, sizeof(res));
	aml_res_memory32_fixed(&r, (uint32_t)d->base, (uint32_t)d->size);
	aml_res_ext_irq(&r, AML_IRQ_CONSUMER | AML_IRQ_EDGE, d->gsi);
	aml_res_end(&r);
	aml_device_open(b, name);
	aml_name(b, "_HID");
	aml_string(b, VIRTIO_HID);
	aml_name(b, "_UID");
	aml_integer(b, i);
	aml_name(b, "_CCA"); /* DMA is cache-coherent (x86 assumes it; say so anyway) */
	aml_integer(b, 1);
	aml_name(b, "_CRS");
	aml_buffer(b, res, r.len);
	aml_close(b);
}

/* _PRT: INTA-INTD of every slot (1-31) on the GSIs gsi[] in the usual swizzle, slot s's pin p
 * (0-3: INTA-INTD) on gsi[(s + p) % 4]. A GSI given directly (source 0) is level-triggered and
 * active-low, shareable (ACPI 6.3 §6.2.13). */
static void dsdt_prt(struct aml_buf *b, const uint32_t gsi[4])
{
	aml_name(b, "_PRT");
	aml_package_open(b, (PCI_SLOTS - 1) * 4);
	for (unsigned s = 1; s < PCI_SLOTS; s++) {
		for (unsigned p = 0; p < 4; p++) {
			aml_package_open(b, 4);
			aml_integer(b, (uint64_t)s << 16 | 0xffff); /* the slot, any function */
			aml_integer(b, p);
			aml_integer(b, 0);
			aml_integer(b, gsi[(s + p) % 4]);
			aml_close(b);
		}
	}
	aml_close(b);
}

/* The PCI host bridge (PNP0A03, conventional: its configuration space through ports 0xcf8-0xcff,
 * which it consumes) with the bus numbers and the memory window it forwards, and the INTx routing
 * of its slots (passthrough devices' INTx; virtio-pci uses MSI-X). */
static void dsdt_pci(struct aml_buf *b, uint32_t mem_base, uint32_t mem_len, const uint32_t gsi[4])
{
	uint8_t res[DSDT_RES_MAX];
	struct aml_buf r;

	aml_init(&r, res, sizeof(res));
	aml_res_word_bus_number(&r, 0, 0);
	aml_res_io(&r, 0xcf8, 8);
	aml_res_dword_memory(&r, mem_base, mem_len);
	aml_res_end(&r);
	assert(!r.overflow); /* DSDT_RES_MAX holds it */
	aml_device_open(b, "PCI0");
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0A03");
	aml_name(b, "_UID");
	aml_integer(b, 0);
	aml_name(b, "_SEG");
	aml_integer(b, 0);
	aml_name(b, "_BBN");
	aml_integer(b, 0);
	aml_name(b, "_CRS");
	aml_buffer(b, res, r.len);
	dsdt_prt(b, gsi);
	aml_close(b);
}

/* \_SB.MRES (PNP0C02, motherboard resources): the ECAM window MCFG names, which Linux uses
 * only when such a device reserves it. */
static void dsdt_ecam_reserved(struct aml_buf *b, uint32_t base, uint32_t len)
{
	uint8_t res[DSDT_RES_MAX];
	struct aml_buf r;

	aml_init(&r, res, sizeof(res));
	aml_res_memory32_fixed(&r, base, len);
	aml_res_end(&r);
	dsdt_legacy(b, "MRES", "PNP0C02", 0, &r);
}

/* \_S5: SLP_TYPa for the sleep control register; SLP_TYPb and the reserved pair unused. */
static void dsdt_s5(struct aml_buf *b)
{
	aml_name(b, "_S5");
	aml_package_open(b, 4);
	aml_integer(b, ACPI_SLEEP_S5_TYP);
	for (int i = 0; i < 3; i++)
		aml_integer(b, 0);
	aml_close(b);
}

static int dsdt_build(struct acpi_area *a, const struct acpi_config *cfg, uint64_t *gpa)
{
	uint8_t *t = area_alloc(a, sizeof(struct acpi_header), gpa);
	struct aml_buf b;

	if (!t)
		return -E2BIG;
	aml_init(&b, t + sizeof(struct acpi_header), a->size - a->used);
	dsdt_s5(&b);
	aml_scope_open(&b, "_SB"); /* at the root already: no '\' needed */
	for (unsigned i = 0; i < 2; i++)
		if (cfg->com[i])
			dsdt_com(&b, i);
	if (cfg->rtc)
		dsdt_rtc(&b);
	if (cfg->kbd)
		dsdt_kbd(&b);
	if (cfg->pvpanic_port)
		dsdt_pvpanic(&b, cfg->pvpanic_port);
	for (unsigned i = 0; i < cfg->nr_virtio; i++)
		dsdt_virtio(&b, i, &cfg->virtio[i]);
	if (cfg->pci_mem_len)
		dsdt_pci(&b, cfg->pci_mem_base, cfg->pci_mem_len, cfg->pci_intx_gsi);
	if (cfg->pci_mem_len && cfg->pci_ecam_base)
		dsdt_ecam_reserved(&b, (uint32_t)cfg->pci_ecam_base, PCI_ECAM_BUS_SIZE);
	aml_close(&b);
	if (b.overflow)
		return -E2BIG;
	a->used += b.len;
	header_finish(t, "DSDT", (uint32_t)(sizeof(struct acpi_header) + b.len), DSDT_REVISION);
	return 0;
}

/* The I/O APIC's ID: after the last APIC ID, else the highest ID below 255 no LAPIC uses. */
static int ioapic_id_pick(const struct x86_topology *t, unsigned ncpus)
{
	uint32_t last = x86_apic_id(t, ncpus - 1);
	bool used[MADT_IOAPIC_MAX_ID + 1] = {false};

	if (last < MADT_IOAPIC_MAX_ID)
		return (int)last + 1;
	for (unsigned i = 0; i < ncpus; i++) {
		uint32_t id = x86_apic_id(t, i);

		if (id <= MADT_IOAPIC_MAX_ID)
			used[id] = true;
	}
	for (int id = MADT_IOAPIC_MAX_ID; id >= 0; id--)
		if (!used[id])
			return id;
	return -ERANGE;
}

/* One Processor Local APIC entry, or Local x2APIC for IDs of 255 and up; returns the cursor. */
static uint8_t *madt_put_cpu(uint8_t *p, uint32_t apic_id, unsigned index)
{
	struct madt_lapic e = {.type = MADT_LAPIC,
			       .length = sizeof(e),
			       .uid =
				   (uint8_t)index, /* index <= apic_id < 255: IDs grow with index */
			       .apic_id = (uint8_t)apic_id,
			       .flags = MADT_ENABLED};
	struct madt_x2apic x = {.type = MADT_X2APIC,
				.length = sizeof(x),
				.x2apic_id = apic_id,
				.flags = MADT_ENABLED,
				.uid = index};

	if (apic_id < MADT_X2APIC_MIN_ID) {
		memcpy(p, &e, sizeof(e));
		return p + sizeof(e);
	}
	memcpy(p, &x, sizeof(x));
	return p + sizeof(x);
}

/* The I/O APIC and the NMI entries; returns the write cursor. */
static uint8_t *madt_put_rest(uint8_t *p, uint8_t ioapic_id, bool x2apic)
{
	struct madt_ioapic io = {.type = MADT_IOAPIC,
				 .length = sizeof(io),
				 .id = ioapic_id,
				 .gpa = (uint32_t)LAYOUT_IOAPIC_GPA,
				 .gsi_base = 0};
	struct madt_lapic_nmi nmi = {.type = MADT_LAPIC_NMI,
				     .length = sizeof(nmi),
				     .uid = MADT_ALL_UID,
				     .flags = MADT_NMI_FLAGS,
				     .lint = MADT_NMI_LINT};
	struct madt_x2apic_nmi x2nmi = {.type = MADT_X2APIC_NMI,
					.length = sizeof(x2nmi),
					.flags = MADT_NMI_FLAGS,
					.uid = MADT_ALL_X2UID,
					.lint = MADT_NMI_LINT};

	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	memcpy(p, &nmi, sizeof(nmi));
	p += sizeof(nmi);
	if (x2apic) {
		memcpy(p, &x2nmi, sizeof(x2nmi));
		p += sizeof(x2nmi);
	}
	return p;
}

static int madt_build(struct acpi_area *a, const struct x86_topology *t, unsigned ncpus,
		      uint64_t *gpa)
{
	size_t len =
	    sizeof(struct madt_header) + sizeof(struct madt_ioapic) + sizeof(struct madt_lapic_nmi);
	unsigned nx2 = 0;
	int ioapic_id = ioapic_id_pick(t, ncpus);
	struct madt_header mh = {.lapic_gpa = (uint32_t)LAYOUT_LAPIC_GPA,
				 .flags = MADT_PCAT_COMPAT};
	uint8_t *tab, *p;

	if (ioapic_id < 0)
		return ioapic_id;
	for (unsigned i = 0; i < ncpus; i++)
		nx2 += x86_apic_id(t, i) >= MADT_X2APIC_MIN_ID;
	len += (size_t)(ncpus - nx2) * sizeof(struct madt_lapic) +
	       (size_t)nx2 * sizeof(struct madt_x2apic) +
	       (nx2 ? sizeof(struct madt_x2apic_nmi) : 0);
	tab = area_alloc(a, len, gpa);
	if (!tab)
		return -E2BIG;
	memcpy(tab, &mh, sizeof(mh));
	p = tab + sizeof(mh);
	for (unsigned i = 0; i < ncpus; i++)
		p = madt_put_cpu(p, x86_apic_id(t, i), i);
	p = madt_put_rest(p, (uint8_t)ioapic_id, nx2 > 0);
	assert(p == tab + len);
	header_finish(tab, "APIC", (uint32_t)len, MADT_REVISION);
	return 0;
}

static void fadt_fill(uint8_t *tab, uint64_t dsdt_gpa, bool kbd)
{
	struct acpi_fadt f = {
	    .dsdt = (uint32_t)dsdt_gpa, /* the same as X_DSDT, for 32-bit-only readers */
	    .p_lvl2_lat = FADT_NO_C2C3_LAT,
	    .p_lvl3_lat = FADT_NO_C2C3_LAT,
	    .century = CMOS_CENTURY_INDEX,
	    .iapc_boot_arch = IAPC_LEGACY_DEVICES | IAPC_VGA_NOT_PRESENT | (kbd ? IAPC_8042 : 0),
	    .flags = FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP |
		     FADT_HW_REDUCED_ACPI,
	    .reset_reg = gas_io8(LAYOUT_I8042_CMD_PORT),
	    .reset_value = FADT_RESET_VALUE,
	    .minor_version = FADT_MINOR_REVISION,
	    .x_dsdt = dsdt_gpa,
	    .sleep_control_reg = gas_io8(LAYOUT_ACPI_SLEEP_PORT),
	    .sleep_status_reg = gas_io8(LAYOUT_ACPI_SLEEP_PORT + 1),
	};

	memcpy(f.hypervisor_vendor, "KILN    ", sizeof(f.hypervisor_vendor));
	memcpy(tab, &f, sizeof(f));
	header_finish(tab, "FACP", sizeof(f), FADT_REVISION);
}

/* MCFG (PCI Firmware 3.2 §4.1.2): one allocation, segment 0, bus 0, its ECAM at base. */
struct mcfg_alloc {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus, end_bus;
	uint32_t reserved;
} __attribute__((packed));

#define MCFG_REVISION 1
#define MCFG_LEN      (sizeof(struct acpi_header) + 8 + sizeof(struct mcfg_alloc))

static int mcfg_build(struct acpi_area *a, uint64_t ecam, uint64_t *gpa)
{
	uint8_t *t = area_alloc(a, MCFG_LEN, gpa);
	struct mcfg_alloc m = {.base = ecam};

	if (!t)
		return -E2BIG;
	memcpy(t + sizeof(struct acpi_header) + 8, &m, sizeof(m)); /* after 8 reserved bytes */
	header_finish(t, "MCFG", MCFG_LEN, MCFG_REVISION);
	return 0;
}

static void xsdt_fill(uint8_t *tab, const uint64_t *entries, unsigned n)
{
	size_t len = sizeof(struct acpi_header) + n * sizeof(uint64_t);

	memcpy(tab + sizeof(struct acpi_header), entries, n * sizeof(uint64_t));
	header_finish(tab, "XSDT", (uint32_t)len, XSDT_REVISION);
}

static void rsdp_fill(uint8_t *p, uint64_t xsdt_gpa)
{
	struct acpi_rsdp r = {.revision = RSDP_REVISION, .length = sizeof(r), .xsdt_gpa = xsdt_gpa};

	memcpy(r.signature, "RSD PTR ", sizeof(r.signature));
	memcpy(r.oem_id, OEM_ID, sizeof(r.oem_id));
	r.checksum = checksum(&r, offsetof(struct acpi_rsdp, length));
	r.ext_checksum = checksum(&r, sizeof(r));
	memcpy(p, &r, sizeof(r));
}

/* Lay out and fill every table in a; *rsdp_gpa set. */
static int tables_build(struct acpi_area *a, const struct acpi_config *cfg, unsigned ncpus,
			uint64_t *rsdp_gpa)
{
	unsigned nr_xsdt = cfg->pci_ecam_base ? 3 : 2;
	uint64_t xsdt_gpa = 0, fadt_gpa = 0, dsdt_gpa = 0, madt_gpa = 0, mcfg_gpa = 0;
	uint8_t *rsdp = area_alloc(a, sizeof(struct acpi_rsdp), rsdp_gpa);
	uint8_t *xsdt = area_alloc(a, sizeof(struct acpi_header) + nr_xsdt * 8, &xsdt_gpa);
	uint8_t *fadt = area_alloc(a, sizeof(struct acpi_fadt), &fadt_gpa);
	int ret;

	if (!rsdp || !xsdt || !fadt)
		return -E2BIG;
	ret = dsdt_build(a, cfg, &dsdt_gpa);
	if (ret == 0)
		ret = madt_build(a, cfg->topo, ncpus, &madt_gpa);
	if (ret == 0 && cfg->pci_ecam_base)
		ret = mcfg_build(a, cfg->pci_ecam_base, &mcfg_gpa);
	if (ret < 0)
		return ret;
	fadt_fill(fadt, dsdt_gpa, cfg->kbd);
	xsdt_fill(xsdt, (const uint64_t[3]){fadt_gpa, madt_gpa, mcfg_gpa}, nr_xsdt);
	rsdp_fill(rsdp, xsdt_gpa);
	return 0;
}

static int config_check(const struct acpi_config *cfg, unsigned *ncpus)
{
	const struct x86_topology *t = cfg->topo;

	if (!t || t->sockets == 0 || t->cores == 0 || t->threads == 0)
		return -EINVAL;
	*ncpus = x86_topology_vcpus(t);
	/* Every vCPU costs at least a LAPIC entry: bail out before walking absurd counts. */
	if (*ncpus == 0 || *ncpus > (LAYOUT_ACPI_END - LAYOUT_ACPI_GPA) / sizeof(struct madt_lapic))
		return -E2BIG;
	if (cfg->nr_virtio > LAYOUT_VIRTIO_SLOTS || (cfg->nr_virtio && !cfg->virtio))
		return -EINVAL;
	for (unsigned i = 0; i < cfg->nr_virtio; i++) {
		const struct virtio_slot *d = &cfg->virtio[i];

		if (d->size == 0 || d->base >= GiB(4) || d->size > GiB(4) - d->base)
			return -EINVAL;
	}
	return 0;
}

int acpi_write(struct guest_mem *m, const struct acpi_config *cfg, uint64_t *rsdp_gpa)
{
	struct acpi_area a = {.size = LAYOUT_ACPI_END - LAYOUT_ACPI_GPA};
	unsigned ncpus;
	int ret = config_check(cfg, &ncpus);

	if (ret < 0)
		return ret;
	a.buf = calloc(1, a.size);
	if (!a.buf)
		return -ENOMEM;
	ret = tables_build(&a, cfg, ncpus, rsdp_gpa);
	if (ret == 0)
		ret = guest_mem_write(m, LAYOUT_ACPI_GPA, a.buf, a.used);
	free(a.buf);
	return ret;
}
