/* elf_build.c — synthetic x86-64 ELF files for the sandbox tests. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "elf_build.h"

void elf_put(uint8_t *buf, size_t off, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		buf[off + i] = (uint8_t)(v >> (8 * i));
}

static void phdr(uint8_t *b, size_t at, uint32_t type, uint64_t off, uint64_t size)
{
	elf_put(b, at, type, 4);
	elf_put(b, at + 4, PF_R, 4);
	elf_put(b, at + 8, off, 8);
	elf_put(b, at + 16, ELF_BUILD_VADDR + off, 8); /* vaddr */
	elf_put(b, at + 24, ELF_BUILD_VADDR + off, 8); /* paddr */
	elf_put(b, at + 32, size, 8);		       /* filesz */
	elf_put(b, at + 40, size, 8);		       /* memsz */
	elf_put(b, at + 48, 8, 8);
}

/* Append s to the string table; its offset. */
static uint64_t str(uint8_t *b, size_t *used, const char *s)
{
	uint64_t off = *used;

	memcpy(b + ELF_BUILD_STRTAB + *used, s, strlen(s) + 1);
	*used += strlen(s) + 1;
	return off;
}

static void dyn(uint8_t *b, unsigned *n, uint64_t tag, uint64_t val)
{
	elf_put(b, ELF_BUILD_DYNAMIC + *n * 16, tag, 8);
	elf_put(b, ELF_BUILD_DYNAMIC + *n * 16 + 8, val, 8);
	(*n)++;
}

static void dynamic(const struct elf_spec *s, uint8_t *b)
{
	size_t used = 1; /* offset 0 is the empty string */
	unsigned n = 0;

	for (unsigned i = 0; i < 8 && s->needed[i]; i++)
		dyn(b, &n, DT_NEEDED, str(b, &used, s->needed[i]));
	if (s->rpath)
		dyn(b, &n, DT_RPATH, str(b, &used, s->rpath));
	if (s->runpath)
		dyn(b, &n, DT_RUNPATH, str(b, &used, s->runpath));
	dyn(b, &n, DT_STRTAB, ELF_BUILD_VADDR + ELF_BUILD_STRTAB);
	dyn(b, &n, DT_STRSZ, used);
	dyn(b, &n, DT_NULL, 0);
	phdr(b, ELF_BUILD_PHDR_DYNAMIC, PT_DYNAMIC, ELF_BUILD_DYNAMIC, (uint64_t)n * 16);
}

void elf_build(const struct elf_spec *s, uint8_t *b)
{
	memset(b, 0, ELF_BUILD_LEN);
	memcpy(b, ELFMAG, SELFMAG);
	b[EI_CLASS] = s->elf_class ? s->elf_class : ELFCLASS64;
	b[EI_DATA] = ELFDATA2LSB;
	b[EI_VERSION] = EV_CURRENT;
	elf_put(b, 16, s->type ? s->type : ET_DYN, 2);
	elf_put(b, 18, s->machine ? s->machine : EM_X86_64, 2);
	elf_put(b, 20, EV_CURRENT, 4);
	elf_put(b, 32, 64, 8); /* e_phoff */
	elf_put(b, 52, 64, 2); /* e_ehsize */
	elf_put(b, 54, sizeof(Elf64_Phdr), 2);
	elf_put(b, 56, 3, 2); /* e_phnum */
	phdr(b, ELF_BUILD_PHDR_LOAD, PT_LOAD, 0, ELF_BUILD_LEN);
	if (s->interp) {
		strcpy((char *)b + ELF_BUILD_INTERP, s->interp);
		phdr(b, ELF_BUILD_PHDR_INTERP, PT_INTERP, ELF_BUILD_INTERP, strlen(s->interp) + 1);
	}
	if (s->dynamic)
		dynamic(s, b);
}

int elf_build_file(const struct elf_spec *s, const char *path)
{
	uint8_t b[ELF_BUILD_LEN];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ssize_t n;

	if (fd < 0)
		return -errno;
	elf_build(s, b);
	n = write(fd, b, sizeof(b));
	close(fd);
	return n == (ssize_t)sizeof(b) ? 0 : -EIO;
}
