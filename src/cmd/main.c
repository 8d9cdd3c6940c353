/* main.c — argv -> config -> vm -> run, with the main thread's event loop; no logic of its own. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_vmm.h"
#include "api/ctl.h"
#include "config/config.h"
#include "config/config_json.h"
#include "core/vmm.h"
#include "migrate/migrate.h"
#include "sandbox/sandbox.h"
#include "state/restore_cli.h"
#include "state/snapshot.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fputs(
	    "usage: kiln run [options] [--api-sock PATH [--id ID]]   boot a VM (kiln run --help)\n"
	    "       kiln sandbox --kernel PATH [options] -- CMD [ARGS...]   run one command in a\n"
	    "                    fresh VM (kiln sandbox --help)\n"
	    "       kiln restore SNAPSHOT --mem-file FILE [--paused] [--memory SIZE] [--cpus N]\n"
	    "                    [--api-sock PATH [--id ID]] [-v|-vv]   resume a snapshot\n"
	    "       kiln --config-file FILE [--no-api | --api-sock PATH] [-v]\n"
	    "                            boot the VM a Firecracker-style JSON document describes\n"
	    "       kiln --api-sock PATH [--id ID] [-v]   serve the API, boot on InstanceStart\n"
	    "       kiln snapshot-merge BASE_MEM DIFF_MEM...   apply Diff memory files onto a "
	    "base\n"
	    "       kiln migrate receive --listen HOST:PORT [--api-sock PATH]   await a migration\n"
	    "       kiln migrate send --sock PATH --to HOST:PORT [...]   migrate a VM (its API)\n"
	    "       kiln ctl --sock PATH COMMAND   talk to a kiln API socket\n"
	    "       kiln --version\n"
	    "       kiln --help\n",
	    out);
}

/* Start, build and run the VM of cfg; the exit status. `api_sock` (NULL: none) also serves the
 * API. */
static int run_vm(const struct vm_config *cfg, const char *api_sock, const char *id);

/* Take `--api-sock PATH` and `--id ID` out of argv (they are not VM options); argc updated. */
static int take_api_args(int *argc, char **argv, const char **sock, const char **id)
{
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		bool is_sock = strcmp(argv[i], "--api-sock") == 0,
		     is_id = strcmp(argv[i], "--id") == 0;

		if ((is_sock || is_id) && i + 1 >= *argc) {
			fprintf(stderr, "kiln: %s needs a value\n", argv[i]);
			return -EINVAL;
		}
		if (is_sock || is_id) {
			*(is_sock ? sock : id) = argv[++i];
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	const char *sock = NULL, *id = NULL;
	struct vm_config cfg;
	char err[256];
	int ret;

	/* Flags first: a bad one is reported as such even on a host without KVM. */
	if (take_api_args(&argc, argv, &sock, &id) < 0)
		return KILN_EXIT_USAGE;
	config_defaults(&cfg);
	ret = config_parse_run(&cfg, argc, argv, err, sizeof(err));
	if (ret != 0) {
		if (ret < 0)
			fprintf(stderr, "kiln: %s\n", err);
		return ret < 0 ? KILN_EXIT_USAGE : KILN_EXIT_OK;
	}
	log_set_level(cfg.verbosity >= 2 ? LOG_DEBUG : cfg.verbosity ? LOG_INFO : LOG_WARN);
	return run_vm(&cfg, sock, id);
}

static int run_vm(const struct vm_config *cfg, const char *api_sock, const char *id)
{
	struct vmm m;
	int ret, status;

	if (vmm_init(&m) < 0) {
		vmm_destroy(&m);
		return KILN_EXIT_HOST;
	}
	if (cfg)
		m.cfg = *cfg;
	ret = cfg ? vmm_start_vm(&m) : 0;
	if (ret < 0)
		status = ret == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST;
	else if (api_sock) /* the VM (if any) runs; the API serves it until it stops */
		status = api_run(&m, api_sock, id);
	else
		status = vmm_run(&m);
	vmm_destroy(&m);
	return status;
}

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

/* kiln --config-file FILE ...: the document is checked (exit 2 on error, even without KVM) and
 * booted at once; with --api-sock, the API serves too. */
static int cmd_top(int argc, char **argv)
{
	struct top_opts o = {0};
	struct vm_config *cfg = NULL;
	char err[768];
	int status;

	if (parse_top(argc, argv, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		return KILN_EXIT_USAGE;
	}
	log_set_level(o.verbosity >= 2 ? LOG_DEBUG : o.verbosity ? LOG_INFO : LOG_WARN);
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
	status = run_vm(cfg, o.api_sock, NULL);
	free(cfg);
	return status;
}

static bool has_config_file(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--config-file", 13) == 0)
			return true;
	return false;
}

/* kiln snapshot-merge BASE_MEM DIFF_MEM...: apply Diff memory files onto a base, in order. */
static int cmd_merge(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: kiln snapshot-merge BASE_MEM DIFF_MEM...\n", stderr);
		return KILN_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (snapshot_merge(argv[1], argv[i]) < 0)
			return KILN_EXIT_USAGE;
	return KILN_EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("kiln: no command given (usage: kiln run [options] | kiln --version | kiln "
		      "--help)\n",
		      stderr);
		return KILN_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("kiln %s\n", KILN_VERSION);
		return KILN_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return KILN_EXIT_OK;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "sandbox") == 0)
		return sandbox_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "restore") == 0)
		return snapshot_restore_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "snapshot-merge") == 0)
		return cmd_merge(argc - 1, argv + 1);
	if (strcmp(argv[1], "migrate") == 0)
		return migrate_main(argc - 1, argv + 1);
	/* With a config file the document drives (and may add the API); without, the API alone. */
	if (has_config_file(argc, argv))
		return cmd_top(argc, argv);
	if (strncmp(argv[1], "--api-sock", 10) == 0)
		return api_main(argc, argv);
	if (strcmp(argv[1], "--no-api") == 0 || strcmp(argv[1], "-v") == 0)
		return cmd_top(argc, argv);
	fprintf(stderr, "kiln: unknown command '%s' (see kiln --help)\n", argv[1]);
	return KILN_EXIT_USAGE;
}
