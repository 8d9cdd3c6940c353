/* config_json.c — one short converter per Firecracker resource (plus kiln's extensions) from JSON
 * to struct vm_config, each applied to a copy that replaces cfg only when all of it is valid. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_json.h"
#include "config/json_field.h"
#include "util/file.h"

#define MIB_MIN (CONFIG_MEM_MIN >> 20)
#define MIB_MAX (CONFIG_MEM_MAX >> 20)

/* A TokenBucket object under field of r: size and refill_time required, one_time_burst optional;
 * null or absent: no limit. 0 or -EINVAL. */
static int bucket_read(const struct jres *r, const char *field, struct bucket_config *b)
{
	static const char *const fields[] = {"size", "one_time_burst", "refill_time", NULL};
	const json_t *o = NULL;
	char name[96];
	struct jres sub = {name, NULL, r->err, r->errlen};
	int ret = jf_object(r, field, 0, &o);

	memset(b, 0, sizeof(*b));
	if (ret <= 0)
		return ret;
	snprintf(name, sizeof(name), "%s.%s", r->name, field);
	sub.obj = o;
	ret = jres_check_fields(&sub, fields);
	if (ret == 0)
		ret = jf_uint(&sub, "size", JF_REQUIRED, 0, INT64_MAX, &b->size);
	if (ret >= 0)
		ret = jf_uint(&sub, "one_time_burst", 0, 0, INT64_MAX, &b->one_time_burst);
	if (ret >= 0)
		ret = jf_uint(&sub, "refill_time", JF_REQUIRED, 0, INT64_MAX, &b->refill_ms);
	return ret < 0 ? ret : 0;
}

int config_json_rate_limiter(const struct jres *r, struct rate_limit_config *out)
{
	return config_json_rate_limiter_at(r, "rate_limiter", out);
}

int config_json_rate_limiter_at(const struct jres *r, const char *field,
				struct rate_limit_config *out)
{
	static const char *const fields[] = {"bandwidth", "ops", NULL};
	struct rate_limit_config rl = {0};
	const json_t *o = NULL;
	char name[128];
	struct jres sub = {name, NULL, r->err, r->errlen};
	int ret = jf_object(r, field, 0, &o);

	if (ret <= 0) {
		*out = rl;
		return ret;
	}
	snprintf(name, sizeof(name), "%.96s.%s", r->name, field);
	sub.obj = o;
	ret = jres_check_fields(&sub, fields);
	if (ret == 0)
		ret = bucket_read(&sub, "bandwidth", &rl.bandwidth);
	if (ret == 0)
		ret = bucket_read(&sub, "ops", &rl.ops);
	if (ret < 0)
		return ret;
	rl.set = true;
	*out = rl;
	return 1;
}

/* Apply fn to a copy of cfg; commit the copy only on success. */
typedef int apply_fn(struct vm_config *c, const struct jres *r, const void *arg);

static int transact(struct vm_config *cfg, apply_fn *fn, const struct jres *r, const void *arg)
{
	struct vm_config *tmp = malloc(sizeof(*tmp));
	int ret;

	if (!tmp) {
		snprintf(r->err, r->errlen, "%s: out of memory", r->name);
		return -ENOMEM;
	}
	*tmp = *cfg;
	ret = fn(tmp, r, arg);
	if (ret == 0)
		*cfg = *tmp;
	else
		json_msg_oneline(r->err); /* names and values from the input are echoed */
	free(tmp);
	return ret;
}

/* ---- boot-source ---- */

static int boot_raw(struct vm_config *c, const struct jres *r)
{
	static const char *const protos[] = {"auto", "linux", "pvh", NULL};
	bool has_load, has_entry;
	unsigned proto = 0;
	int ret;

	ret = jf_addr(r, "kiln_load_addr", 0, &c->load_addr);
	if (ret < 0)
		return ret;
	has_load = ret;
	ret = jf_addr(r, "kiln_entry", has_load ? JF_REQUIRED : 0, &c->entry);
	if (ret < 0)
		return ret;
	has_entry = ret;
	if (has_entry && !has_load)
		return jres_fail(r, "field 'kiln_load_addr' is missing (required with kiln_entry)");
	ret = jf_enum(r, "kiln_boot", 0, protos, &proto);
	if (ret < 0)
		return ret;
	if (ret && has_load)
		return jres_fail(r, "field 'kiln_boot': does not apply to a raw image");
	c->boot = has_load ? BOOT_RAW : proto == 1 ? BOOT_LINUX : proto == 2 ? BOOT_PVH : BOOT_AUTO;
	if (!has_load)
		c->load_addr = c->entry = 0;
	return 0;
}

static int boot_source_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {
	    "kernel_image_path", "boot_args", "initrd_path", "kiln_load_addr",
	    "kiln_entry",	 "kiln_boot", NULL};
	int ret;

	(void)arg;
	ret = jres_check_fields(r, fields);
	if (ret == 0)
		ret = jf_string(r, "kernel_image_path", JF_REQUIRED | JF_NONEMPTY, c->kernel_path,
				sizeof(c->kernel_path));
	/* PUT: what is not given returns to its default. */
	c->cmdline[0] = c->initrd_path[0] = '\0';
	if (ret >= 0)
		ret = jf_string(r, "boot_args", 0, c->cmdline, sizeof(c->cmdline));
	c->cmdline_given = ret > 0;
	if (ret >= 0)
		ret = jf_string(r, "initrd_path", JF_NONEMPTY, c->initrd_path,
				sizeof(c->initrd_path));
	if (ret >= 0)
		ret = boot_raw(c, r);
	return ret < 0 ? ret : 0;
}

/* ---- machine-config ---- */

/* What a machine-config body says, over the current values (PATCH) or the defaults (PUT). */
struct machine {
	uint64_t vcpus, mib;
	bool smt, dirty;
	bool has_vcpus, has_smt;
	unsigned huge;	    /* index in huge_names */
	unsigned transport; /* index in transport_names: enum virtio_transport */
};

static const char *const huge_names[] = {"None", "Transparent", "2M", NULL};
static const char *const transport_names[] = {"mmio", "pci", NULL};

static int machine_read(const struct jres *r, bool patch, struct machine *m)
{
	unsigned req = patch ? 0 : JF_REQUIRED;
	char tmpl[32] = "None";
	int ret;

	ret = jf_uint(r, "vcpu_count", req, 1, CONFIG_MAX_VCPUS, &m->vcpus);
	m->has_vcpus = ret > 0;
	if (ret >= 0)
		ret = jf_uint(r, "mem_size_mib", req, MIB_MIN, MIB_MAX, &m->mib);
	if (ret >= 0)
		ret = jf_bool(r, "smt", 0, &m->smt);
	m->has_smt = ret > 0;
	if (ret >= 0)
		ret = jf_bool(r, "track_dirty_pages", 0, &m->dirty);
	if (ret >= 0)
		ret = jf_enum(r, "huge_pages", 0, huge_names, &m->huge);
	if (ret >= 0)
		ret = jf_enum(r, "kiln_virtio_transport", 0, transport_names, &m->transport);
	if (ret >= 0)
		ret = jf_string(r, "cpu_template", 0, tmpl, sizeof(tmpl));
	if (ret >= 0 && strcmp(tmpl, "None") != 0)
		return jres_fail(r,
				 "field 'cpu_template': \"%s\" is not supported by kiln (only "
				 "\"None\")",
				 tmpl);
	return ret < 0 ? ret : 0;
}

/* kiln_topology {sockets, cores, threads}: must multiply to vcpu_count and agree with smt. */
static int machine_topology_ext(struct vm_config *c, const struct jres *parent,
				const struct machine *m)
{
	static const char *const fields[] = {"sockets", "cores", "threads", NULL};
	struct jres r = {"machine-config.kiln_topology",
			 json_object_get(parent->obj, "kiln_topology"), parent->err,
			 parent->errlen};
	uint64_t n[3];
	const char *why;
	int ret = jres_check_fields(&r, fields);

	for (int i = 0; i < 3 && ret >= 0; i++)
		ret = jf_uint(&r, fields[i], JF_REQUIRED, 1, CONFIG_MAX_VCPUS, &n[i]);
	if (ret < 0)
		return ret;
	why = config_check_topology(n[0], n[1], n[2]);
	if (why)
		return jres_fail(&r, "%llu:%llu:%llu %s", (unsigned long long)n[0],
				 (unsigned long long)n[1], (unsigned long long)n[2], why);
	if (n[0] * n[1] * n[2] != m->vcpus)
		return jres_fail(&r, "%llu*%llu*%llu vCPUs, but vcpu_count is %llu",
				 (unsigned long long)n[0], (unsigned long long)n[1],
				 (unsigned long long)n[2], (unsigned long long)m->vcpus);
	if (m->has_smt && m->smt != (n[2] > 1))
		return jres_fail(&r, "threads %llu disagrees with smt %s", (unsigned long long)n[2],
				 m->smt ? "true" : "false");
	c->sockets = (unsigned)n[0];
	c->cores = (unsigned)n[1];
	c->threads = (unsigned)n[2];
	return 0;
}

/* The topology: kiln_topology if given, else Firecracker's (one socket; smt: 2 threads per
 * core). A PATCH that touches none of them keeps the current one. */
static int machine_topology(struct vm_config *c, const struct jres *r, bool patch,
			    const struct machine *m)
{
	const json_t *topo = json_object_get(r->obj, "kiln_topology");

	if (topo && !json_is_null(topo))
		return machine_topology_ext(c, r, m);
	if (patch && !m->has_vcpus && !m->has_smt)
		return 0;
	if (m->smt && m->vcpus > 1 && (m->vcpus & 1))
		return jres_fail(r, "field 'vcpu_count': %llu must be 1 or even with smt",
				 (unsigned long long)m->vcpus);
	c->sockets = 1;
	c->threads = m->smt && m->vcpus > 1 ? 2 : 1;
	c->cores = (unsigned)m->vcpus / c->threads;
	return 0;
}

/* kiln_virtio_transport_of {NAME: "mmio" | "pci", ...}: virtio devices' own transports, all of
 * them (a PUT without it leaves none; a PATCH without it keeps them). */
static int machine_transport_of(struct vm_config *c, const struct jres *r, bool patch)
{
	const json_t *o = json_object_get(r->obj, "kiln_virtio_transport_of"), *v;
	const char *name;

	if (!o || json_is_null(o)) {
		if (!patch)
			c->nr_transport_of = 0;
		return 0;
	}
	if (!json_is_object(o))
		return jres_fail(r, "field 'kiln_virtio_transport_of': expected an object, got %s",
				 json_type_name(o));
	c->nr_transport_of = 0;
	json_object_foreach((json_t *)o, name, v)
	{
		const char *t = json_is_string(v) ? json_string_value(v) : "";
		int ret =
		    strcmp(t, "mmio") == 0 ? config_transport_of_put(c, name, VIRTIO_TRANSPORT_MMIO)
		    : strcmp(t, "pci") == 0 ? config_transport_of_put(c, name, VIRTIO_TRANSPORT_PCI)
					    : -ERANGE;

		if (ret == -ERANGE)
			return jres_fail(
			    r,
			    "field 'kiln_virtio_transport_of': '%.24s' is not \"mmio\" "
			    "or \"pci\"",
			    name);
		if (ret == -EINVAL)
			return jres_fail(
			    r,
			    "field 'kiln_virtio_transport_of': '%.24s' names no virtio "
			    "device (blockN, netN, fsN, entropy, balloon, vsock, "
			    "virtio_console)",
			    name);
		if (ret < 0)
			return jres_fail(r,
					 "field 'kiln_virtio_transport_of': more than %d devices",
					 CONFIG_MAX_TRANSPORT_OF);
	}
	return 0;
}

/* kiln_vcpu_pinning [host CPU of vCPU 0, 1, ...]: one entry per vCPU. */
static int machine_pinning(struct vm_config *c, const struct jres *r, bool patch,
			   unsigned old_vcpus)
{
	const json_t *a = json_object_get(r->obj, "kiln_vcpu_pinning"), *v;
	size_t i;

	/* A PATCH of vcpu_count alone must not leave one entry per old vCPU. */
	if (patch && c->pin_vcpus && config_vcpus(c) != old_vcpus && (!a || json_is_null(a)))
		return jres_fail(r,
				 "field 'kiln_vcpu_pinning': has %u entries, vcpu_count is now %u",
				 old_vcpus, config_vcpus(c));
	if (!a || json_is_null(a)) {
		if (!patch)
			c->pin_vcpus = false;
		return 0;
	}
	if (!json_is_array(a))
		return jres_fail(r, "field 'kiln_vcpu_pinning': expected an array, got %s",
				 json_type_name(a));
	if (json_array_size(a) != config_vcpus(c))
		return jres_fail(r, "field 'kiln_vcpu_pinning': %zu entries for %u vCPUs",
				 json_array_size(a), config_vcpus(c));
	json_array_foreach(a, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) >= CPU_SETSIZE)
			return jres_fail(r,
					 "field 'kiln_vcpu_pinning': entry %zu is not a host CPU "
					 "number 0..%d",
					 i, CPU_SETSIZE - 1);
		c->vcpu_pin[i] = (uint16_t)json_integer_value(v);
	}
	c->pin_vcpus = true;
	return 0;
}

/* c's huge_pages as an index in huge_names. */
static unsigned huge_index(const struct vm_config *c)
{
	return c->hugepages ? 2 : c->thp ? 1 : 0;
}

static int machine_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {"vcpu_count",
					     "mem_size_mib",
					     "smt",
					     "track_dirty_pages",
					     "huge_pages",
					     "cpu_template",
					     "kiln_topology",
					     "kiln_vcpu_pinning",
					     "kiln_virtio_transport",
					     "kiln_virtio_transport_of",
					     NULL};
	bool patch = *(const bool *)arg;
	unsigned old_vcpus = config_vcpus(c);
	struct machine m = {.vcpus = old_vcpus,
			    .mib = c->mem_bytes >> 20,
			    .smt = patch && c->threads > 1,
			    .dirty = patch && c->track_dirty_pages,
			    .huge = patch ? huge_index(c) : 0,
			    .transport = patch ? (unsigned)c->virtio_transport : 0};
	const char *why;
	int ret = jres_check_fields(r, fields);

	if (ret == 0)
		ret = machine_read(r, patch, &m);
	if (ret == 0)
		ret = machine_topology(c, r, patch, &m);
	if (ret < 0)
		return ret;
	why = config_check_mem(m.mib << 20, m.huge == 2);
	if (why)
		return jres_fail(r, "field 'mem_size_mib': %llu MiB %s", (unsigned long long)m.mib,
				 why);
	c->mem_bytes = m.mib << 20;
	c->hugepages = m.huge == 2;
	c->thp = m.huge == 1;
	c->track_dirty_pages = m.dirty;
	c->virtio_transport = (enum virtio_transport)m.transport;
	ret = machine_transport_of(c, r, patch);
	return ret ? ret : machine_pinning(c, r, patch, old_vcpus);
}

/* ---- drives ---- */

struct keyed_arg {
	const char *path_id; /* the id in the request path; NULL: take the body's */
	bool patch;
};

/* The id of a keyed resource (drive_id, iface_id): Firecracker's rule for ids in paths
 * (letters, digits, '_'), and equal to the path's when the request has one. */
static int id_check(const struct jres *r, const char *field, const char *id, const char *path_id)
{
	if (!config_iface_id_ok(id))
		return jres_fail(r, "field '%s': \"%s\" may hold only letters, digits and '_'",
				 field, id);
	if (path_id && strcmp(id, path_id) != 0)
		return jres_fail(r, "field '%s': \"%s\" differs from the path's \"%.64s\"", field,
				 id, path_id);
	return 0;
}

/* A keyed resource's request (drives/ID, network-interfaces/ID) through its converter fn. */
static int keyed(struct vm_config *cfg, const char *resource, apply_fn *fn, const char *id,
		 const json_t *obj, bool patch, char *err, size_t errlen)
{
	char name[96];
	struct jres r = {name, obj, err, errlen};
	struct keyed_arg a = {id, patch};

	snprintf(name, sizeof(name), "%s/%.64s", resource, id);
	return transact(cfg, fn, &r, &a);
}

static int drive_read(const struct jres *r, struct disk_config *d)
{
	static const char *const caches[] = {"Unsafe", "Writeback", NULL};
	static const char *const engines[] = {"Sync", "Async", NULL};
	unsigned cache = 0, engine = 0;
	int ret;

	ret = jf_string(r, "path_on_host", JF_REQUIRED | JF_NONEMPTY, d->path, sizeof(d->path));
	if (ret >= 0)
		ret = jf_bool(r, "is_root_device", JF_REQUIRED, &d->is_root);
	if (ret >= 0)
		ret = jf_string(r, "partuuid", JF_NONEMPTY, d->partuuid, sizeof(d->partuuid));
	if (ret >= 0)
		ret =
		    jf_bool(r, "is_read_only", 0, &d->read_only); /* Firecracker: optional, false */
	if (ret >= 0)
		ret = jf_enum(r, "cache_type", 0, caches, &cache);
	if (ret >= 0)
		ret = jf_enum(r, "io_engine", 0, engines, &engine);
	if (ret >= 0)
		ret = config_json_rate_limiter(r, &d->rate);
	if (ret >= 0)
		ret = jf_null_only(r, "socket", "kiln has no vhost-user drives");
	d->cache = cache ? DISK_CACHE_WRITEBACK : DISK_CACHE_UNSAFE;
	d->io_engine = engine ? DISK_IO_ASYNC : DISK_IO_SYNC; /* Firecracker's default: Sync */
	return ret < 0 ? ret : 0;
}

static int drive_put(struct vm_config *c, const struct jres *r, const char *id)
{
	struct disk_config d = {0};
	int other, ret = drive_read(r, &d);

	if (ret < 0)
		return ret;
	memcpy(d.id, id, sizeof(d.id));
	ret = config_disk_put(c, &d, &other);
	if (ret == -EEXIST)
		return jres_fail(r,
				 "field 'is_root_device': drive \"%s\" is already the root device",
				 c->disks[other].id);
	if (ret < 0)
		return jres_fail(r, "at most %d drives", CONFIG_MAX_DISKS);
	return 0;
}

/* PATCH (PartialDrive): a new backing file for an existing drive. */
static int drive_patch(struct vm_config *c, const struct jres *r, const char *id)
{
	int i = config_disk_find(c, id), ret;

	if (i < 0)
		return jres_fail(r, "no drive \"%s\" to update", id);
	ret = jf_string(r, "path_on_host", JF_NONEMPTY, c->disks[i].path, sizeof(c->disks[i].path));
	if (ret >= 0 && json_object_get(r->obj, "rate_limiter"))
		ret = config_json_rate_limiter(r, &c->disks[i].rate);
	return ret < 0 ? ret : 0;
}

/* A keyed resource's body: its id field and fields for PUT and PATCH, and what each does. */
struct keyed_kind {
	const char *id_field;
	const char *const *put_fields, *const *patch_fields;
	int (*put)(struct vm_config *c, const struct jres *r, const char *id);
	int (*patch)(struct vm_config *c, const struct jres *r, const char *id);
};

_Static_assert(CONFIG_DRIVE_ID_MAX == CONFIG_IFACE_ID_MAX, "one id buffer for both kinds");

static int keyed_apply(struct vm_config *c, const struct jres *r, const struct keyed_arg *a,
		       const struct keyed_kind *k)
{
	char id[CONFIG_IFACE_ID_MAX + 1] = "";
	int ret = jres_check_fields(r, a->patch ? k->patch_fields : k->put_fields);

	if (ret == 0)
		ret = jf_string(r, k->id_field, JF_REQUIRED | JF_NONEMPTY, id, sizeof(id));
	if (ret >= 0)
		ret = id_check(r, k->id_field, id, a->path_id);
	if (ret < 0)
		return ret;
	return a->patch ? k->patch(c, r, id) : k->put(c, r, id);
}

static int drive_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const put_fields[] = {
	    "drive_id",	  "path_on_host", "is_root_device", "partuuid", "is_read_only",
	    "cache_type", "io_engine",	  "rate_limiter",   "socket",	NULL};
	static const char *const patch_fields[] = {"drive_id", "path_on_host", "rate_limiter",
						   NULL};
	static const struct keyed_kind kind = {"drive_id", put_fields, patch_fields, drive_put,
					       drive_patch};

	return keyed_apply(c, r, arg, &kind);
}

/* ---- entropy, serial ports, virtio console ---- */

static int entropy_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {"rate_limiter", NULL};
	int ret = jres_check_fields(r, fields);

	(void)arg;
	if (ret == 0)
		ret = config_json_rate_limiter(r, &c->rng_rate);
	if (ret >= 0)
		c->rng = true;
	return ret < 0 ? ret : 0;
}

/* ---- vsock ---- */

/* Firecracker's Vsock: guest_cid and uds_path required, vsock_id (deprecated) accepted and
 * ignored. A second PUT replaces the first, as in Firecracker. */
static int vsock_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {"guest_cid", "uds_path", "vsock_id", NULL};
	struct vsock_config v = {.set = true};
	char id[64];
	uint64_t cid = 0;
	const char *why;
	int ret = jres_check_fields(r, fields);

	(void)arg;
	if (ret == 0)
		ret = jf_uint(r, "guest_cid", JF_REQUIRED, 3, UINT32_MAX, &cid);
	if (ret >= 0)
		ret = jf_string(r, "uds_path", JF_REQUIRED, v.uds_path, sizeof(v.uds_path));
	if (ret >= 0)
		ret = jf_string(r, "vsock_id", 0, id, sizeof(id));
	if (ret < 0)
		return ret;
	v.guest_cid = (uint32_t)cid;
	why = config_check_vsock(&v);
	if (why)
		return jres_fail(r, "%s", why);
	c->vsock = v;
	return 0;
}

/* Firecracker's Balloon: amount_mib and deflate_on_oom required; free_page_hinting is not
 * implemented (only false). */
static int balloon_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {
	    "amount_mib",	 "deflate_on_oom",	"stats_polling_interval_s",
	    "free_page_hinting", "free_page_reporting", NULL};
	struct balloon_config b = {.enabled = true};
	uint64_t amount = 0, interval = 0;
	bool hinting = false;
	int ret = jres_check_fields(r, fields);

	(void)arg;
	if (ret == 0)
		ret = jf_uint(r, "amount_mib", JF_REQUIRED, 0, UINT32_MAX, &amount);
	if (ret >= 0)
		ret = jf_bool(r, "deflate_on_oom", JF_REQUIRED, &b.deflate_on_oom);
	if (ret >= 0)
		ret = jf_uint(r, "stats_polling_interval_s", 0, 0, UINT16_MAX, &interval);
	if (ret >= 0)
		ret = jf_bool(r, "free_page_reporting", 0, &b.free_page_reporting);
	if (ret >= 0)
		ret = jf_bool(r, "free_page_hinting", 0, &hinting);
	if (ret >= 0 && hinting)
		return jres_fail(r, "field 'free_page_hinting': free page hinting is not "
				    "implemented by kiln (only false is accepted)");
	if (ret < 0)
		return ret;
	b.amount_mib = (uint32_t)amount;
	b.stats_interval_s = (uint16_t)interval;
	c->balloon = b;
	if (config_check_balloon(c))
		return jres_fail(r, "Balloon config error: %s", config_check_balloon(c));
	return 0;
}

/* A {"mode": ..., "path": ...} object (kiln_serial2, kiln_console_virtio, serial's kiln_mode):
 * `names` lists the modes; modes in `path_modes` (a bit per index) need the path, others
 * refuse it. */
static int mode_path(const struct jres *r, const char *mode_field, const char *path_field,
		     const char *const *names, unsigned path_modes, unsigned *mode, char *path)
{
	bool has_path;
	int ret = jf_enum(r, mode_field, JF_REQUIRED, names, mode);

	if (ret < 0)
		return ret;
	ret = jf_string(r, path_field, JF_NONEMPTY, path, CONFIG_PATH_MAX);
	if (ret < 0)
		return ret;
	has_path = ret;
	if (!has_path && (path_modes & (1u << *mode)))
		return jres_fail(r, "field '%s' is missing (required with %s \"%s\")", path_field,
				 mode_field, names[*mode]);
	if (has_path && !(path_modes & (1u << *mode)))
		return jres_fail(r, "field '%s': not used with %s \"%s\"", path_field, mode_field,
				 names[*mode]);
	return 0;
}

static const char *const serial_modes[] = {"stdio", "file", "none", NULL};
static const enum serial_mode serial_mode_of[] = {SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE};

/* Firecracker's /serial (COM1): serial_out_path sends it to a file; kiln_mode "stdio" | "file"
 * | "none" says the rest. {} returns COM1 to stdio. */
static int serial_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {"serial_out_path", "rate_limiter", "kiln_mode", NULL};
	const json_t *mode = json_object_get(r->obj, "kiln_mode");
	unsigned m = 0;
	int ret = jres_check_fields(r, fields);

	(void)arg;
	if (ret == 0)
		ret = jf_null_only(r, "rate_limiter", "kiln's serial port has no rate limiter");
	if (ret < 0)
		return ret;
	if (mode && !json_is_null(mode))
		ret = mode_path(r, "kiln_mode", "serial_out_path", serial_modes, 1u << 1, &m,
				c->com1.path);
	else if ((ret = jf_string(r, "serial_out_path", JF_NONEMPTY, c->com1.path,
				  sizeof(c->com1.path))) > 0)
		m = 1; /* a path alone: a file, as in Firecracker */
	if (ret < 0)
		return ret;
	c->com1.mode = serial_mode_of[m];
	return 0;
}

static int serial2_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {"mode", "path", NULL};
	unsigned m;
	int ret = jres_check_fields(r, fields);

	(void)arg;
	if (ret == 0)
		ret = mode_path(r, "mode", "path", serial_modes, 1u << 1, &m, c->com2.path);
	if (ret == 0)
		c->com2.mode = serial_mode_of[m];
	return ret;
}

static int vconsole_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {"mode", "path", NULL};
	static const char *const modes[] = {"none", "stdio", "file", "socket", NULL};
	unsigned m;
	int ret = jres_check_fields(r, fields);

	(void)arg;
	if (ret == 0)
		ret = mode_path(r, "mode", "path", modes, (1u << 2) | (1u << 3), &m,
				c->vconsole.path);
	if (ret == 0)
		c->vconsole.mode = (enum vconsole_mode)m; /* same order as the enum */
	return ret;
}

/* ---- public converters ---- */

int config_json_boot_source(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	struct jres r = {"boot-source", obj, err, errlen};

	return transact(cfg, boot_source_apply, &r, NULL);
}

int config_json_machine_config(struct vm_config *cfg, const json_t *obj, bool patch, char *err,
			       size_t errlen)
{
	struct jres r = {"machine-config", obj, err, errlen};

	return transact(cfg, machine_apply, &r, &patch);
}

int config_json_drive(struct vm_config *cfg, const char *drive_id, const json_t *obj, bool patch,
		      char *err, size_t errlen)
{
	return keyed(cfg, "drives", drive_apply, drive_id, obj, patch, err, errlen);
}

int config_json_entropy(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	struct jres r = {"entropy", obj, err, errlen};

	return transact(cfg, entropy_apply, &r, NULL);
}

int config_json_vsock(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	struct jres r = {"vsock", obj, err, errlen};

	return transact(cfg, vsock_apply, &r, NULL);
}

int config_json_balloon(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	struct jres r = {"balloon", obj, err, errlen};

	return transact(cfg, balloon_apply, &r, NULL);
}

/* ---- kiln_fs: virtio-fs devices ---- */

/* {"tag": ..., "socket": PATH} (a running vhost-user backend) or {"tag": ..., "shared_dir": DIR}
 * (kiln starts virtiofsd); a tag given again replaces that device. */
static int fs_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {"tag", "socket", "shared_dir", NULL};
	struct fs_config f = {{0}};
	int ret = jres_check_fields(r, fields), ns = 0, nd = 0;

	(void)arg;
	if (ret == 0)
		ret = jf_string(r, "tag", JF_REQUIRED | JF_NONEMPTY, f.tag, sizeof(f.tag));
	if (ret >= 0 && !config_fs_tag_ok(f.tag))
		return jres_fail(r,
				 "field 'tag': \"%s\" is not 1-%d printable characters without "
				 "' ' or ','",
				 f.tag, CONFIG_FS_TAG_MAX);
	if (ret >= 0)
		ret = ns = jf_string(r, "socket", JF_NONEMPTY, f.socket, sizeof(f.socket));
	if (ret >= 0)
		ret = nd = jf_string(r, "shared_dir", JF_NONEMPTY, f.dir, sizeof(f.dir));
	if (ret < 0)
		return ret;
	if (ns == nd)
		return jres_fail(r, "give exactly one of the fields 'socket' and 'shared_dir'");
	if (config_fs_put(c, &f) < 0)
		return jres_fail(r, "at most %d virtio-fs devices", CONFIG_MAX_FS);
	return 0;
}

/* ---- kiln_vfio: passthrough devices ---- */

/* {"id": ID, "path": "/sys/bus/pci/devices/DDDD:BB:DD.F"}; an id given again gets the new
 * path. PUT /kiln/vfio/{id}: the body's id, when given, must be the path's. */
static int vfio_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {"id", "path", NULL};
	const struct keyed_arg *k = arg;
	char id[CONFIG_IFACE_ID_MAX + 1] = "", path[CONFIG_VFIO_PATH_MAX] = "";
	int ret = jres_check_fields(r, fields);

	if (ret == 0)
		ret = jf_string(r, "id", (k && k->path_id) ? 0 : JF_REQUIRED | JF_NONEMPTY, id,
				sizeof(id));
	if (ret >= 0 && k && k->path_id && !id[0])
		snprintf(id, sizeof(id), "%s", k->path_id);
	if (ret >= 0)
		ret = id_check(r, "id", id, k ? k->path_id : NULL);
	if (ret >= 0)
		ret = jf_string(r, "path", JF_REQUIRED | JF_NONEMPTY, path, sizeof(path));
	if (ret < 0)
		return ret;
	ret = config_vfio_put(c, id, path);
	if (ret == -EEXIST)
		return jres_fail(r, "field 'path': \"%s\" is another device's", path);
	if (ret == -ENOSPC)
		return jres_fail(r, "at most %d passthrough devices", CONFIG_MAX_VFIO);
	if (ret < 0)
		return jres_fail(r,
				 "field 'path': \"%s\" is not an absolute path of at most %d bytes",
				 path, CONFIG_VFIO_PATH_MAX - 1);
	return 0;
}

int config_json_vfio(struct vm_config *cfg, const char *id, const json_t *obj, char *err,
		     size_t errlen)
{
	return keyed(cfg, "kiln/vfio", vfio_apply, id, obj, false, err, errlen);
}

/* ---- network-interfaces ---- */

static int net_read(const struct jres *r, struct net_config *n)
{
	char mac[32] = "";
	uint64_t mtu = 0;
	int ret = jf_string(r, "host_dev_name", JF_REQUIRED | JF_NONEMPTY, n->tap, sizeof(n->tap));

	if (ret >= 0 && strchr(n->tap, '/'))
		return jres_fail(r, "field 'host_dev_name': \"%s\" is not an interface name",
				 n->tap);
	if (ret >= 0)
		ret = jf_string(r, "guest_mac", JF_NONEMPTY, mac, sizeof(mac));
	if (ret > 0 && config_parse_mac(mac, n->mac) < 0)
		return jres_fail(r,
				 "field 'guest_mac': \"%s\" is not a MAC address (six hex bytes "
				 "such as 06:00:ac:10:00:02)",
				 mac);
	n->mac_set = ret > 0;
	if (ret >= 0)
		ret = jf_uint(r, "mtu", 0, 68, 65535, &mtu);
	n->mtu = (uint16_t)mtu;
	if (ret >= 0)
		ret = config_json_rate_limiter_at(r, "rx_rate_limiter", &n->rx_rate);
	if (ret >= 0)
		ret = config_json_rate_limiter_at(r, "tx_rate_limiter", &n->tx_rate);
	return ret < 0 ? ret : 0;
}

static int net_put(struct vm_config *c, const struct jres *r, const char *id)
{
	struct net_config n = {0};
	char mac[18];
	int other, ret = net_read(r, &n);

	if (ret < 0)
		return ret;
	memcpy(n.id, id, sizeof(n.id));
	ret = config_net_put(c, &n, &other);
	config_format_mac(n.mac, mac);
	if (ret == -EADDRINUSE) /* Firecracker's words */
		return jres_fail(r, "The MAC address is already in use: %s", mac);
	if (ret == -EBUSY)
		return jres_fail(r,
				 "Could not create the network device: the TAP device %s is "
				 "interface \"%s\"'s already",
				 n.tap, c->nets[other].id);
	if (ret < 0)
		return jres_fail(r, "at most %d network interfaces", CONFIG_MAX_NETS);
	return 0;
}

/* PATCH (NetworkInterfaceUpdateConfig): new rate limiters for an existing interface. */
static int net_patch(struct vm_config *c, const struct jres *r, const char *id)
{
	int i = config_net_find(c, id), ret = 0;

	if (i < 0)
		return jres_fail(r, "no network interface \"%s\" to update", id);
	if (json_object_get(r->obj, "rx_rate_limiter"))
		ret = config_json_rate_limiter_at(r, "rx_rate_limiter", &c->nets[i].rx_rate);
	if (ret >= 0 && json_object_get(r->obj, "tx_rate_limiter"))
		ret = config_json_rate_limiter_at(r, "tx_rate_limiter", &c->nets[i].tx_rate);
	return ret < 0 ? ret : 0;
}

static int net_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const put_fields[] = {"iface_id", "host_dev_name",	"guest_mac",
						 "mtu",	     "rx_rate_limiter", "tx_rate_limiter",
						 NULL};
	static const char *const patch_fields[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter",
						   NULL};
	static const struct keyed_kind kind = {"iface_id", put_fields, patch_fields, net_put,
					       net_patch};

	return keyed_apply(c, r, arg, &kind);
}

int config_json_net(struct vm_config *cfg, const char *iface_id, const json_t *obj, bool patch,
		    char *err, size_t errlen)
{
	return keyed(cfg, "network-interfaces", net_apply, iface_id, obj, patch, err, errlen);
}

/* ---- mmds-config ---- */

/* Firecracker's rule for the MMDS address: link-local, but not 169.254.0.x or 169.254.255.x. */
static bool mmds_ipv4_ok(const struct in_addr *a)
{
	uint32_t h = ntohl(a->s_addr);

	return (h >> 16) == 0xa9fe && ((h >> 8) & 0xff) != 0 && ((h >> 8) & 0xff) != 0xff;
}

/* network_interfaces: an array of iface ids (checked against the interfaces by the caller). */
static int mmds_ifaces(const struct jres *r, struct mmds_config *m)
{
	const json_t *a = json_object_get(r->obj, "network_interfaces");
	const json_t *v;
	size_t i;

	if (!a || json_is_null(a))
		return jres_fail(r, "field 'network_interfaces' is missing (required)");
	if (!json_is_array(a))
		return jres_fail(r, "field 'network_interfaces': expected an array, got %s",
				 json_type_name(a));
	json_array_foreach(a, i, v)
	{
		const char *id = json_string_value(v);

		if (!id)
			return jres_fail(
			    r, "field 'network_interfaces'[%zu]: expected a string, got %s", i,
			    json_type_name(v));
		if (i == CONFIG_MAX_NETS || config_copy_str(m->ifaces[i], sizeof(m->ifaces[i]), id))
			return jres_fail(r,
					 "The list of network interface IDs provided contains at "
					 "least one ID that does not correspond to any existing "
					 "network interface.");
		m->nr_ifaces = (unsigned)i + 1;
	}
	return 0;
}

static int mmds_config_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	static const char *const fields[] = {"version", "network_interfaces", "ipv4_address",
					     "imds_compat", NULL};
	static const char *const versions[] = {"V1", "V2", NULL};
	struct mmds_config m = {.set = true, .ipv4 = MMDS_DEFAULT_IPV4};
	bool *v1 = (bool *)arg;
	const char *ip = NULL;
	unsigned version = 0;
	struct in_addr addr;
	char msg[256];

	if (jres_check_fields(r, fields) < 0 || jf_enum(r, "version", 0, versions, &version) < 0 ||
	    jf_string_ref(r, "ipv4_address", 0, &ip) < 0 ||
	    jf_bool(r, "imds_compat", 0, &m.imds_compat) < 0)
		return -EINVAL;
	if (v1)
		*v1 = version == 0;
	m.version = version ? MMDS_V2 : MMDS_V1;
	if (ip && inet_pton(AF_INET, ip, &addr) != 1)
		return jres_fail(r, "field 'ipv4_address': \"%.64s\" is not an IPv4 address", ip);
	if (ip && !mmds_ipv4_ok(&addr))
		return jres_fail(r, "The MMDS IPv4 address is not link local.");
	if (ip)
		m.ipv4 = ntohl(addr.s_addr);
	if (mmds_ifaces(r, &m) < 0)
		return -EINVAL;
	if (config_mmds_check(c, &m, msg, sizeof(msg)) < 0)
		return jres_fail(r, "%s", msg);
	c->mmds = m;
	return 0;
}

int config_json_mmds_config(struct vm_config *cfg, const json_t *obj, bool *v1, char *err,
			    size_t errlen)
{
	struct jres r = {"mmds-config", obj, err, errlen};

	if (v1)
		*v1 = false;
	return transact(cfg, mmds_config_apply, &r, v1);
}

int config_json_serial(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	struct jres r = {"serial", obj, err, errlen};

	return transact(cfg, serial_apply, &r, NULL);
}

int config_json_serial2(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	struct jres r = {"kiln_serial2", obj, err, errlen};

	return transact(cfg, serial2_apply, &r, NULL);
}

int config_json_console_virtio(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	struct jres r = {"kiln_console_virtio", obj, err, errlen};

	return transact(cfg, vconsole_apply, &r, NULL);
}

int config_json_check(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (config_stdio_users(cfg) > 1) {
		snprintf(err, errlen,
			 "only one of serial, kiln_serial2 and kiln_console_virtio can "
			 "use stdio");
		return -EINVAL;
	}
	if (config_check_vfio(cfg)) {
		snprintf(err, errlen, "kiln_vfio: %s", config_check_vfio(cfg));
		return -EINVAL;
	}
	if (config_check_balloon(cfg)) {
		snprintf(err, errlen, "balloon: Balloon config error: %s",
			 config_check_balloon(cfg));
		return -EINVAL;
	}
	return 0;
}

/* ---- the whole document ---- */

/* Top-level keys: a converter each, or NULL for those kiln does not implement (null, or an
 * empty array, accepted). */
/* logger and metrics are the process's, not the VM's: the command that reads the document applies
 * them through the API's handlers, which check them. Here only the shape is checked. */
static int process_setting(struct vm_config *c, const struct jres *r, const void *arg)
{
	(void)c;
	(void)arg;
	return json_is_object(r->obj) ? 0 : jres_fail(r, "expected an object");
}

/* Keys whose value is an array of PUT bodies, applied one by one (messages "key[i]"). */
static const struct doc_array {
	const char *key;
	apply_fn *fn;
} doc_arrays[] = {
    {"drives", drive_apply},
    {"network-interfaces", net_apply},
    {"kiln_fs", fs_apply},
    {"kiln_vfio", vfio_apply},
};

static const struct doc_key {
	const char *key;
	apply_fn *fn;
} doc_keys[] = {
    {"boot-source", boot_source_apply},
    {"machine-config", machine_apply},
    {"drives", NULL}, /* an array: doc_arrays */
    {"entropy", entropy_apply},
    {"serial", serial_apply},
    {"kiln_serial2", serial2_apply},
    {"kiln_console_virtio", vconsole_apply},
    {"kiln_fs", NULL},	 /* an array: doc_arrays */
    {"kiln_vfio", NULL}, /* an array: doc_arrays */
    {"cpu-config", NULL},
    {"balloon", balloon_apply},
    {"network-interfaces", NULL}, /* an array: doc_arrays */
    {"vsock", vsock_apply},
    {"logger", process_setting},	/* applied by the process (src/cmd/api_server.c) */
    {"metrics", process_setting},	/* as PUT /logger and PUT /metrics would be */
    {"mmds-config", mmds_config_apply}, /* applied last: it names network interfaces */
    {"pmem", NULL},
    {"memory-hotplug", NULL},
};

/* An array key of doc_arrays: each element applied as its PUT body. */
static int doc_array(struct vm_config *c, const struct doc_array *k, const json_t *a, char *err,
		     size_t errlen)
{
	struct keyed_arg arg = {NULL, false};
	const json_t *v;
	size_t i;

	if (!json_is_array(a)) {
		snprintf(err, errlen, "%s: expected an array, got %s", k->key, json_type_name(a));
		return -EINVAL;
	}
	json_array_foreach(a, i, v)
	{
		char name[48];
		struct jres r = {name, v, err, errlen};
		int ret;

		snprintf(name, sizeof(name), "%s[%zu]", k->key, i);
		ret = k->fn(c, &r, &arg);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Firecracker's document form of "no boot source yet" (GET /vm/config before one is put): an
 * empty kernel_image_path with nothing else set. */
static bool no_boot_source(const struct doc_key *k, const json_t *v)
{
	const json_t *path = json_object_get(v, "kernel_image_path"), *val;
	const char *key;

	if (strcmp(k->key, "boot-source") != 0 || !json_is_string(path) ||
	    json_string_value(path)[0])
		return false;
	json_object_foreach((json_t *)v, key, val)
	{
		if (val != path && !json_is_null(val))
			return false;
	}
	return true;
}

static int doc_key_apply(struct vm_config *c, const struct doc_key *k, const json_t *v, char *err,
			 size_t errlen)
{
	bool put = false;
	struct jres r = {k->key, v, err, errlen};

	if (json_is_null(v) || no_boot_source(k, v))
		return 0;
	for (size_t i = 0; i < sizeof(doc_arrays) / sizeof(doc_arrays[0]); i++)
		if (strcmp(k->key, doc_arrays[i].key) == 0)
			return doc_array(c, &doc_arrays[i], v, err, errlen);
	if (k->fn)
		return k->fn(c, &r, &put);
	if (json_is_array(v) && json_array_size(v) == 0)
		return 0;
	snprintf(err, errlen, "%s: not supported by kiln yet (only null%s)", k->key,
		 json_is_array(v) ? " or []" : "");
	return -EINVAL;
}

static int doc_apply(struct vm_config *c, const struct jres *r, const void *arg)
{
	const char *key;
	json_t *v;

	(void)arg;
	if (!json_is_object(r->obj)) {
		snprintf(r->err, r->errlen, "expected a JSON object at the top level, got %s",
			 json_type_name(r->obj));
		return -EINVAL;
	}
	/* Two passes: mmds-config names network interfaces, wherever the document puts it. */
	for (int pass = 0; pass < 2; pass++) {
		json_object_foreach((json_t *)r->obj, key, v)
		{
			size_t i = 0;
			int ret;

			while (i < sizeof(doc_keys) / sizeof(doc_keys[0]) &&
			       strcmp(doc_keys[i].key, key))
				i++;
			if (i == sizeof(doc_keys) / sizeof(doc_keys[0])) {
				snprintf(r->err, r->errlen, "unknown top-level field '%s'", key);
				return -EINVAL;
			}
			if ((strcmp(key, "mmds-config") == 0) != (pass == 1))
				continue;
			ret = doc_key_apply(c, &doc_keys[i], v, r->err, r->errlen);
			if (ret < 0)
				return ret;
		}
	}
	return config_json_check(c, r->err, r->errlen);
}

int config_json_document(struct vm_config *cfg, const json_t *doc, char *err, size_t errlen)
{
	struct jres r = {"document", doc, err, errlen};

	return transact(cfg, doc_apply, &r, NULL);
}

json_t *config_json_read_file(const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc;
	char *text;
	size_t len;
	int ret = file_read_all(path, CONFIG_FILE_MAX, &text, &len);

	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", path,
			 ret == -EFBIG ? "larger than 16 MiB" : file_strerror(ret));
		return NULL;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (!doc) {
		if (je.line > 0)
			snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		else
			snprintf(err, errlen, "%s: %s", path, je.text);
		json_msg_oneline(err);
	}
	return doc;
}

int config_json_load_file(struct vm_config *cfg, const char *path, char *err, size_t errlen)
{
	json_t *doc = config_json_read_file(path, err, errlen);
	char msg[512];
	int ret;

	if (!doc)
		return -EINVAL;
	ret = config_json_document(cfg, doc, msg, sizeof(msg));
	json_decref(doc);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		json_msg_oneline(err);
	}
	return ret;
}
