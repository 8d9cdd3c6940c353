/* mptable.c — MultiProcessor Specification 1.4 floating pointer and configuration table. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"

#define MP_SPEC_REV 4 /* version 1.4 */

/* Base table entry types (MP spec 4.3, table 4-3); entries appear in this order. */
enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_IOINTR = 3, MP_LINTR = 4 };

/* Interrupt types (MP spec table 4-9). */
enum { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 };

#define MP_CPU_EN    0x1 /* processor usable */
#define MP_CPU_BP    0x2 /* the bootstrap processor */
#define MP_IOAPIC_EN 0x1

#define MP_LAPIC_VERSION  0x14 /* KVM's in-kernel LAPIC reports this (integrated xAPIC) */
#define MP_IOAPIC_VERSION 0x11 /* KVM's in-kernel IOAPIC reports this */
#define MP_ISA_BUS_ID	  0
#define MP_ISA_IRQS	  16
#define MP_ALL_LAPICS	  0xff

/* Processor entries carry a CPU signature and CPUID.1:EDX flags. The guest reads the real ones
 * with CPUID; these fixed, plausible values (family 6, FPU + APIC) only keep old parsers happy. */
#define MP_CPU_SIGNATURE 0x600
#define MP_CPU_FEATURES	 ((1u << 0) | (1u << 9))

struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t config_gpa;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5]; /* feature[0] = 0: a configuration table is present */
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* base table, header included */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table_gpa;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_gpa;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apic_id, apic_ver, flags;
	uint32_t signature, features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, id, ver, flags;
	uint32_t gpa;
} __attribute__((packed));

/* I/O and local interrupt assignment entries share one layout. */
struct mpc_intr {
	uint8_t type, irq_type;
	uint16_t flags; /* 0: polarity and trigger conform to the bus (ISA: edge, high) */
	uint8_t src_bus, src_irq;
	uint8_t dst_id, dst_pin; /* IOAPIC ID and INTIN#, or LAPIC ID and LINTIN# */
} __attribute__((packed));

_Static_assert(sizeof(struct mpf_intel) == 16, "MP floating pointer is 16 bytes");
_Static_assert(sizeof(struct mpc_table) == 44, "MP configuration table header is 44 bytes");
_Static_assert(sizeof(struct mpc_cpu) == 20, "processor entry is 20 bytes");
_Static_assert(sizeof(struct mpc_bus) == 8 && sizeof(struct mpc_ioapic) == 8 &&
		   sizeof(struct mpc_intr) == 8,
	       "bus, IOAPIC and interrupt entries are 8 bytes");

#define MP_LOCAL_INTRS 2 /* ExtINT -> LINT0, NMI -> LINT1 */

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)-sum;
}

static size_t table_len(unsigned ncpus)
{
	return sizeof(struct mpc_table) + (size_t)ncpus * sizeof(struct mpc_cpu) +
	       sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
	       (MP_ISA_IRQS + MP_LOCAL_INTRS) * sizeof(struct mpc_intr);
}

/* Processor entries, then the bus and the IOAPIC; returns the write cursor. */
static uint8_t *put_cpus_bus_ioapic(uint8_t *p, const struct x86_topology *t, unsigned ncpus,
				    uint8_t ioapic_id)
{
	struct mpc_bus bus = {.type = MP_BUS, .bus_id = MP_ISA_BUS_ID};
	struct mpc_ioapic io = {.type = MP_IOAPIC,
				.id = ioapic_id,
				.ver = MP_IOAPIC_VERSION,
				.flags = MP_IOAPIC_EN,
				.gpa = (uint32_t)LAYOUT_IOAPIC_GPA};

	for (unsigned i = 0; i < ncpus; i++) {
		struct mpc_cpu c = {.type = MP_PROCESSOR,
				    .apic_id = (uint8_t)x86_apic_id(t, i),
				    .apic_ver = MP_LAPIC_VERSION,
				    .flags = MP_CPU_EN | (i == 0 ? MP_CPU_BP : 0),
				    .signature = MP_CPU_SIGNATURE,
				    .features = MP_CPU_FEATURES};

		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
	}
	memcpy(bus.bus_type, "ISA   ", sizeof(bus.bus_type));
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus);
	memcpy(p, &io, sizeof(io));
	return p + sizeof(io);
}

/*
 * ISA IRQ n -> IOAPIC pin n for all 16, IRQ 0 included. Without KVM_SET_GSI_ROUTING, KVM's
 * default routing sends GSI n to IOAPIC pin n and the in-kernel PIT raises GSI 0, so the timer
 * arrives on pin 0 (QEMU instead reroutes GSI 0 to pin 2 and declares an override; kiln does
 * not, and an ACPI MADT must then carry no IRQ 0 override either). Linux's check_timer() uses
 * whatever pin the MP table gives IRQ 0. Then ExtINT -> LINT0 and NMI -> LINT1 on all LAPICs.
 */
static uint8_t *put_intrs(uint8_t *p, uint8_t ioapic_id)
{
	static const struct mpc_intr lint[MP_LOCAL_INTRS] = {
	    {.type = MP_LINTR, .irq_type = MP_EXTINT, .dst_id = MP_ALL_LAPICS, .dst_pin = 0},
	    {.type = MP_LINTR, .irq_type = MP_NMI, .dst_id = MP_ALL_LAPICS, .dst_pin = 1},
	};

	for (uint8_t irq = 0; irq < MP_ISA_IRQS; irq++) {
		struct mpc_intr e = {.type = MP_IOINTR,
				     .irq_type = MP_INT,
				     .src_bus = MP_ISA_BUS_ID,
				     .src_irq = irq,
				     .dst_id = ioapic_id,
				     .dst_pin = irq};

		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	memcpy(p, lint, sizeof(lint));
	return p + sizeof(lint);
}

/* Fill buf (sizeof(mpf_intel) + table_len(ncpus) bytes, zeroed) with both structures. */
static void build(uint8_t *buf, const struct x86_topology *t, unsigned ncpus, uint8_t ioapic_id)
{
	struct mpf_intel mpf = {.config_gpa = (uint32_t)(LAYOUT_MPTABLE_GPA + sizeof(mpf)),
				.length = 1,
				.spec_rev = MP_SPEC_REV};
	struct mpc_table h = {.length = (uint16_t)table_len(ncpus),
			      .spec_rev = MP_SPEC_REV,
			      .entry_count = (uint16_t)(ncpus + 2 + MP_ISA_IRQS + MP_LOCAL_INTRS),
			      .lapic_gpa = (uint32_t)LAYOUT_LAPIC_GPA};
	uint8_t *tab = buf + sizeof(mpf), *end;

	memcpy(h.signature, "PCMP", 4);
	memcpy(h.oem, "KILN    ", sizeof(h.oem));
	memcpy(h.product, "KILN VM     ", sizeof(h.product));
	end = put_cpus_bus_ioapic(tab + sizeof(h), t, ncpus, ioapic_id);
	end = put_intrs(end, ioapic_id);
	assert(end == tab + h.length);
	memcpy(tab, &h, sizeof(h));
	tab[offsetof(struct mpc_table, checksum)] = checksum(tab, h.length);

	memcpy(mpf.signature, "_MP_", 4);
	mpf.checksum = checksum(&mpf, sizeof(mpf));
	memcpy(buf, &mpf, sizeof(mpf));
}

int mptable_write(struct guest_mem *m, const struct x86_topology *t)
{
	unsigned ncpus = x86_topology_vcpus(t);
	size_t len;
	uint32_t ioapic_id;
	uint8_t *buf;
	int ret;

	if (t->sockets == 0 || t->cores == 0 || t->threads == 0)
		return -EINVAL;
	if (ncpus == 0)
		return -E2BIG; /* more than 2^32 vCPUs */
	len = sizeof(struct mpf_intel) + table_len(ncpus);
	if (len > LAYOUT_BIOS_GPA - LAYOUT_MPTABLE_GPA || table_len(ncpus) > UINT16_MAX)
		return -E2BIG;
	/* APIC IDs grow with the index; 0xff is the broadcast ID, unusable for the IOAPIC too. */
	ioapic_id = x86_apic_id(t, ncpus - 1) + 1;
	if (ioapic_id >= 0xff)
		return -ERANGE;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	build(buf, t, ncpus, (uint8_t)ioapic_id);
	ret = guest_mem_write(m, LAYOUT_MPTABLE_GPA, buf, len);
	free(buf);
	return ret;
}
