/* api.c — request dispatch: the route table, state rules, and the handlers of each resource. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "backend/tap.h"
#include "config/config_json.h"
#include "config/json_field.h"
#include "util/log.h"
#include "virtio/balloon.h"

#define ANY_STATE  (API_NOT_STARTED | API_RUNNING | API_PAUSED)
#define PRE_BOOT   API_NOT_STARTED
#define POST_BOOT  (API_RUNNING | API_PAUSED)
#define ERR_LEN	   512
#define PATH_PARAM 128 /* longest {id} in a path */

/* One request, as the handlers see it. */
struct req {
	const char *method, *path;
	char param[PATH_PARAM]; /* the {id} of /drives/{id} */
	json_t *body;		/* the parsed body, or NULL for bodiless routes */
};

typedef int (*handler_fn)(struct api *a, struct req *r, struct api_response *out);

enum body_rule { BODY_IGNORED, BODY_OBJECT, BODY_ANY }; /* BODY_ANY: any JSON value */

/* The route table's row: method, path pattern ("/drives/{}" takes one segment), handler, the
 * states it is allowed in, and whether it takes a JSON object. */
struct route {
	const char *method;
	const char *path;
	handler_fn fn;
	unsigned states;
	enum body_rule body;
};

/* ---- responses ---- */

static int reply(struct api_response *out, int status, json_t *body)
{
	out->status = status;
	out->body = NULL;
	out->len = 0;
	if (body) {
		out->body = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY); /* GET /mmds: any */
		json_decref(body);
		if (!out->body)
			out->status = 500;
		else
			out->len = strlen(out->body);
	}
	return out->status;
}

static int reply_ok(struct api_response *out)
{
	return reply(out, 204, NULL);
}

static PRINTF(3, 4) int reply_err(struct api_response *out, int status, const char *fmt, ...)
{
	char msg[ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages echo paths and values from the request: keep them printable ASCII (and so
	 * valid UTF-8, which jansson requires). */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return reply(out, status, json_pack("{s:s}", "fault_message", msg));
}

/* A failed operation: the reason it recorded in its error context, else the errno text. */
static int reply_op_err(struct api_response *out, const char *what, int ret,
			const struct kiln_err *e)
{
	return reply_err(out, err_from_input(ret) ? 400 : 500, "%s: %s", what, err_text(e, ret));
}

const char *api_state_name(enum api_vm_state s)
{
	return s == API_RUNNING ? "Running" : s == API_PAUSED ? "Paused" : "Not started";
}

static enum api_vm_state state(struct api *a)
{
	return a->ops->state ? a->ops->state(a->ctx) : API_NOT_STARTED;
}

/* Why a request is not allowed now, in Firecracker's words where it has them. */
static int reply_state(struct api_response *out, const char *what, unsigned allowed,
		       enum api_vm_state now)
{
	if (now != API_NOT_STARTED && !(allowed & ~API_NOT_STARTED))
		return reply_err(out, 400,
				 "%s: The requested operation is not supported after starting the "
				 "microVM.",
				 what);
	if (now == API_NOT_STARTED)
		return reply_err(out, 400,
				 "%s: The requested operation is not supported before starting "
				 "the microVM.",
				 what);
	return reply_err(out, 400, "%s: not allowed while the microVM is %s", what,
			 api_state_name(now));
}

/* ---- body helpers ---- */

/* A body (or a part of one) read through config/json_field.h, the checks config files get too:
 * jb_init(&b, "actions", r->body), then jf_*(&b.r, ...); on error b.err holds the one line. */
struct jbody {
	struct jres r;
	char err[ERR_LEN];
};

static void jb_init(struct jbody *b, const char *name, const json_t *obj)
{
	b->err[0] = 0;
	b->r = (struct jres){name, obj, b->err, sizeof(b->err)};
}

/* The 400 of a body that failed a check. */
static int bad_body(struct api_response *out, const struct jbody *b)
{
	return reply_err(out, 400, "%s", b->err[0] ? b->err : "invalid body");
}

/* Open a log or metrics destination: a file (created 0600, appended to) or a FIFO with a
 * reader; never blocking, so a slow reader loses lines instead of stalling kiln. Returns the
 * fd, or -1 with the 400 in out. */
static int open_sink(const char *path, const char *what, struct api_response *out)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);

	if (fd < 0)
		reply_err(out, 400, "%s: cannot open '%s': %s", what, path,
			  errno == ENXIO ? "a FIFO with no reader" : strerror(errno));
	return fd;
}

/* Whether body has field with a value (null is absent). */
static bool given(const json_t *body, const char *field)
{
	const json_t *v = json_object_get(body, field);

	return v && !json_is_null(v);
}

/* The request used a deprecated field: warn, and answer with a Deprecation header (Firecracker
 * does both, whatever the status). */
static void deprecated(struct api_response *out, const char *message)
{
	log_warn("%s", message);
	out->deprecated = true;
}

/* ---- resources ---- */

static int h_root(struct api *a, struct req *r, struct api_response *out)
{
	return reply(out, 200,
		     json_pack("{s:s,s:s,s:s,s:s}", "id", a->id, "state", api_state_name(state(a)),
			       "vmm_version", KILN_VERSION, "app_name", "kiln"));
}

static int h_version(struct api *a, struct req *r, struct api_response *out)
{
	return reply(out, 200, json_pack("{s:s}", "firecracker_version", KILN_VERSION));
}

/* The result of a config_json_* converter. */
static int converted(int ret, const char *err, struct api_response *out)
{
	if (ret == 0)
		return reply_ok(out);
	return reply_err(out, 400, "%s", err[0] ? err : strerror(-ret));
}

/* A resource whose PUT names files: its converter, then the files to open, as Firecracker does
 * at PUT time. */
struct file_resource {
	int (*convert)(struct vm_config *c, const struct req *r, char *err, size_t len);
	int (*open_files)(const struct vm_config *c, const struct req *r, char *err, size_t len);
};

/* Convert the body into a copy of the configuration and open the files it names; the
 * configuration changes only if both succeed. */
static int put_with_files(struct api *a, struct req *r, struct api_response *out,
			  const struct file_resource *res)
{
	struct vm_config *c = malloc(sizeof(*c));
	char err[ERR_LEN] = "";
	int ret;

	if (!c)
		return reply_err(out, 500, "out of memory");
	*c = *a->cfg;
	ret = res->convert(c, r, err, sizeof(err));
	if (ret == 0)
		ret = res->open_files(c, r, err, sizeof(err));
	if (ret == 0)
		*a->cfg = *c;
	free(c);
	return converted(ret, err, out);
}

static int boot_convert(struct vm_config *c, const struct req *r, char *err, size_t len)
{
	return config_json_boot_source(c, r->body, err, len);
}

static int boot_files(const struct vm_config *c, const struct req *r, char *err, size_t len)
{
	(void)r;
	return config_open_boot_files(c, err, len);
}

static int drive_convert(struct vm_config *c, const struct req *r, char *err, size_t len)
{
	return config_json_drive(c, r->param, r->body, false, err, len);
}

static int drive_file(const struct vm_config *c, const struct req *r, char *err, size_t len)
{
	int i = config_disk_find(c, r->param);

	return i < 0 ? 0 : config_open_disk_file(&c->disks[i], err, len);
}

static int net_convert(struct vm_config *c, const struct req *r, char *err, size_t len)
{
	return config_json_net(c, r->param, r->body, false, err, len);
}

/* The TAP is opened now and closed again, as Firecracker opens it at PUT time: one that is
 * missing, busy or not a TAP is a 400 now rather than at InstanceStart. */
static int net_tap(const struct vm_config *c, const struct req *r, char *err, size_t len)
{
	int i = config_net_find(c, r->param);
	char why[TAP_WHY_MAX];
	int fd;

	if (i < 0)
		return 0;
	fd = tap_open(c->nets[i].tap, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, len, "Could not create the network device: %s", why);
		return -EINVAL;
	}
	close(fd);
	return 0;
}

static const struct file_resource boot_resource = {boot_convert, boot_files};
static const struct file_resource net_resource = {net_convert, net_tap};
static const struct file_resource drive_resource = {drive_convert, drive_file};

static int h_boot_source(struct api *a, struct req *r, struct api_response *out)
{
	return put_with_files(a, r, out, &boot_resource);
}

static int h_machine_get(struct api *a, struct req *r, struct api_response *out)
{
	json_t *doc = config_json_export(a->cfg), *mc = json_object_get(doc, "machine-config");

	if (!mc) {
		json_decref(doc);
		return reply_err(out, 500, "GET /machine-config: cannot export the configuration");
	}
	json_incref(mc);
	json_decref(doc);
	return reply(out, 200, mc);
}

static int h_machine_put(struct api *a, struct req *r, struct api_response *out)
{
	char err[ERR_LEN] = "";
	bool patch = strcmp(r->method, "PATCH") == 0;
	int ret = converted(config_json_machine_config(a->cfg, r->body, patch, err, sizeof(err)),
			    err, out);

	if (given(r->body, "cpu_template"))
		deprecated(out, patch ? "PATCH /machine-config: cpu_template field is deprecated."
				      : "PUT /machine-config: cpu_template field is deprecated.");
	return ret;
}

static int h_drive(struct api *a, struct req *r, struct api_response *out)
{
	return put_with_files(a, r, out, &drive_resource);
}

/* A PATCH /drives/{id} body read into c by the configuration's own drive converter (PATCH:
 * path_on_host, rate_limiter), and its new backing file opened. 0, or -errno with the 400's
 * text in err. */
static int drive_patch_read(struct vm_config *c, const struct req *r, char *err, size_t len)
{
	int ret = config_json_drive(c, r->param, r->body, true, err, len);

	if (ret < 0)
		return ret;
	if (!given(r->body, "path_on_host") && !json_object_get(r->body, "rate_limiter")) {
		snprintf(err, len,
			 "drives/%s: Running method expected different backend (the patch names "
			 "neither path_on_host nor rate_limiter)",
			 r->param);
		return -EINVAL;
	}
	if (!given(r->body, "path_on_host"))
		return 0;
	return config_open_disk_file(&c->disks[config_disk_find(c, r->param)], err, len);
}

/* PATCH /drives/{id} after boot (Firecracker's BlockDeviceUpdateConfig): read into a copy of the
 * configuration (a bad body or path is a 400 and nothing changes), then the running device takes
 * the new file and/or rate limiter. */
static int h_drive_patch(struct api *a, struct req *r, struct api_response *out)
{
	struct vm_config *c = malloc(sizeof(*c));
	const struct disk_config *d;
	struct kiln_err e = {0};
	char err[ERR_LEN] = "";
	int ret;

	if (!c)
		return reply_err(out, 500, "out of memory");
	*c = *a->cfg;
	ret = drive_patch_read(c, r, err, sizeof(err));
	if (ret < 0 || !a->ops->drive_update) {
		free(c);
		return ret < 0 ? converted(ret, err, out)
			       : reply_err(out, 400, "drives/%s: not supported", r->param);
	}
	d = &c->disks[config_disk_find(c, r->param)];
	ret =
	    a->ops->drive_update(a->ctx, r->param, given(r->body, "path_on_host") ? d->path : NULL,
				 json_object_get(r->body, "rate_limiter") ? &d->rate : NULL, &e);
	free(c);
	return ret < 0 ? reply_op_err(out, "PATCH /drives", ret, &e) : reply_ok(out);
}

static int h_net(struct api *a, struct req *r, struct api_response *out)
{
	return put_with_files(a, r, out, &net_resource);
}

/* PATCH /network-interfaces/{id} after boot (Firecracker's NetworkInterfaceUpdateConfig): the
 * body read by the configuration's converter into a copy, then the running device takes the
 * new rate limiters. */
static int h_net_patch(struct api *a, struct req *r, struct api_response *out)
{
	struct vm_config *c = malloc(sizeof(*c));
	struct kiln_err e = {0};
	char err[ERR_LEN] = "";
	const struct net_config *n;
	int ret;

	if (!c)
		return reply_err(out, 500, "out of memory");
	*c = *a->cfg;
	ret = config_json_net(c, r->param, r->body, true, err, sizeof(err));
	if (ret < 0 || !a->ops->net_update) {
		free(c);
		return ret < 0
			   ? converted(ret, err, out)
			   : reply_err(out, 400, "network-interfaces/%s: not supported", r->param);
	}
	n = &c->nets[config_net_find(c, r->param)];
	ret = a->ops->net_update(
	    a->ctx, r->param, json_object_get(r->body, "rx_rate_limiter") ? &n->rx_rate : NULL,
	    json_object_get(r->body, "tx_rate_limiter") ? &n->tx_rate : NULL, &e);
	free(c);
	return ret < 0 ? reply_op_err(out, "PATCH /network-interfaces", ret, &e) : reply_ok(out);
}

static int h_vsock(struct api *a, struct req *r, struct api_response *out)
{
	char err[ERR_LEN] = "";

	return converted(config_json_vsock(a->cfg, r->body, err, sizeof(err)), err, out);
}

static int h_vfio(struct api *a, struct req *r, struct api_response *out)
{
	char err[ERR_LEN] = "";

	return converted(config_json_vfio(a->cfg, r->param, r->body, err, sizeof(err)), err, out);
}

static int h_entropy(struct api *a, struct req *r, struct api_response *out)
{
	char err[ERR_LEN] = "";

	return converted(config_json_entropy(a->cfg, r->body, err, sizeof(err)), err, out);
}

/* ---- balloon ---- */

#define NO_BALLOON "Balloon config error: No balloon device found."

static int h_balloon_put(struct api *a, struct req *r, struct api_response *out)
{
	char err[ERR_LEN] = "";

	return converted(config_json_balloon(a->cfg, r->body, err, sizeof(err)), err, out);
}

/* The running balloon's state; 0, or the reply already in out. */
static int balloon_live(struct api *a, struct api_balloon *bs, struct api_response *out)
{
	struct kiln_err e = {0};
	int ret;

	if (!a->cfg->balloon.enabled)
		return reply_err(out, 400, NO_BALLOON);
	if (!a->ops->balloon_status)
		return reply_err(out, 400, "balloon: not supported");
	ret = a->ops->balloon_status(a->ctx, bs, &e);
	return ret < 0 ? reply_op_err(out, "balloon", ret, &e) : 0;
}

static int h_balloon_get(struct api *a, struct req *r, struct api_response *out)
{
	struct api_balloon bs;
	json_t *doc;

	(void)r;
	if (!a->cfg->balloon.enabled)
		return reply_err(out, 400, NO_BALLOON);
	doc = config_json_export_balloon(a->cfg);
	if (state(a) != API_NOT_STARTED && doc) {
		if (balloon_live(a, &bs, out)) {
			json_decref(doc);
			return out->status;
		}
		json_object_set_new(doc, "amount_mib", json_integer(bs.target_pages / 256));
		json_object_set_new(doc, "stats_polling_interval_s",
				    json_integer(bs.stats_interval_s));
	}
	return doc ? reply(out, 200, doc) : reply_err(out, 500, "GET /balloon: out of memory");
}

static int h_balloon_patch(struct api *a, struct req *r, struct api_response *out)
{
	static const char *const fields[] = {"amount_mib", NULL};
	struct kiln_err e = {0};
	struct jbody b;
	uint64_t mib;
	int ret;

	jb_init(&b, "balloon", r->body);
	if (jres_check_fields(&b.r, fields) < 0 ||
	    jf_uint(&b.r, "amount_mib", JF_REQUIRED, 0, UINT32_MAX, &mib) < 0)
		return bad_body(out, &b);
	if (!a->cfg->balloon.enabled)
		return reply_err(out, 400, NO_BALLOON);
	if (mib > a->cfg->mem_bytes >> 20)
		return reply_err(
		    out, 400, "Balloon update error: Requested memory should be less than %lluMiB",
		    (unsigned long long)(a->cfg->mem_bytes >> 20));
	if (!a->ops->balloon_update)
		return reply_err(out, 400, "balloon: not supported");
	ret = a->ops->balloon_update(a->ctx, (uint32_t)mib, &e);
	if (ret < 0)
		return reply_op_err(out, "Balloon update error", ret, &e);
	a->cfg->balloon.amount_mib = (uint32_t)mib;
	return reply_ok(out);
}

static int h_balloon_stats_get(struct api *a, struct req *r, struct api_response *out)
{
	struct api_balloon bs;
	json_t *doc;

	(void)r;
	if (balloon_live(a, &bs, out))
		return out->status;
	if (!bs.stats_interval_s)
		return reply_err(out, 400,
				 "Balloon update error: Received stats query when stats are "
				 "disabled.");
	doc = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)bs.target_pages,
			"actual_pages", (json_int_t)bs.actual_pages, "target_mib",
			(json_int_t)(bs.target_pages / 256), "actual_mib",
			(json_int_t)(bs.actual_pages / 256));
	for (unsigned t = 0; doc && t < 16; t++)
		if (bs.stats_present & (1u << t))
			json_object_set_new(doc, virtio_balloon_stat_name(t),
					    json_integer((json_int_t)bs.stats[t]));
	return doc ? reply(out, 200, doc)
		   : reply_err(out, 500, "GET /balloon/statistics: out of memory");
}

static int h_balloon_stats_patch(struct api *a, struct req *r, struct api_response *out)
{
	static const char *const fields[] = {"stats_polling_interval_s", NULL};
	struct kiln_err e = {0};
	struct jbody b;
	uint64_t s;
	int ret;

	jb_init(&b, "balloon/statistics", r->body);
	if (jres_check_fields(&b.r, fields) < 0 ||
	    jf_uint(&b.r, "stats_polling_interval_s", JF_REQUIRED, 0, UINT16_MAX, &s) < 0)
		return bad_body(out, &b);
	if (!a->cfg->balloon.enabled)
		return reply_err(out, 400, NO_BALLOON);
	if (!a->ops->balloon_stats_interval)
		return reply_err(out, 400, "balloon/statistics: not supported");
	ret = a->ops->balloon_stats_interval(a->ctx, (uint16_t)s, &e);
	if (ret < 0)
		return reply_op_err(out, "Balloon update error", ret, &e);
	a->cfg->balloon.stats_interval_s = (uint16_t)s;
	return reply_ok(out);
}

static int h_serial(struct api *a, struct req *r, struct api_response *out)
{
	char err[ERR_LEN] = "";

	return converted(config_json_serial(a->cfg, r->body, err, sizeof(err)), err, out);
}

static int h_vm_config(struct api *a, struct req *r, struct api_response *out)
{
	json_t *doc = config_json_export(a->cfg);

	if (!doc)
		return reply_err(out, 500, "GET /vm/config: cannot export the configuration");
	return reply(out, 200, doc); /* logger and metrics null, as in Firecracker */
}

/* ---- actions: their own table of allowed states ---- */

static int act_start(struct api *a, struct api_response *out)
{
	struct kiln_err e = {0};
	int ret;

	if (!a->ops->start)
		return reply_err(out, 400, "InstanceStart: not supported");
	if (!a->cfg->kernel_path[0]) /* the demo guest is kiln run's, not the API's */
		return reply_err(out, 400, "Cannot start microvm without kernel configuration.");
	ret = a->ops->start(a->ctx, &e);
	return ret < 0 ? reply_op_err(out, "InstanceStart", ret, &e) : reply_ok(out);
}

static int act_ctrl_alt_del(struct api *a, struct api_response *out)
{
	struct kiln_err e = {0};
	int ret;

	if (!a->ops->ctrl_alt_del)
		return reply_err(out, 400, "SendCtrlAltDel: not supported");
	ret = a->ops->ctrl_alt_del(a->ctx, &e);
	if (ret == -ENOSPC)
		return reply_err(out, 400,
				 "SendCtrlAltDel: the guest has not read the previous "
				 "key sequence yet");
	return ret < 0 ? reply_op_err(out, "SendCtrlAltDel", ret, &e) : reply_ok(out);
}

static int act_flush(struct api *a, struct api_response *out)
{
	int ret = api_flush_metrics(a);

	return ret < 0 ? reply_err(out, 400, "FlushMetrics: writing to '%s': %s", a->metrics_path,
				   strerror(-ret))
		       : reply_ok(out);
}

/* Indexed like action_names. */
static const struct action {
	int (*fn)(struct api *a, struct api_response *out);
	unsigned states;
} actions[] = {
    {act_start, PRE_BOOT},
    {act_ctrl_alt_del, POST_BOOT},
    {act_flush, ANY_STATE},
};

static const char *const action_names[] = {"InstanceStart", "SendCtrlAltDel", "FlushMetrics", NULL};

static int h_actions(struct api *a, struct req *r, struct api_response *out)
{
	static const char *const fields[] = {"action_type", NULL};
	enum api_vm_state now = state(a);
	struct jbody b;
	unsigned i;

	jb_init(&b, "actions", r->body);
	if (jres_check_fields(&b.r, fields) < 0 ||
	    jf_enum(&b.r, "action_type", JF_REQUIRED, action_names, &i) < 0)
		return bad_body(out, &b);
	if (!(actions[i].states & now))
		return reply_state(out, action_names[i], actions[i].states, now);
	return actions[i].fn(a, out);
}

static int h_vm(struct api *a, struct req *r, struct api_response *out)
{
	static const char *const fields[] = {"state", NULL};
	static const char *const states[] = {"Paused", "Resumed", NULL};
	enum api_vm_state now = state(a);
	struct kiln_err e = {0};
	struct jbody b;
	unsigned want;
	int ret;

	jb_init(&b, "vm", r->body);
	if (jres_check_fields(&b.r, fields) < 0 ||
	    jf_enum(&b.r, "state", JF_REQUIRED, states, &want) < 0)
		return bad_body(out, &b);
	if (want == 0)
		ret = now == API_PAUSED || !a->ops->pause ? 0 : a->ops->pause(a->ctx, &e);
	else
		ret = now == API_RUNNING || !a->ops->resume ? 0 : a->ops->resume(a->ctx, &e);
	return ret < 0 ? reply_op_err(out, states[want], ret, &e) : reply_ok(out);
}

/* ---- logger and metrics ---- */

static int parse_level(const char *s, enum log_level *l)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {{"Error", LOG_ERROR}, {"Warning", LOG_WARN}, {"Info", LOG_INFO},
		      {"Debug", LOG_DEBUG}, {"Trace", LOG_DEBUG},  {"Off", LOG_OFF}};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcasecmp(s, levels[i].name) == 0) {
			*l = levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

/* PUT /logger's fields. */
struct logger_req {
	const char *path, *level, *module;
	bool show_level, show_origin;
};

static int logger_read(struct jbody *b, struct logger_req *l)
{
	static const char *const fields[] = {"log_path",	"level",  "show_level",
					     "show_log_origin", "module", NULL};
	const struct jres *r = &b->r;

	if (jres_check_fields(r, fields) < 0 || jf_string_ref(r, "log_path", 0, &l->path) < 0 ||
	    jf_string_ref(r, "level", 0, &l->level) < 0 ||
	    jf_string_ref(r, "module", 0, &l->module) < 0 ||
	    jf_bool(r, "show_level", 0, &l->show_level) < 0 ||
	    jf_bool(r, "show_log_origin", 0, &l->show_origin) < 0)
		return -EINVAL;
	if (l->module && l->module[0])
		return jres_fail(r, "field 'module': kiln does not filter by module");
	return 0;
}

static int h_logger(struct api *a, struct req *r, struct api_response *out)
{
	struct logger_req l = {0};
	enum log_level level = LOG_INFO;
	struct jbody b;
	int fd = -1;

	jb_init(&b, "logger", r->body);
	if (logger_read(&b, &l) < 0)
		return bad_body(out, &b);
	if (l.level && parse_level(l.level, &level) < 0) {
		jres_fail(&b.r,
			  "field 'level': \"%.64s\" is not one of \"Error\", \"Warning\", "
			  "\"Info\", \"Debug\", \"Trace\", \"Off\"",
			  l.level);
		return bad_body(out, &b);
	}
	if (l.path) {
		fd = open_sink(l.path, "logger", out);
		if (fd < 0)
			return out->status;
	}
	log_set_output(fd, l.show_level, l.show_origin);
	log_set_level(level);
	json_decref(a->logger);
	a->logger = json_deep_copy(r->body);
	return reply_ok(out);
}

/* properties: an object of strings (null: none). */
static int read_props(const struct jres *parent, const json_t **props)
{
	const char *key;
	json_t *v;
	char name[32];
	struct jres r = {name, NULL, parent->err, parent->errlen};
	int ret = jf_object(parent, "properties", 0, props);

	if (ret <= 0)
		return ret;
	snprintf(name, sizeof(name), "%s.properties", parent->name);
	json_object_foreach((json_t *)*props, key, v)
	{
		if (!json_is_string(v))
			return jres_fail(&r, "field '%s': expected a string, got %s", key,
					 json_type_name(v));
	}
	return 1;
}

static int h_metrics(struct api *a, struct req *r, struct api_response *out)
{
	static const char *const fields[] = {"metrics_path", "emit_id", "properties", NULL};
	const json_t *props = NULL;
	const char *path = NULL;
	bool emit_id = false;
	struct jbody b;
	int fd;

	jb_init(&b, "metrics", r->body);
	if (jres_check_fields(&b.r, fields) < 0 ||
	    jf_string_ref(&b.r, "metrics_path", JF_REQUIRED | JF_NONEMPTY, &path) < 0 ||
	    jf_bool(&b.r, "emit_id", 0, &emit_id) < 0 || read_props(&b.r, &props) < 0)
		return bad_body(out, &b);
	if (a->metrics_fd >= 0)
		return reply_err(
		    out, 400,
		    "metrics: Reinitialization of metrics not allowed. (the metrics system "
		    "is already initialized: PUT /metrics works once)");
	if (strlen(path) >= sizeof(a->metrics_path))
		return reply_err(out, 400, "metrics: field 'metrics_path': longer than %zu bytes",
				 sizeof(a->metrics_path) - 1);
	fd = open_sink(path, "metrics", out);
	if (fd < 0)
		return out->status;
	a->metrics_fd = fd;
	strcpy(a->metrics_path, path);
	a->metrics_emit_id = emit_id;
	a->metrics_props = props ? json_deep_copy(props) : NULL;
	return reply_ok(out);
}

static json_t *metrics_line(struct api *a)
{
	json_t *line = a->ops->metrics ? a->ops->metrics(a->ctx) : json_object();
	struct timespec ts;

	if (!line)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_object_set_new(line, "utc_timestamp_ms",
			    json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	if (a->metrics_emit_id)
		json_object_set_new(line, "id", json_string(a->id));
	if (a->metrics_props)
		json_object_set(line, "properties", a->metrics_props);
	json_object_set_new(line, "api",
			    json_pack("{s:I,s:I}", "requests", (json_int_t)a->requests,
				      "bad_requests", (json_int_t)a->bad_requests));
	return line;
}

int api_flush_metrics(struct api *a)
{
	json_t *line;
	char *text;
	size_t len;
	ssize_t n;

	if (a->metrics_fd < 0)
		return 0;
	line = metrics_line(a);
	text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n'; /* one write, so a line is never split between writers */
	n = write(a->metrics_fd, text, len + 1);
	free(text);
	return n < 0 ? -errno : 0;
}

/* ---- snapshots ---- */

static int h_snapshot_create(struct api *a, struct req *r, struct api_response *out)
{
	static const char *const fields[] = {"snapshot_path", "mem_file_path", "snapshot_type",
					     "version", NULL};
	static const char *const types[] = {"Full", "Diff", NULL};
	const char *snap = NULL, *mem = NULL, *version = NULL;
	struct kiln_err e = {0};
	unsigned type = 0;
	struct jbody b;
	int ret;

	jb_init(&b, "snapshot/create", r->body);
	if (jres_check_fields(&b.r, fields) < 0 ||
	    jf_string_ref(&b.r, "snapshot_path", JF_REQUIRED | JF_NONEMPTY, &snap) < 0 ||
	    jf_string_ref(&b.r, "mem_file_path", JF_REQUIRED | JF_NONEMPTY, &mem) < 0 ||
	    jf_enum(&b.r, "snapshot_type", 0, types, &type) < 0 ||
	    jf_string_ref(&b.r, "version", 0, &version) < 0)
		return bad_body(out, &b);
	if (!a->ops->snapshot_create)
		return reply_err(out, 400, "snapshot/create: not supported");
	ret = a->ops->snapshot_create(a->ctx, snap, mem, type == 1, &e);
	return ret < 0 ? reply_op_err(out, "snapshot/create", ret, &e) : reply_ok(out);
}

/* mem_backend {backend_type "File", backend_path}. */
static int load_mem_backend(const struct jres *parent, const json_t *mb, const char **mem)
{
	static const char *const fields[] = {"backend_type", "backend_path", NULL};
	static const char *const types[] = {"File", "Uffd", NULL};
	struct jres r = {"snapshot/load.mem_backend", mb, parent->err, parent->errlen};
	unsigned type;

	if (jres_check_fields(&r, fields) < 0 ||
	    jf_enum(&r, "backend_type", JF_REQUIRED, types, &type) < 0 ||
	    jf_string_ref(&r, "backend_path", JF_REQUIRED | JF_NONEMPTY, mem) < 0)
		return -EINVAL;
	if (type != 0)
		return jres_fail(&r, "field 'backend_type': \"%s\" is not supported (File only)",
				 types[type]);
	return 0;
}

/* The memory file: mem_backend or mem_file_path, one of them. */
static int load_mem_path(const struct jres *r, const char **mem)
{
	const json_t *mb = NULL;

	if (jf_string_ref(r, "mem_file_path", JF_NONEMPTY, mem) < 0 ||
	    jf_object(r, "mem_backend", 0, &mb) < 0)
		return -EINVAL;
	if (!mb == !*mem)
		return jres_fail(r, "exactly one of 'mem_backend' and 'mem_file_path' is "
				    "required");
	return mb ? load_mem_backend(r, mb, mem) : 0;
}

static int h_snapshot_load(struct api *a, struct req *r, struct api_response *out)
{
	static const char *const fields[] = {
	    "snapshot_path",	 "mem_file_path",	  "mem_backend", "resume_vm",
	    "track_dirty_pages", "enable_diff_snapshots", NULL};
	struct api_snapshot_load l = {.check_config = a->configured};
	bool dirty = false, diff = false;
	struct kiln_err e = {0};
	struct jbody b;
	int ret;

	jb_init(&b, "snapshot/load", r->body);
	if (jres_check_fields(&b.r, fields) < 0 ||
	    jf_string_ref(&b.r, "snapshot_path", JF_REQUIRED | JF_NONEMPTY, &l.snapshot_path) < 0 ||
	    load_mem_path(&b.r, &l.mem_path) < 0 || jf_bool(&b.r, "resume_vm", 0, &l.resume) < 0 ||
	    jf_bool(&b.r, "track_dirty_pages", 0, &dirty) < 0 ||
	    jf_bool(&b.r, "enable_diff_snapshots", 0, &diff) < 0)
		return bad_body(out, &b);
	l.track_dirty = dirty || diff;
	if (given(r->body, "mem_file_path") || given(r->body, "enable_diff_snapshots"))
		deprecated(out,
			   "PUT /snapshot/load: mem_file_path and enable_diff_snapshots fields "
			   "are deprecated.");
	if (!a->ops->snapshot_load)
		return reply_err(out, 400, "snapshot/load: not supported");
	ret = a->ops->snapshot_load(a->ctx, &l, &e);
	return ret < 0 ? reply_op_err(out, "snapshot/load", ret, &e) : reply_ok(out);
}

/* ---- migration (kiln's extension) ---- */

/* An optional integer field in min..max into *v (kept when absent). */
static int read_u32_in(const struct jres *r, const char *field, uint32_t min, uint32_t max,
		       uint32_t *v)
{
	uint64_t n;
	int ret = jf_uint(r, field, 0, min, max, &n);

	if (ret > 0)
		*v = (uint32_t)n;
	return ret;
}

/* An optional integer field in 0..max into *v (kept when absent). */
static int read_u32(const struct jres *r, const char *field, uint32_t max, uint32_t *v)
{
	return read_u32_in(r, field, 0, max, v);
}

static int h_migrate(struct api *a, struct req *r, struct api_response *out)
{
	static const char *const fields[] = {"destination", "downtime_ms",     "max_rounds",
					     "timeout_s",   "stall_timeout_s", "on_timeout",
					     NULL};
	static const char *const policies[] = {"force", "cancel", NULL};
	struct api_migrate mg = {
	    .downtime_ms = 300, .max_rounds = 30, .timeout_s = 60, .stall_timeout_s = 10};
	struct kiln_err e = {0};
	unsigned policy = 0;
	struct jbody b;
	int ret;

	jb_init(&b, "migrate", r->body);
	if (jres_check_fields(&b.r, fields) < 0 ||
	    jf_string_ref(&b.r, "destination", JF_REQUIRED | JF_NONEMPTY, &mg.destination) < 0 ||
	    jf_enum(&b.r, "on_timeout", 0, policies, &policy) < 0 ||
	    read_u32(&b.r, "downtime_ms", 3600000, &mg.downtime_ms) < 0 ||
	    read_u32(&b.r, "max_rounds", 100000, &mg.max_rounds) < 0 ||
	    read_u32(&b.r, "timeout_s", 86400, &mg.timeout_s) < 0 ||
	    read_u32_in(&b.r, "stall_timeout_s", 1, 3600, &mg.stall_timeout_s) < 0)
		return bad_body(out, &b);
	mg.cancel_on_timeout = policy == 1;
	if (!a->ops->migrate)
		return reply_err(out, 400, "migrate: not supported");
	ret = a->ops->migrate(a->ctx, &mg, &e);
	return ret < 0 ? reply_op_err(out, "migrate", ret, &e) : reply_ok(out);
}

static int h_migrate_get(struct api *a, struct req *r, struct api_response *out)
{
	json_t *o = a->ops->migrate_status ? a->ops->migrate_status(a->ctx) : NULL;

	(void)r;
	if (!o)
		return reply_err(out, 400, "migrate: not supported");
	return reply(out, 200, o);
}

/* ---- /mmds: the metadata store ---- */

/* 0 if /mmds can be used now; else the 400 in out. After boot Firecracker has a store only if
 * something asked for it before (it builds the store then), so kiln answers as it does. */
static int mmds_unavailable(struct api *a, struct api_response *out)
{
	if (!a->mmds)
		return reply_err(out, 400, "MMDS: not supported by this process");
	if (state(a) != API_NOT_STARTED && !a->mmds->created && !a->cfg->mmds.set)
		return reply_err(out, 400, "MMDS error: The MMDS data store is not initialized.");
	a->mmds->created = true;
	return 0;
}

/* The answer to a put or patch of the store. */
static int mmds_result(struct api *a, int ret, const char *what, struct api_response *out)
{
	if (ret == -EFBIG) /* 413, as Firecracker answers an MMDS over --mmds-size-limit */
		return reply_err(out, 413,
				 "MMDS limit exceeded error: The MMDS patch request doesn't fit. "
				 "(the data store is limited to %zu bytes of JSON)",
				 a->mmds->limit);
	if (ret == -ENODATA)
		return reply_err(out, 400, "MMDS error: The MMDS data store is not initialized.");
	if (ret < 0)
		return reply_err(out, 500, "%s: %s", what, strerror(-ret));
	return reply_ok(out);
}

static int h_mmds_get(struct api *a, struct req *r, struct api_response *out)
{
	json_t *v;

	(void)r;
	if (mmds_unavailable(a, out))
		return out->status;
	v = mmds_get(a->mmds);
	return v ? reply(out, 200, v) : reply_err(out, 500, "GET /mmds: out of memory");
}

static int h_mmds_put(struct api *a, struct req *r, struct api_response *out)
{
	if (mmds_unavailable(a, out))
		return out->status;
	return mmds_result(a, mmds_put(a->mmds, r->body), "PUT /mmds", out);
}

static int h_mmds_patch(struct api *a, struct req *r, struct api_response *out)
{
	if (mmds_unavailable(a, out))
		return out->status;
	return mmds_result(a, mmds_patch(a->mmds, r->body), "PATCH /mmds", out);
}

static int h_mmds_config(struct api *a, struct req *r, struct api_response *out)
{
	char err[ERR_LEN] = "";
	bool v1 = false;
	int ret;

	if (!a->mmds)
		return reply_err(out, 400, "MMDS: not supported by this process");
	ret = config_json_mmds_config(a->cfg, r->body, &v1, err, sizeof(err));
	if (ret == 0)
		a->mmds->created = true;
	converted(ret, err, out);
	out->deprecated =
	    v1; /* Firecracker: "PUT /mmds/config: V1 is deprecated. Use V2 instead." */
	return out->status;
}

/* ---- the route table ---- */

static const struct route routes[] = {
    {"GET", "/", h_root, ANY_STATE, BODY_IGNORED},
    {"GET", "/version", h_version, ANY_STATE, BODY_IGNORED},
    {"PUT", "/boot-source", h_boot_source, PRE_BOOT, BODY_OBJECT},
    {"GET", "/machine-config", h_machine_get, ANY_STATE, BODY_IGNORED},
    {"PUT", "/machine-config", h_machine_put, PRE_BOOT, BODY_OBJECT},
    {"PATCH", "/machine-config", h_machine_put, PRE_BOOT, BODY_OBJECT},
    {"PUT", "/drives/{}", h_drive, PRE_BOOT, BODY_OBJECT},
    {"PATCH", "/drives/{}", h_drive_patch, POST_BOOT, BODY_OBJECT},
    {"PUT", "/actions", h_actions, ANY_STATE, BODY_OBJECT}, /* per action: actions[] */
    {"PATCH", "/vm", h_vm, POST_BOOT, BODY_OBJECT},
    {"GET", "/vm/config", h_vm_config, ANY_STATE, BODY_IGNORED},
    {"PUT", "/logger", h_logger, ANY_STATE, BODY_OBJECT},
    {"PUT", "/metrics", h_metrics, ANY_STATE, BODY_OBJECT},
    {"PUT", "/network-interfaces/{}", h_net, PRE_BOOT, BODY_OBJECT},
    {"PATCH", "/network-interfaces/{}", h_net_patch, POST_BOOT, BODY_OBJECT},
    {"PUT", "/entropy", h_entropy, PRE_BOOT, BODY_OBJECT},
    {"PUT", "/vsock", h_vsock, PRE_BOOT, BODY_OBJECT},
    {"PUT", "/serial", h_serial, PRE_BOOT, BODY_OBJECT},
    {"GET", "/balloon", h_balloon_get, ANY_STATE, BODY_IGNORED},
    {"PUT", "/balloon", h_balloon_put, PRE_BOOT, BODY_OBJECT},
    {"PATCH", "/balloon", h_balloon_patch, POST_BOOT, BODY_OBJECT},
    {"GET", "/balloon/statistics", h_balloon_stats_get, POST_BOOT, BODY_IGNORED},
    {"PATCH", "/balloon/statistics", h_balloon_stats_patch, POST_BOOT, BODY_OBJECT},
    {"PUT", "/snapshot/create", h_snapshot_create, API_PAUSED, BODY_OBJECT},
    {"PUT", "/snapshot/load", h_snapshot_load, PRE_BOOT, BODY_OBJECT},
    {"PUT", "/migrate", h_migrate, POST_BOOT, BODY_OBJECT},
    {"GET", "/migrate", h_migrate_get, ANY_STATE, BODY_IGNORED},
    {"GET", "/mmds", h_mmds_get, ANY_STATE, BODY_IGNORED},
    {"PUT", "/mmds", h_mmds_put, ANY_STATE, BODY_ANY},
    {"PATCH", "/mmds", h_mmds_patch, ANY_STATE, BODY_ANY},
    {"PUT", "/mmds/config", h_mmds_config, PRE_BOOT, BODY_OBJECT},
    {"PUT", "/kiln/vfio/{}", h_vfio, PRE_BOOT, BODY_OBJECT},
};

/* Firecracker resources kiln does not have (yet): a clear 400 instead of a 404 or a no-op. */
static const char *const unimplemented[] = {
    "/balloon/hinting", "/cpu-config", "/pmem", "/hotplug", NULL,
};

/* Whether path matches pattern; a "{}" segment takes one non-empty segment into param. */
static bool path_match(const char *pattern, const char *path, char *param)
{
	const char *brace = strstr(pattern, "{}");
	size_t pre = brace ? (size_t)(brace - pattern) : 0, seg;

	if (!brace)
		return strcmp(pattern, path) == 0;
	if (strncmp(pattern, path, pre) != 0)
		return false;
	seg = strlen(path + pre);
	if (seg == 0 || seg >= PATH_PARAM || memchr(path + pre, '/', seg))
		return false;
	memcpy(param, path + pre, seg + 1);
	return true;
}

static const char *unimplemented_prefix(const char *path)
{
	for (const char *const *p = unimplemented; *p; p++) {
		size_t n = strlen(*p);

		if (strncmp(path, *p, n) == 0 && (path[n] == 0 || path[n] == '/'))
			return *p;
	}
	return NULL;
}

/* The route for method+path, or NULL with the 400 already in out. */
static const struct route *route_find(const char *method, const char *path, struct req *r,
				      struct api_response *out)
{
	char allowed[64] = "";
	const char *missing;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!path_match(routes[i].path, path, r->param))
			continue;
		if (strcmp(routes[i].method, method) == 0)
			return &routes[i];
		if (strlen(allowed) + strlen(routes[i].method) + 3 < sizeof(allowed))
			strcat(strcat(allowed, allowed[0] ? ", " : ""), routes[i].method);
	}
	missing = unimplemented_prefix(path);
	if (missing)
		reply_err(out, 400, "kiln does not implement %s yet", missing);
	else if (allowed[0])
		reply_err(out, 400, "Invalid request method and/or path: %s %s (allowed: %s)",
			  method, path, allowed);
	else
		reply_err(out, 400, "Invalid request method and/or path: %s %s", method, path);
	return NULL;
}

/* Parse the body of a route that takes a JSON object. */
static int body_parse(const struct route *rt, const char *body, size_t len, size_t max,
		      struct req *r, struct api_response *out)
{
	json_error_t jerr;

	if (rt->body == BODY_IGNORED)
		return 0;
	if (len > max)
		return reply_err(out, 400, "%s %s: the body exceeds %zu bytes", r->method, r->path,
				 max);
	if (len == 0)
		return reply_err(out, 400, "%s %s: a JSON body is required", r->method, r->path);
	r->body = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!r->body)
		return reply_err(out, 400, "%s %s: invalid JSON at line %d, column %d: %s",
				 r->method, r->path, jerr.line, jerr.column, jerr.text);
	if (rt->body == BODY_OBJECT && !json_is_object(r->body))
		return reply_err(out, 400, "%s %s: the body must be a JSON object", r->method,
				 r->path);
	return 0;
}

static int dispatch(struct api *a, struct req *r, const char *body, size_t len,
		    struct api_response *out)
{
	const struct route *rt = route_find(r->method, r->path, r, out);
	enum api_vm_state now;
	char what[160];

	if (!rt || body_parse(rt, body, len, a->max_body, r, out))
		return out->status;
	now = state(a);
	if (!(rt->states & now)) {
		snprintf(what, sizeof(what), "%s %s", r->method, r->path);
		return reply_state(out, what, rt->states, now);
	}
	rt->fn(a, r, out);
	/* A successful pre-boot configuration change: a snapshot loaded later must match it. */
	if (out->status < 300 && rt->states == PRE_BOOT && strcmp(r->method, "GET") != 0 &&
	    rt->fn != h_snapshot_load)
		a->configured = true;
	return out->status;
}

int api_dispatch(struct api *a, const char *method, const char *path, const char *body, size_t len,
		 struct api_response *out)
{
	struct req r = {.method = method, .path = path};

	*out = (struct api_response){.status = 500};
	a->requests++;
	dispatch(a, &r, body, len, out);
	json_decref(r.body);
	if (out->status >= 400)
		a->bad_requests++;
	return out->status;
}

int api_reply_error(struct api *a, struct api_response *out, int status, const char *msg)
{
	a->requests++;
	a->bad_requests++;
	return reply_err(out, status, "%s", msg);
}

void api_response_free(struct api_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

void api_init(struct api *a, struct vm_config *cfg, const struct api_ops *ops, void *ctx)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->ops = ops;
	a->ctx = ctx;
	a->metrics_fd = -1;
	a->max_body = API_MAX_BODY;
	snprintf(a->id, sizeof(a->id), "anonymous-instance");
}

void api_destroy(struct api *a)
{
	if (a->metrics_fd >= 0)
		close(a->metrics_fd);
	a->metrics_fd = -1;
	json_decref(a->metrics_props);
	json_decref(a->logger);
	a->metrics_props = a->logger = NULL;
}
