/* vcpu.c — the vCPU thread: KVM_RUN, exit dispatch, and parking while the VM is paused. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/exit.h"
#include "core/board.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "hv/kvm.h"
#include "seccomp/seccomp.h"
#include "util/log.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig; /* only here to interrupt KVM_RUN with EINTR */
}

int vcpu_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0) {
		log_err("sigaction: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int vcpu_create(struct vcpu *v, uint32_t kvm_id)
{
	return kvm_vcpu_create(v->vm->kvm, v->vm->fd, kvm_id, &v->fd, &v->run);
}

void vcpu_kick(struct vcpu *v)
{
	/* immediate_exit covers a kick that lands just before KVM_RUN; the signal one inside it. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

/* Let KVM finish an I/O instruction whose exit was handled, without entering the guest
 * (KVM_RUN with immediate_exit completes pending I/O, then returns EINTR). */
static void complete_io(struct vcpu *v)
{
	int ret;

	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	ret = kvm_vcpu_run(v->fd);
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
		log_warn("vCPU %u: completing I/O before parking: %s", v->index, strerror(-ret));
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	v->io_pending = false;
}

/* Wait while the VM is still being built (CREATED) and park while PAUSED; return whether the
 * vCPU should enter the guest (false: stop). */
static bool wait_runnable(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool run;

	pthread_mutex_lock(&vm->lock);
	while (vm->state == VM_CREATED || vm->state == VM_PAUSED) {
		if (vm->state == VM_CREATED) { /* not parked: vm_start_paused counts those */
			pthread_cond_wait(&vm->state_cond, &vm->lock);
			continue;
		}
		if (v->io_pending) { /* before counting as parked: vm_pause's caller reads state */
			pthread_mutex_unlock(&vm->lock);
			complete_io(v);
			pthread_mutex_lock(&vm->lock);
			continue;
		}
		vm->nr_parked++;
		/* Tell vm_pause; wait on a different condvar, or parked vCPUs would wake each
		 * other forever. */
		pthread_cond_broadcast(&vm->parked_cond);
		pthread_cond_wait(&vm->state_cond, &vm->lock);
		vm->nr_parked--;
	}
	run = vm->state == VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	return run;
}

static void report_fatal(struct vcpu *v, const char *why)
{
	uint64_t pc;

	if (board_vcpu_pc(v->vm, v, &pc) == 0)
		log_err("vCPU %u: %s at " BOARD_PC_NAME " %#llx", v->index, why,
			(unsigned long long)pc);
	else
		log_err("vCPU %u: %s", v->index, why);
}

/* Act on a non-CONTINUE exit. */
static void finish(struct vcpu *v, enum exit_action a, const char *why)
{
	switch (a) {
	case EXIT_ACTION_RESET:
		log_info("vCPU %u: %s", v->index, why);
		vm_request_stop(v->vm, VM_STOP_RESET, KILN_EXIT_OK);
		break;
	case EXIT_ACTION_POWEROFF:
	case EXIT_ACTION_HLT:
		log_info("vCPU %u: %s", v->index, why);
		vm_request_stop(v->vm, VM_STOP_POWEROFF, KILN_EXIT_OK);
		break;
	default:
		report_fatal(v, why);
		vm_request_stop(v->vm, VM_STOP_FATAL, KILN_EXIT_GUEST);
		break;
	}
}

static void count_exit(struct vcpu *v)
{
	switch (v->run->exit_reason) {
	case KVM_EXIT_IO:
		v->stats.exits_io++;
		break;
	case KVM_EXIT_MMIO:
		v->stats.exits_mmio++;
		break;
	default:
		v->stats.exits_other++;
		break;
	}
}

/* Pin this thread to the vCPU's host CPU, if configured (vm_create checked the CPU exists and
 * is allowed). */
static int pin_self(struct vcpu *v)
{
	const struct vm_config *c = v->vm->cfg;
	cpu_set_t set;
	int ret;

	if (!c->pin_vcpus)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(c->vcpu_pin[v->index], &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret) {
		log_err("vCPU %u: pinning to host CPU %u: %s", v->index, c->vcpu_pin[v->index],
			strerror(ret));
		return -ret;
	}
	return 0;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct exit_ctx ctx = {.pio = &vm->pio, .mmio = &vm->mmio, .run_size = vm->kvm->run_size};

	char name[24];

	snprintf(name, sizeof(name), "vcpu %u", v->index);
	/* pinned first (sched_setaffinity is not in the filter), filtered before any guest code */
	if (pin_self(v) < 0 || seccomp_enter(SECCOMP_VCPU, name) < 0) {
		vm_request_stop(vm, VM_STOP_FATAL, KILN_EXIT_HOST);
		goto out;
	}
	while (wait_runnable(v)) {
		int ret = kvm_vcpu_run(v->fd);
		enum exit_action a;

		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		v->io_pending = false; /* any KVM_RUN completes the previous exit's I/O */
		if (ret == -EINTR || ret == -EAGAIN) {
			v->stats.exits_intr++;
			continue;
		}
		if (ret < 0) {
			log_err("vCPU %u: KVM_RUN: %s", v->index, strerror(-ret));
			vm_request_stop(vm, VM_STOP_FATAL, KILN_EXIT_HOST);
			break;
		}
		count_exit(v);
		v->io_pending =
		    v->run->exit_reason == KVM_EXIT_IO || v->run->exit_reason == KVM_EXIT_MMIO;
		a = exit_dispatch(v->run, &ctx);
		if (a != EXIT_ACTION_CONTINUE) {
			finish(v, a, ctx.why);
			break;
		}
	}
out:
	pthread_mutex_lock(&vm->lock);
	vm->nr_running--;
	pthread_cond_broadcast(&vm->parked_cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int vcpu_spawn(struct vcpu *v)
{
	sigset_t all, old;
	int ret;

	/* The thread starts with every signal blocked but the kick, so SIGINT/SIGTERM and the
	 * like go to the main thread. */
	sigfillset(&all);
	sigdelset(&all, VCPU_KICK_SIGNAL);
	sigdelset(&all, SIGSYS); /* a forbidden call's report (src/seccomp) */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		log_err("vCPU %u: pthread_create: %s", v->index, strerror(ret));
		return -ret;
	}
	v->thread_started = true;
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->thread_started) {
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
	if (v->vm)
		kvm_vcpu_destroy(v->vm->kvm, v->fd, v->run);
	v->fd = -1;
	v->run = NULL;
}
