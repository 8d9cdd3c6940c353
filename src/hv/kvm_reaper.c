/* kvm_reaper.c — a VM's last reference held by a reaper process, so that neither kiln's exit nor
 * what it does next waits for KVM's teardown of the VM. That teardown is ~15-25 ms here and nearly
 * all asleep: the in-kernel irqchip's I/O devices are unregistered one SRCU grace period at a
 * time and the PIT's kernel thread is stopped (bench/README.md, "What the figures taught").
 *
 * The reaper is a clone(CLONE_VM) child made right after KVM_CREATE_VM. It shares kiln's address
 * space (nothing is copied, now or on a later write), and has a file table of its own that holds
 * only the VM fd and the read end of a pipe. It blocks all signals, enters seccomp's strict mode
 * (read, write, exit) and reads the pipe. When kiln drops the VM (kvm_reaper_release from
 * vm_destroy) or exits, the pipe's last write end closes, the read returns 0, the reaper exits,
 * and the kernel's close of its VM fd — by then the VM's last reference — runs the teardown in
 * the reaper while kiln goes on. The reaper is never left holding a VM nobody uses: its pipe's
 * write end lives only in kiln (close-on-exec), so kiln's exit, however it happens, releases it.
 *
 * Written by hand because no library hands a file descriptor's last close to another process. The
 * reaper's calls are raw system calls (src/arch/ARCH/raw_syscall.h): it runs in a task glibc does
 * not know of, which shares kiln's memory, so it must not touch errno or any thread-local state. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/kvm.h"
#include "hv/kvm_reaper.h"

#if defined(__x86_64__)
#include "arch/x86/raw_syscall.h"
#elif defined(__aarch64__)
#include "arch/arm64/raw_syscall.h"
#endif

#define REAPER_STACK 16384
#define MAX_PENDING  8

/* Reapers released but not yet waited for: their stacks stay mapped until they have exited. */
static struct {
	pid_t pid;
	void *stack;
} pending[MAX_PENDING];
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

/* Close every descriptor of the reaper's own table but a and b. */
static void close_all_but(unsigned a, unsigned b)
{
	unsigned lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 0)
		raw_syscall4(SYS_close_range, 0, lo - 1, 0, 0);
	if (hi > lo + 1)
		raw_syscall4(SYS_close_range, lo + 1, hi - 1, 0, 0);
	raw_syscall4(SYS_close_range, hi + 1, ~0U, 0, 0);
}

/* The reaper: arg packs the VM fd (high 32 bits) and the pipe's read end (low 32 bits), so that
 * it reads nothing kiln may change. Never returns. */
static int reaper_main(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	unsigned vm_fd = (unsigned)(v >> 32), rfd = (unsigned)(v & 0xffffffffu);
	uint64_t all = ~0ULL;
	char c;

	raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, sizeof(all));
	close_all_but(vm_fd, rfd);
	raw_syscall4(SYS_prctl, PR_SET_NAME, (long)"kiln-reaper", 0, 0);
	raw_syscall4(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0, 0);
	while (raw_syscall4(SYS_read, rfd, (long)&c, 1, 0) > 0)
		;
	for (;;)
		raw_syscall4(SYS_exit, 0, 0, 0, 0);
	return 0;
}

/* Wait for the released reapers that have exited and unmap their stacks; with block, wait for
 * the oldest one too (the list is full). Under pending_lock. */
static void reap_pending(bool block)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		int opt = __WCLONE | (block && i == 0 ? 0 : WNOHANG);

		if (pending[i].pid <= 0 || waitpid(pending[i].pid, NULL, opt) == 0)
			continue;
		munmap(pending[i].stack, REAPER_STACK);
		pending[i].pid = 0;
	}
}

int kvm_reaper_start(struct kvm_reaper *r, int vm_fd)
{
	sigset_t all, old;
	int p[2], e;
	void *stack;
	uintptr_t arg;

	r->pid = 0;
	r->wfd = -1;
	pthread_mutex_lock(&pending_lock);
	reap_pending(false);
	pthread_mutex_unlock(&pending_lock);
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	stack = mmap(NULL, REAPER_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		e = errno;
		goto fail;
	}
	arg = ((uintptr_t)(unsigned)vm_fd << 32) | (unsigned)p[0];
	/* the reaper starts with every signal blocked: no handler of kiln's runs in it */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r->pid = clone(reaper_main, (char *)stack + REAPER_STACK, CLONE_VM, (void *)arg);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r->pid < 0) {
		munmap(stack, REAPER_STACK);
		goto fail;
	}
	close(p[0]);
	r->wfd = p[1];
	r->stack = stack;
	return 0;
fail:
	close(p[0]);
	close(p[1]);
	r->pid = 0;
	return -e;
}

void kvm_reaper_release(struct kvm_reaper *r)
{
	int slot = -1;

	if (r->pid <= 0)
		return;
	close(r->wfd);
	pthread_mutex_lock(&pending_lock);
	for (int i = 0; i < MAX_PENDING && slot < 0; i++)
		if (pending[i].pid <= 0)
			slot = i;
	if (slot < 0) {
		reap_pending(true);
		slot = 0;
	}
	pending[slot].pid = r->pid;
	pending[slot].stack = r->stack;
	pthread_mutex_unlock(&pending_lock);
	r->pid = 0;
	r->wfd = -1;
}
