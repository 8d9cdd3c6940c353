/* run.c — `kiln run`: its options become a configuration, the VM boots and runs (with the API
 * too when --api-sock is given). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_vmm.h"
#include "cmd/cmd.h"
#include "cmd/fc_args.h"
#include "config/config.h"
#include "core/vmm.h"
#include "util/err.h"
#include "util/log.h"
#include "util/unix_sock.h"

void cmd_set_verbosity(int verbosity)
{
	log_set_level(verbosity >= 2 ? LOG_DEBUG : verbosity ? LOG_INFO : LOG_WARN);
}

const char *cmd_api_sock_problem(const char *path)
{
	int ret = unix_sock_path_check(path);

	if (ret == -EINVAL)
		return "the path is empty";
	return ret < 0 ? unix_sock_strerror(ret) : NULL;
}

int cmd_check_api_sock(const char *path)
{
	const char *problem = cmd_api_sock_problem(path);

	if (!problem)
		return 0;
	fprintf(stderr, "kiln: --api-sock: %s\n", problem);
	return -EINVAL;
}

int cmd_check_id(const char *id)
{
	char why[128];

	if (fc_check_id(id, why, sizeof(why)) == 0)
		return 0;
	fprintf(stderr, "kiln: --id: '%.70s': %s\n", id, why);
	return -EINVAL;
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
		if ((is_sock && cmd_check_api_sock(argv[i + 1]) < 0) ||
		    (is_id && cmd_check_id(argv[i + 1]) < 0))
			return -EINVAL;
		if (is_sock || is_id) {
			*(is_sock ? sock : id) = argv[++i];
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	return 0;
}

/* Open m (from vmm_new, its cfg filled by the caller), bind the API's socket at api_sock (NULL:
 * none; id names the instance, NULL: the default) before the VM starts, start the VM, run and
 * serve until it ends, and destroy m (the caller frees it). Returns the exit status. */
static int cmd_run_vm(struct vmm *m, const char *api_sock, const char *id)
{
	struct kiln_err err = {0}; /* the devices' reasons (vm->err): one line, not two */
	struct api_proc p;
	int ret, status;

	if (vmm_open(m) < 0) {
		vmm_destroy(m);
		return KILN_EXIT_HOST;
	}
	if (api_sock && api_proc_open(&p, m, api_sock, id) != 0) {
		vmm_destroy(m);
		return KILN_EXIT_HOST;
	}
	ret = vmm_start_vm(m, &err);
	if (ret < 0)
		status = err_from_input(ret) ? KILN_EXIT_USAGE : KILN_EXIT_HOST;
	else if (api_sock) /* the VM (if any) runs; the API serves it until it stops */
		status = api_proc_run(&p, NULL);
	else
		status = vmm_run(m);
	if (api_sock)
		api_proc_destroy(&p);
	vmm_destroy(m);
	return status;
}

int cmd_run(int argc, char **argv)
{
	const char *sock = NULL, *id = NULL;
	struct vmm *m;
	char err[256];
	int ret;

	/* Flags first: a bad one is reported as such even on a host without KVM. */
	if (take_api_args(&argc, argv, &sock, &id) < 0 ||
	    cmd_take_seccomp_args(&argc, argv, KILN_EXIT_HOST) < 0)
		return KILN_EXIT_USAGE;
	/* Parsed straight into the VMM's own configuration, on the heap (vmm_new: the pages of
	 * the large structure that no option touches are never faulted in). */
	m = vmm_new();
	if (!m) {
		fprintf(stderr, "kiln: out of memory\n");
		return KILN_EXIT_HOST;
	}
	ret = config_parse_run(&m->cfg, argc, argv, err, sizeof(err));
	if (ret != 0) {
		if (ret < 0)
			fprintf(stderr, "kiln: %s\n", err);
		vmm_destroy(m);
		free(m);
		return ret < 0 ? KILN_EXIT_USAGE : KILN_EXIT_OK;
	}
	cmd_set_verbosity(m->cfg.verbosity);
	ret = cmd_run_vm(m, sock, id);
	free(m);
	return ret;
}
