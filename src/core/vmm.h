/* vmm.h — the kiln process: KVM, the main event loop, the configuration being built (from the
 * command line, a config file or the API) and at most one VM. */
#ifndef KILN_CORE_VMM_H
#define KILN_CORE_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/term.h"
#include "config/config.h"
#include "core/event_loop.h"
#include "core/vm.h"
#include "hv/kvm.h"
#include "mmds/mmds.h"
#include "util/compiler.h"

struct migrate_src;
struct state_buf;
struct kiln_err;

struct vmm {
	struct kvm_sys kvm;
	struct event_loop loop;
	struct vm_config cfg; /* what the next VM is built from */
	struct vm *vm;	      /* NULL until started, and again after it stopped */
	struct mmds mmds;     /* the metadata store (the API's /mmds, --metadata); outlives VMs */
	bool vm_started;      /* a VM was started at least once (pre-boot settings are frozen) */
	int exit_status;      /* of the last VM, or of the process */
	enum vm_stop_reason stop_reason; /* why the last VM stopped (VM_STOP_NONE: none did) */
	int stop_signal;		 /* the SIGINT/SIGTERM/SIGHUP that stopped it, or 0 */
	bool owner_reports_stop; /* the embedding command words the stop (no panic line here) */
	/* KVM's teardown of a VM in kiln, not in a reaper: the Firecracker-compatible process,
	 * whose callers remove its cgroup once it has exited; or cfg.sync_teardown
	 * (--sync-teardown). */
	bool sync_teardown;
	int sig_fd;
	bool term_raw;
	/* Serial console input from stdin (a UART on stdio). */
	struct term_escape esc;
	bool stdin_watched;
	uint8_t pending[256]; /* input the UART has not taken yet */
	size_t pending_len;
	struct migrate_src *mig; /* the outgoing migration (src/migrate), NULL if none yet */
	bool dirty_log_used;	 /* a migration fetched the dirty log since the last snapshot */
	/* Called with on_vm_end_ctx just before a stopped VM is torn down (NULL: nothing), e.g.
	 * for a last metrics line with its counters. Main thread. */
	void (*on_vm_end)(void *ctx);
	void *on_vm_end_ctx;
};

/* Open KVM, create the event loop, route SIGINT/SIGTERM/SIGHUP to it, ignore SIGPIPE, and fill
 * cfg with the defaults. Returns 0 or -errno (message logged). */
int vmm_init(struct vmm *m) MUST_CHECK;

/* A vmm on the heap with cfg at its defaults and nothing opened yet (vmm_destroy and free are
 * safe on it), for a caller that fills cfg before vmm_open. Its memory comes zeroed from calloc
 * and only what differs from zero is written: most of the ~200 KiB structure is never touched,
 * each page of it a page fault saved on the way to the guest's first instruction. NULL if out
 * of memory. */
struct vmm *vmm_new(void);

/* The rest of vmm_init, for a vmm from vmm_new: everything but the defaults. 0 or -errno
 * (message logged). */
int vmm_open(struct vmm *m) MUST_CHECK;

/* Build and start a VM from m->cfg (NOT_STARTED -> RUNNING): the terminal goes raw when a
 * console is on stdio. Returns 0, -EBUSY if a VM exists or already ran, -EINVAL for a
 * configuration or image error, or another -errno (host error); the reason is logged and, when
 * err is not NULL, recorded in it (util/err.h). */
int vmm_start_vm(struct vmm *m, struct kiln_err *err) MUST_CHECK;

/* Run the event loop until the VM stops for good (a reset with --on-reset restart boots it
 * again) or, with no VM, until a signal. Returns the exit status (README's table). */
int vmm_run(struct vmm *m);

/* Options of a restore (kiln restore, PUT /snapshot/load). */
struct vmm_restore {
	const char *snapshot_path;
	const char *mem_path;
	bool resume;	   /* resume the vCPUs at once; else the VM stays PAUSED */
	bool check_config; /* m->cfg was configured: it must describe the snapshot's machine */
	uint64_t expect_mem_bytes; /* non-zero: the snapshot's memory size must be this */
	unsigned expect_vcpus;	   /* non-zero: the snapshot's vCPU count must be this */
	bool track_dirty;	   /* track dirty pages from the load on (Diff snapshots) */
};

/*
 * Build a VM from a snapshot (NOT_STARTED -> PAUSED, or RUNNING with r->resume): read and check
 * the state file, compare configurations if asked, check the memory file's size, rebuild the
 * board from the snapshot's configuration with RAM mapped MAP_PRIVATE from the memory file, load
 * every section, start the vCPUs parked. m->cfg becomes the snapshot's configuration. On any
 * failure nothing is left behind (m->cfg restored, no VM, another load or start may follow) and
 * -EINVAL (bad, corrupt or mismatched snapshot), -EBUSY (a VM exists or ran) or another -errno
 * is returned, the reason logged and recorded in err (may be NULL).
 */
int vmm_restore_vm(struct vmm *m, const struct vmm_restore *r, struct kiln_err *err) MUST_CHECK;

/* Write a Full or Diff snapshot of the paused VM (snapshot_create). -EBUSY without a paused VM;
 * -EINVAL for a Diff without track_dirty_pages, or after a migration attempt consumed the dirty
 * log since the last snapshot (take a Full one first). The reason is logged and recorded in err
 * (may be NULL). */
int vmm_snapshot(struct vmm *m, const char *snap_path, const char *mem_path, bool diff,
		 struct kiln_err *err) MUST_CHECK;

#define VMM_DRIVE_SWAP_MS 5000 /* longest wait for the old file's requests in flight */

/* Update drive `drive_id` of the running (or paused) VM (PATCH /drives/{id} after boot): with
 * path, the virtio-blk device swaps its backing file (blk_replace_backing); with rate, it takes
 * the new rate limiter (blk_set_rate_limit); the configuration records both. -EBUSY without a
 * VM, -EINVAL for an unknown drive, or the device's -errno; the reason is recorded in err. */
int vmm_drive_update(struct vmm *m, const char *drive_id, const char *path,
		     const struct rate_limit_config *rate, struct kiln_err *err) MUST_CHECK;

/* Give network interface `iface_id` of the running (or paused) VM new rate limiters (PATCH
 * /network-interfaces/{id} after boot; NULL keeps a direction's); the configuration records
 * them. -EBUSY without a VM, -EINVAL for an unknown interface, or the device's -errno; the
 * reason is recorded in err. */
int vmm_net_update(struct vmm *m, const char *iface_id, const struct rate_limit_config *rx,
		   const struct rate_limit_config *tx, struct kiln_err *err) MUST_CHECK;

/* --- migration destination (src/migrate/recv.c) --- */

/* Build a VM for cfg (state CREATED) whose RAM is zeroed and written by nobody yet: the caller
 * fills it, then loads the state. m->cfg becomes cfg. 0, -EBUSY (a VM exists or ran), -EINVAL or
 * another -errno (logged, and recorded in err, which may be NULL). */
int vmm_incoming_create(struct vmm *m, const struct vm_config *cfg,
			struct kiln_err *err) MUST_CHECK;

/* Load a state stream (snapshot sections) into the incoming VM. 0 or -EINVAL (logged, and
 * recorded in err, which may be NULL). */
int vmm_incoming_load(struct vmm *m, struct state_buf *body, struct kiln_err *err) MUST_CHECK;

/* Start the incoming VM's vCPUs parked (as a restore does); the caller resumes it. 0 or -errno
 * (the VM is then gone). */
int vmm_incoming_launch(struct vmm *m) MUST_CHECK;

/* Drop the incoming VM before it was launched (m->cfg back to the defaults). */
void vmm_incoming_discard(struct vmm *m);

/* Ask the running VM (if any) to stop; the loop then ends as after a guest shutdown. */
void vmm_request_stop(struct vmm *m);

/* Tear down the VM (if any), restore the terminal, close everything. */
void vmm_destroy(struct vmm *m);

#endif
