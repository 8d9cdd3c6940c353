/* elf_build.h — synthetic x86-64 ELF files for the sandbox tests: a fixed layout whose fields a
 * test can then corrupt one at a time. */
#ifndef KILN_TESTS_ELF_BUILD_H
#define KILN_TESTS_ELF_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_BUILD_VADDR 0x400000ULL /* the one PT_LOAD maps the whole file here */
#define ELF_BUILD_LEN	1088	    /* bytes of every built file */

/* Where the parts are, for corrupting them. */
#define ELF_BUILD_PHDR_LOAD    64  /* phdr 0: PT_LOAD */
#define ELF_BUILD_PHDR_INTERP  120 /* phdr 1: PT_INTERP (PT_NULL without interp) */
#define ELF_BUILD_PHDR_DYNAMIC 176 /* phdr 2: PT_DYNAMIC (PT_NULL without dynamic) */
#define ELF_BUILD_INTERP       232 /* the interpreter string (64 bytes) */
#define ELF_BUILD_STRTAB       296 /* the dynamic string table (512 bytes) */
#define ELF_BUILD_DYNAMIC      808 /* the dynamic entries (up to 17) */

struct elf_spec {
	const char *interp;    /* NULL: none */
	bool dynamic;	       /* a PT_DYNAMIC with the entries below */
	const char *needed[8]; /* DT_NEEDED names, NULL-terminated */
	const char *rpath;     /* DT_RPATH or NULL */
	const char *runpath;   /* DT_RUNPATH or NULL */
	uint16_t machine;      /* 0: EM_X86_64 */
	uint16_t type;	       /* 0: ET_DYN */
	uint8_t elf_class;     /* 0: ELFCLASS64 */
};

/* Write the file into buf (ELF_BUILD_LEN bytes). */
void elf_build(const struct elf_spec *s, uint8_t *buf);

/* Write it to path (mode 0755). 0 or -errno. */
int elf_build_file(const struct elf_spec *s, const char *path);

/* Store a little-endian value of n bytes at buf + off (for corrupting fields). */
void elf_put(uint8_t *buf, size_t off, uint64_t v, unsigned n);

#endif
