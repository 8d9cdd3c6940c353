/* migrate.h — pre-copy live migration between two kiln processes: the source side (a thread
 * started through the API) and the destination side (`kiln migrate receive`). The protocol:
 * docs/migration-protocol.md. */
#ifndef KILN_MIGRATE_MIGRATE_H
#define KILN_MIGRATE_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

struct vmm;

#define MIGRATE_DOWNTIME_MS 300u /* default downtime budget */
#define MIGRATE_MAX_ROUNDS  30u	 /* default rounds of dirty pages after the full pass */
#define MIGRATE_TIMEOUT_S   60u	 /* default time before the policy applies */
#define MIGRATE_STALL_S	    10u	 /* default: a send or receive without progress this long fails */
#define MIGRATE_STALL_MAX_S 3600u

/* What to do when max_rounds or timeout_s is reached before the estimate fits the budget. */
enum migrate_policy { MIGRATE_FORCE, MIGRATE_CANCEL };

struct migrate_params {
	char destination[64]; /* HOST:PORT (IPv4) */
	uint32_t downtime_ms;
	uint32_t max_rounds;
	uint32_t timeout_s;
	enum migrate_policy on_timeout;
	/* A send (or a receive before COMPLETE) that moves no byte for this long fails the
	 * migration: a destination that stops reading cannot hold the source. 0: MIGRATE_STALL_S.
	 */
	uint32_t stall_timeout_s;
};

enum migrate_state {
	MIGRATE_NONE,	   /* never started */
	MIGRATE_ACTIVE,	   /* rounds or stop-and-copy in progress */
	MIGRATE_COMPLETED, /* the destination runs the VM; this VM stops */
	MIGRATE_FAILED,	   /* error: the VM keeps running here */
	MIGRATE_CANCELLED, /* the policy (or a request) cancelled: the VM keeps running here */
};

struct migrate_progress {
	enum migrate_state state;
	unsigned round;		/* 0: the full pass */
	uint64_t pages_total;	/* RAM pages */
	uint64_t pages_sent;	/* pages sent so far, all rounds */
	uint64_t bytes_sent;	/* on the wire */
	uint64_t dirty_pages;	/* found dirty at the last fetch */
	double dirty_rate;	/* pages per second, at the last fetch */
	double bandwidth_mbps;	/* MiB/s, measured */
	double est_downtime_ms; /* last estimate */
	double downtime_ms;	/* measured: pause to ACK (after completion) */
	double total_ms;	/* start to end (or so far) */
	char error[256];	/* why it failed or was cancelled */
};

/* Parse a policy name ("force" | "cancel"). 0 or -EINVAL. */
int migrate_policy_parse(const char *s, enum migrate_policy *p) MUST_CHECK;

struct kiln_err;

/* Start migrating m's VM (RUNNING or PAUSED) to p->destination in a thread; returns at once.
 * -EBUSY (no VM, or a migration is active), -EINVAL (bad destination), -ENOMEM; logged and
 * recorded in err (may be NULL). Later failures are the thread's: migrate_get_progress. */
int migrate_start(struct vmm *m, const struct migrate_params *p, struct kiln_err *err) MUST_CHECK;

/* A consistent copy of the progress (state MIGRATE_NONE if none ever started). */
void migrate_get_progress(struct vmm *m, struct migrate_progress *out);

/* Whether a migration is running (pause, resume and snapshots are refused meanwhile). */
bool migrate_active(struct vmm *m);

/* Cancel a running migration, wait for its thread and free it (before the VM is destroyed).
 * Main thread. */
void migrate_shutdown(struct vmm *m);

#endif
