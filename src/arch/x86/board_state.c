/* board_state.c — the x86 board's state outside its devices: the in-kernel platform (PIC, IOAPIC,
 * PIT, kvm-clock) and each vCPU's registers, as core/board.h asks every architecture for them.
 * The devices' state is walked in core/board_state.c. */
#include <errno.h>
#include <stdio.h>

#include "arch/x86/board_priv.h"
#include "arch/x86/kvm_state.h"
#include "core/board.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "util/log.h"

int board_platform_save(struct vm *vm, struct state_buf *b)
{
	return x86_vm_save(vm->fd, b);
}

int board_platform_load(struct vm *vm, struct state_buf *b)
{
	return x86_vm_load(vm->fd, b);
}

int board_vcpu_save(struct vm *vm, unsigned index, struct state_buf *b)
{
	char name[STATE_NAME_MAX];
	int ret;

	snprintf(name, sizeof(name), "vcpu.%u", index);
	ret = state_begin_section(b, name, X86_VCPU_STATE_VERSION);
	ret = ret ? ret : x86_vcpu_save(vm->kvm, vm->vcpus[index].fd, board_vcpu_id(vm, index), b);
	return ret ? ret : state_end_section(b);
}

int board_vcpu_load(struct vm *vm, unsigned index, struct state_buf *b)
{
	char name[STATE_NAME_MAX];
	uint16_t v;

	snprintf(name, sizeof(name), "vcpu.%u", index);
	if (state_section(b, name, &v) < 0) {
		state_refuse(b, "section '%s' is missing", name);
		return -EINVAL;
	}
	return x86_vcpu_load(vm->kvm, vm->vcpus[index].fd, board_vcpu_id(vm, index), b, v);
}
