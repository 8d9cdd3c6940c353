/* test_guest_mem.c — region management and checked guest-physical translation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/guest_mem.h"

#define MB (1ULL << 20)

static void test_add_validation(void **state)
{
	struct guest_mem m;

	(void)state;
	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add(&m, 0, 0, GUEST_MEM_RAM), -EINVAL);
	assert_int_equal(guest_mem_add(&m, 0x800, 0x1000, GUEST_MEM_RAM), -EINVAL);
	assert_int_equal(guest_mem_add(&m, 0, 0x1001, GUEST_MEM_RAM), -EINVAL);
	assert_int_equal(guest_mem_add(&m, UINT64_MAX - 0xfff, 0x2000, 0), -EINVAL);
	assert_int_equal(guest_mem_add(&m, 0, 2 * MB, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add(&m, MB, 2 * MB, GUEST_MEM_RAM), -EEXIST);
	assert_int_equal(guest_mem_add(&m, 2 * MB, MB, GUEST_MEM_RAM), 0); /* adjacent */
	/* Hugepage regions need 2 MiB alignment. */
	assert_int_equal(guest_mem_add(&m, 8 * MB, MB, GUEST_MEM_HUGEPAGES), -EINVAL);
	assert_int_equal(guest_mem_ram_size(&m), 3 * MB);
	guest_mem_destroy(&m);
	assert_int_equal(m.nr, 0);
}

static void test_ptr_bounds(void **state)
{
	struct guest_mem m;
	uint8_t *base;

	(void)state;
	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add(&m, 0x100000, MB, GUEST_MEM_RAM), 0);
	base = guest_mem_ptr(&m, 0x100000, 1);
	assert_non_null(base);
	assert_ptr_equal(guest_mem_ptr(&m, 0x100000 + MB - 4, 4), base + MB - 4);
	assert_null(guest_mem_ptr(&m, 0x100000 + MB - 4, 5)); /* runs past the end */
	assert_null(guest_mem_ptr(&m, 0xfffff, 2));	      /* starts before */
	assert_null(guest_mem_ptr(&m, 0x100000, 0));	      /* zero length */
	assert_null(guest_mem_ptr(&m, 0x100000, UINT64_MAX)); /* overflow */
	assert_null(guest_mem_ptr(&m, UINT64_MAX, 2));
	assert_null(guest_mem_ptr(&m, 0x100000 + MB, 1));
	guest_mem_destroy(&m);
}

static void test_read_write_across_regions(void **state)
{
	struct guest_mem m;
	uint8_t buf[64], out[64];

	(void)state;
	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add(&m, 0, 0x1000, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add(&m, 0x1000, 0x1000, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add(&m, 0x3000, 0x1000, GUEST_MEM_RAM), 0);
	for (int i = 0; i < 64; i++)
		buf[i] = (uint8_t)i;
	/* A span over two adjacent regions works; a single pointer to it does not. */
	assert_int_equal(guest_mem_write(&m, 0x1000 - 32, buf, 64), 0);
	assert_null(guest_mem_ptr(&m, 0x1000 - 32, 64));
	assert_int_equal(guest_mem_read(&m, 0x1000 - 32, out, 64), 0);
	assert_memory_equal(buf, out, 64);
	/* Across the hole: refused, nothing written. */
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(guest_mem_write(&m, 0x2000 - 32, out, 64), -EFAULT);
	assert_int_equal(guest_mem_read(&m, 0x2000 - 32, out, 32), 0);
	assert_int_not_equal(out[0], 0xaa);
	assert_int_equal(guest_mem_read(&m, 0x2ff0, out, 32), -EFAULT);
	assert_int_equal(guest_mem_read(&m, UINT64_MAX - 4, out, 32), -EFAULT);
	assert_int_equal(guest_mem_read(&m, 0, out, 0), 0);
	guest_mem_destroy(&m);
}

static void test_readonly_and_remove(void **state)
{
	struct guest_mem m;
	uint8_t rom[0x1000] __attribute__((aligned(4096)));
	uint8_t v = 7;

	(void)state;
	memset(rom, 0x5a, sizeof(rom));
	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add_host(&m, 0xf0000, sizeof(rom), rom, GUEST_MEM_READONLY), 0);
	assert_non_null(guest_mem_ptr(&m, 0xf0000, 1));
	assert_null(guest_mem_ptr_rw(&m, 0xf0000, 1));
	assert_int_equal(guest_mem_write(&m, 0xf0000, &v, 1), -EFAULT);
	assert_int_equal(guest_mem_read(&m, 0xf0010, &v, 1), 0);
	assert_int_equal(v, 0x5a);
	assert_int_equal(guest_mem_ram_size(&m), 0);
	assert_int_equal(guest_mem_remove(&m, 0xf0001), -ENOENT);
	assert_int_equal(guest_mem_remove(&m, 0xf0000), 0);
	assert_null(guest_mem_ptr(&m, 0xf0000, 1));
	assert_int_equal(guest_mem_remove(&m, 0xf0000), -ENOENT);
	/* The freed slot is reused. */
	assert_int_equal(guest_mem_add_host(&m, 0xf0000, sizeof(rom), rom, 0), 0);
	assert_int_equal(m.r[0].slot, 0);
	guest_mem_destroy(&m);
}

static void test_slots_exhausted(void **state)
{
	struct guest_mem m;

	(void)state;
	guest_mem_init(&m, -1);
	for (unsigned i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		assert_int_equal(guest_mem_add(&m, (uint64_t)i * 0x2000, 0x1000, 0), 0);
	assert_int_equal(guest_mem_add(&m, 0x100000, 0x1000, 0), -ENOSPC);
	guest_mem_destroy(&m);
}

static void test_hugepages_check(void **state)
{
	uint64_t need = 0, nfree = 0, psize = 0;
	int ret;

	(void)state;
	ret = guest_mem_hugepages_check(1ULL << 40, &need, &nfree, &psize);
	assert_int_equal(ret, -ENOMEM); /* nobody has a 1 TiB pool here */
	assert_true(psize >= 4096);
	assert_int_equal(need, (1ULL << 40) / psize);
	assert_int_equal(guest_mem_hugepages_check(psize + 4096, NULL, NULL, NULL), -EINVAL);
}

/* The VMM-side bitmap: marks only while logging, page granularity, across regions, fetch clears. */
static void test_dirty_bitmap(void **state)
{
	struct guest_mem m;
	uint64_t bits[2];
	uint8_t data[16] = {1};

	(void)state;
	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add(&m, 0, 64 * 4096, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add(&m, 64 * 4096, 70 * 4096, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add(&m, MB, 4096, 0), 0); /* not RAM: never logged */
	assert_int_equal(guest_mem_dirty_fetch(&m, &m.r[0], bits), -EINVAL);
	guest_mem_mark_dirty(&m, 0, 4096); /* not logging: forgotten */
	assert_int_equal(guest_mem_log_start(&m), 0);
	assert_null(m.r[2].dirty);
	assert_int_equal(guest_mem_dirty_fetch(&m, &m.r[0], bits), 0);
	assert_int_equal(bits[0], 0);
	guest_mem_mark_dirty(&m, 3 * 4096 + 100, 1);			      /* page 3 */
	guest_mem_mark_dirty(&m, 5 * 4096 - 1, 2);			      /* pages 4 and 5 */
	assert_int_equal(guest_mem_write(&m, 63 * 4096 + 4090, data, 16), 0); /* 63 + next 0 */
	guest_mem_mark_dirty(&m, 64 * 4096 + 69 * 4096, 10 * 4096); /* last page, then beyond */
	guest_mem_mark_dirty(&m, MB, 4096);
	assert_int_equal(guest_mem_dirty_fetch(&m, &m.r[0], bits), 0);
	assert_int_equal(bits[0], (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 63));
	assert_int_equal(guest_mem_bitmap_count(bits, 1), 4);
	assert_int_equal(guest_mem_dirty_fetch(&m, &m.r[0], bits), 0);
	assert_int_equal(bits[0], 0); /* cleared by the fetch */
	assert_int_equal(guest_mem_bitmap_words(m.r[1].len), 2);
	assert_int_equal(guest_mem_dirty_fetch(&m, &m.r[1], bits), 0);
	assert_int_equal(bits[0], 1);
	assert_int_equal(bits[1], 1ull << 5);
	guest_mem_log_stop(&m);
	guest_mem_mark_dirty(&m, 0, 4096);
	assert_int_equal(guest_mem_dirty_fetch(&m, &m.r[0], bits), -EINVAL);
	assert_int_equal(guest_mem_log_start(&m), 0); /* starts clean again */
	assert_int_equal(guest_mem_dirty_fetch(&m, &m.r[0], bits), 0);
	assert_int_equal(bits[0], 0);
	guest_mem_destroy(&m);
}

static bool page_resident(void *p)
{
	unsigned char v = 0;

	assert_int_equal(mincore(p, 4096, &v), 0);
	return v & 1;
}

/* guest_mem_discard: range checks, then private anonymous RAM is freed and reads zero, and the
 * range is marked dirty for a migration. */
static void test_discard_anonymous(void **state)
{
	struct guest_mem m;
	uint64_t bits[1];
	uint8_t *p;

	(void)state;
	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add(&m, 0, 64 * 4096, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add(&m, MB, 4096, GUEST_MEM_READONLY), 0);
	assert_int_equal(guest_mem_add(&m, 2 * MB, 4096, 0), 0); /* not RAM (a ROM, say) */
	p = guest_mem_ptr(&m, 0, 64 * 4096);
	memset(p, 0x77, 64 * 4096);
	assert_int_equal(guest_mem_discard(&m, 4096, 0), -EINVAL);
	assert_int_equal(guest_mem_discard(&m, 100, 4096), -EINVAL);
	assert_int_equal(guest_mem_discard(&m, 4096, 100), -EINVAL);
	assert_int_equal(guest_mem_discard(&m, UINT64_MAX & ~0xfffull, 8192), -EINVAL);
	assert_int_equal(guest_mem_discard(&m, 63 * 4096, 2 * 4096), -EFAULT); /* runs past */
	assert_int_equal(guest_mem_discard(&m, 64 * 4096, 4096), -EFAULT);     /* a hole */
	assert_int_equal(guest_mem_discard(&m, MB, 4096), -EFAULT);	       /* read-only */
	assert_int_equal(guest_mem_discard(&m, 2 * MB, 4096), -EFAULT);	       /* not RAM */
	assert_true(page_resident(p + 5 * 4096));
	assert_int_equal(guest_mem_log_start(&m), 0);
	assert_int_equal(guest_mem_discard(&m, 5 * 4096, 2 * 4096), 0);
	assert_false(page_resident(p + 5 * 4096));
	assert_false(page_resident(p + 6 * 4096));
	assert_true(page_resident(p + 7 * 4096));
	assert_int_equal(p[5 * 4096], 0);
	assert_int_equal(p[7 * 4096 - 1], 0);
	assert_int_equal(p[7 * 4096], 0x77);
	assert_int_equal(p[5 * 4096 - 1], 0x77);
	assert_int_equal(guest_mem_dirty_fetch(&m, &m.r[0], bits), 0);
	assert_int_equal(bits[0], (1ull << 5) | (1ull << 6));
	guest_mem_log_stop(&m);
	guest_mem_destroy(&m);
}

/* A shared memfd mapping (vhost-user's guest RAM): the discard frees the file's blocks, not only
 * the mapping's pages, and the range reads zero. */
static void test_discard_shared_memfd(void **state)
{
	struct guest_mem m;
	struct stat st;
	uint8_t *p;
	int fd = memfd_create("kiln-test", MFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 * 4096), 0);
	p = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 0x42, 16 * 4096);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_blocks * 512, 16 * 4096);
	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add_host(&m, 0, 16 * 4096, p, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_discard(&m, 4 * 4096, 8 * 4096), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_blocks * 512, 8 * 4096); /* MADV_DONTNEED would leave 16 pages */
	assert_int_equal(p[4 * 4096], 0);
	assert_int_equal(p[12 * 4096 - 1], 0);
	assert_int_equal(p[12 * 4096], 0x42);
	guest_mem_destroy(&m);
	munmap(p, 16 * 4096);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_validation),
	    cmocka_unit_test(test_ptr_bounds),
	    cmocka_unit_test(test_read_write_across_regions),
	    cmocka_unit_test(test_readonly_and_remove),
	    cmocka_unit_test(test_slots_exhausted),
	    cmocka_unit_test(test_hugepages_check),
	    cmocka_unit_test(test_dirty_bitmap),
	    cmocka_unit_test(test_discard_anonymous),
	    cmocka_unit_test(test_discard_shared_memfd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
