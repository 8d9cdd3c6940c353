/* acpi.c — find the RSDP where the boot protocol says and by a BIOS-area scan, walk RSDP -> XSDT
 * -> FADT -> DSDT checking signatures and checksums, then power off through the FADT's sleep
 * control register with \_S5's SLP_TYP (kiln status 0). With `expect=none` (--no-acpi): no RSDP
 * anywhere, PASS. */
#include "guest.h"

static uint8_t sum8(uint64_t gpa, uint32_t len)
{
	uint8_t s = 0;

	for (uint32_t i = 0; i < len; i++)
		s += mmio_read8(gpa + i);
	return s;
}

/* boot_params.acpi_rsdp_addr (0x070) or hvm_start_info.rsdp_paddr (offset 32). */
static uint64_t boot_rsdp(void)
{
	uint64_t info = guest_boot_info_gpa();

	return mmio_read64(info + (guest_boot_protocol() == KIT_BOOT_PVH ? 32 : 0x70));
}

static uint64_t scan_rsdp(void)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (memcmp((const void *)a, "RSD PTR ", 8) == 0 && sum8(a, 20) == 0)
			return a;
	return 0;
}

static uint64_t table(uint64_t gpa, const char *sig)
{
	GUEST_ASSERT(memcmp((const void *)gpa, sig, 4) == 0);
	GUEST_ASSERT_EQ(sum8(gpa, mmio_read32(gpa + 4)), 0);
	return gpa;
}

static uint64_t xsdt_find(uint64_t xsdt, const char *sig)
{
	for (uint32_t off = 36; off < mmio_read32(xsdt + 4); off += 8) {
		uint64_t t = mmio_read64(xsdt + off);

		if (memcmp((const void *)t, sig, 4) == 0)
			return table(t, sig);
	}
	guest_fail("no %s in the XSDT", sig);
}

/* The first element of Name(_S5_, Package(){...}): ZeroOp, OneOp or a BytePrefix constant. */
static unsigned s5_typ(uint64_t dsdt)
{
	uint32_t len = mmio_read32(dsdt + 4);

	for (uint64_t p = dsdt + 36; p + 9 < dsdt + len; p++) {
		if (memcmp((const void *)p, "\x08_S5_\x12", 6) != 0)
			continue;
		GUEST_ASSERT(mmio_read8(p + 6) < 0x40); /* a one-byte PkgLength */
		p += 8;					/* past NumElements */
		if (mmio_read8(p) <= 1)
			return mmio_read8(p);
		GUEST_ASSERT_EQ(mmio_read8(p), 0x0a);
		return mmio_read8(p + 1);
	}
	guest_fail("no \\_S5 package in the DSDT");
}

int main(void)
{
	char word[16];
	uint64_t rsdp = boot_rsdp(), fadt, dsdt, port;
	unsigned typ;

	if (guest_cmdline_get("expect", word, sizeof(word)) && strcmp(word, "none") == 0) {
		GUEST_ASSERT_EQ(rsdp, 0);
		GUEST_ASSERT_EQ(scan_rsdp(), 0);
		guest_printf("acpi: no RSDP, as expected\n");
		return 0;
	}
	GUEST_ASSERT(rsdp != 0);
	GUEST_ASSERT_EQ(scan_rsdp(), rsdp);
	GUEST_ASSERT_EQ(mmio_read8(rsdp + 15), 2);
	GUEST_ASSERT_EQ(sum8(rsdp, 36), 0);
	fadt = xsdt_find(table(mmio_read64(rsdp + 24), "XSDT"), "FACP");
	xsdt_find(mmio_read64(rsdp + 24), "APIC");
	GUEST_ASSERT(mmio_read32(fadt + 112) & (1u << 20)); /* HW_REDUCED_ACPI */
	dsdt = table(mmio_read64(fadt + 140), "DSDT");
	typ = s5_typ(dsdt);
	GUEST_ASSERT_EQ(mmio_read8(fadt + 244), 1); /* SLEEP_CONTROL_REG in system I/O */
	port = mmio_read64(fadt + 244 + 4);
	guest_printf("acpi: RSDP at %#lx; powering off: SLP_TYP %u | SLP_EN to port %#lx\n", rsdp,
		     typ, port);
	outb((uint16_t)port, (uint8_t)(typ << 2 | 0x20));
	for (int i = 0; i < 1000; i++)
		guest_pause();
	guest_fail("still running after the ACPI S5 write");
}
