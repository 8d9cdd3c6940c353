/* compile.c — a filter description (JSON) to one BPF program per kind of thread, with libseccomp
 * (seccomp_rule_add_array, then seccomp_export_bpf into a memfd to take the program's bytes).
 *
 * The description has Firecracker's seccompiler shape with kiln's thread names:
 *   {"vmm": {"default_action": "trap", "filter_action": "allow",
 *            "filter": [{"syscall": "read"},
 *                       {"syscall": "ioctl", "args": [{"index": 1, "type": "dword",
 *                                                      "op": "eq", "val": 44672}]}]},
 *    "vcpu": {...}, "migration": {...}}
 * Actions: "allow", "trap", "kill_thread", "kill_process", "log", {"errno": N}; a rule may carry
 * its own "action" (a kiln extension). Ops: eq, ne, lt, le, gt, ge, {"masked_eq": MASK}. Rules
 * for the same call are alternatives; a rule's args must all hold. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "seccomp/seccomp.h"
#include "util/compiler.h"
#include "util/io.h"
#include "util/log.h"

static const char *const thread_names[SECCOMP_NR_THREADS] = {
    [SECCOMP_VMM] = "vmm", [SECCOMP_VCPU] = "vcpu", [SECCOMP_MIGRATION] = "migration"};

const char *seccomp_thread_name(enum seccomp_thread t)
{
	return (unsigned)t < SECCOMP_NR_THREADS ? thread_names[t] : "?";
}

/* An action: a string or {"errno": N}. */
static int parse_action(const json_t *j, uint32_t *out)
{
	static const struct {
		const char *name;
		uint32_t act;
	} names[] = {{"allow", SCMP_ACT_ALLOW},
		     {"trap", SCMP_ACT_TRAP},
		     {"kill_thread", SCMP_ACT_KILL_THREAD},
		     {"kill_process", SCMP_ACT_KILL_PROCESS},
		     {"log", SCMP_ACT_LOG}};
	json_t *e = json_is_object(j) ? json_object_get(j, "errno") : NULL;

	if (e && json_is_integer(e) && json_object_size(j) == 1 && json_integer_value(e) >= 0 &&
	    json_integer_value(e) <= 4095) {
		*out = SCMP_ACT_ERRNO((uint16_t)json_integer_value(e));
		return 0;
	}
	for (size_t i = 0; json_is_string(j) && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(json_string_value(j), names[i].name) == 0) {
			*out = names[i].act;
			return 0;
		}
	return -EINVAL;
}

/* One argument comparison. */
static int parse_arg(const json_t *a, struct scmp_arg_cmp *c)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {{"eq", SCMP_CMP_EQ}, {"ne", SCMP_CMP_NE}, {"lt", SCMP_CMP_LT},
		   {"le", SCMP_CMP_LE}, {"gt", SCMP_CMP_GT}, {"ge", SCMP_CMP_GE}};
	json_t *idx = json_object_get(a, "index"), *type = json_object_get(a, "type"),
	       *op = json_object_get(a, "op"), *val = json_object_get(a, "val");
	bool dword;

	if (!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) > 5 ||
	    !json_is_string(type) || !json_is_integer(val) || !op)
		return -EINVAL;
	dword = strcmp(json_string_value(type), "dword") == 0;
	if (!dword && strcmp(json_string_value(type), "qword") != 0)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->arg = (unsigned)json_integer_value(idx);
	c->datum_a = (uint64_t)json_integer_value(val);
	if (json_is_object(op)) {
		json_t *m = json_object_get(op, "masked_eq");

		if (!json_is_integer(m) || json_object_size(op) != 1)
			return -EINVAL;
		c->op = SCMP_CMP_MASKED_EQ;
		c->datum_a = (uint64_t)json_integer_value(m);
		c->datum_b = (uint64_t)json_integer_value(val);
	} else {
		size_t i = 0;

		while (json_is_string(op) && i < sizeof(ops) / sizeof(ops[0]) &&
		       strcmp(json_string_value(op), ops[i].name) != 0)
			i++;
		if (!json_is_string(op) || i == sizeof(ops) / sizeof(ops[0]))
			return -EINVAL;
		c->op = ops[i].op;
	}
	/* dword: the low 32 bits only, as the kernel reads an int argument */
	if (dword && c->op == SCMP_CMP_EQ) {
		c->op = SCMP_CMP_MASKED_EQ;
		c->datum_b = (uint32_t)c->datum_a;
		c->datum_a = 0xffffffffu;
	} else if (dword) {
		c->datum_a = (uint32_t)c->datum_a;
		c->datum_b = (uint32_t)c->datum_b;
	}
	return 0;
}

/* One rule of thread `who`'s filter. */
static int add_rule(scmp_filter_ctx ctx, const json_t *r, uint32_t act, const char *who, char *err,
		    size_t errlen)
{
	json_t *name = json_object_get(r, "syscall"), *args = json_object_get(r, "args");
	struct scmp_arg_cmp cmp[6];
	char shown[65];
	size_t n = 0;
	int nr, ret;

	if (!json_is_object(r) || !json_is_string(name))
		return config_fail(err, errlen, "seccomp: %s: a rule without a \"syscall\" name",
				   who);
	log_printable(json_string_value(name), shown, sizeof(shown));
	nr = seccomp_syscall_resolve_name(json_string_value(name));
	if (nr == __NR_SCMP_ERROR)
		return config_fail(err, errlen, "seccomp: %s: unknown system call '%.64s'", who,
				   shown);
	if (json_object_get(r, "action") && parse_action(json_object_get(r, "action"), &act) < 0)
		return config_fail(err, errlen, "seccomp: %s: rule for '%.64s': bad action", who,
				   shown);
	if (args && (!json_is_array(args) || json_array_size(args) > 6))
		return config_fail(err, errlen,
				   "seccomp: %s: rule for '%.64s': \"args\" is not a list of "
				   "at most 6",
				   who, shown);
	for (n = 0; args && n < json_array_size(args); n++)
		if (parse_arg(json_array_get(args, n), &cmp[n]) < 0)
			return config_fail(err, errlen,
					   "seccomp: %s: rule for '%.64s': bad argument "
					   "comparison (index 0-5, type dword|qword, op, val)",
					   who, shown);
	ret = seccomp_rule_add_array(ctx, act, nr, (unsigned)n, n ? cmp : NULL);
	/* a call this architecture does not have (e.g. open on arm64) is no rule */
	if (ret == -EDOM || (ret < 0 && nr < 0))
		return 0;
	if (ret < 0)
		return config_fail(
		    err, errlen, "seccomp: %s: rule for '%.64s' refused by libseccomp", who, shown);
	return 0;
}

/* The BPF program ctx describes, into *insns / *len. */
static int export_bpf(scmp_filter_ctx ctx, void **insns, uint32_t *len)
{
	int fd = memfd_create("kiln-seccomp", MFD_CLOEXEC);
	off_t size;
	int ret;

	if (fd < 0)
		return -errno;
	ret = seccomp_export_bpf(ctx, fd);
	size = ret == 0 ? lseek(fd, 0, SEEK_END) : -1;
	if (ret == 0 && (size <= 0 || size % 8 || lseek(fd, 0, SEEK_SET) < 0))
		ret = -EIO;
	if (ret == 0 && !(*insns = malloc((size_t)size)))
		ret = -ENOMEM;
	if (ret == 0 && (ret = io_read_all(fd, *insns, (size_t)size)) < 0) {
		free(*insns);
		*insns = NULL;
	}
	if (ret == 0)
		*len = (uint32_t)(size / 8);
	close(fd);
	return ret < 0 ? ret : 0;
}

static int compile_thread(const json_t *t, const char *who, void **insns, uint32_t *len, char *err,
			  size_t errlen)
{
	json_t *filter = json_object_get(t, "filter");
	uint32_t def, act;
	scmp_filter_ctx ctx;
	int ret = 0;

	if (!json_is_object(t) || parse_action(json_object_get(t, "default_action"), &def) < 0 ||
	    parse_action(json_object_get(t, "filter_action"), &act) < 0 || !json_is_array(filter))
		return config_fail(err, errlen,
				   "seccomp: %s: needs \"default_action\", \"filter_action\" "
				   "and a \"filter\" list",
				   who);
	ctx = seccomp_init(def);
	/* A binary tree of the calls (not a list), ioctl tested first: a vCPU's every KVM_RUN
	 * passes the filter. */
	if (ctx && (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0 ||
		    seccomp_syscall_priority(ctx, SCMP_SYS(ioctl), 255) < 0)) {
		seccomp_release(ctx);
		ctx = NULL;
	}
	if (!ctx)
		return config_fail(err, errlen, "seccomp: %s: libseccomp cannot start a filter",
				   who);
	for (size_t i = 0; ret == 0 && i < json_array_size(filter); i++)
		ret = add_rule(ctx, json_array_get(filter, i), act, who, err, errlen);
	if (ret == 0 && export_bpf(ctx, insns, len) < 0)
		ret = config_fail(err, errlen, "seccomp: %s: libseccomp cannot export the program",
				  who);
	seccomp_release(ctx);
	return ret;
}

int seccomp_compile(const json_t *desc, struct seccomp_filters *out, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(desc))
		return config_fail(err, errlen, "seccomp: the description is not a JSON object");
	json_object_foreach((json_t *)desc, key, v)
	{
		char shown[65];
		int t = 0;

		while (t < SECCOMP_NR_THREADS && strcmp(key, thread_names[t]) != 0)
			t++;
		if (t == SECCOMP_NR_THREADS)
			return config_fail(err, errlen,
					   "seccomp: unknown thread '%.64s' (kiln's are vmm, "
					   "vcpu and migration)",
					   log_printable(key, shown, sizeof(shown)));
	}
	for (int t = 0; ret == 0 && t < SECCOMP_NR_THREADS; t++) {
		v = json_object_get(desc, thread_names[t]);
		if (!v)
			ret = config_fail(err, errlen, "seccomp: no filter for the '%s' thread",
					  thread_names[t]);
		else
			ret = compile_thread(v, thread_names[t], &out->prog[t].insns,
					     &out->prog[t].len, err, errlen);
	}
	if (ret < 0)
		seccomp_filters_free(out);
	return ret;
}

void seccomp_filters_free(struct seccomp_filters *f)
{
	for (int t = 0; t < SECCOMP_NR_THREADS; t++) {
		free(f->prog[t].insns);
		f->prog[t].insns = NULL;
		f->prog[t].len = 0;
	}
}
