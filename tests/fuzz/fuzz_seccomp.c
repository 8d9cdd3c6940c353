/* fuzz_seccomp.c — libFuzzer target: the inputs `--seccomp-filter` and `kiln seccomp compile`
 * read. The bytes are taken both as a filter file (seccomp_file_parse: refused with a reason,
 * or every program 1-4096 instructions and nothing kept on refusal) and, when they parse as
 * JSON, as a filter description (seccomp_compile: refused with a reason, or three programs whose
 * file form reads back identical).
 *
 * Built with -Dfuzz=true (CC=clang; tests/fuzz/meson.build); `make fuzz` runs it at length.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seccomp/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void as_file(const uint8_t *data, size_t size)
{
	struct seccomp_filters f;
	char err[256] = "";
	int ret = seccomp_file_parse(data, size, &f, err, sizeof(err));

	if (ret < 0) {
		assert(err[0] && !strchr(err, '\n'));
		for (int t = 0; t < SECCOMP_NR_THREADS; t++)
			assert(!f.prog[t].insns);
		return;
	}
	for (int t = 0; t < SECCOMP_NR_THREADS; t++)
		assert(f.prog[t].insns && f.prog[t].len >= 1 && f.prog[t].len <= 4096);
	seccomp_filters_free(&f);
}

/* A compiled description written and read back gives the same programs. */
static void roundtrip(const struct seccomp_filters *f)
{
	char path[] = "/tmp/kiln-fuzz-seccomp-XXXXXX", err[256];
	struct seccomp_filters back;
	int fd = mkstemp(path);

	assert(fd >= 0);
	close(fd);
	assert(seccomp_file_write(path, f, err, sizeof(err)) == 0);
	assert(seccomp_file_read(path, &back, err, sizeof(err)) == 0);
	unlink(path);
	for (int t = 0; t < SECCOMP_NR_THREADS; t++) {
		assert(back.prog[t].len == f->prog[t].len);
		assert(memcmp(back.prog[t].insns, f->prog[t].insns, f->prog[t].len * 8) == 0);
	}
	seccomp_filters_free(&back);
}

static void as_description(const uint8_t *data, size_t size)
{
	struct seccomp_filters f;
	char err[256] = "";
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!j)
		return;
	if (seccomp_compile(j, &f, err, sizeof(err)) < 0) {
		assert(err[0] && !strchr(err, '\n'));
	} else {
		roundtrip(&f);
		seccomp_filters_free(&f);
	}
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_file(data, size);
	as_description(data, size);
	return 0;
}
