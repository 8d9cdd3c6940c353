/* elf_deps.h — what an x86-64 ELF executable or shared object needs at run time: its program
 * interpreter (PT_INTERP) and the dynamic section's DT_NEEDED, DT_RPATH and DT_RUNPATH. */
#ifndef KILN_SANDBOX_ELF_DEPS_H
#define KILN_SANDBOX_ELF_DEPS_H

/* The machine kiln runs guests of: the sandbox packs programs built for it. */
#if defined(__aarch64__)
#define SANDBOX_ELF_MACHINE 183 /* EM_AARCH64 */
#define SANDBOX_ELF_ARCH    "aarch64"
#else
#define SANDBOX_ELF_MACHINE 62 /* EM_X86_64 */
#define SANDBOX_ELF_ARCH    "x86-64"
#endif

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define ELF_DEPS_MAX_NEEDED 256	 /* DT_NEEDED entries of one object */
#define ELF_DEPS_MAX_PHNUM  4096 /* program headers of one object */
#define ELF_DEPS_STR_MAX    4096 /* bytes of an interpreter path or a dynamic string, NUL incl. */

/* Every string points into the parsed buffer and is NUL-terminated inside it. */
struct elf_deps {
	uint16_t type;	     /* ET_EXEC or ET_DYN */
	const char *interp;  /* PT_INTERP, or NULL */
	const char *rpath;   /* DT_RPATH (colon-separated), or NULL */
	const char *runpath; /* DT_RUNPATH (colon-separated), or NULL */
	unsigned nr_needed;  /* DT_NEEDED entries, in order */
	const char *needed[ELF_DEPS_MAX_NEEDED];
	unsigned nr_segments; /* PT_LOAD entries */
};

/*
 * Check only the identification and file header in the first len bytes (64 suffice): the same
 * results as elf_deps_parse for them (-ENOEXEC, -ENOTSUP, -EINVAL), without looking at the
 * program headers. For choosing among candidate libraries as the dynamic loader does: it skips
 * a file for another class or machine and fails on one that is not ELF at all.
 */
int elf_deps_check_header(const void *buf, size_t len, char *err, size_t errlen) MUST_CHECK;

/*
 * Parse the first len bytes of an ELF file (buf need not be aligned). Every offset, size and
 * string is checked against the buffer: nothing is read outside it. Returns
 *   0         parsed; *out filled (a static executable has no interp and no needed)
 *   -ENOEXEC  not an ELF file (no ELF magic)
 *   -ENOTSUP  a well-formed ELF that is not for x86-64 Linux user space: another class, byte
 *             order or machine, or not an executable or shared object (e_type)
 *   -EINVAL   a malformed or truncated ELF: a header, program header, dynamic entry or string
 *             outside the file, an absurd count, a duplicate or unterminated entry
 * On error a one-line reason (without the file name) is written to err (size errlen).
 */
int elf_deps_parse(const void *buf, size_t len, struct elf_deps *out, char *err,
		   size_t errlen) MUST_CHECK;

#endif
