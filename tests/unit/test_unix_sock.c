/* test_unix_sock.c — util/unix_sock.h: the listener's rule for an existing path (stale socket
 * replaced; live socket, full backlog and regular file refused), path length, connect. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/unix_sock.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/kiln-unix-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/s", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A socket bound at path by hand, listening or not: what another process would leave. */
static int bound_socket(const char *path, int backlog)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(a.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

/* One byte from a client to the server listening on lfd. */
static void check_serves(int lfd, const char *path)
{
	int c = unix_connect(path, 0, 5), s;
	char b = 0;

	assert_true(c >= 0);
	s = accept(lfd, NULL, NULL);
	assert_true(s >= 0);
	assert_int_equal(write(c, "x", 1), 1);
	assert_int_equal(read(s, &b, 1), 1);
	assert_int_equal(b, 'x');
	close(s);
	close(c);
}

static void test_new_path(void **state)
{
	struct fx *f = *state;
	struct stat st;
	int fd = unix_listen(f->path, 4, 0);

	assert_true(fd >= 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	check_serves(fd, f->path);
	close(fd);
	fd = unix_listen(f->path, 4, SOCK_NONBLOCK); /* stale now: replaced */
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

/* The path appears already listening (bound under a temporary name, then linked): nothing but
 * the socket is left in the directory. */
static void test_appears_listening(void **state)
{
	struct fx *f = *state;
	char cmd[160];
	int fd = unix_listen(f->path, 4, 0), entries;
	FILE *p;

	assert_true(fd >= 0);
	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", f->dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &entries), 1);
	pclose(p);
	assert_int_equal(entries, 1); /* no temporary name left behind */
	check_serves(fd, f->path);
	close(fd);
}

static void test_stale_socket_replaced(void **state)
{
	struct fx *f = *state;
	int old = bound_socket(f->path, 1), fd;

	close(old); /* its server died: the file stays, connect() is refused */
	assert_int_equal(unix_connect(f->path, 0, 0), -ECONNREFUSED);
	fd = unix_listen(f->path, 4, 0);
	assert_true(fd >= 0);
	check_serves(fd, f->path);
	close(fd);
}

static void test_bound_not_listening_is_stale(void **state)
{
	struct fx *f = *state;
	int other = bound_socket(f->path, -1), fd;

	fd = unix_listen(f->path, 4, 0);
	assert_true(fd >= 0);
	close(fd);
	close(other);
}

static void test_live_socket_refused(void **state)
{
	struct fx *f = *state;
	int live = unix_listen(f->path, 4, 0), probe;
	char b;

	assert_true(live >= 0);

	assert_int_equal(unix_listen(f->path, 4, 0), -EADDRINUSE);
	assert_string_equal(unix_sock_strerror(-EADDRINUSE), "in use by a running process");
	probe =
	    accept(live, NULL, NULL); /* the server saw the check: a connection closed at once */
	assert_true(probe >= 0);
	assert_int_equal(read(probe, &b, 1), 0);
	close(probe);
	check_serves(live, f->path); /* and serves on undisturbed */
	close(live);
}

static void test_full_backlog_is_live(void **state)
{
	struct fx *f = *state;
	int live = bound_socket(f->path, 0), c1, c2;

	/* Backlog 0: one connection waits unaccepted, the next would block. */
	c1 = unix_connect(f->path, SOCK_NONBLOCK, 0);
	assert_true(c1 >= 0);
	c2 = unix_connect(f->path, SOCK_NONBLOCK, 0);
	if (c2 >= 0) { /* the kernel queued it too: fill until it would block */
		close(c2);
		skip();
	}
	assert_int_equal(c2, -EAGAIN);
	assert_int_equal(unix_listen(f->path, 4, 0), -EADDRINUSE);
	close(c1);
	close(live);
}

static void test_regular_file_refused(void **state)
{
	struct fx *f = *state;
	struct stat st;
	int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(unix_listen(f->path, 4, 0), -EEXIST);
	assert_string_equal(unix_sock_strerror(-EEXIST), "exists and is not a socket");
	assert_int_equal(stat(f->path, &st), 0); /* left alone */
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);
}

static void test_directory_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(unix_listen(f->path, 4, 0), -EEXIST);
	assert_int_equal(rmdir(f->path), 0);
}

static void test_path_length(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un a;
	char longp[sizeof(a.sun_path) + 1];

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0; /* 108 bytes: no room for the NUL */
	assert_int_equal(unix_listen(longp, 4, 0), -ENAMETOOLONG);
	assert_int_equal(unix_connect(longp, 0, 0), -ENAMETOOLONG);
	assert_non_null(strstr(unix_sock_strerror(-ENAMETOOLONG), "too long"));
	assert_int_equal(unix_listen("", 4, 0), -EINVAL);
	(void)f;
}

static void test_missing_dir_and_socket(void **state)
{
	struct fx *f = *state;
	char p[160];

	snprintf(p, sizeof(p), "%s/nodir/s", f->dir);
	assert_int_equal(unix_listen(p, 4, 0), -ENOENT);
	assert_int_equal(unix_connect(f->path, 0, 0), -ENOENT);
	assert_string_equal(unix_sock_strerror(-ENOENT), strerror(ENOENT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_appears_listening, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bound_not_listening_is_stale, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_live_socket_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_backlog_is_live, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_regular_file_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_directory_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_path_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_dir_and_socket, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
