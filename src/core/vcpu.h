/* vcpu.h — one thread per vCPU running KVM_RUN; pause/resume/stop by request plus kick. */
#ifndef KILN_CORE_VCPU_H
#define KILN_CORE_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "util/compiler.h"

struct vm;

struct vcpu_stats {
	uint64_t exits_io, exits_mmio, exits_intr, exits_other;
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	/* The last exit was I/O or MMIO: KVM finishes the instruction (loads an IN's value into
	 * RAX) only on the next KVM_RUN. A vCPU about to park runs KVM_RUN once with immediate_exit
	 * set to complete it, so a paused vCPU's registers are final (snapshots read them). */
	bool io_pending;
	struct vcpu_stats stats;
};

/* Create v's KVM vCPU in v->vm (v->vm, v->index set; its thread may be waiting already) as KVM vCPU
 * id `kvm_id` (on x86 its APIC ID, which KVM also uses as the x2APIC ID), and map its kvm_run into
 * v->fd and v->run. Returns 0 or -errno. */
int vcpu_create(struct vcpu *v, uint32_t kvm_id) MUST_CHECK;

/* Start v's thread while the VM is still being built (v->vm, v->index set; call with
 * v->vm->lock held): it pins itself and enters its seccomp filter at once, then waits for the
 * VM to leave VM_CREATED before it touches v->fd. Returns 0 or -errno. */
int vcpu_spawn(struct vcpu *v) MUST_CHECK;

/* Make the vCPU leave KVM_RUN soon (immediate_exit + signal) so it re-reads the VM state. */
void vcpu_kick(struct vcpu *v);

/* Join the thread (if started), unmap and close. */
void vcpu_destroy(struct vcpu *v);

/* Install the kick signal's handler (process-wide, once, before any vCPU starts). */
int vcpu_signals_init(void) MUST_CHECK;

#endif
