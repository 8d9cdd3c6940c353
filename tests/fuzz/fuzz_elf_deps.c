/* fuzz_elf_deps.c — libFuzzer target: kiln sandbox's ELF dependency reader on arbitrary bytes.
 * Every string it returns must lie, NUL-terminated, inside the input.
 *
 * Built with -Dfuzz=true (CC=clang; tests/fuzz/meson.build); `make fuzz` runs it at length.
 * Seeds: tests/fuzz/seeds/make-elf-deps-seeds.py.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sandbox/elf_deps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* s points into [data, data + size) and its NUL does too. */
static void inside(const uint8_t *data, size_t size, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;

	if (!s)
		return;
	assert(p >= data && p < data + size);
	assert(memchr(p, '\0', (size_t)(data + size - p)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_deps d;
	char err[256];
	int ret = elf_deps_parse(data, size, &d, err, sizeof(err));
	int head = elf_deps_check_header(data, size, err, sizeof(err));

	assert(ret == 0 || ret == -ENOEXEC || ret == -ENOTSUP || ret == -EINVAL);
	/* the header check never accepts less than the full parse does */
	assert(ret != 0 || head == 0);
	if (ret != 0)
		return 0;
	assert(d.nr_needed <= ELF_DEPS_MAX_NEEDED);
	inside(data, size, d.interp);
	inside(data, size, d.rpath);
	inside(data, size, d.runpath);
	for (unsigned i = 0; i < d.nr_needed; i++)
		inside(data, size, d.needed[i]);
	return 0;
}
