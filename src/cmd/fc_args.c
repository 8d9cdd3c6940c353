/* fc_args.c — Firecracker's process flags: one table of names, then the checks of each value. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/api.h"
#include "cmd/cmd.h"
#include "cmd/fc_args.h"
#include "seccomp/seccomp.h"
#include "core/vm.h"
#include "util/file.h"

/* Every flag, in Firecracker's spelling; F_* index the values parsed. */
enum {
	F_API_SOCK,
	F_ID,
	F_CONFIG_FILE,
	F_NO_API,
	F_METADATA,
	F_LOG_PATH,
	F_LEVEL,
	F_MODULE,
	F_SHOW_LEVEL,
	F_SHOW_LOG_ORIGIN,
	F_METRICS_PATH,
	F_BOOT_TIMER,
	F_NO_SECCOMP,
	F_SECCOMP_FILTER,
	F_MAX_PAYLOAD,
	F_MMDS_SIZE_LIMIT,
	F_START_TIME_US,
	F_START_TIME_CPU_US,
	F_PARENT_CPU_TIME_US,
	F_ENABLE_PCI,
	F_SNAPSHOT_VERSION,
	F_DESCRIBE_SNAPSHOT,
	F_COUNT
};

static const struct flag {
	const char *name;
	bool value;
} flags[F_COUNT] = {
    [F_API_SOCK] = {"--api-sock", true},
    [F_ID] = {"--id", true},
    [F_CONFIG_FILE] = {"--config-file", true},
    [F_NO_API] = {"--no-api", false},
    [F_METADATA] = {"--metadata", true},
    [F_LOG_PATH] = {"--log-path", true},
    [F_LEVEL] = {"--level", true},
    [F_MODULE] = {"--module", true},
    [F_SHOW_LEVEL] = {"--show-level", false},
    [F_SHOW_LOG_ORIGIN] = {"--show-log-origin", false},
    [F_METRICS_PATH] = {"--metrics-path", true},
    [F_BOOT_TIMER] = {"--boot-timer", false},
    [F_NO_SECCOMP] = {"--no-seccomp", false},
    [F_SECCOMP_FILTER] = {"--seccomp-filter", true},
    [F_MAX_PAYLOAD] = {"--http-api-max-payload-size", true},
    [F_MMDS_SIZE_LIMIT] = {"--mmds-size-limit", true},
    [F_START_TIME_US] = {"--start-time-us", true},
    [F_START_TIME_CPU_US] = {"--start-time-cpu-us", true},
    [F_PARENT_CPU_TIME_US] = {"--parent-cpu-time-us", true},
    [F_ENABLE_PCI] = {"--enable-pci", false},
    [F_SNAPSHOT_VERSION] = {"--snapshot-version", false},
    [F_DESCRIBE_SNAPSHOT] = {"--describe-snapshot", true},
};

/* What the scan found: each flag's value ("" for a bare flag), NULL when absent. */
struct scan {
	const char *val[F_COUNT];
	int verbosity;
};

static int fail(struct fc_args *a, const char *flag, char *err, size_t errlen, const char *msg)
{
	a->bad_flag = flag;
	snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

static int find_flag(const char *arg)
{
	for (int i = 0; i < F_COUNT; i++)
		if (strcmp(arg, flags[i].name) == 0)
			return i;
	return -1;
}

/* kiln's own verbosity flags; true if arg was one. */
static bool kiln_verbosity(const char *arg, struct scan *s)
{
	if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0)
		s->verbosity++;
	else if (strcmp(arg, "-vv") == 0)
		s->verbosity = 2;
	else
		return false;
	return true;
}

/* One argument at argv[*i] (and its value). */
static int scan_one(struct fc_args *a, struct scan *s, int argc, char **argv, int *i, char *err,
		    size_t errlen)
{
	const char *arg = argv[*i];
	char msg[512];
	int f;

	if (kiln_verbosity(arg, s))
		return 0;
	f = find_flag(arg);
	if (f < 0) {
		snprintf(msg, sizeof(msg), "%s '%s' (see %s --help)",
			 strncmp(arg, "-", 1) == 0 ? "unknown option" : "unexpected argument", arg,
			 a->firecracker ? "firecracker" : "kiln");
		return fail(a, arg, err, errlen, msg);
	}
	if (s->val[f]) {
		snprintf(msg, sizeof(msg), "option '%s' given more than once", arg);
		return fail(a, arg, err, errlen, msg);
	}
	s->val[f] = "";
	if (!flags[f].value)
		return 0;
	if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0) {
		snprintf(msg, sizeof(msg), "option '%s' needs a value", arg);
		return fail(a, arg, err, errlen, msg);
	}
	s->val[f] = argv[++*i];
	return 0;
}

static int scan_all(struct fc_args *a, struct scan *s, int argc, char **argv, char *err,
		    size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			a->help = true;
		else if (strcmp(arg, "--version") == 0)
			a->version = true;
	}
	if (a->help || a->version)
		return 0; /* as Firecracker: they win over everything else */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		int ret = scan_one(a, s, argc, argv, &i, err, errlen);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int fc_check_id(const char *id, char *err, size_t errlen)
{
	size_t n = strlen(id);

	if (n < 1 || n > API_ID_MAX) {
		snprintf(err, errlen, "length %zu, want 1 to %d characters", n, API_ID_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!(c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9'))) {
			snprintf(err, errlen,
				 "invalid character at position %zu (letters, digits and '-' only)",
				 i);
			return -EINVAL;
		}
	}
	return 0;
}

/* An unsigned decimal number (Firecracker's usize/u64 parse: digits only). */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s[0] || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int check_number(struct fc_args *a, const struct scan *s, int f, uint64_t max, uint64_t *out,
			char *err, size_t errlen)
{
	char msg[512];

	if (!s->val[f] || parse_u64(s->val[f], max, out) == 0)
		return 0;
	snprintf(msg, sizeof(msg), "%s: '%.64s' is not a whole number from 0 to %llu",
		 flags[f].name, s->val[f], (unsigned long long)max);
	return fail(a, flags[f].name, err, errlen, msg);
}

static int check_numbers(struct fc_args *a, const struct scan *s, char *err, size_t errlen)
{
	static const int times[] = {F_START_TIME_US, F_START_TIME_CPU_US, F_PARENT_CPU_TIME_US};
	uint64_t ignored;

	a->max_payload = API_MAX_BODY;
	if (check_number(a, s, F_MAX_PAYLOAD, FC_MAX_PAYLOAD_MAX, &a->max_payload, err, errlen) < 0)
		return -EINVAL;
	/* Firecracker's default is the payload limit, whose own default (51200) is MMDS's. */
	a->mmds_size_limit = s->val[F_MAX_PAYLOAD] ? a->max_payload : MMDS_DEFAULT_LIMIT;
	if (check_number(a, s, F_MMDS_SIZE_LIMIT, UINT64_MAX, &a->mmds_size_limit, err, errlen) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (check_number(a, s, times[i], UINT64_MAX, &ignored, err, errlen) < 0)
			return -EINVAL;
	return 0;
}

static bool level_ok(const char *l)
{
	static const char *const names[] = {"error", "warning", "warn", "info",
					    "debug", "trace",	"off"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(l, names[i]) == 0)
			return true;
	return false;
}

static int check_logger(struct fc_args *a, char *err, size_t errlen)
{
	char msg[512], why[160];

	if (a->id && fc_check_id(a->id, why, sizeof(why)) < 0) {
		snprintf(msg, sizeof(msg), "--id: '%.70s': %s", a->id, why);
		return fail(a, "--id", err, errlen, msg);
	}
	if (a->level && !level_ok(a->level)) {
		snprintf(msg, sizeof(msg),
			 "--level: '%.64s' is not one of Error, Warning, Info, Debug, Trace, Off",
			 a->level);
		return fail(a, "--level", err, errlen, msg);
	}
	if (a->module && a->module[0])
		return fail(a, "--module", err, errlen,
			    "--module: kiln does not filter log lines by module");
	return 0;
}

/* --seccomp-filter: not with --no-seccomp, and a readable kiln filter file for this machine
 * (read again when the VM starts). */
static int check_seccomp(struct fc_args *a, char *err, size_t errlen)
{
	struct seccomp_filters f;
	char msg[768];

	if (!a->seccomp_filter)
		return 0;
	if (a->no_seccomp)
		return fail(a, "--seccomp-filter", err, errlen,
			    "--seccomp-filter and --no-seccomp cannot be used together");
	if (seccomp_file_read(a->seccomp_filter, &f, msg, sizeof(msg)) < 0)
		return fail(a, "--seccomp-filter", err, errlen, msg);
	seccomp_filters_free(&f);
	return 0;
}

/* Flags kiln knows but cannot honour: refused rather than silently ignored. */
static int check_unsupported(struct fc_args *a, const struct scan *s, char *err, size_t errlen)
{
	static const struct {
		int flag;
		const char *why;
	} refused[] = {
	    {F_ENABLE_PCI, "--enable-pci: kiln has no PCI; its devices are virtio-mmio"},
	    {F_SNAPSHOT_VERSION, "--snapshot-version: kiln's snapshots have their own format "
				 "(docs/snapshot-format.md)"},
	    {F_DESCRIBE_SNAPSHOT, "--describe-snapshot: kiln's snapshots have their own format "
				  "(docs/snapshot-format.md)"},
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (s->val[refused[i].flag])
			return fail(a, flags[refused[i].flag].name, err, errlen, refused[i].why);
	return check_seccomp(a, err, errlen);
}

static void take_values(struct fc_args *a, const struct scan *s)
{
	a->api_sock = s->val[F_API_SOCK];
	a->id = s->val[F_ID];
	a->config_file = s->val[F_CONFIG_FILE];
	a->metadata = s->val[F_METADATA];
	a->seccomp_filter = s->val[F_SECCOMP_FILTER];
	a->log_path = s->val[F_LOG_PATH];
	a->level = s->val[F_LEVEL];
	a->module = s->val[F_MODULE];
	a->metrics_path = s->val[F_METRICS_PATH];
	a->no_api = s->val[F_NO_API] != NULL;
	a->no_seccomp = s->val[F_NO_SECCOMP] != NULL;
	a->show_level = s->val[F_SHOW_LEVEL] != NULL;
	a->show_log_origin = s->val[F_SHOW_LOG_ORIGIN] != NULL;
	a->boot_timer = s->val[F_BOOT_TIMER] != NULL;
	a->verbosity = s->verbosity;
}

/* The combinations: --no-api needs --config-file; kiln needs something to do. */
static int check_modes(struct fc_args *a, char *err, size_t errlen)
{
	const char *problem;
	char msg[128];

	if (a->no_api && !a->config_file)
		return fail(a, "--no-api", err, errlen, "--no-api needs --config-file FILE");
	if (a->no_api && a->api_sock)
		return fail(a, "--no-api", err, errlen,
			    "--no-api and --api-sock are mutually exclusive");
	if (!a->firecracker && !a->config_file && !a->api_sock)
		return fail(a, "--api-sock", err, errlen,
			    "give --config-file FILE or --api-sock PATH (see kiln --help)");
	problem = a->api_sock ? cmd_api_sock_problem(a->api_sock) : NULL;
	if (problem) {
		snprintf(msg, sizeof(msg), "--api-sock: %s", problem);
		return fail(a, "--api-sock", err, errlen, msg);
	}
	return 0;
}

int fc_args_parse(struct fc_args *a, int argc, char **argv, bool firecracker, char *err,
		  size_t errlen)
{
	struct scan s = {0};

	memset(a, 0, sizeof(*a));
	a->firecracker = firecracker;
	if (scan_all(a, &s, argc, argv, err, errlen) < 0)
		return -EINVAL;
	if (a->help || a->version)
		return 0;
	take_values(a, &s);
	if (check_numbers(a, &s, err, errlen) < 0 || check_logger(a, err, errlen) < 0 ||
	    check_unsupported(a, &s, err, errlen) < 0 || check_modes(a, err, errlen) < 0)
		return -EINVAL;
	return 0;
}

const char *fc_args_socket(const struct fc_args *a)
{
	if (a->api_sock)
		return a->api_sock;
	return a->firecracker && !a->no_api ? FC_DEFAULT_API_SOCK : NULL;
}

int fc_args_exit_status(const struct fc_args *a)
{
	if (!a->firecracker)
		return KILN_EXIT_USAGE;
	return a->bad_flag && strcmp(a->bad_flag, "--level") == 0 ? FC_EXIT_BAD_CONFIG
								  : FC_EXIT_ARG_PARSING;
}
