/* vm_state.c — the VM lifecycle table: which state changes are allowed. Pure. */
#include "core/vm.h"

bool vm_transition_ok(enum vm_state from, enum vm_state to)
{
	switch (from) {
	case VM_CREATED:
		return to == VM_RUNNING || to == VM_PAUSED || to == VM_STOPPED || to == VM_ERROR;
	case VM_RUNNING:
		return to == VM_PAUSED || to == VM_STOPPED || to == VM_ERROR;
	case VM_PAUSED:
		return to == VM_RUNNING || to == VM_STOPPED || to == VM_ERROR;
	case VM_STOPPED:
	case VM_ERROR:
		return false;
	}
	return false;
}

const char *vm_state_name(enum vm_state s)
{
	static const char *const names[] = {"created", "running", "paused", "stopped", "error"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
