/* board_state.c — the architecture-neutral half of a board: counters, snapshots and resets walk
 * the VM's device list, whatever the architecture put in it. */
#include "core/board.h"
#include "core/vm.h"

void board_stats(struct vm *vm, device_stat_fn fn, void *ctx)
{
	device_list_stats(&vm->devices, fn, ctx);
}

int board_drain(struct vm *vm)
{
	return device_list_drain(&vm->devices, BOARD_DRAIN_MS);
}

int board_quiesce(struct vm *vm, bool on)
{
	int ret = on ? board_drain(vm) : 0;

	device_list_quiesce(&vm->devices, on);
	return ret;
}

int board_save(struct vm *vm, struct state_buf *b)
{
	int ret = board_drain(vm);

	return ret ? ret : device_list_save(&vm->devices, b);
}

int board_load(struct vm *vm, struct state_buf *b)
{
	return device_list_load(&vm->devices, b);
}

void board_restored(struct vm *vm)
{
	device_list_restored(&vm->devices);
}
