/* sandbox.c — `kiln sandbox`: packs CMD into an in-memory initramfs, boots the kernel with CMD's
 * output wired to kiln's, follows the control channel on the main loop and exits with CMD's
 * status (or says why there is none). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "backend/chardev.h"
#include "core/vmm.h"
#include "sandbox/args.h"
#include "sandbox/ctl.h"
#include "sandbox/initramfs.h"
#include "sandbox/sandbox.h"
#include "util/err.h"
#include "util/log.h"

/* kiln's guest init (src/sandbox/init.c), linked in by the build. */
extern const uint8_t kiln_sandbox_init_start[];
extern const uint8_t kiln_sandbox_init_end[];

#define INITRAMFS_MAX (1ULL << 30) /* far beyond any program's needs; the guest's RAM decides */
#define GRACE_S	      10	  /* after CMD's final event, the guest's power-off may take this */
#define CTL_READ_MAX  (64 * 1024) /* bytes read from the channel per loop round */

struct sandbox {
	struct sandbox_args args;
	struct vmm m;
	struct sandbox_ctl ctl;
	char exe[CONFIG_PATH_MAX];
	int initrd_fd;
	int err_fd;	    /* COM1's sink: a non-blocking copy of stderr, or stderr itself */
	int ctl_rd, ctl_wr; /* the control channel: COM2 writes, the main loop reads */
	int timeout_fd;	    /* --timeout */
	int grace_fd;	    /* armed by the final event */
	bool timed_out;
};

/* --- the initramfs --- */

static int memfd_seal(int fd)
{
	return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
}

/* Build the initramfs into a sealed memfd; the VM's initrd is /proc/self/fd/N. */
static int initramfs_prepare(struct sandbox *s, struct sandbox_err *e)
{
	char *path_env = getenv("PATH");
	char path_var[CONFIG_PATH_MAX + 8];
	char *envp[] = {path_var, "HOME=/", "TERM=dumb", NULL};
	struct initramfs_input in = {.exe = s->exe,
				     .argv = s->args.cmd,
				     .envp = envp,
				     .init = kiln_sandbox_init_start,
				     .init_len =
					 (size_t)(kiln_sandbox_init_end - kiln_sandbox_init_start),
				     .ld_so_conf = "/etc/ld.so.conf",
				     .ld_so_cache = "/etc/ld.so.cache",
				     .path_env = path_env,
				     .max_len = INITRAMFS_MAX};
	struct archive_stats st;
	int ret;

	snprintf(path_var, sizeof(path_var), "PATH=%s",
		 path_env && strlen(path_env) < CONFIG_PATH_MAX
		     ? path_env
		     : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	s->initrd_fd = memfd_create("kiln-sandbox-initramfs", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (s->initrd_fd < 0)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -errno, "memfd_create: %s",
				    strerror(errno));
	ret = initramfs_build(&in, s->initrd_fd, &st, e);
	if (ret == 0 && memfd_seal(s->initrd_fd) < 0)
		ret = sandbox_fail(e, SANDBOX_EXIT_KILN, -errno, "sealing the initramfs: %s",
				   strerror(errno));
	if (ret == 0)
		log_info("initramfs: %u files (%llu KiB), %u links, %u directories", st.files,
			 (unsigned long long)(st.file_bytes >> 10), st.symlinks, st.dirs);
	return ret;
}

/* The machine: the flags' VM, the initramfs, COM1 -> stderr, COM2 -> the channel, the virtio
 * console -> stdout (output only), pvpanic; no debug-exit port (a guest could fake a status). */
static void vm_configure(struct sandbox *s, struct vm_config *c)
{
	*c = s->args.vm;
	snprintf(c->initrd_path, sizeof(c->initrd_path), "/proc/self/fd/%d", s->initrd_fd);
	c->com1 = (struct serial_config){.mode = SERIAL_FD,
					 .fd = s->err_fd >= 0 ? s->err_fd : STDERR_FILENO};
	c->com2 = (struct serial_config){.mode = SERIAL_FD, .fd = s->ctl_wr};
	c->vconsole = (struct vconsole_config){.mode = VCONSOLE_FD, .fd = STDOUT_FILENO};
#if defined(__x86_64__)
	c->pvpanic = true; /* the arm64 board has none: a panic there is a PSCI reset */
#endif
	c->debug_exit_port = 0;
	c->on_reset = RESET_STOP;
}

/* --- the main loop's side --- */

/* Arm a timer for secs seconds from now (> 0). */
static void timer_arm(int fd, double secs, const char *what)
{
	struct itimerspec t = {.it_value = {.tv_sec = (time_t)secs}};

	t.it_value.tv_nsec = (long)((secs - (double)t.it_value.tv_sec) * 1e9);
	if (t.it_value.tv_sec == 0 && t.it_value.tv_nsec == 0)
		t.it_value.tv_nsec = 1;
	if (timerfd_settime(fd, 0, &t, NULL) < 0)
		log_warn("%s timer: %s", what, strerror(errno));
}

static void on_ctl(void *ctx, int fd, uint32_t events)
{
	struct sandbox *s = ctx;
	uint8_t buf[4096];
	size_t total = 0;
	ssize_t n;

	(void)events;
	while (total < CTL_READ_MAX && (n = read(fd, buf, sizeof(buf))) > 0) {
		bool was_started = s->ctl.started;

		total += (size_t)n;
		if (sandbox_ctl_feed(&s->ctl, buf, (size_t)n))
			timer_arm(s->grace_fd, GRACE_S, "power-off grace");
		/* --timeout counts CMD's run time: from its start line */
		if (!was_started && s->ctl.started && s->args.timeout_s > 0 &&
		    s->ctl.state == SANDBOX_CTL_RUNNING)
			timer_arm(s->timeout_fd, s->args.timeout_s, "--timeout");
	}
}

static void timer_ack(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		log_debug("timerfd read: %s", strerror(errno));
}

static void on_timeout(void *ctx, int fd, uint32_t events)
{
	struct sandbox *s = ctx;

	(void)events;
	timer_ack(fd);
	if (!s->m.stop_signal)
		s->timed_out = true;
	vmm_request_stop(&s->m);
}

static void on_grace(void *ctx, int fd, uint32_t events)
{
	struct sandbox *s = ctx;

	(void)events;
	timer_ack(fd);
	log_warn("the guest did not power off within %d s after CMD ended: stopping it", GRACE_S);
	vmm_request_stop(&s->m);
}

/* With --timeout S, the boot (up to CMD's start line) may take max(S, SANDBOX_BOOT_MIN_S) s: a
 * slow or loaded host does not eat into CMD's S seconds, and a guest that never starts CMD is
 * still stopped. */
static int timers_start(struct sandbox *s)
{
	double boot_s =
	    s->args.timeout_s > SANDBOX_BOOT_MIN_S ? s->args.timeout_s : SANDBOX_BOOT_MIN_S;
	int ret;

	s->timeout_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->grace_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timeout_fd < 0 || s->grace_fd < 0)
		return -errno;
	if (s->args.timeout_s > 0)
		timer_arm(s->timeout_fd, boot_s, "--timeout");
	ret = event_loop_add(&s->m.loop, s->timeout_fd, EPOLLIN, on_timeout, s);
	if (ret == 0)
		ret = event_loop_add(&s->m.loop, s->grace_fd, EPOLLIN, on_grace, s);
	return ret;
}

/* COM1 and log lines are written from vCPU threads. On a blocking stderr that nobody reads, a
 * vCPU could never be stopped (--timeout, a signal): both get non-blocking copies, on which the
 * UART waits about a second per byte and then drops it (counted), and a log line is dropped. */
static void stderr_open(struct sandbox *s)
{
	int log_fd = chardev_nonblocking_copy(STDERR_FILENO, O_WRONLY);

	if (log_fd >= 0)
		log_set_output(log_fd, 0, 0);
	s->err_fd = chardev_nonblocking_copy(STDERR_FILENO, O_WRONLY);
	if (s->err_fd < 0) {
		log_warn("stderr: no non-blocking copy (%s): a stalled reader stalls the guest",
			 strerror(-s->err_fd));
		s->err_fd = -1;
	}
}

static int channel_open(struct sandbox *s)
{
	int p[2];

	/* Non-blocking both ways: a vCPU writing COM2 must never block forever on kiln. */
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	s->ctl_rd = p[0];
	s->ctl_wr = p[1];
	return 0;
}

/* Run the VM to its end. 0, or -errno when kiln itself failed (message logged). */
static int vm_run(struct sandbox *s)
{
	struct kiln_err e = {0};
	int ret;

	ret = vmm_init(&s->m);
	s->m.owner_reports_stop = true;
	if (ret == 0)
		ret = event_loop_add(&s->m.loop, s->ctl_rd, EPOLLIN, on_ctl, s);
	if (ret == 0)
		ret = timers_start(s);
	if (ret == 0) {
		vm_configure(s, &s->m.cfg);
		ret = vmm_start_vm(&s->m, &e);
	}
	if (ret < 0) {
		if (!e.msg[0]) /* none recorded: the set-up above, or deep in the board */
			log_err("cannot start the VM: %s", strerror(-ret));
		return ret;
	}
	(void)vmm_run(&s->m);
	if (s->m.stop_reason == VM_STOP_NONE) { /* the loop failed before the VM stopped */
		log_err("the event loop failed");
		return -EIO;
	}
	on_ctl(s, s->ctl_rd, EPOLLIN); /* what COM2 took before the VM stopped */
	sandbox_ctl_end(&s->ctl);
	return 0;
}

static int outcome(struct sandbox *s)
{
	struct sandbox_stop stop = {.reason = s->m.stop_reason,
				    .timed_out = s->timed_out,
				    .host_signal = s->m.stop_signal,
				    .timeout_text = s->args.timeout_text};
	char msg[SANDBOX_MSG_MAX];
	int status = sandbox_ctl_outcome(&s->ctl, &stop, msg, sizeof(msg));

	if (msg[0])
		fprintf(stderr, "kiln sandbox: %s\n", msg);
	return status;
}

static void sandbox_free(struct sandbox *s)
{
	int fds[] = {s->initrd_fd, s->err_fd, s->ctl_rd, s->ctl_wr, s->timeout_fd, s->grace_fd};

	vmm_destroy(&s->m); /* the VM first: it writes into ctl_wr and err_fd */
	log_set_output(-1, 0, 0);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(s);
}

/* Everything after the flags; the exit status. */
static int sandbox_run(struct sandbox *s)
{
	struct sandbox_err e = {0};
	int ret = initramfs_find_cmd(s->args.cmd[0], getenv("PATH"), s->exe, sizeof(s->exe), &e);

	if (ret == 0)
		ret = initramfs_prepare(s, &e);
	if (ret == 0 && channel_open(s) < 0)
		ret = sandbox_fail(&e, SANDBOX_EXIT_KILN, -errno, "pipe: %s", strerror(errno));
	if (ret == 0)
		stderr_open(s);
	if (ret < 0) {
		fprintf(stderr, "kiln sandbox: %s\n", e.msg);
		return e.status;
	}
	if (vm_run(s) < 0)
		return SANDBOX_EXIT_KILN;
	return outcome(s);
}

int sandbox_main(int argc, char **argv)
{
	struct sandbox *s = calloc(1, sizeof(*s));
	char err[512];
	int ret, status;

	if (!s) {
		fputs("kiln sandbox: out of memory\n", stderr);
		return SANDBOX_EXIT_KILN;
	}
	log_set_prefix("kiln sandbox");
	s->initrd_fd = s->err_fd = s->ctl_rd = s->ctl_wr = s->timeout_fd = s->grace_fd = -1;
	s->m.sig_fd = s->m.loop.epfd = s->m.kvm.fd = -1; /* vmm_destroy before vmm_init is safe */
	sandbox_ctl_init(&s->ctl);
	ret = sandbox_args_parse(&s->args, argc, argv, err, sizeof(err));
	if (ret != 0) {
		if (ret < 0)
			fprintf(stderr, "kiln sandbox: %s\n", err);
		free(s);
		return ret < 0 ? SANDBOX_EXIT_KILN : 0;
	}
	log_set_level(s->args.vm.verbosity >= 2 ? LOG_DEBUG
		      : s->args.vm.verbosity	? LOG_INFO
						: LOG_WARN);
	status = sandbox_run(s);
	sandbox_free(s);
	return status;
}
