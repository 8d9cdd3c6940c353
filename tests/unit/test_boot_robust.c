/* test_boot_robust.c — every truncation and many random corruptions of valid images: no crash,
 * no read past the file, and either success or -EINVAL with a one-line message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/boot.h"
#include "boot_images.h"

#define MUTATIONS 4000

/* Load a copy of img[0..len) in a buffer of exactly len bytes, so ASan sees any overread. */
static int load_exact(struct ti_ctx *c, const uint8_t *img, size_t len, enum boot_protocol p)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct boot_input in = {
	    .kernel = copy, .kernel_len = len, .proto = p, .cmdline = "console=ttyS0"};
	int ret;

	assert_non_null(copy);
	memcpy(copy, img, len);
	ret = boot_load(&c->m, &in, &c->out, c->err, sizeof(c->err));
	free(copy);
	if (ret != 0 && (ret != -EINVAL || c->err[0] == '\0' || strchr(c->err, '\n')))
		fail_msg("len %zu: boot_load returned %d with \"%s\"", len, ret, c->err);
	return ret;
}

static void truncations(struct ti_ctx *c, size_t full, enum boot_protocol p)
{
	for (size_t len = 0; len < full; len++)
		load_exact(c, c->img, len, p);
	assert_int_equal(load_exact(c, c->img, full, p), 0);
}

static void test_truncate_pvh(void **state)
{
	struct ti_ctx *c = *state;

	truncations(c, ti_pvh_build(c->img, 0x100010), BOOT_AUTO);
	truncations(c, ti_pvh_build(c->img, 0x100010), BOOT_LINUX);
}

static void test_truncate_bzimage(void **state)
{
	struct ti_ctx *c = *state;

	truncations(c, ti_bzimage_build(c->img), BOOT_AUTO);
}

/* xorshift64: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Corrupt 1-4 bytes (or 16/32/64-bit fields) in the first `span` bytes of a fresh image. */
static void mutations(struct ti_ctx *c, size_t (*build)(uint8_t *), size_t span, uint64_t seed)
{
	uint8_t *img = malloc(TI_IMG_CAP);
	uint64_t s = seed;

	assert_non_null(img);
	for (int i = 0; i < MUTATIONS; i++) {
		size_t len = build(img);
		unsigned n = 1 + rng_next(&s) % 4;

		for (unsigned k = 0; k < n; k++) {
			size_t off = rng_next(&s) % (span - 8);
			uint64_t v = rng_next(&s);

			if (v & 1)
				img[off] = (uint8_t)(v >> 8);
			else
				ti_put64(img, off & ~(size_t)7, v >> 1); /* big values */
		}
		load_exact(c, img, len, (enum boot_protocol)(rng_next(&s) % 3));
	}
	free(img);
}

static size_t pvh_build(uint8_t *img)
{
	return ti_pvh_build(img, 0x100010);
}

static void test_mutate_elf_headers(void **state)
{
	mutations(*state, pvh_build, 0x100, 1);
}

static void test_mutate_elf_notes(void **state)
{
	struct ti_ctx *c = *state;
	uint8_t *img = malloc(TI_PVH_LEN);
	uint64_t s = 2;

	assert_non_null(img);
	for (int i = 0; i < MUTATIONS; i++) {
		ti_pvh_build(img, 0x100010);
		img[0x2000 + rng_next(&s) % 20] = (uint8_t)rng_next(&s);
		load_exact(c, img, TI_PVH_LEN, BOOT_AUTO);
	}
	free(img);
}

static void test_mutate_bzimage(void **state)
{
	mutations(*state, ti_bzimage_build, 0x300, 3);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ti_setup, ti_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_truncate_pvh),     T(test_truncate_bzimage), T(test_mutate_elf_headers),
	    T(test_mutate_elf_notes), T(test_mutate_bzimage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
