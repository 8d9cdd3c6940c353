/* gen.c — seccomp-gen, a build-time tool: compiles kiln's built-in filters (both variants: with
 * and without what rebuilding the VM needs) and writes them, as filter files (file.c's format),
 * with the names of the system calls the SIGSYS report uses, into a C source that the kiln
 * executable links (struct seccomp_prebuilt, prebuilt.h). Compiling them with libseccomp at every
 * start cost ~2 ms of kiln's ~4 ms to the guest's first instruction here.
 * Usage: seccomp-gen OUT.c */
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>

#include "seccomp/prebuilt.h"
#include "seccomp/seccomp.h"

/* One variant as the C array `name` of its filter file's bytes; 0 or -1 (reason on stderr). */
static int emit_variant(FILE *out, const char *name, bool rebuild)
{
	struct seccomp_filters f;
	char err[256] = "out of memory";
	json_t *desc = seccomp_builtin_json(rebuild);
	int ret = desc ? seccomp_compile(desc, &f, err, sizeof(err)) : -1;
	uint8_t *buf = NULL;
	size_t len = 0;

	json_decref(desc);
	if (ret == 0) {
		ret = seccomp_file_encode(&f, &buf, &len);
		seccomp_filters_free(&f);
	}
	if (ret < 0) {
		fprintf(stderr, "seccomp-gen: %s\n", err);
		return -1;
	}
	fprintf(out, "static const unsigned char %s[] = {", name);
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%s0x%02x,", i % 16 ? " " : "\n\t", buf[i]);
	fprintf(out, "\n};\n\n");
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	FILE *out;
	int ok;

	if (argc != 2) {
		fprintf(stderr, "usage: seccomp-gen OUT.c\n");
		return 2;
	}
	out = fopen(argv[1], "w");
	if (!out) {
		fprintf(stderr, "seccomp-gen: cannot write %s\n", argv[1]);
		return 1;
	}
	fprintf(out, "/* Generated at build time by seccomp-gen (src/seccomp/gen.c): kiln's "
		     "built-in seccomp filters. */\n#include \"seccomp/prebuilt.h\"\n\n");
	ok = emit_variant(out, "plain", false) == 0 && emit_variant(out, "rebuild", true) == 0;
	fprintf(out, "static const char *const names[%d] = {\n", SECCOMP_PREBUILT_NAMES);
	for (int nr = 0; nr < SECCOMP_PREBUILT_NAMES; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (s)
			fprintf(out, "\t[%d] = \"%s\",\n", nr, s);
		free(s);
	}
	fprintf(out, "};\n\nconst struct seccomp_prebuilt seccomp_prebuilt = {\n"
		     "\t.file = {plain, rebuild},\n\t.len = {sizeof(plain), sizeof(rebuild)},\n"
		     "\t.names = names,\n};\n");
	ok = fclose(out) == 0 && ok;
	if (!ok)
		fprintf(stderr, "seccomp-gen: cannot write %s\n", argv[1]);
	return ok ? 0 : 1;
}
