/* seccomp.c — `kiln seccomp print|compile` and the --no-seccomp / --seccomp-filter flags of the
 * commands that run a VM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/vm.h"
#include "seccomp/seccomp.h"
#include "util/file.h"
#include "util/log.h"

int cmd_take_seccomp_args(int *argc, char **argv, int exit_status)
{
	const char *file = NULL;
	bool off = false;
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0) { /* a command's own arguments follow (sandbox) */
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--no-seccomp") == 0) {
			off = true;
			continue;
		}
		if (strcmp(argv[i], "--seccomp-filter") == 0) {
			if (i + 1 >= *argc || !argv[i + 1][0]) {
				fputs("kiln: --seccomp-filter needs a file (kiln seccomp compile "
				      "makes one)\n",
				      stderr);
				return -EINVAL;
			}
			file = argv[++i];
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	if (off && file) {
		fputs("kiln: --seccomp-filter and --no-seccomp cannot be used together\n", stderr);
		return -EINVAL;
	}
	seccomp_configure(off	 ? SECCOMP_OFF
			  : file ? SECCOMP_FILE
				 : SECCOMP_BUILTIN,
			  file, exit_status);
	return 0;
}

static void usage(FILE *out)
{
	fputs(
	    "usage: kiln seccomp print [--restart]\n"
	    "           kiln's built-in filters as a description (JSON)\n"
	    "       kiln seccomp compile [--restart] [DESCRIPTION.json] --output FILE\n"
	    "           compile a description (default: the built-in filters) into FILE for\n"
	    "           --seccomp-filter FILE\n"
	    "--restart: the filters of a VM run with --on-reset restart (the VMM thread may build\n"
	    "the VM again). The format of both: docs/seccomp.md.\n",
	    out);
}

/* The description to compile: the file's JSON, or kiln's own. */
static json_t *description(const char *path, bool restart)
{
	json_error_t je;
	char shown[256];
	json_t *j;
	char *text;
	size_t len;
	int ret;

	if (!path)
		return seccomp_builtin_json(restart);
	ret = file_read_all(path, 1 << 20, &text, &len);
	if (ret < 0) {
		fprintf(stderr, "kiln: seccomp: cannot read %s: %s\n",
			log_printable(path, shown, sizeof(shown)), file_strerror(ret));
		return NULL;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (!j)
		fprintf(stderr, "kiln: seccomp: %s: line %d: %s\n",
			log_printable(path, shown, sizeof(shown)), je.line, je.text);
	return j;
}

static int compile(const char *in, const char *out, bool restart)
{
	struct seccomp_filters f;
	json_t *desc = description(in, restart);
	char err[300];
	int ret;

	if (!desc)
		return KILN_EXIT_USAGE;
	ret = seccomp_compile(desc, &f, err, sizeof(err));
	json_decref(desc);
	if (ret == 0) {
		ret = seccomp_file_write(out, &f, err, sizeof(err));
		seccomp_filters_free(&f);
	}
	if (ret < 0) {
		fprintf(stderr, "kiln: %s\n", log_printable(err, err, sizeof(err)));
		return ret == -EINVAL || ret == -ENOENT || ret == -EACCES ? KILN_EXIT_USAGE
									  : KILN_EXIT_HOST;
	}
	return KILN_EXIT_OK;
}

int cmd_seccomp(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	bool restart = false;
	json_t *j;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? KILN_EXIT_USAGE : KILN_EXIT_OK;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--restart") == 0)
			restart = true;
		else if (strcmp(argv[i], "--output") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (argv[i][0] != '-' && !in && strcmp(argv[1], "compile") == 0)
			in = argv[i];
		else {
			char shown[128];

			fprintf(stderr, "kiln: seccomp %s: unexpected '%s' (kiln seccomp --help)\n",
				argv[1], log_printable(argv[i], shown, sizeof(shown)));
			return KILN_EXIT_USAGE;
		}
	}
	if (strcmp(argv[1], "compile") == 0) {
		if (!out) {
			fputs("kiln: seccomp compile: --output FILE is required\n", stderr);
			return KILN_EXIT_USAGE;
		}
		return compile(in, out, restart);
	}
	if (strcmp(argv[1], "print") != 0) {
		fprintf(stderr, "kiln: seccomp: unknown subcommand '%s' (print or compile)\n",
			argv[1]);
		return KILN_EXIT_USAGE;
	}
	j = seccomp_builtin_json(restart);
	if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) < 0)
		return KILN_EXIT_HOST;
	json_decref(j);
	putchar('\n');
	return KILN_EXIT_OK;
}
