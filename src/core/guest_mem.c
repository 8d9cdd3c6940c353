/* guest_mem.c — guest-physical memory regions, KVM slot registration, checked translation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "hv/kvm.h"
#include "util/log.h"

#define PAGE_4K 0x1000ULL
#define PAGE_2M 0x200000ULL

void guest_mem_init(struct guest_mem *m, int vm_fd)
{
	memset(m, 0, sizeof(*m));
	m->vm_fd = vm_fd;
}

static int range_ok(uint64_t gpa, uint64_t len, uint64_t align)
{
	if (len == 0 || gpa + len < gpa)
		return 0;
	return (gpa % align) == 0 && (len % align) == 0;
}

static int overlaps(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];

		if (gpa < r->gpa + r->len && r->gpa < gpa + len)
			return 1;
	}
	return 0;
}

static int free_slot(const struct guest_mem *m, uint32_t *slot)
{
	for (uint32_t s = 0; s < GUEST_MEM_MAX_REGIONS; s++) {
		unsigned i;

		for (i = 0; i < m->nr && m->r[i].slot != s; i++)
			;
		if (i == m->nr) {
			*slot = s;
			return 0;
		}
	}
	return -ENOSPC;
}

static int kvm_set_slot(const struct guest_mem *m, const struct guest_region *r, uint64_t len)
{
	uint32_t flags = (r->flags & GUEST_MEM_READONLY) ? KVM_MEM_READONLY : 0;

	if (m->logging && (r->flags & GUEST_MEM_RAM) && len)
		flags |= KVM_MEM_LOG_DIRTY_PAGES;
	if (m->vm_fd < 0)
		return 0;
	return kvm_set_memory_region(m->vm_fd, r->slot, flags, r->gpa, len, r->host);
}

static int insert_region(struct guest_mem *m, struct guest_region *nr)
{
	unsigned i;
	int ret;

	if (m->nr == GUEST_MEM_MAX_REGIONS || free_slot(m, &nr->slot) < 0)
		return -ENOSPC;
	ret = kvm_set_slot(m, nr, nr->len);
	if (ret < 0)
		return ret;
	for (i = m->nr; i > 0 && m->r[i - 1].gpa > nr->gpa; i--)
		m->r[i] = m->r[i - 1];
	m->r[i] = *nr;
	m->nr++;
	return 0;
}

int guest_mem_add_host(struct guest_mem *m, uint64_t gpa, uint64_t len, void *host, unsigned flags)
{
	struct guest_region r = {
	    .gpa = gpa, .len = len, .host = host, .flags = flags & ~GUEST_MEM_SHARED, .fd = -1};

	if (!host || !range_ok(gpa, len, PAGE_4K))
		return -EINVAL;
	if (overlaps(m, gpa, len))
		return -EEXIST;
	return insert_region(m, &r);
}

static void *map_anon(uint64_t len, unsigned flags, void **base, size_t *map_len)
{
	int mf = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	uint8_t *p;
	uint64_t pad = 0;

	if (flags & GUEST_MEM_HUGEPAGES) {
		mf = (mf & ~MAP_NORESERVE) | MAP_HUGETLB;
	} else {
		pad = PAGE_2M; /* align to 2 MiB so transparent huge pages can back it */
	}
	p = mmap(NULL, len + pad, PROT_READ | PROT_WRITE, mf, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*base = p;
	*map_len = len + pad;
	if (pad) {
		uint8_t *aligned = (uint8_t *)(((uintptr_t)p + PAGE_2M - 1) & ~(PAGE_2M - 1));

		/* Opt-in (--thp), and off otherwise even where the host's THP policy is "always"
		 * (Debian's kernels): first-touch zeroing of a 2 MiB page is slow under nested
		 * virtualisation (bench/README.md has the figures), and on the arm64 rig dirty
		 * logging over THP-backed RAM lost guest writes in live migrations
		 * (docs/testing.md, "When the emulated machine fails"). Advice only: a host without
		 * THP refuses both. */
		(void)madvise(aligned, len,
			      (flags & GUEST_MEM_THP) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		return aligned;
	}
	return p;
}

/* A memfd of len bytes mapped MAP_SHARED (vhost-user backends map the same pages); the fd goes to
 * *fd. Shrinking is sealed off: a backend that truncated it would make kiln's accesses fault. */
static void *map_shared(uint64_t len, unsigned flags, int *fd)
{
	unsigned mfd =
	    MFD_CLOEXEC | MFD_ALLOW_SEALING | ((flags & GUEST_MEM_HUGEPAGES) ? MFD_HUGETLB : 0);
	void *p;

	*fd = memfd_create("kiln-guest-ram", mfd);
	if (*fd < 0)
		return NULL;
	if (ftruncate(*fd, (off_t)len) < 0 ||
	    fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		goto fail;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p != MAP_FAILED)
		return p;
fail:
	mfd = (unsigned)errno;
	close(*fd);
	*fd = -1;
	errno = (int)mfd;
	return NULL;
}

/* Guest RAM stays out of kiln's core dumps: a crash report should not carry the guest's memory
 * (its secrets, and gigabytes of it), only kiln's own. Advice: a kernel that refuses it changes
 * nothing else. */
static void no_dump(void *p, size_t len)
{
	(void)madvise(p, len, MADV_DONTDUMP);
}

static void *map_region(struct guest_region *r)
{
	if (!(r->flags & GUEST_MEM_SHARED))
		return map_anon(r->len, r->flags, &r->map_base, &r->map_len);
	r->map_base = map_shared(r->len, r->flags, &r->fd);
	r->map_len = r->len;
	return r->map_base;
}

int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t len, unsigned flags)
{
	struct guest_region r = {.gpa = gpa, .len = len, .flags = flags, .fd = -1};
	uint64_t align = (flags & GUEST_MEM_HUGEPAGES) ? PAGE_2M : PAGE_4K;
	int ret;

	if (!range_ok(gpa, len, align))
		return -EINVAL;
	if (overlaps(m, gpa, len))
		return -EEXIST;
	if (flags & GUEST_MEM_HUGEPAGES) {
		ret = guest_mem_hugepages_check(len, NULL, NULL, NULL);
		if (ret < 0)
			return ret;
	}
	r.host = map_region(&r);
	if (!r.host)
		return (flags & GUEST_MEM_SHARED) && errno ? -errno : -ENOMEM;
	no_dump(r.map_base, r.map_len);
	ret = insert_region(m, &r);
	if (ret < 0) {
		munmap(r.map_base, r.map_len);
		if (r.fd >= 0)
			close(r.fd);
	}
	return ret;
}

int guest_mem_add_file(struct guest_mem *m, uint64_t gpa, uint64_t len, int fd, uint64_t offset,
		       unsigned flags)
{
	struct guest_region r = {.gpa = gpa,
				 .len = len,
				 .flags = (flags & ~(GUEST_MEM_HUGEPAGES | GUEST_MEM_SHARED)) |
					  GUEST_MEM_FILE,
				 .fd = -1};
	int ret;

	if (!range_ok(gpa, len, PAGE_4K) || offset % PAGE_4K)
		return -EINVAL;
	if (overlaps(m, gpa, len))
		return -EEXIST;
	r.host =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, (off_t)offset);
	if (r.host == MAP_FAILED)
		return -errno;
	r.map_base = r.host;
	r.map_len = len;
	no_dump(r.map_base, r.map_len);
	ret = insert_region(m, &r);
	if (ret < 0)
		munmap(r.map_base, r.map_len);
	return ret;
}

static void release(struct guest_mem *m, struct guest_region *r)
{
	if (kvm_set_slot(m, r, 0) < 0)
		log_warn("could not unregister guest memory at %#llx", (unsigned long long)r->gpa);
	if (r->map_len)
		munmap(r->map_base, r->map_len);
	free(r->dirty);
	r->dirty = NULL;
	if ((r->flags & GUEST_MEM_SHARED) && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

int guest_mem_remove(struct guest_mem *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->nr; i++) {
		if (m->r[i].gpa != gpa)
			continue;
		release(m, &m->r[i]);
		memmove(&m->r[i], &m->r[i + 1], (m->nr - i - 1) * sizeof(m->r[0]));
		m->nr--;
		return 0;
	}
	return -ENOENT;
}

void guest_mem_destroy(struct guest_mem *m)
{
	while (m->nr)
		release(m, &m->r[--m->nr]);
}

const struct guest_region *guest_mem_find(const struct guest_mem *m, uint64_t gpa)
{
	unsigned lo = 0, hi = m->nr;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct guest_region *r = &m->r[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r;

	if (len == 0 || gpa + len < gpa)
		return NULL;
	r = guest_mem_find(m, gpa);
	if (!r || len > r->len - (gpa - r->gpa))
		return NULL;
	return r->host + (gpa - r->gpa);
}

void *guest_mem_ptr_rw(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r = guest_mem_find(m, gpa);

	if (!r || (r->flags & GUEST_MEM_READONLY))
		return NULL;
	return guest_mem_ptr(m, gpa, len);
}

/* Check that [gpa, gpa+len) is covered by contiguous regions (writable if `write`). */
static int span_ok(const struct guest_mem *m, uint64_t gpa, size_t len, int write)
{
	if (len == 0)
		return 1;
	if (gpa + len < gpa)
		return 0;
	while (len) {
		const struct guest_region *r = guest_mem_find(m, gpa);
		uint64_t chunk;

		if (!r || (write && (r->flags & GUEST_MEM_READONLY)))
			return 0;
		chunk = r->len - (gpa - r->gpa);
		if (chunk >= len)
			return 1;
		gpa += chunk;
		len -= chunk;
	}
	return 1;
}

static void copy_span(const struct guest_mem *m, uint64_t gpa, uint8_t *buf, size_t len, int write)
{
	while (len) {
		const struct guest_region *r = guest_mem_find(m, gpa);
		uint64_t off = gpa - r->gpa;
		size_t chunk = r->len - off < len ? (size_t)(r->len - off) : len;

		if (write)
			memcpy(r->host + off, buf, chunk);
		else
			memcpy(buf, r->host + off, chunk);
		gpa += chunk;
		buf += chunk;
		len -= chunk;
	}
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
{
	if (!span_ok(m, gpa, len, 0))
		return -EFAULT;
	copy_span(m, gpa, dst, len, 0);
	return 0;
}

int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
{
	if (!span_ok(m, gpa, len, 1))
		return -EFAULT;
	copy_span(m, gpa, (uint8_t *)src, len, 1);
	guest_mem_mark_dirty(m, gpa, len);
	return 0;
}

/* MADV_REMOVE frees a shared mapping's backing store (memfd, shmem, hugetlbfs); anonymous or
 * private mappings refuse it (EINVAL, EACCES) and get MADV_DONTNEED, which drops their pages. */
static int discard_host(void *host, uint64_t len)
{
	if (madvise(host, len, MADV_REMOVE) == 0)
		return 0;
	if (errno != EINVAL && errno != EACCES && errno != EOPNOTSUPP)
		return -errno;
	return madvise(host, len, MADV_DONTNEED) == 0 ? 0 : -errno;
}

int guest_mem_discard(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r;
	uint64_t align;
	int ret;

	if (!range_ok(gpa, len, PAGE_4K))
		return -EINVAL;
	r = guest_mem_find(m, gpa);
	if (!r || !(r->flags & GUEST_MEM_RAM) || (r->flags & GUEST_MEM_READONLY) ||
	    len > r->len - (gpa - r->gpa))
		return -EFAULT;
	align = (r->flags & GUEST_MEM_HUGEPAGES) ? PAGE_2M : PAGE_4K;
	if ((gpa - r->gpa) % align || len % align)
		return -EINVAL;
	ret = discard_host(r->host + (gpa - r->gpa), len);
	if (ret == 0)
		guest_mem_mark_dirty(m, gpa, len);
	return ret;
}

uint64_t guest_mem_ram_size(const struct guest_mem *m)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < m->nr; i++)
		if (m->r[i].flags & GUEST_MEM_RAM)
			sum += m->r[i].len;
	return sum;
}

static int meminfo_value(const char *key, uint64_t *val)
{
	char line[256];
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (strncmp(line, key, klen) == 0 && sscanf(line + klen, " %llu", &v) == 1) {
			*val = v;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int guest_mem_hugepages_check(uint64_t bytes, uint64_t *need_pages, uint64_t *free_pages,
			      uint64_t *page_size)
{
	uint64_t size_kb = 0, nfree = 0, need;

	if (meminfo_value("Hugepagesize:", &size_kb) < 0 || size_kb == 0 ||
	    meminfo_value("HugePages_Free:", &nfree) < 0)
		return -ENOMEM;
	if (page_size)
		*page_size = size_kb * 1024;
	if (bytes % (size_kb * 1024))
		return -EINVAL;
	need = bytes / (size_kb * 1024);
	if (need_pages)
		*need_pages = need;
	if (free_pages)
		*free_pages = nfree;
	return nfree >= need ? 0 : -ENOMEM;
}

/* --- dirty-page tracking --- */

static int set_ram_slots(struct guest_mem *m)
{
	for (unsigned i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		int ret = (r->flags & GUEST_MEM_RAM) ? kvm_set_slot(m, r, r->len) : 0;

		if (ret < 0)
			return ret;
	}
	return 0;
}

int guest_mem_log_start(struct guest_mem *m)
{
	int ret;

	if (m->logging) {
		m->log_users++;
		return 0;
	}
	for (unsigned i = 0; i < m->nr; i++) {
		struct guest_region *r = &m->r[i];
		size_t bytes = guest_mem_bitmap_words(r->len) * sizeof(uint64_t);

		if (!(r->flags & GUEST_MEM_RAM))
			continue;
		if (!r->dirty)
			r->dirty = calloc(1, bytes);
		else
			memset(r->dirty, 0, bytes);
		if (!r->dirty)
			return -ENOMEM;
	}
	__atomic_store_n(&m->logging, true, __ATOMIC_RELEASE); /* after the bitmaps */
	m->log_users = 1;
	ret = set_ram_slots(m);
	if (ret < 0)
		guest_mem_log_stop(m);
	return ret;
}

void guest_mem_log_stop(struct guest_mem *m)
{
	if (!m->logging || --m->log_users > 0)
		return;
	m->logging = false;
	if (set_ram_slots(m) < 0)
		log_warn("dirty logging: could not re-register RAM without logging");
}

void guest_mem_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	while (__atomic_load_n(&m->logging, __ATOMIC_ACQUIRE) && len) {
		const struct guest_region *r = guest_mem_find(m, gpa);
		uint64_t off, end;

		if (!r || !r->dirty)
			return;
		off = gpa - r->gpa;
		end = r->len - off < len ? r->len : off + len;
		for (uint64_t p = off / GUEST_PAGE_SIZE; p <= (end - 1) / GUEST_PAGE_SIZE; p++)
			__atomic_fetch_or(&r->dirty[p / 64], 1ull << (p % 64), __ATOMIC_RELAXED);
		len -= end - off;
		gpa += end - off;
	}
}

int guest_mem_dirty_fetch(struct guest_mem *m, const struct guest_region *r, uint64_t *out)
{
	size_t words = guest_mem_bitmap_words(r->len);
	int ret = 0;

	if (!m->logging || !r->dirty)
		return -EINVAL;
	memset(out, 0, words * sizeof(uint64_t));
	if (m->vm_fd >= 0)
		ret = kvm_get_dirty_log(m->vm_fd, r->slot, out);
	if (ret < 0)
		memset(out, 0xff, words * sizeof(uint64_t));
	for (size_t i = 0; i < words; i++)
		out[i] |= __atomic_exchange_n(&r->dirty[i], 0, __ATOMIC_RELAXED);
	if (r->len / GUEST_PAGE_SIZE % 64)
		out[words - 1] &= (1ull << (r->len / GUEST_PAGE_SIZE % 64)) - 1;
	return ret;
}

uint64_t guest_mem_bitmap_count(const uint64_t *bits, size_t words)
{
	uint64_t n = 0;

	for (size_t i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(bits[i]);
	return n;
}
