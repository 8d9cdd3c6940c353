/* board.h — the machine under the VM, as the architecture-neutral code sees it. An architecture
 * (src/arch/<arch>/board.c) assembles the board from the configuration and implements the first
 * half of this header; the second half walks the VM's device list (core/board_state.c) and is the
 * same on every architecture. */
#ifndef KILN_CORE_BOARD_H
#define KILN_CORE_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/device.h"
#include "state/state.h"
#include "util/compiler.h"

struct vm;
struct vcpu;
struct virtio_dev;

/* --- assembly: each architecture implements these --- */

/*
 * Build the machine for vm->cfg: guest RAM, the in-kernel interrupt controller, the
 * architecture's fixed devices, the virtio devices (virtio_devices_add), firmware tables and the
 * kernel through the loaders. Every device joins vm->devices. On failure the one-line reason goes
 * to vm->err (err_set: logged, and recorded for the caller that creates the VM) and -errno is
 * returned (-EINVAL for a configuration error); board_destroy frees a partial board.
 */
int board_create(struct vm *vm) MUST_CHECK;

/*
 * Attach a virtio device to the board's next transport slot and register it in vm->devices under
 * counter name `name`: the transport's entry (section "virtio.N"), then the device's
 * (virtio_device_ops, section "virtio.N.<state_name>"). On success the device list owns vd's
 * device (vd->ops->destroy). Returns 0, -ENOSPC (no slot left), or -errno (the caller still owns
 * the device). Main thread, during board_create.
 */
int board_add_virtio(struct vm *vm, struct virtio_dev *vd, const char *name) MUST_CHECK;

/* KVM vCPU id for vCPU `index` (the x86 APIC ID under the configured topology). */
uint32_t board_vcpu_id(struct vm *vm, unsigned index);

/* Set up one vCPU for the board: CPU model, the boot vCPU's entry registers; the others wait to
 * be started by the guest. 0 or -errno. */
int board_vcpu_init(struct vm *vm, struct vcpu *v) MUST_CHECK;

/* After every vCPU exists and was set up (board_vcpu_init): finish what needs them (arm64: the
 * GIC's initialisation). 0 or -errno, the reason in vm->err. */
int board_vcpus_created(struct vm *vm) MUST_CHECK;

/* vCPU v's program counter (x86 RIP, arm64 PC), for messages about a failed vCPU. 0 or -errno
 * (logged). The vCPU's own thread, or any thread while it does not run. */
int board_vcpu_pc(struct vm *vm, struct vcpu *v, uint64_t *pc) MUST_CHECK;
#if defined(__x86_64__)
#define BOARD_PC_NAME "RIP" /* what the architecture calls its program counter */
#else
#define BOARD_PC_NAME "PC"
#endif

/* Feed console input (bytes from stdin) to the serial port on stdio. Returns bytes taken; all of
 * them when no port is on stdio. */
size_t board_console_input(struct vm *vm, const uint8_t *buf, size_t len);

/* An eventfd that becomes readable when the console port can take input it refused before, or
 * -1 if no port is on stdio. Owned by the board. */
int board_console_rx_fd(struct vm *vm);

/* Ask the guest to reboot as a keyboard's Ctrl+Alt+Del would. 0, -ENOSPC while an earlier request
 * is unread, -ENOTSUP on a board without a keyboard. Any thread. */
int board_ctrl_alt_del(struct vm *vm) MUST_CHECK;

/* The architecture's VM-wide state outside the devices (interrupt controllers, timers, clock) as
 * sections of b. VM paused. 0 or -errno (logged). */
int board_platform_save(struct vm *vm, struct state_buf *b) MUST_CHECK;

/* Load what board_platform_save wrote, after the devices (they drive their lines first). 0 or
 * -EINVAL (logged). */
int board_platform_load(struct vm *vm, struct state_buf *b) MUST_CHECK;

/* vCPU `index`'s registers as section "vcpu.<index>". VM paused. 0 or -errno (logged). */
int board_vcpu_save(struct vm *vm, unsigned index, struct state_buf *b) MUST_CHECK;

/* Load section "vcpu.<index>" into vCPU `index`. 0 or -EINVAL (logged: a missing section, a bad
 * version or value). */
int board_vcpu_load(struct vm *vm, unsigned index, struct state_buf *b) MUST_CHECK;

/* Free the board: every device in vm->devices (device_list_destroy), then the architecture's own
 * resources. Safe on a partially created board and twice. */
void board_destroy(struct vm *vm);

/* --- state walks over vm->devices: the same on every architecture (core/board_state.c) --- */

#define BOARD_DRAIN_MS 30000 /* longest wait for a device's requests in flight */

/* Report every device's counters, device by device. Main thread. */
void board_stats(struct vm *vm, device_stat_fn fn, void *ctx);

/* Wait until no device has I/O in flight (main thread, VM paused). 0 or -ETIMEDOUT (logged). */
int board_drain(struct vm *vm) MUST_CHECK;
/* Drain, then stop every device taking new work (on), or let them take it up again (off):
 * around the state collection of a live migration's last phase. 0 or the drain's -errno (the
 * devices are quiesced anyway). */
int board_quiesce(struct vm *vm, bool on);

/* Drain, then append one section per device with state. 0 or -errno. */
int board_save(struct vm *vm, struct state_buf *b) MUST_CHECK;

/* Load every device's section into a board built from the same configuration (a missing section,
 * a version this kiln cannot read, a bad value: -EINVAL, logged). Devices stay quiet until
 * board_restored. */
int board_load(struct vm *vm, struct state_buf *b) MUST_CHECK;

/* After every load: let devices take up their work again (main thread). */
void board_restored(struct vm *vm);

#endif
