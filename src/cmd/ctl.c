/* ctl.c — `kiln ctl` and `kiln migrate send`: the API's common actions from the command line
 * (api/client.h does the HTTP), printed readably. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api/client.h"
#include "cmd/cmd.h"
#include "util/unix_sock.h"

/* ---- commands ---- */

struct ctl_cmd {
	const char *name, *method, *path, *body;
	void (*print)(json_t *body);
	const char *done; /* printed after a 204 */
};

static void print_info(json_t *b)
{
	printf("id: %s\nstate: %s\nvmm_version: %s\napp_name: %s\n",
	       json_string_value(json_object_get(b, "id")),
	       json_string_value(json_object_get(b, "state")),
	       json_string_value(json_object_get(b, "vmm_version")),
	       json_string_value(json_object_get(b, "app_name")));
}

static void print_version(json_t *b)
{
	printf("version: %s\n", json_string_value(json_object_get(b, "firecracker_version")));
}

static void print_pretty(json_t *b)
{
	char *s = json_dumps(b, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s)
		puts(s);
	free(s);
}

static const struct ctl_cmd cmds[] = {
    {"info", "GET", "/", NULL, print_info, NULL},
    {"version", "GET", "/version", NULL, print_version, NULL},
    {"config", "GET", "/vm/config", NULL, print_pretty, NULL},
    {"start", "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", NULL, "started"},
    {"pause", "PATCH", "/vm", "{\"state\":\"Paused\"}", NULL, "paused"},
    {"resume", "PATCH", "/vm", "{\"state\":\"Resumed\"}", NULL, "resumed"},
    {"ctrl-alt-del", "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", NULL,
     "Ctrl+Alt+Del sent"},
    {"metrics", "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", NULL, "metrics flushed"},
    {"migrate-status", "GET", "/migrate", NULL, print_pretty, NULL},
};

static int show(const struct ctl_cmd *c, const struct api_client_response *r);

static int usage(FILE *f)
{
	fputs(
	    "usage: kiln ctl --sock PATH COMMAND\n"
	    "commands: info, version, config, start, pause, resume, ctrl-alt-del, metrics,\n"
	    "          snapshot --to SNAPSHOT --mem MEMFILE [--diff]   (VM paused)\n"
	    "          restore --from SNAPSHOT --mem MEMFILE [--resume]   (before boot)\n"
	    "          migrate --to HOST:PORT [--downtime-ms N] [--max-rounds N] [--timeout-s T]\n"
	    "                  [--on-timeout force|cancel] [--stall-timeout-s S]\n"
	    "                  (live migration, with progress)\n"
	    "          migrate-status   (GET /migrate)\n",
	    f);
	return f == stdout ? 0 : 2;
}

/* snapshot/restore: their options after the command name; the request body built from them.
 * NULL (usage error) or a malloc'ed JSON text. */
static char *snapshot_body(const char *name, int argc, char **argv)
{
	const char *snap = NULL, *mem = NULL;
	bool resume = false, load = strcmp(name, "restore") == 0, diff = false;
	json_t *o;
	char *text;

	for (int i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "--to") == 0 || strcmp(argv[i], "--from") == 0) &&
		    i + 1 < argc)
			snap = argv[++i];
		else if (strcmp(argv[i], "--mem") == 0 && i + 1 < argc)
			mem = argv[++i];
		else if (load && strcmp(argv[i], "--resume") == 0)
			resume = true;
		else if (!load && strcmp(argv[i], "--diff") == 0)
			diff = true;
		else
			return NULL;
	}
	if (!snap || !mem)
		return NULL;
	o = load ? json_pack("{s:s, s:{s:s, s:s}, s:b}", "snapshot_path", snap, "mem_backend",
			     "backend_type", "File", "backend_path", mem, "resume_vm", resume)
		 : json_pack("{s:s, s:s, s:s}", "snapshot_path", snap, "mem_file_path", mem,
			     "snapshot_type", diff ? "Diff" : "Full");
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

static int snapshot_cmd(const char *sock, const char *name, int argc, char **argv)
{
	struct ctl_cmd c = {.name = name, .method = "PUT"};
	char *body = snapshot_body(name, argc, argv);
	struct api_client_response r;
	int ret;

	if (!body)
		return usage(stderr);
	c.path = strcmp(name, "restore") == 0 ? "/snapshot/load" : "/snapshot/create";
	c.done = strcmp(name, "restore") == 0 ? "restored" : "snapshot written";
	ret = api_client_request(sock, c.method, c.path, body, &r);
	free(body);
	if (ret < 0) {
		fprintf(stderr, "kiln ctl: %s: %s\n", sock, unix_sock_strerror(ret));
		return 1;
	}
	ret = show(&c, &r);
	free(r.body);
	return ret;
}

/* --- migrate --- */

/* The PUT /migrate body from the options; NULL for a usage error. */
static char *migrate_body(int argc, char **argv)
{
	json_t *o = json_object();
	char *text = NULL;
	int i;

	for (i = 0; o && i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		char *end;
		long long n = strtoll(v, &end, 10);

		if (strcmp(k, "--to") == 0)
			json_object_set_new(o, "destination", json_string(v));
		else if (strcmp(k, "--on-timeout") == 0)
			json_object_set_new(o, "on_timeout", json_string(v));
		else if (*end || n < 0 || !v[0])
			break;
		else if (strcmp(k, "--downtime-ms") == 0)
			json_object_set_new(o, "downtime_ms", json_integer(n));
		else if (strcmp(k, "--max-rounds") == 0)
			json_object_set_new(o, "max_rounds", json_integer(n));
		else if (strcmp(k, "--timeout-s") == 0)
			json_object_set_new(o, "timeout_s", json_integer(n));
		else if (strcmp(k, "--stall-timeout-s") == 0)
			json_object_set_new(o, "stall_timeout_s", json_integer(n));
		else
			break;
	}
	if (o && i == argc && json_object_get(o, "destination"))
		text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* One progress line when the round or the state changed; the state's name, or NULL. */
static const char *migrate_poll(const char *sock, int *last_round)
{
	static char state[32];
	struct api_client_response r;
	json_t *b;
	int round;

	if (api_client_request(sock, "GET", "/migrate", NULL, &r) < 0)
		return NULL;
	b = json_loads(r.body, 0, NULL);
	free(r.body);
	snprintf(state, sizeof(state), "%s", json_string_value(json_object_get(b, "state")) ?: "");
	round = (int)json_integer_value(json_object_get(b, "round"));
	if (round != *last_round || strcmp(state, "active") != 0)
		printf("migrate: %s round %d: %lld/%lld pages sent, %lld dirty (%.0f pages/s), "
		       "%.1f MiB/s, estimated downtime %.1f ms\n",
		       state, round, json_integer_value(json_object_get(b, "pages_sent")),
		       json_integer_value(json_object_get(b, "pages_total")),
		       json_integer_value(json_object_get(b, "dirty_pages")),
		       json_number_value(json_object_get(b, "dirty_rate_pps")),
		       json_number_value(json_object_get(b, "bandwidth_mibps")),
		       json_number_value(json_object_get(b, "estimated_downtime_ms")));
	if (strcmp(state, "active") != 0 && strcmp(state, "completed") == 0)
		printf("migrate: completed in %.0f ms, downtime %.1f ms\n",
		       json_number_value(json_object_get(b, "total_ms")),
		       json_number_value(json_object_get(b, "downtime_ms")));
	else if (strcmp(state, "active") != 0)
		fprintf(stderr, "kiln ctl: migrate: %s: %s\n", state,
			json_string_value(json_object_get(b, "error")) ?: "");
	fflush(stdout);
	*last_round = round;
	json_decref(b);
	return state;
}

static int migrate_cmd(const char *sock, int argc, char **argv)
{
	struct ctl_cmd c = {.name = "migrate", .method = "PUT", .path = "/migrate"};
	char *body = migrate_body(argc, argv);
	const char *state = "active";
	struct api_client_response r;
	int ret, last = -1;

	if (!body)
		return usage(stderr);
	ret = api_client_request(sock, c.method, c.path, body, &r);
	free(body);
	if (ret < 0) {
		fprintf(stderr, "kiln ctl: %s: %s\n", sock, unix_sock_strerror(ret));
		return 1;
	}
	c.done = "migration started";
	ret = show(&c, &r);
	free(r.body);
	while (ret == 0 && state && strcmp(state, "active") == 0) {
		usleep(50 * 1000);
		state = migrate_poll(sock, &last);
	}
	/* The source stops after a completed migration: its socket may be gone already. */
	if (ret == 0 && !state)
		printf("migrate: the source's API went away (the VM stopped there: completed)\n");
	return ret ? ret : (!state || strcmp(state, "completed") == 0) ? 0 : 1;
}

int cmd_migrate_send(int argc, char **argv)
{
	const char *sock = NULL;
	int out = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--sock") == 0 && i + 1 < argc)
			sock = argv[++i];
		else
			argv[out++] = argv[i];
	}
	if (!sock) {
		fputs("kiln migrate send: --sock PATH (the source's API socket) is required\n",
		      stderr);
		return 2;
	}
	return migrate_cmd(sock, out, argv);
}

static int show(const struct ctl_cmd *c, const struct api_client_response *r)
{
	json_t *b = r->body[0] ? json_loads(r->body, 0, NULL) : NULL;
	const char *fault = json_string_value(json_object_get(b, "fault_message"));
	int ok = r->status >= 200 && r->status < 300;

	if (!ok)
		fprintf(stderr, "kiln ctl: %s: %d: %s\n", c->name, r->status,
			fault ? fault : r->body);
	else if (c->print && !b)
		fprintf(stderr, "kiln ctl: %s: the answer is not JSON (not kiln's API?): %.60s\n",
			c->name, r->body);
	else if (c->print)
		c->print(b);
	else if (c->done)
		printf("%s\n", c->done);
	json_decref(b);
	return ok && (!c->print || b) ? 0 : 1;
}

int cmd_ctl(int argc, char **argv)
{
	const char *sock = NULL, *name = NULL;
	struct api_client_response r;
	int ret, i;

	for (i = 1; i < argc && !name; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout);
		if (strcmp(argv[i], "--sock") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (argv[i][0] != '-')
			name = argv[i];
		else
			return usage(stderr);
	}
	if (!sock || !name)
		return usage(stderr);
	if (strcmp(name, "snapshot") == 0 || strcmp(name, "restore") == 0)
		return snapshot_cmd(sock, name, argc - i, argv + i);
	if (strcmp(name, "migrate") == 0)
		return migrate_cmd(sock, argc - i, argv + i);
	if (i < argc)
		return usage(stderr);
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		if (strcmp(cmds[k].name, name) != 0)
			continue;
		ret = api_client_request(sock, cmds[k].method, cmds[k].path, cmds[k].body, &r);
		if (ret < 0) {
			fprintf(stderr, "kiln ctl: %s: %s\n", sock, unix_sock_strerror(ret));
			return 1;
		}
		ret = show(&cmds[k], &r);
		free(r.body);
		return ret;
	}
	fprintf(stderr, "kiln ctl: unknown command '%s'\n", name);
	return usage(stderr);
}
