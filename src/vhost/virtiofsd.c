/* virtiofsd.c — start, wait for and stop the virtiofsd a virtio-fs device with dir= uses. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unix_sock.h"
#include "vhost/virtiofsd.h"

const char *virtiofsd_path(void)
{
	const char *p = getenv("KILN_VIRTIOFSD");

	return p && *p ? p : VIRTIOFSD_DEFAULT;
}

static PRINTF(3, 4) int say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The child: its own process group (a terminal's Ctrl+C is kiln's to handle), no blocked
 * signals (kiln blocks those it reads from a signalfd), gone when kiln goes. Only
 * async-signal-safe calls between fork and exec. */
static void child(pid_t parent, const char *bin, char *const argv[])
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(127);
	execv(bin, argv);
	_exit(127);
}

static int spawn(struct virtiofsd *d, const char *shared, char *why, size_t whylen)
{
	char sock_arg[CONFIG_SOCK_MAX + 16], src_arg[CONFIG_PATH_MAX + 16];
	const char *bin = virtiofsd_path();
	char *const argv[] = {(char *)bin, sock_arg,	     "-o", src_arg, "-o", "cache=auto",
			      "-o",	   "log_level=warn", NULL};
	pid_t parent = getpid();

	if (access(bin, X_OK) < 0)
		return say(why, whylen,
			   "%s: %s (install qemu-system-common, or set KILN_VIRTIOFSD)", bin,
			   strerror(errno)),
		       -ENOENT;
	snprintf(sock_arg, sizeof(sock_arg), "--socket-path=%s", d->sock);
	snprintf(src_arg, sizeof(src_arg), "source=%s", shared);
	d->pid = fork();
	if (d->pid < 0) {
		d->pid = 0;
		return say(why, whylen, "fork: %s", strerror(errno)), -EAGAIN;
	}
	if (d->pid == 0)
		child(parent, bin, argv);
	return 0;
}

/* Whether the child ended (reaped); its status in words in why. */
static bool exited(struct virtiofsd *d, char *why, size_t whylen)
{
	int st;

	if (waitpid(d->pid, &st, WNOHANG) != d->pid)
		return false;
	d->pid = 0;
	if (WIFEXITED(st))
		say(why, whylen, "%s exited with status %d before its socket was ready",
		    virtiofsd_path(), WEXITSTATUS(st));
	else
		say(why, whylen, "%s was killed by signal %d before its socket was ready",
		    virtiofsd_path(), WTERMSIG(st));
	return true;
}

/* Connect to the child's socket once it listens. */
static int wait_ready(struct virtiofsd *d, int *fd, char *why, size_t whylen)
{
	for (long waited = 0; waited < VIRTIOFSD_WAIT_MS; waited += 10) {
		int s = unix_connect(d->sock, 0, 0);

		if (s >= 0) {
			*fd = s;
			return 0;
		}
		if (exited(d, why, whylen))
			return -ECHILD;
		if (s != -ENOENT && s != -ECONNREFUSED) {
			say(why, whylen, "%s: %s", d->sock, unix_sock_strerror(s));
			return s;
		}
		sleep_ms(10);
	}
	say(why, whylen, "%s: no socket at %s after %d ms", virtiofsd_path(), d->sock,
	    VIRTIOFSD_WAIT_MS);
	return -ETIMEDOUT;
}

static int make_rundir(struct virtiofsd *d, char *why, size_t whylen)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(d->rundir, sizeof(d->rundir), "%s/kiln-virtiofsd-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");

	if (n < 0 || (size_t)n >= sizeof(d->rundir)) {
		d->rundir[0] = 0;
		return say(why, whylen, "TMPDIR too long for a socket path"), -ENAMETOOLONG;
	}
	if (!mkdtemp(d->rundir)) {
		int e = errno;

		say(why, whylen, "%s: %s", d->rundir, strerror(e));
		d->rundir[0] = 0;
		return -e;
	}
	snprintf(d->sock, sizeof(d->sock), "%s/vhost.sock", d->rundir);
	return 0;
}

int virtiofsd_start(struct virtiofsd *d, const char *shared, int *fd, char *why, size_t whylen)
{
	int ret;

	memset(d, 0, sizeof(*d));
	ret = make_rundir(d, why, whylen);
	if (ret == 0)
		ret = spawn(d, shared, why, whylen);
	if (ret == 0)
		ret = wait_ready(d, fd, why, whylen);
	if (ret < 0)
		virtiofsd_stop(d);
	else
		log_info("virtiofsd %d serves %s on %s", (int)d->pid, shared, d->sock);
	return ret;
}

/* SIGTERM, then SIGKILL after 2 s; reaped either way. */
static void terminate(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		sleep_ms(10);
	}
	log_warn("virtiofsd %d ignored SIGTERM: killing it", (int)pid);
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

void virtiofsd_stop(struct virtiofsd *d)
{
	if (d->pid > 0)
		terminate(d->pid);
	d->pid = 0;
	if (d->sock[0])
		unlink(d->sock);
	if (d->rundir[0])
		rmdir(d->rundir);
	d->sock[0] = d->rundir[0] = 0;
}
