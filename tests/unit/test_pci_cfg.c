/* test_pci_cfg.c — a PCI function's configuration space as a guest drives it: identification
 * that no write changes, the command and status registers' writable and write-1-to-clear bits,
 * BAR sizing and moving for I/O, 32-bit and 64-bit BARs (as Linux's __pci_read_base does it),
 * when a BAR decodes, the capability list a guest walks, and accesses that are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pci/pci_cfg.h"

static const struct pci_id test_id = {
    .vendor = 0x1af4,
    .device = 0x1041,
    .subsys_vendor = 0x1af4,
    .subsys = 0x0001,
    .revision = 1,
    .class_code = 0x020000,
    .irq_pin = 1,
};

static uint32_t rd(const struct pci_cfg *c, uint32_t off, unsigned size)
{
	uint32_t v;

	assert_int_equal(pci_cfg_read(c, off, size, &v), 0);
	return v;
}

static void test_identification_is_read_only(void **state)
{
	struct pci_cfg c;

	(void)state;
	pci_cfg_init(&c, &test_id);
	assert_int_equal(rd(&c, PCI_VENDOR_ID, 4), 0x10411af4);
	assert_int_equal(rd(&c, PCI_REVISION, 4), 0x02000001); /* class 02 00 00, revision 1 */
	assert_int_equal(rd(&c, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(rd(&c, PCI_SUBSYS_VENDOR, 4), 0x00011af4);
	assert_int_equal(rd(&c, PCI_INTERRUPT_PIN, 1), 1);
	for (uint32_t off = 0; off < 0x40; off += 4)
		if (off != PCI_COMMAND && off != PCI_CACHE_LINE && off != PCI_INTERRUPT_LINE)
			assert_true(pci_cfg_write(&c, off, 4, 0xffffffff) >= 0);
	assert_int_equal(rd(&c, PCI_VENDOR_ID, 4), 0x10411af4);
	assert_int_equal(rd(&c, PCI_REVISION, 4), 0x02000001);
	assert_int_equal(rd(&c, PCI_ROM_ADDRESS, 4), 0); /* no expansion ROM: sizes to 0 */
	assert_int_equal(rd(&c, PCI_CAP_PTR, 1), 0);
	/* the interrupt line is the guest's scratch byte; the pin is not */
	assert_true(pci_cfg_write(&c, PCI_INTERRUPT_LINE, 2, 0x040b) >= 0);
	assert_int_equal(rd(&c, PCI_INTERRUPT_LINE, 2), 0x010b);
}

static void test_command_and_status(void **state)
{
	struct pci_cfg c;

	(void)state;
	pci_cfg_init(&c, &test_id);
	assert_int_equal(pci_cfg_write(&c, PCI_COMMAND, 2, 0xffff), PCI_CFG_CHANGED_COMMAND);
	assert_int_equal(rd(&c, PCI_COMMAND, 2), 0x0547);
	assert_int_equal(pci_cfg_write(&c, PCI_COMMAND, 2, 0x0547), 0); /* nothing changed */
	/* the device reports an error; a guest's 1 clears it, its 0 leaves it */
	pci_cfg_set16(&c, PCI_STATUS, 0x2000 | PCI_STATUS_INTX);
	assert_true(pci_cfg_write(&c, PCI_STATUS, 2, 0x0000) >= 0);
	assert_int_equal(rd(&c, PCI_STATUS, 2), 0x2000 | PCI_STATUS_INTX);
	assert_true(pci_cfg_write(&c, PCI_STATUS, 2, 0xffff) >= 0);
	assert_int_equal(rd(&c, PCI_STATUS, 2), PCI_STATUS_INTX); /* INTx status is read-only */
}

/* Linux's sizing: write all-ones, read the mask back, write the address back. */
static uint32_t size_dword(struct pci_cfg *c, uint32_t reg)
{
	uint32_t orig = rd(c, reg, 4), mask;

	assert_true(pci_cfg_write(c, reg, 4, 0xffffffff) >= 0);
	mask = rd(c, reg, 4);
	assert_true(pci_cfg_write(c, reg, 4, orig) >= 0);
	assert_int_equal(rd(c, reg, 4), orig);
	return mask;
}

static void test_bar_sizing(void **state)
{
	struct pci_cfg c;

	(void)state;
	pci_cfg_init(&c, &test_id);
	assert_int_equal(pci_cfg_set_bar(&c, 0, PCI_BAR_MEM32, false, 0x1000, 0xe0001000), 0);
	assert_int_equal(pci_cfg_set_bar(&c, 1, PCI_BAR_IO, false, 32, 0xc040), 0);
	assert_int_equal(pci_cfg_set_bar(&c, 2, PCI_BAR_MEM64, true, 0x4000, 0x100004000ULL), 0);
	assert_int_equal(rd(&c, PCI_BAR0, 4), 0xe0001000);
	assert_int_equal(rd(&c, PCI_BAR0 + 4, 4), 0xc041);
	assert_int_equal(rd(&c, PCI_BAR0 + 8, 4), 0x0000400c);
	assert_int_equal(rd(&c, PCI_BAR0 + 12, 4), 1);
	assert_int_equal(size_dword(&c, PCI_BAR0), 0xfffff000);
	assert_int_equal(size_dword(&c, PCI_BAR0 + 4), 0x0000ffe1);
	assert_int_equal(size_dword(&c, PCI_BAR0 + 8), 0xffffc00c);
	assert_int_equal(size_dword(&c, PCI_BAR0 + 12), 0xffffffff);
	assert_int_equal(size_dword(&c, PCI_BAR0 + 16), 0); /* unused slots size to 0 */
	assert_int_equal(size_dword(&c, PCI_BAR0 + 20), 0);
	assert_int_equal(pci_cfg_bar_addr(&c, 0), 0xe0001000);
	assert_int_equal(pci_cfg_bar_addr(&c, 1), 0xc040);
	assert_int_equal(pci_cfg_bar_addr(&c, 2), 0x100004000ULL);
	assert_int_equal(pci_cfg_bar_addr(&c, 3), 0);
}

static void test_bar_moves_and_decodes(void **state)
{
	struct pci_cfg c;

	(void)state;
	pci_cfg_init(&c, &test_id);
	assert_int_equal(pci_cfg_set_bar(&c, 0, PCI_BAR_MEM32, false, 0x1000, 0xe0000000), 0);
	assert_int_equal(pci_cfg_set_bar(&c, 1, PCI_BAR_IO, false, 16, 0xc000), 0);
	assert_int_equal(pci_cfg_set_bar(&c, 2, PCI_BAR_MEM64, false, 0x2000, 0xe0002000), 0);
	assert_false(pci_cfg_bar_active(&c, 0)); /* decoding is off at power-on */
	assert_int_equal(pci_cfg_write(&c, PCI_COMMAND, 2, PCI_CMD_MEMORY),
			 PCI_CFG_CHANGED_COMMAND);
	assert_true(pci_cfg_bar_active(&c, 0));
	assert_false(pci_cfg_bar_active(&c, 1)); /* I/O decoding still off */
	assert_true(pci_cfg_bar_active(&c, 2));
	/* a move: the owner hears of it, low bits below the size are dropped */
	assert_int_equal(pci_cfg_write(&c, PCI_BAR0, 4, 0xd0000fff), PCI_CFG_CHANGED_BAR(0));
	assert_int_equal(pci_cfg_bar_addr(&c, 0), 0xd0000000);
	/* the upper half of a 64-bit BAR belongs to it */
	assert_int_equal(pci_cfg_write(&c, PCI_BAR0 + 12, 4, 0x2), PCI_CFG_CHANGED_BAR(2));
	assert_int_equal(pci_cfg_bar_addr(&c, 2), 0x2e0002000ULL);
	/* sizing with decoding on: not an address to decode at */
	assert_true(pci_cfg_write(&c, PCI_BAR0, 4, 0xffffffff) >= 0);
	assert_false(pci_cfg_bar_active(&c, 0));
	assert_true(pci_cfg_write(&c, PCI_BAR0, 4, 0) >= 0);
	assert_false(pci_cfg_bar_active(&c, 0)); /* address 0: unassigned */
	assert_true(pci_cfg_write(&c, PCI_COMMAND, 2, PCI_CMD_IO) >= 0);
	assert_true(pci_cfg_bar_active(&c, 1));
	assert_false(pci_cfg_bar_active(&c, 2));
}

static void test_bar_declarations_refused(void **state)
{
	struct pci_cfg c;

	(void)state;
	pci_cfg_init(&c, &test_id);
	assert_int_equal(pci_cfg_set_bar(&c, 0, PCI_BAR_MEM32, false, 0x1800, 0), -EINVAL);
	assert_int_equal(pci_cfg_set_bar(&c, 0, PCI_BAR_MEM32, false, 0x1000, 0x800), -EINVAL);
	assert_int_equal(pci_cfg_set_bar(&c, 0, PCI_BAR_MEM32, false, 8, 0), -EINVAL);
	assert_int_equal(
	    pci_cfg_set_bar(&c, 0, PCI_BAR_MEM32, false, 0x1000, 0xfffff000ULL + 0x1000), -EINVAL);
	assert_int_equal(pci_cfg_set_bar(&c, 0, PCI_BAR_IO, false, 512, 0), -EINVAL);
	assert_int_equal(pci_cfg_set_bar(&c, 0, PCI_BAR_IO, true, 16, 0), -EINVAL);
	assert_int_equal(pci_cfg_set_bar(&c, 0, PCI_BAR_NONE, false, 16, 0), -EINVAL);
	assert_int_equal(pci_cfg_set_bar(&c, 5, PCI_BAR_MEM64, false, 16, 0), -EINVAL);
	assert_int_equal(pci_cfg_set_bar(&c, 6, PCI_BAR_MEM32, false, 16, 0), -EINVAL);
	assert_int_equal(pci_cfg_set_bar(&c, 3, PCI_BAR_MEM64, false, 16, 0), 0);
	assert_int_equal(pci_cfg_set_bar(&c, 4, PCI_BAR_MEM32, false, 16, 0), -EINVAL); /* upper */
	assert_int_equal(pci_cfg_set_bar(&c, 3, PCI_BAR_MEM32, false, 16, 0), -EINVAL); /* taken */
	assert_int_equal(pci_cfg_set_bar(&c, 2, PCI_BAR_MEM64, false, 16, 0), -EINVAL);
}

/* Walk the list as a guest does, pointers masked to dwords; the ids in order. */
static unsigned walk(const struct pci_cfg *c, uint8_t *ids, unsigned max)
{
	unsigned n = 0;
	uint32_t at = rd(c, PCI_CAP_PTR, 1) & ~3u;

	while (at && n < max) {
		assert_true(at >= PCI_CAP_START && at < PCI_CFG_LEGACY_END);
		ids[n++] = (uint8_t)rd(c, at, 1);
		at = rd(c, at + 1, 1) & ~3u;
	}
	return n;
}

static void test_capability_list(void **state)
{
	struct pci_cfg c;
	uint8_t ids[64];
	uint16_t off[3], extra;
	unsigned n;

	(void)state;
	pci_cfg_init(&c, &test_id);
	assert_int_equal(rd(&c, PCI_STATUS, 2) & PCI_STATUS_CAPS, 0);
	assert_int_equal(pci_cfg_add_cap(&c, PCI_CAP_ID_VENDOR, 16, &off[0]), 0);
	assert_int_equal(pci_cfg_add_cap(&c, PCI_CAP_ID_MSIX, 12, &off[1]), 0);
	assert_int_equal(pci_cfg_add_cap(&c, PCI_CAP_ID_VENDOR, 5, &off[2]), 0);
	assert_int_equal(off[0], 0x40);
	assert_int_equal(off[1], 0x50);
	assert_int_equal(off[2], 0x5c);
	assert_int_equal(rd(&c, PCI_STATUS, 2) & PCI_STATUS_CAPS, PCI_STATUS_CAPS);
	n = walk(&c, ids, 64);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], PCI_CAP_ID_VENDOR);
	assert_int_equal(ids[1], PCI_CAP_ID_MSIX);
	/* a guest cannot relink the list or clear the status bit */
	assert_true(pci_cfg_write(&c, off[0], 4, 0) >= 0);
	assert_true(pci_cfg_write(&c, PCI_CAP_PTR, 1, 0x80) >= 0);
	assert_true(pci_cfg_write(&c, PCI_STATUS, 2, 0xffff) >= 0);
	assert_int_equal(walk(&c, ids, 64), 3);
	assert_int_equal(rd(&c, PCI_STATUS, 2) & PCI_STATUS_CAPS, PCI_STATUS_CAPS);
	/* the next one starts dword-aligned after the 5-byte one; the legacy 256 bytes fill up */
	assert_int_equal(pci_cfg_add_cap(&c, PCI_CAP_ID_VENDOR, 0x90, &extra), 0);
	assert_int_equal(extra, 0x64);
	assert_int_equal(pci_cfg_add_cap(&c, PCI_CAP_ID_VENDOR, 16, &extra), -ENOSPC);
	assert_int_equal(pci_cfg_add_cap(&c, PCI_CAP_ID_VENDOR, 1, &extra), -EINVAL);
	assert_int_equal(walk(&c, ids, 64), 4);
}

static void test_bad_accesses(void **state)
{
	struct pci_cfg c;
	uint32_t v;

	(void)state;
	pci_cfg_init(&c, &test_id);
	assert_int_equal(pci_cfg_read(&c, 0, 3, &v), -EINVAL);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(pci_cfg_read(&c, 2, 4, &v), -EINVAL);
	assert_int_equal(pci_cfg_read(&c, 1, 2, &v), -EINVAL);
	assert_int_equal(pci_cfg_read(&c, PCI_CFG_SIZE, 1, &v), -EINVAL);
	assert_int_equal(pci_cfg_read(&c, UINT32_MAX - 3, 4, &v), -EINVAL);
	assert_int_equal(pci_cfg_read(&c, PCI_CFG_SIZE - 4, 4, &v), 0);
	assert_int_equal(v, 0); /* no extended capabilities */
	assert_int_equal(pci_cfg_write(&c, PCI_COMMAND - 1, 2, 0xffff), -EINVAL);
	assert_int_equal(pci_cfg_write(&c, PCI_COMMAND, 8, 0xffff), -EINVAL);
	assert_int_equal(pci_cfg_write(&c, PCI_CFG_SIZE, 4, 0xffff), -EINVAL);
	assert_int_equal(rd(&c, PCI_COMMAND, 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_identification_is_read_only),
	    cmocka_unit_test(test_command_and_status),
	    cmocka_unit_test(test_bar_sizing),
	    cmocka_unit_test(test_bar_moves_and_decodes),
	    cmocka_unit_test(test_bar_declarations_refused),
	    cmocka_unit_test(test_capability_list),
	    cmocka_unit_test(test_bad_accesses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
