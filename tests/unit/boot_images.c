/* boot_images.c — builders for the synthetic kernel images used by the loader unit tests. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "boot_images.h"

uint8_t ti_pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + 3 + (off >> 8));
}

uint16_t ti_get16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

uint32_t ti_get32(const uint8_t *p, size_t off)
{
	return ti_get16(p, off) | (uint32_t)ti_get16(p, off + 2) << 16;
}

uint64_t ti_get64(const uint8_t *p, size_t off)
{
	return ti_get32(p, off) | (uint64_t)ti_get32(p, off + 4) << 32;
}

void ti_put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

void ti_put32(uint8_t *p, size_t off, uint32_t v)
{
	ti_put16(p, off, (uint16_t)v);
	ti_put16(p, off + 2, (uint16_t)(v >> 16));
}

void ti_put64(uint8_t *p, size_t off, uint64_t v)
{
	ti_put32(p, off, (uint32_t)v);
	ti_put32(p, off + 4, (uint32_t)(v >> 32));
}

size_t ti_elf_build(uint8_t *buf, size_t len, uint64_t entry, const struct ti_phdr *ph, unsigned n)
{
	Elf64_Ehdr eh = {
	    .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT},
	    .e_type = ET_EXEC,
	    .e_machine = EM_X86_64,
	    .e_version = EV_CURRENT,
	    .e_entry = entry,
	    .e_phoff = sizeof(Elf64_Ehdr),
	    .e_ehsize = sizeof(Elf64_Ehdr),
	    .e_phentsize = sizeof(Elf64_Phdr),
	    .e_phnum = (uint16_t)n,
	};

	assert_true(sizeof(eh) + n * sizeof(Elf64_Phdr) <= 0x1000 && len >= 0x1000);
	memset(buf, 0, len);
	for (size_t i = 0x1000; i < len; i++)
		buf[i] = ti_pattern(i);
	memcpy(buf, &eh, sizeof(eh));
	for (unsigned i = 0; i < n; i++) {
		Elf64_Phdr p = {.p_type = ph[i].type,
				.p_flags = PF_R | PF_X,
				.p_offset = ph[i].offset,
				.p_vaddr = ph[i].paddr,
				.p_paddr = ph[i].paddr,
				.p_filesz = ph[i].filesz,
				.p_memsz = ph[i].memsz,
				.p_align = ph[i].align};

		memcpy(buf + sizeof(eh) + i * sizeof(p), &p, sizeof(p));
	}
	return len;
}

size_t ti_note_put(uint8_t *buf, size_t off, const char *name, uint32_t type, const void *desc,
		   uint32_t desc_len)
{
	uint32_t name_len = (uint32_t)strlen(name) + 1;
	size_t name_pad = (name_len + 3) & ~3u, desc_pad = (desc_len + 3) & ~3u;

	ti_put32(buf, off, name_len);
	ti_put32(buf, off + 4, desc_len);
	ti_put32(buf, off + 8, type);
	memset(buf + off + 12, 0, name_pad + desc_pad);
	memcpy(buf + off + 12, name, name_len);
	memcpy(buf + off + 12 + name_pad, desc, desc_len);
	return 12 + name_pad + desc_pad;
}

size_t ti_pvh_build(uint8_t *buf, uint32_t entry)
{
	const struct ti_phdr ph[] = {
	    {PT_LOAD, 0x1000, 0x1000, 0x100000, 0x2000, 0x1000},
	    {PT_NOTE, 0x2000, 20, 0, 0, 4},
	};
	uint8_t desc[4];

	ti_elf_build(buf, TI_PVH_LEN, 0x100000, ph, 2);
	ti_put32(desc, 0, entry);
	ti_note_put(buf, 0x2000, "Xen", 18, desc, 4);
	return TI_PVH_LEN;
}

size_t ti_bzimage_build(uint8_t *buf)
{
	memset(buf, 0, TI_BZ_LEN);
	for (size_t i = TI_BZ_SETUP; i < TI_BZ_LEN; i++)
		buf[i] = ti_pattern(i);
	buf[0x1f1] = 4;		      /* setup_sects */
	ti_put16(buf, 0x1fe, 0xaa55); /* boot_flag */
	buf[0x200] = 0xeb;	      /* jmp short */
	buf[0x201] = 0x6a;	      /* header ends at 0x26c */
	memcpy(buf + 0x202, "HdrS", 4);
	ti_put16(buf, 0x206, 0x020f);	  /* version */
	buf[0x211] = 0x01;		  /* loadflags: LOADED_HIGH */
	ti_put32(buf, 0x214, 0x100000);	  /* code32_start */
	ti_put32(buf, 0x22c, 0x7fffffff); /* initrd_addr_max */
	ti_put32(buf, 0x230, 0x200000);	  /* kernel_alignment */
	buf[0x234] = 1;			  /* relocatable_kernel */
	ti_put16(buf, 0x236, 0x3);	  /* xloadflags: KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	ti_put32(buf, 0x238, 2047);	  /* cmdline_size */
	ti_put64(buf, 0x258, TI_BZ_PREF);
	ti_put32(buf, 0x260, (uint32_t)TI_BZ_INITSIZE);
	return TI_BZ_LEN;
}

void ti_mem_init(struct guest_mem *m, uint64_t size)
{
	guest_mem_init(m, -1);
	assert_int_equal(guest_mem_add(m, 0, size, GUEST_MEM_RAM), 0);
}

const uint8_t *ti_guest(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = guest_mem_ptr(m, gpa, len);

	assert_non_null(p);
	return p;
}

int ti_setup(void **state)
{
	struct ti_ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->img = calloc(1, TI_IMG_CAP);
	assert_non_null(c->img);
	ti_mem_init(&c->m, TI_MEM_SIZE);
	*state = c;
	return 0;
}

int ti_teardown(void **state)
{
	struct ti_ctx *c = *state;

	guest_mem_destroy(&c->m);
	free(c->img);
	free(c);
	return 0;
}

int ti_load(struct ti_ctx *c)
{
	c->in.kernel = c->img;
	c->in.kernel_len = c->len;
	c->err[0] = '\0';
	return boot_load(&c->m, &c->in, &c->out, c->err, sizeof(c->err));
}

void ti_expect_err(struct ti_ctx *c, const char *substr)
{
	int ret = ti_load(c);

	if (ret != -EINVAL || !strstr(c->err, substr) || strchr(c->err, '\n'))
		fail_msg("boot_load returned %d with \"%s\"; expected -EINVAL with \"%s\"", ret,
			 c->err, substr);
}
