/* board_state.c — the arm64 board's state outside its devices, as core/board.h asks every
 * architecture for it: the GICv3 (section "gicv3"), with PCI its ITS and the LPIs
 * ("gicv3-its"), and each vCPU's registers ("vcpu.N"), in
 * state.c's formats. The devices' state is walked in core/board_state.c. */
#include <errno.h>
#include <stdio.h>

#include "arch/arm64/board_priv.h"
#include "arch/arm64/state.h"
#include "core/board.h"
#include "core/vcpu.h"
#include "core/vm.h"

/* The ITS's section: its tables go into guest memory first (snapshots and migration save the
 * memory after the state). */
static int its_save(struct vm *vm, struct state_buf *b)
{
	struct board *bd = vm->board;
	int ret = state_begin_section(b, "gicv3-its", ARM64_ITS_STATE_VERSION);

	ret = ret ? ret : arm64_its_save(bd->gic_fd, bd->its_fd, bd->mpidr, vm->nr_vcpus, b);
	return ret ? ret : state_end_section(b);
}

int board_platform_save(struct vm *vm, struct state_buf *b)
{
	struct board *bd = vm->board;
	int ret = state_begin_section(b, "gicv3", ARM64_GIC_STATE_VERSION);

	ret = ret ? ret : arm64_gic_save(bd->gic_fd, bd->mpidr, vm->nr_vcpus, b);
	ret = ret ? ret : state_end_section(b);
	return ret || bd->its_fd < 0 ? ret : its_save(vm, b);
}

/* The distributor and redistributors first, then the ITS (KVM's restore order). A VM with PCI
 * has an ITS, and its snapshot the ITS's section: the configuration says which. */
int board_platform_load(struct vm *vm, struct state_buf *b)
{
	struct board *bd = vm->board;
	uint16_t v;
	int ret;

	if (state_section(b, "gicv3", &v) < 0)
		return state_refuse(b, "section 'gicv3' is missing");
	ret = arm64_gic_load(bd->gic_fd, bd->mpidr, vm->nr_vcpus, b, v);
	if (ret < 0 || bd->its_fd < 0)
		return ret;
	if (state_section(b, "gicv3-its", &v) < 0)
		return state_refuse(b, "section 'gicv3-its' is missing");
	return arm64_its_load(bd->gic_fd, bd->its_fd, bd->mpidr, vm->nr_vcpus, b, v);
}

int board_vcpu_save(struct vm *vm, unsigned index, struct state_buf *b)
{
	char name[STATE_NAME_MAX];
	int ret;

	snprintf(name, sizeof(name), "vcpu.%u", index);
	ret = state_begin_section(b, name, ARM64_VCPU_STATE_VERSION);
	ret = ret ? ret : arm64_vcpu_save(vm->vcpus[index].fd, b);
	return ret ? ret : state_end_section(b);
}

int board_vcpu_load(struct vm *vm, unsigned index, struct state_buf *b)
{
	char name[STATE_NAME_MAX];
	uint16_t v;

	snprintf(name, sizeof(name), "vcpu.%u", index);
	if (state_section(b, name, &v) < 0)
		return state_refuse(b, "section '%s' is missing", name);
	return arm64_vcpu_load(vm->vcpus[index].fd, index, b, v);
}
