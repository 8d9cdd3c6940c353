/* board_util.h — pieces every architecture's board assembly uses: the serial ports' output
 * sinks, console input flow control, and read-only file maps for kernels and initrds. */
#ifndef KILN_CORE_BOARD_UTIL_H
#define KILN_CORE_BOARD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/irq.h"
#include "util/err.h"

struct vm;
struct uart16550;

/* The fd a serial port's output goes to for configuration sc: stdout, the configured fd, or a
 * file opened here (a regular file or character device, truncated; its fd also in *opened,
 * which the board closes), or -1 for none. On a file that cannot be opened: -errno, with the
 * reason in err. *opened is -1 unless a file was opened. */
int board_serial_sink(const struct serial_config *sc, int *opened, struct kiln_err *err);

/* A UART's rx_space callback: ctx points at the console eventfd (an int), signalled so the main
 * loop feeds stdin to the port again. */
void board_console_rx_space(void *ctx);

/* One of the board's 16550A UARTs. */
struct board_uart {
	const struct serial_config *sc; /* where its output goes, whether it is the console */
	const char *label;		/* "COM1", for messages */
	const char *name, *section;	/* counter name and state section in vm->devices */
	struct irq_line irq;
	int *opened;	  /* set to the file board_serial_sink opened, or -1: the board closes it */
	int *console_efd; /* for a port on stdio: set to a new eventfd (board_console_rx_space) */
};

/* Create the UART u describes and register it in vm->devices (not on a bus: the caller places
 * it). 0, or -errno with the reason in vm->err where it is the user's (a serial file). */
int board_uart_create(struct vm *vm, const struct board_uart *u, struct uart16550 **out) MUST_CHECK;

/* Before any RAM is added: with --hugepages (and not restoring), check the pool holds the guest's
 * memory. 0, or -ENOMEM with the reason in vm->err. */
int board_ram_check(struct vm *vm) MUST_CHECK;

/* Add guest RAM [gpa, gpa + len) with the configuration's backing (hugetlb, THP, shared memory
 * for vhost-user backends), or, restoring, mapped from the memory file at file_off. 0 or -errno,
 * the reason in vm->err. */
int board_ram_add(struct vm *vm, uint64_t gpa, uint64_t len, uint64_t file_off) MUST_CHECK;

/* Map a whole non-empty regular file read-only; *len set. NULL (reason in err, which names
 * `what`: "kernel", "initrd") on failure. munmap(ptr, *len) frees it. */
uint8_t *board_map_file(const char *what, const char *path, size_t *len, struct kiln_err *err);

#endif
