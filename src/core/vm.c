/* vm.c — VM creation in board order, the lifecycle state machine, and vCPU thread control. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/board.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "seccomp/seccomp.h"
#include "util/err.h"
#include "util/log.h"

/* Every pinned vCPU's host CPU must exist and be in this process's allowed set. */
static int pinning_check(const struct vm_config *cfg, struct kiln_err *e)
{
	cpu_set_t allowed;
	char why[256];

	if (!cfg->pin_vcpus)
		return 0;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return err_set(e, -errno, "sched_getaffinity: %s", strerror(errno));
	if (config_check_pinning(cfg, &allowed, why, sizeof(why)) < 0)
		return err_set(e, -EINVAL, "%s", why);
	return 0;
}

/* The vCPU threads, first of all: each one's start-up (a clone, then its first run on a CPU
 * that may be idle) overlaps the VM's building instead of delaying the guest's first
 * instruction. They wait for vm_start (or for vm_destroy, if the VM is never started). */
static int spawn_vcpus(struct vm *vm)
{
	int ret = 0;

	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus && ret == 0; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->index = i;
		v->fd = -1;
		ret = vcpu_spawn(v);
		if (ret == 0)
			vm->nr_running++;
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

static int create_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int ret = vcpu_create(v, board_vcpu_id(vm, i));

		if (ret < 0)
			return ret;
		ret = board_vcpu_init(vm, v);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Hand the VM's last reference to a reaper (src/hv/kvm_reaper.c), unless the caller wants the
 * teardown done before kiln exits (sync_teardown) or the VMM thread's seccomp filter forbids
 * starting one (a VM built again after a reset); without a reaper kiln's own close tears the VM
 * down. */
static void start_reaper(struct vm *vm, bool sync_teardown)
{
	int ret = sync_teardown		    ? -ECANCELED
		  : seccomp_vmm_installed() ? -EPERM
					    : kvm_reaper_start(&vm->reaper, vm->fd);

	if (ret < 0)
		log_debug("vm: no reaper (%s): KVM's teardown of the VM runs in kiln",
			  strerror(-ret));
}

static int create(const struct vm_config *cfg, const struct vm_env *env, int mem_fd,
		  struct vm **out, struct kiln_err *err)
{
	struct kvm_sys *kvm = env->kvm;
	struct vm *vm = calloc(1, sizeof(*vm));
	int ret;

	if (!vm)
		return -ENOMEM;
	vm->cfg = cfg;
	vm->kvm = kvm;
	vm->fd = -1;
	vm->restore_mem_fd = mem_fd;
	vm->err = err;
	vm->state = VM_CREATED;
	vm->nr_vcpus = config_vcpus(cfg);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->state_cond, NULL);
	pthread_cond_init(&vm->parked_cond, NULL);
	io_bus_init(&vm->pio, "pio", 0x10000);
	io_bus_init(&vm->mmio, "mmio", 0);
	guest_mem_init(&vm->mem, -1);
	vm->loop = env->loop;
	vm->mmds = env->mmds;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0) {
		ret = -errno;
		goto fail;
	}

	if ((int)vm->nr_vcpus > kvm->max_vcpus) {
		ret = err_set(err, -EINVAL, "%u vCPUs requested, KVM allows %d", vm->nr_vcpus,
			      kvm->max_vcpus);
		goto fail;
	}
	ret = pinning_check(cfg, err);
	if (ret == 0)
		ret = spawn_vcpus(vm);
	if (ret < 0)
		goto fail;
	ret = kvm_vm_create(kvm, &vm->fd);
	if (ret < 0)
		goto fail;
	start_reaper(vm, env->sync_teardown);
	guest_mem_init(&vm->mem, vm->fd);
	ret = board_create(vm);
	if (ret < 0)
		goto fail;
	ret = create_vcpus(vm);
	if (ret == 0)
		ret = board_vcpus_created(vm);
	if (ret < 0)
		goto fail;
	vm->restore_mem_fd = -1;
	vm->err = NULL;
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return ret;
}

int vm_create(const struct vm_config *cfg, const struct vm_env *env, struct vm **out,
	      struct kiln_err *err)
{
	return create(cfg, env, -1, out, err);
}

int vm_create_restore(const struct vm_config *cfg, const struct vm_env *env, int mem_fd,
		      struct vm **out, struct kiln_err *err)
{
	return mem_fd < 0 ? -EINVAL : create(cfg, env, mem_fd, out, err);
}

enum vm_state vm_get_state(struct vm *vm)
{
	enum vm_state s;

	pthread_mutex_lock(&vm->lock);
	s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

/* The vCPU threads wait from vm_create on (spawn_vcpus); the state change lets them go.
 * -EBUSY if the VM is not CREATED (a vCPU thread that could not start stopped it). */
static int start(struct vm *vm, enum vm_state to)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_CREATED) {
		pthread_mutex_unlock(&vm->lock);
		return -EBUSY;
	}
	vm->state = to;
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int vm_start(struct vm *vm)
{
	return start(vm, VM_RUNNING);
}

int vm_start_paused(struct vm *vm)
{
	int ret = start(vm, VM_PAUSED);

	/* As vm_pause: return once every thread is parked, so callers may read vCPU state. */
	pthread_mutex_lock(&vm->lock);
	while (ret == 0 && vm->state == VM_PAUSED && vm->nr_parked < vm->nr_running)
		pthread_cond_wait(&vm->parked_cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

/* Kick every vCPU out of the guest. Under vm->lock, which start() holds while it creates a
 * vCPU's thread: a kick never misses a thread that is already in KVM_RUN. */
static void kick_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus && vm->vcpus[i].run)
			vcpu_kick(&vm->vcpus[i]);
}

int vm_pause(struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_RUNNING) {
		pthread_mutex_unlock(&vm->lock);
		return -EBUSY;
	}
	vm->state = VM_PAUSED;
	kick_all(vm);
	while (vm->state == VM_PAUSED && vm->nr_parked < vm->nr_running)
		pthread_cond_wait(&vm->parked_cond, &vm->lock);
	if (vm->state != VM_PAUSED)
		ret = -EBUSY;
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_PAUSED) {
		pthread_mutex_unlock(&vm->lock);
		return -EBUSY;
	}
	vm->state = VM_RUNNING;
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason why, int status)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->lock);
	if (vm->stop_reason == VM_STOP_NONE) {
		vm->stop_reason = why;
		vm->exit_status = status;
	}
	if (why == VM_STOP_HOST)
		vm->host_stop = true; /* even behind a guest reset: the host wants no restart */
	if (vm->state != VM_STOPPED && vm->state != VM_ERROR)
		vm->state = why == VM_STOP_FATAL ? VM_ERROR : VM_STOPPED;
	pthread_cond_broadcast(&vm->state_cond);
	pthread_cond_broadcast(&vm->parked_cond);
	kick_all(vm);
	pthread_mutex_unlock(&vm->lock);
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_debug("stop eventfd: %s", strerror(errno));
}

int vm_join(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		bool started;

		/* no kick signals the thread once it may have been joined (kick_all: under lock) */
		pthread_mutex_lock(&vm->lock);
		started = v->thread_started;
		v->thread_started = false;
		pthread_mutex_unlock(&vm->lock);
		if (started)
			pthread_join(v->thread, NULL);
	}
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	/* Threads of a VM that never started are still waiting for it: let them end. */
	pthread_mutex_lock(&vm->lock);
	if (vm->state == VM_CREATED)
		vm->state = VM_ERROR;
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->lock);
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].vm)
				vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	board_destroy(vm);
	/* Closing the VM fd drops every memory slot at once; deleting them one by one first
	 * costs a KVM memslot update (an SRCU grace period) each. */
	vm->mem.vm_fd = -1;
	guest_mem_destroy(&vm->mem);
	io_bus_destroy(&vm->pio);
	io_bus_destroy(&vm->mmio);
	if (vm->fd >= 0)
		close(vm->fd);
	kvm_reaper_release(&vm->reaper);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->state_cond);
	pthread_cond_destroy(&vm->parked_cond);
	free(vm);
}
