/* elf.h — ELF64 executable parsing for the loaders: program headers, PT_LOAD segments, notes. */
#ifndef KILN_ARCH_X86_ELF_H
#define KILN_ARCH_X86_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "util/compiler.h"

#define ELF_MAX_PHNUM 256 /* program headers accepted */
#define ELF_MAX_LOAD  32  /* non-empty PT_LOAD segments accepted */

struct elf_segment {
	unsigned index;		 /* program header index, for messages */
	uint64_t offset, filesz; /* bytes taken from the file */
	uint64_t paddr, memsz;	 /* guest-physical destination; memsz >= filesz, memsz > 0 */
};

struct elf_image {
	const uint8_t *data;
	size_t len;
	uint64_t entry; /* e_entry */
	uint64_t phoff;
	unsigned phnum;
	unsigned nr_load;
	struct elf_segment load[ELF_MAX_LOAD]; /* non-empty PT_LOADs, in header order */
};

/* True if data starts with the ELF magic (whatever follows). */
bool elf_is_elf(const uint8_t *data, size_t len);

/*
 * Parse an x86_64 ELF64 executable held in data[0..len). Checks: 64-bit little-endian x86_64
 * ET_EXEC; e_phentsize is sizeof(Elf64_Phdr); 1 <= e_phnum <= ELF_MAX_PHNUM; the program header
 * table and every segment's file bytes lie inside the file (with overflow checks); p_filesz <=
 * p_memsz; p_paddr + p_memsz does not wrap; 1 to ELF_MAX_LOAD non-empty PT_LOADs. Guest memory
 * is not consulted (see elf_segments_check). img keeps pointers into data.
 * Returns 0 or -EINVAL with a one-line message in err.
 */
int elf_parse(struct elf_image *img, const uint8_t *data, size_t len, char *err,
	      size_t errlen) MUST_CHECK;

/*
 * Find the first note with the given name and type in the PT_NOTE segments of a parsed image.
 * On success *desc points into the file and *desc_len is its length. Returns 0, -ENOENT if there
 * is no such note, or -EINVAL (message in err) if a note runs past the end of its segment.
 */
int elf_note_find(const struct elf_image *img, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *desc_len, char *err, size_t errlen) MUST_CHECK;

/*
 * Check the PT_LOAD segments against guest memory: each lies inside one guest RAM region, at or
 * above LAYOUT_HIMEM_GPA, and no two overlap. Returns 0 or -EINVAL with a message in err.
 */
int elf_segments_check(const struct elf_image *img, const struct guest_mem *m, char *err,
		       size_t errlen) MUST_CHECK;

/* Copy the segments (checked by elf_segments_check) into guest memory, zeroing p_memsz beyond
 * p_filesz. Returns 0 or -EFAULT. */
int elf_segments_load(const struct elf_image *img, struct guest_mem *m) MUST_CHECK;

/* True if gpa lies inside the file-backed part [p_paddr, p_paddr + p_filesz) of a PT_LOAD. */
bool elf_addr_loaded(const struct elf_image *img, uint64_t gpa);

/* The span [*start, *end) from the lowest segment start to the highest segment end. */
void elf_extent(const struct elf_image *img, uint64_t *start, uint64_t *end);

#endif
