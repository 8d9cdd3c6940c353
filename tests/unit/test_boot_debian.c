/* test_boot_debian.c — parse and load a real Debian bzImage (path in KILN_DEBIAN_VMLINUZ, from
 * scripts/fetch-debian-kernel) into 512 MiB of host-side guest memory; without it: skipped, or
 * failed under CI=true (kvm_check.h). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "boot_images.h"
#include "kvm_check.h"

#define MEM_SIZE   MiB(512)
#define INITRD_LEN 0x123456
#define CMDLINE	   "console=ttyS0 root=/dev/vda ro panic=-1"

static const char *kernel_path;
static uint8_t *kernel;
static size_t kernel_len;

static int kernel_map(void **state)
{
	struct stat st;
	int fd = open(kernel_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
		fprintf(stderr, "%s: cannot open or stat\n", kernel_path);
		return -1;
	}
	kernel_len = (size_t)st.st_size;
	kernel = mmap(NULL, kernel_len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return kernel == MAP_FAILED ? -1 : 0;
}

static int kernel_unmap(void **state)
{
	munmap(kernel, kernel_len);
	return 0;
}

/* The header fields kiln relies on, read straight from the file. */
static void test_debian_header(void **state)
{
	unsigned sects = kernel[0x1f1] ? kernel[0x1f1] : 4;

	assert_true(kernel_len > 0x1000);
	assert_int_equal(ti_get16(kernel, 0x1fe), 0xaa55);
	assert_memory_equal(kernel + 0x202, "HdrS", 4);
	assert_true(ti_get16(kernel, 0x206) >= 0x020c);
	assert_true(ti_get16(kernel, 0x236) & 0x1); /* XLF_KERNEL_64 */
	assert_true(kernel[0x211] & 0x1);	    /* LOADED_HIGH */
	assert_true((sects + 1) * 512 < kernel_len);
	assert_true(ti_get32(kernel, 0x260) > kernel_len - (sects + 1) * 512); /* init_size */
	assert_true(ti_get64(kernel, 0x258) >= LAYOUT_HIMEM_GPA);	       /* pref_address */
}

static void bp_check(const struct guest_mem *m, uint64_t initrd_gpa)
{
	const uint8_t *bp = ti_guest(m, LAYOUT_ZERO_PAGE_GPA, 0x1000);

	assert_int_equal(ti_get16(bp, 0x1fe), 0xaa55);
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(ti_get16(bp, 0x206), ti_get16(kernel, 0x206));
	assert_int_equal(ti_get16(bp, 0x236), ti_get16(kernel, 0x236));
	assert_int_equal(ti_get32(bp, 0x260), ti_get32(kernel, 0x260));
	assert_int_equal(bp[0x210], 0xff);
	assert_int_equal(bp[0x211] & 0x81, 0x81);
	assert_int_equal(ti_get32(bp, 0x228), LAYOUT_CMDLINE_GPA);
	assert_int_equal(ti_get32(bp, 0x218), initrd_gpa);
	assert_int_equal(ti_get32(bp, 0x21c), INITRD_LEN);
	assert_int_equal(bp[0x1e8], 3);
	assert_int_equal(ti_get64(bp, 0x2d0 + 40), LAYOUT_HIMEM_GPA);
	assert_int_equal(ti_get64(bp, 0x2d0 + 48), MEM_SIZE - LAYOUT_HIMEM_GPA);
	assert_int_equal(ti_get32(bp, 0x2d0 + 56), 1);
}

static void test_debian_load(void **state)
{
	unsigned sects = kernel[0x1f1] ? kernel[0x1f1] : 4;
	size_t setup = (sects + 1) * 512;
	uint64_t load = ti_get64(kernel, 0x258);
	uint64_t top = (uint64_t)ti_get32(kernel, 0x22c) + 1;
	uint8_t *initrd = malloc(INITRD_LEN);
	struct boot_input in = {.kernel = kernel,
				.kernel_len = kernel_len,
				.initrd = initrd,
				.initrd_len = INITRD_LEN,
				.cmdline = CMDLINE};
	struct boot_entry out;
	struct guest_mem m;
	char err[256] = "";
	uint64_t initrd_gpa;

	assert_non_null(initrd);
	for (size_t i = 0; i < INITRD_LEN; i++)
		initrd[i] = (uint8_t)(i * 31);
	ti_mem_init(&m, MEM_SIZE);
	if (boot_load(&m, &in, &out, err, sizeof(err)) != 0)
		fail_msg("boot_load: %s", err);
	assert_int_equal(out.mode, BOOT_CPU_LONG64);
	assert_int_equal(out.rip, load + 0x200);
	assert_int_equal(out.rsi, LAYOUT_ZERO_PAGE_GPA);
	assert_int_equal(out.rsp, LAYOUT_BOOT_STACK_GPA);
	assert_memory_equal(ti_guest(&m, load, kernel_len - setup), kernel + setup,
			    kernel_len - setup);
	initrd_gpa = ((top < MEM_SIZE ? top : MEM_SIZE) - INITRD_LEN) & ~0xfffULL;
	bp_check(&m, initrd_gpa);
	assert_memory_equal(ti_guest(&m, initrd_gpa, INITRD_LEN), initrd, INITRD_LEN);
	assert_string_equal((const char *)ti_guest(&m, LAYOUT_CMDLINE_GPA, sizeof(CMDLINE)),
			    CMDLINE);
	guest_mem_destroy(&m);
	free(initrd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_debian_header),
	    cmocka_unit_test(test_debian_load),
	};

	kernel_path = getenv("KILN_DEBIAN_VMLINUZ");
	if (!kernel_path || !*kernel_path) {
		test_cannot_run("KILN_DEBIAN_VMLINUZ is not set "
				"(KILN_DEBIAN_VMLINUZ=$(scripts/fetch-debian-kernel))");
	}
	return cmocka_run_group_tests(tests, kernel_map, kernel_unmap);
}
