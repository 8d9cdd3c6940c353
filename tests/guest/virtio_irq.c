/* virtio_irq.c — a virtio device's used-buffer interrupt reaches the guest without a VMM exit:
 * kiln's irqfd raises the slot's GSI, the IOAPIC delivers it to CPL3, InterruptStatus says
 * "used buffer" and InterruptACK clears it. The rng device serves as the interrupt source. */
#include "virtio.h"

#define IRQ_VECTOR 0x30
#define ROUNDS	   3
#define WAIT_MS	   5000

/* Wait (bounded) until the vector's count passes `seen`. */
static uint64_t wait_irq(uint64_t seen)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * WAIT_MS;

	while (guest_irq_count[IRQ_VECTOR] == seen) {
		if (guest_rdtsc() > end)
			guest_fail("no interrupt on vector %#x within %u ms", IRQ_VECTOR, WAIT_MS);
		guest_pause();
	}
	return guest_irq_count[IRQ_VECTOR];
}

int main(void)
{
	static uint8_t buf[64];
	struct vbuf b = {buf, sizeof(buf), true};
	struct vdev d;
	struct vq q;
	uint64_t seen = 0;
	uint32_t me, len, isr;

	VDEV_FIND(VIRTIO_ID_RNG, &d);
	vdev_init(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1)); /* masks the 8259s too */
	vq_setup(&d, &q, 0, 16);
	q.avail->flags = 0; /* this time the driver wants interrupts */
	vdev_driver_ok(&d);
	me = lapic_enable();
	ioapic_route(d.irq, IRQ_VECTOR, (uint8_t)me);
	guest_printf("virtio-irq: rng at %#lx, GSI %u -> vector %#x\n", d.base, d.irq, IRQ_VECTOR);
	for (int i = 0; i < ROUNDS; i++) {
		GUEST_ASSERT(vq_add(&q, &b, 1) >= 0);
		vq_kick(&q);
		seen = wait_irq(seen);
		isr = vdev_read(&d, VIRTIO_MMIO_INTERRUPT_STATUS);
		GUEST_ASSERT(isr & 1); /* used buffer notification */
		vdev_write(&d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
		GUEST_ASSERT_EQ(vdev_read(&d, VIRTIO_MMIO_INTERRUPT_STATUS) & 1, 0);
		VQ_WAIT(&q, &len);
		GUEST_ASSERT(len > 0);
	}
	guest_printf("virtio-irq: %lu interrupts for %d requests\n", guest_irq_count[IRQ_VECTOR],
		     ROUNDS);
	return 0;
}
