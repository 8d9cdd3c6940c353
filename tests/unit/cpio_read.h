/* cpio_read.h — a strict newc reader for the tests: parses an archive back, entry by entry. */
#ifndef KILN_TESTS_CPIO_READ_H
#define KILN_TESTS_CPIO_READ_H

#include <stddef.h>
#include <stdint.h>

struct cpio_ent {
	char name[4096];
	uint32_t ino, mode, nlink, mtime, size, rdev_major, rdev_minor;
	const uint8_t *data; /* size bytes inside the archive */
};

/* Parse buf (len bytes) up to and including the trailer into a malloc'd array (*out, *n
 * entries, trailer last). Returns 0, or -1 on any format error (magic, hex, alignment, bounds,
 * a name without its NUL, a non-zero check field, no trailer). */
int cpio_read(const uint8_t *buf, size_t len, struct cpio_ent **out, size_t *n);

/* The entry named name, or NULL. */
const struct cpio_ent *cpio_find(const struct cpio_ent *e, size_t n, const char *name);

/* Read a whole file (a memfd) into a malloc'd buffer; NULL on failure. */
uint8_t *cpio_slurp(int fd, size_t *len);

#endif
