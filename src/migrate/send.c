/* send.c — the source side of a migration: a thread that streams the VM's memory in pre-copy
 * rounds over dirty logging, then pauses it for the last pages and its state. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/board.h"
#include "core/vm.h"
#include "core/vmm.h"
#include "migrate/migrate.h"
#include "seccomp/seccomp.h"
#include "migrate/proto.h"
#include "state/snapshot.h"
#include "util/err.h"
#include "util/log.h"

#define ACK_TIMEOUT_S	  30	     /* the destination loads the state and answers COMPLETE */
#define ABANDON_TIMEOUT_S 1	     /* the farewell ABANDON of a failed migration, at most */
#define BATCH		  (4u << 20) /* page bytes per MEMORY frame */

struct migrate_src {
	pthread_t thread;
	bool joined;
	pthread_mutex_t lock; /* guards p */
	struct migrate_progress p;
	/* The outcome fail() decided (FAILED or CANCELLED; ACTIVE: none yet). Published in p.state
	 * only at the very end, once the VM runs again: "failed" never shows a paused VM. */
	enum migrate_state end_state;
	struct migrate_params params;
	struct vm *vm;
	int fd;
	bool cancel;	    /* atomic: stop as soon as possible */
	bool paused_by_us;  /* the thread paused the VM: it resumes it on failure */
	bool quiesced;	    /* the thread quiesced the devices: it resumes them on failure */
	bool logging;	    /* the thread started dirty logging: it stops it at the end */
	double t0, t_fetch; /* start, last dirty fetch (seconds) */
	uint8_t *buf;	    /* one MEMORY frame's payload being built */
	size_t buf_len;
	uint64_t *bits;	  /* one region's dirty bitmap */
	int pagemap_fd;	  /* /proc/self/pagemap, or -1: the full pass skips untouched pages */
	uint64_t pm[256]; /* pagemap entries of the pages being looked at */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int migrate_policy_parse(const char *s, enum migrate_policy *p)
{
	if (strcmp(s, "force") == 0)
		*p = MIGRATE_FORCE;
	else if (strcmp(s, "cancel") == 0)
		*p = MIGRATE_CANCEL;
	else
		return -EINVAL;
	return 0;
}

static PRINTF(3, 4) void fail(struct migrate_src *s, enum migrate_state st, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	va_start(ap, fmt);
	if (!s->p.error[0])
		vsnprintf(s->p.error, sizeof(s->p.error), fmt, ap);
	va_end(ap);
	if (s->end_state == MIGRATE_ACTIVE)
		s->end_state = st;
	pthread_mutex_unlock(&s->lock);
}

/* --- the wire --- */

static int flush(struct migrate_src *s)
{
	int ret = 0;

	if (s->buf_len)
		ret = mig_send_frame(s->fd, MIG_MEMORY, s->buf, s->buf_len, NULL, 0);
	pthread_mutex_lock(&s->lock);
	s->p.bytes_sent += s->buf_len + (s->buf_len ? MIG_FRAME_HDR : 0);
	pthread_mutex_unlock(&s->lock);
	s->buf_len = 0;
	return ret;
}

/* Append a run of n pages at gpa (host pointer h) to the frame being built. */
static int add_run(struct migrate_src *s, uint64_t gpa, const uint8_t *h, uint32_t n)
{
	uint8_t *p;
	int ret = 0;

	if (s->buf_len + MIG_RUN_HDR + (size_t)n * MIG_PAGE > BATCH + MIG_RUN_HDR * 64)
		ret = flush(s);
	if (ret < 0 || __atomic_load_n(&s->cancel, __ATOMIC_RELAXED))
		return ret < 0 ? ret : -ECANCELED;
	p = s->buf + s->buf_len;
	mig_put_run(p, gpa, n); /* little-endian, whatever the host */
	memcpy(p + MIG_RUN_HDR, h, (size_t)n * MIG_PAGE);
	s->buf_len += MIG_RUN_HDR + (size_t)n * MIG_PAGE;
	pthread_mutex_lock(&s->lock);
	s->p.pages_sent += n;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static bool page_zero(const uint8_t *p)
{
	static const uint8_t zero[MIG_PAGE];

	return memcmp(p, zero, MIG_PAGE) == 0;
}

/* Full pass: whether page i of the 256 at host h (anonymous memory) was ever touched, per
 * /proc/self/pagemap (present or swapped); untouched pages read as zero and are not even read.
 * Unknown (no pagemap, a file mapping, shared memory another process may have written): true. */
static void touched_load(struct migrate_src *s, const struct guest_region *r, const uint8_t *h,
			 uint64_t n)
{
	off_t off = (off_t)((uintptr_t)h / MIG_PAGE * sizeof(uint64_t));

	if (s->pagemap_fd < 0 || (r->flags & (GUEST_MEM_FILE | GUEST_MEM_SHARED)) ||
	    pread(s->pagemap_fd, s->pm, n * sizeof(uint64_t), off) != (ssize_t)(n * 8))
		memset(s->pm, 0xff, sizeof(s->pm));
}

static bool page_needed(struct migrate_src *s, const uint64_t *bits, const uint8_t *base,
			uint64_t first, uint64_t i)
{
	if (bits)
		return (bits[i / 64] >> (i % 64)) & 1;
	return (s->pm[i - first] & (3ull << 62)) && !page_zero(base + i * MIG_PAGE);
}

/* Send the pages of region r whose bits are set (all pages if bits is NULL, skipping zero pages:
 * the destination's RAM starts zeroed), in runs of at most 256 pages. */
static int send_region(struct migrate_src *s, const struct guest_region *r, const uint64_t *bits)
{
	uint64_t pages = r->len / MIG_PAGE;

	for (uint64_t i = 0, first = 0; i < pages;) {
		uint32_t n = 0;
		int ret;

		if (i % 256 == 0) { /* runs stay inside chunks of 256 pages */
			first = i;
			if (!bits) /* the pagemap entries of the chunk */
				touched_load(s, r, r->host + i * MIG_PAGE,
					     pages - i < 256 ? pages - i : 256);
		}
		while (i + n < pages && (i + n) / 256 == first / 256 &&
		       page_needed(s, bits, r->host, first, i + n))
			n++;
		if (n == 0) {
			i++;
			continue;
		}
		ret = add_run(s, r->gpa + i * MIG_PAGE, r->host + i * MIG_PAGE, n);
		if (ret < 0)
			return ret;
		i += n;
	}
	return 0;
}

/* The destination may refuse at any time: an ABANDON waiting on the socket ends the migration. */
static int peer_abandoned(struct migrate_src *s)
{
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	struct mig_frame f;
	const char *why = "the connection closed";
	char reason[MIG_REASON_MAX];

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	if (mig_recv_frame(s->fd, &f, &why) == 0 && f.type == MIG_ABANDON) {
		mig_reason(&f, reason, sizeof(reason));
		fail(s, MIGRATE_FAILED, "the destination abandoned: %s", reason);
	} else {
		fail(s, MIGRATE_FAILED, "the destination: %s", why);
	}
	free(f.data);
	return -EPIPE;
}

/* --- rounds --- */

/* Send every RAM region: whole (first pass) or its dirty pages; dirty counted into *ndirty. */
static int send_pass(struct migrate_src *s, bool full, uint64_t *ndirty)
{
	struct guest_mem *mem = &s->vm->mem;
	int ret = 0;

	*ndirty = 0;
	for (unsigned i = 0; i < mem->nr && ret == 0; i++) {
		const struct guest_region *r = &mem->r[i];

		if (!(r->flags & GUEST_MEM_RAM))
			continue;
		if (!full && guest_mem_dirty_fetch(mem, r, s->bits) < 0)
			log_warn("migrate: dirty log unavailable: sending the whole region");
		if (!full)
			*ndirty += guest_mem_bitmap_count(s->bits, guest_mem_bitmap_words(r->len));
		ret = send_region(s, r, full ? NULL : s->bits);
	}
	return ret ? ret : flush(s);
}

/* Count the dirty pages without sending (for the estimate), keeping them: the bitmaps are
 * fetched into the VMM side again. */
static uint64_t peek_dirty(struct migrate_src *s)
{
	struct guest_mem *mem = &s->vm->mem;
	uint64_t n = 0;

	for (unsigned i = 0; i < mem->nr; i++) {
		const struct guest_region *r = &mem->r[i];
		size_t words = guest_mem_bitmap_words(r->len);

		if (!(r->flags & GUEST_MEM_RAM) || guest_mem_dirty_fetch(mem, r, s->bits) < 0)
			continue;
		n += guest_mem_bitmap_count(s->bits, words);
		for (size_t w = 0; w < words; w++) /* put them back for the next pass */
			if (s->bits[w])
				__atomic_fetch_or(&r->dirty[w], s->bits[w], __ATOMIC_RELAXED);
	}
	return n;
}

/* Measure the round: bandwidth from its bytes and time; the estimate from the dirty set. */
static void account(struct migrate_src *s, uint64_t bytes0, double t0, uint64_t dirty)
{
	double t = now_s(), dt = t - t0 > 1e-6 ? t - t0 : 1e-6;

	pthread_mutex_lock(&s->lock);
	if (s->p.bytes_sent > bytes0)
		s->p.bandwidth_mbps = (double)(s->p.bytes_sent - bytes0) / dt / (1 << 20);
	s->p.dirty_pages = dirty;
	s->p.dirty_rate = (double)dirty / (t - s->t_fetch > 1e-6 ? t - s->t_fetch : 1e-6);
	s->p.est_downtime_ms = s->p.bandwidth_mbps > 0 ? (double)dirty * MIG_PAGE /
							     (s->p.bandwidth_mbps * (1 << 20)) * 1e3
						       : 1e9;
	s->p.total_ms = (t - s->t0) * 1e3;
	pthread_mutex_unlock(&s->lock);
	s->t_fetch = t;
}

/* Pre-copy: the full pass, then dirty rounds until the estimate fits the budget (0), or the
 * rounds or the time run out (1: the policy decides), or an error. */
static int precopy(struct migrate_src *s)
{
	uint64_t dirty = 0, bytes0 = 0;
	double t0 = now_s();
	int ret = send_pass(s, true, &dirty);

	for (;;) {
		if (ret == 0)
			ret = peer_abandoned(s);
		if (ret < 0)
			return ret;
		account(s, bytes0, t0, peek_dirty(s));
		if (s->p.est_downtime_ms <= s->params.downtime_ms)
			return 0;
		if (s->p.round >= s->params.max_rounds ||
		    now_s() - s->t0 >= (double)s->params.timeout_s)
			return 1;
		pthread_mutex_lock(&s->lock);
		s->p.round++;
		bytes0 = s->p.bytes_sent;
		pthread_mutex_unlock(&s->lock);
		t0 = now_s();
		ret = send_pass(s, false, &dirty);
	}
}

/* Wait for the destination's answer to COMPLETE. */
static int await_ack(struct migrate_src *s)
{
	struct timeval tv = {.tv_sec = ACK_TIMEOUT_S};
	struct mig_frame f;
	const char *why = "no answer";
	char reason[MIG_REASON_MAX];
	int ret;

	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ret = mig_recv_frame(s->fd, &f, &why);
	if (ret == 0 && f.type == MIG_ACK && f.len == 0) {
		free(f.data);
		return 0;
	}
	if (ret == 0 && f.type == MIG_ABANDON) {
		mig_reason(&f, reason, sizeof(reason));
		fail(s, MIGRATE_FAILED, "the destination abandoned: %s", reason);
	} else {
		fail(s, MIGRATE_FAILED, "no acknowledgement from the destination: %s",
		     ret == -EPROTO   ? why
		     : ret == -EPIPE  ? "the connection closed"
		     : ret == -EAGAIN ? "none within 30 s (ACK_TIMEOUT_S)"
				      : strerror(-ret));
	}
	free(f.data);
	return -EPIPE;
}

/* Stop-and-copy: pause, the last dirty pages, the state, COMPLETE, the ACK. */
static int stop_and_copy(struct migrate_src *s, double *t_pause)
{
	struct state_buf b = {0};
	uint64_t dirty;
	int ret;

	*t_pause = now_s();
	if (vm_get_state(s->vm) == VM_RUNNING) {
		ret = vm_pause(s->vm);
		if (ret < 0)
			return ret;
		s->paused_by_us = true;
	}
	/* virtio-blk's writes land now; from here no device touches guest memory or a ring while
	 * this thread collects their state and the last dirty pages (resumed on failure). */
	ret = board_quiesce(s->vm, true);
	s->quiesced = true;
	ret = ret ? ret : snapshot_save_state(s->vm, &b);
	if (ret == 0)
		ret = send_pass(s, false, &dirty);
	if (ret == 0)
		ret = mig_send_frame(s->fd, MIG_STATE, b.data, b.len, NULL, 0);
	state_buf_free(&b);
	if (ret == 0)
		ret = mig_send_frame(s->fd, MIG_COMPLETE, NULL, 0, NULL, 0);
	return ret < 0 ? ret : await_ack(s);
}

/* The no-progress deadline of each send and receive on the connection, in seconds. */
static void set_io_timeout(int fd, unsigned secs)
{
	struct timeval tv = {.tv_sec = (time_t)secs};

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int connect_dest(struct migrate_src *s)
{
	struct sockaddr_in a;
	int one = 1;

	if (mig_parse_addr(s->params.destination, &a) < 0)
		return -EINVAL;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	set_io_timeout(s->fd, s->params.stall_timeout_s);
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	return 0;
}

/* Everything up to the ACK; on success the VM is the destination's. */
static int run(struct migrate_src *s, double *t_pause)
{
	struct state_buf cfg = {0};
	int ret = connect_dest(s);

	if (ret < 0) {
		fail(s, MIGRATE_FAILED, "cannot connect to %s", s->params.destination);
		return ret;
	}
	ret = mig_send_hello(s->fd);
	ret = ret ? ret : snapshot_config_save(s->vm->cfg, &cfg);
	ret = ret ? ret : mig_send_frame(s->fd, MIG_CONFIG, cfg.data, cfg.len, NULL, 0);
	state_buf_free(&cfg);
	ret = ret ? ret : guest_mem_log_start(&s->vm->mem);
	s->logging = ret == 0;
	if (ret == 0)
		ret = precopy(s);
	if (ret == 1 && s->params.on_timeout == MIGRATE_CANCEL) {
		mig_send_abandon(s->fd, "cancelled by the source: no convergence in time");
		fail(s, MIGRATE_CANCELLED, "%s",
		     "cancelled: the downtime estimate did not fit the budget in time");
		return -ECANCELED;
	}
	if (ret >= 0)
		ret = stop_and_copy(s, t_pause);
	return ret;
}

static void finish(struct migrate_src *s, int ret, double t_pause)
{
	double t = now_s();

	if (ret == -EAGAIN) /* SO_SNDTIMEO or SO_RCVTIMEO expired: nothing moved */
		fail(s, MIGRATE_FAILED,
		     "timed out: the destination took no data for %u s (stalled)",
		     s->params.stall_timeout_s);
	if (ret < 0 && ret != -ECANCELED) {
		fail(s, MIGRATE_FAILED, "%s", strerror(-ret));
		/* A destination that stopped reading must not hold the source any longer. */
		if (s->fd >= 0)
			set_io_timeout(s->fd, ABANDON_TIMEOUT_S);
		mig_send_abandon(s->fd, s->p.error);
	}
	if (s->logging)
		guest_mem_log_stop(&s->vm->mem);
	s->logging = false;
	pthread_mutex_lock(&s->lock);
	s->p.total_ms = (t - s->t0) * 1e3;
	if (ret == 0) {
		s->p.state = MIGRATE_COMPLETED;
		s->p.downtime_ms = (t - t_pause) * 1e3;
	}
	pthread_mutex_unlock(&s->lock);
	if (ret < 0 && s->quiesced)
		(void)board_quiesce(s->vm, false);
	if (ret < 0 && s->paused_by_us && vm_resume(s->vm) < 0)
		log_warn("migrate: could not resume the VM");
	if (ret < 0) {
		pthread_mutex_lock(&s->lock);
		if (s->end_state == MIGRATE_ACTIVE) /* stopped by migrate_shutdown */
			s->end_state = MIGRATE_CANCELLED;
		s->p.state = s->end_state;
		pthread_mutex_unlock(&s->lock);
		log_warn("migrate: %s; the VM keeps running here", s->p.error);
	} else /* the API goes away with this VM: the outcome is kept here */
		fprintf(stderr,
			"kiln: migrate: completed in %.0f ms, downtime %.1f ms, %u rounds, %llu "
			"pages sent\n",
			s->p.total_ms, s->p.downtime_ms, s->p.round,
			(unsigned long long)s->p.pages_sent);
	if (s->fd >= 0) /* closed when the thread is joined */
		shutdown(s->fd, SHUT_RDWR);
	/* The destination runs the VM now: this one stops, as after a normal stop. */
	if (ret == 0)
		vm_request_stop(s->vm, VM_STOP_HOST, KILN_EXIT_OK);
}

static void *thread_main(void *arg)
{
	struct migrate_src *s = arg;
	double t_pause = 0;
	int ret = seccomp_enter(SECCOMP_MIGRATION, "migration");

	if (ret == 0)
		ret = run(s, &t_pause);
	else
		snprintf(s->p.error, sizeof(s->p.error),
			 "the migration thread's seccomp filter: %s", strerror(-ret));
	finish(s, ret, t_pause);
	return NULL;
}

/* --- control --- */

static uint64_t ram_pages(const struct guest_mem *mem, size_t *max_words)
{
	uint64_t n = 0;

	*max_words = 1;
	for (unsigned i = 0; i < mem->nr; i++) {
		if (!(mem->r[i].flags & GUEST_MEM_RAM))
			continue;
		n += mem->r[i].len / MIG_PAGE;
		if (guest_mem_bitmap_words(mem->r[i].len) > *max_words)
			*max_words = guest_mem_bitmap_words(mem->r[i].len);
	}
	return n;
}

static int prepare(struct migrate_src *s, struct vmm *m, const struct migrate_params *p,
		   struct kiln_err *err)
{
	size_t words;
	struct sockaddr_in a;

	if (mig_parse_addr(p->destination, &a) < 0)
		return err_set(err, -EINVAL, "migrate: destination '%s' is not IPv4-HOST:PORT",
			       p->destination);
	s->params = *p;
	if (!s->params.stall_timeout_s)
		s->params.stall_timeout_s = MIGRATE_STALL_S;
	if (s->params.stall_timeout_s > MIGRATE_STALL_MAX_S)
		return err_set(err, -EINVAL, "migrate: stall_timeout_s %u is outside 1..%u",
			       s->params.stall_timeout_s, MIGRATE_STALL_MAX_S);
	s->vm = m->vm;
	s->fd = -1;
	s->p.state = MIGRATE_ACTIVE;
	s->p.pages_total = ram_pages(&m->vm->mem, &words);
	s->buf = malloc(BATCH + MIG_RUN_HDR * 64 + 256 * MIG_PAGE + MIG_RUN_HDR);
	s->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	s->bits = calloc(words, sizeof(uint64_t));
	s->t0 = s->t_fetch = now_s();
	if (!s->buf || !s->bits)
		return err_set(err, -ENOMEM, "migrate: out of memory");
	return 0;
}

static void src_free(struct migrate_src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->buf);
	free(s->bits);
	if (s->pagemap_fd >= 0)
		close(s->pagemap_fd);
	s->pagemap_fd = -1;
	s->buf = NULL;
	s->bits = NULL;
}

int migrate_start(struct vmm *m, const struct migrate_params *p, struct kiln_err *err)
{
	struct migrate_src *s = m->mig;
	int ret;

	if (!m->vm || (vm_get_state(m->vm) != VM_RUNNING && vm_get_state(m->vm) != VM_PAUSED))
		return err_set(err, -EBUSY, "migrate: no running or paused VM");
	if (m->vm->cfg->nr_fs)
		return err_set(err, -EINVAL,
			       "migrate: not supported with a virtio-fs device (its vhost-user "
			       "backend's state and writes to guest memory cannot be carried)");
	if (m->vm->cfg->nr_vfio)
		return err_set(
		    err, -EINVAL,
		    "migrate: not supported with a passthrough device (kiln_vfio %s: the "
		    "device's own state cannot be carried)",
		    m->vm->cfg->vfio[0].id);
	if (migrate_active(m))
		return err_set(err, -EBUSY, "migrate: a migration is already in progress");
	if (s && !s->joined)
		pthread_join(s->thread, NULL);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return err_set(err, -ENOMEM, "migrate: out of memory");
		pthread_mutex_init(&s->lock, NULL);
		s->fd = -1;
		s->pagemap_fd = -1;
		m->mig = s;
	}
	src_free(s);
	memset(&s->p, 0, sizeof(s->p));
	s->end_state = MIGRATE_ACTIVE;
	s->cancel = false;
	s->paused_by_us = false;
	s->quiesced = false;
	s->logging = false;
	s->joined = true;
	ret = prepare(s, m, p, err);
	m->dirty_log_used = true; /* the rounds consume the log a Diff snapshot would use */
	if (ret == 0 && (ret = -pthread_create(&s->thread, NULL, thread_main, s)) < 0)
		err_set(err, ret, "migrate: cannot start the thread: %s", strerror(-ret));
	if (ret < 0) {
		s->p.state = MIGRATE_NONE;
		src_free(s);
		return ret;
	}
	s->joined = false;
	return 0;
}

void migrate_get_progress(struct vmm *m, struct migrate_progress *out)
{
	struct migrate_src *s = m->mig;

	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	*out = s->p;
	pthread_mutex_unlock(&s->lock);
}

bool migrate_active(struct vmm *m)
{
	struct migrate_progress p;

	migrate_get_progress(m, &p);
	return p.state == MIGRATE_ACTIVE;
}

void migrate_shutdown(struct vmm *m)
{
	struct migrate_src *s = m->mig;

	if (!s)
		return;
	if (!s->joined) {
		__atomic_store_n(&s->cancel, true, __ATOMIC_RELAXED);
		if (migrate_active(m) && s->fd >= 0)
			shutdown(s->fd, SHUT_RDWR);
		pthread_join(s->thread, NULL);
		s->joined = true;
	}
	src_free(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
	m->mig = NULL;
}
