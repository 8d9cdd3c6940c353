/* cpio.h — a writer of "newc" cpio archives (the format Linux unpacks as an initramfs), streaming
 * to a file descriptor. */
#ifndef KILN_SANDBOX_CPIO_H
#define KILN_SANDBOX_CPIO_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define CPIO_HEADER_LEN 110  /* "070701" and 13 fields of 8 hex digits */
#define CPIO_NAME_MAX	4096 /* bytes of a name with its NUL, as the kernel's PATH_MAX */
#define CPIO_TRAILER	"TRAILER!!!"

struct cpio_writer {
	int fd;		   /* where the archive goes (not owned), written from its current offset */
	uint64_t off;	   /* bytes written so far */
	uint64_t max_len;  /* the archive may not grow beyond this */
	uint32_t next_ino; /* inode numbers are given in order, from 1 */
};

/* Start an archive written to fd, at most max_len bytes in all (trailer included). */
void cpio_writer_init(struct cpio_writer *w, int fd, uint64_t max_len);

/*
 * Add an entry. `name` is the path inside the archive: not empty, no leading '/', at most
 * CPIO_NAME_MAX - 1 bytes. Owner root, one link. Each returns 0, -EINVAL for a bad name or size,
 * -EFBIG if the archive would exceed max_len (nothing is written then), or the -errno of a
 * failed write (the archive is then unusable).
 */
int cpio_add_dir(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime) MUST_CHECK;
int cpio_add_symlink(struct cpio_writer *w, const char *name, const char *target) MUST_CHECK;
/* A character device node (e.g. dev/console, 5:1). */
int cpio_add_chardev(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t major,
		     uint32_t minor) MUST_CHECK;
/* A regular file holding len bytes of data (len < 4 GiB: newc sizes are 32-bit). */
int cpio_add_data(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime,
		  const void *data, size_t len) MUST_CHECK;
/* A regular file holding the first len bytes of src_fd (read with pread from offset 0).
 * -EIO if src_fd ends before len bytes (the file shrank): the archive is then unusable. */
int cpio_add_file(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime,
		  int src_fd, uint64_t len) MUST_CHECK;

/* Write the trailer entry that ends the archive. 0, -EFBIG or -errno. */
int cpio_finish(struct cpio_writer *w) MUST_CHECK;

#endif
