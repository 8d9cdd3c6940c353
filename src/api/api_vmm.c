/* api_vmm.c — the API's operations on struct vmm, and the metrics timer: the API
 * served from a kiln process (src/cmd/api_server.c reads `kiln --api-sock`). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "api/api.h"
#include "api/api_vmm.h"
#include "api/http.h"
#include "core/board.h"
#include "core/metrics.h"
#include "migrate/migrate.h"
#include "util/err.h"
#include "util/log.h"
#include "virtio/balloon.h"

static enum api_vm_state vmm_state(void *ctx)
{
	struct vmm *m = ctx;

	if (!m->vm)
		return API_NOT_STARTED;
	return vm_get_state(m->vm) == VM_PAUSED ? API_PAUSED : API_RUNNING;
}

static int vmm_start(void *ctx, struct kiln_err *err)
{
	struct vmm *m = ctx;

	if (m->vm_started && !m->vm)
		return err_set(err, -EBUSY,
			       "the microVM already ran once; start a new kiln for another");
	return vmm_start_vm(m, err);
}

/* Pause, resume and snapshots would race the migration thread: -EBUSY (reported) or 0. */
static int migrating(struct vmm *m, struct kiln_err *err)
{
	if (!migrate_active(m))
		return 0;
	return err_set(err, -EBUSY, "a migration is in progress");
}

static int vmm_pause(void *ctx, struct kiln_err *err)
{
	struct vmm *m = ctx;
	int ret = migrating(m, err);

	if (ret < 0)
		return ret;
	return m->vm ? vm_pause(m->vm) : -EBUSY;
}

static int vmm_resume(void *ctx, struct kiln_err *err)
{
	struct vmm *m = ctx;
	int ret = migrating(m, err);

	if (ret < 0)
		return ret;
	return m->vm ? vm_resume(m->vm) : -EBUSY;
}

static int vmm_ctrl_alt_del(void *ctx, struct kiln_err *err)
{
	struct vmm *m = ctx;

	(void)err; /* its only failures are -EBUSY and -ENOSPC, which the API words itself */
	return m->vm ? board_ctrl_alt_del(m->vm) : -EBUSY;
}

static int vmm_snapshot_create(void *ctx, const char *snap, const char *mem, bool diff,
			       struct kiln_err *err)
{
	int ret = migrating(ctx, err);

	return ret < 0 ? ret : vmm_snapshot(ctx, snap, mem, diff, err);
}

static int vmm_snapshot_load(void *ctx, const struct api_snapshot_load *l, struct kiln_err *err)
{
	struct vmm *m = ctx;
	struct vmm_restore r = {.snapshot_path = l->snapshot_path,
				.mem_path = l->mem_path,
				.resume = l->resume,
				.check_config = l->check_config,
				.track_dirty = l->track_dirty};

	if (m->vm_started)
		return err_set(err, -EBUSY,
			       "the microVM already ran once; start a new kiln to load a snapshot");
	return vmm_restore_vm(m, &r, err);
}

static int vmm_drive_patch(void *ctx, const char *drive_id, const char *path,
			   const struct rate_limit_config *rate, struct kiln_err *err)
{
	int ret = migrating(ctx, err); /* the destination has the old file */

	return ret < 0 ? ret : vmm_drive_update(ctx, drive_id, path, rate, err);
}

static int vmm_net_patch(void *ctx, const char *iface_id, const struct rate_limit_config *rx,
			 const struct rate_limit_config *tx, struct kiln_err *err)
{
	int ret = migrating(ctx, err); /* the destination was sent the old limiters */

	return ret < 0 ? ret : vmm_net_update(ctx, iface_id, rx, tx, err);
}

/* The running VM's balloon, or NULL with the reason in err. */
static struct virtio_balloon *balloon_of(struct vmm *m, struct kiln_err *err)
{
	struct virtio_balloon *b = m->vm ? virtio_balloon_find(m->vm) : NULL;

	if (!b)
		err_set(err, -EINVAL, "No balloon device found.");
	return b;
}

static int vmm_balloon_update(void *ctx, uint32_t amount_mib, struct kiln_err *err)
{
	struct virtio_balloon *b = balloon_of(ctx, err);

	if (!b)
		return -EINVAL;
	virtio_balloon_set_target(b, amount_mib * VIRTIO_BALLOON_PAGES_MIB);
	return 0;
}

static int vmm_balloon_stats_interval(void *ctx, uint16_t interval_s, struct kiln_err *err)
{
	struct virtio_balloon *b = balloon_of(ctx, err);

	if (!b)
		return -EINVAL;
	if (virtio_balloon_set_stats_interval(b, interval_s) < 0)
		return err_set(err, -EINVAL,
			       "Statistics cannot be enabled/disabled after activation.");
	return 0;
}

static int vmm_balloon_status(void *ctx, struct api_balloon *out, struct kiln_err *err)
{
	struct virtio_balloon *b = balloon_of(ctx, err);
	struct virtio_balloon_guest_stats g;

	if (!b)
		return -EINVAL;
	virtio_balloon_status(b, &out->target_pages, &out->actual_pages, &out->stats_interval_s,
			      &g);
	out->stats_present = g.present;
	memcpy(out->stats, g.val, sizeof(out->stats));
	return 0;
}

static json_t *vmm_metrics(void *ctx)
{
	struct vmm *m = ctx;

	return metrics_json(m->vm);
}

static int vmm_migrate(void *ctx, const struct api_migrate *mg, struct kiln_err *err)
{
	struct migrate_params p = {.downtime_ms = mg->downtime_ms,
				   .max_rounds = mg->max_rounds,
				   .timeout_s = mg->timeout_s,
				   .stall_timeout_s = mg->stall_timeout_s,
				   .on_timeout =
				       mg->cancel_on_timeout ? MIGRATE_CANCEL : MIGRATE_FORCE};

	if (strlen(mg->destination) >= sizeof(p.destination))
		return err_set(err, -EINVAL, "migrate: destination too long");
	strcpy(p.destination, mg->destination);
	return migrate_start(ctx, &p, err);
}

static json_t *vmm_migrate_status(void *ctx)
{
	static const char *const names[] = {"none", "active", "completed", "failed", "cancelled"};
	struct migrate_progress p;

	migrate_get_progress(ctx, &p);
	return json_pack(
	    "{s:s, s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:s}", "state", names[p.state],
	    "round", (int)p.round, "pages_total", (json_int_t)p.pages_total, "pages_sent",
	    (json_int_t)p.pages_sent, "bytes_sent", (json_int_t)p.bytes_sent, "dirty_pages",
	    (json_int_t)p.dirty_pages, "dirty_rate_pps", p.dirty_rate, "bandwidth_mibps",
	    p.bandwidth_mbps, "estimated_downtime_ms", p.est_downtime_ms, "downtime_ms",
	    p.downtime_ms, "total_ms", p.total_ms, "error", p.error);
}

static const struct api_ops vmm_api_ops = {
    .state = vmm_state,
    .start = vmm_start,
    .pause = vmm_pause,
    .resume = vmm_resume,
    .ctrl_alt_del = vmm_ctrl_alt_del,
    .snapshot_create = vmm_snapshot_create,
    .snapshot_load = vmm_snapshot_load,
    .drive_update = vmm_drive_patch,
    .net_update = vmm_net_patch,
    .balloon_update = vmm_balloon_update,
    .balloon_stats_interval = vmm_balloon_stats_interval,
    .balloon_status = vmm_balloon_status,
    .metrics = vmm_metrics,
    .migrate = vmm_migrate,
    .migrate_status = vmm_migrate_status,
};

static void on_metrics_timer(void *ctx, int fd, uint32_t events)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	if (api_flush_metrics(ctx) < 0)
		log_debug("metrics: periodic flush failed");
}

static int metrics_timer(struct event_loop *loop, struct api *a)
{
	struct itimerspec its = {.it_interval.tv_sec = API_METRICS_PERIOD_S,
				 .it_value.tv_sec = API_METRICS_PERIOD_S};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL) < 0 ||
	    event_loop_add(loop, fd, EPOLLIN, on_metrics_timer, a) < 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}

void api_proc_init(struct api_proc *p, struct vmm *m, const char *id)
{
	api_init(&p->api, &m->cfg, &vmm_api_ops, m);
	p->api.mmds = &m->mmds;
	p->m = m;
	p->listening = false;
	if (id)
		snprintf(p->api.id, sizeof(p->api.id), "%s", id);
}

int api_proc_apply(struct api_proc *p, const char *method, const char *path, const json_t *body,
		   char *err, size_t errlen)
{
	uint64_t requests = p->api.requests, bad = p->api.bad_requests;
	char *text = json_dumps(body, JSON_COMPACT);
	struct api_response r = {.status = 500};
	json_t *reply;

	if (!text)
		return -ENOMEM;
	api_dispatch(&p->api, method, path, text, strlen(text), &r);
	free(text);
	p->api.requests = requests; /* the command line is not an API request */
	p->api.bad_requests = bad;
	reply = r.body ? json_loads(r.body, 0, NULL) : NULL;
	if (r.status >= 300)
		snprintf(err, errlen, "%s",
			 json_string_value(json_object_get(reply, "fault_message")) ?: "failed");
	json_decref(reply);
	api_response_free(&r);
	return r.status >= 300 ? -EINVAL : 0;
}

int api_proc_listen(struct api_proc *p, const char *sock_path)
{
	int ret = http_server_start(&p->srv, &p->m->loop, sock_path, &p->api);

	if (ret < 0)
		return ret;
	p->listening = true;
	log_info("api: listening on %s", sock_path);
	return 0;
}

/* The loop with the metrics timer, and the server if any. */
static int serve(struct api_proc *p, const char *sock_path)
{
	if (!p->listening && sock_path && api_proc_listen(p, sock_path) < 0)
		return KILN_EXIT_HOST;
	return vmm_run(p->m);
}

/* A VM stopped: one metrics line with its final counters (Firecracker writes one as it stops). */
static void on_vm_end(void *ctx)
{
	if (api_flush_metrics(ctx) < 0)
		log_warn("metrics: the flush as the VM stopped failed");
}

int api_proc_run(struct api_proc *p, const char *sock_path)
{
	int tfd = metrics_timer(&p->m->loop, &p->api), status = KILN_EXIT_HOST;

	p->m->on_vm_end = on_vm_end;
	p->m->on_vm_end_ctx = &p->api;
	if (tfd >= 0) {
		status = serve(p, sock_path);
		event_loop_del(&p->m->loop, tfd);
		close(tfd);
	}
	p->m->on_vm_end = NULL;
	return status;
}

void api_proc_destroy(struct api_proc *p)
{
	if (p->listening)
		http_server_stop(&p->srv);
	p->listening = false;
	api_destroy(&p->api);
}

int api_proc_open(struct api_proc *p, struct vmm *m, const char *sock_path, const char *id)
{
	api_proc_init(p, m, id);
	if (sock_path && api_proc_listen(p, sock_path) < 0) {
		api_proc_destroy(p);
		return KILN_EXIT_HOST;
	}
	return 0;
}
