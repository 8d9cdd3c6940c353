/* api_server.c — the Firecracker-style process: `kiln --api-sock PATH` (serve the API, boot on
 * InstanceStart) and `kiln --config-file FILE` (boot a JSON document, with or without the API).
 * api/api_vmm.h serves the API; this only reads the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_vmm.h"
#include "cmd/cmd.h"
#include "config/config.h"
#include "config/config_json.h"
#include "core/vmm.h"

/* ---- kiln --config-file ---- */

struct top_opts {
	const char *config_file, *api_sock;
	bool no_api;
	int verbosity;
};

/* kiln --config-file FILE [--no-api] [--api-sock PATH] [-v]: 0 or -EINVAL (message in err). */
static int parse_top(int argc, char **argv, struct top_opts *o, char *err, size_t errlen)
{
	static const struct option opts[] = {{"config-file", required_argument, NULL, 'c'},
					     {"api-sock", required_argument, NULL, 'a'},
					     {"no-api", no_argument, NULL, 'n'},
					     {"verbose", no_argument, NULL, 'v'},
					     {NULL, 0, NULL, 0}};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":v", opts, NULL)) != -1) {
		if (opt == 'c')
			o->config_file = optarg;
		else if (opt == 'a')
			o->api_sock = optarg;
		else if (opt == 'n')
			o->no_api = true;
		else if (opt == 'v')
			o->verbosity++;
		else if (opt == ':')
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
		else
			snprintf(err, errlen, "unknown option '%s' (see kiln --help)",
				 argv[optind - 1]);
		if (opt == ':' || opt == '?')
			return -EINVAL;
	}
	if (optind < argc)
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
	else if (o->no_api && o->api_sock)
		snprintf(err, errlen, "--no-api and --api-sock are mutually exclusive");
	else if (!o->config_file && !o->api_sock)
		snprintf(err, errlen, "give --config-file FILE (or --api-sock PATH)");
	else
		return 0;
	return -EINVAL;
}

int cmd_config(int argc, char **argv)
{
	struct top_opts o = {0};
	struct vm_config *cfg = NULL;
	char err[768];
	int status;

	if (parse_top(argc, argv, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		return KILN_EXIT_USAGE;
	}
	cmd_set_verbosity(o.verbosity);
	if (o.config_file) {
		cfg = malloc(sizeof(*cfg));
		if (!cfg)
			return KILN_EXIT_HOST;
		config_defaults(cfg);
		if (config_json_load_file(cfg, o.config_file, err, sizeof(err)) < 0) {
			fprintf(stderr, "kiln: %s\n", err);
			free(cfg);
			return KILN_EXIT_USAGE;
		}
	}
	status = cmd_run_vm(cfg, o.api_sock, NULL);
	free(cfg);
	return status;
}

/* ---- kiln --api-sock ---- */

static void usage(FILE *out)
{
	fputs(
	    "usage: kiln --api-sock PATH [--id ID] [-v|-vv]\n"
	    "  Serve the Firecracker-compatible API on the Unix socket PATH (created 0600) and\n"
	    "  wait for configuration; the VM boots on InstanceStart, kiln exits when it stops.\n",
	    out);
}

/* Parse --api-sock/--id/-v; 0, 1 (--help) or -EINVAL (message printed). */
static int parse(int argc, char **argv, const char **sock, const char **id, int *verbosity)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "-vv") == 0) {
			*verbosity = a[2] ? 2 : *verbosity + 1;
		} else if ((strcmp(a, "--api-sock") == 0 || strcmp(a, "--id") == 0) &&
			   i + 1 < argc && argv[i + 1][0]) {
			*(a[2] == 'a' ? sock : id) = argv[++i];
		} else {
			fprintf(stderr,
				"kiln: --api-sock mode: bad or incomplete argument '%s' "
				"(see kiln --api-sock --help)\n",
				a);
			return -EINVAL;
		}
	}
	if (*id && strlen(*id) >= 64) {
		fprintf(stderr, "kiln: --id: at most 63 characters\n");
		return -EINVAL;
	}
	return 0;
}

int cmd_api_server(int argc, char **argv)
{
	const char *sock = NULL, *id = NULL;
	int verbosity = 0, ret = parse(argc, argv, &sock, &id, &verbosity);
	struct vmm m;

	if (ret != 0)
		return ret < 0 ? KILN_EXIT_USAGE : KILN_EXIT_OK;
	if (!sock) {
		fprintf(stderr, "kiln: --api-sock needs a socket path\n");
		return KILN_EXIT_USAGE;
	}
	cmd_set_verbosity(verbosity);
	if (vmm_init(&m) < 0) {
		vmm_destroy(&m);
		return KILN_EXIT_HOST;
	}
	m.cfg.verbosity = verbosity;
	ret = api_run(&m, sock, id);
	vmm_destroy(&m);
	return ret;
}
