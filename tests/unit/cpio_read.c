/* cpio_read.c — strict newc reader for the tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio_read.h"

static int hex8(const uint8_t *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 8; i++) {
		int c = p[i], d = c >= '0' && c <= '9'	 ? c - '0'
				  : c >= 'A' && c <= 'F' ? c - 'A' + 10
							 : -1;

		if (d < 0)
			return -1;
		*v = *v << 4 | (uint32_t)d;
	}
	return 0;
}

static size_t up4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* One entry at *off; advances *off. */
static int entry(const uint8_t *buf, size_t len, size_t *off, struct cpio_ent *e)
{
	uint32_t f[13];
	size_t o = *off;

	if (o % 4 || len - o < 110 || memcmp(buf + o, "070701", 6) != 0)
		return -1;
	for (int i = 0; i < 13; i++)
		if (hex8(buf + o + 6 + 8 * i, &f[i]) < 0)
			return -1;
	e->ino = f[0], e->mode = f[1], e->nlink = f[4], e->mtime = f[5], e->size = f[6];
	e->rdev_major = f[9], e->rdev_minor = f[10];
	if (f[2] || f[3] || f[12] || f[11] == 0 || f[11] > sizeof(e->name))
		return -1;
	o += 110;
	if (len - o < f[11] || buf[o + f[11] - 1] != '\0' ||
	    strlen((const char *)buf + o) != f[11] - 1)
		return -1;
	memcpy(e->name, buf + o, f[11]);
	o = up4(o + f[11]);
	if (o > len || len - o < e->size)
		return -1;
	e->data = buf + o;
	o = up4(o + e->size);
	if (o > len)
		return -1;
	*off = o;
	return 0;
}

int cpio_read(const uint8_t *buf, size_t len, struct cpio_ent **out, size_t *n)
{
	size_t off = 0, cap = 0;

	*out = NULL;
	*n = 0;
	for (;;) {
		if (*n == cap) {
			struct cpio_ent *p =
			    realloc(*out, (cap = cap ? 2 * cap : 16) * sizeof(**out));

			if (!p)
				return -1;
			*out = p;
		}
		if (entry(buf, len, &off, &(*out)[*n]) < 0)
			return -1;
		if (strcmp((*out)[(*n)++].name, "TRAILER!!!") == 0)
			return 0;
	}
}

const struct cpio_ent *cpio_find(const struct cpio_ent *e, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].name, name) == 0)
			return &e[i];
	return NULL;
}

uint8_t *cpio_slurp(int fd, size_t *len)
{
	struct stat st;
	uint8_t *b;

	if (fstat(fd, &st) < 0)
		return NULL;
	b = malloc((size_t)st.st_size + 1);
	if (!b || pread(fd, b, (size_t)st.st_size, 0) != st.st_size) {
		free(b);
		return NULL;
	}
	*len = (size_t)st.st_size;
	return b;
}
