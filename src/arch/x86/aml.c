/* aml.c — a minimal AML encoder: names, integers, strings, PkgLength terms, resource templates. */
#include <assert.h>
#include <string.h>

#include "arch/x86/aml.h"

/* Opcodes and prefixes (ACPI 6.3 §20.2). */
#define AML_ZERO_OP	    0x00
#define AML_ONE_OP	    0x01
#define AML_NAME_OP	    0x08
#define AML_BYTE_PREFIX	    0x0a
#define AML_WORD_PREFIX	    0x0b
#define AML_DWORD_PREFIX    0x0c
#define AML_STRING_PREFIX   0x0d
#define AML_QWORD_PREFIX    0x0e
#define AML_SCOPE_OP	    0x10
#define AML_BUFFER_OP	    0x11
#define AML_PACKAGE_OP	    0x12
#define AML_DUAL_NAME	    0x2e
#define AML_MULTI_NAME	    0x2f
#define AML_EXT_OP_PREFIX   0x5b
#define AML_DEVICE_OP	    0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR	    '\\'
#define AML_ONES_OP	    0xff
#define AML_PKGLEN_RESERVED 4 /* room kept for a PkgLength until the term is closed */

/* Resource descriptor tags (ACPI 6.3 §6.4.2, §6.4.3). */
#define RES_IRQ_NOFLAGS	   0x22 /* small item 0x04, length 2 */
#define RES_IO		   0x47 /* small item 0x08, length 7 */
#define RES_END		   0x79 /* small item 0x0f, length 1 */
#define RES_MEMORY32_FIXED 0x86
#define RES_EXT_IRQ	   0x89
#define RES_DWORD_SPACE	   0x87 /* DWord Address Space Descriptor */
#define RES_WORD_SPACE	   0x88 /* Word Address Space Descriptor */
#define RES_SPACE_MEMORY   0x00 /* resource types of an address space descriptor */
#define RES_SPACE_BUS	   0x02
#define RES_SPACE_FIXED	   0x0c /* general flags: _MAF and _MIF set, positive decode, producer */
#define RES_IO_DECODE16	   0x01
#define RES_MEM_READWRITE  0x01

void aml_init(struct aml_buf *b, uint8_t *mem, size_t cap)
{
	*b = (struct aml_buf){.p = mem, .cap = cap};
}

void aml_bytes(struct aml_buf *b, const void *src, size_t len)
{
	if (b->overflow || len > b->cap - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, src, len);
	b->len += len;
}

static void put8(struct aml_buf *b, uint8_t v)
{
	aml_bytes(b, &v, 1);
}

static void put_le(struct aml_buf *b, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		put8(b, (uint8_t)(v >> (8 * i)));
}

static bool seg_char_ok(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* One NameSeg from s (up to the next '.' or the end); returns the characters consumed. */
static size_t name_seg(struct aml_buf *b, const char *s)
{
	char seg[4] = {'_', '_', '_', '_'};
	size_t n = 0;

	while (s[n] && s[n] != '.') {
		assert(n < 4 && seg_char_ok(s[n], n == 0));
		seg[n] = s[n];
		n++;
	}
	assert(n > 0);
	aml_bytes(b, seg, sizeof(seg));
	return n;
}

void aml_name_string(struct aml_buf *b, const char *name)
{
	unsigned nsegs = 1;

	if (*name == AML_ROOT_CHAR)
		put8(b, (uint8_t)*name++);
	for (const char *c = name; *c; c++)
		nsegs += *c == '.';
	if (nsegs == 2)
		put8(b, AML_DUAL_NAME);
	else if (nsegs > 2) {
		assert(nsegs <= 255);
		put8(b, AML_MULTI_NAME);
		put8(b, (uint8_t)nsegs);
	}
	for (unsigned i = 0; i < nsegs; i++) {
		name += name_seg(b, name);
		if (*name == '.')
			name++;
	}
}

void aml_integer(struct aml_buf *b, uint64_t v)
{
	if (v == 0)
		put8(b, AML_ZERO_OP);
	else if (v == 1)
		put8(b, AML_ONE_OP);
	else if (v == UINT64_MAX)
		put8(b, AML_ONES_OP);
	else if (v <= UINT8_MAX) {
		put8(b, AML_BYTE_PREFIX);
		put_le(b, v, 1);
	} else if (v <= UINT16_MAX) {
		put8(b, AML_WORD_PREFIX);
		put_le(b, v, 2);
	} else if (v <= UINT32_MAX) {
		put8(b, AML_DWORD_PREFIX);
		put_le(b, v, 4);
	} else {
		put8(b, AML_QWORD_PREFIX);
		put_le(b, v, 8);
	}
}

void aml_string(struct aml_buf *b, const char *s)
{
	put8(b, AML_STRING_PREFIX);
	aml_bytes(b, s, strlen(s) + 1);
}

static unsigned hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	assert(c >= 'A' && c <= 'F');
	return (unsigned)(c - 'A' + 10);
}

/* EISA ID: 5 bits per letter ('A' = 1), then 4 hex digits; stored most significant byte first,
 * so the DWord's little-endian bytes read "compressed vendor, product" in order. */
void aml_eisaid(struct aml_buf *b, const char *id)
{
	uint32_t v = 0;

	assert(strlen(id) == 7);
	for (int i = 0; i < 3; i++) {
		assert(id[i] >= 'A' && id[i] <= 'Z');
		v = v << 5 | (uint32_t)(id[i] - '@');
	}
	for (int i = 3; i < 7; i++)
		v = v << 4 | hex_digit(id[i]);
	put8(b, AML_DWORD_PREFIX);
	put_le(b, __builtin_bswap32(v), 4);
}

void aml_name(struct aml_buf *b, const char *name)
{
	put8(b, AML_NAME_OP);
	aml_name_string(b, name);
}

/* Reserve room for a PkgLength right after an opcode; aml_close fills it in. */
static void pkg_open(struct aml_buf *b)
{
	static const uint8_t zero[AML_PKGLEN_RESERVED];

	assert(b->depth < AML_MAX_DEPTH);
	b->open[b->depth++] = b->len;
	aml_bytes(b, zero, sizeof(zero));
}

void aml_scope_open(struct aml_buf *b, const char *name)
{
	put8(b, AML_SCOPE_OP);
	pkg_open(b);
	aml_name_string(b, name);
}

void aml_device_open(struct aml_buf *b, const char *name)
{
	put8(b, AML_EXT_OP_PREFIX);
	put8(b, AML_DEVICE_OP);
	pkg_open(b);
	aml_name_string(b, name);
}

void aml_package_open(struct aml_buf *b, uint8_t nr_elements)
{
	put8(b, AML_PACKAGE_OP);
	pkg_open(b);
	put8(b, nr_elements);
}

/*
 * PkgLength (ACPI 6.3 §20.2.4) counts its own bytes. One byte holds up to 63 in bits 0-5;
 * longer forms put the count of following bytes in bits 6-7, the low nibble in bits 0-3 and
 * the rest, 8 bits at a time, in the following bytes.
 */
void aml_close(struct aml_buf *b)
{
	size_t start, body;
	uint32_t total;
	unsigned n;

	assert(b->depth > 0);
	start = b->open[--b->depth];
	if (b->overflow)
		return;
	body = b->len - start - AML_PKGLEN_RESERVED;
	for (n = 1; n <= 4; n++)
		if (body + n < (n == 1 ? 0x40u : 1u << (4 + 8 * (n - 1))))
			break;
	if (n > 4) {
		b->overflow = true;
		return;
	}
	total = (uint32_t)(body + n);
	memmove(b->p + start + n, b->p + start + AML_PKGLEN_RESERVED, body);
	if (n == 1) {
		b->p[start] = (uint8_t)total;
	} else {
		b->p[start] = (uint8_t)((n - 1) << 6 | (total & 0xf));
		for (unsigned i = 1; i < n; i++)
			b->p[start + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	b->len = start + n + body;
}

void aml_buffer(struct aml_buf *b, const uint8_t *bytes, size_t len)
{
	put8(b, AML_BUFFER_OP);
	pkg_open(b);
	aml_integer(b, len);
	aml_bytes(b, bytes, len);
	aml_close(b);
}

void aml_res_memory32_fixed(struct aml_buf *r, uint32_t base, uint32_t len)
{
	put8(r, RES_MEMORY32_FIXED);
	put_le(r, 9, 2); /* length of the data that follows the 3-byte header */
	put8(r, RES_MEM_READWRITE);
	put_le(r, base, 4);
	put_le(r, len, 4);
}

void aml_res_ext_irq(struct aml_buf *r, uint8_t flags, uint32_t gsi)
{
	put8(r, RES_EXT_IRQ);
	put_le(r, 6, 2); /* flags, table length, one DWord */
	put8(r, flags);
	put8(r, 1);
	put_le(r, gsi, 4);
}

void aml_res_io(struct aml_buf *r, uint16_t port, uint8_t len)
{
	put8(r, RES_IO);
	put8(r, RES_IO_DECODE16);
	put_le(r, port, 2); /* minimum base */
	put_le(r, port, 2); /* maximum base: the same, the range is fixed */
	put8(r, 0);	    /* alignment: irrelevant for a fixed range */
	put8(r, len);
}

void aml_res_irq_noflags(struct aml_buf *r, uint8_t irq)
{
	assert(irq < 16);
	put8(r, RES_IRQ_NOFLAGS);
	put_le(r, 1u << irq, 2);
}

void aml_res_word_bus_number(struct aml_buf *r, uint16_t first, uint16_t last)
{
	put8(r, RES_WORD_SPACE);
	put_le(r, 13, 2); /* type, flags, type flags, then five Words */
	put8(r, RES_SPACE_BUS);
	put8(r, RES_SPACE_FIXED);
	put8(r, 0);
	put_le(r, 0, 2); /* granularity */
	put_le(r, first, 2);
	put_le(r, last, 2);
	put_le(r, 0, 2); /* translation offset */
	put_le(r, (uint32_t)last - first + 1, 2);
}

void aml_res_dword_memory(struct aml_buf *r, uint32_t base, uint32_t len)
{
	put8(r, RES_DWORD_SPACE);
	put_le(r, 23, 2); /* type, flags, type flags, then five DWords */
	put8(r, RES_SPACE_MEMORY);
	put8(r, RES_SPACE_FIXED);
	put8(r, RES_MEM_READWRITE); /* non-cacheable, read/write */
	put_le(r, 0, 4);	    /* granularity */
	put_le(r, base, 4);
	put_le(r, base + len - 1, 4);
	put_le(r, 0, 4); /* translation offset */
	put_le(r, len, 4);
}

void aml_res_end(struct aml_buf *r)
{
	put8(r, RES_END);
	put8(r, 0);
}
