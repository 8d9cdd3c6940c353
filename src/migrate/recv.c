/* recv.c — the destination side of a migration: accept one source, check every frame, build the
 * VM from CONFIG, fill its RAM from MEMORY, load STATE, and start it only after COMPLETE. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "core/vm.h"
#include "core/vmm.h"
#include "migrate/migrate.h"
#include "migrate/proto.h"
#include "migrate/recv.h"
#include "state/snapshot.h"
#include "util/err.h"
#include "util/log.h"

#define RECV_TIMEOUT_S 60 /* the source sends something at least this often */

/* Where the stream is: frames are only accepted in this order. */
enum phase { WANT_CONFIG, WANT_MEMORY, WANT_COMPLETE };

struct incoming {
	struct vmm *m;
	int fd;
	enum phase phase;
	uint64_t pages;
	char err[320];
};

static PRINTF(2, 3) int refuse(struct incoming *in, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in->err, sizeof(in->err), fmt, ap);
	va_end(ap);
	return -EPROTO;
}

static int on_config(struct incoming *in, const struct mig_frame *f)
{
	struct kiln_err e = {0};
	struct state_buf b = {0};
	struct vm_config cfg;
	int ret;

	if (state_open(&b, f->data, f->len) < 0)
		return refuse(in, "%s", "CONFIG: bad VM configuration");
	ret = snapshot_config_load(&b, &cfg, &e);
	if (ret < 0)
		return refuse(in, "CONFIG: bad VM configuration: %s", err_text(&e, ret));
	ret = vmm_incoming_create(in->m, &cfg, &e);
	if (ret < 0)
		return refuse(in, "CONFIG: cannot build this VM here: %s", err_text(&e, ret));
	in->phase = WANT_MEMORY;
	return 0;
}

/* One run (header decoded little-endian by mig_get_run), its pages inside one writable RAM
 * region. 0 with *used the run's bytes, or -EPROTO (in->err set). */
static int on_run(struct incoming *in, const uint8_t *p, size_t left, size_t *used)
{
	const struct guest_mem *mem = &in->m->vm->mem;
	const struct guest_region *r;
	const char *why = "";
	struct mig_run run;
	uint64_t bytes;
	uint8_t *dst;

	if (mig_get_run(p, left, &run, &why) < 0)
		return refuse(in, "%s", why);
	bytes = (uint64_t)run.pages * MIG_PAGE;
	r = guest_mem_find(mem, run.gpa);
	dst = guest_mem_ptr_rw(mem, run.gpa, bytes);
	if (!r || !dst || !(r->flags & GUEST_MEM_RAM))
		return refuse(in, "%s", "MEMORY: pages outside guest RAM");
	memcpy(dst, p + MIG_RUN_HDR, bytes);
	in->pages += run.pages;
	*used = MIG_RUN_HDR + bytes;
	return 0;
}

static int on_memory(struct incoming *in, const struct mig_frame *f)
{
	size_t off = 0;

	while (off < f->len) {
		size_t used = 0;
		int ret = on_run(in, f->data + off, f->len - off, &used);

		if (ret < 0)
			return ret;
		off += used;
	}
	return 0;
}

static int on_state(struct incoming *in, const struct mig_frame *f)
{
	struct kiln_err e = {0};
	struct state_buf b = {0};
	int ret;

	if (state_open(&b, f->data, f->len) < 0)
		return refuse(in, "%s", "STATE: bad section framing");
	ret = vmm_incoming_load(in->m, &b, &e);
	if (ret < 0)
		return refuse(in, "STATE: refused: %s", err_text(&e, ret));
	in->phase = WANT_COMPLETE;
	return 0;
}

/* COMPLETE: start the vCPUs parked, acknowledge, then run. Nothing runs before the ACK went out. */
static int on_complete(struct incoming *in)
{
	int ret = vmm_incoming_launch(in->m);

	if (ret < 0)
		return refuse(in, "COMPLETE: cannot start the VM: %s", strerror(-ret));
	ret = mig_send_frame(in->fd, MIG_ACK, NULL, 0, NULL, 0);
	if (ret < 0) {
		vmm_request_stop(in->m);
		return refuse(in, "COMPLETE: cannot acknowledge: %s", strerror(-ret));
	}
	ret = vm_resume(in->m->vm);
	return ret < 0 ? refuse(in, "cannot resume the VM: %s", strerror(-ret)) : 1;
}

/* Dispatch one frame by phase: 0 to go on, 1 when the VM runs, or -EPROTO (in->err set). */
static int on_frame(struct incoming *in, struct mig_frame *f)
{
	char reason[MIG_REASON_MAX];

	if (f->type == MIG_ABANDON) {
		mig_reason(f, reason, sizeof(reason));
		return refuse(in, "the source abandoned: %s", reason);
	}
	if (f->type == MIG_CONFIG && in->phase == WANT_CONFIG)
		return on_config(in, f);
	if (f->type == MIG_MEMORY && in->phase == WANT_MEMORY)
		return on_memory(in, f);
	if (f->type == MIG_STATE && in->phase == WANT_MEMORY)
		return on_state(in, f);
	if (f->type == MIG_COMPLETE && in->phase == WANT_COMPLETE && f->len == 0)
		return on_complete(in);
	return refuse(in, "unexpected %s frame at this point", mig_type_name(f->type));
}

int migrate_receive(struct vmm *m, int fd, char *err, size_t errlen)
{
	struct incoming in = {.m = m, .fd = fd};
	struct timeval tv = {.tv_sec = RECV_TIMEOUT_S};
	const char *why = "";
	int ret;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ret = mig_recv_hello(fd, &why);
	if (ret == -EPROTO)
		refuse(&in, "%s", why);
	while (ret == 0) {
		struct mig_frame f;

		ret = mig_recv_frame(fd, &f, &why);
		if (ret == -EPROTO)
			refuse(&in, "%s", why);
		if (ret == 0)
			ret = on_frame(&in, &f);
		free(f.data);
	}
	if (ret == 1) {
		log_info("migrate: received %llu pages; the VM runs", (unsigned long long)in.pages);
		return 0;
	}
	if (ret != -EPROTO)
		snprintf(in.err, sizeof(in.err), "connection: %s",
			 ret == -EPIPE ? "closed by the source before COMPLETE" : strerror(-ret));
	mig_send_abandon(fd, in.err);
	if (!m->vm_started)
		vmm_incoming_discard(m);
	snprintf(err, errlen, "%s", in.err);
	return -EPROTO;
}
