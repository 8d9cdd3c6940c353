/* main.c — argv -> config -> vm -> run, with the main thread's event loop; no logic of its own. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "arch/x86/board.h"
#include "backend/term.h"
#include "config/config.h"
#include "core/event_loop.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "hv/kvm.h"
#include "util/log.h"

struct runner {
	struct vm *vm;
	struct term_escape esc;
	int sig_fd;
	bool stdin_watched;
	uint8_t pending[256]; /* console input the UART has not taken yet */
	size_t pending_len;
};

static void usage(FILE *out)
{
	fputs("usage: kiln run [options]   boot a VM (kiln run --help lists the options)\n"
	      "       kiln --version\n"
	      "       kiln --help\n",
	      out);
}

static void on_stop(void *ctx, int fd, uint32_t events)
{
	struct runner *r = ctx;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("stop eventfd read: %s", strerror(errno));
	event_loop_stop(&r->vm->loop);
}

static void on_signal(void *ctx, int fd, uint32_t events)
{
	struct runner *r = ctx;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("signal %u: stopping the VM", si.ssi_signo);
	vm_request_stop(r->vm, VM_STOP_HOST, KILN_EXIT_OK);
}

/* Offer pending input to the console UART. stdin is watched only while nothing is pending, so
 * a guest that does not read its console holds input back instead of losing it. */
static void feed_pending(struct runner *r)
{
	size_t took = board_console_input(r->vm, r->pending, r->pending_len);

	memmove(r->pending, r->pending + took, r->pending_len - took);
	r->pending_len -= took;
	if (r->stdin_watched &&
	    event_loop_mod(&r->vm->loop, STDIN_FILENO, r->pending_len ? 0 : EPOLLIN) < 0)
		log_debug("stdin: epoll_ctl failed");
}

/* The console UART has room again. */
static void on_console_space(void *ctx, int fd, uint32_t events)
{
	struct runner *r = ctx;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("console eventfd read: %s", strerror(errno));
	if (r->pending_len)
		feed_pending(r);
}

static void on_stdin(void *ctx, int fd, uint32_t events)
{
	struct runner *r = ctx;
	bool quit = false;
	ssize_t n;

	(void)events;
	if (r->pending_len)
		return; /* not watched while input is pending; a stale event */
	/* one byte spare: term_escape_filter may put back a held Ctrl-A */
	n = read(fd, r->pending, sizeof(r->pending) - 1);
	if (n <= 0) { /* EOF or error: stop reading, the VM keeps running */
		if (event_loop_del(&r->vm->loop, fd) == 0)
			r->stdin_watched = false;
		return;
	}
	r->pending_len = term_escape_filter(&r->esc, r->pending, (size_t)n, &quit);
	if (quit) {
		vm_request_stop(r->vm, VM_STOP_HOST, KILN_EXIT_OK);
		return;
	}
	feed_pending(r);
}

static int setup_signals(struct runner *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	r->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sig_fd < 0)
		return -errno;
	return event_loop_add(&r->vm->loop, r->sig_fd, EPOLLIN, on_signal, r);
}

/* A serial port on stdio: main feeds it stdin. */
static bool serial_on_stdio(const struct vm_config *c)
{
	return c->com1.mode == SERIAL_STDIO || c->com2.mode == SERIAL_STDIO;
}

/* Anything on stdio (a serial port, or the virtio console, which reads stdin itself): the
 * terminal goes to raw mode. */
static bool uses_stdin(const struct vm_config *c)
{
	return serial_on_stdio(c) || c->vconsole.mode == VCONSOLE_STDIO;
}

/* Boot one VM and run it until it stops. Returns kiln's exit status; *reset set if the guest
 * asked for a reset. */
static int run_once(const struct vm_config *cfg, struct kvm_sys *kvm, bool *reset)
{
	struct runner r = {.sig_fd = -1};
	int ret, status;

	*reset = false;
	ret = vm_create(cfg, kvm, &r.vm);
	if (ret < 0)
		return ret == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST;
	if (setup_signals(&r) < 0 ||
	    event_loop_add(&r.vm->loop, r.vm->stop_efd, EPOLLIN, on_stop, &r) < 0) {
		log_err("event loop set-up failed");
		status = KILN_EXIT_HOST;
		goto out;
	}
	if (serial_on_stdio(cfg) &&
	    event_loop_add(&r.vm->loop, STDIN_FILENO, EPOLLIN, on_stdin, &r) == 0) {
		r.stdin_watched = true;
		if (event_loop_add(&r.vm->loop, board_console_rx_fd(r.vm), EPOLLIN,
				   on_console_space, &r) < 0)
			log_warn("console: input flow control unavailable");
	}
	ret = vm_start(r.vm);
	if (ret == 0)
		ret = event_loop_run(&r.vm->loop);
	if (ret < 0)
		vm_request_stop(r.vm, VM_STOP_HOST, KILN_EXIT_HOST);
	status = vm_join(r.vm);
	*reset = r.vm->stop_reason == VM_STOP_RESET;
out:
	vm_destroy(r.vm);
	if (r.sig_fd >= 0)
		close(r.sig_fd);
	return status;
}

static int cmd_run(int argc, char **argv)
{
	struct vm_config cfg;
	struct kvm_sys kvm;
	char err[256];
	bool reset;
	int ret, status;

	config_defaults(&cfg);
	ret = config_parse_run(&cfg, argc, argv, err, sizeof(err));
	if (ret == 1)
		return KILN_EXIT_OK;
	if (ret < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		return KILN_EXIT_USAGE;
	}
	log_set_level(cfg.verbosity >= 2 ? LOG_DEBUG : cfg.verbosity ? LOG_INFO : LOG_WARN);
	/* A serial sink whose reader went away is a write error, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	if (vcpu_signals_init() < 0 || kvm_sys_open(&kvm) < 0)
		return KILN_EXIT_HOST;
	if (uses_stdin(&cfg)) {
		ret = term_raw_enable(STDIN_FILENO);
		if (ret < 0 && ret != -ENOTTY)
			log_warn("console: cannot set raw mode: %s", strerror(-ret));
	}
	do {
		status = run_once(&cfg, &kvm, &reset);
		if (reset && cfg.on_reset == RESET_RESTART)
			log_info("guest reset: restarting");
	} while (reset && cfg.on_reset == RESET_RESTART);
	term_restore();
	kvm_sys_close(&kvm);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("kiln: no command given (usage: kiln run [options] | kiln --version | kiln "
		      "--help)\n",
		      stderr);
		return KILN_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("kiln %s\n", KILN_VERSION);
		return KILN_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return KILN_EXIT_OK;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	fprintf(stderr, "kiln: unknown command '%s' (see kiln --help)\n", argv[1]);
	return KILN_EXIT_USAGE;
}
