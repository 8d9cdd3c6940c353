/* cpio.c — newc cpio writer for kiln sandbox's initramfs. Hand-written: libarchive (Debian's
 * libarchive-dev) can write newc, but kiln links nothing but libc at run time (see
 * bench/README.md) and the format is one fixed ASCII header per entry, about 150 lines. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/cpio.h"
#include "util/io.h"

#define COPY_CHUNK  (64 * 1024)
#define TRAILER_LEN 124 /* header, "TRAILER!!!\0", padding */

/* What one header describes (the fields of newc that vary here). */
struct cpio_hdr {
	uint32_t mode, mtime, nlink;
	uint32_t size;
	uint32_t rdev_major, rdev_minor;
};

void cpio_writer_init(struct cpio_writer *w, int fd, uint64_t max_len)
{
	w->fd = fd;
	w->off = 0;
	w->max_len = max_len;
	w->next_ino = 1;
}

static uint64_t pad4(uint64_t n)
{
	return (4 - (n & 3)) & 3;
}

/* Write all of buf; 0 or -errno. */
static int put(struct cpio_writer *w, const void *buf, size_t len)
{
	int ret = io_write_all(w->fd, buf, len);

	if (ret == 0)
		w->off += len;
	return ret;
}

static int put_pad(struct cpio_writer *w)
{
	static const uint8_t zeros[4];

	return put(w, zeros, (size_t)pad4(w->off));
}

/* A name for an entry; the trailer's name would end the archive there. */
static int name_check(const char *name, bool trailer, size_t *namesize)
{
	size_t len = strlen(name);

	if (len == 0 || name[0] == '/' || len + 1 > CPIO_NAME_MAX ||
	    (!trailer && strcmp(name, CPIO_TRAILER) == 0))
		return -EINVAL;
	*namesize = len + 1;
	return 0;
}

/* Header and name of an entry whose data (h->size bytes) follows; checks the space for all of
 * it (the data, its padding, and the trailer still to come) first. */
static int put_entry_header(struct cpio_writer *w, const char *name, const struct cpio_hdr *h,
			    bool trailer)
{
	char hdr[CPIO_HEADER_LEN + 1];
	size_t namesize;
	uint64_t need;
	int ret = name_check(name, trailer, &namesize);

	if (ret < 0)
		return ret;
	need = CPIO_HEADER_LEN + namesize + 3 + (uint64_t)h->size + 3 + (trailer ? 0 : TRAILER_LEN);
	if (w->off + need > w->max_len)
		return -EFBIG;
	/* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
	 * rdevminor, namesize, check */
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 w->next_ino++, h->mode, 0u, 0u, h->nlink, h->mtime, h->size, 0u, 0u, h->rdev_major,
		 h->rdev_minor, (uint32_t)namesize, 0u);
	ret = put(w, hdr, CPIO_HEADER_LEN);
	if (ret == 0)
		ret = put(w, name, namesize);
	if (ret == 0)
		ret = put_pad(w);
	return ret;
}

static int put_header(struct cpio_writer *w, const char *name, const struct cpio_hdr *h)
{
	return put_entry_header(w, name, h, false);
}

int cpio_add_dir(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime)
{
	struct cpio_hdr h = {.mode = S_IFDIR | (perm & 07777), .mtime = mtime, .nlink = 2};

	return put_header(w, name, &h);
}

int cpio_add_symlink(struct cpio_writer *w, const char *name, const char *target)
{
	size_t len = strlen(target);
	struct cpio_hdr h = {.mode = S_IFLNK | 0777, .nlink = 1, .size = (uint32_t)len};
	int ret;

	if (len == 0 || len >= CPIO_NAME_MAX)
		return -EINVAL;
	ret = put_header(w, name, &h);
	if (ret == 0)
		ret = put(w, target, len);
	return ret ? ret : put_pad(w);
}

int cpio_add_chardev(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t major,
		     uint32_t minor)
{
	struct cpio_hdr h = {
	    .mode = S_IFCHR | (perm & 07777), .nlink = 1, .rdev_major = major, .rdev_minor = minor};

	return put_header(w, name, &h);
}

/* The header of a regular file of len bytes; 0 or -errno (-EINVAL: too long for newc). */
static int file_header(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime,
		       uint64_t len)
{
	struct cpio_hdr h = {
	    .mode = S_IFREG | (perm & 07777), .mtime = mtime, .nlink = 1, .size = (uint32_t)len};

	if (len > UINT32_MAX)
		return -EINVAL;
	return put_header(w, name, &h);
}

int cpio_add_data(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime,
		  const void *data, size_t len)
{
	int ret = file_header(w, name, perm, mtime, len);

	if (ret == 0)
		ret = put(w, data, len);
	return ret ? ret : put_pad(w);
}

/* Copy exactly len bytes of src_fd from offset 0. */
static int copy_fd(struct cpio_writer *w, int src_fd, uint64_t len)
{
	uint8_t buf[COPY_CHUNK];
	uint64_t done = 0;

	while (done < len) {
		size_t want = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
		ssize_t n = pread(src_fd, buf, want, (off_t)done);
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		ret = put(w, buf, (size_t)n);
		if (ret < 0)
			return ret;
		done += (uint64_t)n;
	}
	return 0;
}

int cpio_add_file(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime,
		  int src_fd, uint64_t len)
{
	int ret = file_header(w, name, perm, mtime, len);

	if (ret == 0)
		ret = copy_fd(w, src_fd, len);
	return ret ? ret : put_pad(w);
}

int cpio_finish(struct cpio_writer *w)
{
	struct cpio_hdr h = {.nlink = 1};

	w->next_ino = 0; /* the trailer's inode is 0, as GNU cpio writes it */
	return put_entry_header(w, CPIO_TRAILER, &h, true);
}
