/* install.c — the process's seccomp filters: readied once before the first VM starts, installed
 * per thread (seccomp(2) without TSYNC, so each kind of thread has its own), and the report of a
 * forbidden call: SECCOMP_RET_TRAP raises SIGSYS in the offending thread, whose handler writes
 * one line naming the call and the thread, then ends kiln. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backend/term.h"
#include "core/vm.h"
#include "seccomp/prebuilt.h"
#include "seccomp/rules.h"
#include "seccomp/seccomp.h"
#include "util/log.h"

#define MAX_NR SECCOMP_PREBUILT_NAMES /* system call numbers named in the report */

static struct {
	enum seccomp_mode mode;
	const char *file;
	int exit_status;
	bool prepared, vmm_installed;
	int prepare_ret;
	char prepare_err[256];
	struct seccomp_filters f;
	const char *names[MAX_NR]; /* resolved before any filter: the handler must not allocate */
} g = {.exit_status = KILN_EXIT_HOST};

static __thread char thread_label[32] = "main";

void seccomp_configure(enum seccomp_mode mode, const char *file, int exit_status)
{
	g.mode = mode;
	g.file = file;
	g.exit_status = exit_status;
}

bool seccomp_active(void)
{
	return g.prepared && g.prepare_ret == 0 && g.mode != SECCOMP_OFF;
}

/* Async-signal-safe appends for the report. */
static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long v)
{
	char tmp[24];
	size_t n = 0;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < sizeof(tmp));
	if (v < 0 && at + 1 < cap)
		buf[at++] = '-';
	while (n && at + 1 < cap)
		buf[at++] = tmp[--n];
	return at;
}

static size_t put_hex(char *buf, size_t at, size_t cap, unsigned long v)
{
	char tmp[20];
	size_t n = 0;

	do
		tmp[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) && n < sizeof(tmp));
	at = put(buf, at, cap, "0x");
	while (n && at + 1 < cap)
		buf[at++] = tmp[--n];
	return at;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	int nr = si->si_syscall;
	char line[256];
	size_t n = 0;

	(void)sig;
	n = put(line, n, sizeof(line), "kiln: seccomp: the ");
	n = put(line, n, sizeof(line), thread_label);
	n = put(line, n, sizeof(line), " thread made a system call its filter forbids: ");
	n = put(line, n, sizeof(line), nr >= 0 && nr < MAX_NR && g.names[nr] ? g.names[nr] : "?");
	n = put(line, n, sizeof(line), " (");
	n = put_num(line, n, sizeof(line), nr);
	if (nr == SCMP_SYS(ioctl)) {
		n = put(line, n, sizeof(line), ", request ");
		n = put_hex(line, n, sizeof(line), arch_seccomp_arg1(uc));
	}
	n = put(line, n, sizeof(line), "); stopping\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing left to tell it to */
	}
	term_restore();
	_exit(g.exit_status);
}

static int reporter_init(void)
{
	struct sigaction sa;

	for (int nr = 0; nr < MAX_NR; nr++) /* kept for the process's life */
		g.names[nr] = &seccomp_prebuilt
				  ? seccomp_prebuilt.names[nr]
				  : seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

static int load_filters(bool rebuild, char *err, size_t errlen)
{
	json_t *desc;
	int ret;

	if (g.mode == SECCOMP_FILE)
		return seccomp_file_read(g.file, &g.f, err, errlen);
	if (&seccomp_prebuilt) /* compiled when kiln was built (gen.c) */
		return seccomp_file_parse(seccomp_prebuilt.file[rebuild],
					  seccomp_prebuilt.len[rebuild], &g.f, err, errlen);
	desc = seccomp_builtin_json(rebuild);
	if (!desc)
		return -ENOMEM;
	ret = seccomp_compile(desc, &g.f, err, errlen);
	json_decref(desc);
	return ret;
}

int seccomp_prepare(bool rebuild, bool spawns, char *err, size_t errlen)
{
	if (g.prepared) {
		snprintf(err, errlen, "%s", g.prepare_err);
		return g.prepare_ret;
	}
	g.prepared = true;
	if (g.mode == SECCOMP_OFF)
		return 0;
	/* the RTC's gmtime_r reads the time zone once: now, not on a vCPU thread that may not
	 * open files */
	tzset();
	if (rebuild && spawns) {
		g.prepare_ret = -EINVAL;
		snprintf(g.prepare_err, sizeof(g.prepare_err),
			 "--on-reset restart with an --fs device needs --no-seccomp: a restart "
			 "starts virtiofsd again, which the VMM thread's filter forbids");
	} else {
		g.prepare_ret = load_filters(rebuild, g.prepare_err, sizeof(g.prepare_err));
	}
	if (g.prepare_ret == 0 && (g.prepare_ret = reporter_init()) < 0)
		snprintf(g.prepare_err, sizeof(g.prepare_err), "seccomp: SIGSYS handler: %s",
			 strerror(-g.prepare_ret));
	snprintf(err, errlen, "%s", g.prepare_err);
	return g.prepare_ret;
}

bool seccomp_vmm_installed(void)
{
	return seccomp_active() && g.vmm_installed;
}

int seccomp_enter(enum seccomp_thread t, const char *name)
{
	struct sock_fprog prog;
	sigset_t sys;

	if (!seccomp_active() || (t == SECCOMP_VMM && g.vmm_installed))
		return 0;
	snprintf(thread_label, sizeof(thread_label), "%s", name);
	prog.len = (unsigned short)g.f.prog[t].len;
	prog.filter = g.f.prog[t].insns;
	/* SIGSYS must reach the handler: a blocked one would kill kiln without the report */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		int e = errno;

		log_err("seccomp: installing the %s thread's filter: %s", seccomp_thread_name(t),
			strerror(e));
		return -e;
	}
	if (t == SECCOMP_VMM)
		g.vmm_installed = true;
	return 0;
}
