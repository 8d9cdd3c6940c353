/* main.c — argv -> config -> vm -> run, with the main thread's event loop; no logic of its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/vmm.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fputs("usage: kiln run [options]   boot a VM (kiln run --help lists the options)\n"
	      "       kiln --version\n"
	      "       kiln --help\n",
	      out);
}

static int cmd_run(int argc, char **argv)
{
	struct vm_config cfg;
	struct vmm m;
	char err[256];
	int ret, status;

	/* Flags first: a bad one is reported as such even on a host without KVM. */
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
		status = vmm_run(&m);
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
	fprintf(stderr, "kiln: unknown command '%s' (see kiln --help)\n", argv[1]);
	return KILN_EXIT_USAGE;
}
