/* test_sandbox_elf.c — the ELF dependency reader: synthetic files with every header, program
 * header, dynamic entry and string pointing out of the file; real host binaries; random
 * corruption (never a read outside the buffer: ASan watches). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "elf_build.h"
#include "sandbox/elf_deps.h"

#define PH_OFFSET 8
#define PH_FILESZ 32
#define PH_VADDR  16

static const struct elf_spec full = {
    .interp = "/lib64/ld-linux-x86-64.so.2",
    .dynamic = true,
    .needed = {"libfoo.so.1", "libc.so.6"},
    .rpath = "$ORIGIN/../lib",
    .runpath = "/opt/lib:/usr/local/lib",
};

static char err[256];

static int parse(const uint8_t *b, size_t len, struct elf_deps *d)
{
	err[0] = '\0';
	return elf_deps_parse(b, len, d, err, sizeof(err));
}

static int parse_full(uint8_t *b)
{
	struct elf_deps d;

	return parse(b, ELF_BUILD_LEN, &d);
}

static void test_full(void **st)
{
	uint8_t b[ELF_BUILD_LEN];
	struct elf_deps d;

	(void)st;
	elf_build(&full, b);
	assert_int_equal(parse(b, sizeof(b), &d), 0);
	assert_int_equal(d.type, ET_DYN);
	assert_string_equal(d.interp, "/lib64/ld-linux-x86-64.so.2");
	assert_int_equal(d.nr_needed, 2);
	assert_string_equal(d.needed[0], "libfoo.so.1");
	assert_string_equal(d.needed[1], "libc.so.6");
	assert_string_equal(d.rpath, "$ORIGIN/../lib");
	assert_string_equal(d.runpath, "/opt/lib:/usr/local/lib");
	assert_int_equal(d.nr_segments, 1);
}

static void test_static(void **st)
{
	struct elf_spec s = {.type = ET_EXEC};
	uint8_t b[ELF_BUILD_LEN];
	struct elf_deps d;

	(void)st;
	elf_build(&s, b);
	assert_int_equal(parse(b, sizeof(b), &d), 0);
	assert_null(d.interp);
	assert_int_equal(d.nr_needed, 0);
	assert_null(d.rpath);
}

static void test_not_elf(void **st)
{
	struct elf_deps d;

	(void)st;
	assert_int_equal(parse((const uint8_t *)"", 0, &d), -ENOEXEC);
	assert_int_equal(parse((const uint8_t *)"\x7f"
						"EL",
			       3, &d),
			 -ENOEXEC);
	assert_int_equal(parse((const uint8_t *)"#!/bin/sh\n", 10, &d), -ENOEXEC);
	assert_string_equal(err, "not an ELF file");
}

static void test_truncated_header(void **st)
{
	uint8_t b[ELF_BUILD_LEN];
	struct elf_deps d;

	(void)st;
	elf_build(&full, b);
	assert_int_equal(parse(b, 10, &d), -EINVAL);  /* inside e_ident */
	assert_int_equal(parse(b, 40, &d), -EINVAL);  /* inside the header */
	assert_int_equal(parse(b, 100, &d), -EINVAL); /* inside the program headers */
	assert_int_equal(parse(b, 300, &d), -EINVAL); /* PT_LOAD beyond the end */
	assert_non_null(strstr(err, "outside the file"));
}

static void test_ident(void **st)
{
	uint8_t b[ELF_BUILD_LEN];

	(void)st;
	elf_build(&full, b);
	b[EI_CLASS] = ELFCLASS32;
	assert_int_equal(parse_full(b), -ENOTSUP);
	b[EI_CLASS] = 7;
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	b[EI_DATA] = ELFDATA2MSB;
	assert_int_equal(parse_full(b), -ENOTSUP);
	b[EI_DATA] = 0;
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	b[EI_VERSION] = 0;
	assert_int_equal(parse_full(b), -EINVAL);
}

static void test_header(void **st)
{
	struct elf_spec s = full;
	uint8_t b[ELF_BUILD_LEN];

	(void)st;
	s.machine = EM_AARCH64;
	elf_build(&s, b);
	assert_int_equal(parse_full(b), -ENOTSUP);
	assert_non_null(strstr(err, "machine 183"));
	s = full;
	s.type = ET_REL;
	elf_build(&s, b);
	assert_int_equal(parse_full(b), -ENOTSUP);
	elf_build(&full, b);
	elf_put(b, 56, 0, 2); /* e_phnum */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_put(b, 56, ELF_DEPS_MAX_PHNUM + 1, 2);
	assert_int_equal(parse_full(b), -EINVAL);
	elf_put(b, 56, 0xffff, 2); /* PN_XNUM */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	elf_put(b, 54, 32, 2); /* e_phentsize */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	elf_put(b, 32, ELF_BUILD_LEN, 8); /* e_phoff at the end */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_put(b, 32, UINT64_MAX - 16, 8); /* e_phoff + size overflows */
	assert_int_equal(parse_full(b), -EINVAL);
}

static void test_check_header(void **st)
{
	struct elf_spec s = full;
	uint8_t b[ELF_BUILD_LEN];

	(void)st;
	elf_build(&full, b);
	/* the first 64 bytes suffice, the program headers are not looked at */
	assert_int_equal(elf_deps_check_header(b, 64, err, sizeof(err)), 0);
	s.elf_class = ELFCLASS32;
	elf_build(&s, b);
	assert_int_equal(elf_deps_check_header(b, 64, err, sizeof(err)), -ENOTSUP);
	assert_int_equal(elf_deps_check_header("!<arch>\n", 8, err, sizeof(err)), -ENOEXEC);
}

static void test_interp(void **st)
{
	uint8_t b[ELF_BUILD_LEN];
	size_t ph = ELF_BUILD_PHDR_INTERP;

	(void)st;
	elf_build(&full, b);
	elf_put(b, ph + PH_OFFSET, ELF_BUILD_LEN - 4, 8); /* runs past the end */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_put(b, ph + PH_OFFSET, UINT64_MAX, 8); /* offset + size overflows */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	b[ELF_BUILD_INTERP + 27] = 'x'; /* the NUL ending the path */
	assert_int_equal(parse_full(b), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	elf_build(&full, b);
	elf_put(b, ph + PH_FILESZ, 1, 8);
	assert_int_equal(parse_full(b), -EINVAL);
	elf_put(b, ph + PH_FILESZ, ELF_DEPS_STR_MAX + 1, 8);
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	memcpy(b + ELF_BUILD_PHDR_LOAD, b + ph, 56); /* a second PT_INTERP */
	assert_int_equal(parse_full(b), -EINVAL);
	assert_non_null(strstr(err, "two PT_INTERP"));
}

static void test_load(void **st)
{
	uint8_t b[ELF_BUILD_LEN];

	(void)st;
	elf_build(&full, b);
	elf_put(b, ELF_BUILD_PHDR_LOAD + PH_FILESZ, ELF_BUILD_LEN + 1, 8);
	assert_int_equal(parse_full(b), -EINVAL);
	elf_put(b, ELF_BUILD_PHDR_LOAD + PH_FILESZ, UINT64_MAX, 8);
	assert_int_equal(parse_full(b), -EINVAL);
}

static void test_dynamic_header(void **st)
{
	uint8_t b[ELF_BUILD_LEN];
	size_t ph = ELF_BUILD_PHDR_DYNAMIC;

	(void)st;
	elf_build(&full, b);
	elf_put(b, ph + PH_OFFSET, ELF_BUILD_LEN - 16, 8);
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	elf_put(b, ph + PH_FILESZ, 24, 8); /* not a whole number of entries */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_put(b, ph + PH_FILESZ, 0, 8);
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	memcpy(b + ELF_BUILD_PHDR_INTERP, b + ph, 56); /* a second PT_DYNAMIC */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	elf_put(b, ph + PH_FILESZ, 32, 8); /* cuts off before DT_NULL */
	assert_int_equal(parse_full(b), -EINVAL);
	assert_non_null(strstr(err, "DT_NULL"));
}

/* The index of the first dynamic entry with tag. */
static size_t dyn_at(const uint8_t *b, uint64_t tag)
{
	for (size_t o = ELF_BUILD_DYNAMIC; o + 16 <= ELF_BUILD_LEN; o += 16) {
		uint64_t t;

		memcpy(&t, b + o, 8);
		if (t == tag)
			return o;
	}
	fail_msg("no dynamic tag %llu", (unsigned long long)tag);
	return 0;
}

static void test_strtab(void **st)
{
	uint8_t b[ELF_BUILD_LEN];

	(void)st;
	elf_build(&full, b);
	elf_put(b, dyn_at(b, DT_STRTAB) + 8, 0x10, 8); /* in no segment */
	assert_int_equal(parse_full(b), -EINVAL);
	assert_non_null(strstr(err, "DT_STRTAB"));
	elf_build(&full, b);
	elf_put(b, dyn_at(b, DT_STRSZ) + 8, ELF_BUILD_LEN, 8); /* past the segment */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_put(b, dyn_at(b, DT_STRSZ) + 8, UINT64_MAX, 8);
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	elf_put(b, dyn_at(b, DT_STRTAB), DT_DEBUG, 8); /* no DT_STRTAB at all */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	elf_put(b, dyn_at(b, DT_STRSZ), DT_STRTAB, 8); /* two DT_STRTAB, no DT_STRSZ */
	assert_int_equal(parse_full(b), -EINVAL);
}

static void test_strings(void **st)
{
	uint8_t b[ELF_BUILD_LEN];
	size_t strsz;

	(void)st;
	elf_build(&full, b);
	elf_put(b, dyn_at(b, DT_NEEDED) + 8, 4000, 8); /* beyond DT_STRSZ */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	elf_put(b, dyn_at(b, DT_NEEDED) + 8, 0, 8); /* the empty string */
	assert_int_equal(parse_full(b), -EINVAL);
	elf_build(&full, b);
	memcpy(&strsz, b + dyn_at(b, DT_STRSZ) + 8, 8);
	b[ELF_BUILD_STRTAB + strsz - 1] = 'x'; /* the last string loses its NUL */
	assert_int_equal(parse_full(b), -EINVAL);
	assert_non_null(strstr(err, "not NUL-terminated"));
	elf_build(&full, b);
	elf_put(b, dyn_at(b, DT_RUNPATH), DT_RPATH, 8); /* two DT_RPATH */
	assert_int_equal(parse_full(b), -EINVAL);
}

/* 300 DT_NEEDED entries: refused, not overflowing the table. */
static void test_too_many_needed(void **st)
{
	size_t len = ELF_BUILD_LEN + 303 * 16;
	uint8_t *b = calloc(1, len);
	unsigned n = 0;

	(void)st;
	elf_build(&full, b);
	for (; n < 300; n++) {
		elf_put(b, ELF_BUILD_LEN + n * 16, DT_NEEDED, 8);
		elf_put(b, ELF_BUILD_LEN + n * 16 + 8, 1, 8);
	}
	elf_put(b, ELF_BUILD_LEN + n * 16, DT_STRTAB, 8);
	elf_put(b, ELF_BUILD_LEN + n * 16 + 8, ELF_BUILD_VADDR + ELF_BUILD_STRTAB, 8);
	elf_put(b, ELF_BUILD_LEN + ++n * 16, DT_STRSZ, 8);
	elf_put(b, ELF_BUILD_LEN + n * 16 + 8, 64, 8);
	elf_put(b, ELF_BUILD_PHDR_DYNAMIC + PH_OFFSET, ELF_BUILD_LEN, 8);
	elf_put(b, ELF_BUILD_PHDR_DYNAMIC + PH_FILESZ, 303 * 16, 8);
	elf_put(b, ELF_BUILD_PHDR_LOAD + PH_FILESZ, len, 8);
	assert_int_equal(parse(b, len, &(struct elf_deps){0}), -EINVAL);
	assert_non_null(strstr(err, "more than 256"));
	free(b);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static bool has_needed(const struct elf_deps *d, const char *name)
{
	for (unsigned i = 0; i < d->nr_needed; i++)
		if (strcmp(d->needed[i], name) == 0)
			return true;
	return false;
}

static void test_host_binaries(void **st)
{
	static const char *const bins[] = {"/bin/true", "/bin/sh"};
	struct elf_deps d;
	size_t len;

	(void)st;
	for (unsigned i = 0; i < 2; i++) {
		uint8_t *b = slurp(bins[i], &len);

		assert_int_equal(parse(b, len, &d), 0);
		assert_string_equal(d.interp, "/lib64/ld-linux-x86-64.so.2");
		assert_true(has_needed(&d, "libc.so.6"));
		/* cut in half: segments (or the dynamic section) then lie outside the file */
		assert_int_equal(parse(b, len / 2, &d), -EINVAL);
		free(b);
	}
}

/* Random byte changes to a good file: any result but a crash or an out-of-bounds read. */
static void test_random_corruption(void **st)
{
	uint8_t good[ELF_BUILD_LEN], b[ELF_BUILD_LEN];
	struct elf_deps d;
	unsigned seed = 12345, ok = 0;

	(void)st;
	elf_build(&full, good);
	for (int round = 0; round < 20000; round++) {
		memcpy(b, good, sizeof(b));
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245 + 12345;
			b[(seed >> 8) % sizeof(b)] = (uint8_t)(seed >> 20);
		}
		if (parse(b, sizeof(b), &d) == 0) {
			ok++;
			for (unsigned i = 0; i < d.nr_needed; i++)
				assert_true(strlen(d.needed[i]) < ELF_DEPS_STR_MAX);
		}
	}
	assert_true(ok > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_static),
	    cmocka_unit_test(test_not_elf),
	    cmocka_unit_test(test_truncated_header),
	    cmocka_unit_test(test_ident),
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_check_header),
	    cmocka_unit_test(test_interp),
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_dynamic_header),
	    cmocka_unit_test(test_strtab),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_too_many_needed),
	    cmocka_unit_test(test_host_binaries),
	    cmocka_unit_test(test_random_corruption),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
