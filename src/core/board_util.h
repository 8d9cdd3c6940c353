/* board_util.h — pieces every architecture's board assembly uses: the serial ports' output
 * sinks, console input flow control, and read-only file maps for kernels and initrds. */
#ifndef KILN_CORE_BOARD_UTIL_H
#define KILN_CORE_BOARD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/io_bus.h"
#include "core/irq.h"
#include "util/err.h"

struct vm;
struct uart16550;

/* The fd a serial port's output goes to for configuration sc: stdout, the configured fd, or a
 * file opened here (a regular file or character device, truncated; its fd also in *opened,
 * which the board closes), or -1 for none. On a file that cannot be opened: -errno, with the
 * reason in err. *opened is -1 unless a file was opened. */
int board_serial_sink(const struct serial_config *sc, int *opened, struct kiln_err *err);

/* The board's own side of its UARTs: the two ports, the files it opened for them, the one on
 * stdio (the console) and the eventfd that says it has room for input again. */
struct board_uarts {
	struct uart16550 *uart[2];
	int fd[2];		   /* file sinks opened for them, -1 otherwise */
	struct uart16550 *console; /* the port on stdio, if any */
	int console_rx_efd;	   /* -1 until a port is on stdio */
};

/* Where the board puts UART i: a bus range and an interrupt line. */
struct board_uart_place {
	struct io_bus *bus;
	uint64_t base;
	struct irq_line irq;
	const char *label; /* "COM1", "UART0": for messages */
};

/* No UART yet, no fd open. */
void board_uarts_init(struct board_uarts *u);

/* Create UART i (0: --serial, 1: --serial2) at p, register it in vm->devices ("com1"/"com2",
 * sections "uart.com1"/"uart.com2") and on p->bus, and note it in u (the console too when it is
 * on stdio). 0, or -errno with the reason in vm->err where it is the user's (a serial file). */
int board_uart_add(struct vm *vm, struct board_uarts *u, unsigned i,
		   const struct board_uart_place *p) MUST_CHECK;

/* Console input for the port on stdio: the bytes it took (all of them without such a port). */
size_t board_uarts_input(struct board_uarts *u, const uint8_t *buf, size_t len);

/* Close what board_uart_add opened (the devices themselves belong to vm->devices). */
void board_uarts_close(struct board_uarts *u);

/* Before any RAM is added: with --hugepages (and not restoring), check the pool holds the guest's
 * memory. 0, or -ENOMEM with the reason in vm->err. */
int board_ram_check(struct vm *vm) MUST_CHECK;

/* Add guest RAM [gpa, gpa + len) with the configuration's backing (hugetlb, THP, shared memory
 * for vhost-user backends), or, restoring, mapped from the memory file at file_off. 0 or -errno,
 * the reason in vm->err. */
int board_ram_add(struct vm *vm, uint64_t gpa, uint64_t len, uint64_t file_off) MUST_CHECK;

struct irq_routes;
struct pci_bus;
struct virtio_dev;
struct virtio_slots;

/* A PCI bus with windows [base[k], base[k] + len[k]) (pci_bus_init), allocated, in *out. 0,
 * -ENOMEM or -EINVAL (*out NULL). */
int board_pci_bus_new(struct pci_bus **out, const uint64_t *base, const uint64_t *len) MUST_CHECK;

/* A board's virtio devices: each on a virtio-mmio slot of `slots` or, when its transport
 * (config_virtio_transport_of, by name) is PCI, a function of `bus` with its vectors in
 * `routes` (*nr_pci: the functions so far, for their "virtio.N" sections). 0 or -errno. */
int board_virtio_place(struct vm *vm, struct virtio_slots *slots, struct pci_bus *bus,
		       struct irq_routes *routes, unsigned *nr_pci, struct virtio_dev *vd,
		       const char *name) MUST_CHECK;

/* Map a whole non-empty regular file read-only; *len set. NULL (reason in err, which names
 * `what`: "kernel", "initrd") on failure. munmap(ptr, *len) frees it. */
uint8_t *board_map_file(const char *what, const char *path, size_t *len, struct kiln_err *err);

#endif
