/* test_boot_linux.c — unit tests for the Linux boot protocol loaders: bzImage and ELF vmlinux. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "boot_images.h"

#define BP_LEN 0x1000

static uint8_t initrd_buf[16 << 20];

static void initrd_fill(size_t len)
{
	for (size_t i = 0; i < len; i++)
		initrd_buf[i] = (uint8_t)(i * 13 + 1);
}

static const uint8_t *zero_page(struct ti_ctx *c)
{
	return ti_guest(&c->m, LAYOUT_ZERO_PAGE_GPA, BP_LEN);
}

/* The e820 table of a 64 MiB guest, in boot_params. */
static void bp_e820_check(const uint8_t *bp)
{
	static const uint64_t want[3][3] = {
	    {0, LAYOUT_EBDA_GPA, 1},
	    {LAYOUT_EBDA_GPA, LAYOUT_HIMEM_GPA - LAYOUT_EBDA_GPA, 2},
	    {LAYOUT_HIMEM_GPA, TI_MEM_SIZE - LAYOUT_HIMEM_GPA, 1},
	};

	assert_int_equal(bp[0x1e8], 3);
	for (int i = 0; i < 3; i++) {
		const uint8_t *e = bp + 0x2d0 + 20 * i;

		assert_int_equal(ti_get64(e, 0), want[i][0]);
		assert_int_equal(ti_get64(e, 8), want[i][1]);
		assert_int_equal(ti_get32(e, 16), want[i][2]);
	}
	for (int i = 0x2d0 + 60; i < 0x2d0 + 128 * 20; i++)
		assert_int_equal(bp[i], 0);
}

/* Fields the loader fills in, whatever the header: loader type, flags, cmdline, initrd. */
static void bp_loader_fields_check(const uint8_t *bp, uint64_t initrd_gpa, uint32_t initrd_len)
{
	assert_int_equal(bp[0x210], 0xff);
	assert_int_equal(bp[0x211] & 0x81, 0x81); /* LOADED_HIGH | CAN_USE_HEAP */
	assert_int_equal(ti_get16(bp, 0x224), 0xde00);
	assert_int_equal(ti_get32(bp, 0x228), LAYOUT_CMDLINE_GPA);
	assert_int_equal(ti_get32(bp, 0x218), initrd_gpa);
	assert_int_equal(ti_get32(bp, 0x21c), initrd_len);
	assert_int_equal(ti_get32(bp, 0xc0), 0);
	assert_int_equal(ti_get32(bp, 0xc4), 0);
	assert_int_equal(ti_get32(bp, 0xc8), 0);
	bp_e820_check(bp);
}

static void entry64_check(const struct boot_entry *e, uint64_t rip)
{
	assert_int_equal(e->mode, BOOT_CPU_LONG64);
	assert_int_equal(e->rip, rip);
	assert_int_equal(e->rsi, LAYOUT_ZERO_PAGE_GPA);
	assert_int_equal(e->rsp, LAYOUT_BOOT_STACK_GPA);
	assert_int_equal(e->rbx, 0);
}

static void test_bzimage_ok(void **state)
{
	struct ti_ctx *c = *state;
	const uint64_t initrd_gpa = TI_MEM_SIZE - 0x6000;
	const uint8_t *bp;

	initrd_fill(0x5123);
	c->len = ti_bzimage_build(c->img);
	c->in = (struct boot_input){
	    .cmdline = "console=ttyS0 root=/dev/vda", .initrd = initrd_buf, .initrd_len = 0x5123};
	assert_int_equal(ti_load(c), 0);
	entry64_check(&c->out, TI_BZ_PREF + 0x200);
	assert_memory_equal(ti_guest(&c->m, TI_BZ_PREF, TI_BZ_LEN - TI_BZ_SETUP),
			    c->img + TI_BZ_SETUP, TI_BZ_LEN - TI_BZ_SETUP);
	bp = zero_page(c);
	bp_loader_fields_check(bp, initrd_gpa, 0x5123);
	/* The rest of the setup header [0x1f1, 0x26c) is the image's, the tail stays zero. */
	for (int off = 0x1f1; off < 0x26c; off++) {
		if (off == 0x210 || off == 0x211 || (off >= 0x218 && off < 0x220) ||
		    (off >= 0x224 && off < 0x22c))
			continue;
		assert_int_equal(bp[off], c->img[off]);
	}
	for (int off = 0; off < 0x1e8; off++)
		assert_int_equal(bp[off], 0);
	for (int off = 0x26c; off < 0x2d0; off++)
		assert_int_equal(bp[off], 0);
	assert_memory_equal(ti_guest(&c->m, initrd_gpa, 0x5123), initrd_buf, 0x5123);
	assert_string_equal((const char *)ti_guest(&c->m, LAYOUT_CMDLINE_GPA, 28),
			    "console=ttyS0 root=/dev/vda");
}

/* boot_params.acpi_rsdp_addr (0x070) is set for protocol 2.14 and later only. */
static void test_bzimage_rsdp(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_bzimage_build(c->img); /* protocol 2.15 */
	c->in.rsdp_gpa = LAYOUT_ACPI_GPA;
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(ti_get64(zero_page(c), 0x070), LAYOUT_ACPI_GPA);
	ti_put16(c->img, 0x206, 0x020e);
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(ti_get64(zero_page(c), 0x070), LAYOUT_ACPI_GPA);
	ti_put16(c->img, 0x206, 0x020d);
	memset((void *)ti_guest(&c->m, LAYOUT_ZERO_PAGE_GPA, 0x1000), 0xcc, 0x1000);
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(ti_get64(zero_page(c), 0x070), 0);
}

/* No usable pref_address: load at LAYOUT_KERNEL_GPA. */
static void test_bzimage_no_pref(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_bzimage_build(c->img);
	ti_put64(c->img, 0x258, 0);
	assert_int_equal(ti_load(c), 0);
	entry64_check(&c->out, LAYOUT_KERNEL_GPA + 0x200);
	assert_int_equal(*ti_guest(&c->m, LAYOUT_KERNEL_GPA, 1), c->img[TI_BZ_SETUP]);
	assert_int_equal(ti_get32(zero_page(c), 0x21c), 0); /* no initrd */
	assert_int_equal(*ti_guest(&c->m, LAYOUT_CMDLINE_GPA, 1), 0);
}

/* setup_sects 0 means 4. */
static void test_bzimage_setup_sects_zero(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_bzimage_build(c->img);
	c->img[0x1f1] = 0;
	assert_int_equal(ti_load(c), 0);
	assert_memory_equal(ti_guest(&c->m, TI_BZ_PREF, 16), c->img + TI_BZ_SETUP, 16);
}

/* initrd_addr_max caps the initrd: it ends exactly at initrd_addr_max + 1. */
static void test_bzimage_initrd_addr_max(void **state)
{
	struct ti_ctx *c = *state;

	initrd_fill(0x1000);
	c->len = ti_bzimage_build(c->img);
	ti_put32(c->img, 0x22c, 0x27fffff);
	c->in = (struct boot_input){.initrd = initrd_buf, .initrd_len = 0x1000};
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(ti_get32(zero_page(c), 0x218), 0x27ff000);
	assert_memory_equal(ti_guest(&c->m, 0x27ff000, 0x1000), initrd_buf, 0x1000);
}

/* The highest spot overlaps the kernel [16 MiB, 24 MiB): the initrd goes below it. */
static void test_bzimage_initrd_below_kernel(void **state)
{
	struct ti_ctx *c = *state;

	initrd_fill(9 << 20);
	c->len = ti_bzimage_build(c->img);
	ti_put32(c->img, 0x22c, 0x1ffffff);
	c->in = (struct boot_input){.initrd = initrd_buf, .initrd_len = 9 << 20};
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(ti_get32(zero_page(c), 0x218), 7 << 20);
	assert_memory_equal(ti_guest(&c->m, 7 << 20, 9 << 20), initrd_buf, 9 << 20);
}

static void test_bzimage_initrd_no_fit(void **state)
{
	struct ti_ctx *c = *state;

	/* Never read: the placement is rejected before anything is copied. */
	c->in = (struct boot_input){.initrd = initrd_buf, .initrd_len = 16 << 20};
	c->len = ti_bzimage_build(c->img);
	ti_put32(c->img, 0x22c, 0x1ffffff);
	ti_expect_err(c, "initrd: 16777216 bytes do not fit in guest RAM [1 MiB, 0x2000000) "
			 "beside the kernel at [0x1000000, 0x1800000)");
	c->in.initrd_len = TI_MEM_SIZE + 1;
	ti_expect_err(c, "initrd: 67108865 bytes do not fit");
}

/* Kernel [16 MiB, 64 MiB): exactly [1 MiB, 16 MiB) is left for the initrd. */
static void test_bzimage_initrd_exact_fit(void **state)
{
	struct ti_ctx *c = *state;

	initrd_fill(15 << 20);
	c->len = ti_bzimage_build(c->img);
	ti_put32(c->img, 0x260, 48 << 20);
	c->in = (struct boot_input){.initrd = initrd_buf, .initrd_len = 15 << 20};
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(ti_get32(zero_page(c), 0x218), LAYOUT_HIMEM_GPA);
	assert_memory_equal(ti_guest(&c->m, LAYOUT_HIMEM_GPA, 15 << 20), initrd_buf, 15 << 20);
	c->in.initrd_len = (15 << 20) + 1;
	ti_expect_err(c, "initrd: 15728641 bytes do not fit");
}

static void test_bzimage_header_bad(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_bzimage_build(c->img);
	c->img[0x1f1] = 200;
	c->len = 4096;
	ti_expect_err(c, "bzImage: setup_sects 200 runs past the end of the 4096-byte file");
	c->len = ti_bzimage_build(c->img);
	c->len = 0x300;
	ti_expect_err(c, "bzImage: setup_sects 4 runs past the end of the 768-byte file");
	c->len = TI_BZ_SETUP;
	ti_expect_err(c, "runs past the end of the 2560-byte file");
	c->len = TI_BZ_SETUP + 0x200;
	ti_expect_err(c, "bzImage: the 512-byte protected-mode part ends before the 64-bit entry");
	c->len = ti_bzimage_build(c->img);
	ti_put16(c->img, 0x206, 0x0206);
	ti_expect_err(c, "bzImage: boot protocol 2.06 is too old (need 2.12 or later)");
	ti_put16(c->img, 0x206, 0x020b);
	ti_expect_err(c, "boot protocol 2.11 is too old");
	c->len = ti_bzimage_build(c->img);
	ti_put16(c->img, 0x236, 0x2);
	ti_expect_err(c, "bzImage: no 64-bit entry point (XLF_KERNEL_64 not in xloadflags 0x2)");
	c->len = ti_bzimage_build(c->img);
	c->img[0x211] = 0;
	ti_expect_err(c, "not LOADED_HIGH");
	c->len = ti_bzimage_build(c->img);
	c->img[0x201] = 0x20;
	ti_expect_err(c, "bzImage: setup header ends at 0x222");
	c->len = ti_bzimage_build(c->img);
	ti_put16(c->img, 0x1fe, 0xaa56);
	ti_expect_err(c, "not a bzImage or ELF image (use --load-addr/--entry for a raw image)");
}

static void test_bzimage_no_room(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_bzimage_build(c->img);
	ti_put32(c->img, 0x260, 0x7fffffff);
	ti_expect_err(c, "bzImage: kernel at [0x1000000, 0x80ffffff) (init_size 0x7fffffff) does "
			 "not fit in guest RAM below 4 GiB");
	c->len = ti_bzimage_build(c->img);
	ti_put64(c->img, 0x258, 60 << 20);
	ti_expect_err(c, "bzImage: kernel at [0x3c00000, 0x4400000)");
	c->len = ti_bzimage_build(c->img);
	ti_put64(c->img, 0x258, UINT64_MAX - 0xfff);
	ti_expect_err(c, "does not fit in guest RAM");
}

static void test_bzimage_cmdline(void **state)
{
	struct ti_ctx *c = *state;
	static char cmdline[3001];

	memset(cmdline, 'x', 2047);
	c->len = ti_bzimage_build(c->img);
	c->in.cmdline = cmdline;
	assert_int_equal(ti_load(c), 0); /* exactly cmdline_size */
	assert_int_equal(strlen((const char *)ti_guest(&c->m, LAYOUT_CMDLINE_GPA, 2048)), 2047);
	memset(cmdline, 'x', 3000);
	ti_expect_err(c, "cmdline: 3000 bytes exceeds the kernel's cmdline_size 2047");
}

static void test_bzimage_forced_pvh(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_bzimage_build(c->img);
	c->in.proto = BOOT_PVH;
	ti_expect_err(c, "bzImage: PVH boot needs an ELF kernel");
	c->in.proto = BOOT_LINUX;
	assert_int_equal(ti_load(c), 0);
}

/* A vmlinux-like ELF: text at 16 MiB (entry), data + bss right after. */
static size_t vmlinux_build(uint8_t *img, uint64_t entry)
{
	const struct ti_phdr ph[] = {
	    {PT_LOAD, 0x1000, 0x2000, 0x1000000, 0x2000, 0x200000},
	    {PT_LOAD, 0x3000, 0x800, 0x1002000, 0x3000, 0x1000},
	    {PT_NOTE, 0x3000, 0, 0, 0, 4},
	};

	return ti_elf_build(img, 0x4000, entry, ph, 3);
}

static void test_vmlinux_ok(void **state)
{
	struct ti_ctx *c = *state;
	const uint8_t *bp, *k;

	initrd_fill(0x1000);
	memset((void *)ti_guest(&c->m, 0x1002000, 0x3000), 0xcc, 0x3000);
	c->len = vmlinux_build(c->img, 0x1000000);
	c->in = (struct boot_input){
	    .cmdline = "root=/dev/vda", .initrd = initrd_buf, .initrd_len = 0x1000};
	assert_int_equal(ti_load(c), 0);
	entry64_check(&c->out, 0x1000000);
	k = ti_guest(&c->m, 0x1000000, 0x5000);
	assert_memory_equal(k, c->img + 0x1000, 0x2000);
	assert_memory_equal(k + 0x2000, c->img + 0x3000, 0x800);
	for (int i = 0x2800; i < 0x5000; i++)
		assert_int_equal(k[i], 0);
	bp = zero_page(c);
	assert_int_equal(ti_get16(bp, 0x1fe), 0xaa55);
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(ti_get16(bp, 0x206), 0x020c);
	assert_int_equal(ti_get32(bp, 0x230), 0x1000000);
	assert_int_equal(ti_get32(bp, 0x22c), 0x7fffffff);
	assert_int_equal(ti_get32(bp, 0x238), LAYOUT_CMDLINE_MAX - 1);
	bp_loader_fields_check(bp, TI_MEM_SIZE - 0x1000, 0x1000);
	assert_memory_equal(ti_guest(&c->m, TI_MEM_SIZE - 0x1000, 0x1000), initrd_buf, 0x1000);
	assert_string_equal((const char *)ti_guest(&c->m, LAYOUT_CMDLINE_GPA, 14), "root=/dev/vda");
	assert_int_equal(ti_get64(bp, 0x070), 0); /* no RSDP given */
}

/* A boot_params built from scratch always carries the RSDP. */
static void test_vmlinux_rsdp(void **state)
{
	struct ti_ctx *c = *state;

	c->len = vmlinux_build(c->img, 0x1000000);
	c->in.rsdp_gpa = LAYOUT_ACPI_GPA;
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(ti_get64(zero_page(c), 0x070), LAYOUT_ACPI_GPA);
}

static void test_vmlinux_bad_entry(void **state)
{
	struct ti_ctx *c = *state;

	c->len = vmlinux_build(c->img, 0xffffffff81000000ULL); /* virtual, not physical */
	ti_expect_err(c, "ELF: entry 0xffffffff81000000 is not inside a loaded segment");
	c->len = vmlinux_build(c->img, 0x1003000); /* bss */
	ti_expect_err(c, "ELF: entry 0x1003000 is not inside a loaded segment");
}

/* An ELF vmlinux whose only segment sits above 4 GiB cannot take the identity-mapped entry. */
static void test_vmlinux_entry_above_4g(void **state)
{
	struct ti_ctx *c = *state;
	const struct ti_phdr ph = {PT_LOAD, 0x1000, 0x1000, GiB(4), 0x1000, 0x1000};

	assert_int_equal(guest_mem_add(&c->m, GiB(4), MiB(2), GUEST_MEM_RAM), 0);
	c->len = ti_elf_build(c->img, 0x2000, GiB(4), &ph, 1);
	ti_expect_err(c, "ELF: entry 0x100000000 is not in guest RAM below 4 GiB");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ti_setup, ti_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_bzimage_ok),
	    T(test_bzimage_rsdp),
	    T(test_bzimage_no_pref),
	    T(test_bzimage_setup_sects_zero),
	    T(test_bzimage_initrd_addr_max),
	    T(test_bzimage_initrd_below_kernel),
	    T(test_bzimage_initrd_no_fit),
	    T(test_bzimage_initrd_exact_fit),
	    T(test_bzimage_header_bad),
	    T(test_bzimage_no_room),
	    T(test_bzimage_cmdline),
	    T(test_bzimage_forced_pvh),
	    T(test_vmlinux_ok),
	    T(test_vmlinux_rsdp),
	    T(test_vmlinux_bad_entry),
	    T(test_vmlinux_entry_above_4g),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
