/* api.h — the Firecracker-compatible REST API as a pure dispatcher: (method, path, body) in,
 * (status, JSON body) out, through one table of routes with the VM states each allows. */
#ifndef KILN_API_API_H
#define KILN_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config/config.h"
#include "mmds/mmds.h"
#include "util/compiler.h"
#include "util/err.h"

#define API_MAX_BODY (64 * 1024) /* default body limit: larger bodies are answered 400 */
#define API_ID_MAX   64		 /* an instance id's longest length (Firecracker's) */

/* The VM states routes are allowed in (a bit each, so a route can allow several). */
enum api_vm_state {
	API_NOT_STARTED = 1 << 0,
	API_RUNNING = 1 << 1,
	API_PAUSED = 1 << 2,
};

/* PUT /snapshot/load, as the API passes it on. */
struct api_snapshot_load {
	const char *snapshot_path;
	const char *mem_path; /* mem_backend.backend_path (File) or mem_file_path */
	bool resume;	      /* resume_vm */
	bool check_config;    /* the configuration was set through the API before: compare */
	bool track_dirty;     /* track_dirty_pages or enable_diff_snapshots */
};

/* PUT /migrate (kiln's extension), as the API passes it on. */
struct api_migrate {
	const char *destination; /* "HOST:PORT" */
	uint32_t downtime_ms, max_rounds, timeout_s;
	uint32_t stall_timeout_s; /* 1..3600: a send without progress this long fails it */
	bool cancel_on_timeout;	  /* on_timeout "cancel" (default "force") */
};

/* The running balloon, as GET /balloon and /balloon/statistics report it. */
struct api_balloon {
	uint32_t target_pages, actual_pages;
	uint16_t stats_interval_s;
	uint32_t stats_present; /* bit t: the guest reported statistic t (virtio 1.2 §5.5.6.3) */
	uint64_t stats[16];
};

/*
 * What the API does to the process. Each returns 0 or -errno and reports the reason of a failure
 * with err_set(err, ...) (util/err.h; err is the request's own, empty context); the API answers
 * 400 (-EINVAL, -EBUSY, -ENOSPC, -ENOENT, -EACCES, -ENOSYS: the request cannot be done now or
 * with this configuration) or 500, with err's message, or the errno's text when the op recorded
 * none. A NULL op answers 400 "not supported".
 */
struct api_ops {
	enum api_vm_state (*state)(void *ctx);
	int (*start)(void *ctx, struct kiln_err *err);	      /* InstanceStart: build, boot */
	int (*pause)(void *ctx, struct kiln_err *err);	      /* RUNNING -> PAUSED */
	int (*resume)(void *ctx, struct kiln_err *err);	      /* PAUSED -> RUNNING */
	int (*ctrl_alt_del)(void *ctx, struct kiln_err *err); /* SendCtrlAltDel */
	/* PUT /snapshot/create (VM paused) and /snapshot/load (before boot). */
	int (*snapshot_create)(void *ctx, const char *snapshot_path, const char *mem_path,
			       bool diff, struct kiln_err *err);
	int (*snapshot_load)(void *ctx, const struct api_snapshot_load *l, struct kiln_err *err);
	/* PUT /migrate: start a live migration (returns at once); GET /migrate: its progress as a
	 * new JSON object (NULL on ENOMEM). */
	int (*migrate)(void *ctx, const struct api_migrate *mg, struct kiln_err *err);
	json_t *(*migrate_status)(void *ctx);
	/* PATCH /drives/{id} after boot: serve the drive from path (already opened once; NULL:
	 * keep the file) and/or apply rate (NULL: keep the limiter). */
	int (*drive_update)(void *ctx, const char *drive_id, const char *path,
			    const struct rate_limit_config *rate, struct kiln_err *err);
	/* PATCH /network-interfaces/{id} after boot: new rate limiters (NULL: keep that one's). */
	int (*net_update)(void *ctx, const char *iface_id, const struct rate_limit_config *rx,
			  const struct rate_limit_config *tx, struct kiln_err *err);
	/* The balloon after boot: a new target (config change interrupt), a new statistics
	 * polling period (Firecracker's rules: not from or to 0), and its state. */
	int (*balloon_update)(void *ctx, uint32_t amount_mib, struct kiln_err *err);
	int (*balloon_stats_interval)(void *ctx, uint16_t interval_s, struct kiln_err *err);
	int (*balloon_status)(void *ctx, struct api_balloon *out, struct kiln_err *err);
	/* The VM's counters for a metrics line (metrics_json): a new object, NULL on ENOMEM. */
	json_t *(*metrics)(void *ctx);
};

struct api {
	struct vm_config *cfg; /* what PUT/PATCH of configuration resources change */
	struct mmds *mmds;     /* what /mmds reads and writes (borrowed; NULL: no MMDS) */
	const struct api_ops *ops;
	void *ctx;
	char id[API_ID_MAX + 1]; /* the instance id GET / reports (default "anonymous-instance") */
	size_t max_body;	 /* longer request bodies are answered 400 (default API_MAX_BODY) */
	/* PUT /metrics: where lines go (-1: not configured), with Firecracker's options. */
	int metrics_fd;
	char metrics_path[4096];
	bool metrics_emit_id;
	json_t *metrics_props;
	/* PUT /logger, for GET /vm/config (NULL: not configured). */
	json_t *logger;
	bool configured; /* a pre-boot configuration request succeeded (snapshot load compares) */
	/* The API's own counters (in every metrics line). */
	uint64_t requests, bad_requests;
};

/* A response: status 200/204/400/500 and, except for 204, a JSON body (malloc'ed, NUL-
 * terminated; len excludes the NUL). api_response_free releases it. */
struct api_response {
	int status;
	char *body;
	size_t len;
	bool deprecated; /* the request used a deprecated field: "Deprecation: true", as Firecracker
			  */
};

/* Set up a with defaults (no metrics, no logger, bodies up to API_MAX_BODY). cfg, ops and ctx are
 * borrowed. */
void api_init(struct api *a, struct vm_config *cfg, const struct api_ops *ops, void *ctx);

/* Close the metrics file and free what api_init and requests allocated. */
void api_destroy(struct api *a);

/*
 * Handle one request. method and path are NUL-terminated (path without a query string); body
 * holds len bytes (need not be NUL-terminated; may be NULL when len is 0). Always fills out
 * (out->body NULL for 204, or when even the error body cannot be allocated, then status 500)
 * and returns out->status. Never fails otherwise, whatever the input. Main thread.
 */
int api_dispatch(struct api *a, const char *method, const char *path, const char *body, size_t len,
		 struct api_response *out);

void api_response_free(struct api_response *r);

/* Fill out with status and {"fault_message": msg} (for errors found before dispatch, such as
 * an oversized body), counted as a bad request. Returns status. */
int api_reply_error(struct api *a, struct api_response *out, int status, const char *msg);

/* Write one metrics line to the metrics file if one is configured (FlushMetrics and the
 * periodic flush). Returns 0 (also when none is configured) or -errno. */
int api_flush_metrics(struct api *a) MUST_CHECK;

/* Name of a state as GET / reports it ("Not started", "Running", "Paused"). */
const char *api_state_name(enum api_vm_state s);

#endif
