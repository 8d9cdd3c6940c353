/* gen.c — seccomp-gen, a build-time tool: compiles kiln's built-in filters (both variants: with
 * and without what rebuilding the VM needs) and writes them, as filter files (file.c's format),
 * with the names of the system calls the SIGSYS report uses, into a C source that the kiln
 * executable links (struct seccomp_prebuilt, prebuilt.h). Compiling them with libseccomp at every
 * start cost ~2 ms of kiln's ~4 ms to the guest's first instruction here.
 * Usage: seccomp-gen OUT.c */
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "seccomp/prebuilt.h"
#include "seccomp/seccomp.h"

/* Compile one variant into a filter file at path; 0 or -1 (reason on stderr). */
static int compile_to(bool rebuild, const char *path)
{
	struct seccomp_filters f;
	char err[256];
	json_t *desc = seccomp_builtin_json(rebuild);
	int ret = desc ? seccomp_compile(desc, &f, err, sizeof(err)) : -1;

	json_decref(desc);
	if (ret == 0) {
		ret = seccomp_file_write(path, &f, err, sizeof(err));
		seccomp_filters_free(&f);
	}
	if (ret < 0)
		fprintf(stderr, "seccomp-gen: %s\n", desc ? err : "out of memory");
	return ret < 0 ? -1 : 0;
}

/* The bytes of the file at path as a C array named name; 0 or -1. */
static int emit_array(FILE *out, const char *name, const char *path)
{
	FILE *in = fopen(path, "rb");
	size_t n = 0;
	int c;

	if (!in)
		return -1;
	fprintf(out, "static const unsigned char %s[] = {", name);
	while ((c = fgetc(in)) != EOF)
		fprintf(out, "%s0x%02x,", n++ % 16 ? " " : "\n\t", c);
	fprintf(out, "\n};\n\n");
	fclose(in);
	return 0;
}

int main(int argc, char **argv)
{
	char tmp[2][64] = {"/tmp/kiln-seccomp-gen-XXXXXX", "/tmp/kiln-seccomp-gen-XXXXXX"};
	const char *arrays[2] = {"plain", "rebuild"};
	FILE *out;
	int ok = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: seccomp-gen OUT.c\n");
		return 2;
	}
	for (int v = 0; v < 2; v++) {
		int fd = mkstemp(tmp[v]);

		if (fd < 0 || close(fd) < 0 || compile_to(v == 1, tmp[v]) < 0)
			ok = 0;
	}
	out = ok ? fopen(argv[1], "w") : NULL;
	if (out) {
		fprintf(out,
			"/* Generated at build time by seccomp-gen (src/seccomp/gen.c): kiln's "
			"built-in seccomp filters. */\n#include \"seccomp/prebuilt.h\"\n\n");
		for (int v = 0; v < 2 && ok; v++)
			ok = emit_array(out, arrays[v], tmp[v]) == 0;
		fprintf(out, "static const char *const names[%d] = {\n", SECCOMP_PREBUILT_NAMES);
		for (int nr = 0; nr < SECCOMP_PREBUILT_NAMES; nr++) {
			char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

			if (s)
				fprintf(out, "\t[%d] = \"%s\",\n", nr, s);
			free(s);
		}
		fprintf(out,
			"};\n\nconst struct seccomp_prebuilt seccomp_prebuilt = {\n"
			"\t.file = {plain, rebuild},\n\t.len = {sizeof(plain), sizeof(rebuild)},\n"
			"\t.names = names,\n};\n");
		ok = fclose(out) == 0 && ok;
	}
	for (int v = 0; v < 2; v++)
		unlink(tmp[v]);
	if (!ok)
		fprintf(stderr, "seccomp-gen: cannot write %s\n", argv[1]);
	return ok ? 0 : 1;
}
