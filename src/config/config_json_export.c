/* config_json_export.c — struct vm_config as a FullVmConfiguration document (GET /vm/config),
 * the inverse of config_json_document. The document is Firecracker's: every top-level key it has,
 * null (or []) where unset, and each object's optional fields as null; kiln's extensions appear
 * only where the configuration uses them, so a Firecracker client comparing the document sees
 * exactly Firecracker's. */
#include <stdio.h>

#include "config/config_json.h"

/* Set key to v (stolen); false if v is NULL or the set failed. */
static bool put(json_t *obj, const char *key, json_t *v)
{
	return v && json_object_set_new(obj, key, v) == 0;
}

static json_t *export_boot_source(const struct vm_config *c)
{
	static const char *const protos[] = {
	    [BOOT_AUTO] = "auto", [BOOT_LINUX] = "linux", [BOOT_PVH] = "pvh"};
	json_t *o;
	bool ok;

	o = json_object(); /* no kernel yet: Firecracker's default, an empty path */
	ok = o && put(o, "kernel_image_path", json_string(c->kernel_path)) &&
	     put(o, "initrd_path", c->initrd_path[0] ? json_string(c->initrd_path) : json_null()) &&
	     put(o, "boot_args", c->cmdline_given ? json_string(c->cmdline) : json_null());
	if (ok && c->boot == BOOT_RAW)
		ok = put(o, "kiln_load_addr", json_integer((json_int_t)c->load_addr)) &&
		     put(o, "kiln_entry", json_integer((json_int_t)c->entry));
	else if (ok && c->boot != BOOT_AUTO)
		ok = put(o, "kiln_boot", json_string(protos[c->boot]));
	if (!ok)
		json_decref(o);
	return ok ? o : NULL;
}

/* A TokenBucket object, or null for no limit. */
static json_t *export_bucket(const struct bucket_config *b)
{
	if (!b->size || !b->refill_ms)
		return json_null();
	return json_pack("{s:I, s:o, s:I}", "size", (json_int_t)b->size, "one_time_burst",
			 b->one_time_burst ? json_integer((json_int_t)b->one_time_burst)
					   : json_null(),
			 "refill_time", (json_int_t)b->refill_ms);
}

/* A RateLimiter object as given, or null when none was. */
static json_t *export_rate_limiter(const struct rate_limit_config *rl)
{
	if (!rl->set)
		return json_null();
	return json_pack("{s:o, s:o}", "bandwidth", export_bucket(&rl->bandwidth), "ops",
			 export_bucket(&rl->ops));
}

static json_t *export_drive(const struct disk_config *d, unsigned index)
{
	char id[CONFIG_DRIVE_ID_MAX + 1];
	json_t *o = json_object();
	bool ok;

	if (d->id[0])
		snprintf(id, sizeof(id), "%s", d->id);
	else
		snprintf(id, sizeof(id), "drive%u", index);
	ok = o && put(o, "drive_id", json_string(id)) &&
	     put(o, "path_on_host", json_string(d->path)) &&
	     put(o, "is_root_device", json_boolean(d->is_root)) &&
	     put(o, "partuuid", d->partuuid[0] ? json_string(d->partuuid) : json_null()) &&
	     put(o, "is_read_only", json_boolean(d->read_only)) &&
	     put(o, "cache_type",
		 json_string(d->cache == DISK_CACHE_WRITEBACK ? "Writeback" : "Unsafe")) &&
	     put(o, "io_engine", json_string(d->io_engine == DISK_IO_SYNC ? "Sync" : "Async")) &&
	     put(o, "rate_limiter", export_rate_limiter(&d->rate)) && put(o, "socket", json_null());
	if (!ok)
		json_decref(o);
	return ok ? o : NULL;
}

static json_t *export_drives(const struct vm_config *c)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < c->nr_disks; i++) {
		if (json_array_append_new(a, export_drive(&c->disks[i], i)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *export_net(const struct net_config *n)
{
	char mac[18];

	config_format_mac(n->mac, mac);
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "iface_id", n->id, "host_dev_name",
			 n->tap, "guest_mac", n->mac_set ? json_string(mac) : json_null(), "mtu",
			 n->mtu ? json_integer(n->mtu) : json_null(), "rx_rate_limiter",
			 export_rate_limiter(&n->rx_rate), "tx_rate_limiter",
			 export_rate_limiter(&n->tx_rate));
}

static json_t *export_nets(const struct vm_config *c)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < c->nr_nets; i++) {
		if (json_array_append_new(a, export_net(&c->nets[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* kiln_fs: the virtio-fs devices, or NULL (left out) when there are none. */
static json_t *export_fs(const struct vm_config *c)
{
	json_t *a = c->nr_fs ? json_array() : NULL;

	for (unsigned i = 0; a && i < c->nr_fs; i++) {
		const struct fs_config *f = &c->fs[i];
		json_t *o = f->socket[0]
				? json_pack("{s:s, s:s}", "tag", f->tag, "socket", f->socket)
				: json_pack("{s:s, s:s}", "tag", f->tag, "shared_dir", f->dir);

		if (json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* kiln_vfio: the passthrough devices, or NULL (left out) when there are none. */
static json_t *export_vfio(const struct vm_config *c)
{
	json_t *a = c->nr_vfio ? json_array() : NULL;

	for (unsigned i = 0; a && i < c->nr_vfio; i++) {
		json_t *o = json_pack("{s:s, s:s}", "id", c->vfio[i].id, "path", c->vfio[i].path);

		if (json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Firecracker's MmdsConfig as GET /vm/config reports it, or null when none was set. */
static json_t *export_mmds(const struct vm_config *c)
{
	const struct mmds_config *m = &c->mmds;
	json_t *ifaces = json_array();
	char ip[16];

	if (!m->set || !ifaces) {
		json_decref(ifaces);
		return json_null();
	}
	for (unsigned i = 0; i < m->nr_ifaces; i++)
		if (json_array_append_new(ifaces, json_string(m->ifaces[i])) < 0) {
			json_decref(ifaces);
			return NULL;
		}
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", m->ipv4 >> 24, (m->ipv4 >> 16) & 0xff,
		 (m->ipv4 >> 8) & 0xff, m->ipv4 & 0xff);
	return json_pack("{s:s, s:s, s:o, s:b}", "version", m->version == MMDS_V2 ? "V2" : "V1",
			 "ipv4_address", ip, "network_interfaces", ifaces, "imds_compat",
			 m->imds_compat);
}

static json_t *export_pinning(const struct vm_config *c)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < config_vcpus(c); i++) {
		if (json_array_append_new(a, json_integer(c->vcpu_pin[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Whether the topology is the one Firecracker's vcpu_count and smt imply (one socket, two threads
 * per core with smt): then kiln_topology is left out. */
static bool firecracker_topology(const struct vm_config *c)
{
	unsigned vcpus = config_vcpus(c);

	return c->sockets == 1 && (c->threads == 1 || (c->threads == 2 && vcpus > 1)) &&
	       c->cores * c->threads == vcpus;
}

json_t *config_json_export_machine_config(const struct vm_config *c)
{
	json_t *o = json_object();
	bool ok;

	ok = o && put(o, "vcpu_count", json_integer(config_vcpus(c))) &&
	     put(o, "mem_size_mib", json_integer((json_int_t)(c->mem_bytes >> 20))) &&
	     put(o, "smt", json_boolean(c->threads > 1)) &&
	     put(o, "track_dirty_pages", json_boolean(c->track_dirty_pages)) &&
	     put(o, "huge_pages",
		 json_string(c->hugepages ? "2M"
			     : c->thp	  ? "Transparent"
					  : "None")) &&
	     (firecracker_topology(c) ||
	      put(o, "kiln_topology",
		  json_pack("{s:i, s:i, s:i}", "sockets", (int)c->sockets, "cores", (int)c->cores,
			    "threads", (int)c->threads)));
	if (ok && c->pin_vcpus)
		ok = put(o, "kiln_vcpu_pinning", export_pinning(c));
	if (ok && c->virtio_transport == VIRTIO_TRANSPORT_PCI) /* mmio: Firecracker's document */
		ok = put(o, "kiln_virtio_transport", json_string("pci"));
	if (ok && c->nr_transport_of) {
		json_t *t = json_object();

		for (unsigned i = 0; t && i < c->nr_transport_of; i++)
			json_object_set_new(
			    t, c->transport_of[i].name,
			    json_string(c->transport_of[i].transport == VIRTIO_TRANSPORT_PCI
					    ? "pci"
					    : "mmio"));
		ok = put(o, "kiln_virtio_transport_of", t);
	}
	if (!ok)
		json_decref(o);
	return ok ? o : NULL;
}

/* COM1 as Firecracker's serial object: NULL (key left out) for the default (stdio), as
 * Firecracker's document never has the key. A descriptor of an embedding command (SERIAL_FD, kiln
 * sandbox, which has no API) has no JSON form: "none". */
static json_t *export_serial(const struct vm_config *c)
{
	if (c->com1.mode == SERIAL_FILE)
		return json_pack("{s:s}", "serial_out_path", c->com1.path);
	if (c->com1.mode == SERIAL_NONE || c->com1.mode == SERIAL_FD)
		return json_pack("{s:s}", "kiln_mode", "none");
	return NULL;
}

/* COM2 (kiln's extension): NULL (left out) while unused, the default. */
static json_t *export_serial2(const struct vm_config *c)
{
	if (c->com2.mode == SERIAL_NONE || c->com2.mode == SERIAL_FD)
		return NULL;
	if (c->com2.mode == SERIAL_FILE)
		return json_pack("{s:s, s:s}", "mode", "file", "path", c->com2.path);
	return json_pack("{s:s}", "mode", c->com2.mode == SERIAL_STDIO ? "stdio" : "none");
}

static json_t *export_vconsole(const struct vm_config *c)
{
	static const char *const modes[] = {[VCONSOLE_NONE] = "none",
					    [VCONSOLE_STDIO] = "stdio",
					    [VCONSOLE_FILE] = "file",
					    [VCONSOLE_SOCKET] = "socket",
					    [VCONSOLE_FD] = "none"}; /* as SERIAL_FD */
	const struct vconsole_config *vc = &c->vconsole;

	if (vc->mode == VCONSOLE_NONE || vc->mode == VCONSOLE_FD)
		return NULL; /* kiln's extension, unused: left out */
	if (vc->mode == VCONSOLE_FILE || vc->mode == VCONSOLE_SOCKET)
		return json_pack("{s:s, s:s}", "mode", modes[vc->mode], "path", vc->path);
	return json_pack("{s:s}", "mode", modes[vc->mode]);
}

/* Firecracker's Vsock (vsock_id left out, as Firecracker does), or null. */
static json_t *export_vsock(const struct vm_config *c)
{
	if (!c->vsock.set)
		return json_null();
	return json_pack("{s:I, s:s}", "guest_cid", (json_int_t)c->vsock.guest_cid, "uds_path",
			 c->vsock.uds_path);
}

/* Firecracker's keys for what kiln does not configure: the resources it has not implemented
 * yet, and logger and metrics, which Firecracker's document always reports as null. */
static bool put_firecracker_nulls(json_t *doc)
{
	static const char *const nulls[] = {"cpu-config", "logger", "metrics", "memory-hotplug"};
	bool ok = put(doc, "pmem", json_array());

	for (size_t i = 0; ok && i < sizeof(nulls) / sizeof(nulls[0]); i++)
		ok = put(doc, nulls[i], json_null());
	return ok;
}

json_t *config_json_export_balloon(const struct vm_config *c)
{
	const struct balloon_config *b = &c->balloon;

	if (!b->enabled)
		return json_null();
	return json_pack("{s:I, s:b, s:I, s:b, s:b}", "amount_mib", (json_int_t)b->amount_mib,
			 "deflate_on_oom", b->deflate_on_oom, "stats_polling_interval_s",
			 (json_int_t)b->stats_interval_s, "free_page_hinting", 0,
			 "free_page_reporting", b->free_page_reporting);
}

/* Set key to v if v is not NULL (an extension left out); false only if the set failed. */
static bool put_optional(json_t *obj, const char *key, json_t *v)
{
	return !v || put(obj, key, v);
}

json_t *config_json_export(const struct vm_config *c)
{
	json_t *doc = json_object();
	bool ok;

	ok = doc && put(doc, "boot-source", export_boot_source(c)) &&
	     put(doc, "drives", export_drives(c)) &&
	     put(doc, "network-interfaces", export_nets(c)) &&
	     put(doc, "mmds-config", export_mmds(c)) &&
	     put(doc, "machine-config", config_json_export_machine_config(c)) &&
	     put(doc, "entropy",
		 c->rng ? json_pack("{s:o}", "rate_limiter", export_rate_limiter(&c->rng_rate))
			: json_null()) &&
	     put(doc, "balloon", config_json_export_balloon(c)) &&
	     put_optional(doc, "serial", export_serial(c)) &&
	     put_optional(doc, "kiln_serial2", export_serial2(c)) &&
	     put_optional(doc, "kiln_console_virtio", export_vconsole(c)) &&
	     put(doc, "vsock", export_vsock(c)) &&
	     (!c->nr_fs || put(doc, "kiln_fs", export_fs(c))) &&
	     (!c->nr_vfio || put(doc, "kiln_vfio", export_vfio(c))) && put_firecracker_nulls(doc);
	if (!ok) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}
