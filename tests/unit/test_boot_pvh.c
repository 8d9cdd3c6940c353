/* test_boot_pvh.c — unit tests for the ELF parser and the PVH loader, valid and malformed images.
 */
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

#define PVH_ENTRY  0x100010u
#define SI_MEMMAP  (LAYOUT_PVH_INFO_GPA + 56)
#define SI_MODLIST (SI_MEMMAP + 3 * 24)
#define INITRD_LEN 0x2800 /* not a page multiple: placement must round down */
#define INITRD_GPA (TI_MEM_SIZE - 0x3000)

static void memmap_check(const uint8_t *e)
{
	static const uint64_t want[3][3] = {
	    {0, LAYOUT_EBDA_GPA, 1},
	    {LAYOUT_EBDA_GPA, LAYOUT_HIMEM_GPA - LAYOUT_EBDA_GPA, 2},
	    {LAYOUT_HIMEM_GPA, TI_MEM_SIZE - LAYOUT_HIMEM_GPA, 1},
	};

	for (int i = 0; i < 3; i++, e += 24) {
		assert_int_equal(ti_get64(e, 0), want[i][0]);
		assert_int_equal(ti_get64(e, 8), want[i][1]);
		assert_int_equal(ti_get32(e, 16), want[i][2]);
		assert_int_equal(ti_get32(e, 20), 0);
	}
}

static void test_pvh_ok(void **state)
{
	struct ti_ctx *c = *state;
	static uint8_t initrd[INITRD_LEN];
	const uint8_t *si, *seg;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	/* Poison the segment's bss so the test sees the loader zero it. */
	memset((void *)ti_guest(&c->m, 0x100000, 0x2000), 0xcc, 0x2000);
	c->len = ti_pvh_build(c->img, PVH_ENTRY);
	c->in = (struct boot_input){
	    .cmdline = "console=ttyS0 quiet", .initrd = initrd, .initrd_len = sizeof(initrd)};
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(c->out.mode, BOOT_CPU_PROT32);
	assert_int_equal(c->out.rip, PVH_ENTRY);
	assert_int_equal(c->out.rbx, LAYOUT_PVH_INFO_GPA);
	assert_int_equal(c->out.rsi, 0);
	assert_int_equal(c->out.rsp, 0);
	seg = ti_guest(&c->m, 0x100000, 0x2000);
	assert_memory_equal(seg, c->img + 0x1000, 0x1000);
	for (int i = 0x1000; i < 0x2000; i++)
		assert_int_equal(seg[i], 0);
	si = ti_guest(&c->m, LAYOUT_PVH_INFO_GPA, LAYOUT_PVH_INFO_SIZE);
	assert_int_equal(ti_get32(si, 0), 0x336ec578);
	assert_int_equal(ti_get32(si, 4), 1);
	assert_int_equal(ti_get32(si, 8), 0);
	assert_int_equal(ti_get32(si, 12), 1);
	assert_int_equal(ti_get64(si, 16), SI_MODLIST);
	assert_int_equal(ti_get64(si, 24), LAYOUT_CMDLINE_GPA);
	assert_int_equal(ti_get64(si, 32), 0);
	assert_int_equal(ti_get64(si, 40), SI_MEMMAP);
	assert_int_equal(ti_get32(si, 48), 3);
	memmap_check(si + (SI_MEMMAP - LAYOUT_PVH_INFO_GPA));
	si += SI_MODLIST - LAYOUT_PVH_INFO_GPA;
	assert_int_equal(ti_get64(si, 0), INITRD_GPA);
	assert_int_equal(ti_get64(si, 8), INITRD_LEN);
	assert_int_equal(ti_get64(si, 16), 0);
	assert_int_equal(ti_get64(si, 24), 0);
	assert_memory_equal(ti_guest(&c->m, INITRD_GPA, INITRD_LEN), initrd, INITRD_LEN);
	assert_string_equal((const char *)ti_guest(&c->m, LAYOUT_CMDLINE_GPA, 20),
			    "console=ttyS0 quiet");
}

static void test_pvh_no_initrd_no_cmdline(void **state)
{
	struct ti_ctx *c = *state;
	const uint8_t *si;

	c->len = ti_pvh_build(c->img, PVH_ENTRY);
	c->in.proto = BOOT_PVH;
	assert_int_equal(ti_load(c), 0);
	si = ti_guest(&c->m, LAYOUT_PVH_INFO_GPA, 64);
	assert_int_equal(ti_get32(si, 12), 0);
	assert_int_equal(ti_get64(si, 16), 0);
	assert_int_equal(ti_get64(si, 24), LAYOUT_CMDLINE_GPA);
	assert_int_equal(ti_get64(si, 32), 0); /* no RSDP */
	assert_int_equal(*ti_guest(&c->m, LAYOUT_CMDLINE_GPA, 1), 0);
}

/* The RSDP address goes to hvm_start_info.rsdp_paddr. */
static void test_pvh_rsdp(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_pvh_build(c->img, PVH_ENTRY);
	c->in.rsdp_gpa = LAYOUT_ACPI_GPA;
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(ti_get64(ti_guest(&c->m, LAYOUT_PVH_INFO_GPA, 56), 32), LAYOUT_ACPI_GPA);
}

/* --boot linux on a PVH ELF: the Linux 64-bit entry at e_entry. */
static void test_pvh_elf_forced_linux(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_pvh_build(c->img, PVH_ENTRY);
	c->in.proto = BOOT_LINUX;
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(c->out.mode, BOOT_CPU_LONG64);
	assert_int_equal(c->out.rip, 0x100000);
	assert_int_equal(c->out.rsi, LAYOUT_ZERO_PAGE_GPA);
}

/* Notes before the Xen one are skipped; an 8-byte entry value is accepted. */
static void test_pvh_note_walk(void **state)
{
	struct ti_ctx *c = *state;
	uint8_t v8[8] = {0}, gnu[5] = "abcd", notes[256];
	size_t n = 0;
	struct ti_phdr ph[] = {
	    {PT_LOAD, 0x1000, 0x1000, 0x100000, 0x1000, 0x1000},
	    {PT_NOTE, 0x2000, 0, 0, 0, 4},
	};

	ti_put32(v8, 0, 0x100020);
	n += ti_note_put(notes, n, "GNU", 3, gnu, 5);
	n += ti_note_put(notes, n, "Xen", 17, v8, 8); /* right name, other type */
	n += ti_note_put(notes, n, "Xe", 18, v8, 8);  /* right type, other name */
	n += ti_note_put(notes, n, "Xen", 18, v8, 8);
	ph[1].filesz = n;
	c->len = ti_elf_build(c->img, 0x2100, 0x100000, ph, 2);
	memcpy(c->img + 0x2000, notes, n);
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(c->out.mode, BOOT_CPU_PROT32);
	assert_int_equal(c->out.rip, 0x100020);
}

static void test_pvh_note_bad(void **state)
{
	struct ti_ctx *c = *state;
	uint8_t v[8] = {0};

	c->len = ti_pvh_build(c->img, PVH_ENTRY);
	ti_put32(c->img, 0x2004, 0x1000); /* descsz past the 20-byte PT_NOTE */
	ti_expect_err(c, "runs past the end of its PT_NOTE segment");
	ti_pvh_build(c->img, PVH_ENTRY);
	ti_put32(c->img, 0x2000, 0xffffffff); /* namesz: must not wrap */
	ti_expect_err(c, "runs past the end of its PT_NOTE segment");
	ti_pvh_build(c->img, PVH_ENTRY);
	ti_put32(c->img, 0x2004, 2); /* a 2-byte entry */
	ti_expect_err(c, "2-byte value");
	ti_pvh_build(c->img, PVH_ENTRY);
	ti_put64(v, 0, 0x100000000ULL);
	ti_put32(c->img, 0x2004, 8);
	memcpy(c->img + 0x2010, v, 8);
	ti_put64(c->img, 0x40 + 56 + 32, 24); /* PT_NOTE p_filesz */
	ti_expect_err(c, "not a 32-bit address");
}

static void test_pvh_entry_outside(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_pvh_build(c->img, 0x200000);
	ti_expect_err(c, "PVH: entry 0x200000 is not inside a loaded segment");
	ti_pvh_build(c->img, 0x101800); /* in the zero-filled tail, not the file bytes */
	ti_expect_err(c, "PVH: entry 0x101800 is not inside a loaded segment");
}

static void test_pvh_forced_without_note(void **state)
{
	struct ti_ctx *c = *state;
	const struct ti_phdr ph = {PT_LOAD, 0x1000, 0x1000, 0x100000, 0x1000, 0x1000};

	c->len = ti_elf_build(c->img, 0x2000, 0x100000, &ph, 1);
	c->in.proto = BOOT_PVH;
	ti_expect_err(c, "no XEN_ELFNOTE_PHYS32_ENTRY");
}

static void test_pvh_cmdline_too_long(void **state)
{
	struct ti_ctx *c = *state;
	static char cmdline[70001];

	memset(cmdline, 'a', 70000);
	c->len = ti_pvh_build(c->img, PVH_ENTRY);
	c->in.cmdline = cmdline;
	ti_expect_err(c, "cmdline: 70000 bytes exceeds kiln's limit 65535");
}

static void test_pvh_initrd_too_big(void **state)
{
	struct ti_ctx *c = *state;
	static const uint8_t byte;

	c->len = ti_pvh_build(c->img, PVH_ENTRY);
	c->in.initrd = &byte;
	c->in.initrd_len = TI_MEM_SIZE; /* never read: rejected before copying */
	ti_expect_err(c, "initrd: 67108864 bytes do not fit");
}

/* Build a one-PT_LOAD ELF whose header field at off is then overwritten (size bytes). */
static void elf_with(struct ti_ctx *c, size_t off, unsigned size, uint64_t v)
{
	const struct ti_phdr ph = {PT_LOAD, 0x1000, 0x1000, 0x100000, 0x1000, 0x1000};

	c->len = ti_elf_build(c->img, 0x2000, 0x100000, &ph, 1);
	if (size == 1)
		c->img[off] = (uint8_t)v;
	else if (size == 2)
		ti_put16(c->img, off, (uint16_t)v);
	else
		ti_put64(c->img, off, v);
	c->in.proto = BOOT_LINUX;
}

#define PH0 0x40 /* program header 0 */

static void test_elf_header_bad(void **state)
{
	struct ti_ctx *c = *state;

	elf_with(c, EI_CLASS, 1, ELFCLASS32);
	ti_expect_err(c, "not a 64-bit ELF");
	elf_with(c, EI_DATA, 1, ELFDATA2MSB);
	ti_expect_err(c, "not little-endian");
	elf_with(c, offsetof(Elf64_Ehdr, e_machine), 2, EM_386);
	ti_expect_err(c, "not x86_64");
	elf_with(c, offsetof(Elf64_Ehdr, e_type), 2, ET_DYN);
	ti_expect_err(c, "not an executable");
	elf_with(c, offsetof(Elf64_Ehdr, e_phentsize), 2, 32);
	ti_expect_err(c, "e_phentsize 32 is not 56");
	elf_with(c, offsetof(Elf64_Ehdr, e_phnum), 2, 0);
	ti_expect_err(c, "e_phnum 0 is not in 1..256");
	elf_with(c, offsetof(Elf64_Ehdr, e_phnum), 2, 0xffff);
	ti_expect_err(c, "e_phnum 65535");
	elf_with(c, offsetof(Elf64_Ehdr, e_phoff), 8, 0x1ff0);
	ti_expect_err(c, "program headers at 0x1ff0");
	elf_with(c, offsetof(Elf64_Ehdr, e_phoff), 8, UINT64_MAX - 8);
	ti_expect_err(c, "run past the end of the 8192-byte file");
	elf_with(c, 0, 1, 0);
	c->len = 40;
	ti_expect_err(c, "not a bzImage or ELF");
	elf_with(c, 0, 1, 0x7f);
	c->len = 40;
	ti_expect_err(c, "ELF: 40-byte file is shorter than the ELF header");
}

static void test_elf_segment_bad(void **state)
{
	struct ti_ctx *c = *state;

	elf_with(c, PH0 + offsetof(Elf64_Phdr, p_offset), 8, 0x3000);
	ti_expect_err(c, "segment 0 (offset 0x3000, 4096 bytes) runs past the end");
	elf_with(c, PH0 + offsetof(Elf64_Phdr, p_offset), 8, UINT64_MAX - 0x10);
	ti_expect_err(c, "runs past the end of the 8192-byte file");
	elf_with(c, PH0 + offsetof(Elf64_Phdr, p_filesz), 8, UINT64_MAX);
	ti_expect_err(c, "runs past the end of the 8192-byte file");
	elf_with(c, PH0 + offsetof(Elf64_Phdr, p_memsz), 8, 0x800);
	ti_expect_err(c, "p_filesz 0x1000 > p_memsz 0x800");
	elf_with(c, PH0 + offsetof(Elf64_Phdr, p_paddr), 8, UINT64_MAX - 0x800);
	ti_expect_err(c, "wraps around");
	elf_with(c, PH0 + offsetof(Elf64_Phdr, p_paddr), 8, TI_MEM_SIZE - 0x800);
	ti_expect_err(c, "ELF: segment 0 [0x3fff800, 0x4000800) outside guest RAM");
	elf_with(c, PH0 + offsetof(Elf64_Phdr, p_paddr), 8, 0x10000000);
	ti_expect_err(c, "ELF: segment 0 [0x10000000, 0x10001000) outside guest RAM");
	elf_with(c, PH0 + offsetof(Elf64_Phdr, p_paddr), 8, 0x80000);
	ti_expect_err(c, "starts below 1 MiB");
	elf_with(c, PH0 + offsetof(Elf64_Phdr, p_type), 8, PT_NOTE);
	ti_expect_err(c, "no loadable (PT_LOAD) segment");
	elf_with(c, 0, 1, 0x7f);
	c->len = 0x1800; /* cuts segment 0's file bytes */
	ti_expect_err(c, "segment 0 (offset 0x1000, 4096 bytes) runs past the end of the 6144");
}

static void test_elf_segments_overlap(void **state)
{
	struct ti_ctx *c = *state;
	const struct ti_phdr ph[] = {
	    {PT_LOAD, 0x1000, 0x1000, 0x100000, 0x2000, 0x1000},
	    {PT_LOAD, 0x2000, 0x100, 0x101000, 0x1000, 0x1000},
	};

	c->len = ti_elf_build(c->img, 0x3000, 0x100000, ph, 2);
	ti_expect_err(c, "ELF: segment 1 [0x101000, 0x102000) overlaps segment 0");
}

static void test_elf_segment_count(void **state)
{
	struct ti_ctx *c = *state;
	struct ti_phdr ph[33];

	for (int i = 0; i < 33; i++)
		ph[i] = (struct ti_phdr){PT_LOAD, 0x1000, 0x10, 0x100000 + i * 0x1000, 0x10, 0};
	c->len = ti_elf_build(c->img, 0x2000, 0x100000, ph, 32);
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(c->out.rip, 0x100000);
	c->len = ti_elf_build(c->img, 0x2000, 0x100000, ph, 33);
	ti_expect_err(c, "more than 32 PT_LOAD segments");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pvh_ok, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_no_initrd_no_cmdline, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_rsdp, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_elf_forced_linux, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_note_walk, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_note_bad, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_entry_outside, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_forced_without_note, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_cmdline_too_long, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_initrd_too_big, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_elf_header_bad, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_elf_segment_bad, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_elf_segments_overlap, ti_setup, ti_teardown),
	    cmocka_unit_test_setup_teardown(test_elf_segment_count, ti_setup, ti_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
