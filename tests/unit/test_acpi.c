/* test_acpi.c — the AML encoder, and the ACPI tables written into host-side guest memory and
 * parsed back as an OS does: RSDP scan, checksums, XSDT -> FADT/MADT, FADT -> DSDT. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

#define MAX_CPUS 512
#define FILL	 0xa5 /* guest memory pattern that acpi_write must leave alone outside its tables */

static const uint32_t gsis[LAYOUT_VIRTIO_SLOTS] = LAYOUT_VIRTIO_GSIS;

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* ---- AML encoder ---- */

static struct aml_buf b;
static uint8_t mem[8192];

static void expect(const void *bytes, size_t len)
{
	assert_false(b.overflow);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.p, bytes, len);
	aml_init(&b, mem, sizeof(mem));
}

static void test_aml_integers(void **state)
{
	(void)state;
	aml_init(&b, mem, sizeof(mem));
	aml_integer(&b, 0);
	expect("\x00", 1);
	aml_integer(&b, 1);
	expect("\x01", 1);
	aml_integer(&b, 2);
	expect("\x0a\x02", 2);
	aml_integer(&b, 0xff);
	expect("\x0a\xff", 2);
	aml_integer(&b, 0x100);
	expect("\x0b\x00\x01", 3);
	aml_integer(&b, 0x10000);
	expect("\x0c\x00\x00\x01\x00", 5);
	aml_integer(&b, 0xd0000000);
	expect("\x0c\x00\x00\x00\xd0", 5);
	aml_integer(&b, 0x100000000ULL);
	expect("\x0e\x00\x00\x00\x00\x01\x00\x00\x00", 9);
	aml_integer(&b, UINT64_MAX);
	expect("\xff", 1);
}

static void test_aml_names_strings(void **state)
{
	(void)state;
	aml_init(&b, mem, sizeof(mem));
	aml_name_string(&b, "_SB");
	expect("_SB_", 4);
	aml_name_string(&b, "\\_SB");
	expect("\\_SB_", 5);
	aml_name_string(&b, "\\_SB.PCI0");
	expect("\\\x2e_SB_PCI0", 10);
	aml_name_string(&b, "A.BC.DEF");
	expect("\x2f\x03"
	       "A___BC__DEF_",
	       14);
	aml_name(&b, "_HID");
	aml_string(&b, "LNRO0005");
	expect("\x08_HID\x0dLNRO0005\x00", 15);
	aml_eisaid(&b, "PNP0501"); /* the DWord 0x0105d041 */
	expect("\x0c\x41\xd0\x05\x01", 5);
	aml_eisaid(&b, "PNP0B00");
	expect("\x0c\x41\xd0\x0b\x00", 5);
}

/* A Package of n Zero elements: PkgLength covers itself, NumElements and the n bytes. */
static void package_of(unsigned n)
{
	aml_init(&b, mem, sizeof(mem));
	aml_package_open(&b, (uint8_t)(n > 255 ? 255 : n));
	for (unsigned i = 0; i < n; i++)
		aml_integer(&b, 0);
	aml_close(&b);
	assert_false(b.overflow);
}

static void test_aml_pkglength(void **state)
{
	(void)state;
	/* One byte holds totals up to 63: 61 elements make a body of 62 (with NumElements). */
	package_of(61);
	assert_int_equal(b.len, 1 + 1 + 62);
	assert_int_equal(mem[1], 63);
	/* 64 needs two bytes: lead 0x40 | (total & 0xf), then total >> 4. */
	package_of(62);
	assert_int_equal(b.len, 1 + 2 + 63);
	assert_int_equal(mem[1], 0x40 | (65 & 0xf));
	assert_int_equal(mem[2], 65 >> 4);
	assert_int_equal(mem[3], 62); /* NumElements moved down behind the PkgLength */
	/* Largest two-byte total is 0xfff: body 0xffd. */
	package_of(0xffc);
	assert_int_equal(b.len, 1 + 2 + 0xffd);
	assert_int_equal(mem[1], 0x4f);
	assert_int_equal(mem[2], 0xff);
	package_of(0xffd); /* total 0x1001 with three bytes */
	assert_int_equal(b.len, 1 + 3 + 0xffe);
	assert_int_equal(mem[1], 0x80 | 0x1);
	assert_int_equal(mem[2], 0x00);
	assert_int_equal(mem[3], 0x01);
}

static void test_aml_nesting_overflow(void **state)
{
	uint8_t small[16];

	(void)state;
	/* Scope(_SB) { Device(VR00) { Name(_UID, Zero) } }: inner closed first, outer shrinks. */
	aml_init(&b, mem, sizeof(mem));
	aml_scope_open(&b, "_SB");
	aml_device_open(&b, "VR00");
	aml_name(&b, "_UID");
	aml_integer(&b, 0);
	aml_close(&b);
	aml_close(&b);
	expect("\x10\x12_SB_\x5b\x82\x0bVR00\x08_UID\x00", 19);
	/* Running out of room sets overflow and stops, however many terms follow. */
	aml_init(&b, small, sizeof(small));
	aml_scope_open(&b, "_SB");
	aml_string(&b, "a string that does not fit");
	aml_integer(&b, 5);
	aml_close(&b);
	assert_true(b.overflow);
	assert_true(b.len <= sizeof(small));
	assert_int_equal(b.depth, 0);
}

static void test_aml_resources(void **state)
{
	(void)state;
	aml_init(&b, mem, sizeof(mem));
	aml_res_memory32_fixed(&b, 0xd0001000, 0x200);
	expect("\x86\x09\x00\x01\x00\x10\x00\xd0\x00\x02\x00\x00", 12);
	aml_res_ext_irq(&b, AML_IRQ_CONSUMER | AML_IRQ_EDGE, 17);
	expect("\x89\x06\x00\x03\x01\x11\x00\x00\x00", 9);
	aml_res_io(&b, 0x3f8, 8);
	expect("\x47\x01\xf8\x03\xf8\x03\x00\x08", 8);
	aml_res_irq_noflags(&b, 4);
	expect("\x22\x10\x00", 3);
	aml_res_word_bus_number(&b, 0, 0);
	expect("\x88\x0d\x00\x02\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00", 16);
	aml_res_dword_memory(&b, 0xe0000000, 0x10000000);
	expect("\x87\x17\x00\x00\x0c\x01\x00\x00\x00\x00\x00\x00\x00\xe0\xff\xff\xff\xef"
	       "\x00\x00\x00\x00\x00\x00\x00\x10",
	       26);
	aml_res_end(&b);
	expect("\x79\x00", 2);
	aml_buffer(&b, (const uint8_t *)"\x79\x00", 2);
	expect("\x11\x05\x0a\x02\x79\x00", 6);
}

/* ---- Tables, parsed back ---- */

struct fixture {
	struct guest_mem m;
};

static int setup(void **state)
{
	static struct fixture f;
	uint8_t *area;

	guest_mem_init(&f.m, -1);
	if (guest_mem_add(&f.m, 0, MiB(2), GUEST_MEM_RAM) < 0)
		return -1;
	area = guest_mem_ptr(&f.m, LAYOUT_EBDA_GPA, LAYOUT_HIMEM_GPA - LAYOUT_EBDA_GPA);
	memset(area, FILL, LAYOUT_HIMEM_GPA - LAYOUT_EBDA_GPA);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	guest_mem_destroy(&f->m);
	return 0;
}

struct madt {
	uint32_t lapic_gpa, flags;
	unsigned ncpus, nlapic, nx2apic, nioapic, niso, nnmi, nx2nmi;
	uint32_t apic_id[MAX_CPUS], uid[MAX_CPUS], cpu_flags[MAX_CPUS];
	uint8_t ioapic_id;
	uint32_t ioapic_gpa, gsi_base;
	uint8_t nmi[6], x2nmi[12];
};

struct parsed {
	uint64_t rsdp, xsdt, fadt, dsdt, madt, end;
	const uint8_t *f, *d; /* FADT and DSDT bytes */
	uint32_t dsdt_len;
	uint16_t boot; /* the FADT's IA-PC boot architecture flags */
	struct madt mt;
};

/* Linux's acpi_find_root_pointer: 16-byte steps over 0xe0000-0xfffff, signature, the ACPI 1.0
 * checksum over 20 bytes, and for revision 2 the extended checksum over `length`. */
static uint64_t scan_rsdp(const struct guest_mem *m)
{
	for (uint64_t a = LAYOUT_BIOS_GPA; a < LAYOUT_BIOS_END; a += 16) {
		const uint8_t *p = guest_mem_ptr(m, a, 36);

		if (p && memcmp(p, "RSD PTR ", 8) == 0 && sum8(p, 20) == 0 &&
		    (p[15] < 2 || sum8(p, le32(p + 20)) == 0))
			return a;
	}
	return 0;
}

/* A table at gpa: in the BIOS area, signature, length, checksum, revision, OEM fields. */
static const uint8_t *table(struct parsed *r, const struct guest_mem *m, uint64_t gpa,
			    const char *sig, uint8_t rev)
{
	const uint8_t *h = guest_mem_ptr(m, gpa, 36), *t;
	uint32_t len;

	assert_non_null(h);
	assert_memory_equal(h, sig, 4);
	len = le32(h + 4);
	assert_true(len >= 36);
	assert_true(gpa >= LAYOUT_BIOS_GPA && gpa + len <= LAYOUT_BIOS_END);
	t = guest_mem_ptr(m, gpa, len);
	assert_int_equal(sum8(t, len), 0);
	assert_int_equal(t[8], rev);
	assert_memory_equal(t + 10, "KILN  ", 6);
	assert_memory_equal(t + 16, "KILNVM  ", 8);
	assert_memory_equal(t + 28, "KILN", 4);
	if (gpa + len > r->end)
		r->end = gpa + len;
	return t;
}

static void parse_rsdp_xsdt(struct parsed *r, const struct guest_mem *m, uint64_t rsdp_gpa)
{
	const uint8_t *p, *x;

	r->rsdp = scan_rsdp(m);
	assert_int_equal(r->rsdp, rsdp_gpa);
	assert_int_equal(r->rsdp, LAYOUT_ACPI_GPA);
	p = guest_mem_ptr(m, r->rsdp, 36);
	assert_int_equal(p[15], 2);	    /* revision */
	assert_int_equal(le32(p + 20), 36); /* length */
	assert_memory_equal(p + 9, "KILN  ", 6);
	assert_int_equal(le32(p + 16), 0); /* no RSDT */
	r->end = r->rsdp + 36;
	r->xsdt = le64(p + 24);
	x = table(r, m, r->xsdt, "XSDT", 1);
	assert_int_equal((le32(x + 4) - 36) % 8, 0);
	for (uint32_t off = 36; off < le32(x + 4); off += 8) {
		uint64_t gpa = le64(x + off);
		const uint8_t *h = guest_mem_ptr(m, gpa, 4);

		assert_non_null(h);
		if (memcmp(h, "FACP", 4) == 0) {
			assert_int_equal(r->fadt, 0);
			r->fadt = gpa;
		} else if (memcmp(h, "APIC", 4) == 0) {
			assert_int_equal(r->madt, 0);
			r->madt = gpa;
		} else {
			fail_msg("unexpected table %.4s in the XSDT", (const char *)h);
		}
	}
	assert_int_not_equal(r->fadt, 0);
	assert_int_not_equal(r->madt, 0);
}

/* A Generic Address Structure: byte-wide system I/O at port. */
static void gas_io8(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1);
	assert_int_equal(g[1], 8);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], 1);
	assert_int_equal(le64(g + 4), port);
}

static void parse_fadt(struct parsed *r, const struct guest_mem *m)
{
	const uint8_t *f = table(r, m, r->fadt, "FACP", 6);
	uint32_t flags = le32(f + 112);
	uint16_t boot = le16(f + 109);

	r->f = f;
	r->boot = boot;
	assert_int_equal(le32(f + 4), 276);
	assert_int_equal(f[131], 3);			     /* ACPI 6.3 */
	assert_true(flags & (1u << 20));		     /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10));		     /* RESET_REG_SUP */
	assert_true(flags & (1u << 4) && flags & (1u << 5)); /* no fixed power/sleep buttons */
	assert_int_equal(boot & 1, 1);			     /* legacy devices (COM ports, RTC) */
	assert_int_equal(boot & 4, 4);			     /* no VGA */
	assert_int_equal(boot & 32, 0);			     /* a CMOS RTC is present */
	assert_int_equal(f[108], 0x32);			     /* century */
	assert_int_equal(le32(f + 36) | le64(f + 132), 0);   /* no FACS */
	assert_int_equal(le16(f + 46), 0);		     /* no SCI */
	assert_int_equal(le32(f + 48), 0);		     /* no SMI command port */
	assert_int_equal(le32(f + 76) | f[91], 0);	     /* no PM timer */
	assert_int_equal(le64(f + 208 + 4), 0);		     /* X_PM_TMR_BLK */
	gas_io8(f + 116, LAYOUT_I8042_CMD_PORT);
	assert_int_equal(f[128], 0xfe);
	gas_io8(f + 244, LAYOUT_ACPI_SLEEP_PORT);
	gas_io8(f + 256, LAYOUT_ACPI_SLEEP_PORT + 1);
	r->dsdt = le64(f + 140);
	assert_int_equal(le32(f + 40), r->dsdt); /* 32-bit DSDT field agrees */
	r->d = table(r, m, r->dsdt, "DSDT", 2);
	r->dsdt_len = le32(r->d + 4);
}

static void madt_cpu(struct madt *t, uint32_t id, uint32_t uid, uint32_t flags)
{
	assert_true(t->ncpus < MAX_CPUS);
	t->apic_id[t->ncpus] = id;
	t->uid[t->ncpus] = uid;
	t->cpu_flags[t->ncpus++] = flags;
}

static void madt_entry(struct madt *t, const uint8_t *e)
{
	static const uint8_t len[11] = {[0] = 8, [1] = 12, [2] = 10, [4] = 6, [9] = 16, [10] = 12};

	assert_true(e[0] < 11 && len[e[0]] != 0);
	assert_int_equal(e[1], len[e[0]]);
	switch (e[0]) {
	case 0:
		t->nlapic++;
		madt_cpu(t, e[3], e[2], le32(e + 4));
		break;
	case 1:
		t->nioapic++;
		t->ioapic_id = e[2];
		t->ioapic_gpa = le32(e + 4);
		t->gsi_base = le32(e + 8);
		break;
	case 2:
		t->niso++;
		break;
	case 4:
		t->nnmi++;
		memcpy(t->nmi, e, 6);
		break;
	case 9:
		t->nx2apic++;
		madt_cpu(t, le32(e + 4), le32(e + 12), le32(e + 8));
		break;
	case 10:
		t->nx2nmi++;
		memcpy(t->x2nmi, e, 12);
		break;
	}
}

static void parse_madt(struct parsed *r, const struct guest_mem *m)
{
	const uint8_t *t = table(r, m, r->madt, "APIC", 5);
	uint32_t len = le32(t + 4), off = 44;

	memset(&r->mt, 0, sizeof(r->mt));
	r->mt.lapic_gpa = le32(t + 36);
	r->mt.flags = le32(t + 40);
	while (off < len) {
		assert_true(off + 2 <= len && t[off + 1] >= 2 && off + t[off + 1] <= len);
		madt_entry(&r->mt, t + off);
		off += t[off + 1];
	}
	assert_int_equal(off, len);
}

static void parse(struct parsed *r, const struct guest_mem *m, uint64_t rsdp_gpa)
{
	memset(r, 0, sizeof(*r));
	parse_rsdp_xsdt(r, m, rsdp_gpa);
	parse_fadt(r, m);
	parse_madt(r, m);
	/* Nothing written past the last table. */
	for (uint64_t a = r->end; a < LAYOUT_BIOS_END; a++)
		assert_int_equal(*(const uint8_t *)guest_mem_ptr(m, a, 1), FILL);
}

static void check_madt(const struct madt *t, const struct x86_topology *topo)
{
	unsigned n = x86_topology_vcpus(topo);

	assert_int_equal(t->lapic_gpa, LAYOUT_LAPIC_GPA);
	assert_int_equal(t->flags, 1); /* PCAT_COMPAT */
	assert_int_equal(t->ncpus, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(t->apic_id[i], x86_apic_id(topo, i));
		assert_int_equal(t->uid[i], i);
		assert_int_equal(t->cpu_flags[i], 1); /* enabled */
	}
	assert_int_equal(t->nioapic, 1);
	assert_int_equal(t->ioapic_gpa, LAYOUT_IOAPIC_GPA);
	assert_int_equal(t->gsi_base, 0);
	assert_int_equal(t->niso, 0); /* ISA IRQ n is GSI n, edge/high: no overrides */
	assert_int_equal(t->nnmi, 1);
	assert_int_equal(t->nmi[2], 0xff);     /* all processors */
	assert_int_equal(le16(t->nmi + 3), 5); /* edge, active high */
	assert_int_equal(t->nmi[5], 1);	       /* LINT1 */
	assert_int_equal(t->nx2nmi, t->nx2apic ? 1 : 0);
	if (t->nx2nmi) {
		assert_int_equal(le32(t->x2nmi + 4), 0xffffffff);
		assert_int_equal(t->x2nmi[8], 1);
	}
}

static bool contains(const uint8_t *hay, size_t len, const void *needle, size_t nlen)
{
	for (size_t i = 0; i + nlen <= len; i++)
		if (memcmp(hay + i, needle, nlen) == 0)
			return true;
	return false;
}

static unsigned count(const uint8_t *hay, size_t len, const void *needle, size_t nlen)
{
	unsigned n = 0;

	for (size_t i = 0; i + nlen <= len; i++)
		n += memcmp(hay + i, needle, nlen) == 0;
	return n;
}

/* PkgLength at p: the value and the number of bytes it takes. */
static uint32_t pkglen(const uint8_t *p, unsigned *nbytes)
{
	unsigned n = (p[0] >> 6) + 1;
	uint32_t v = n == 1 ? p[0] & 0x3f : p[0] & 0x0f;

	for (unsigned i = 1; i < n; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	*nbytes = n;
	return v;
}

/* The DSDT's shape: Name(_S5_, Package), then Scope(_SB_) whose Devices tile it exactly and end
 * the table; returns the number of devices. */
static unsigned dsdt_walk(const uint8_t *d, uint32_t len)
{
	static const uint8_t s5[] = {0x08, '_',	 'S',  '5', '_', 0x12, 0x07,
				     0x04, 0x0a, 0x05, 0,   0,	 0};
	uint32_t off = 36 + sizeof(s5), scope_end, plen;
	unsigned n, devices = 0;

	assert_memory_equal(d + 36, s5, sizeof(s5));
	assert_int_equal(d[off], 0x10); /* ScopeOp */
	plen = pkglen(d + off + 1, &n);
	scope_end = off + 1 + plen;
	assert_int_equal(scope_end, len);
	assert_memory_equal(d + off + 1 + n, "_SB_", 4);
	off += 1 + n + 4;
	while (off < scope_end) {
		assert_int_equal(d[off], 0x5b);
		assert_int_equal(d[off + 1], 0x82); /* DeviceOp */
		plen = pkglen(d + off + 2, &n);
		assert_int_equal(d[off + 2 + n + 4], 0x08); /* first term: Name(_HID, ...) */
		assert_memory_equal(d + off + 2 + n + 5, "_HID", 4);
		off += 2 + plen;
		devices++;
	}
	assert_int_equal(off, scope_end);
	return devices;
}

static void check_com(const uint8_t *d, uint32_t len, unsigned i)
{
	static const uint8_t crs[2][13] = {
	    {0x47, 1, 0xf8, 0x03, 0xf8, 0x03, 0, 8, 0x22, 0x10, 0x00, 0x79, 0},
	    {0x47, 1, 0xf8, 0x02, 0xf8, 0x02, 0, 8, 0x22, 0x08, 0x00, 0x79, 0},
	};

	assert_true(contains(d, len, i == 0 ? "COM1" : "COM2", 4));
	assert_true(contains(d, len, crs[i], sizeof(crs[i])));
}

static void check_virtio(const uint8_t *d, uint32_t len, unsigned i, const struct virtio_slot *v)
{
	uint8_t crs[23] = {0x86, 9, 0, 1};
	char name[5];

	snprintf(name, sizeof(name), "VR%02u", i % 100);
	assert_int_equal(count(d, len, name, 4), 1);
	for (int k = 0; k < 4; k++) {
		crs[4 + k] = (uint8_t)(v->base >> (8 * k));
		crs[8 + k] = (uint8_t)(v->size >> (8 * k));
		crs[17 + k] = (uint8_t)(v->gsi >> (8 * k));
	}
	memcpy(crs + 12, "\x89\x06\x00\x03\x01", 5); /* consumer, edge, active high, exclusive */
	memcpy(crs + 21, "\x79\x00", 2);
	assert_true(contains(d, len, crs, sizeof(crs)));
}

/* The RTC (PNP0B00: ports 0x70-0x71, no IRQ), the keyboard controller (PNP0303: 0x60, 0x64,
 * IRQ 1, and the FADT's 8042 flag) and pvpanic (QEMU0001 at its port), each when configured. */
static unsigned check_legacy(const struct parsed *r, const struct acpi_config *cfg)
{
	static const uint8_t rtc[] = {0x0c, 0x41, 0xd0, 0x0b, 0x00, 0x08, '_',	'U',  'I',  'D',
				      0x00, 0x08, '_',	'C',  'R',  'S',  0x11, 0x0d, 0x0a, 0x0a,
				      0x47, 1,	  0x70, 0,    0x70, 0,	  0,	2,    0x79, 0};
	static const uint8_t kbd[] = {
	    0x0c, 0x41, 0xd0, 0x03, 0x03, 0x08, '_',  'U', 'I',	 'D',  0x00, 0x08, '_', 'C',
	    'R',  'S',	0x11, 0x18, 0x0a, 0x15, 0x47, 1,   0x60, 0,    0x60, 0,	   0,	1,
	    0x47, 1,	0x64, 0,    0x64, 0,	0,    1,   0x22, 0x02, 0x00, 0x79, 0};
	uint8_t pv[] = {0x47, 1, 0, 0, 0, 0, 0, 1, 0x79, 0};
	unsigned n = cfg->rtc + cfg->kbd + (cfg->pvpanic_port != 0);

	assert_int_equal(contains(r->d, r->dsdt_len, rtc, sizeof(rtc)), cfg->rtc);
	assert_int_equal(contains(r->d, r->dsdt_len, kbd, sizeof(kbd)), cfg->kbd);
	assert_int_equal(r->boot & 2, cfg->kbd ? 2 : 0);
	assert_int_equal(count(r->d, r->dsdt_len, "QEMU0001", 9), cfg->pvpanic_port != 0);
	pv[2] = pv[4] = (uint8_t)cfg->pvpanic_port;
	pv[3] = pv[5] = (uint8_t)(cfg->pvpanic_port >> 8);
	if (cfg->pvpanic_port)
		assert_true(contains(r->d, r->dsdt_len, pv, sizeof(pv)));
	return n;
}

static void check_dsdt(const struct parsed *r, const struct acpi_config *cfg)
{
	unsigned ncom = cfg->com[0] + cfg->com[1];
	unsigned nlegacy = check_legacy(r, cfg);

	assert_int_equal(dsdt_walk(r->d, r->dsdt_len), ncom + nlegacy + cfg->nr_virtio);
	assert_int_equal(count(r->d, r->dsdt_len, "LNRO0005", 9), cfg->nr_virtio);
	assert_int_equal(count(r->d, r->dsdt_len, "\x0c\x41\xd0\x05\x01", 5), ncom);
	for (unsigned i = 0; i < 2; i++)
		if (cfg->com[i])
			check_com(r->d, r->dsdt_len, i);
	for (unsigned i = 0; i < cfg->nr_virtio; i++)
		check_virtio(r->d, r->dsdt_len, i, &cfg->virtio[i]);
}

static void fill_virtio(struct virtio_slot *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		v[i] = (struct virtio_slot){.base = LAYOUT_VIRTIO_MMIO_GPA +
						    i * LAYOUT_VIRTIO_SLOT_SIZE,
					    .size = VIRTIO_SLOT_WINDOW,
					    .gsi = gsis[i]};
}

/* Write and parse back; returns the parse for extra checks. */
static const struct parsed *roundtrip(struct fixture *f, struct x86_topology t, unsigned nvirtio,
				      bool com1, bool com2)
{
	static struct parsed r;
	static struct virtio_slot v[LAYOUT_VIRTIO_SLOTS];
	/* With both COM ports, the board's other legacy devices too (as kiln's board has them);
	 * with fewer, none of them. */
	bool legacy = com1 && com2;
	struct acpi_config cfg = {.topo = &t,
				  .virtio = v,
				  .nr_virtio = nvirtio,
				  .com = {com1, com2},
				  .rtc = legacy,
				  .kbd = legacy,
				  .pvpanic_port = legacy ? LAYOUT_PVPANIC_PORT : 0};
	uint64_t rsdp = 0;

	fill_virtio(v, nvirtio);
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), 0);
	parse(&r, &f->m, rsdp);
	check_madt(&r.mt, &t);
	check_dsdt(&r, &cfg);
	return &r;
}

static void test_one_cpu_no_devices(void **state)
{
	const struct parsed *r = roundtrip(*state, (struct x86_topology){1, 1, 1}, 0, true, false);

	assert_int_equal(r->mt.nlapic, 1);
	assert_int_equal(r->mt.ioapic_id, 1);
	assert_false(contains(r->d, r->dsdt_len, "COM2", 4));
}

static void test_smt_one_virtio(void **state)
{
	const struct parsed *r = roundtrip(*state, (struct x86_topology){2, 2, 2}, 1, true, true);

	assert_int_equal(r->mt.nlapic, 8);
	assert_int_equal(r->mt.nx2apic, 0);
	assert_int_equal(r->mt.ioapic_id, 8);
}

/* 3 cores need 2 bits: APIC IDs 0, 1, 2, 4, 5, 6; the IOAPIC takes 7. All 18 virtio slots. */
static void test_apic_id_gaps_all_slots(void **state)
{
	static const uint32_t ids[6] = {0, 1, 2, 4, 5, 6};
	const struct parsed *r = roundtrip(*state, (struct x86_topology){2, 3, 1}, 18, true, true);

	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(r->mt.apic_id[i], ids[i]);
	assert_int_equal(r->mt.ioapic_id, 7);
	assert_true(r->dsdt_len > 64 * 18); /* the scope's PkgLength takes two bytes */
}

/* 65 cores need 7 bits: socket 2's IDs run from 256, which need x2APIC entries. */
static void test_x2apic_ids(void **state)
{
	const struct parsed *r = roundtrip(*state, (struct x86_topology){3, 65, 1}, 2, true, true);

	assert_int_equal(r->mt.nlapic, 130);
	assert_int_equal(r->mt.nx2apic, 65);
	assert_int_equal(r->mt.apic_id[130], 256);
	assert_int_equal(r->mt.ioapic_id, 254); /* 192 + 1 .. 254 are free; the highest is taken */
}

static void test_max_vcpus(void **state)
{
	const struct parsed *r =
	    roundtrip(*state, (struct x86_topology){1, 254, 1}, 18, true, true);

	assert_int_equal(r->mt.nlapic, 254);
	assert_int_equal(r->mt.ioapic_id, 254);
}

/* The PCI host bridge of --virtio-transport pci: \_SB.PCI0, PNP0A03, bus 0, the configuration
 * ports it consumes and the memory window it forwards; only when asked for. */
static void test_pci_host_bridge(void **state)
{
	struct fixture *f = *state;
	struct x86_topology t = {1, 1, 1};
	struct acpi_config cfg = {.topo = &t,
				  .com = {true, false},
				  .pci_mem_base = (uint32_t)LAYOUT_PCI_MEM32_GPA,
				  .pci_mem_len = (uint32_t)LAYOUT_PCI_MEM32_SIZE};
	static const uint8_t crs_tail[] = {
	    0x47, 1,	0xf8, 0x0c, 0xf8, 0x0c, 0, 8, /* IO 0xcf8 */
	    0x87, 0x17, 0,    0,    0x0c, 1,	0, 0, 0, 0, 0, 0, 0, 0xe0, 0xff, 0xff, 0xff, 0xef};
	static struct parsed r;
	uint64_t rsdp = 0;

	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), 0);
	parse(&r, &f->m, rsdp);
	assert_int_equal(dsdt_walk(r.d, r.dsdt_len), 2); /* COM1 and the bridge */
	assert_true(contains(r.d, r.dsdt_len, "PCI0", 4));
	assert_true(contains(r.d, r.dsdt_len, "\x0c\x41\xd0\x0a\x03", 5)); /* EisaId PNP0A03 */
	assert_true(contains(r.d, r.dsdt_len, crs_tail, sizeof(crs_tail)));
	cfg.pci_mem_len = 0;
	memset(guest_mem_ptr(&f->m, LAYOUT_EBDA_GPA, LAYOUT_HIMEM_GPA - LAYOUT_EBDA_GPA), FILL,
	       LAYOUT_HIMEM_GPA - LAYOUT_EBDA_GPA); /* as setup left it: parse checks the tail */
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), 0);
	parse(&r, &f->m, rsdp);
	assert_false(contains(r.d, r.dsdt_len, "PCI0", 4));
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct x86_topology t = {1, 1, 1};
	struct virtio_slot v[LAYOUT_VIRTIO_SLOTS + 1];
	struct acpi_config cfg = {.topo = &t, .virtio = v};
	struct guest_mem small;
	uint64_t rsdp = 0;

	fill_virtio(v, LAYOUT_VIRTIO_SLOTS);
	cfg.nr_virtio = LAYOUT_VIRTIO_SLOTS + 1;
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), -EINVAL);
	cfg.nr_virtio = 1;
	v[0].base = GiB(4);
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), -EINVAL);
	v[0] = (struct virtio_slot){.base = GiB(4) - 0x1000, .size = 0x2000};
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), -EINVAL);
	v[0].size = 0;
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), -EINVAL);
	cfg.nr_virtio = 0;
	t.cores = 0;
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), -EINVAL);
	t = (struct x86_topology){1, 256, 1}; /* IDs 0-255: no ID below 255 left for the IOAPIC */
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), -ERANGE);
	t = (struct x86_topology){250, 65, 1}; /* 16 120 x2APIC entries: 257 920 bytes */
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), -E2BIG);
	t = (struct x86_topology){1000, 1000, 1000};
	assert_int_equal(acpi_write(&f->m, &cfg, &rsdp), -E2BIG);
	/* Guest RAM that stops below the BIOS area. */
	t = (struct x86_topology){1, 1, 1};
	guest_mem_init(&small, -1);
	assert_int_equal(guest_mem_add(&small, 0, LAYOUT_LOWMEM_END, GUEST_MEM_RAM), 0);
	assert_int_equal(acpi_write(&small, &cfg, &rsdp), -EFAULT);
	guest_mem_destroy(&small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aml_integers),
	    cmocka_unit_test(test_aml_names_strings),
	    cmocka_unit_test(test_aml_pkglength),
	    cmocka_unit_test(test_aml_nesting_overflow),
	    cmocka_unit_test(test_aml_resources),
	    cmocka_unit_test_setup_teardown(test_one_cpu_no_devices, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_smt_one_virtio, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_apic_id_gaps_all_slots, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_x2apic_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_vcpus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_host_bridge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
