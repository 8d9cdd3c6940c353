/* init.c — kiln sandbox's init, PID 1 of the guest: mounts proc, sysfs, devtmpfs and /tmp, runs
 * the command kiln packed into the initramfs with stdout on virtio-console and stderr on COM1,
 * reports its fate on the control channel (COM2) and powers the VM off. A static guest program
 * built with the system gcc (src/sandbox/meson.build) and embedded into kiln; see protocol.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "protocol.h"
#include "util/io.h"

/* The consoles CMD and kiln see. */
struct consoles {
	int out; /* CMD's stdout */
	int err; /* CMD's stderr, and this program's messages */
	int ctl; /* the control channel */
};

/* A NUL-separated list read from the initramfs, as a NULL-terminated vector. */
struct strv {
	char *buf;
	char **v;
	size_t n;
};

static int msg_fd = 2; /* /dev/console from the kernel, until COM1 is open */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line "kiln-init: ..." on stderr (the kernel console). */
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "kiln-init: ");

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(msg_fd, buf, (size_t)n) < 0)
		return;
}

/* An event line on the control channel, out before this returns. */
static void report(int fd, const char *event, int value, int with_value)
{
	char line[SANDBOX_CTL_LINE_MAX + 2];
	int n = with_value ? snprintf(line, sizeof(line), SANDBOX_CTL_TAG " %s %d\n", event, value)
			   : snprintf(line, sizeof(line), SANDBOX_CTL_TAG " %s\n", event);

	if (fd < 0)
		return;
	if (io_write_all(fd, line, (size_t)n) == 0)
		tcdrain(fd);
}

/* After the final event nothing the kernel says matters to kiln's user: keep its shutdown lines
 * ("reboot: Power down") off the console, which is kiln's stderr. */
static void console_quiet(void)
{
	int fd = open("/proc/sys/kernel/printk", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (io_write_all(fd, "0\n", 2) < 0)
			say("cannot quiet the kernel console");
		close(fd);
	}
}

/* Never returns: power off (kiln's ACPI S5); if that fails, wait for kiln to stop the VM. */
static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	say("power-off failed: %s", strerror(errno));
	for (;;)
		pause();
}

static int dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return 1;
	while (empty && (de = readdir(d)) != NULL)
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

static void mount_one(const char *type, const char *dir, unsigned long flags, const char *data)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		say("mkdir %s: %s", dir, strerror(errno));
	if (mount(type, dir, type, flags, data) < 0)
		say("mount %s on %s: %s", type, dir, strerror(errno));
}

static void mount_all(void)
{
	mount_one("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_one("sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_one("devtmpfs", "/dev", MS_NOSUID, "mode=0755");
	/* CMD or a library may live under the host's /tmp: then the archive's /tmp stays. */
	if (dir_empty("/tmp"))
		mount_one("tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777");
}

/* Open a tty for writing and make it raw: bytes pass unchanged (no \n -> \r\n). */
static int open_tty(const char *path)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;

	if (fd >= 0 && tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		if (tcsetattr(fd, TCSANOW, &t) < 0)
			say("%s: cannot make it raw: %s", path, strerror(errno));
	}
	return fd;
}

static int open_consoles(struct consoles *c)
{
	c->err = open_tty(SANDBOX_DEV_ERR);
	if (c->err >= 0)
		msg_fd = c->err;
	else
		c->err = 2;
	c->out = open_tty(SANDBOX_DEV_OUT);
	if (c->out < 0) {
		say("%s: %s; CMD's stdout goes to %s", SANDBOX_DEV_OUT, strerror(errno),
		    SANDBOX_DEV_OUT_ALT);
		c->out = open_tty(SANDBOX_DEV_OUT_ALT);
	}
	c->ctl = open_tty(SANDBOX_DEV_CTL);
	if (c->ctl < 0)
		say("%s (the control channel): %s", SANDBOX_DEV_CTL, strerror(errno));
	return c->ctl >= 0 && c->out >= 0 ? 0 : -1;
}

/* Read a NUL-separated list (at most SANDBOX_ARGV_MAX_BYTES) into a vector. */
static int read_strv(const char *path, struct strv *s)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t len, k = 0;
	int ret;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_size > SANDBOX_ARGV_MAX_BYTES ||
	    !(s->buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -1;
	}
	len = (size_t)st.st_size;
	ret = io_read_all(fd, s->buf, len);
	close(fd);
	if (ret < 0)
		return -1;
	s->buf[len] = '\0';
	s->n = 0;
	for (size_t i = 0; i < len; i++)
		s->n += s->buf[i] == '\0';
	if (s->n > SANDBOX_ARGV_MAX_ARGS || (len > 0 && s->buf[len - 1] != '\0'))
		return -1;
	s->v = calloc(s->n + 1, sizeof(char *));
	if (!s->v)
		return -1;
	for (size_t i = 0; i < len; i += strlen(s->buf + i) + 1)
		s->v[k++] = s->buf + i;
	return 0;
}

/* In the child: stdio, a session of its own, then CMD. Sends errno down err_pipe on failure. */
static void child(const struct consoles *c, const char *exe, struct strv *argv, struct strv *env,
		  int err_pipe)
{
	int null = open("/dev/null", O_RDONLY);
	int e;

	setsid();
	if (null < 0 || dup2(null, 0) < 0 || dup2(c->out, 1) < 0 || dup2(c->err, 2) < 0 ||
	    chdir("/") < 0) {
		e = errno;
	} else {
		execve(exe, argv->v, env->v);
		e = errno;
	}
	if (io_write_all(err_pipe, &e, sizeof(e)) < 0)
		say("cannot report the exec error: %s", strerror(e));
	_exit(127);
}

/* Wait for CMD, reaping anything else that dies meanwhile (we are PID 1). */
static int wait_cmd(pid_t pid)
{
	int st;

	for (;;) {
		pid_t r = waitpid(-1, &st, 0);

		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR) {
			say("waitpid: %s", strerror(errno));
			return -1;
		}
	}
}

/* Run CMD; its fate on the control channel. */
static void run(const struct consoles *c, const char *exe, struct strv *argv, struct strv *env)
{
	int p[2], e = 0, st;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		report(c->ctl, SANDBOX_CTL_START, 0, 0);
		report(c->ctl, SANDBOX_CTL_EXEC_ERROR, errno, 1);
		return;
	}
	report(c->ctl, SANDBOX_CTL_START, 0, 0);
	pid = fork();
	if (pid == 0)
		child(c, exe, argv, env, p[1]);
	close(p[1]);
	if (pid < 0) {
		report(c->ctl, SANDBOX_CTL_EXEC_ERROR, errno, 1);
		console_quiet();
		return;
	}
	/* EOF: execve succeeded (the pipe closed on exec); else the child's errno. */
	while (read(p[0], &e, sizeof(e)) < 0 && errno == EINTR)
		;
	close(p[0]);
	st = wait_cmd(pid);
	tcdrain(c->out);
	tcdrain(c->err);
	sync(); /* CMD's writes to disks are on them before kiln learns the status */
	if (e > 0)
		report(c->ctl, SANDBOX_CTL_EXEC_ERROR, e, 1);
	else if (st >= 0 && WIFEXITED(st))
		report(c->ctl, SANDBOX_CTL_EXIT, WEXITSTATUS(st), 1);
	else if (st >= 0 && WIFSIGNALED(st))
		report(c->ctl, SANDBOX_CTL_SIGNAL, WTERMSIG(st), 1);
	else
		return;
	console_quiet();
}

int main(void)
{
	struct strv argv = {0}, env = {0}, exe = {0};
	struct consoles c;

	mount_all();
	if (open_consoles(&c) < 0)
		power_off(); /* no start line: kiln reports that CMD never started */
	if (read_strv("/" SANDBOX_EXE, &exe) < 0 || exe.n != 1 ||
	    read_strv("/" SANDBOX_ARGV, &argv) < 0 || argv.n == 0 ||
	    read_strv("/" SANDBOX_ENV, &env) < 0) {
		say("the initramfs lacks a valid /%s, /%s or /%s", SANDBOX_EXE, SANDBOX_ARGV,
		    SANDBOX_ENV);
		power_off();
	}
	run(&c, exe.v[0], &argv, &env);
	power_off();
}
