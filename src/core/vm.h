/* vm.h — struct vm: owns the KVM VM, memory, buses, devices and vCPUs; the lifecycle machine. */
#ifndef KILN_CORE_VM_H
#define KILN_CORE_VM_H

#include <pthread.h>
#include <stdbool.h>

#include "config/config.h"
#include "core/device.h"
#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "core/io_bus.h"
#include "hv/kvm.h"
#include "hv/kvm_reaper.h"
#include "util/compiler.h"

/* CREATED -> RUNNING <-> PAUSED -> STOPPED; ERROR when set-up or a vCPU failed. */
enum vm_state { VM_CREATED, VM_RUNNING, VM_PAUSED, VM_STOPPED, VM_ERROR };

/* Why the VM stopped; decides kiln's exit status (see README). */
enum vm_stop_reason {
	VM_STOP_NONE,
	VM_STOP_POWEROFF,   /* guest powered off: status 0 */
	VM_STOP_RESET,	    /* guest reset (i8042, triple fault): status 0, or restart */
	VM_STOP_DEBUG_EXIT, /* debug-exit port: status (value << 1) | 1 */
	VM_STOP_HOST,	    /* host asked (signal, API): status 0 */
	VM_STOP_FATAL,	    /* a vCPU hit an exit it cannot continue from: status 6 */
	VM_STOP_PANIC,	    /* the guest kernel reported a panic (pvpanic): status 6 */
};

/* kiln's own exit statuses; debug-exit statuses are odd, these are even. */
#define KILN_EXIT_OK	0
#define KILN_EXIT_USAGE 2 /* bad command line or configuration */
#define KILN_EXIT_HOST	4 /* host or KVM error while setting up or running */
#define KILN_EXIT_GUEST 6 /* the guest crashed (fatal exit) */

struct vcpu;
struct mmds;
struct board;
struct kiln_err;

struct vm {
	const struct vm_config *cfg;
	struct kvm_sys *kvm;
	int fd;
	struct kvm_reaper reaper; /* holds the VM's last reference: KVM's teardown runs there */

	pthread_mutex_t lock;	    /* guards state, stop_*, nr_parked, nr_running */
	pthread_cond_t state_cond;  /* broadcast when state changes: parked vCPUs wait on it */
	pthread_cond_t parked_cond; /* broadcast when nr_parked/nr_running change: vm_pause waits */
	enum vm_state state;
	enum vm_stop_reason stop_reason;
	bool host_stop; /* the host asked it to stop (VM_STOP_HOST), whatever came first */
	int exit_status;
	unsigned nr_parked;	 /* vCPU threads waiting while PAUSED */
	unsigned nr_running;	 /* vCPU threads not yet returned */
	int stop_efd;		 /* eventfd: readable once the VM has stopped */
	struct event_loop *loop; /* the main thread's loop (not owned): devices register fds here */
	struct mmds *mmds;	 /* the process's MMDS data store (not owned; NULL: none) */

	struct guest_mem mem;
	struct io_bus pio, mmio;
	unsigned nr_vcpus;
	struct vcpu *vcpus;
	struct device_list devices; /* every device of the board: stats, state, teardown walk it */
	struct board *board;	    /* the architecture's own data (core/board.h) */
	int restore_mem_fd; /* >= 0 while vm_create_restore builds: RAM comes from this file */
	/* Where creation errors go (err_set(vm->err, ...)): the caller's context, valid only
	 * during vm_create/vm_create_restore; NULL otherwise. */
	struct kiln_err *err;
};

/* Whether the lifecycle allows from -> to. Pure. */
bool vm_transition_ok(enum vm_state from, enum vm_state to);

/* Printable state name. */
const char *vm_state_name(enum vm_state s);

/* What a VM uses of the process (none owned, all must outlive the VM). */
struct vm_env {
	struct kvm_sys *kvm;
	struct event_loop *loop; /* the main thread's loop: devices register fds here */
	struct mmds *mmds;	 /* the MMDS data store network interfaces serve (NULL: none) */
	bool sync_teardown;	 /* KVM tears the VM down in kiln's close, not in a reaper */
};

/*
 * Build the whole machine from cfg (which must outlive the VM): KVM VM, board, memory, devices,
 * kernel, tables, vCPUs (created, not started). State CREATED on success. On failure returns
 * -errno with a one-line message logged and, when err is not NULL, recorded in err (the reasons
 * vm.c itself finds; the board's and devices' ones once they report through vm->err — until
 * then err stays empty for those and callers fall back to the errno's text).
 */
int vm_create(const struct vm_config *cfg, const struct vm_env *env, struct vm **out,
	      struct kiln_err *err) MUST_CHECK;

/*
 * As vm_create, for a snapshot restore: guest RAM is mapped MAP_PRIVATE from mem_fd (its regions
 * one after another, in guest-physical order), and nothing is written into it (no kernel, no
 * tables); the devices and vCPUs are created in their reset state for the caller to load.
 */
int vm_create_restore(const struct vm_config *cfg, const struct vm_env *env, int mem_fd,
		      struct vm **out, struct kiln_err *err) MUST_CHECK;

/* CREATED -> RUNNING: start one thread per vCPU. -EBUSY in any other state. */
int vm_start(struct vm *vm) MUST_CHECK;

/* CREATED -> PAUSED: start the vCPU threads parked (a restored VM that is not resumed yet).
 * -EBUSY in any other state. */
int vm_start_paused(struct vm *vm) MUST_CHECK;

/* RUNNING -> PAUSED: kick every vCPU out of the guest and wait until all are parked.
 * -EBUSY if not RUNNING (including when the VM stops meanwhile). */
int vm_pause(struct vm *vm) MUST_CHECK;

/* PAUSED -> RUNNING. -EBUSY if not PAUSED. */
int vm_resume(struct vm *vm) MUST_CHECK;

/* Ask the VM to stop (any thread, any state, idempotent: the first reason and status win, but a
 * VM_STOP_HOST request is always recorded in host_stop, so a guest reset that came first is not
 * followed by a restart). vCPUs are kicked; stop_efd becomes readable. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason why, int status);

/* Wait for every vCPU thread to finish after a stop request; returns the exit status. */
int vm_join(struct vm *vm);

/* Current state (locked read). */
enum vm_state vm_get_state(struct vm *vm);

/* Free everything. The VM must be CREATED, STOPPED or ERROR (threads joined). */
void vm_destroy(struct vm *vm);

#endif
