/* guest_mem.h — guest-physical memory regions and checked guest-address translation. */
#ifndef KILN_CORE_GUEST_MEM_H
#define KILN_CORE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define GUEST_MEM_MAX_REGIONS 32

/* Region flags. */
#define GUEST_MEM_READONLY  0x1u  /* guest writes exit as MMIO; VMM writes refused */
#define GUEST_MEM_HUGEPAGES 0x2u  /* back with hugetlbfs 2 MiB pages */
#define GUEST_MEM_RAM	    0x4u  /* system RAM: reported in the memory map given to the guest */
#define GUEST_MEM_THP	    0x8u  /* ask for transparent huge pages (MADV_HUGEPAGE) */
#define GUEST_MEM_FILE	    0x10u /* mapped from a file (guest_mem_add_file), not anonymous */
#define GUEST_MEM_SHARED                                                                           \
	0x20u /* a memfd mapped MAP_SHARED, its fd kept for other processes                        \
	       * (vhost-user backends); with HUGEPAGES a MFD_HUGETLB memfd */

struct guest_region {
	uint64_t gpa;
	uint64_t len;
	uint8_t *host;
	uint32_t slot;	/* KVM memory slot number */
	unsigned flags; /* GUEST_MEM_* */
	size_t map_len; /* bytes to munmap at host_base, 0 if the caller owns the memory */
	void *map_base;
	uint64_t *dirty;    /* RAM regions, once logging started: pages kiln itself wrote (1 bit per
			     * 4 KiB page, set atomically); freed only by guest_mem_destroy */
	int fd;		    /* GUEST_MEM_SHARED only: the memfd (owned, closed with the region) */
	uint64_t fd_offset; /* GUEST_MEM_SHARED only: where the region starts in fd */
};

struct guest_mem {
	int vm_fd;	    /* -1: regions are not registered with KVM (host-side tests) */
	bool logging;	    /* dirty logging is on (guest_mem_log_start) */
	unsigned log_users; /* log_start calls not yet matched by log_stop */
	unsigned nr;
	struct guest_region r[GUEST_MEM_MAX_REGIONS]; /* sorted by gpa, never overlapping */
};

/* Start with no regions. vm_fd is the KVM VM fd, or -1 to keep the map purely host-side. */
void guest_mem_init(struct guest_mem *m, int vm_fd);

/*
 * Allocate and map len bytes of zeroed memory at gpa (both 4 KiB aligned, len > 0, no overflow,
 * no overlap with an existing region). With GUEST_MEM_HUGEPAGES both must be 2 MiB aligned and
 * the hugetlb pool must hold enough free pages. Returns 0, -EINVAL (alignment, zero length,
 * overflow), -EEXIST (overlap), -ENOSPC (no free slot), -ENOMEM (allocation or hugepage pool).
 */
int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t len, unsigned flags) MUST_CHECK;

/*
 * With GUEST_MEM_SHARED in flags, guest_mem_add backs the region with a memfd of its own (sealed
 * against shrinking, MFD_HUGETLB with GUEST_MEM_HUGEPAGES) mapped MAP_SHARED, and keeps the fd
 * in the region (r->fd, r->fd_offset 0) so it can be handed to another process that maps the same
 * pages. Its errors are guest_mem_add's, or -errno of memfd_create/ftruncate.
 */

/*
 * As guest_mem_add, but with caller-owned host memory `host` (page-aligned when registered with
 * KVM). The memory is not freed by guest_mem_remove/destroy.
 */
int guest_mem_add_host(struct guest_mem *m, uint64_t gpa, uint64_t len, void *host,
		       unsigned flags) MUST_CHECK;

/*
 * As guest_mem_add, but the memory is `len` bytes of file `fd` from byte `offset` (4 KiB aligned),
 * mapped MAP_PRIVATE: pages are read from the file when first touched and guest writes stay in
 * this process (snapshot restore: the cost does not grow with the guest's size). The fd may be
 * closed afterwards. Returns guest_mem_add's errors, or -errno of mmap.
 */
int guest_mem_add_file(struct guest_mem *m, uint64_t gpa, uint64_t len, int fd, uint64_t offset,
		       unsigned flags) MUST_CHECK;

/* Remove the region that starts exactly at gpa. Returns 0 or -ENOENT. Only call while no vCPU
 * runs and no device holds pointers into the region. */
int guest_mem_remove(struct guest_mem *m, uint64_t gpa) MUST_CHECK;

/* Unregister and free every region. */
void guest_mem_destroy(struct guest_mem *m);

/*
 * Translate [gpa, gpa+len) to a host pointer. The whole range must lie inside one region.
 * Returns NULL for len 0, overflow, or any byte outside guest memory. Read-only regions are
 * returned too; use guest_mem_ptr_rw to write.
 */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* As guest_mem_ptr, but NULL if the region is read-only. */
void *guest_mem_ptr_rw(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copy between guest and host memory, possibly across adjacent regions.
 * Return 0 or -EFAULT (any byte unmapped, or read-only for writes); nothing partial on error. */
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len) MUST_CHECK;
int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src,
		    size_t len) MUST_CHECK;

/* Region containing gpa, or NULL. */
const struct guest_region *guest_mem_find(const struct guest_mem *m, uint64_t gpa);

/*
 * Give the host memory behind guest RAM [gpa, gpa+len) back (balloon inflation, free page
 * reporting): gpa and len 4 KiB aligned (2 MiB for a hugetlb region: only whole huge pages can be
 * released), len > 0, the whole range inside one writable GUEST_MEM_RAM region. Shared mappings
 * (memfd, shmem: vhost-user) get MADV_REMOVE, which frees the backing store; private ones
 * MADV_DONTNEED. Afterwards anonymous memory reads as zero; a private file mapping (a restored
 * snapshot's memory file) reads the file's bytes again. The range is marked dirty, so a migration
 * or Diff snapshot sends what it now holds. Returns 0, -EINVAL (alignment, length, overflow),
 * -EFAULT (not wholly inside one RAM region, or read-only) or madvise's -errno. Any thread.
 */
int guest_mem_discard(const struct guest_mem *m, uint64_t gpa, uint64_t len) MUST_CHECK;

/* Sum of the lengths of GUEST_MEM_RAM regions. */
uint64_t guest_mem_ram_size(const struct guest_mem *m);

/*
 * Check that the hugetlb pool (default page size) has at least `bytes` worth of free pages.
 * Returns 0, -EINVAL if bytes is not a multiple of the huge page size, -ENOMEM if the pool is
 * short; *free_pages and *need_pages and *page_size are filled when not NULL.
 */
int guest_mem_hugepages_check(uint64_t bytes, uint64_t *need_pages, uint64_t *free_pages,
			      uint64_t *page_size) MUST_CHECK;

/* --- dirty-page tracking (live migration, Diff snapshots) ---
 * KVM logs the guest's own writes (KVM_MEM_LOG_DIRTY_PAGES, which forces 4 KiB mappings: only on
 * while needed); writes kiln makes through host pointers (virtqueue buffers and rings, anything
 * through guest_mem_write) are marked in a VMM-side bitmap by guest_mem_mark_dirty. A fetch
 * returns both, merged, and clears both (KVM_GET_DIRTY_LOG: get-and-reset in one ioctl). */

#define GUEST_PAGE_SIZE 4096ull

/* 64-bit words of a bitmap covering len bytes (one bit per 4 KiB page). */
static inline size_t guest_mem_bitmap_words(uint64_t len)
{
	return (size_t)((len / GUEST_PAGE_SIZE + 63) / 64);
}

/* Turn logging on for every RAM region: allocate (or clear) the VMM bitmaps and re-register the
 * RAM slots with KVM_MEM_LOG_DIRTY_PAGES (the KVM log starts empty). Counted: while logging is on
 * already (Diff snapshot tracking during a migration) it only adds a user. 0 or -errno (-ENOMEM;
 * a KVM error: logging is then off again). */
int guest_mem_log_start(struct guest_mem *m) MUST_CHECK;

/* Drop a user; the last one turns logging off (slots re-registered without the flag). The
 * bitmaps stay allocated, so a device thread marking concurrently never touches freed memory. */
void guest_mem_log_stop(struct guest_mem *m);

/* Mark [gpa, gpa+len) written by kiln (any thread). No-op when not logging, for len 0 or for
 * bytes outside RAM regions. */
void guest_mem_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Fetch and clear the dirty bitmap of region r->slot (a RAM region): KVM's log OR the VMM's, into
 * out (guest_mem_bitmap_words(r->len) words; bit i = page gpa + i * 4 KiB). -EINVAL if not
 * logging or r is not a logged RAM region, or KVM's -errno (out then holds the VMM bits only,
 * and every page is marked: a caller that goes on sends everything). */
int guest_mem_dirty_fetch(struct guest_mem *m, const struct guest_region *r,
			  uint64_t *out) MUST_CHECK;

/* Number of set bits in words words. */
uint64_t guest_mem_bitmap_count(const uint64_t *bits, size_t words);

#endif
