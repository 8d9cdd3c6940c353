/* test_api.c — api_dispatch against a fake process: every route, the state rules, bad bodies,
 * unknown paths and methods, logger and metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "config/config_json.h"
#include "util/log.h"

/* The fake process behind the API. */
struct fake {
	enum api_vm_state state;
	unsigned starts, pauses, resumes, cads, snaps, loads;
	int start_ret, cad_ret, load_ret;
	char snap_path[64], mem_path[64];
	int diffs; /* Diff snapshots asked for */
	bool resume, check_config;
	uint32_t balloon_pages;	   /* the target PATCH /balloon set */
	uint16_t balloon_interval; /* the statistics period */
};

static enum api_vm_state f_state(void *ctx)
{
	return ((struct fake *)ctx)->state;
}

static int f_start(void *ctx, struct kiln_err *err)
{
	struct fake *f = ctx;

	f->starts++;
	if (f->start_ret == -EIO)
		return f->start_ret; /* no reason recorded: the errno's text */
	if (f->start_ret < 0)
		return err_set(err, f->start_ret, "kernel /nonexistent: No such file or directory");
	f->state = API_RUNNING;
	return 0;
}

static int f_pause(void *ctx, struct kiln_err *err)
{
	struct fake *f = ctx;

	f->pauses++;
	f->state = API_PAUSED;
	return 0;
}

static int f_resume(void *ctx, struct kiln_err *err)
{
	struct fake *f = ctx;

	f->resumes++;
	f->state = API_RUNNING;
	return 0;
}

static int f_cad(void *ctx, struct kiln_err *err)
{
	struct fake *f = ctx;

	f->cads++;
	return f->cad_ret;
}

static int f_snap(void *ctx, const char *snap, const char *mem, bool diff, struct kiln_err *err)
{
	struct fake *f = ctx;

	f->diffs += diff;
	f->snaps++;
	snprintf(f->snap_path, sizeof(f->snap_path), "%s", snap);
	snprintf(f->mem_path, sizeof(f->mem_path), "%s", mem);
	return 0;
}

static int f_load(void *ctx, const struct api_snapshot_load *l, struct kiln_err *err)
{
	struct fake *f = ctx;

	f->loads++;
	if (f->load_ret < 0) {
		log_err("a message logged first is not the operation's reason");
		return err_set(err, f->load_ret,
			       "snapshot: s: checksum mismatch (the file is corrupt)");
	}
	snprintf(f->snap_path, sizeof(f->snap_path), "%s", l->snapshot_path);
	snprintf(f->mem_path, sizeof(f->mem_path), "%s", l->mem_path);
	f->resume = l->resume;
	f->check_config = l->check_config;
	f->state = l->resume ? API_RUNNING : API_PAUSED;
	return 0;
}

static int f_balloon_update(void *ctx, uint32_t mib, struct kiln_err *err)
{
	((struct fake *)ctx)->balloon_pages = mib * 256;
	return 0;
}

static int f_balloon_interval(void *ctx, uint16_t s, struct kiln_err *err)
{
	struct fake *f = ctx;

	if (s != f->balloon_interval && (!s || !f->balloon_interval))
		return err_set(err, -EINVAL,
			       "Statistics cannot be enabled/disabled after activation.");
	f->balloon_interval = s;
	return 0;
}

static int f_balloon_status(void *ctx, struct api_balloon *out, struct kiln_err *err)
{
	struct fake *f = ctx;

	*out = (struct api_balloon){.target_pages = f->balloon_pages,
				    .actual_pages = 512,
				    .stats_interval_s = f->balloon_interval,
				    .stats_present = 1u << 4};
	out->stats[4] = 123456789; /* free_memory */
	return 0;
}

static json_t *f_metrics(void *ctx)
{
	return json_pack("{s:[{s:i}]}", "vcpu", "exits_io", 7);
}

static const struct api_ops fake_ops = {
    .state = f_state,
    .start = f_start,
    .pause = f_pause,
    .resume = f_resume,
    .ctrl_alt_del = f_cad,
    .snapshot_create = f_snap,
    .snapshot_load = f_load,
    .metrics = f_metrics,
    .balloon_update = f_balloon_update,
    .balloon_stats_interval = f_balloon_interval,
    .balloon_status = f_balloon_status,
};

struct fx {
	struct fake f;
	struct vm_config cfg;
	struct api a;
	struct api_response r;
	json_t *body; /* the last response body, parsed */
	char dir[64]; /* a temporary directory */
	char kernel[128];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f.state = API_NOT_STARTED;
	config_defaults(&x->cfg);
	strcpy(x->cfg.kernel_path, "/k"); /* the fake process starts without opening it */
	api_init(&x->a, &x->cfg, &fake_ops, &x->f);
	strcpy(x->dir, "/tmp/kiln-test-api-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	log_set_level(LOG_OFF); /* the fake's errors are expected */
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char cmd[128];

	api_response_free(&x->r);
	json_decref(x->body);
	api_destroy(&x->a);
	log_set_output(-1, 0, 0);
	log_set_level(LOG_WARN);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

/* Send a request; checks the response's shape (204: no body; else a JSON object; errors have
 * a string fault_message) and returns the status. */
static int req(struct fx *x, const char *method, const char *path, const char *body)
{
	api_response_free(&x->r);
	json_decref(x->body);
	x->body = NULL;
	api_dispatch(&x->a, method, path, body, body ? strlen(body) : 0, &x->r);
	if (x->r.status == 204) {
		assert_null(x->r.body);
	} else {
		assert_non_null(x->r.body);
		assert_int_equal(strlen(x->r.body), x->r.len);
		x->body = json_loads(x->r.body, 0, NULL);
		assert_true(json_is_object(x->body));
		if (x->r.status >= 400)
			assert_true(json_is_string(json_object_get(x->body, "fault_message")));
	}
	return x->r.status;
}

static const char *fault(struct fx *x)
{
	return json_string_value(json_object_get(x->body, "fault_message"));
}

/* Status 400 and a fault_message containing `part`. */
static void expect_400(struct fx *x, const char *method, const char *path, const char *body,
		       const char *part)
{
	if (req(x, method, path, body) != 400)
		fail_msg("%s %s %s: status %d", method, path, body ? body : "", x->r.status);
	if (!strstr(fault(x), part))
		fail_msg("%s %s: '%s' lacks '%s'", method, path, fault(x), part);
}

static void test_root_and_version(void **state)
{
	struct fx *x = *state;

	assert_int_equal(req(x, "GET", "/", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(x->body, "state")), "Not started");
	assert_string_equal(json_string_value(json_object_get(x->body, "app_name")), "kiln");
	assert_string_equal(json_string_value(json_object_get(x->body, "vmm_version")),
			    KILN_VERSION);
	assert_non_null(json_string_value(json_object_get(x->body, "id")));
	x->f.state = API_RUNNING;
	assert_int_equal(req(x, "GET", "/", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(x->body, "state")), "Running");
	x->f.state = API_PAUSED;
	assert_int_equal(req(x, "GET", "/", "ignored body"), 200);
	assert_string_equal(json_string_value(json_object_get(x->body, "state")), "Paused");
	assert_int_equal(req(x, "GET", "/version", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(x->body, "firecracker_version")),
			    KILN_VERSION);
}

static void test_unknown_paths_and_methods(void **state)
{
	struct fx *x = *state;

	expect_400(x, "GET", "/nope", NULL, "Invalid request method and/or path: GET /nope");
	expect_400(x, "GET", "", NULL, "Invalid request");
	expect_400(x, "GET", "/version/", NULL, "Invalid request");
	expect_400(x, "GET", "/drives/", NULL, "Invalid request");
	expect_400(x, "PUT", "/drives/a/b", "{}", "Invalid request");
	expect_400(x, "POST", "/actions", "{}", "(allowed: PUT)");
	expect_400(x, "DELETE", "/machine-config", NULL, "(allowed: GET, PUT, PATCH)");
	expect_400(x, "PUT", "/", "{}", "(allowed: GET)");
	expect_400(x, "GET", "/actions", NULL, "PUT");
	expect_400(x, "GET", "/drives/rootfs", NULL, "(allowed: PUT, PATCH)");
	expect_400(x, "PATCH", "/vm/config", "{}", "(allowed: GET)");
	expect_400(x, "BREW", "/\xff\x01", NULL, "BREW /??");
}

static void test_unimplemented(void **state)
{
	static const char *const paths[] = {
	    "/cpu-config",
	    "/pmem/p0",
	    "/hotplug/memory",
	};
	struct fx *x = *state;
	char want[64];

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		size_t n = strcspn(paths[i] + 1, "/") + 1;

		snprintf(want, sizeof(want), "kiln does not implement %.*s yet", (int)n, paths[i]);
		expect_400(x, "PUT", paths[i], "{}", want);
		expect_400(x, "GET", paths[i], NULL, want);
	}
	expect_400(x, "GET", "/balloonx", NULL, "Invalid request"); /* prefix, not a resource */
	expect_400(x, "PATCH", "/balloon/hinting/start", "{}",
		   "kiln does not implement /balloon/hinting yet");
	expect_400(x, "GET", "/balloon/hinting/status", NULL,
		   "kiln does not implement /balloon/hinting yet");
}

/* /mmds: the store's routes, Firecracker's "not initialized" after boot when nothing asked for a
 * store before, 413 over the limit, and PUT /mmds/config's checks and deprecation header. */
static void test_mmds(void **state)
{
	struct fx *x = *state;
	struct mmds m;

	expect_400(x, "GET", "/mmds", NULL, "MMDS: not supported");
	mmds_init(&m, 40);
	x->a.mmds = &m;
	x->f.state = API_RUNNING;
	expect_400(x, "GET", "/mmds", NULL, "The MMDS data store is not initialized");
	expect_400(x, "PUT", "/mmds", "{}", "The MMDS data store is not initialized");
	x->f.state = API_NOT_STARTED;
	assert_int_equal(req(x, "GET", "/mmds", NULL), 200);
	assert_int_equal(json_object_size(x->body), 0);
	expect_400(x, "PATCH", "/mmds", "{\"a\":1}", "The MMDS data store is not initialized");
	x->f.state = API_RUNNING; /* created before boot: usable after it */
	expect_400(x, "PUT", "/mmds", "{\"a\":", "invalid JSON");
	assert_int_equal(req(x, "PUT", "/mmds", "{\"a\":{\"b\":\"c\"}}"), 204);
	assert_int_equal(req(x, "PATCH", "/mmds", "{\"a\":{\"d\":1}}"), 204);
	assert_int_equal(req(x, "GET", "/mmds", NULL), 200);
	assert_string_equal(x->r.body, "{\"a\":{\"b\":\"c\",\"d\":1}}");
	assert_int_equal(
	    req(x, "PUT", "/mmds", "{\"a\":\"0123456789012345678901234567890123456\"}"), 413);
	assert_non_null(strstr(fault(x), "doesn't fit"));
	assert_int_equal(req(x, "PATCH", "/mmds", "{\"e\":\"0123456789012345678901234567\"}"), 413);
	assert_int_equal(req(x, "GET", "/mmds", NULL), 200);
	assert_string_equal(x->r.body, "{\"a\":{\"b\":\"c\",\"d\":1}}"); /* unchanged */
	expect_400(x, "PUT", "/mmds/config", "{\"network_interfaces\":[\"eth0\"]}",
		   "not supported after starting");
	x->f.state = API_NOT_STARTED;
	expect_400(x, "PUT", "/mmds/config", "{\"network_interfaces\":[]}", "is empty");
	assert_true(x->r.deprecated); /* V1 by default: Firecracker marks it deprecated */
	expect_400(x, "PUT", "/mmds/config",
		   "{\"version\":\"V2\",\"network_interfaces\":[\"eth0\"]}",
		   "does not correspond to any existing network interface");
	assert_false(x->r.deprecated);
	expect_400(x, "PUT", "/mmds/config",
		   "{\"network_interfaces\":[\"eth0\"],\"ipv4_address\":\"169.254.0.9\"}",
		   "not link local");
	expect_400(x, "PUT", "/mmds/config",
		   "{\"network_interfaces\":[\"eth0\"],\"ipv4_address\":\"169.254.1\"}",
		   "is not an IPv4 address");
	expect_400(x, "PUT", "/mmds/config", "{\"network_interfaces\":[1]}", "expected a string");
	expect_400(x, "PUT", "/mmds/config", "{\"version\":\"V3\",\"network_interfaces\":[]}",
		   "\"V3\" is not one of \"V1\", \"V2\"");
	expect_400(x, "PUT", "/mmds/config", "{\"network_interfaces\":[\"a\"],\"x\":1}",
		   "unknown field");
	x->a.mmds = NULL;
	mmds_destroy(&m);
}

static void test_snapshot_create(void **state)
{
	struct fx *x = *state;
	const char *ok = "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}";

	expect_400(x, "PUT", "/snapshot/create", ok, "not supported before starting");
	x->f.state = API_RUNNING;
	expect_400(x, "PUT", "/snapshot/create", ok, "not allowed while the microVM is Running");
	x->f.state = API_PAUSED;
	expect_400(x, "PUT", "/snapshot/create", "{\"snapshot_path\":\"s\"}", "required");
	expect_400(
	    x, "PUT", "/snapshot/create",
	    "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"snapshot_type\":\"x\"}",
	    "snapshot/create: field 'snapshot_type': \"x\" is not one of \"Full\", \"Diff\"");
	expect_400(x, "PUT", "/snapshot/create", "{\"snapshot_path\":1,\"mem_file_path\":\"m\"}",
		   "snapshot/create: field 'snapshot_path': expected a string, got an integer");
	assert_int_equal(x->f.snaps, 0);
	assert_int_equal(req(x, "PUT", "/snapshot/create", ok), 204);
	assert_int_equal(req(x, "PUT", "/snapshot/create",
			     "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"snapshot_type\":"
			     "\"Full\"}"),
			 204);
	assert_int_equal(req(x, "PUT", "/snapshot/create",
			     "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"snapshot_type\":"
			     "\"Diff\"}"),
			 204);
	assert_int_equal(x->f.snaps, 3);
	assert_int_equal(x->f.diffs, 1);
	assert_string_equal(x->f.snap_path, "s");
	assert_string_equal(x->f.mem_path, "m");
}

static void test_snapshot_load(void **state)
{
	struct fx *x = *state;
	const char *be = "{\"snapshot_path\":\"s\",\"mem_backend\":{\"backend_type\":\"File\","
			 "\"backend_path\":\"m\"},\"resume_vm\":true}";

	expect_400(x, "PUT", "/snapshot/load", "{\"snapshot_path\":\"s\"}", "exactly one of");
	expect_400(x, "PUT", "/snapshot/load",
		   "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"mem_backend\":{}}",
		   "exactly one of");
	expect_400(x, "PUT", "/snapshot/load",
		   "{\"snapshot_path\":\"s\",\"mem_backend\":{\"backend_type\":\"Uffd\","
		   "\"backend_path\":\"u\"}}",
		   "snapshot/load.mem_backend: field 'backend_type': \"Uffd\" is not supported "
		   "(File only)");
	expect_400(x, "PUT", "/snapshot/load", "{\"mem_file_path\":\"m\"}", "required");
	assert_int_equal(x->f.loads, 0);
	/* A refused snapshot: 400 with the loader's one line; the process keeps serving. */
	x->f.load_ret = -EINVAL;
	expect_400(x, "PUT", "/snapshot/load", be, "checksum mismatch");
	assert_int_equal(req(x, "GET", "/", NULL), 200);
	x->f.load_ret = 0;
	assert_int_equal(req(x, "PUT", "/snapshot/load", be), 204);
	assert_true(x->f.resume);
	assert_false(x->f.check_config);
	assert_string_equal(x->f.mem_path, "m");
	expect_400(x, "PUT", "/snapshot/load", be, "not supported after starting");
	/* mem_file_path (deprecated) works too; resume_vm defaults to false. */
	x->f.state = API_NOT_STARTED;
	assert_int_equal(
	    req(x, "PUT", "/snapshot/load", "{\"snapshot_path\":\"t\",\"mem_file_path\":\"n\"}"),
	    204);
	assert_false(x->f.resume);
	assert_int_equal(x->f.state, API_PAUSED);
}

static void test_bad_bodies(void **state)
{
	struct fx *x = *state;
	char *big = malloc(API_MAX_BODY + 2);

	expect_400(x, "PUT", "/actions", NULL, "a JSON body is required");
	expect_400(x, "PUT", "/actions", "{\"action_type\":", "invalid JSON at line 1");
	expect_400(x, "PUT", "/actions", "[1,2]", "must be a JSON object");
	expect_400(x, "PUT", "/actions", "\"InstanceStart\"", "must be a JSON object");
	expect_400(x, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"} x", "invalid JSON");
	expect_400(x, "PUT", "/actions",
		   "{\"action_type\":\"FlushMetrics\",\"action_type\":\"FlushMetrics\"}",
		   "duplicate");
	expect_400(x, "PUT", "/actions", "{\"action_type\":5}",
		   "actions: field 'action_type': expected a string, got an integer");
	expect_400(x, "PUT", "/actions", "{\"action\":\"InstanceStart\"}",
		   "unknown field 'action'");
	expect_400(x, "PUT", "/actions", "{}",
		   "actions: field 'action_type' is missing (required)");
	expect_400(x, "PUT", "/actions", "{\"action_type\":null}",
		   "actions: field 'action_type' is missing (required)");
	expect_400(x, "PUT", "/actions", "{\"action_type\":\"Reboot\"}",
		   "actions: field 'action_type': \"Reboot\" is not one of \"InstanceStart\"");
	/* Embedded NUL and invalid UTF-8 */
	api_response_free(&x->r);
	assert_int_equal(api_dispatch(&x->a, "PUT", "/actions", "{\"a\0\":1}", 8, &x->r), 400);
	expect_400(x, "PUT", "/actions", "{\"action_type\":\"\xff\"}", "invalid JSON");
	/* Oversized */
	assert_non_null(big);
	memset(big, ' ', API_MAX_BODY + 1);
	big[0] = '{';
	big[API_MAX_BODY] = '}';
	big[API_MAX_BODY + 1] = 0;
	expect_400(x, "PUT", "/actions", big, "exceeds 65536 bytes");
	free(big);
	assert_int_equal(x->f.starts, 0);
	api_response_free(&x->r);
	assert_int_equal(api_reply_error(&x->a, &x->r, 400, "too big"), 400);
	assert_string_equal(x->r.body, "{\"fault_message\":\"too big\"}");
}

static void test_actions_states(void **state)
{
	struct fx *x = *state;

	expect_400(x, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}",
		   "SendCtrlAltDel: The requested operation is not supported before starting");
	/* Firecracker: no boot source, no start (kiln run's demo guest is not the API's) */
	x->cfg.kernel_path[0] = 0;
	expect_400(x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
		   "Cannot start microvm without kernel configuration.");
	assert_int_equal(x->f.starts, 0);
	strcpy(x->cfg.kernel_path, "/k");
	assert_int_equal(req(x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), 204);
	assert_int_equal(x->f.starts, 1);
	expect_400(x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
		   "The requested operation is not supported after starting the microVM.");
	assert_int_equal(x->f.starts, 1);
	assert_int_equal(req(x, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}"), 204);
	assert_int_equal(x->f.cads, 1);
	x->f.cad_ret = -ENOSPC;
	expect_400(x, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", "not read");
	x->f.state = API_PAUSED;
	x->f.cad_ret = 0;
	assert_int_equal(req(x, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}"), 204);
	expect_400(x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", "after starting");
	assert_int_equal(req(x, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}"), 204);
}

static void test_start_failure(void **state)
{
	struct fx *x = *state;

	x->f.start_ret = -EINVAL;
	expect_400(x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
		   "InstanceStart: kernel /nonexistent: No such file or directory");
	assert_int_equal(x->f.state, API_NOT_STARTED);
	x->f.start_ret = -EIO;
	assert_int_equal(req(x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), 500);
	assert_string_equal(fault(x), "InstanceStart: Input/output error");
}

static volatile bool g_noise_stop;

/* A vCPU thread reporting guest trouble while the main thread serves the API. */
static void *noise(void *arg)
{
	(void)arg;
	while (!g_noise_stop)
		log_err("vcpu0: some other failure on another thread");
	return NULL;
}

/* The operation's reason travels with the request: errors logged meanwhile by other threads
 * (vCPUs, the migration thread) never replace or fill it. */
static void test_error_context_per_request(void **state)
{
	struct fx *x = *state;
	pthread_t t;

	log_set_output(open("/dev/null", O_WRONLY | O_CLOEXEC), 0, 0); /* teardown closes it */
	log_set_level(LOG_ERROR); /* the messages are really formatted and written */
	g_noise_stop = false;
	assert_int_equal(pthread_create(&t, NULL, noise, NULL), 0);
	for (int i = 0; i < 200; i++) {
		x->f.start_ret = -EINVAL;
		expect_400(x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", "");
		assert_string_equal(
		    fault(x), "InstanceStart: kernel /nonexistent: No such file or directory");
		x->f.start_ret = -EIO; /* records nothing: the errno's text, not the noise */
		assert_int_equal(req(x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"),
				 500);
		assert_string_equal(fault(x), "InstanceStart: Input/output error");
	}
	g_noise_stop = true;
	pthread_join(t, NULL);
}

/* err_set: logs, keeps the first failure, returns the code; NULL contexts are allowed. */
static void test_err_set(void **state)
{
	struct kiln_err e = {0};

	(void)state;
	log_set_level(LOG_OFF);
	assert_string_equal(err_text(&e, -ENOENT), strerror(ENOENT));
	assert_int_equal(err_set(NULL, -EINVAL, "nobody keeps %d", 1), -EINVAL);
	assert_int_equal(err_set(&e, -EINVAL, "first %s", "reason"), -EINVAL);
	assert_int_equal(err_set(&e, -EIO, "a consequence"), -EIO);
	assert_int_equal(e.code, -EINVAL);
	assert_string_equal(e.msg, "first reason");
	assert_string_equal(err_text(&e, -EIO), "first reason");
	err_clear(&e);
	assert_int_equal(e.code, 0);
	assert_string_equal(err_text(&e, -EIO), strerror(EIO));
	log_set_level(LOG_WARN);
}

static void test_vm_pause_resume(void **state)
{
	struct fx *x = *state;

	expect_400(x, "PATCH", "/vm", "{\"state\":\"Paused\"}", "before starting the microVM");
	x->f.state = API_RUNNING;
	expect_400(x, "PATCH", "/vm", "{\"state\":\"Stopped\"}",
		   "vm: field 'state': \"Stopped\" is not one of \"Paused\", \"Resumed\"");
	expect_400(x, "PATCH", "/vm", "{\"state\":1}",
		   "vm: field 'state': expected a string, got an integer");
	expect_400(x, "PATCH", "/vm", "{\"state\":\"Paused\",\"x\":1}", "unknown field 'x'");
	expect_400(x, "PATCH", "/vm", "{}", "vm: field 'state' is missing (required)");
	expect_400(x, "PUT", "/vm", "{\"state\":\"Paused\"}", "(allowed: PATCH)");
	assert_int_equal(req(x, "PATCH", "/vm", "{\"state\":\"Resumed\"}"), 204); /* no-op */
	assert_int_equal(x->f.resumes, 0);
	assert_int_equal(req(x, "PATCH", "/vm", "{\"state\":\"Paused\"}"), 204);
	assert_int_equal(x->f.pauses, 1);
	assert_int_equal(req(x, "GET", "/", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(x->body, "state")), "Paused");
	assert_int_equal(req(x, "PATCH", "/vm", "{\"state\":\"Paused\"}"), 204); /* no-op */
	assert_int_equal(x->f.pauses, 1);
	assert_int_equal(req(x, "PATCH", "/vm", "{\"state\":\"Resumed\"}"), 204);
	assert_int_equal(x->f.resumes, 1);
}

/* Pre-boot-only configuration routes, after boot: Firecracker's message, converter not run. */
static void test_config_routes_post_boot(void **state)
{
	static const char *const routes[][2] = {
	    {"PUT", "/boot-source"},   {"PUT", "/machine-config"}, {"PATCH", "/machine-config"},
	    {"PUT", "/drives/rootfs"}, {"PUT", "/entropy"},	   {"PUT", "/serial"},
	    {"PUT", "/kiln/vfio/edu"},
	};
	struct fx *x = *state;

	for (enum api_vm_state s = API_RUNNING; s <= API_PAUSED; s <<= 1) {
		x->f.state = s;
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
			expect_400(x, routes[i][0], routes[i][1], "{}",
				   "The requested operation is not supported after starting the "
				   "microVM.");
		expect_400(x, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\"}",
			   "drives/rootfs: no drive \"rootfs\" to update");
		expect_400(x, "PATCH", "/drives/rootfs", "{\"drive_id\":\"other\"}",
			   "drives/rootfs: field 'drive_id': \"other\" differs from the path's "
			   "\"rootfs\"");
		expect_400(x, "PATCH", "/drives/rootfs",
			   "{\"drive_id\":\"rootfs\",\"is_read_only\":true}",
			   "drives/rootfs: unknown field 'is_read_only'");
		assert_int_equal(req(x, "GET", "/machine-config", NULL), 200);
		assert_true(json_is_integer(json_object_get(x->body, "vcpu_count")));
		assert_int_equal(req(x, "GET", "/vm/config", NULL), 200);
		assert_true(json_is_object(json_object_get(x->body, "machine-config")));
	}
}

/* A file in the test's directory; its path in out. */
static void make_file(struct fx *x, const char *name, char *out, size_t len)
{
	FILE *f;

	snprintf(out, len, "%s/%s", x->dir, name);
	f = fopen(out, "w");
	assert_non_null(f);
	fclose(f);
}

/* Boot source and drives name files that must open at PUT time, as in Firecracker; a PUT whose
 * file does not open answers 400 with the OS error and changes nothing. */
static void put_files(struct fx *x)
{
	char disk[128], body[512];

	make_file(x, "vmlinux", x->kernel, sizeof(x->kernel));
	make_file(x, "disk.img", disk, sizeof(disk));
	snprintf(body, sizeof(body),
		 "{\"kernel_image_path\":\"%s\",\"boot_args\":\"console=ttyS0\"}", x->kernel);
	assert_int_equal(req(x, "PUT", "/boot-source", body), 204);
	expect_400(x, "PUT", "/boot-source", "{\"kernel_image_path\":\"/no/such/vmlinux\"}",
		   "The kernel file cannot be opened: No such file or directory (os error 2)");
	snprintf(body, sizeof(body), "{\"kernel_image_path\":\"%s\",\"initrd_path\":\"/no/i\"}",
		 x->kernel);
	expect_400(x, "PUT", "/boot-source", body, "The initrd file cannot be opened");
	assert_string_equal(x->cfg.kernel_path, x->kernel); /* unchanged by the refusals */
	assert_string_equal(x->cfg.cmdline, "console=ttyS0");
	snprintf(body, sizeof(body),
		 "{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":false,"
		 "\"is_read_only\":true}",
		 disk);
	assert_int_equal(req(x, "PUT", "/drives/rootfs", body), 204);
	expect_400(
	    x, "PUT", "/drives/other",
	    "{\"drive_id\":\"other\",\"path_on_host\":\"/no/disk\",\"is_root_device\":false}",
	    "Unable to create the virtio block device: /no/disk: No such file or directory");
	expect_400(x, "PATCH", "/drives/rootfs",
		   "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/no/d\"}",
		   "The requested operation is not supported before starting the microVM.");
	assert_int_equal(x->cfg.nr_disks, 1);
	assert_string_equal(x->cfg.disks[0].path, disk);
	snprintf(body, sizeof(body),
		 "{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":false}",
		 disk);
	expect_400(x, "PUT", "/drives/other", body, "drive");
	unlink(disk);
	unlink(x->kernel);
}

/* Pre-boot: the converters' verdicts come back as 400 with their message; bad JSON never
 * reaches them. */
static void test_config_routes_pre_boot(void **state)
{
	struct fx *x = *state;

	expect_400(x, "PUT", "/boot-source", "{", "invalid JSON");
	expect_400(x, "PUT", "/machine-config", "[]", "must be a JSON object");
	expect_400(x, "PUT", "/drives/rootfs", NULL, "a JSON body is required");
	expect_400(x, "PUT", "/boot-source", "{\"bogus\":1}", "boot-source");
	expect_400(x, "PUT", "/machine-config", "{\"vcpu_count\":\"two\"}", "machine-config");
	expect_400(x, "PUT", "/entropy", "{\"bogus\":1}", "entropy");
	expect_400(x, "PUT", "/vsock", "{\"guest_cid\":2,\"uds_path\":\"/v\"}",
		   "vsock: field 'guest_cid': 2 is outside 3..4294967295");
	expect_400(x, "PUT", "/vsock", "{\"guest_cid\":3}",
		   "vsock: field 'uds_path' is missing (required)");
	expect_400(x, "GET", "/vsock", NULL, "(allowed: PUT)");
	expect_400(x, "PUT", "/serial", "{\"serial_out_path\":1}", "serial");
	expect_400(x, "PUT", "/kiln/vfio/edu", "{\"path\":\"rel\"}",
		   "kiln/vfio/edu: field 'path': \"rel\" is not an absolute path");
	expect_400(x, "PUT", "/kiln/vfio/edu", "{\"id\":\"x\",\"path\":\"/p\"}",
		   "differs from the path's");
	expect_400(x, "GET", "/kiln/vfio/edu", NULL, "(allowed: PUT)");
	assert_int_equal(req(x, "GET", "/machine-config", NULL), 200);
	assert_int_equal(json_integer_value(json_object_get(x->body, "vcpu_count")), 1);
#ifdef KILN_HAVE_CONFIG_JSON
	assert_int_equal(req(x, "PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":64}"),
			 204);
	assert_int_equal(req(x, "GET", "/machine-config", NULL), 200);
	assert_int_equal(json_integer_value(json_object_get(x->body, "vcpu_count")), 2);
	assert_int_equal(json_integer_value(json_object_get(x->body, "mem_size_mib")), 64);
	assert_int_equal(req(x, "PATCH", "/machine-config", "{\"mem_size_mib\":128}"), 204);
	assert_int_equal(req(x, "GET", "/machine-config", NULL), 200);
	assert_int_equal(json_integer_value(json_object_get(x->body, "vcpu_count")), 2);
	put_files(x);
	assert_int_equal(req(x, "PUT", "/entropy", "{}"), 204);
	assert_int_equal(req(x, "PUT", "/kiln/vfio/edu", "{\"path\":\"/sys/bus/pci/devices/x\"}"),
			 204);
	assert_int_equal(req(x, "GET", "/vm/config", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(x->body, "kiln_vfio"), 0), "path")),
			    "/sys/bus/pci/devices/x");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(x->body, "boot-source"), "kernel_image_path")),
			    x->kernel);
	assert_int_equal(json_array_size(json_object_get(x->body, "drives")), 1);
#endif
}

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void test_logger(void **state)
{
	struct fx *x = *state;
	char path[128], body[256];

	snprintf(path, sizeof(path), "%s/log", x->dir);
	expect_400(x, "PUT", "/logger", "{\"level\":\"Loud\"}",
		   "logger: field 'level': \"Loud\" is not one of");
	expect_400(x, "PUT", "/logger", "{\"show_level\":\"yes\"}",
		   "logger: field 'show_level': expected a boolean, got a string");
	expect_400(x, "PUT", "/logger", "{\"log_path\":false}",
		   "logger: field 'log_path': expected a string, got a boolean");
	expect_400(x, "PUT", "/logger", "{\"colour\":true}", "unknown field 'colour'");
	expect_400(x, "PUT", "/logger", "{\"module\":\"api_server\"}", "does not filter by module");
	expect_400(x, "PUT", "/logger", "{\"log_path\":\"/nonexistent/dir/log\"}", "cannot open");
	snprintf(body, sizeof(body),
		 "{\"log_path\":\"%s\",\"level\":\"warning\",\"show_level\":true,"
		 "\"show_log_origin\":true}",
		 path);
	assert_int_equal(req(x, "PUT", "/logger", body), 204);
	assert_int_equal(log_get_level(), LOG_WARN);
	log_warn("a warning %d", 42);
	log_info("not shown");
	assert_non_null(strstr(slurp(path), "kiln: [Warning] "));
	assert_non_null(strstr(slurp(path), "test_api.c:"));
	assert_non_null(strstr(slurp(path), "a warning 42\n"));
	assert_null(strstr(slurp(path), "not shown"));
	assert_int_equal(req(x, "GET", "/vm/config", NULL), 200); /* null, as in Firecracker */
	assert_true(json_is_null(json_object_get(x->body, "logger")));
	assert_int_equal(req(x, "PUT", "/logger", "{\"level\":\"Off\"}"), 204);
	assert_int_equal(log_get_level(), LOG_OFF);
	x->f.state = API_RUNNING; /* kiln lets the logger change after boot */
	assert_int_equal(req(x, "PUT", "/logger", "{\"level\":\"Trace\"}"), 204);
	assert_int_equal(log_get_level(), LOG_DEBUG);
}

static void test_metrics(void **state)
{
	struct fx *x = *state;
	char path[128], body[256];
	json_t *line;

	snprintf(path, sizeof(path), "%s/metrics", x->dir);
	/* FlushMetrics with no metrics path: nothing to do, as in Firecracker */
	assert_int_equal(req(x, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}"), 204);
	expect_400(x, "PUT", "/metrics", "{}",
		   "metrics: field 'metrics_path' is missing (required)");
	expect_400(x, "PUT", "/metrics", "{\"metrics_path\":3}",
		   "metrics: field 'metrics_path': expected a string, got an integer");
	expect_400(x, "PUT", "/metrics", "{\"metrics_path\":\"/x\",\"properties\":{\"a\":1}}",
		   "metrics.properties: field 'a': expected a string, got an integer");
	expect_400(x, "PUT", "/metrics", "{\"metrics_path\":\"/x\",\"properties\":[]}",
		   "metrics: field 'properties': expected an object, got an array");
	expect_400(x, "PUT", "/metrics", "{\"metrics_path\":\"/x\",\"emit_id\":1}",
		   "metrics: field 'emit_id': expected a boolean, got an integer");
	expect_400(x, "PUT", "/metrics", "{\"metrics_path\":\"/nonexistent/m\"}", "cannot open");
	snprintf(body, sizeof(body),
		 "{\"metrics_path\":\"%s\",\"emit_id\":true,\"properties\":{\"host\":\"h1\"}}",
		 path);
	assert_int_equal(req(x, "PUT", "/metrics", body), 204);
	expect_400(x, "PUT", "/metrics", body, "Reinitialization of metrics not allowed");
	x->f.state = API_RUNNING;
	assert_int_equal(req(x, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}"), 204);
	assert_int_equal(api_flush_metrics(&x->a), 0);
	line = json_loads(slurp(path), JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(line);
	assert_true(json_integer_value(json_object_get(line, "utc_timestamp_ms")) > 0);
	assert_string_equal(json_string_value(json_object_get(line, "id")), "anonymous-instance");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(line, "properties"), "host")), "h1");
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(line, "vcpu"), 0), "exits_io")),
			 7);
	assert_true(
	    json_integer_value(json_object_get(json_object_get(line, "api"), "bad_requests")) >= 7);
	json_decref(line);
	assert_non_null(strchr(strchr(slurp(path), '\n') + 1, '\n')); /* two lines */
	assert_int_equal(req(x, "GET", "/vm/config", NULL), 200);     /* null, as in Firecracker */
	assert_true(json_is_null(json_object_get(x->body, "metrics")));
}

static void test_counters(void **state)
{
	struct fx *x = *state;

	req(x, "GET", "/", NULL);
	req(x, "GET", "/nope", NULL);
	req(x, "PUT", "/actions", "{");
	assert_int_equal(x->a.requests, 3);
	assert_int_equal(x->a.bad_requests, 2);
}

/* The config-file parser's verdict on a whole document: its message ("" when accepted). */
static const char *doc_err(const char *text)
{
	static char err[512];
	struct vm_config c;
	json_t *doc = json_loads(text, 0, NULL);

	assert_non_null(doc);
	config_defaults(&c);
	err[0] = 0;
	if (config_json_document(&c, doc, err, sizeof(err)) < 0)
		assert_true(err[0] != 0);
	json_decref(doc);
	return err;
}

/* One rule, one wording: a body the API's own handlers read (actions, vm, logger, metrics,
 * snapshots, migrate) and a config-file resource get the same message for the same mistake,
 * and the same body gets the same message from PUT and from a --config-file document. */
/* Deprecated fields still work, and the answer carries "Deprecation: true", as Firecracker's
 * (test_api.py: test_deprecated_cpu_template, snapshot load with mem_file_path). */
static void test_deprecation_header(void **state)
{
	struct fx *x = *state;

	assert_int_equal(req(x, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}"),
			 204);
	assert_false(x->r.deprecated);
	assert_int_equal(req(x, "PUT", "/machine-config",
			     "{\"vcpu_count\":1,\"mem_size_mib\":64,\"cpu_template\":\"None\"}"),
			 204);
	assert_true(x->r.deprecated);
	assert_int_equal(req(x, "PATCH", "/machine-config", "{\"cpu_template\":\"None\"}"), 204);
	assert_true(x->r.deprecated);
	assert_int_equal(req(x, "PATCH", "/machine-config", "{\"cpu_template\":null}"), 204);
	assert_false(x->r.deprecated);
	req(x, "PUT", "/snapshot/load", "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}");
	assert_true(x->r.deprecated);
	req(x, "PUT", "/snapshot/load",
	    "{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"File\","
	    "\"backend_path\":\"/m\"}}");
	assert_false(x->r.deprecated);
}

static void test_same_checks_as_config_file(void **state)
{
	static const char *const same[][3] = {
	    {"/machine-config", "machine-config", "{\"vcpu_count\":\"two\",\"mem_size_mib\":64}"},
	    {"/machine-config", "machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64,\"x\":1}"},
	    {"/machine-config", "machine-config", "{\"vcpu_count\":255,\"mem_size_mib\":64}"},
	    {"/machine-config", "machine-config", "{\"vcpu_count\":null,\"mem_size_mib\":64}"},
	    {"/boot-source", "boot-source", "{\"kernel_image_path\":null}"},
	    {"/entropy", "entropy", "{\"rate_limiter\":1}"},
	    {"/serial", "serial", "{\"serial_out_path\":true}"},
	};
	struct fx *x = *state;
	char doc[256];

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"%s\":%s}", same[i][1], same[i][2]);
		assert_int_equal(req(x, "PUT", same[i][0], same[i][2]), 400);
		assert_string_equal(fault(x), doc_err(doc));
	}
	/* Unknown field. */
	expect_400(x, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\",\"x\":1}", "");
	assert_string_equal(fault(x), "actions: unknown field 'x'");
	assert_string_equal(doc_err("{\"entropy\":{\"x\":1}}"), "entropy: unknown field 'x'");
	/* Wrong type (the same field name in both). */
	expect_400(x, "PUT", "/snapshot/load",
		   "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"track_dirty_pages\":1}", "");
	assert_string_equal(fault(x),
			    "snapshot/load: field 'track_dirty_pages': expected a boolean, got an "
			    "integer");
	assert_string_equal(doc_err("{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64,"
				    "\"track_dirty_pages\":1}}"),
			    "machine-config: field 'track_dirty_pages': expected a boolean, got an "
			    "integer");
	/* Required, given as null: missing. */
	x->f.state = API_RUNNING;
	expect_400(x, "PATCH", "/vm", "{\"state\":null}", "");
	assert_string_equal(fault(x), "vm: field 'state' is missing (required)");
	assert_string_equal(
	    doc_err("{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":null}}"),
	    "machine-config: field 'mem_size_mib' is missing (required)");
	/* Out of range. */
	expect_400(x, "PUT", "/migrate", "{\"destination\":\"h:1\",\"timeout_s\":86401}", "");
	assert_string_equal(fault(x), "migrate: field 'timeout_s': 86401 is outside 0..86400");
	assert_string_equal(
	    doc_err("{\"machine-config\":{\"vcpu_count\":255,\"mem_size_mib\":64}}"),
	    "machine-config: field 'vcpu_count': 255 is outside 1..254");
}

/* Optional fields given as null are absent on both paths. */
/* Firecracker's /balloon routes: PUT before boot with its checks, PATCH and statistics after. */
static void test_balloon(void **state)
{
	struct fx *x = *state;
	const json_t *v;

	expect_400(x, "GET", "/balloon", NULL, "Balloon config error: No balloon device found.");
	expect_400(x, "PUT", "/balloon", "{}", "balloon: field 'amount_mib' is missing (required)");
	expect_400(x, "PUT", "/balloon", "{\"amount_mib\": 1}",
		   "balloon: field 'deflate_on_oom' is missing (required)");
	expect_400(x, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": \"yes\"}",
		   "field 'deflate_on_oom': expected a boolean, got a string");
	expect_400(x, "PUT", "/balloon", "{\"amount_mib\": -1, \"deflate_on_oom\": true}",
		   "field 'amount_mib'");
	expect_400(
	    x, "PUT", "/balloon",
	    "{\"amount_mib\": 1, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 65536}",
	    "65536 is outside 0..65535");
	expect_400(x, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true, \"x\": 1}",
		   "balloon: unknown field 'x'");
	expect_400(x, "PUT", "/balloon", "{\"amount_mib\": 257, \"deflate_on_oom\": true}",
		   "Amount of pages requested is too large.");
	expect_400(x, "PUT", "/balloon",
		   "{\"amount_mib\": 1, \"deflate_on_oom\": true, \"free_page_hinting\": true}",
		   "free page hinting is not implemented");
	assert_false(x->cfg.balloon.enabled);
	assert_int_equal(req(x, "PUT", "/balloon",
			     "{\"amount_mib\": 64, \"deflate_on_oom\": true, "
			     "\"stats_polling_interval_s\": 1, \"free_page_reporting\": true}"),
			 204);
	assert_true(x->cfg.balloon.enabled && x->cfg.balloon.deflate_on_oom);
	assert_int_equal(req(x, "GET", "/balloon", NULL), 200);
	assert_int_equal(json_integer_value(json_object_get(x->body, "amount_mib")), 64);
	assert_true(json_is_true(json_object_get(x->body, "free_page_reporting")));
	assert_true(json_is_false(json_object_get(x->body, "free_page_hinting")));
	assert_int_equal(req(x, "GET", "/vm/config", NULL), 200);
	v = json_object_get(json_object_get(x->body, "balloon"), "stats_polling_interval_s");
	assert_int_equal(json_integer_value(v), 1);
	expect_400(x, "PATCH", "/balloon", "{\"amount_mib\": 1}", "before starting the microVM");
	expect_400(x, "GET", "/balloon/statistics", NULL, "before starting the microVM");

	x->f.balloon_interval = 1;
	assert_int_equal(req(x, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	expect_400(x, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}",
		   "after starting the microVM");
	assert_int_equal(req(x, "PATCH", "/balloon", "{\"amount_mib\": 32}"), 204);
	assert_int_equal(x->f.balloon_pages, 32 * 256);
	assert_int_equal(x->cfg.balloon.amount_mib, 32);
	expect_400(x, "PATCH", "/balloon", "{\"amount_mib\": 300}", "should be less than 256MiB");
	expect_400(x, "PATCH", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}",
		   "unknown field 'deflate_on_oom'");
	expect_400(x, "PATCH", "/balloon", "{}", "field 'amount_mib' is missing");
	assert_int_equal(req(x, "GET", "/balloon", NULL), 200);
	assert_int_equal(json_integer_value(json_object_get(x->body, "amount_mib")), 32);
	assert_int_equal(req(x, "GET", "/balloon/statistics", NULL), 200);
	assert_int_equal(json_integer_value(json_object_get(x->body, "target_pages")), 32 * 256);
	assert_int_equal(json_integer_value(json_object_get(x->body, "actual_mib")), 2);
	assert_int_equal(json_integer_value(json_object_get(x->body, "free_memory")), 123456789);
	assert_null(json_object_get(x->body, "swap_in")); /* not reported: left out */
	expect_400(x, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 0}",
		   "Statistics cannot be enabled/disabled after activation.");
	expect_400(x, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": true}",
		   "expected an integer");
	assert_int_equal(
	    req(x, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 5}"), 204);
	assert_int_equal(x->cfg.balloon.stats_interval_s, 5);
	x->f.balloon_interval = 0; /* statistics off: Firecracker's refusal */
	expect_400(x, "GET", "/balloon/statistics", NULL, "stats are disabled");
}

static void test_null_is_absent(void **state)
{
	struct fx *x = *state;

	assert_int_equal(req(x, "PUT", "/logger",
			     "{\"level\":null,\"log_path\":null,\"show_level\":null,"
			     "\"show_log_origin\":null,\"module\":null}"),
			 204);
	assert_int_equal(log_get_level(), LOG_INFO); /* the default level */
	assert_int_equal(
	    req(x, "PUT", "/snapshot/load",
		"{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"mem_backend\":null,"
		"\"resume_vm\":null,\"track_dirty_pages\":null}"),
	    204);
	assert_false(x->f.resume);
	assert_string_equal(x->f.mem_path, "m");
	x->f.state = API_PAUSED;
	assert_int_equal(
	    req(x, "PUT", "/snapshot/create",
		"{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"snapshot_type\":null,"
		"\"version\":null}"),
	    204);
	assert_int_equal(x->f.diffs, 0);
	assert_string_equal(doc_err("{\"boot-source\":{\"kernel_image_path\":\"/k\","
				    "\"initrd_path\":null,\"boot_args\":null},\"machine-config\":"
				    "{\"vcpu_count\":1,\"mem_size_mib\":64,\"smt\":null}}"),
			    "");
	assert_int_equal(req(x, "GET", "/", NULL), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_root_and_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_paths_and_methods, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unimplemented, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mmds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_actions_states, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_start_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_context_per_request, setup, teardown),
	    cmocka_unit_test(test_err_set),
	    cmocka_unit_test_setup_teardown(test_vm_pause_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_routes_post_boot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_routes_pre_boot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logger, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_checks_as_config_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deprecation_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_null_is_absent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_balloon, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
