/* board_state.c — the arm64 platform's and vCPUs' state for snapshots and live migration.
 * Not implemented yet: the vCPUs' registers (KVM_GET_REG_LIST + ONE_REG) and the GICv3's
 * (distributor, redistributor and CPU-interface attributes) are not saved, so every save and
 * load is refused with one clear line rather than producing a snapshot that cannot resume. */
#include <errno.h>

#include "core/board.h"
#include "core/vm.h"
#include "state/state.h"
#include "util/log.h"

#define NOT_YET "snapshots and live migration of arm64 VMs are not supported yet"

const char *board_state_unsupported(void)
{
	return NOT_YET;
}

int board_platform_save(struct vm *vm, struct state_buf *b)
{
	(void)vm;
	(void)b;
	log_err(NOT_YET);
	return -ENOTSUP;
}

int board_platform_load(struct vm *vm, struct state_buf *b)
{
	(void)vm;
	return state_refuse(b, NOT_YET);
}

int board_vcpu_save(struct vm *vm, unsigned index, struct state_buf *b)
{
	(void)vm;
	(void)index;
	(void)b;
	log_err(NOT_YET);
	return -ENOTSUP;
}

int board_vcpu_load(struct vm *vm, unsigned index, struct state_buf *b)
{
	(void)vm;
	(void)index;
	return state_refuse(b, NOT_YET);
}
