/* restore.c — `kiln restore`: parse its arguments, restore the snapshot (core/vmm.h), run the
 * VM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_vmm.h"
#include "core/vmm.h"
#include "cmd/cmd.h"
#include "util/log.h"

struct restore_args {
	struct vmm_restore r;
	const char *sock, *id;
	const char *memory, *cpus; /* expectations, or NULL */
	int verbosity;
};

static int bad(const char *what)
{
	fprintf(stderr,
		"kiln: restore: %s (usage: kiln restore SNAPSHOT --mem-file FILE [--paused] "
		"[--memory SIZE] [--cpus N] [--api-sock PATH [--id ID]] [-v])\n",
		what);
	return -EINVAL;
}

static int parse(int argc, char **argv, struct restore_args *a)
{
	a->r.resume = true;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **slot = strcmp(s, "--mem-file") == 0   ? &a->r.mem_path
				    : strcmp(s, "--api-sock") == 0 ? &a->sock
				    : strcmp(s, "--id") == 0	   ? &a->id
				    : strcmp(s, "--memory") == 0   ? &a->memory
				    : strcmp(s, "--cpus") == 0	   ? &a->cpus
								   : NULL;

		if (slot && !v)
			return bad("an option needs a value");
		if ((slot == &a->sock && cmd_check_api_sock(v) < 0) ||
		    (slot == &a->id && cmd_check_id(v) < 0))
			return -EINVAL;
		if (slot) {
			*slot = v;
			i++;
		} else if (strcmp(s, "--paused") == 0) {
			a->r.resume = false;
		} else if (strcmp(s, "-v") == 0 || strcmp(s, "-vv") == 0) {
			a->verbosity = s[2] ? 2 : a->verbosity + 1;
		} else if (s[0] != '-' && !a->r.snapshot_path) {
			a->r.snapshot_path = s;
		} else {
			return bad("unknown argument");
		}
	}
	if (!a->r.snapshot_path || !a->r.mem_path)
		return bad("a snapshot and --mem-file are required");
	return 0;
}

/* --memory/--cpus: what the snapshot must have. */
static int expectations(const struct restore_args *a, struct vmm_restore *r)
{
	uint64_t n;

	if (a->memory && config_parse_size(a->memory, &r->expect_mem_bytes) < 0)
		return bad("--memory is not a size");
	if (a->cpus && (config_parse_u64(a->cpus, &n) < 0 || n == 0 || n > CONFIG_MAX_VCPUS))
		return bad("--cpus is not a vCPU count");
	if (a->cpus)
		r->expect_vcpus = (unsigned)n;
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	struct restore_args a = {0};
	struct api_proc p;
	struct vmm m;
	int ret;

	if (cmd_take_seccomp_args(&argc, argv, KILN_EXIT_HOST) < 0 || parse(argc, argv, &a) < 0 ||
	    expectations(&a, &a.r) < 0)
		return KILN_EXIT_USAGE;
	cmd_set_verbosity(a.verbosity);
	if (vmm_init(&m) < 0) {
		vmm_destroy(&m);
		return KILN_EXIT_HOST;
	}
	m.cfg.verbosity = a.verbosity;
	/* The socket first: a path that cannot be served is refused before the restore. */
	if (a.sock && api_proc_open(&p, &m, a.sock, a.id) != 0) {
		vmm_destroy(&m);
		return KILN_EXIT_HOST;
	}
	ret = vmm_restore_vm(&m, &a.r, NULL); /* the reason is logged */
	if (ret < 0)
		ret = ret == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST;
	else
		ret = a.sock ? api_proc_run(&p, NULL) : vmm_run(&m);
	if (a.sock)
		api_proc_destroy(&p);
	vmm_destroy(&m);
	return ret;
}
