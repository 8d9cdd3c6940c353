/* board_priv.h — the arm64 board's own data, shared by its assembly (board.c) and its state
 * (board_state.c). Nothing outside src/arch/arm64/ includes this. */
#ifndef KILN_ARCH_ARM64_BOARD_PRIV_H
#define KILN_ARCH_ARM64_BOARD_PRIV_H

#include <stdint.h>
#include <linux/kvm.h>

#include "arch/arm64/cpu.h"
#include "arch/arm64/image.h"
#include "arch/arm64/layout.h"
#include "virtio/slots.h"

struct uart16550;

/* What the arm64 board keeps beside vm->devices (which owns every device). */
struct board {
	struct arm64_topology topo;
	uint64_t *mpidr;	     /* per vCPU */
	struct kvm_vcpu_init target; /* KVM_ARM_PREFERRED_TARGET */
	int gic_fd;
	struct uart16550 *uart[2];
	int uart_fd[2];		   /* file sinks we opened, -1 otherwise */
	struct uart16550 *console; /* the UART on stdio, if any */
	int console_rx_efd;	   /* eventfd: the console UART has room for input again */
	struct virtio_slots virtio;
	uint32_t virtio_spis[ARM64_VIRTIO_SLOTS];
	struct arm64_boot_layout boot;
};

#endif
