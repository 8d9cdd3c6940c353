/* elf_deps.c — reads an ELF file's run-time dependencies (PT_INTERP, DT_NEEDED, DT_RPATH,
 * DT_RUNPATH) with every offset checked. Hand-written: Debian's libelf (elfutils) parses ELF
 * but adds a run-time library to a binary that needs only libc, and nothing in Debian resolves
 * dependencies from C (ldd runs the dynamic loader, which must not be run on untrusted files). */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/elf_deps.h"

#define DYN_ENT_LEN sizeof(Elf64_Dyn)

/* The buffer being parsed, its header, and where a failure is described. */
struct parse {
	const uint8_t *b;
	size_t len;
	Elf64_Ehdr eh;
	char *err;
	size_t errlen;
};

/* Offsets into the string table gathered from the dynamic section. */
struct dyn_refs {
	uint64_t strtab_addr, strsz;
	bool have_strtab, have_strsz, have_rpath, have_runpath;
	uint64_t rpath, runpath;
	uint64_t needed[ELF_DEPS_MAX_NEEDED];
	unsigned nr_needed;
};

static int fail(struct parse *p, int ret, const char *fmt, ...) PRINTF(3, 4);

static int fail(struct parse *p, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* Whether [off, off + size) lies inside the buffer (overflow-safe). */
static bool in_file(const struct parse *p, uint64_t off, uint64_t size)
{
	return off <= p->len && size <= p->len - off;
}

static int check_ident(struct parse *p)
{
	const uint8_t *id = p->b;

	if (p->len < SELFMAG || memcmp(id, ELFMAG, SELFMAG) != 0)
		return fail(p, -ENOEXEC, "not an ELF file");
	if (p->len < EI_NIDENT)
		return fail(p, -EINVAL, "truncated ELF identification (%zu bytes)", p->len);
	if (id[EI_CLASS] != ELFCLASS64)
		return fail(p, id[EI_CLASS] == ELFCLASS32 ? -ENOTSUP : -EINVAL,
			    "ELF class %u, not 64-bit", id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB)
		return fail(p, id[EI_DATA] == ELFDATA2MSB ? -ENOTSUP : -EINVAL,
			    "ELF byte order %u, not little-endian", id[EI_DATA]);
	if (id[EI_VERSION] != EV_CURRENT)
		return fail(p, -EINVAL, "ELF version %u", id[EI_VERSION]);
	if (p->len < sizeof(Elf64_Ehdr))
		return fail(p, -EINVAL, "truncated ELF header (%zu of %zu bytes)", p->len,
			    sizeof(Elf64_Ehdr));
	memcpy(&p->eh, p->b, sizeof(p->eh));
	return 0;
}

static int check_header(struct parse *p)
{
	const Elf64_Ehdr *eh = &p->eh;

	if (eh->e_machine != SANDBOX_ELF_MACHINE)
		return fail(p, -ENOTSUP, "ELF machine %u, not " SANDBOX_ELF_ARCH, eh->e_machine);
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return fail(p, -ENOTSUP, "ELF type %u, not an executable or shared object",
			    eh->e_type);
	if (eh->e_phnum == 0)
		return fail(p, -EINVAL, "no program headers");
	if (eh->e_phnum > ELF_DEPS_MAX_PHNUM)
		return fail(p, -EINVAL, "%u program headers (more than %u)", eh->e_phnum,
			    ELF_DEPS_MAX_PHNUM);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(p, -EINVAL, "program header size %u, not %zu", eh->e_phentsize,
			    sizeof(Elf64_Phdr));
	return 0;
}

int elf_deps_check_header(const void *buf, size_t len, char *err, size_t errlen)
{
	struct parse p = {.b = buf, .len = len, .err = err, .errlen = errlen};
	int ret = check_ident(&p);

	return ret ? ret : check_header(&p);
}

static Elf64_Phdr phdr(const struct parse *p, unsigned i)
{
	Elf64_Phdr ph;

	memcpy(&ph, p->b + p->eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
	return ph;
}

/* The file offset of [addr, addr + size) in the file image of a PT_LOAD segment. */
static int vaddr_to_off(const struct parse *p, uint64_t addr, uint64_t size, uint64_t *off)
{
	for (unsigned i = 0; i < p->eh.e_phnum; i++) {
		Elf64_Phdr ph = phdr(p, i);

		if (ph.p_type != PT_LOAD || addr < ph.p_vaddr || addr - ph.p_vaddr > ph.p_filesz ||
		    size > ph.p_filesz - (addr - ph.p_vaddr))
			continue;
		*off = ph.p_offset + (addr - ph.p_vaddr); /* the segment lies in the file */
		return 0;
	}
	return -EINVAL;
}

static int interp_parse(struct parse *p, const Elf64_Phdr *ph, struct elf_deps *out)
{
	const char *s = (const char *)p->b + ph->p_offset;

	if (out->interp)
		return fail(p, -EINVAL, "two PT_INTERP headers");
	if (ph->p_filesz < 2 || ph->p_filesz > ELF_DEPS_STR_MAX)
		return fail(p, -EINVAL, "PT_INTERP of %llu bytes",
			    (unsigned long long)ph->p_filesz);
	if (s[ph->p_filesz - 1] != '\0' || s[0] == '\0')
		return fail(p, -EINVAL, "PT_INTERP is empty or not NUL-terminated");
	out->interp = s;
	return 0;
}

/* Check one program header; note PT_INTERP, PT_DYNAMIC and PT_LOAD. */
static int phdr_check(struct parse *p, const Elf64_Phdr *ph, const Elf64_Phdr **dyn,
		      Elf64_Phdr *dyn_store, struct elf_deps *out)
{
	bool needs_file =
	    ph->p_type == PT_LOAD || ph->p_type == PT_INTERP || ph->p_type == PT_DYNAMIC;

	if (needs_file && !in_file(p, ph->p_offset, ph->p_filesz))
		return fail(p, -EINVAL,
			    "program header (type %#x) at offset %#llx, %llu bytes, lies outside "
			    "the file (%zu bytes)",
			    ph->p_type, (unsigned long long)ph->p_offset,
			    (unsigned long long)ph->p_filesz, p->len);
	if (ph->p_type == PT_LOAD)
		out->nr_segments++;
	if (ph->p_type == PT_INTERP)
		return interp_parse(p, ph, out);
	if (ph->p_type != PT_DYNAMIC)
		return 0;
	if (*dyn)
		return fail(p, -EINVAL, "two PT_DYNAMIC headers");
	if (ph->p_filesz % DYN_ENT_LEN || ph->p_filesz == 0)
		return fail(p, -EINVAL, "PT_DYNAMIC of %llu bytes is not a whole number of entries",
			    (unsigned long long)ph->p_filesz);
	*dyn_store = *ph;
	*dyn = dyn_store;
	return 0;
}

/* Record one string-valued tag; a repeated one is malformed. */
static int dyn_once(struct parse *p, bool *have, uint64_t *where, uint64_t val, const char *tag)
{
	if (*have)
		return fail(p, -EINVAL, "two %s entries", tag);
	*have = true;
	*where = val;
	return 0;
}

static int dyn_entry(struct parse *p, const Elf64_Dyn *d, struct dyn_refs *r)
{
	switch (d->d_tag) {
	case DT_NEEDED:
		if (r->nr_needed == ELF_DEPS_MAX_NEEDED)
			return fail(p, -EINVAL, "more than %u DT_NEEDED entries",
				    ELF_DEPS_MAX_NEEDED);
		r->needed[r->nr_needed++] = d->d_un.d_val;
		return 0;
	case DT_STRTAB:
		return dyn_once(p, &r->have_strtab, &r->strtab_addr, d->d_un.d_ptr, "DT_STRTAB");
	case DT_STRSZ:
		return dyn_once(p, &r->have_strsz, &r->strsz, d->d_un.d_val, "DT_STRSZ");
	case DT_RPATH:
		return dyn_once(p, &r->have_rpath, &r->rpath, d->d_un.d_val, "DT_RPATH");
	case DT_RUNPATH:
		return dyn_once(p, &r->have_runpath, &r->runpath, d->d_un.d_val, "DT_RUNPATH");
	default:
		return 0;
	}
}

static int dyn_scan(struct parse *p, const Elf64_Phdr *dyn, struct dyn_refs *r)
{
	uint64_t n = dyn->p_filesz / DYN_ENT_LEN;

	for (uint64_t i = 0; i < n; i++) {
		Elf64_Dyn d;
		int ret;

		memcpy(&d, p->b + dyn->p_offset + i * DYN_ENT_LEN, sizeof(d));
		if (d.d_tag == DT_NULL)
			return 0;
		ret = dyn_entry(p, &d, r);
		if (ret < 0)
			return ret;
	}
	return fail(p, -EINVAL, "the dynamic section has no DT_NULL terminator");
}

/* The string at offset off of the string table (file offset tab, size sz). */
static int dyn_str(struct parse *p, uint64_t tab, uint64_t sz, uint64_t off, const char *tag,
		   const char **out)
{
	const char *s, *nul;

	if (off >= sz)
		return fail(p, -EINVAL, "%s string at %#llx lies outside DT_STRSZ (%llu bytes)",
			    tag, (unsigned long long)off, (unsigned long long)sz);
	s = (const char *)p->b + tab + off; /* [tab, tab + sz) lies in the file */
	nul = memchr(s, '\0', sz - off < ELF_DEPS_STR_MAX ? sz - off : ELF_DEPS_STR_MAX);
	if (!nul)
		return fail(p, -EINVAL, "%s string at %#llx is not NUL-terminated in %u bytes", tag,
			    (unsigned long long)off, ELF_DEPS_STR_MAX);
	*out = s;
	return 0;
}

static int dyn_strings(struct parse *p, const struct dyn_refs *r, struct elf_deps *out)
{
	uint64_t tab;
	int ret = 0;

	if (!r->nr_needed && !r->have_rpath && !r->have_runpath)
		return 0;
	if (!r->have_strtab || !r->have_strsz)
		return fail(p, -EINVAL, "dynamic strings without DT_STRTAB and DT_STRSZ");
	if (vaddr_to_off(p, r->strtab_addr, r->strsz, &tab) < 0)
		return fail(p, -EINVAL,
			    "DT_STRTAB at %#llx (%llu bytes) lies outside the file's segments",
			    (unsigned long long)r->strtab_addr, (unsigned long long)r->strsz);
	for (unsigned i = 0; i < r->nr_needed && ret == 0; i++) {
		ret = dyn_str(p, tab, r->strsz, r->needed[i], "DT_NEEDED", &out->needed[i]);
		if (ret == 0 && !out->needed[i][0])
			ret = fail(p, -EINVAL, "empty DT_NEEDED name");
	}
	out->nr_needed = r->nr_needed;
	if (ret == 0 && r->have_rpath)
		ret = dyn_str(p, tab, r->strsz, r->rpath, "DT_RPATH", &out->rpath);
	if (ret == 0 && r->have_runpath)
		ret = dyn_str(p, tab, r->strsz, r->runpath, "DT_RUNPATH", &out->runpath);
	return ret;
}

int elf_deps_parse(const void *buf, size_t len, struct elf_deps *out, char *err, size_t errlen)
{
	struct parse p = {.b = buf, .len = len, .err = err, .errlen = errlen};
	struct dyn_refs refs = {0};
	const Elf64_Phdr *dyn = NULL;
	Elf64_Phdr dyn_store;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = check_ident(&p);
	if (ret == 0)
		ret = check_header(&p);
	if (ret == 0 && !in_file(&p, p.eh.e_phoff, (uint64_t)p.eh.e_phnum * sizeof(Elf64_Phdr)))
		ret = fail(&p, -EINVAL, "program headers at %#llx lie outside the file (%zu bytes)",
			   (unsigned long long)p.eh.e_phoff, p.len);
	for (unsigned i = 0; ret == 0 && i < p.eh.e_phnum; i++) {
		Elf64_Phdr ph = phdr(&p, i);

		ret = phdr_check(&p, &ph, &dyn, &dyn_store, out);
	}
	if (ret == 0 && dyn)
		ret = dyn_scan(&p, dyn, &refs);
	if (ret == 0)
		ret = dyn_strings(&p, &refs, out);
	if (ret == 0)
		out->type = p.eh.e_type;
	else
		memset(out, 0, sizeof(*out));
	return ret;
}
