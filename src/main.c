/* main.c — argv -> config -> vm -> run, with the main thread's event loop; no logic of its own. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_vmm.h"
#include "api/ctl.h"
#include "config/config.h"
#include "core/vmm.h"
#include "state/restore_cli.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fputs(
	    "usage: kiln run [options] [--api-sock PATH [--id ID]]   boot a VM (kiln run --help)\n"
	    "       kiln restore SNAPSHOT --mem-file FILE [--paused] [--memory SIZE] [--cpus N]\n"
	    "                    [--api-sock PATH [--id ID]] [-v|-vv]   resume a snapshot\n"
	    "       kiln --api-sock PATH [--id ID] [-v]   serve the API, boot on InstanceStart\n"
	    "       kiln ctl --sock PATH COMMAND   talk to a kiln API socket\n"
	    "       kiln --version\n"
	    "       kiln --help\n",
	    out);
}

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
	struct vmm m;
	char err[256];
	int ret, status;

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
	if (vmm_init(&m) < 0) {
		vmm_destroy(&m);
		return KILN_EXIT_HOST;
	}
	m.cfg = cfg;
	ret = vmm_start_vm(&m);
	if (ret < 0)
		status = ret == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST;
	else
		status = sock ? api_run(&m, sock, id) : vmm_run(&m);
	vmm_destroy(&m);
	return status;
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
	if (strcmp(argv[1], "--api-sock") == 0)
		return api_main(argc, argv);
	if (strcmp(argv[1], "restore") == 0)
		return snapshot_restore_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1);
	fprintf(stderr, "kiln: unknown command '%s' (see kiln --help)\n", argv[1]);
	return KILN_EXIT_USAGE;
}
