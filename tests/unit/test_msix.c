/* test_msix.c — MSI-X as a guest driver uses it: the capability it finds (table size, table and
 * PBA locations), Enable and Function Mask, vector table writes of 4 and 8 bytes and the routes
 * they give the owner, masking with the pending bit and delivery at unmask, and the accesses
 * that are refused (widths, alignment, the read-only PBA, a vector out of range). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pci/msix.h"

#define NR	  3
#define TABLE_OFF 0x000
#define PBA_OFF	  0x800

/* What the owner heard. */
struct owner {
	unsigned fired[NR], updates[NR];
	struct msix_msg msg[NR];
	bool masked[NR];
};

static void on_update(void *ctx, unsigned vec, const struct msix_msg *msg, bool masked)
{
	struct owner *o = ctx;

	assert_true(vec < NR);
	o->updates[vec]++;
	o->msg[vec] = *msg;
	o->masked[vec] = masked;
}

static void on_fire(void *ctx, unsigned vec)
{
	struct owner *o = ctx;

	assert_true(vec < NR);
	o->fired[vec]++;
}

static const struct msix_ops ops = {.update = on_update, .fire = on_fire};
static const struct pci_id id = {.vendor = 0x1af4, .device = 0x1044, .class_code = 0xff0000};

struct fixture {
	struct pci_cfg cfg;
	struct msix m;
	struct owner o;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	pci_cfg_init(&f.cfg, &id);
	assert_int_equal(pci_cfg_set_bar(&f.cfg, 1, PCI_BAR_MEM32, false, 0x1000, 0xe0000000), 0);
	assert_int_equal(msix_init(&f.m, &f.cfg, NR, 1, TABLE_OFF, PBA_OFF, &ops, &f.o), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	msix_destroy(&f->m);
	return 0;
}

static uint32_t cfg_rd(struct fixture *f, uint32_t off, unsigned size)
{
	uint32_t v;

	assert_int_equal(pci_cfg_read(&f->cfg, off, size, &v), 0);
	return v;
}

/* A guest's write to the capability's Message Control, as the transport passes it on. */
static void set_ctrl(struct fixture *f, uint16_t v)
{
	assert_true(pci_cfg_write(&f->cfg, f->m.cap + 2, 2, v) >= 0);
	msix_cfg_written(&f->m, f->m.cap + 2, 2);
}

static void bar_wr(struct fixture *f, uint64_t off, unsigned size, uint64_t v)
{
	assert_true(msix_bar_write(&f->m, off, size, v));
}

static uint64_t bar_rd(struct fixture *f, uint64_t off, unsigned size)
{
	uint64_t v;

	assert_true(msix_bar_read(&f->m, off, size, &v));
	return v;
}

/* Program vector vec as Linux does: address, data, then unmask. */
static void program(struct fixture *f, unsigned vec, uint64_t addr, uint32_t data)
{
	uint64_t e = TABLE_OFF + vec * MSIX_ENTRY_SIZE;

	bar_wr(f, e, 4, (uint32_t)addr);
	bar_wr(f, e + 4, 4, addr >> 32);
	bar_wr(f, e + 8, 4, data);
	bar_wr(f, e + 12, 4, 0);
}

static void test_capability(void **state)
{
	struct fixture *f = *state;
	uint32_t at = cfg_rd(f, PCI_CAP_PTR, 1);

	assert_int_equal(cfg_rd(f, at, 1), PCI_CAP_ID_MSIX);
	assert_int_equal(at, f->m.cap);
	assert_int_equal(cfg_rd(f, at + 2, 2), NR - 1); /* table size - 1, off, unmasked */
	assert_int_equal(cfg_rd(f, at + 4, 4), TABLE_OFF | 1);
	assert_int_equal(cfg_rd(f, at + 8, 4), PBA_OFF | 1);
	/* only Enable and Function Mask are the guest's */
	assert_true(pci_cfg_write(&f->cfg, at + 2, 2, 0xffff) >= 0);
	assert_int_equal(cfg_rd(f, at + 2, 2), 0xc000 | (NR - 1));
	assert_true(pci_cfg_write(&f->cfg, at + 4, 4, 0) >= 0);
	assert_int_equal(cfg_rd(f, at + 4, 4), TABLE_OFF | 1);
	/* every vector starts masked with an empty message */
	for (unsigned v = 0; v < NR; v++) {
		assert_int_equal(bar_rd(f, TABLE_OFF + v * 16 + 12, 4), MSIX_VECTOR_MASKED);
		assert_int_equal(bar_rd(f, TABLE_OFF + v * 16, 8), 0);
	}
}

static void test_disabled_signal_is_refused(void **state)
{
	struct fixture *f = *state;

	program(f, 0, 0xfee00000, 0x41);
	assert_false(msix_enabled(&f->m));
	assert_int_equal(msix_signal(&f->m, 0), -ENOTCONN);
	assert_int_equal(f->o.fired[0], 0);
	assert_true(f->o.masked[0]); /* routed, but masked: MSI-X is off */
	assert_int_equal(msix_signal(&f->m, NR), -EINVAL);
}

static void test_program_and_fire(void **state)
{
	struct fixture *f = *state;

	set_ctrl(f, MSIX_CTRL_ENABLE);
	assert_true(msix_enabled(&f->m));
	program(f, 1, 0xfee01000, 0x4041);
	assert_false(f->o.masked[1]);
	assert_int_equal(f->o.msg[1].addr, 0xfee01000);
	assert_int_equal(f->o.msg[1].data, 0x4041);
	assert_int_equal(msix_signal(&f->m, 1), 0);
	assert_int_equal(f->o.fired[1], 1);
	/* an 8-byte write of the address, its reserved low bits dropped */
	bar_wr(f, TABLE_OFF + 16, 8, 0x00000001fee02003ULL);
	assert_int_equal(f->o.msg[1].addr, 0x1fee02000ULL);
	assert_int_equal(bar_rd(f, TABLE_OFF + 16, 8), 0x1fee02000ULL);
	/* data and control in one 8-byte write; the control word keeps only its mask bit */
	bar_wr(f, TABLE_OFF + 24, 8, 0xfffffffe00000042ULL);
	assert_int_equal(bar_rd(f, TABLE_OFF + 28, 4), 0);
	assert_int_equal(f->o.msg[1].data, 0x42);
}

static void test_masked_vector_pends(void **state)
{
	struct fixture *f = *state;

	set_ctrl(f, MSIX_CTRL_ENABLE);
	program(f, 2, 0xfee00000, 0x51);
	bar_wr(f, TABLE_OFF + 2 * 16 + 12, 4, MSIX_VECTOR_MASKED);
	assert_int_equal(msix_signal(&f->m, 2), 0);
	assert_int_equal(f->o.fired[2], 0);
	assert_int_equal(bar_rd(f, PBA_OFF, 8), 1u << 2);
	assert_int_equal(bar_rd(f, PBA_OFF, 4), 1u << 2);
	bar_wr(f, PBA_OFF, 8, 0); /* read-only: the guest cannot drop it */
	assert_int_equal(bar_rd(f, PBA_OFF, 8), 1u << 2);
	bar_wr(f, TABLE_OFF + 2 * 16 + 12, 4, 0); /* unmask: delivered, no longer pending */
	assert_int_equal(f->o.fired[2], 1);
	assert_int_equal(bar_rd(f, PBA_OFF, 8), 0);
}

static void test_function_mask(void **state)
{
	struct fixture *f = *state;

	set_ctrl(f, MSIX_CTRL_ENABLE);
	program(f, 0, 0xfee00000, 0x61);
	set_ctrl(f, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	assert_true(f->o.masked[0]);
	assert_int_equal(msix_signal(&f->m, 0), 0);
	assert_int_equal(f->o.fired[0], 0);
	set_ctrl(f, MSIX_CTRL_ENABLE);
	assert_int_equal(f->o.fired[0], 1);
	assert_false(f->o.masked[0]);
	/* disabling MSI-X masks every vector for the owner */
	set_ctrl(f, 0);
	assert_true(f->o.masked[0] && f->o.masked[1] && f->o.masked[2]);
}

static void test_bad_accesses(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	assert_true(msix_bar_read(&f->m, TABLE_OFF + 2, 2, &v)); /* in the table, bad width */
	assert_int_equal(v, 0xffff);
	assert_true(msix_bar_read(&f->m, TABLE_OFF + 4, 8, &v)); /* misaligned 8 */
	assert_int_equal(v, UINT64_MAX);
	assert_true(msix_bar_write(&f->m, TABLE_OFF + 1, 4, 0));
	assert_true(msix_bar_write(&f->m, TABLE_OFF + 12, 1, 0)); /* would unmask: refused */
	assert_int_equal(bar_rd(f, TABLE_OFF + 12, 4), MSIX_VECTOR_MASKED);
	assert_int_equal(f->m.stats.bad_access, 4);
	/* the BAR's other business, past the table and the PBA */
	assert_false(msix_bar_read(&f->m, NR * 16, 4, &v));
	assert_false(msix_bar_write(&f->m, PBA_OFF + 8, 4, 0));
	assert_false(msix_bar_read(&f->m, UINT64_MAX - 3, 4, &v));
}

static void test_reset(void **state)
{
	struct fixture *f = *state;

	set_ctrl(f, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	program(f, 0, 0xfee00000, 0x71);
	assert_int_equal(msix_signal(&f->m, 0), 0);
	msix_reset(&f->m);
	assert_false(msix_enabled(&f->m));
	assert_int_equal(cfg_rd(f, f->m.cap + 2, 2), NR - 1);
	assert_int_equal(bar_rd(f, PBA_OFF, 8), 0);
	assert_int_equal(bar_rd(f, TABLE_OFF, 8), 0);
	assert_int_equal(bar_rd(f, TABLE_OFF + 12, 4), MSIX_VECTOR_MASKED);
}

static void test_layouts_refused(void **state)
{
	struct pci_cfg cfg;
	struct msix m;

	(void)state;
	pci_cfg_init(&cfg, &id);
	assert_int_equal(pci_cfg_set_bar(&cfg, 0, PCI_BAR_MEM32, false, 0x1000, 0xe0000000), 0);
	assert_int_equal(pci_cfg_set_bar(&cfg, 1, PCI_BAR_IO, false, 0x100, 0xc000), 0);
	assert_int_equal(msix_init(&m, &cfg, 0, 0, 0, 0x800, &ops, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &cfg, MSIX_MAX_VECTORS + 1, 0, 0, 0x800, &ops, NULL),
			 -EINVAL);
	assert_int_equal(msix_init(&m, &cfg, 4, 1, 0, 0x80, &ops, NULL), -EINVAL);     /* I/O BAR */
	assert_int_equal(msix_init(&m, &cfg, 4, 2, 0, 0x80, &ops, NULL), -EINVAL);     /* no BAR */
	assert_int_equal(msix_init(&m, &cfg, 4, 0, 0, 0x20, &ops, NULL), -EINVAL);     /* overlap */
	assert_int_equal(msix_init(&m, &cfg, 4, 0, 4, 0x800, &ops, NULL), -EINVAL);    /* align */
	assert_int_equal(msix_init(&m, &cfg, 256, 0, 0, 0x1000, &ops, NULL), -EINVAL); /* size */
	assert_int_equal(msix_init(&m, &cfg, 4, 0, 0, 0xffc, &ops, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &cfg, 4, 0, 0, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(cfg.data[PCI_CAP_PTR], 0); /* nothing was added */
}

/* A passthrough function's own capability: msix_init_at takes it where it is, rewrites Table
 * and PBA from the layout, opens Enable and Function Mask, and refuses an offset outside the
 * capability area. */
static void test_init_at_existing_capability(void **state)
{
	struct pci_cfg cfg;
	struct msix m;
	uint16_t cap;

	(void)state;
	pci_cfg_init(&cfg, &id);
	assert_int_equal(pci_cfg_set_bar(&cfg, 2, PCI_BAR_MEM32, false, 0x4000, 0xe0000000), 0);
	assert_int_equal(pci_cfg_add_cap(&cfg, PCI_CAP_ID_MSIX, MSIX_CAP_LEN, &cap), 0);
	assert_int_equal(msix_init_at(&m, &cfg, 0x30, 4, 2, 0x2000, 0x3000, &ops, NULL), -EINVAL);
	assert_int_equal(msix_init_at(&m, &cfg, cap, 4, 2, 0x2000, 0x3000, &ops, NULL), 0);
	assert_int_equal(m.cap, cap);
	assert_int_equal(pci_cfg_get32(&cfg, cap + 4), 0x2000 | 2);
	assert_int_equal(pci_cfg_get32(&cfg, cap + 8), 0x3000 | 2);
	assert_int_equal(pci_cfg_get16(&cfg, cap + 2), 3); /* table size - 1, off */
	assert_true(pci_cfg_write(&cfg, cap + 2, 2, MSIX_CTRL_ENABLE | 0x7ff) >= 0);
	assert_int_equal(pci_cfg_get16(&cfg, cap + 2), MSIX_CTRL_ENABLE | 3);
	msix_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_capability, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disabled_signal_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_program_and_fire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_masked_vector_pends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_function_mask, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_accesses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	    cmocka_unit_test(test_layouts_refused),
	    cmocka_unit_test(test_init_at_existing_capability),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
