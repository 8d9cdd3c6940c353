/* api_server.c — the Firecracker-style process: `kiln --api-sock PATH`, `kiln --config-file FILE`
 * and kiln installed as `firecracker`, with Firecracker's flags (cmd/fc_args.h reads them). The
 * logger and metrics flags are applied as the API's PUT /logger and PUT /metrics would be. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_vmm.h"
#include "cmd/cmd.h"
#include "cmd/fc_args.h"
#include "seccomp/seccomp.h"
#include "config/config.h"
#include "config/config_json.h"
#include "core/vmm.h"
#include "util/log.h"

static void usage(FILE *out, bool firecracker)
{
	if (firecracker)
		fprintf(out, "Firecracker v%s (kiln %s)\n\n", FC_COMPAT_VERSION, KILN_VERSION);
	fprintf(
	    out,
	    "usage: %s [--api-sock PATH] [--id ID] [--config-file FILE [--no-api]] [options]\n"
	    "  Serve the Firecracker-compatible API on the Unix socket PATH (created 0600; "
	    "default\n"
	    "  %s when called as firecracker, none as kiln) and boot on InstanceStart,\n"
	    "  or boot the JSON document FILE at once. The process exits when the VM stops.\n"
	    "  --id ID                         instance id: 1-64 letters, digits, '-'\n"
	    "  --log-path PATH                 log to a file or FIFO (as PUT /logger)\n"
	    "  --level LEVEL                   Error, Warning, Info, Debug, Trace or Off\n"
	    "  --show-level, --show-log-origin prefix lines with the level / file:line\n"
	    "  --metrics-path PATH             metrics lines to a file or FIFO (as PUT /metrics)\n"
	    "  --http-api-max-payload-size N   request bodies above N bytes get 400 (default %d)\n"
	    "  --metadata FILE                 initial MMDS data store (a JSON document)\n"
	    "  --mmds-size-limit N             MMDS data store limit in bytes (default: the\n"
	    "                                  payload limit if given, else 51200)\n"
	    "  --boot-timer                    log the guest's boot time when it writes 123 at "
	    "0xc0000000\n"
	    "  --no-seccomp                    run without kiln's per-thread seccomp filters\n"
	    "  --seccomp-filter FILE           the filters compiled into FILE instead (kiln\n"
	    "                                  seccomp compile; docs/seccomp.md)\n"
	    "  --start-time-us N, --start-time-cpu-us N, --parent-cpu-time-us N   accepted\n"
	    "  -v, -vv                         kiln's log verbosity (info, debug)\n"
	    "  --version, --help\n"
	    "  Refused: --module, --enable-pci,\n"
	    "  --snapshot-version, --describe-snapshot. See docs/api.md.\n",
	    firecracker ? "firecracker" : "kiln", FC_DEFAULT_API_SOCK, API_MAX_BODY);
}

static void print_version(bool firecracker)
{
	/* Tools read `firecracker --version`'s first line, "Firecracker vX.Y.Z". */
	if (firecracker)
		printf("Firecracker v%s\n\nkiln %s (Firecracker-compatible)\n", FC_COMPAT_VERSION,
		       KILN_VERSION);
	else
		printf("kiln %s\n", KILN_VERSION);
}

/* The PUT /logger body the flags describe, or NULL when no logger flag was given. */
static json_t *logger_body(const struct fc_args *a)
{
	json_t *b;

	if (!a->log_path && !a->level && !a->show_level && !a->show_log_origin)
		return NULL;
	b = json_pack("{s:b,s:b}", "show_level", a->show_level, "show_log_origin",
		      a->show_log_origin);
	if (b && a->log_path)
		json_object_set_new(b, "log_path", json_string(a->log_path));
	/* Firecracker also takes "warn"; the API's names are the long ones. */
	if (b && a->level)
		json_object_set_new(
		    b, "level", json_string(strcasecmp(a->level, "warn") ? a->level : "Warning"));
	return b;
}

/* Apply the logger and metrics flags through the API; 0 or -EINVAL (one line printed). */
static int apply_flags(struct api_proc *p, const struct fc_args *a)
{
	json_t *body = logger_body(a);
	char err[768];
	int ret = 0;

	if (body)
		ret = api_proc_apply(p, "PUT", "/logger", body, err, sizeof(err));
	json_decref(body);
	if (ret < 0) {
		fprintf(stderr, "kiln: --log-path: %s\n", err);
		return ret;
	}
	if (!a->metrics_path)
		return 0;
	body = json_pack("{s:s}", "metrics_path", a->metrics_path);
	ret = body ? api_proc_apply(p, "PUT", "/metrics", body, err, sizeof(err)) : -ENOMEM;
	json_decref(body);
	if (ret < 0)
		fprintf(stderr, "kiln: --metrics-path: %s\n",
			ret == -ENOMEM ? "out of memory" : err);
	return ret;
}

/* Read --config-file into a new configuration: NULL with one line printed on error. */
static struct vm_config *load_config(const char *path)
{
	struct vm_config *cfg = malloc(sizeof(*cfg));
	char err[768];

	if (!cfg) {
		fputs("kiln: out of memory\n", stderr);
		return NULL;
	}
	config_defaults(cfg);
	if (config_json_load_file(cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		free(cfg);
		return NULL;
	}
	return cfg;
}

/* The document's logger and metrics objects (Firecracker's config file has them), applied as
 * PUT /logger and PUT /metrics after the flags. 0 or -EINVAL (one line printed). */
static int apply_document(struct api_proc *p, const char *path)
{
	static const char *const keys[][2] = {{"logger", "/logger"}, {"metrics", "/metrics"}};
	char err[768];
	json_t *doc = path ? config_json_read_file(path, err, sizeof(err)) : NULL;
	int ret = 0;

	for (size_t i = 0; doc && ret == 0 && i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *o = json_object_get(doc, keys[i][0]);

		if (json_is_object(o))
			ret = api_proc_apply(p, "PUT", keys[i][1], o, err, sizeof(err));
		if (ret < 0)
			fprintf(stderr, "kiln: %s: %s\n", path, err);
	}
	json_decref(doc);
	return ret;
}

/* --mmds-size-limit and --metadata: the data store's limit and first content. 0 or -errno (one
 * line printed). */
static int apply_mmds(struct vmm *m, const struct fc_args *a)
{
	char err[768];
	int ret;

	m->mmds.limit = (size_t)a->mmds_size_limit;
	if (!a->metadata)
		return 0;
	ret = mmds_load_file(&m->mmds, a->metadata, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "kiln: --metadata: %s\n", err);
	return ret;
}

/* The process once the command line is good: flags applied, the VM booted if cfg, served. */
static int run_process(const struct fc_args *a, const struct vm_config *cfg)
{
	struct api_proc p;
	struct vmm m;
	int status;

	if (vmm_init(&m) < 0) {
		vmm_destroy(&m);
		return KILN_EXIT_HOST;
	}
	if (cfg)
		m.cfg = *cfg;
	m.cfg.verbosity = a->verbosity;
	m.cfg.boot_timer = a->boot_timer;
	m.sync_teardown = true; /* Firecracker's: exited means the VM is gone */
	api_proc_init(&p, &m, a->id);
	p.api.max_body = (size_t)a->max_payload;
	if (apply_flags(&p, a) < 0)
		status = fc_args_exit_status(a);
	else if (apply_mmds(&m, a) < 0)
		status = KILN_EXIT_USAGE;
	else if (apply_document(&p, a->config_file) < 0)
		status = KILN_EXIT_USAGE;
	else if (fc_args_socket(a) && api_proc_listen(&p, fc_args_socket(a)) < 0)
		status = KILN_EXIT_HOST; /* before the VM starts: no guest code has run */
	else if (cfg && (status = vmm_start_vm(&m, NULL)) < 0)
		status = status == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST;
	else
		status = api_proc_run(&p, fc_args_socket(a));
	api_proc_destroy(&p);
	vmm_destroy(&m);
	return status;
}

int cmd_firecracker(int argc, char **argv, bool firecracker)
{
	struct vm_config *cfg = NULL;
	struct fc_args a;
	char err[768];
	int status;

	if (fc_args_parse(&a, argc, argv, firecracker, err, sizeof(err)) < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		return fc_args_exit_status(&a);
	}
	if (a.help || a.version) {
		if (a.help)
			usage(stdout, firecracker);
		else
			print_version(firecracker);
		return KILN_EXIT_OK;
	}
	cmd_set_verbosity(a.verbosity);
	seccomp_configure(a.no_seccomp	     ? SECCOMP_OFF
			  : a.seccomp_filter ? SECCOMP_FILE
					     : SECCOMP_BUILTIN,
			  a.seccomp_filter, KILN_EXIT_HOST);
	if (a.config_file) {
		cfg = load_config(a.config_file);
		if (!cfg)
			return KILN_EXIT_USAGE;
	}
	status = run_process(&a, cfg);
	free(cfg);
	return status;
}
