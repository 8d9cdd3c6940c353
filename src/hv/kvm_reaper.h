/* kvm_reaper.h — a VM's last reference held by a reaper process, so that KVM's teardown of the
 * VM runs there and kiln does not wait for it (how and why: kvm_reaper.c). */
#ifndef KILN_HV_KVM_REAPER_H
#define KILN_HV_KVM_REAPER_H

#include <sys/types.h>

#include "util/compiler.h"

/* A VM's reaper; pid 0 when there is none (the VM is then torn down when kiln closes it). */
struct kvm_reaper {
	pid_t pid;
	int wfd;     /* the pipe's write end: closing it lets the reaper go */
	void *stack; /* the reaper's stack, in kiln's memory: unmapped once it has exited */
};

/* Start a reaper that holds a reference to the VM vm_fd until kvm_reaper_release (or kiln's
 * exit). Only on a thread without a seccomp filter (it clones a process and waits for earlier
 * reapers). 0, or -errno with r->pid 0: the VM then works as without one. */
int kvm_reaper_start(struct kvm_reaper *r, int vm_fd) MUST_CHECK;

/* Let r's reaper go: it exits, and if kiln has closed its own VM and vCPU fds by then, KVM tears
 * the VM down in the reaper while kiln goes on. Nothing if r has no reaper; r has none after. */
void kvm_reaper_release(struct kvm_reaper *r);

#endif
