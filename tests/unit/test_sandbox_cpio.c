/* test_sandbox_cpio.c — the newc writer: every entry kind parsed back, names, limits, a file
 * that shrinks while copied. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cpio_read.h"
#include "sandbox/cpio.h"

static int memfd(void)
{
	int fd = memfd_create("test-cpio", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void test_round_trip(void **st)
{
	static const char data[] = "hello, initramfs";
	int fd = memfd(), src = memfd();
	struct cpio_writer w;
	struct cpio_ent *e;
	uint8_t *buf;
	size_t len, n;

	(void)st;
	assert_int_equal(write(src, "0123456789abcdef!", 17), 17);
	cpio_writer_init(&w, fd, 1 << 20);
	assert_int_equal(cpio_add_dir(&w, "usr", 0755, 1234), 0);
	assert_int_equal(cpio_add_data(&w, "usr/f", 0644, 99, data, sizeof(data) - 1), 0);
	assert_int_equal(cpio_add_symlink(&w, "lib64", "usr/lib64"), 0);
	assert_int_equal(cpio_add_chardev(&w, "console", 0600, 5, 1), 0);
	assert_int_equal(cpio_add_file(&w, "usr/g", 04755, 7, src, 17), 0);
	assert_int_equal(cpio_add_data(&w, "empty", 0600, 0, NULL, 0), 0);
	assert_int_equal(cpio_finish(&w), 0);
	buf = cpio_slurp(fd, &len);
	assert_non_null(buf);
	assert_int_equal(len, w.off);
	assert_int_equal(len % 4, 0);
	assert_int_equal(cpio_read(buf, len, &e, &n), 0);
	assert_int_equal(n, 7);
	assert_string_equal(e[0].name, "usr");
	assert_int_equal(e[0].mode, S_IFDIR | 0755);
	assert_int_equal(e[0].mtime, 1234);
	assert_int_equal(e[0].nlink, 2);
	assert_int_equal(e[1].mode, S_IFREG | 0644);
	assert_int_equal(e[1].size, sizeof(data) - 1);
	assert_memory_equal(e[1].data, data, sizeof(data) - 1);
	assert_int_equal(e[2].mode, S_IFLNK | 0777);
	assert_int_equal(e[2].size, 9);
	assert_memory_equal(e[2].data, "usr/lib64", 9);
	assert_int_equal(e[3].mode, S_IFCHR | 0600);
	assert_int_equal(e[3].rdev_major, 5);
	assert_int_equal(e[3].rdev_minor, 1);
	assert_int_equal(e[4].mode, S_IFREG | 04755);
	assert_memory_equal(e[4].data, "0123456789abcdef!", 17);
	assert_int_equal(e[5].size, 0);
	assert_string_equal(e[6].name, CPIO_TRAILER);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(e[i].ino, i + 1); /* distinct inodes: no hard links */
	free(e);
	free(buf);
	close(fd);
	close(src);
}

static void test_bad_names(void **st)
{
	char *longname = malloc(CPIO_NAME_MAX + 1);
	struct cpio_writer w;
	int fd = memfd();

	(void)st;
	memset(longname, 'a', CPIO_NAME_MAX);
	longname[CPIO_NAME_MAX] = '\0';
	cpio_writer_init(&w, fd, 1 << 20);
	assert_int_equal(cpio_add_dir(&w, "", 0755, 0), -EINVAL);
	assert_int_equal(cpio_add_dir(&w, "/abs", 0755, 0), -EINVAL);
	assert_int_equal(cpio_add_data(&w, longname, 0644, 0, "x", 1), -EINVAL);
	longname[CPIO_NAME_MAX - 1] = '\0'; /* 4095 bytes and the NUL: the most allowed */
	assert_int_equal(cpio_add_data(&w, longname, 0644, 0, "x", 1), 0);
	assert_int_equal(cpio_add_data(&w, CPIO_TRAILER, 0644, 0, "x", 1), -EINVAL);
	assert_int_equal(cpio_add_symlink(&w, "l", ""), -EINVAL);
	free(longname);
	close(fd);
}

static void test_limit(void **st)
{
	struct cpio_writer w;
	uint8_t big[600] = {0};
	int fd = memfd();

	(void)st;
	cpio_writer_init(&w, fd, 1024);
	assert_int_equal(cpio_add_data(&w, "a", 0644, 0, big, 600), 0);
	/* Another 600 bytes do not fit, the trailer's room kept: nothing is written. */
	assert_int_equal(cpio_add_data(&w, "b", 0644, 0, big, 600), -EFBIG);
	assert_int_equal(w.off, 110 + 2 + 600); /* header, "a\0" (aligned), data */
	assert_int_equal(cpio_finish(&w), 0);
	assert_true(w.off <= 1024);
	close(fd);
}

static void test_file_shrank(void **st)
{
	struct cpio_writer w;
	int fd = memfd(), src = memfd();

	(void)st;
	assert_int_equal(write(src, "abc", 3), 3);
	cpio_writer_init(&w, fd, 1 << 20);
	assert_int_equal(cpio_add_file(&w, "f", 0644, 0, src, 10), -EIO);
	assert_int_equal(cpio_add_file(&w, "g", 0644, 0, -1, 10), -EBADF);
	close(fd);
	close(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_file_shrank),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
