/* test_pci_bus.c — bus 0 through ECAM as a guest enumerates it: the host bridge at 00.0, empty
 * slots and functions reading all-ones, a function's configuration writes reaching its owner in
 * order; BAR routing through the windows as the guest enables, moves and sizes BARs (a BAR moved
 * out of its window decodes nothing); configuration mechanism #1 (ports 0xcf8/0xcfc); the
 * firmware's allocator; and refused accesses, counted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/io_bus.h"
#include "pci/pci_bus.h"

#define ECAM	  0xe0000000ULL
#define MEM32	  0xe8000000ULL
#define MEM32_LEN 0x01000000ULL
#define MEM64	  0x8000000000ULL
#define MEM64_LEN 0x40000000ULL
#define IO	  0x1000ULL
#define IO_LEN	  0x1000ULL

/* A function that records what reached it: its BAR reads answer (bar << 16) + off. */
struct fake {
	struct pci_cfg cfg;
	unsigned writes, last_bar;
	uint64_t last_off, last_val;
	uint32_t written_off;
	int changed;
	uint32_t writing_off, writing_val; /* cfg_writing: the raw write, before the masks */
	uint16_t command_then;		   /* the command register as cfg_writing saw it */
};

static void fake_writing(void *obj, uint32_t off, unsigned size, uint32_t val)
{
	struct fake *f = obj;

	(void)size;
	f->writing_off = off;
	f->writing_val = val;
	f->command_then = pci_cfg_get16(&f->cfg, PCI_COMMAND);
}

static void fake_written(void *obj, uint32_t off, unsigned size, int changed)
{
	struct fake *f = obj;

	(void)size;
	f->written_off = off;
	f->changed = changed;
}

static uint64_t fake_read(void *obj, unsigned bar, uint64_t off, unsigned size)
{
	(void)obj;
	(void)size;
	return ((uint64_t)bar << 16) + off;
}

static void fake_write(void *obj, unsigned bar, uint64_t off, uint64_t val, unsigned size)
{
	struct fake *f = obj;

	(void)size;
	f->writes++;
	f->last_bar = bar;
	f->last_off = off;
	f->last_val = val;
}

static const struct pci_function_ops fake_ops = {.cfg_written = fake_written,
						 .cfg_writing = fake_writing,
						 .bar_read = fake_read,
						 .bar_write = fake_write};

struct fixture {
	struct pci_bus bus;
	struct io_bus mmio, pio;
	struct fake dev;
	unsigned slot;
};

static int setup(void **state)
{
	static struct fixture fx;
	const uint64_t base[PCI_NR_WINDOWS] = {MEM32, MEM64, IO};
	const uint64_t len[PCI_NR_WINDOWS] = {MEM32_LEN, MEM64_LEN, IO_LEN};
	const struct pci_id id = {.vendor = 0x1af4, .device = 0x1042, .class_code = 0x018000};
	uint64_t a0, a2, a4;
	struct pci_function f = {.cfg = &fx.dev.cfg, .ops = &fake_ops, .obj = &fx.dev};

	memset(&fx, 0, sizeof(fx));
	assert_int_equal(pci_bus_init(&fx.bus, base, len), 0);
	io_bus_init(&fx.mmio, "mmio", 0);
	io_bus_init(&fx.pio, "pio", 0x10000);
	assert_int_equal(
	    io_bus_register(&fx.mmio, ECAM, PCI_ECAM_BUS_SIZE, &pci_ecam_io_ops, &fx.bus), 0);
	assert_int_equal(io_bus_register(&fx.mmio, MEM32, MEM32_LEN, &pci_mem_io_ops,
					 &fx.bus.win[PCI_WIN_MEM32]),
			 0);
	assert_int_equal(io_bus_register(&fx.mmio, MEM64, MEM64_LEN, &pci_mem_io_ops,
					 &fx.bus.win[PCI_WIN_MEM64]),
			 0);
	assert_int_equal(
	    io_bus_register(&fx.pio, IO, IO_LEN, &pci_io_io_ops, &fx.bus.win[PCI_WIN_IO]), 0);
	pci_cfg_init(&fx.dev.cfg, &id);
	assert_int_equal(pci_bus_alloc(&fx.bus, PCI_WIN_MEM32, 0x1000, &a0), 0);
	assert_int_equal(pci_bus_alloc(&fx.bus, PCI_WIN_MEM64, 0x4000, &a2), 0);
	assert_int_equal(pci_bus_alloc(&fx.bus, PCI_WIN_IO, 0x20, &a4), 0);
	assert_int_equal(pci_cfg_set_bar(&fx.dev.cfg, 0, PCI_BAR_MEM32, false, 0x1000, a0), 0);
	assert_int_equal(pci_cfg_set_bar(&fx.dev.cfg, 2, PCI_BAR_MEM64, true, 0x4000, a2), 0);
	assert_int_equal(pci_cfg_set_bar(&fx.dev.cfg, 4, PCI_BAR_IO, false, 0x20, a4), 0);
	assert_int_equal(pci_bus_add(&fx.bus, &f, &fx.slot), 0);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	io_bus_destroy(&fx->mmio);
	io_bus_destroy(&fx->pio);
	pci_bus_destroy(&fx->bus);
	return 0;
}

/* ECAM address of (slot, function, register). */
static uint64_t ecam(unsigned slot, unsigned fn, unsigned reg)
{
	return ECAM + ((uint64_t)slot << 15 | fn << 12 | reg);
}

static void test_enumeration(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->slot, 1);
	assert_int_equal(io_bus_read(&fx->mmio, ecam(0, 0, PCI_VENDOR_ID), 4),
			 PCI_HOST_DEVICE << 16 | PCI_HOST_VENDOR);
	assert_int_equal(io_bus_read(&fx->mmio, ecam(0, 0, PCI_REVISION), 4) >> 8, 0x060000);
	assert_int_equal(io_bus_read(&fx->mmio, ecam(1, 0, PCI_VENDOR_ID), 4), 0x10421af4);
	assert_int_equal(io_bus_read(&fx->mmio, ecam(1, 0, PCI_HEADER_TYPE), 1), 0); /* single */
	/* an empty slot, a second function, a 16-bit read of one: all-ones */
	assert_int_equal(io_bus_read(&fx->mmio, ecam(2, 0, PCI_VENDOR_ID), 4), 0xffffffff);
	assert_int_equal(io_bus_read(&fx->mmio, ecam(1, 1, PCI_VENDOR_ID), 4), 0xffffffff);
	assert_int_equal(io_bus_read(&fx->mmio, ecam(31, 7, 0), 2), 0xffff);
	assert_int_equal(fx->bus.stats.cfg_absent, 3);
	/* the host bridge takes no writes to its identity or BARs */
	io_bus_write(&fx->mmio, ecam(0, 0, PCI_BAR0), 0xffffffff, 4);
	assert_int_equal(io_bus_read(&fx->mmio, ecam(0, 0, PCI_BAR0), 4), 0);
	io_bus_write(&fx->mmio, ecam(2, 0, PCI_COMMAND), 0x7, 2); /* dropped, counted */
	assert_int_equal(fx->bus.stats.cfg_absent, 4);
}

static void test_config_writes_reach_the_owner(void **state)
{
	struct fixture *fx = *state;

	io_bus_write(&fx->mmio, ecam(1, 0, PCI_COMMAND), PCI_CMD_MEMORY, 2);
	assert_int_equal(fx->dev.written_off, PCI_COMMAND);
	assert_int_equal(fx->dev.changed, PCI_CFG_CHANGED_COMMAND);
	io_bus_write(&fx->mmio, ecam(1, 0, PCI_BAR0 + 12), 0x1, 4);
	assert_int_equal(fx->dev.changed, PCI_CFG_CHANGED_BAR(2));
	/* cfg_writing sees the guest's raw value before the masks apply it (a passthrough
	 * function forwards it): read-only bits included, the register not yet changed */
	io_bus_write(&fx->mmio, ecam(1, 0, PCI_COMMAND), 0xffff, 2);
	assert_int_equal(fx->dev.writing_off, PCI_COMMAND);
	assert_int_equal(fx->dev.writing_val, 0xffff);
	assert_int_equal(fx->dev.command_then, PCI_CMD_MEMORY);
	/* a misaligned access never reaches it */
	fx->dev.written_off = 0;
	io_bus_write(&fx->mmio, ecam(1, 0, PCI_COMMAND + 1), 0xffff, 2);
	assert_int_equal(fx->dev.written_off, 0);
	assert_int_equal(io_bus_read(&fx->mmio, ecam(1, 0, 3), 2), 0xffff);
	assert_int_equal(fx->bus.stats.cfg_bad, 2);
}

static void test_bar_routing(void **state)
{
	struct fixture *fx = *state;
	uint64_t a0 = pci_cfg_bar_addr(&fx->dev.cfg, 0), a2 = pci_cfg_bar_addr(&fx->dev.cfg, 2);
	uint64_t a4 = pci_cfg_bar_addr(&fx->dev.cfg, 4);

	assert_int_equal(a0, MEM32);
	assert_int_equal(a2, MEM64);
	assert_int_equal(a4, IO);
	/* decoding off: nothing answers */
	assert_int_equal(io_bus_read(&fx->mmio, a0 + 8, 4), 0xffffffff);
	assert_int_equal(fx->bus.stats.bar_unclaimed, 1);
	io_bus_write(&fx->mmio, ecam(1, 0, PCI_COMMAND), PCI_CMD_MEMORY | PCI_CMD_IO, 2);
	assert_int_equal(io_bus_read(&fx->mmio, a0 + 8, 4), 8);
	assert_int_equal(io_bus_read(&fx->mmio, a2 + 0x3ff8, 8), 0x23ff8);
	assert_int_equal(io_bus_read(&fx->pio, a4 + 0x1c, 4), 0x4001c);
	io_bus_write(&fx->mmio, a2 + 16, 0xabcd, 2);
	assert_int_equal(fx->dev.last_bar, 2);
	assert_int_equal(fx->dev.last_off, 16);
	assert_int_equal(fx->dev.last_val, 0xabcd);
	assert_true(pci_bus_bar_decodes(&fx->bus, fx->slot, 0));
	/* an access that runs past the BAR's end is not the BAR's */
	assert_int_equal(io_bus_read(&fx->mmio, a0 + 0xffc, 8), UINT64_MAX);
	/* the guest moves BAR 0 within the window: the old address goes quiet */
	io_bus_write(&fx->mmio, ecam(1, 0, PCI_BAR0), MEM32 + 0x10000, 4);
	assert_int_equal(io_bus_read(&fx->mmio, a0 + 8, 4), 0xffffffff);
	assert_int_equal(io_bus_read(&fx->mmio, MEM32 + 0x10008, 4), 8);
	/* ... and out of every window: it decodes nothing, even where another device sits */
	io_bus_write(&fx->mmio, ecam(1, 0, PCI_BAR0), 0xd0000000, 4);
	assert_false(pci_bus_bar_decodes(&fx->bus, fx->slot, 0));
	assert_null(io_bus_find(&fx->mmio, 0xd0000000));
	/* sizing: all-ones is not an address */
	io_bus_write(&fx->mmio, ecam(1, 0, PCI_BAR0), 0xffffffff, 4);
	assert_int_equal(io_bus_read(&fx->mmio, ecam(1, 0, PCI_BAR0), 4), 0xfffff000);
	assert_false(pci_bus_bar_decodes(&fx->bus, fx->slot, 0));
	assert_false(pci_bus_bar_decodes(&fx->bus, 0, 0));
	assert_false(pci_bus_bar_decodes(&fx->bus, 7, 0));
	/* a memory BAR never answers in the I/O window, whatever its address */
	io_bus_write(&fx->mmio, ecam(1, 0, PCI_BAR0 + 16), 0x1800, 4);
	io_bus_write(&fx->mmio, ecam(1, 0, PCI_BAR0), 0x1000, 4);
	assert_int_equal(io_bus_read(&fx->pio, 0x1000, 4), 0xffffffff);
	assert_int_equal(io_bus_read(&fx->pio, 0x1804, 4), 0x40004);
}

/* Configuration mechanism #1, as Linux's pci_check_type1 and pci_conf1_read use it. */
static void test_cf8(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(io_bus_register(&fx->pio, PCI_CF8_PORT, 8, &pci_cf8_io_ops, &fx->bus), 0);
	io_bus_write(&fx->pio, 0xcfb, 0x01, 1); /* the mechanism select byte: ignored */
	io_bus_write(&fx->pio, PCI_CF8_PORT, 0x80000000, 4);
	assert_int_equal(io_bus_read(&fx->pio, PCI_CF8_PORT, 4), 0x80000000);
	assert_int_equal(io_bus_read(&fx->pio, PCI_CF8_PORT, 1), 0xff);
	assert_int_equal(io_bus_read(&fx->pio, 0xcfc, 4), PCI_HOST_DEVICE << 16 | PCI_HOST_VENDOR);
	assert_int_equal(io_bus_read(&fx->pio, 0xcfe, 2), PCI_HOST_DEVICE);
	/* slot 1's command register; the low two address bits are not the register's */
	io_bus_write(&fx->pio, PCI_CF8_PORT, 0x80000000 | 1 << 11 | PCI_COMMAND | 3, 4);
	assert_int_equal(io_bus_read(&fx->pio, PCI_CF8_PORT, 4), 0x80000000 | 1 << 11 | 4);
	io_bus_write(&fx->pio, 0xcfc, PCI_CMD_MEMORY, 2);
	assert_int_equal(fx->dev.changed, PCI_CFG_CHANGED_COMMAND);
	assert_int_equal(io_bus_read(&fx->pio, 0xcfc, 2), PCI_CMD_MEMORY);
	assert_int_equal(io_bus_read(&fx->pio, 0xcfd, 2), 0xffff); /* misaligned */
	/* enable bit clear, or another bus: nothing there */
	io_bus_write(&fx->pio, PCI_CF8_PORT, 1 << 11, 4);
	assert_int_equal(io_bus_read(&fx->pio, 0xcfc, 4), 0xffffffff);
	io_bus_write(&fx->pio, PCI_CF8_PORT, 0x80010000, 4);
	assert_int_equal(io_bus_read(&fx->pio, 0xcfc, 4), 0xffffffff);
	io_bus_write(&fx->pio, 0xcfc, 0, 4); /* dropped */
}

static void test_allocator(void **state)
{
	struct fixture *fx = *state;
	uint64_t a;

	assert_int_equal(pci_bus_alloc(&fx->bus, PCI_WIN_MEM32, 0x100000, &a), 0);
	assert_int_equal(a, MEM32 + 0x100000); /* aligned past the first BAR */
	assert_int_equal(pci_bus_alloc(&fx->bus, PCI_WIN_MEM32, 0x800000, &a), 0);
	assert_int_equal(a, MEM32 + 0x800000);
	assert_int_equal(pci_bus_alloc(&fx->bus, PCI_WIN_MEM32, 0x800000, &a), -ENOSPC);
	assert_int_equal(pci_bus_alloc(&fx->bus, PCI_WIN_MEM32, 0x1000, &a), -ENOSPC);
	assert_int_equal(pci_bus_alloc(&fx->bus, PCI_WIN_MEM64, 0x3000, &a), -EINVAL);
	assert_int_equal(pci_bus_alloc(&fx->bus, PCI_NR_WINDOWS, 0x1000, &a), -EINVAL);
	assert_int_equal(pci_bus_alloc(&fx->bus, PCI_WIN_IO, 1ULL << 40, &a), -ENOSPC);
	/* which windows hold a BAR of each kind (what a function asks before it hooks an address)
	 */
	assert_true(pci_bus_window_holds(&fx->bus, PCI_BAR_MEM32, MEM32, 0x1000));
	assert_true(pci_bus_window_holds(&fx->bus, PCI_BAR_MEM64, MEM32, 0x1000));
	assert_true(pci_bus_window_holds(&fx->bus, PCI_BAR_MEM64, MEM64 + MEM64_LEN - 16, 16));
	assert_false(pci_bus_window_holds(&fx->bus, PCI_BAR_MEM32, MEM32 + MEM32_LEN - 8, 16));
	assert_false(pci_bus_window_holds(&fx->bus, PCI_BAR_MEM32, 0xfee00000, 0x1000));
	assert_false(pci_bus_window_holds(&fx->bus, PCI_BAR_IO, MEM32, 16));
	assert_true(pci_bus_window_holds(&fx->bus, PCI_BAR_IO, IO, 16));
	assert_false(pci_bus_window_holds(&fx->bus, PCI_BAR_MEM32, IO, 16));
}

static void test_init_and_add_refused(void **state)
{
	struct pci_bus b;
	struct pci_cfg c;
	struct pci_function f = {.cfg = &c, .ops = &fake_ops};
	uint64_t base[PCI_NR_WINDOWS] = {0xfffff000, 0, 0}, len[PCI_NR_WINDOWS] = {0x2000, 0, 0};
	unsigned slot;

	(void)state;
	assert_int_equal(pci_bus_init(&b, base, len), -EINVAL); /* mem32 past 4 GiB */
	base[0] = 0;
	len[0] = 0;
	base[2] = 0xf000;
	len[2] = 0x2000;
	assert_int_equal(pci_bus_init(&b, base, len), -EINVAL); /* io past 64 KiB */
	base[2] = 0;
	len[2] = 0;
	base[1] = UINT64_MAX - 0xfff;
	len[1] = 0x2000;
	assert_int_equal(pci_bus_init(&b, base, len), -EINVAL); /* wraps */
	base[1] = 0;
	len[1] = 0;
	assert_int_equal(pci_bus_init(&b, base, len), 0);
	assert_int_equal(pci_bus_alloc(&b, PCI_WIN_MEM32, 0x1000, &base[0]), -ENOSPC); /* none */
	f.ops = NULL;
	assert_int_equal(pci_bus_add(&b, &f, &slot), -EINVAL);
	f.ops = &fake_ops;
	for (unsigned s = 1; s < PCI_SLOTS; s++)
		assert_int_equal(pci_bus_add(&b, &f, &slot), 0);
	assert_int_equal(slot, PCI_SLOTS - 1);
	assert_int_equal(pci_bus_add(&b, &f, &slot), -ENOSPC);
	pci_bus_remove(&b, 7); /* a failed attach gives its slot back */
	pci_bus_remove(&b, 0); /* never the host bridge */
	assert_int_equal(pci_bus_add(&b, &f, &slot), 0);
	assert_int_equal(slot, 7);
	assert_int_equal(pci_bus_cfg_read(&b, 0, 2), PCI_HOST_VENDOR);
	pci_bus_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_enumeration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_writes_reach_the_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar_routing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cf8, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allocator, setup, teardown),
	    cmocka_unit_test(test_init_and_add_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
