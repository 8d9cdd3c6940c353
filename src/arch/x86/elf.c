/* elf.c — ELF64 parsing shared by the vmlinux and PVH loaders, with every field bounds-checked. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/elf.h"
#include "arch/x86/layout.h"

bool elf_is_elf(const uint8_t *data, size_t len)
{
	return len >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0;
}

/* True if [off, off+n) lies inside a len-byte file, without overflow. */
static bool in_file(uint64_t off, uint64_t n, size_t len)
{
	return off <= len && n <= len - off;
}

static int ehdr_check(const Elf64_Ehdr *eh, size_t len, char *err, size_t errlen)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return boot_err(err, errlen, "ELF: not a 64-bit ELF (class %u)",
				eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return boot_err(err, errlen, "ELF: not little-endian");
	if (eh->e_machine != EM_X86_64)
		return boot_err(err, errlen, "ELF: machine %u is not x86_64 (%u)", eh->e_machine,
				EM_X86_64);
	if (eh->e_type != ET_EXEC)
		return boot_err(err, errlen, "ELF: type %u is not an executable (ET_EXEC)",
				eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return boot_err(err, errlen, "ELF: e_phentsize %u is not %zu", eh->e_phentsize,
				sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHNUM)
		return boot_err(err, errlen, "ELF: e_phnum %u is not in 1..%u", eh->e_phnum,
				ELF_MAX_PHNUM);
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len))
		return boot_err(err, errlen,
				"ELF: program headers at %#llx (%u x %zu bytes) run past the end "
				"of the %zu-byte file",
				(unsigned long long)eh->e_phoff, eh->e_phnum, sizeof(Elf64_Phdr),
				len);
	return 0;
}

/* Program header i of a parsed image (copied: the file may be unaligned). */
static void phdr_get(const struct elf_image *img, unsigned i, Elf64_Phdr *ph)
{
	memcpy(ph, img->data + img->phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static int phdr_check(const Elf64_Phdr *ph, unsigned i, size_t len, char *err, size_t errlen)
{
	if (!in_file(ph->p_offset, ph->p_filesz, len))
		return boot_err(err, errlen,
				"ELF: segment %u (offset %#llx, %llu bytes) runs past the end of "
				"the %zu-byte file",
				i, (unsigned long long)ph->p_offset,
				(unsigned long long)ph->p_filesz, len);
	if (ph->p_type != PT_LOAD)
		return 0;
	if (ph->p_filesz > ph->p_memsz)
		return boot_err(err, errlen, "ELF: segment %u has p_filesz %#llx > p_memsz %#llx",
				i, (unsigned long long)ph->p_filesz,
				(unsigned long long)ph->p_memsz);
	if (ph->p_paddr + ph->p_memsz < ph->p_paddr)
		return boot_err(err, errlen, "ELF: segment %u at %#llx + %#llx wraps around", i,
				(unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz);
	return 0;
}

static int phdrs_parse(struct elf_image *img, char *err, size_t errlen)
{
	for (unsigned i = 0; i < img->phnum; i++) {
		Elf64_Phdr ph;
		int ret;

		phdr_get(img, i, &ph);
		ret = phdr_check(&ph, i, img->len, err, errlen);
		if (ret < 0)
			return ret;
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (img->nr_load == ELF_MAX_LOAD)
			return boot_err(err, errlen, "ELF: more than %u PT_LOAD segments",
					ELF_MAX_LOAD);
		img->load[img->nr_load++] = (struct elf_segment){
		    .index = i,
		    .offset = ph.p_offset,
		    .filesz = ph.p_filesz,
		    .paddr = ph.p_paddr,
		    .memsz = ph.p_memsz,
		};
	}
	if (img->nr_load == 0)
		return boot_err(err, errlen, "ELF: no loadable (PT_LOAD) segment");
	return 0;
}

int elf_parse(struct elf_image *img, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	int ret;

	memset(img, 0, sizeof(*img));
	if (!elf_is_elf(data, len))
		return boot_err(err, errlen, "ELF: bad magic");
	if (len < sizeof(eh))
		return boot_err(err, errlen, "ELF: %zu-byte file is shorter than the ELF header",
				len);
	memcpy(&eh, data, sizeof(eh));
	ret = ehdr_check(&eh, len, err, errlen);
	if (ret < 0)
		return ret;
	img->data = data;
	img->len = len;
	img->entry = eh.e_entry;
	img->phoff = eh.e_phoff;
	img->phnum = eh.e_phnum;
	return phdrs_parse(img, err, errlen);
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Walk the notes of one PT_NOTE segment (bytes p[0..len), already inside the file). Notes are
 * 4-byte aligned unless the segment says 8 (gABI; GNU property notes use 8).
 */
static int notes_walk(const uint8_t *p, uint64_t len, uint64_t align, const char *name,
		      uint32_t type, const uint8_t **desc, uint32_t *desc_len, char *err,
		      size_t errlen)
{
	size_t name_len = strlen(name) + 1;
	uint64_t off = 0;

	while (len - off >= 12) {
		uint64_t namesz = le32_at(p + off), descsz = le32_at(p + off + 4);
		uint32_t ntype = le32_at(p + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + align_up(namesz, align);

		/* All values are below 2^32 + 12, so these sums cannot wrap. */
		if (desc_off > len || descsz > len - desc_off)
			return boot_err(err, errlen,
					"ELF: note at segment offset %#llx (namesz %llu, descsz "
					"%llu) runs past the end of its PT_NOTE segment",
					(unsigned long long)off, (unsigned long long)namesz,
					(unsigned long long)descsz);
		if (ntype == type && namesz == name_len &&
		    memcmp(p + name_off, name, name_len) == 0) {
			*desc = p + desc_off;
			*desc_len = (uint32_t)descsz;
			return 0;
		}
		off = desc_off + align_up(descsz, align);
		if (off >= len)
			break;
	}
	return -ENOENT;
}

int elf_note_find(const struct elf_image *img, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *desc_len, char *err, size_t errlen)
{
	for (unsigned i = 0; i < img->phnum; i++) {
		Elf64_Phdr ph;
		int ret;

		phdr_get(img, i, &ph);
		if (ph.p_type != PT_NOTE)
			continue;
		/* elf_parse checked p_offset + p_filesz against the file for every header. */
		ret = notes_walk(img->data + ph.p_offset, ph.p_filesz, ph.p_align == 8 ? 8 : 4,
				 name, type, desc, desc_len, err, errlen);
		if (ret != -ENOENT)
			return ret;
	}
	return -ENOENT;
}

static bool segments_overlap(const struct elf_segment *a, const struct elf_segment *b)
{
	return a->paddr < b->paddr + b->memsz && b->paddr < a->paddr + a->memsz;
}

int elf_segments_check(const struct elf_image *img, const struct guest_mem *m, char *err,
		       size_t errlen)
{
	for (unsigned i = 0; i < img->nr_load; i++) {
		const struct elf_segment *s = &img->load[i];
		unsigned long long lo = s->paddr, hi = s->paddr + s->memsz;

		if (s->paddr < LAYOUT_HIMEM_GPA)
			return boot_err(err, errlen,
					"ELF: segment %u [%#llx, %#llx) starts below 1 MiB, where "
					"the boot structures live",
					s->index, lo, hi);
		if (!boot_ram_ok(m, s->paddr, s->memsz))
			return boot_err(err, errlen,
					"ELF: segment %u [%#llx, %#llx) outside guest RAM",
					s->index, lo, hi);
		for (unsigned j = 0; j < i; j++) {
			if (segments_overlap(s, &img->load[j]))
				return boot_err(
				    err, errlen,
				    "ELF: segment %u [%#llx, %#llx) overlaps segment %u", s->index,
				    lo, hi, img->load[j].index);
		}
	}
	return 0;
}

int elf_segments_load(const struct elf_image *img, struct guest_mem *m)
{
	for (unsigned i = 0; i < img->nr_load; i++) {
		const struct elf_segment *s = &img->load[i];
		uint8_t *dst = guest_mem_ptr_rw(m, s->paddr, s->memsz);

		if (!dst)
			return -EFAULT;
		memcpy(dst, img->data + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}

bool elf_addr_loaded(const struct elf_image *img, uint64_t gpa)
{
	for (unsigned i = 0; i < img->nr_load; i++) {
		const struct elf_segment *s = &img->load[i];

		if (gpa >= s->paddr && gpa - s->paddr < s->filesz)
			return true;
	}
	return false;
}

void elf_extent(const struct elf_image *img, uint64_t *start, uint64_t *end)
{
	*start = UINT64_MAX;
	*end = 0;
	for (unsigned i = 0; i < img->nr_load; i++) {
		const struct elf_segment *s = &img->load[i];

		if (s->paddr < *start)
			*start = s->paddr;
		if (s->paddr + s->memsz > *end)
			*end = s->paddr + s->memsz;
	}
}
