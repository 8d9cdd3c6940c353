/* virtio_churn.c — every virtio-blk device on the command line brought up with a queue of 256 and
 * reset, all at once, for rounds=N rounds: kiln allocates each queue's records on the vCPU thread
 * that writes QueueReady and frees them on the one that writes the reset, so this churns that
 * thread's malloc heap. kiln must run on (guest_fuzz found kiln stopped there by its seccomp
 * filter: glibc reads /proc/sys/vm/overcommit_memory the first time a thread's heap shrinks). */
#include "virtio.h"

#define MAX_DISKS 16

int main(void)
{
	static struct vdev d[MAX_DISKS];
	static struct vq q[MAX_DISKS];
	uint64_t rounds = 4;
	unsigned n = 0;

	guest_cmdline_u64("rounds", &rounds);
	while (n < MAX_DISKS && vdev_find(VIRTIO_ID_BLOCK, n, &d[n]))
		n++;
	GUEST_ASSERT(n > 0);
	for (uint64_t r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < n; i++) {
			vdev_init(&d[i], VIRTIO_BIT(VIRTIO_F_VERSION_1));
			vq_setup(&d[i], &q[i], 0, 256); /* fresh rings: the allocator never frees */
			vdev_driver_ok(&d[i]);
		}
		for (unsigned i = 0; i < n; i++)
			vdev_reset(&d[i]);
	}
	guest_printf("virtio_churn: %u disks, %lu rounds of 256-entry queues up and reset\n", n,
		     rounds);
	return 0;
}
