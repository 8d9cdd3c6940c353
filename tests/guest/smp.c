/* smp.c — start every AP the MP table lists with INIT/SIPI; each reports its APIC ID, which
 * must match the table, its LAPIC ID register and CPUID (leaf 1 EBX[31:24], leaf 0xB EDX). */
#include "guest.h"

#define BDA_EBDA_SEG   0x40e
#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP     0x02
#define ICR_INIT       0x4500 /* INIT, level assert */
#define ICR_STARTUP    0x4600 /* SIPI, level assert; low byte = vector (page number) */
#define ICR_BUSY       0x1000 /* delivery status */
#define AP_WAIT_MS     2000

struct mp_cpus {
	unsigned n;
	uint8_t id[KIT_MAX_CPUS];
	int bsp; /* index into id[] */
};

static uint8_t sum(uint64_t gpa, unsigned len)
{
	uint8_t s = 0;

	for (unsigned i = 0; i < len; i++)
		s += mmio_read8(gpa + i);
	return s;
}

/* The MP floating pointer: 16-byte aligned "_MP_" in the EBDA's first KiB, then the BIOS ROM. */
static uint64_t mp_floating_find(void)
{
	uint64_t ebda = (uint64_t)mmio_read16(BDA_EBDA_SEG) << 4;
	const uint64_t where[2][2] = {{ebda, ebda + 1024}, {0xf0000, 0x100000}};

	for (int r = 0; r < 2; r++)
		for (uint64_t a = where[r][0]; a && a < where[r][1]; a += 16)
			if (memcmp((const void *)a, "_MP_", 4) == 0 && sum(a, 16) == 0)
				return a;
	return 0;
}

static void mp_parse(struct mp_cpus *c)
{
	uint64_t fp = mp_floating_find(), cfg, p;
	unsigned len, count;

	GUEST_ASSERT(fp != 0);
	cfg = mmio_read32(fp + 4);
	GUEST_ASSERT(memcmp((const void *)cfg, "PCMP", 4) == 0);
	len = mmio_read16(cfg + 4);
	GUEST_ASSERT_EQ(sum(cfg, len), 0);
	count = mmio_read16(cfg + 34);
	c->n = 0;
	c->bsp = -1;
	for (p = cfg + 44; count--; p += mmio_read8(p) == 0 ? 20 : 8) {
		if (mmio_read8(p) != 0 || !(mmio_read8(p + 3) & MP_CPU_ENABLED))
			continue;
		GUEST_ASSERT(c->n < KIT_MAX_CPUS);
		if (mmio_read8(p + 3) & MP_CPU_BSP)
			c->bsp = (int)c->n;
		c->id[c->n++] = mmio_read8(p + 1);
	}
	GUEST_ASSERT(c->bsp >= 0);
}

static void icr_send(uint8_t dest, uint32_t lo)
{
	lapic_write(LAPIC_ICR_HI, (uint32_t)dest << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	for (int i = 0; i < 1000000 && (lapic_read(LAPIC_ICR_LO) & ICR_BUSY); i++)
		guest_pause();
}

static bool wait_reported(uint32_t target)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * AP_WAIT_MS;

	while (guest_ap_reported < target)
		if (guest_rdtsc() > end)
			return false;
	return true;
}

static void ap_start(uint8_t id, uint32_t already)
{
	icr_send(id, ICR_INIT);
	guest_delay_ms(1);
	icr_send(id, ICR_STARTUP | (KIT_AP_TRAMPOLINE >> 12));
	if (wait_reported(already + 1))
		return;
	icr_send(id, ICR_STARTUP | (KIT_AP_TRAMPOLINE >> 12)); /* the spec's second SIPI */
	if (!wait_reported(already + 1))
		guest_fail("AP with APIC ID %u did not report within %u ms", id, 2 * AP_WAIT_MS);
}

int main(void)
{
	struct mp_cpus mp;
	uint32_t bsp_id, r[4];
	unsigned aps = 0;

	mp_parse(&mp);
	bsp_id = lapic_enable();
	guest_printf("smp: MP table lists %u CPUs, BSP APIC ID %u:", mp.n, bsp_id);
	for (unsigned i = 0; i < mp.n; i++)
		guest_printf(" %u", mp.id[i]);
	guest_printf("\n");
	GUEST_ASSERT_EQ(mp.id[mp.bsp], bsp_id);
	guest_cpuid_vm(1, 0, r); /* at ring 0: CPL3 cpuid shows the host under PVM */
	GUEST_ASSERT_EQ(r[1] >> 24, bsp_id);
	guest_cpuid_vm(0, 0, r);
	if (r[0] >= 0xb) {
		guest_cpuid_vm(0xb, 0, r);
		GUEST_ASSERT_EQ(r[3], bsp_id);
	}

	memcpy((void *)KIT_AP_TRAMPOLINE, guest_ap_trampoline,
	       (size_t)(guest_ap_trampoline_end - guest_ap_trampoline));
	for (unsigned i = 0; i < mp.n; i++)
		if ((int)i != mp.bsp)
			ap_start(mp.id[i], aps++);

	/* The reports, in arrival order, must be exactly the MP table's APs. */
	GUEST_ASSERT_EQ(guest_ap_reported, aps);
	for (unsigned s = 0; s < aps; s++) {
		uint32_t id = guest_ap_lapic_id[s];
		unsigned matches = 0;

		guest_printf("smp: AP %u: LAPIC ID %u, CPUID.1 %u, CPUID.0xB %d\n", s, id,
			     guest_ap_cpuid1_id[s], (int)guest_ap_cpuidb_id[s]);
		for (unsigned i = 0; i < mp.n; i++)
			matches += (int)i != mp.bsp && mp.id[i] == id;
		GUEST_ASSERT_EQ(matches, 1);
		for (unsigned t = 0; t < s; t++)
			GUEST_ASSERT(guest_ap_lapic_id[t] != id);
		GUEST_ASSERT_EQ(guest_ap_cpuid1_id[s], id);
		if (guest_ap_cpuidb_id[s] != 0xffffffff)
			GUEST_ASSERT_EQ(guest_ap_cpuidb_id[s], id);
	}
	guest_printf("smp: all %u APs reported\n", aps);
	return 0;
}
