/* balloon.c — virtio-balloon: the guest gives pages back (inflate) and takes them again
 * (deflate), reports free ranges and its memory statistics. Pages are given back to the host with
 * guest_mem_discard; every page number is checked against guest RAM first. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/board.h"
#include "core/vm.h"
#include "util/log.h"
#include "virtio/balloon.h"

#define PAGE	       4096ull
#define HUGE_PAGES     512u		  /* 4 KiB pages in a 2 MiB huge page */
#define PFN_BYTES_MAX  (64u * 1024)	  /* longest inflate/deflate chain (Linux sends 1 KiB) */
#define STAT_BYTES     10u		  /* le16 tag, le64 value, packed (§5.5.6.3) */
#define STAT_BYTES_MAX (64u * STAT_BYTES) /* longest statistics chain read */

static const char *const stat_names[VIRTIO_BALLOON_S_NR] = {
    "swap_in",	      "swap_out",	  "major_faults", "minor_faults",	 "free_memory",
    "total_memory",   "available_memory", "disk_caches",  "hugetlb_allocations", "hugetlb_failures",
    "oom_kill",	      "alloc_stall",	  "async_scan",	  "direct_scan",	 "async_reclaim",
    "direct_reclaim",
};

const char *virtio_balloon_stat_name(unsigned tag)
{
	return tag < VIRTIO_BALLOON_S_NR ? stat_names[tag] : NULL;
}

/* --- the chain's readable bytes, read in order across segments --- */

struct cursor {
	const struct virtq_chain *c;
	unsigned seg;
	uint32_t off;
};

/* Copy the next len bytes into out; false at the end of the readable segments. */
static bool cursor_read(struct cursor *k, void *out, uint32_t len)
{
	uint8_t *o = out;

	while (len) {
		const struct virtq_seg *s;
		uint32_t n;

		if (k->seg >= k->c->nr_out)
			return false;
		s = &k->c->seg[k->seg];
		n = s->len - k->off < len ? s->len - k->off : len;
		memcpy(o, (const uint8_t *)s->host + k->off, n);
		o += n;
		len -= n;
		k->off += n;
		if (k->off == s->len) {
			k->seg++;
			k->off = 0;
		}
	}
	return true;
}

/* --- the in-balloon bitmap --- */

static bool page_in(const struct virtio_balloon *b, uint64_t pfn)
{
	return (b->inflated[pfn / 64] >> (pfn % 64)) & 1;
}

static void page_set(struct virtio_balloon *b, uint64_t pfn, bool in)
{
	if (in)
		b->inflated[pfn / 64] |= 1ull << (pfn % 64);
	else
		b->inflated[pfn / 64] &= ~(1ull << (pfn % 64));
}

/* The writable RAM region holding page pfn, or NULL (MMIO hole, past the end, ROM). */
static const struct guest_region *ram_of(const struct virtio_balloon *b, uint64_t pfn)
{
	const struct guest_region *r;

	if (pfn >= b->bitmap_pages)
		return NULL;
	r = guest_mem_find(b->cfg.mem, pfn * PAGE);
	if (!r || !(r->flags & GUEST_MEM_RAM) || (r->flags & GUEST_MEM_READONLY))
		return NULL;
	return r;
}

/* --- inflate and deflate --- */

/* Consecutive pages of one region waiting to be discarded with one call. */
struct run {
	const struct guest_region *r;
	uint64_t start, n;
};

static void discard(struct virtio_balloon *b, uint64_t pfn, uint64_t n)
{
	int ret = guest_mem_discard(b->cfg.mem, pfn * PAGE, n * PAGE);

	if (ret < 0) {
		b->stats.discard_failed += n;
		log_warn_ratelimited(
		    &b->vd.rl, "virtio-balloon: discard of %llu pages at %#llx: %s",
		    (unsigned long long)n, (unsigned long long)(pfn * PAGE), strerror(-ret));
		return;
	}
	b->stats.discarded_bytes += n * PAGE;
}

static void run_flush(struct virtio_balloon *b, struct run *run)
{
	if (run->n)
		discard(b, run->start, run->n);
	run->n = 0;
}

/* A hugetlb page can only go whole: once all its 4 KiB pages are in the balloon. */
static void inflate_huge(struct virtio_balloon *b, const struct guest_region *r, uint64_t pfn)
{
	uint64_t first = (r->gpa / PAGE) + (pfn - r->gpa / PAGE) / HUGE_PAGES * HUGE_PAGES;

	for (uint64_t p = first; p < first + HUGE_PAGES; p++) {
		if (!page_in(b, p)) {
			b->stats.partial++;
			return;
		}
	}
	discard(b, first, HUGE_PAGES);
}

static void inflate_page(struct virtio_balloon *b, uint64_t pfn, struct run *run)
{
	const struct guest_region *r = ram_of(b, pfn);

	if (!r) {
		b->stats.bad_pfn++;
		return;
	}
	if (page_in(b, pfn)) {
		b->stats.duplicate++;
		return;
	}
	page_set(b, pfn, true);
	b->stats.inflated++;
	if (r->flags & GUEST_MEM_HUGEPAGES) {
		inflate_huge(b, r, pfn);
		return;
	}
	if (run->n && run->r == r && pfn == run->start + run->n) {
		run->n++;
		return;
	}
	run_flush(b, run);
	*run = (struct run){r, pfn, 1};
}

static void deflate_page(struct virtio_balloon *b, uint64_t pfn)
{
	if (!ram_of(b, pfn)) {
		b->stats.bad_pfn++;
		return;
	}
	if (!page_in(b, pfn)) {
		b->stats.duplicate++;
		return;
	}
	page_set(b, pfn, false); /* the guest's next touch faults a fresh page in */
	b->stats.deflated++;
}

static void pfn_chain(struct virtio_balloon *b, const struct virtq_chain *c, bool inflate)
{
	struct cursor k = {c, 0, 0};
	struct run run = {0};
	uint32_t le;

	while (cursor_read(&k, &le, sizeof(le))) {
		if (inflate)
			inflate_page(b, le32toh(le), &run);
		else
			deflate_page(b, le32toh(le));
	}
	run_flush(b, &run);
}

/* --- statistics --- */

static void stats_chain(struct virtio_balloon *b, const struct virtq_chain *c)
{
	struct cursor k = {c, 0, 0};
	uint8_t e[STAT_BYTES];

	while (cursor_read(&k, e, sizeof(e))) {
		uint16_t tag = (uint16_t)(e[0] | e[1] << 8);
		uint64_t v;

		memcpy(&v, e + 2, sizeof(v));
		if (tag >= VIRTIO_BALLOON_S_NR) {
			b->stats.stats_unknown++;
			continue;
		}
		b->guest.present |= 1u << tag;
		b->guest.val[tag] = le64toh(v);
	}
	b->stats.stats_updates++;
}

/* Give the held statistics buffer back: the driver refills it and sends it again. */
static void stats_return(struct virtio_balloon *b, unsigned q)
{
	if (!b->stats_held)
		return;
	b->stats_held = false;
	if (virtq_push(&b->vd.vq[q], b->stats_head, 0) < 0) {
		virtio_dev_set_needs_reset(&b->vd, "used ring update failed");
		return;
	}
	virtio_dev_used(&b->vd, q);
}

static int stats_queue_index(const struct virtio_balloon *b)
{
	for (unsigned q = 0; q < b->vd.ops->nr_queues; q++)
		if (virtio_balloon_queue_role(b, q) == BALLOON_Q_STATS)
			return (int)q;
	return -1;
}

static void arm_timer(struct virtio_balloon *b)
{
	struct itimerspec its = {.it_value.tv_sec = b->stats_interval_s,
				 .it_interval.tv_sec = b->stats_interval_s};

	if (b->timer_fd >= 0 && timerfd_settime(b->timer_fd, 0, &its, NULL) < 0)
		log_warn("virtio-balloon: statistics timer: %s", strerror(errno));
}

static void on_stats_timer(void *ctx, int fd, uint32_t events)
{
	struct virtio_balloon *b = ctx;
	uint64_t expirations;
	int q;

	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&b->vd.lock);
	q = stats_queue_index(b);
	if (q >= 0 && virtio_dev_live(&b->vd))
		stats_return(b, (unsigned)q);
	pthread_mutex_unlock(&b->vd.lock);
}

/* --- free page reporting --- */

/* Discard a reported range, shrunk to the pages (huge pages on hugetlb) it wholly covers. */
static void report_range(struct virtio_balloon *b, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r = guest_mem_find(b->cfg.mem, gpa);
	uint64_t align = r && (r->flags & GUEST_MEM_HUGEPAGES) ? HUGE_PAGES * PAGE : PAGE;
	uint64_t start = (gpa + align - 1) / align * align, end = (gpa + len) / align * align;
	int ret;

	b->stats.reported++;
	b->stats.reported_bytes += len;
	if (end <= start) {
		b->stats.partial += len / PAGE;
		return;
	}
	ret = guest_mem_discard(b->cfg.mem, start, end - start);
	if (ret == -EFAULT)
		b->stats.bad_pfn += (end - start) / PAGE;
	else if (ret < 0)
		b->stats.discard_failed += (end - start) / PAGE;
	else
		b->stats.discarded_bytes += end - start;
}

static void report_chain(struct virtio_balloon *b, const struct virtq_chain *c)
{
	for (unsigned i = c->nr_out; i < c->nr_segs; i++)
		report_range(b, c->seg[i].gpa, c->seg[i].len);
}

/* --- queues --- */

static bool pfn_ok(const struct virtq_chain *c, unsigned q)
{
	(void)q;
	return c->nr_out == c->nr_segs && c->out_len % 4 == 0 && c->out_len <= PFN_BYTES_MAX;
}

static bool stats_ok(const struct virtq_chain *c, unsigned q)
{
	(void)q;
	return c->nr_out == c->nr_segs && c->out_len % STAT_BYTES == 0 &&
	       c->out_len <= STAT_BYTES_MAX;
}

static bool report_ok(const struct virtq_chain *c, unsigned q)
{
	(void)q;
	return c->nr_out == 0 && c->in_len > 0;
}

enum virtio_balloon_queue virtio_balloon_queue_role(const struct virtio_balloon *b, unsigned q)
{
	unsigned next = 2;

	if (q < 2)
		return q == 0 ? BALLOON_Q_INFLATE : BALLOON_Q_DEFLATE;
	if (virtio_dev_has_feature(&b->vd, VIRTIO_BALLOON_F_STATS_VQ) && q == next++)
		return BALLOON_Q_STATS;
	if (virtio_dev_has_feature(&b->vd, VIRTIO_BALLOON_F_REPORTING) && q == next)
		return BALLOON_Q_REPORT;
	return BALLOON_Q_NONE;
}

/* One chain taken from queue q (role `role`). Returns whether it went to the used ring. */
static bool serve_chain(struct virtio_balloon *b, unsigned q, enum virtio_balloon_queue role)
{
	if (role == BALLOON_Q_STATS) {
		stats_return(b, q); /* a second buffer: the first goes back unread */
		stats_chain(b, &b->chain);
		b->stats_held = true;
		b->stats_head = b->chain.head;
		return false;
	}
	if (role == BALLOON_Q_REPORT)
		report_chain(b, &b->chain);
	else
		pfn_chain(b, &b->chain, role == BALLOON_Q_INFLATE);
	if (virtq_push(&b->vd.vq[q], b->chain.head, 0) < 0) {
		virtio_dev_set_needs_reset(&b->vd, "used ring update failed");
		return false;
	}
	return true;
}

static void serve(struct virtio_balloon *b, unsigned q)
{
	static const virtio_chain_ok_fn oks[] = {pfn_ok, pfn_ok, stats_ok, report_ok};
	enum virtio_balloon_queue role = virtio_balloon_queue_role(b, q);
	bool used = false;

	if (role == BALLOON_Q_NONE)
		return; /* a queue the negotiated features do not have: never looked at */
	while (virtio_dev_live(&b->vd) &&
	       virtio_dev_take(&b->vd, q, &b->chain, oks[role], &b->stats.malformed, &used) > 0)
		used |= serve_chain(b, q, role);
	if (used)
		virtio_dev_used(&b->vd, q);
}

/* --- virtio_dev_ops --- */

static uint64_t balloon_features(void *dev)
{
	struct virtio_balloon *b = dev;
	uint64_t f = 0;

	if (b->cfg.deflate_on_oom)
		f |= 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (b->cfg.stats_interval_s)
		f |= 1ull << VIRTIO_BALLOON_F_STATS_VQ;
	if (b->cfg.reporting)
		f |= 1ull << VIRTIO_BALLOON_F_REPORTING;
	return f;
}

/* §5.5.4: le32 num_pages, le32 actual, le32 free_page_hint_cmd_id, le32 poison_val. */
static void balloon_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_balloon *b = dev;
	uint32_t cfg[4] = {htole32(b->num_pages), htole32(b->actual), 0, 0};

	memcpy(buf, (const uint8_t *)cfg + off, len);
}

/* Only `actual` is the driver's to write; the rest is ignored. */
static void balloon_config_write(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	struct virtio_balloon *b = dev;
	uint32_t actual = htole32(b->actual);

	for (uint32_t i = 0; i < len; i++)
		if (off + i >= 4 && off + i < 8)
			((uint8_t *)&actual)[off + i - 4] = ((const uint8_t *)buf)[i];
	b->actual = le32toh(actual);
}

static int balloon_activate(void *dev)
{
	struct virtio_balloon *b = dev;

	if (virtio_dev_has_feature(&b->vd, VIRTIO_BALLOON_F_STATS_VQ))
		arm_timer(b);
	for (unsigned q = 0; q < b->vd.ops->nr_queues; q++)
		if (b->vd.vq[q].active)
			serve(b, q);
	return 0;
}

/* The driver starts over: it holds no balloon pages any more. */
static void balloon_reset(void *dev)
{
	struct virtio_balloon *b = dev;

	b->stats_held = false;
	b->actual = 0;
	memset(b->inflated, 0, (b->bitmap_pages + 63) / 64 * sizeof(uint64_t));
}

static void balloon_notify(void *dev, unsigned q)
{
	serve(dev, q);
}

static void balloon_queue_reset(void *dev, unsigned q)
{
	struct virtio_balloon *b = dev;

	if (virtio_balloon_queue_role(b, q) == BALLOON_Q_STATS)
		b->stats_held = false;
}

static int balloon_save(void *dev, struct state_buf *sb)
{
	virtio_balloon_save(dev, sb);
	return 0;
}

static int balloon_load(void *dev, struct state_buf *sb, uint16_t version)
{
	return virtio_balloon_load(dev, sb, version);
}

static const struct device_counter balloon_counters[] = {
    DEVICE_COUNTER(struct virtio_balloon_stats, inflated),
    DEVICE_COUNTER(struct virtio_balloon_stats, deflated),
    DEVICE_COUNTER(struct virtio_balloon_stats, bad_pfn),
    DEVICE_COUNTER(struct virtio_balloon_stats, duplicate),
    DEVICE_COUNTER(struct virtio_balloon_stats, discard_failed),
    DEVICE_COUNTER(struct virtio_balloon_stats, partial),
    DEVICE_COUNTER(struct virtio_balloon_stats, malformed),
    DEVICE_COUNTER(struct virtio_balloon_stats, reported),
    DEVICE_COUNTER(struct virtio_balloon_stats, reported_bytes),
    DEVICE_COUNTER(struct virtio_balloon_stats, stats_updates),
    DEVICE_COUNTER(struct virtio_balloon_stats, stats_unknown),
    DEVICE_COUNTER(struct virtio_balloon_stats, discarded_bytes),
};

static void balloon_stats(void *dev, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_balloon_stats s = virtio_balloon_stats(dev);

	device_report_counters(DEVICE_COUNTERS(balloon_counters), &s, name, fn, ctx);
}

static void balloon_destroy(void *dev)
{
	virtio_balloon_destroy(dev);
}

static const struct virtio_dev_ops balloon_ops = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .nr_queues = 4, /* inflate, deflate, then statistics and reporting as negotiated */
    .queue_max = VIRTIO_BALLOON_QUEUE_MAX,
    .config_len = VIRTIO_BALLOON_CONFIG_LEN,
    .features = balloon_features,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .activate = balloon_activate,
    .reset = balloon_reset,
    .notify = balloon_notify,
    .queue_reset = balloon_queue_reset,
    .state_name = "balloon",
    .state_version = VIRTIO_BALLOON_STATE_VERSION,
    .state_min_version = 1,
    .save = balloon_save,
    .load = balloon_load,
    .stats = balloon_stats,
    .destroy = balloon_destroy,
};

/* --- life cycle --- */

static uint64_t ram_end_pages(const struct guest_mem *m)
{
	uint64_t end = 0;

	for (unsigned i = 0; i < m->nr; i++)
		if (m->r[i].flags & GUEST_MEM_RAM)
			end = m->r[i].gpa + m->r[i].len;
	return end / PAGE;
}

static int timer_setup(struct virtio_balloon *b)
{
	int ret;

	if (!b->cfg.loop || !b->cfg.stats_interval_s)
		return 0;
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->timer_fd < 0)
		return -errno;
	ret = event_loop_add(b->cfg.loop, b->timer_fd, EPOLLIN, on_stats_timer, b);
	if (ret < 0) {
		close(b->timer_fd);
		b->timer_fd = -1;
	}
	return ret;
}

int virtio_balloon_create(const struct virtio_balloon_config *cfg, struct virtio_balloon **out)
{
	struct virtio_balloon *b;
	int ret;

	if (!cfg->mem)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = *cfg;
	b->timer_fd = -1;
	b->num_pages = cfg->num_pages;
	b->stats_interval_s = cfg->stats_interval_s;
	b->bitmap_pages = ram_end_pages(cfg->mem);
	b->inflated = calloc((b->bitmap_pages + 63) / 64 + 1, sizeof(uint64_t));
	if (!b->inflated) {
		free(b);
		return -ENOMEM;
	}
	ret = virtio_dev_init(&b->vd, &balloon_ops, b, cfg->mem);
	if (ret < 0) {
		free(b->inflated);
		free(b);
		return ret;
	}
	ret = timer_setup(b);
	if (ret < 0) {
		virtio_balloon_destroy(b);
		return ret;
	}
	*out = b;
	return 0;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (!b)
		return;
	if (b->timer_fd >= 0) {
		(void)event_loop_del(b->cfg.loop, b->timer_fd);
		close(b->timer_fd);
	}
	virtio_dev_destroy(&b->vd);
	free(b->inflated);
	free(b);
}

int virtio_balloon_board_add(struct vm *vm)
{
	const struct balloon_config *c = &vm->cfg->balloon;
	struct virtio_balloon_config bc = {.mem = &vm->mem,
					   .loop = vm->loop,
					   .num_pages = c->amount_mib * VIRTIO_BALLOON_PAGES_MIB,
					   .deflate_on_oom = c->deflate_on_oom,
					   .stats_interval_s = c->stats_interval_s,
					   .reporting = c->free_page_reporting};
	struct virtio_balloon *b;
	int ret;

	if (!c->enabled)
		return 0;
	ret = virtio_balloon_create(&bc, &b);
	if (ret == 0) {
		ret = board_add_virtio(vm, &b->vd, "balloon");
		if (ret < 0)
			virtio_balloon_destroy(b);
	}
	return ret;
}

struct virtio_balloon *virtio_balloon_find(struct vm *vm)
{
	struct virtio_dev *vd = device_list_find(&vm->devices, "balloon", &virtio_device_ops);

	return vd && vd->ops == &balloon_ops ? vd->dev : NULL;
}

/* --- the integrator's controls --- */

void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t num_pages)
{
	pthread_mutex_lock(&b->vd.lock);
	b->num_pages = num_pages;
	virtio_dev_config_changed(&b->vd);
	pthread_mutex_unlock(&b->vd.lock);
}

int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint16_t interval_s)
{
	int q;

	pthread_mutex_lock(&b->vd.lock);
	if (interval_s == b->stats_interval_s) {
		pthread_mutex_unlock(&b->vd.lock);
		return 0;
	}
	if (!interval_s || !b->stats_interval_s) {
		pthread_mutex_unlock(&b->vd.lock);
		return -EINVAL;
	}
	b->stats_interval_s = interval_s;
	q = stats_queue_index(b);
	if (q >= 0 && virtio_dev_live(&b->vd)) {
		stats_return(b, (unsigned)q);
		arm_timer(b);
	}
	pthread_mutex_unlock(&b->vd.lock);
	return 0;
}

void virtio_balloon_status(struct virtio_balloon *b, uint32_t *target, uint32_t *actual,
			   uint16_t *interval_s, struct virtio_balloon_guest_stats *guest)
{
	pthread_mutex_lock(&b->vd.lock);
	*target = b->num_pages;
	*actual = b->actual;
	*interval_s = b->stats_interval_s;
	if (guest)
		*guest = b->guest;
	pthread_mutex_unlock(&b->vd.lock);
}

struct virtio_balloon_stats virtio_balloon_stats(struct virtio_balloon *b)
{
	struct virtio_balloon_stats s;

	pthread_mutex_lock(&b->vd.lock);
	s = b->stats;
	pthread_mutex_unlock(&b->vd.lock);
	return s;
}

/* --- state --- */

/* The bitmap as runs (first page, count): compact for what Linux inflates. */
static void save_runs(const struct virtio_balloon *b, struct state_buf *sb)
{
	uint32_t nr = 0;

	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			state_put_u32(sb, nr);
		for (uint64_t p = 0; p < b->bitmap_pages;) {
			uint64_t start;

			if (!page_in(b, p)) {
				p++;
				continue;
			}
			for (start = p; p < b->bitmap_pages && page_in(b, p); p++)
				;
			if (!pass) {
				nr++;
			} else {
				state_put_u64(sb, start);
				state_put_u64(sb, p - start);
			}
		}
	}
}

void virtio_balloon_save(struct virtio_balloon *b, struct state_buf *sb)
{
	pthread_mutex_lock(&b->vd.lock);
	state_put_u32(sb, b->num_pages);
	state_put_u32(sb, b->actual);
	state_put_u16(sb, b->stats_interval_s);
	state_put_u8(sb, b->stats_held);
	state_put_u16(sb, b->stats_held ? b->stats_head : 0);
	state_put_u32(sb, b->guest.present);
	for (unsigned t = 0; t < VIRTIO_BALLOON_S_NR; t++)
		state_put_u64(sb, b->guest.val[t]);
	save_runs(b, sb);
	pthread_mutex_unlock(&b->vd.lock);
}

static const char *load_runs(struct virtio_balloon *b, struct state_buf *sb)
{
	uint32_t nr = state_get_u32(sb);

	memset(b->inflated, 0, (b->bitmap_pages + 63) / 64 * sizeof(uint64_t));
	if (sb->overflow || state_remaining(sb) / 16 < nr)
		return "truncated page runs";
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t start = state_get_u64(sb), n = state_get_u64(sb);

		if (n == 0 || start >= b->bitmap_pages || n > b->bitmap_pages - start)
			return "a page run outside guest RAM";
		for (uint64_t p = start; p < start + n; p++)
			page_set(b, p, true);
	}
	return NULL;
}

/* The held statistics buffer: the queue's last popped chain, readable, with the saved head. */
static const char *load_held(struct virtio_balloon *b, uint16_t head)
{
	int q = stats_queue_index(b);
	struct virtq *vq;

	if (q < 0)
		return "a statistics buffer without the statistics queue";
	vq = &b->vd.vq[q];
	if (virtq_unpop(vq) < 0 || virtq_pop(vq, &b->chain) < 0 || b->chain.head != head ||
	    !stats_ok(&b->chain, (unsigned)q))
		return "the statistics buffer is not the queue's last popped readable chain";
	b->stats_held = true;
	b->stats_head = head;
	return NULL;
}

int virtio_balloon_load(struct virtio_balloon *b, struct state_buf *sb, uint16_t version)
{
	uint32_t num_pages = state_get_u32(sb), actual = state_get_u32(sb), present;
	uint16_t interval = state_get_u16(sb), head;
	uint8_t held = state_get_u8(sb);
	const char *why = NULL;

	head = state_get_u16(sb);
	present = state_get_u32(sb);
	pthread_mutex_lock(&b->vd.lock);
	for (unsigned t = 0; t < VIRTIO_BALLOON_S_NR; t++)
		b->guest.val[t] = state_get_u64(sb);
	if (version != VIRTIO_BALLOON_STATE_VERSION || held > 1 ||
	    present >= 1u << VIRTIO_BALLOON_S_NR)
		why = "unknown section version or flag";
	else if (!interval != !b->cfg.stats_interval_s)
		why = "statistics on or off unlike the configuration";
	else
		why = load_runs(b, sb);
	if (!why && state_section_done(sb))
		why = "section length";
	if (!why && held)
		why = load_held(b, head);
	if (!why) {
		b->num_pages = num_pages;
		b->actual = actual;
		b->stats_interval_s = interval;
		b->guest.present = present;
	}
	pthread_mutex_unlock(&b->vd.lock);
	if (why)
		state_refuse(sb, "virtio-balloon: %s", why);
	return why ? -EINVAL : 0;
}
