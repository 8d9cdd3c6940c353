/* pio_mmio.c — every access width through PIO and MMIO to the test device, and all-ones
 * from unmapped ports and addresses. Needs --test-device. */
#include "guest.h"

#define TD_PORT	  0xe0
#define TD_PORTS  16
#define TD_MMIO	  0xd8000000ULL
#define TD_MMIO_N 0x1000

static uint64_t pattern(unsigned off, unsigned width)
{
	uint64_t v = 0x8877665544332211ULL ^ ((uint64_t)(off * 0x9e3779b9u) << 8) ^ width;

	return width == 8 ? v : v & ((1ULL << (8 * width)) - 1);
}

static void check_pio(void)
{
	static const unsigned widths[] = {1, 2, 4};

	for (unsigned w = 0; w < 3; w++) {
		unsigned width = widths[w];

		/* Every offset the width fits at, aligned or not. */
		for (unsigned off = 0; off + width <= TD_PORTS; off++) {
			uint32_t v = (uint32_t)pattern(off, width);

			pio_write((uint16_t)(TD_PORT + off), width, v);
			GUEST_ASSERT_EQ(pio_read((uint16_t)(TD_PORT + off), width), v);
		}
	}
	/* Registers are bytes: a dword write reads back byte by byte, little-endian. */
	outl(TD_PORT + 4, 0xa1b2c3d4);
	GUEST_ASSERT_EQ(inb(TD_PORT + 4), 0xd4);
	GUEST_ASSERT_EQ(inb(TD_PORT + 7), 0xa1);
	outb(TD_PORT + 5, 0x5a);
	GUEST_ASSERT_EQ(inl(TD_PORT + 4), 0xa1b25ad4);
	GUEST_ASSERT_EQ(inw(TD_PORT + 5), 0xb25a);
	/* Unmapped ports read all-ones at every width. */
	GUEST_ASSERT_EQ(inb(0x1e0), 0xff);
	GUEST_ASSERT_EQ(inw(0x1e0), 0xffff);
	GUEST_ASSERT_EQ(inl(0x1e0), 0xffffffff);
	/* An access running past the window's end is refused as a whole. */
	GUEST_ASSERT_EQ(inl(TD_PORT + TD_PORTS - 2), 0xffffffff);
	guest_printf("pio_mmio: PIO widths 1/2/4 at all %u offsets ok\n", TD_PORTS);
}

static void check_mmio(void)
{
	static const unsigned widths[] = {1, 2, 4, 8};
	static const unsigned offs[] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 0x11, 0x7fb, 0xff0, 0xff7};

	for (unsigned w = 0; w < 4; w++) {
		for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			unsigned width = widths[w], off = offs[i];
			uint64_t v = pattern(off, width);

			if (off + width > TD_MMIO_N)
				continue;
			mmio_write(TD_MMIO + off, width, v);
			GUEST_ASSERT_EQ(mmio_read(TD_MMIO + off, width), v);
		}
		/* The last bytes of the window. */
		mmio_write(TD_MMIO + TD_MMIO_N - widths[w], widths[w], pattern(99, widths[w]));
		GUEST_ASSERT_EQ(mmio_read(TD_MMIO + TD_MMIO_N - widths[w], widths[w]),
				pattern(99, widths[w]));
	}
	/* Narrow writes change only their bytes. */
	mmio_write64(TD_MMIO + 0x100, 0x0102030405060708ULL);
	mmio_write8(TD_MMIO + 0x103, 0xee);
	mmio_write16(TD_MMIO + 0x105, 0xccdd);
	GUEST_ASSERT_EQ(mmio_read64(TD_MMIO + 0x100), 0x01ccdd04ee060708ULL);
	GUEST_ASSERT_EQ(mmio_read32(TD_MMIO + 0x101), 0x04ee0607);
	/* Unmapped MMIO reads all-ones at every width. */
	GUEST_ASSERT_EQ(mmio_read8(0xd9000000), 0xff);
	GUEST_ASSERT_EQ(mmio_read16(0xd9000002), 0xffff);
	GUEST_ASSERT_EQ(mmio_read32(0xd9000004), 0xffffffff);
	GUEST_ASSERT_EQ(mmio_read64(0xd9000008), 0xffffffffffffffffULL);
	mmio_write32(0xd9000000, 0x12345678); /* ignored */
	GUEST_ASSERT_EQ(mmio_read32(0xd9000000), 0xffffffff);
	guest_printf("pio_mmio: MMIO widths 1/2/4/8 ok\n");
}

int main(void)
{
	check_pio();
	check_mmio();
	return 0;
}
