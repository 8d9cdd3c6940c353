/* exit.h — KVM exit dispatch as a pure function of kvm_run and the I/O buses. */
#ifndef KILN_CORE_EXIT_H
#define KILN_CORE_EXIT_H

#include <stddef.h>
#include <linux/kvm.h>

#include "core/io_bus.h"

enum exit_action {
	EXIT_ACTION_CONTINUE, /* handled: enter the guest again */
	EXIT_ACTION_HLT,      /* guest executed HLT with no in-kernel irqchip to wait in */
	EXIT_ACTION_RESET,    /* triple fault (SHUTDOWN) or a reset system event */
	EXIT_ACTION_POWEROFF, /* shutdown system event */
	EXIT_ACTION_FATAL,    /* internal error, failed entry, or an exit kiln cannot handle */
};

struct exit_ctx {
	struct io_bus *pio;
	struct io_bus *mmio;
	size_t run_size; /* size of the kvm_run mapping, to bound PIO data */
	char why[160];	 /* filled with a description on every non-CONTINUE action */
};

/*
 * Handle one exit: route IO (including string IO, count > 1) and MMIO to the buses, filling
 * read data back into kvm_run; classify everything else. Touches nothing but `run`, the buses
 * and ctx->why, so tests can feed it hand-built exits.
 */
enum exit_action exit_dispatch(struct kvm_run *run, struct exit_ctx *ctx);

/* Printable name of a KVM exit reason ("IO", "MMIO", ... or "UNKNOWN"). */
const char *exit_reason_name(unsigned reason);

#endif
