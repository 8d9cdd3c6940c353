/* exit.c — classify KVM exits and route IO/MMIO to the buses; no KVM calls here. */
#include <stdio.h>
#include <string.h>

#include "core/exit.h"

const char *exit_reason_name(unsigned reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN:
		return "UNKNOWN";
	case KVM_EXIT_EXCEPTION:
		return "EXCEPTION";
	case KVM_EXIT_IO:
		return "IO";
	case KVM_EXIT_HYPERCALL:
		return "HYPERCALL";
	case KVM_EXIT_DEBUG:
		return "DEBUG";
	case KVM_EXIT_HLT:
		return "HLT";
	case KVM_EXIT_MMIO:
		return "MMIO";
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return "IRQ_WINDOW_OPEN";
	case KVM_EXIT_SHUTDOWN:
		return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY:
		return "FAIL_ENTRY";
	case KVM_EXIT_INTR:
		return "INTR";
	case KVM_EXIT_INTERNAL_ERROR:
		return "INTERNAL_ERROR";
	case KVM_EXIT_SYSTEM_EVENT:
		return "SYSTEM_EVENT";
	default:
		return "OTHER";
	}
}

static enum exit_action do_io(struct kvm_run *run, struct exit_ctx *ctx)
{
	unsigned size = run->io.size;
	uint64_t total = (uint64_t)size * run->io.count;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if ((size != 1 && size != 2 && size != 4) || run->io.data_offset > ctx->run_size ||
	    total > ctx->run_size - run->io.data_offset) {
		snprintf(ctx->why, sizeof(ctx->why), "malformed IO exit: port %#x size %u count %u",
			 run->io.port, size, run->io.count);
		return EXIT_ACTION_FATAL;
	}
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint64_t v = 0;

		if (run->io.direction == KVM_EXIT_IO_OUT) {
			memcpy(&v, data, size);
			io_bus_write(ctx->pio, run->io.port, v, size);
		} else {
			v = io_bus_read(ctx->pio, run->io.port, size);
			memcpy(data, &v, size);
		}
	}
	return EXIT_ACTION_CONTINUE;
}

static enum exit_action do_mmio(struct kvm_run *run, struct exit_ctx *ctx)
{
	unsigned len = run->mmio.len;
	uint64_t v = 0;

	if (len != 1 && len != 2 && len != 4 && len != 8) {
		/* A width the bus cannot express: reads see all-ones, writes vanish. */
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		__atomic_fetch_add(&ctx->mmio->stats.bad_size, 1, __ATOMIC_RELAXED);
		return EXIT_ACTION_CONTINUE;
	}
	if (run->mmio.is_write) {
		memcpy(&v, run->mmio.data, len);
		io_bus_write(ctx->mmio, run->mmio.phys_addr, v, len);
	} else {
		v = io_bus_read(ctx->mmio, run->mmio.phys_addr, len);
		memcpy(run->mmio.data, &v, len);
	}
	return EXIT_ACTION_CONTINUE;
}

static enum exit_action do_system_event(struct kvm_run *run, struct exit_ctx *ctx)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		snprintf(ctx->why, sizeof(ctx->why), "guest requested power-off");
		return EXIT_ACTION_POWEROFF;
	case KVM_SYSTEM_EVENT_RESET:
		snprintf(ctx->why, sizeof(ctx->why), "guest requested reset");
		return EXIT_ACTION_RESET;
	default:
		snprintf(ctx->why, sizeof(ctx->why), "unhandled system event %u",
			 run->system_event.type);
		return EXIT_ACTION_FATAL;
	}
}

enum exit_action exit_dispatch(struct kvm_run *run, struct exit_ctx *ctx)
{
	ctx->why[0] = '\0';
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return do_io(run, ctx);
	case KVM_EXIT_MMIO:
		return do_mmio(run, ctx);
	case KVM_EXIT_HLT:
		snprintf(ctx->why, sizeof(ctx->why), "guest halted");
		return EXIT_ACTION_HLT;
	case KVM_EXIT_SHUTDOWN:
		snprintf(ctx->why, sizeof(ctx->why), "guest triple fault (shutdown)");
		return EXIT_ACTION_RESET;
	case KVM_EXIT_SYSTEM_EVENT:
		return do_system_event(run, ctx);
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(ctx->why, sizeof(ctx->why), "KVM internal error, suberror %u",
			 run->internal.suberror);
		return EXIT_ACTION_FATAL;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(ctx->why, sizeof(ctx->why), "VM entry failed, hardware reason %#llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return EXIT_ACTION_FATAL;
	default:
		snprintf(ctx->why, sizeof(ctx->why), "unhandled exit reason %u (%s)",
			 run->exit_reason, exit_reason_name(run->exit_reason));
		return EXIT_ACTION_FATAL;
	}
}
