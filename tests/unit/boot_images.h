/* boot_images.h — synthetic kernel images (ELF, PVH ELF, bzImage) for the loader unit tests. */
#ifndef KILN_TESTS_BOOT_IMAGES_H
#define KILN_TESTS_BOOT_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "core/guest_mem.h"

#define TI_MEM_SIZE (64ULL << 20) /* default test guest: 64 MiB at GPA 0 */

/* One program header of a synthetic ELF. */
struct ti_phdr {
	uint32_t type; /* PT_LOAD, PT_NOTE, ... */
	uint64_t offset, filesz, paddr, memsz, align;
};

/* The byte a synthetic image holds at file offset off (a pattern the tests check for). */
uint8_t ti_pattern(uint64_t off);

/*
 * Build an ELF64 x86_64 ET_EXEC of len bytes into buf (zeroed, then filled with ti_pattern from
 * offset 0x1000 on): ELF header at 0, n (at most 72) program headers at 0x40. Returns len.
 */
size_t ti_elf_build(uint8_t *buf, size_t len, uint64_t entry, const struct ti_phdr *ph, unsigned n);

/* Write one ELF note (4-byte aligned) at buf+off; returns its size in bytes. */
size_t ti_note_put(uint8_t *buf, size_t off, const char *name, uint32_t type, const void *desc,
		   uint32_t desc_len);

/*
 * A PVH ELF (0x2100 bytes): segment 0 PT_LOAD file [0x1000, 0x2000) at 0x100000, memsz
 * 0x2000; segment 1 PT_NOTE at 0x2000 with a Xen PHYS32_ENTRY note (4-byte value) for entry.
 */
size_t ti_pvh_build(uint8_t *buf, uint32_t entry);
#define TI_PVH_LEN 0x2100

/* Little-endian field access into images and guest memory copies. */
uint16_t ti_get16(const uint8_t *p, size_t off);
uint32_t ti_get32(const uint8_t *p, size_t off);
uint64_t ti_get64(const uint8_t *p, size_t off);
void ti_put16(uint8_t *p, size_t off, uint16_t v);
void ti_put32(uint8_t *p, size_t off, uint32_t v);
void ti_put64(uint8_t *p, size_t off, uint64_t v);

/*
 * A bzImage of TI_BZ_LEN bytes: setup_sects 4, protocol 2.15, LOADED_HIGH, XLF_KERNEL_64,
 * relocatable, pref_address 16 MiB, init_size 8 MiB, cmdline_size 2047, initrd_addr_max
 * 0x7fffffff, header end 0x26c; the protected-mode part [0xa00, TI_BZ_LEN) holds ti_pattern.
 */
size_t ti_bzimage_build(uint8_t *buf);
#define TI_BZ_LEN      0x4000
#define TI_BZ_SETUP    0xa00
#define TI_BZ_PREF     0x1000000ULL
#define TI_BZ_INITSIZE 0x800000ULL

/* Per-test state: 64 MiB of host-side guest memory and an image buffer of TI_IMG_CAP bytes. */
#define TI_IMG_CAP (1u << 20)
struct ti_ctx {
	struct guest_mem m;
	uint8_t *img;
	size_t len;	      /* image length passed to boot_load */
	struct boot_input in; /* kernel/kernel_len are set from img/len by ti_load */
	struct boot_entry out;
	char err[256];
};

/* cmocka setup/teardown for a struct ti_ctx in *state. */
int ti_setup(void **state);
int ti_teardown(void **state);

/* boot_load(c->img[0..c->len)) with c->in; returns its result. */
int ti_load(struct ti_ctx *c);

/* Assert that ti_load fails with -EINVAL and a one-line message containing substr. */
void ti_expect_err(struct ti_ctx *c, const char *substr);

/* A host-side guest memory (no KVM) with one RAM region [0, size). */
void ti_mem_init(struct guest_mem *m, uint64_t size);

/* Guest memory bytes at gpa (asserting they are mapped). */
const uint8_t *ti_guest(const struct guest_mem *m, uint64_t gpa, uint64_t len);

#endif
