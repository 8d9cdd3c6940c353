/* faultfs.c — a FUSE file system of one file, /disk, backed by a real file, whose reads and/or
 * writes in a configured sector range fail with EIO, and whose fsync can fail too: the failing
 * block device of the fault suite (tests/fault/test-fault.py), which puts kiln's virtio-blk on
 * it.
 *
 * Hand-written because the usual tool, device-mapper's `error` target (dmsetup), needs
 * /dev/mapper/control, which these machines do not have (no device-mapper, no modprobe), and no
 * Debian package provides an error-injecting file system that works without it. FUSE
 * (/dev/fuse, libfuse3) does work here.
 *
 * usage: faultfs [-o OPT]... MOUNTPOINT BACKING [--read-eio FIRST,COUNT]
 *                [--write-eio FIRST,COUNT] [--fsync-eio]
 *
 * Ranges are in 512-byte sectors. A request that overlaps a failing range fails as a whole with
 * EIO (nothing of it is read or written); others go to BACKING with pread/pwrite; with
 * --fsync-eio every fsync fails with EIO after syncing BACKING. Files are opened direct_io, so
 * the kernel passes kiln's requests through as they are (no page cache, no readahead into the
 * failing range). Runs in the foreground, single-threaded, until unmounted or signalled (libfuse
 * unmounts on SIGTERM and SIGINT). Counts of the failures it returned go to stderr at exit.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR	  512u
#define FILE_NAME "disk"
#define FILE_PATH "/" FILE_NAME
#define MAX_ARGS  32

struct range {
	uint64_t first, count; /* sectors; count 0: none */
};

static struct {
	int fd;
	struct range rd, wr;
	bool fsync_eio;
	unsigned long rd_fails, wr_fails, fsync_fails;
} fs = {.fd = -1};

/* Whether [off, off + len) bytes touches range r. */
static bool overlaps(const struct range *r, off_t off, size_t len)
{
	uint64_t a = (uint64_t)off, b = a + len;

	return r->count && len && a < (r->first + r->count) * SECTOR && b > r->first * SECTOR;
}

/* The FUSE operations: 0 (or a byte count) or -errno, as libfuse expects. The tree is "/" and
 * "/disk", whose size is BACKING's. */
static int ff_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct stat b;

	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, FILE_PATH) != 0)
		return -ENOENT;
	if (fstat(fs.fd, &b) < 0)
		return -errno;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = b.st_size;
	st->st_blocks = b.st_blocks;
	return 0;
}

static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off, (void)fi, (void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, FILE_NAME, NULL, 0, 0);
	return 0;
}

/* direct_io: no page cache, so each of kiln's requests reaches ff_read/ff_write as issued. */
static int ff_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, FILE_PATH) != 0)
		return -ENOENT;
	fi->direct_io = 1;
	return 0;
}

static int ff_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	(void)path, (void)fi;
	if (overlaps(&fs.rd, off, len)) {
		fs.rd_fails++;
		return -EIO;
	}
	n = pread(fs.fd, buf, len, off);
	return n < 0 ? -errno : (int)n;
}

static int ff_write(const char *path, const char *buf, size_t len, off_t off,
		    struct fuse_file_info *fi)
{
	ssize_t n;

	(void)path, (void)fi;
	if (overlaps(&fs.wr, off, len)) {
		fs.wr_fails++;
		return -EIO;
	}
	n = pwrite(fs.fd, buf, len, off);
	return n < 0 ? -errno : (int)n;
}

/* Syncs BACKING; with --fsync-eio then fails anyway (the data is there, its durability not). */
static int ff_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path, (void)fi;
	if ((datasync ? fdatasync(fs.fd) : fsync(fs.fd)) < 0)
		return -errno;
	if (fs.fsync_eio) {
		fs.fsync_fails++;
		return -EIO;
	}
	return 0;
}

static const struct fuse_operations ops = {
    .getattr = ff_getattr,
    .readdir = ff_readdir,
    .open = ff_open,
    .read = ff_read,
    .write = ff_write,
    .fsync = ff_fsync,
};

/* Parse "FIRST,COUNT" into r. 0 or -EINVAL. */
static int parse_range(const char *s, struct range *r)
{
	char *end;

	r->first = strtoull(s, &end, 0);
	if (end == s || *end != ',')
		return -EINVAL;
	s = end + 1;
	r->count = strtoull(s, &end, 0);
	return end == s || *end || r->count == 0 ? -EINVAL : 0;
}

static int usage(void)
{
	fputs("usage: faultfs [-o OPT]... MOUNTPOINT BACKING [--read-eio FIRST,COUNT]\n"
	      "               [--write-eio FIRST,COUNT] [--fsync-eio]\n",
	      stderr);
	return 2;
}

/* Split argv into libfuse's arguments (fargv: program, -f -s, -o options, the mount point) and
 * ours; opens BACKING. 0 or the exit status of a usage error. */
static int parse_args(int argc, char **argv, char **fargv, int *fargc)
{
	const char *backing = NULL, *mnt = NULL;
	int n = 0;

	fargv[n++] = argv[0];
	fargv[n++] = "-f";
	fargv[n++] = "-s";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && n + 3 < MAX_ARGS) {
			fargv[n++] = argv[i++];
			fargv[n++] = argv[i];
		} else if (strcmp(argv[i], "--read-eio") == 0 && i + 1 < argc) {
			if (parse_range(argv[++i], &fs.rd) < 0)
				return usage();
		} else if (strcmp(argv[i], "--write-eio") == 0 && i + 1 < argc) {
			if (parse_range(argv[++i], &fs.wr) < 0)
				return usage();
		} else if (strcmp(argv[i], "--fsync-eio") == 0) {
			fs.fsync_eio = true;
		} else if (argv[i][0] == '-' || (mnt && backing)) {
			return usage();
		} else if (!mnt) {
			mnt = argv[i];
		} else {
			backing = argv[i];
		}
	}
	if (!mnt || !backing)
		return usage();
	fs.fd = open(backing, O_RDWR | O_CLOEXEC);
	if (fs.fd < 0) {
		fprintf(stderr, "faultfs: %s: %s\n", backing, strerror(errno));
		return 1;
	}
	fargv[n++] = (char *)mnt;
	fargv[n] = NULL;
	*fargc = n;
	return 0;
}

int main(int argc, char **argv)
{
	char *fargv[MAX_ARGS];
	int fargc = 0, ret = parse_args(argc, argv, fargv, &fargc);

	if (ret)
		return ret;
	ret = fuse_main(fargc, fargv, &ops, NULL);
	fprintf(stderr, "faultfs: %lu read, %lu write, %lu fsync failures returned\n", fs.rd_fails,
		fs.wr_fails, fs.fsync_fails);
	close(fs.fd);
	return ret;
}
