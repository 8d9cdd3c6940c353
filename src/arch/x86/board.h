/* board.h — the x86 machine: assembles irqchip, memory, legacy devices, kernel and tables. */
#ifndef KILN_ARCH_X86_BOARD_H
#define KILN_ARCH_X86_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "state/state.h"
#include "util/compiler.h"

struct vm;
struct vcpu;
struct kiln_err;

/*
 * Assemble the board for vm->cfg, in order: guest RAM, TSS/identity map, in-kernel irqchip and
 * PIT, legacy devices on the buses (with ACPI: the ACPI sleep registers), ACPI tables (unless
 * --no-acpi), kernel/initrd/cmdline via the loaders (given the RSDP), MP table, BIOS data area
 * EBDA pointer. Prints a
 * one-line error and returns -errno on failure (partially built state is freed by
 * board_destroy). err (may be NULL) is stored as vm->err for the board and its devices to
 * report through (err_set(vm->err, ...)) while the VM is being created.
 */
int board_create(struct vm *vm, struct kiln_err *err) MUST_CHECK;

/* KVM vCPU id for vCPU `index`: its APIC ID under the configured topology. */
uint32_t board_vcpu_id(struct vm *vm, unsigned index);

/* Set up one vCPU: CPUID, MSRs, LAPIC; the boot vCPU also gets the kernel's entry registers;
 * the others wait for INIT/SIPI. */
int board_vcpu_init(struct vm *vm, struct vcpu *v) MUST_CHECK;

/* Feed console input (bytes from stdin) to the UART on stdio. Returns bytes taken. */
size_t board_console_input(struct vm *vm, const uint8_t *buf, size_t len);

/* An eventfd that becomes readable when the console UART can take input it refused before, or
 * -1 if no UART is on stdio. Owned by the board. */
int board_console_rx_fd(struct vm *vm);

/* Send Ctrl+Alt+Del to the guest through the i8042 keyboard controller (IRQ 1). Returns 0 or
 * -ENOSPC while an earlier sequence is still unread. Any thread. */
int board_ctrl_alt_del(struct vm *vm) MUST_CHECK;

/* A counter callback: device name ("com1", "block0", ...), counter name, value. */
typedef void (*board_stat_fn)(void *ctx, const char *dev, const char *name, uint64_t value);

/* Report every device's counters (UARTs, i8042, virtio devices and their transports) through
 * fn, device by device. Takes each device's lock in turn; main thread. */
void board_stats(struct vm *vm, board_stat_fn fn, void *ctx);

/* --- state (snapshots): the VM must be paused --- */

#define BOARD_DRAIN_MS 30000 /* longest wait for a disk's requests in flight */

/* Wait until no virtio-blk request is in flight (main thread). 0 or -ETIMEDOUT (logged). */
int board_drain(struct vm *vm) MUST_CHECK;

/* Drain, then append one section per device: "uart.com1", "uart.com2", "i8042", "rtc",
 * "acpi_sleep" (with ACPI), "testdev" (with --test-device), and per virtio slot N "virtio.N"
 * (transport, features, status, queues) and "virtio.N.blk" / ".console" / ".rng". 0 or -errno. */
int board_save(struct vm *vm, struct state_buf *b) MUST_CHECK;

/* Load every section board_save writes into a board built from the same configuration (missing
 * sections, other versions and bad values: -EINVAL, logged). Devices stay quiet until
 * board_restored. */
int board_load(struct vm *vm, struct state_buf *b) MUST_CHECK;

/* After every load: let live virtio devices take up their queues again (main thread). */
void board_restored(struct vm *vm);

/* Free the board's devices. Safe on a partially created board. */
void board_destroy(struct vm *vm);

#endif
