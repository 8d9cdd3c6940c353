/* devices.c — the registration table of virtio device kinds: adding a kind is one line here. */
#include <errno.h>
#include <string.h>

#include "core/vm.h"
#include "mmds/mmds_net.h"
#include "util/err.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/devices.h"
#include "virtio/fs.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"

/* Each kind reads its own part of the configuration and attaches what it asks for (maybe none). */
static int (*const kinds[])(struct vm *vm) = {
    blk_board_add,
    virtio_net_board_add,
    mmds_net_board_add, /* MMDS on the interfaces mmds-config lists: after their devices */
    virtio_console_board_add,
    virtio_rng_board_add,
    virtio_vsock_board_add,
    virtio_balloon_board_add,
    virtio_fs_board_add,
};

int virtio_devices_add(struct vm *vm)
{
	int ret = 0;

	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && ret == 0; i++)
		ret = kinds[i](vm);
	/* a device that failed says why itself; this line is for one that did not */
	if (ret < 0 && !(vm->err && vm->err->msg[0]))
		err_set(vm->err, ret, "virtio devices: %s", strerror(-ret));
	return ret;
}
