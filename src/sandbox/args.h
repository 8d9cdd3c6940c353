/* args.h — the command line of `kiln sandbox` (pure: no I/O but the usage text). */
#ifndef KILN_SANDBOX_ARGS_H
#define KILN_SANDBOX_ARGS_H

#include <stddef.h>
#include <stdio.h>

#include "config/config.h"
#include "util/compiler.h"

/* What the kernel command line always starts with; --cmdline EXTRA follows it. */
#define SANDBOX_BASE_CMDLINE "console=ttyS0 quiet panic=-1 rdinit=/init"
#define SANDBOX_TIMEOUT_MAX  31536000.0 /* seconds (a year) */
/* --timeout S limits CMD's run time from its start in the guest; the boot before that may take
 * the longer of S and this many seconds. */
#define SANDBOX_BOOT_MIN_S 60

struct sandbox_args {
	struct vm_config vm; /* kernel, vCPUs, memory, disks, the full command line, verbosity */
	double timeout_s;    /* 0: none */
	const char *timeout_text; /* as given (messages) */
	char **cmd;		  /* CMD and its arguments (pointers into argv), NULL-terminated */
};

/*
 * Parse `kiln sandbox [options] [--] CMD [ARGS...]` (argv[0] is "sandbox"). Options stop at the
 * first non-option or at "--". --kernel, --cpus, --topology, --memory, --disk, -v are checked
 * and worded as `kiln run` does (config_parse_run); --disk may not be a root disk. Returns 0, 1
 * if --help was given (usage printed to stdout), or -EINVAL with a one-line message in err.
 * a->vm starts from config_defaults; the caller fills in the devices and initrd.
 */
int sandbox_args_parse(struct sandbox_args *a, int argc, char **argv, char *err,
		       size_t errlen) MUST_CHECK;

/* Print the usage text (flags and exit statuses). */
void sandbox_usage(FILE *out);

#endif
