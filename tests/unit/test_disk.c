/* test_disk.c — the raw disk backend on temporary image files, both io_uring and synchronous:
 * transfers, flush, discard, write-zeroes and its fallbacks, read-only refusal, limits. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/disk.h"
#include "util/file.h"

#define IMG_LEN (1024 * 1024)
#define MAXDONE 8

struct fx {
	char path[64];
	int fd; /* the test's own view of the image */
	struct disk *d;
	bool sync;
	unsigned ndone;
	void *cookie[MAXDONE];
	int res[MAXDONE];
};

static void on_done(void *ctx, void *cookie, int res)
{
	struct fx *f = ctx;

	assert_true(f->ndone < MAXDONE);
	f->cookie[f->ndone] = cookie;
	f->res[f->ndone++] = res;
}

/* A file of IMG_LEN bytes, each 512-byte sector filled with its index (low byte). */
static void make_image(struct fx *f, const char *dir)
{
	uint8_t sec[512];

	snprintf(f->path, sizeof(f->path), "%s/kiln-disk-XXXXXX", dir);
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	for (unsigned i = 0; i < IMG_LEN / 512; i++) {
		memset(sec, (int)(i & 0xff), sizeof(sec));
		assert_int_equal(pwrite(f->fd, sec, sizeof(sec), (off_t)i * 512), 512);
	}
	assert_int_equal(fsync(f->fd), 0);
}

static int open_disk(struct fx *f, bool ro, unsigned depth)
{
	struct disk_params p = {.path = f->path,
				.read_only = ro,
				.force_sync = f->sync,
				.depth = depth,
				.done = on_done,
				.ctx = f};

	return disk_open(&p, &f->d);
}

static int setup_common(void **state, bool sync, const char *dir)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->sync = sync;
	make_image(f, dir);
	assert_int_equal(open_disk(f, false, 4), 0);
	/* io_uring may be unavailable here (seccomp): then both variants test the fallback. */
	if (!sync && !disk_is_async(f->d))
		fprintf(stderr, "note: io_uring unavailable, testing the synchronous path\n");
	*state = f;
	return 0;
}

static int setup_sync(void **state)
{
	return setup_common(state, true, "/tmp");
}

static int setup_uring(void **state)
{
	return setup_common(state, false, "/tmp");
}

static int teardown(void **state)
{
	struct fx *f = *state;

	disk_close(f->d);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

/* Wait until n callbacks have come in (immediately for the synchronous backend). */
static void wait_done(struct fx *f, unsigned n)
{
	while (f->ndone < n) {
		struct pollfd p = {.fd = disk_event_fd(f->d), .events = POLLIN};

		assert_true(disk_is_async(f->d));
		assert_int_equal(poll(&p, 1, 5000), 1);
		disk_complete(f->d);
	}
	assert_int_equal(f->ndone, n);
}

/* Submit r and wait for its result. */
static int run(struct fx *f, struct disk_req *r)
{
	unsigned n = f->ndone;

	assert_int_equal(disk_submit(f->d, r), 0);
	wait_done(f, n + 1);
	assert_ptr_equal(f->cookie[n], r->cookie);
	return f->res[n];
}

static void test_size_and_read(void **state)
{
	struct fx *f = *state;
	uint8_t a[1024], b[512];
	struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	struct disk_req r = {.op = DISK_READ, .offset = 3 * 512, .iov = iov, .iovcnt = 2};

	assert_int_equal(disk_sectors(f->d), IMG_LEN / 512);
	assert_false(disk_read_only(f->d));
	assert_int_equal(disk_room(f->d), 4);
	r.cookie = &r;
	assert_int_equal(run(f, &r), 0);
	assert_int_equal(a[0], 3);
	assert_int_equal(a[1023], 4);
	assert_int_equal(b[0], 5);
	assert_int_equal(b[511], 5);
	assert_int_equal(disk_room(f->d), 4);
}

static void test_write_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t w[3000], back[3000];
	struct iovec iov[3] = {{w, 100}, {w + 100, 1000}, {w + 1100, 1900}};
	struct disk_req r = {.op = DISK_WRITE, .offset = 12345, .iov = iov, .iovcnt = 3};

	for (unsigned i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(run(f, &r), 0);
	assert_int_equal(pread(f->fd, back, sizeof(back), 12345), (ssize_t)sizeof(back));
	assert_memory_equal(w, back, sizeof(w));
	r = (struct disk_req){.op = DISK_FLUSH};
	assert_int_equal(run(f, &r), 0);
}

static void test_discard_releases_blocks(void **state)
{
	struct fx *f = *state;
	struct disk_req r = {.op = DISK_DISCARD, .offset = 64 * 1024, .len = 256 * 1024};
	uint8_t buf[256 * 1024];
	struct stat before, after;

	assert_int_equal(fstat(f->fd, &before), 0);
	assert_int_equal(run(f, &r), 0);
	assert_int_equal(fstat(f->fd, &after), 0);
	assert_int_equal(after.st_size, before.st_size); /* KEEP_SIZE */
	/* ext4 and tmpfs punch holes: 256 KiB is 512 blocks of st_blocks' 512 bytes. */
	assert_true(after.st_blocks <= before.st_blocks - 512);
	assert_int_equal(pread(f->fd, buf, sizeof(buf), 64 * 1024), (ssize_t)sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
}

static void check_zero(struct fx *f, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len + 2);

	assert_int_equal(pread(f->fd, buf, len + 2, (off_t)off - 1), (ssize_t)len + 2);
	assert_int_not_equal(buf[0], 0); /* the bytes around are untouched */
	for (size_t i = 1; i <= len; i++)
		assert_int_equal(buf[i], 0);
	assert_int_not_equal(buf[len + 1], 0);
	free(buf);
}

static void test_write_zeroes(void **state)
{
	struct fx *f = *state;
	struct disk_req r = {.op = DISK_WRITE_ZEROES, .offset = 5 * 512, .len = 3 * 512};

	assert_int_equal(run(f, &r), 0);
	check_zero(f, 5 * 512, 3 * 512);
	r = (struct disk_req){
	    .op = DISK_WRITE_ZEROES, .offset = 100 * 512, .len = 200 * 512, .unmap = true};
	assert_int_equal(run(f, &r), 0);
	check_zero(f, 100 * 512, 200 * 512);
}

/* tmpfs has PUNCH_HOLE but not ZERO_RANGE: write-zeroes without unmap falls back to writes. */
static void test_write_zeroes_fallback_tmpfs(void **state)
{
	struct fx *f;
	struct disk_req r = {.op = DISK_WRITE_ZEROES, .offset = 7 * 512 + 3, .len = 150000};

	if (access("/dev/shm", W_OK) != 0)
		skip();
	for (int sync = 0; sync < 2; sync++) {
		setup_common((void **)&f, sync, "/dev/shm");
		assert_int_equal(run(f, &r), 0);
		check_zero(f, r.offset, r.len);
		r.unmap = true;
		r.offset += 200000;
		assert_int_equal(run(f, &r), 0);
		check_zero(f, r.offset, r.len);
		r.unmap = false;
		r.offset -= 200000;
		teardown((void **)&f);
	}
	(void)state;
}

static void test_read_only(void **state)
{
	struct fx *f = *state;
	uint8_t buf[512] = {0};
	struct iovec iov = {buf, sizeof(buf)};
	struct disk_req w = {.op = DISK_WRITE, .iov = &iov, .iovcnt = 1};
	struct disk_req dz = {.op = DISK_DISCARD, .len = 512};
	struct disk_req rd = {.op = DISK_READ, .offset = 512, .iov = &iov, .iovcnt = 1};

	disk_close(f->d);
	assert_int_equal(open_disk(f, true, 4), 0);
	assert_true(disk_read_only(f->d));
	assert_int_equal(disk_submit(f->d, &w), -EROFS);
	assert_int_equal(disk_submit(f->d, &dz), -EROFS);
	dz.op = DISK_WRITE_ZEROES;
	assert_int_equal(disk_submit(f->d, &dz), -EROFS);
	assert_int_equal(run(f, &rd), 0);
	assert_int_equal(buf[0], 1);
	rd = (struct disk_req){.op = DISK_FLUSH};
	assert_int_equal(run(f, &rd), 0);
	assert_int_equal(f->ndone, 2);
}

static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	uint8_t buf[512];
	struct iovec iov = {buf, 0};
	struct disk_req r = {.op = DISK_READ, .iov = &iov, .iovcnt = 1};

	assert_int_equal(disk_submit(f->d, &r), -EINVAL); /* zero length */
	r.iovcnt = 0;
	assert_int_equal(disk_submit(f->d, &r), -EINVAL);
	iov.iov_len = sizeof(buf);
	r.iovcnt = 1;
	r.offset = UINT64_MAX - 100;
	assert_int_equal(disk_submit(f->d, &r), -EINVAL); /* offset + len overflows */
	r = (struct disk_req){.op = DISK_DISCARD, .offset = 0, .len = 0};
	assert_int_equal(disk_submit(f->d, &r), -EINVAL);
	r = (struct disk_req){.op = DISK_WRITE_ZEROES, .offset = UINT64_MAX, .len = 2};
	assert_int_equal(disk_submit(f->d, &r), -EINVAL);
	r = (struct disk_req){.op = (enum disk_op)99};
	assert_int_equal(disk_submit(f->d, &r), -EINVAL);
	assert_int_equal(f->ndone, 0);
	assert_int_equal(disk_room(f->d), 4);
}

/* The image shrank under us: a read past the new end fails with -EIO, nothing hangs. */
static void test_read_past_eof(void **state)
{
	struct fx *f = *state;
	uint8_t buf[1024];
	struct iovec iov = {buf, sizeof(buf)};
	struct disk_req r = {.op = DISK_READ, .offset = 4096 - 512, .iov = &iov, .iovcnt = 1};

	assert_int_equal(ftruncate(f->fd, 4096), 0);
	assert_int_equal(run(f, &r), -EIO);
	r.offset = 8192;
	assert_int_equal(run(f, &r), -EIO);
	assert_int_equal(disk_room(f->d), 4);
}

/* Depth bounds the requests in flight (io_uring; the synchronous backend never holds any). */
static void test_depth(void **state)
{
	struct fx *f = *state;
	uint8_t buf[5][512];
	struct iovec iov[5];
	struct disk_req r[5];

	for (int i = 0; i < 5; i++) {
		iov[i] = (struct iovec){buf[i], 512};
		r[i] = (struct disk_req){
		    .op = DISK_READ, .offset = (uint64_t)i * 512, .iov = &iov[i], .iovcnt = 1};
		r[i].cookie = &r[i];
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(disk_submit(f->d, &r[i]), 0);
	if (disk_is_async(f->d)) {
		assert_int_equal(disk_room(f->d), 0);
		assert_int_equal(disk_submit(f->d, &r[4]), -EBUSY);
		wait_done(f, 4);
	} else {
		assert_int_equal(f->ndone, 4);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(f->res[i], 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(buf[i][0], i);
	assert_int_equal(disk_room(f->d), 4);
}

static void test_open_errors(void **state)
{
	struct fx f = {.sync = true};

	strcpy(f.path, "/nonexistent/kiln-image");
	assert_int_equal(open_disk(&f, false, 4), -ENOENT);
	strcpy(f.path, "/dev/null");
	assert_int_equal(open_disk(&f, true, 4), -FILE_EKIND); /* a character device */
	strcpy(f.path, "/tmp");
	assert_int_equal(open_disk(&f, true, 4), -FILE_EKIND); /* a directory */
	assert_int_equal(open_disk(&f, true, 0), -EINVAL);     /* depth 0 */
	(void)state;
}

/* A size that is not a multiple of 512: the partial sector is not part of the disk. */
static void test_partial_sector(void **state)
{
	struct fx *f = *state;

	disk_close(f->d);
	assert_int_equal(ftruncate(f->fd, 4096 + 100), 0);
	assert_int_equal(open_disk(f, false, 4), 0);
	assert_int_equal(disk_sectors(f->d), 8);
}

#define BOTH(t)                                                                                    \
	cmocka_unit_test_setup_teardown(t, setup_sync, teardown),                                  \
	    cmocka_unit_test_setup_teardown(t, setup_uring, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_size_and_read),
	    BOTH(test_write_round_trip),
	    BOTH(test_discard_releases_blocks),
	    BOTH(test_write_zeroes),
	    BOTH(test_read_only),
	    BOTH(test_bad_requests),
	    BOTH(test_read_past_eof),
	    BOTH(test_depth),
	    BOTH(test_partial_sector),
	    cmocka_unit_test(test_write_zeroes_fallback_tmpfs),
	    cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
