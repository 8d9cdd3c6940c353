/* fc_args.h — Firecracker's command line for the process (`kiln --api-sock ...`, or kiln installed
 * as `firecracker`): the flags parsed and checked with Firecracker's rules, nothing run. */
#ifndef KILN_CMD_FC_ARGS_H
#define KILN_CMD_FC_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_DEFAULT_API_SOCK "/run/firecracker.socket" /* Firecracker's, without --no-api */
#define FC_COMPAT_VERSION   "1.17.0"	 /* the Firecracker API kiln follows (tests/api/data) */
#define FC_EXIT_BAD_CONFIG  152		 /* Firecracker's exit status for a bad --level */
#define FC_EXIT_ARG_PARSING 153		 /* Firecracker's exit status for a bad command line */
#define FC_MAX_PAYLOAD_MAX  (1ULL << 30) /* the largest --http-api-max-payload-size kiln takes */

/* The command line, as given (strings point into argv). */
struct fc_args {
	bool firecracker; /* called as `firecracker`: Firecracker's defaults and exit statuses */
	bool help, version;
	const char *api_sock; /* NULL: none given (see fc_args_socket) */
	const char *id;	      /* NULL: the default, "anonymous-instance" */
	const char *config_file, *metadata, *seccomp_filter;
	const char *log_path, *level, *module, *metrics_path;
	bool no_api, no_seccomp, show_level, show_log_origin, boot_timer;
	uint64_t max_payload; /* --http-api-max-payload-size (default API_MAX_BODY) */
	uint64_t
	    mmds_size_limit;  /* --mmds-size-limit (default: max_payload if given, else 51200) */
	int verbosity;	      /* kiln's -v/-vv/--verbose */
	const char *bad_flag; /* on failure: the flag at fault, for the exit status */
};

/*
 * Parse argv (argv[0] the program) into a with Firecracker's rules: `--name value` pairs (a value
 * may not start with "--"), each flag at most once, `--help`/`--version` anywhere win, `--`
 * ends the options (the rest is ignored, as Firecracker does). kiln's -v, -vv and --verbose are
 * accepted too. Values are checked (id, level, numbers, flag combinations, kiln's unsupported
 * flags). Returns 0, or -EINVAL with one line naming the flag in err (a->bad_flag set).
 */
int fc_args_parse(struct fc_args *a, int argc, char **argv, bool firecracker, char *err,
		  size_t errlen);

/* The socket to serve the API on: --api-sock, else Firecracker's default without --no-api when
 * called as `firecracker`, else NULL (kiln: no API without --api-sock). */
const char *fc_args_socket(const struct fc_args *a);

/* Check an instance id as Firecracker does: 1 to 64 bytes of letters, digits and '-' (ASCII
 * only in kiln). Returns 0 or -EINVAL with the reason in err. */
int fc_check_id(const char *id, char *err, size_t errlen);

/* The exit status for a refused command line: Firecracker's (153, or 152 for --level) when
 * called as `firecracker`, else kiln's 2. */
int fc_args_exit_status(const struct fc_args *a);

#endif
