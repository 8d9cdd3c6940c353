/* config_json.h — Firecracker-compatible JSON <-> struct vm_config: the --config-file document
 * and the bodies of the API's configuration resources share these converters, so every input
 * path is checked by the same code (see ../shared/reference/firecracker-api/firecracker.yaml). */
#ifndef KILN_CONFIG_CONFIG_JSON_H
#define KILN_CONFIG_CONFIG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "config/config.h"
#include "util/compiler.h"

struct jres;

/*
 * Each applies one resource's JSON object to cfg. On any error — not an object, an unknown
 * field, a wrong type, a missing required field, a value out of range — it writes one line
 * naming the field (e.g. "machine-config: field 'vcpu_count': 0 is outside 1..254") to err,
 * returns -EINVAL (-ENOMEM if a copy of cfg cannot be allocated) and leaves cfg unchanged.
 * `patch` (PATCH requests) makes every field optional and updates only those present; a PUT
 * resets the optional fields it does not give to their defaults (Firecracker's rule). kiln's
 * extensions are documented fields beside Firecracker's (README "Configuration file").
 * Host paths are stored, not opened: they are checked when the VM starts. The converters do
 * not know the VM's state: the caller enforces pre-/post-boot rules.
 *
 * boot-source: kernel_image_path (required), boot_args, initrd_path; kiln_load_addr + kiln_entry
 *   (a raw image), kiln_boot ("auto" | "linux" | "pvh").
 * machine-config: vcpu_count 1..254 and mem_size_mib 2..1048576 (required on PUT), smt,
 *   track_dirty_pages, huge_pages ("None" | "Transparent" | "2M"), cpu_template ("None" only);
 *   kiln_topology {sockets, cores, threads}, kiln_vcpu_pinning [host CPU per vCPU].
 */
int config_json_boot_source(struct vm_config *cfg, const json_t *obj, char *err,
			    size_t errlen) MUST_CHECK;
int config_json_machine_config(struct vm_config *cfg, const json_t *obj, bool patch, char *err,
			       size_t errlen) MUST_CHECK;
/* Field "rate_limiter" of r (Firecracker's RateLimiter: "bandwidth" and "ops", each a TokenBucket
 * {size, one_time_burst, refill_time} or null) into *out: 1 if given (out->set), 0 if absent or
 * null (no limit), -EINVAL with the message in r->err. */
int config_json_rate_limiter(const struct jres *r, struct rate_limit_config *out) MUST_CHECK;
/* The same for a rate limiter under another field name (rx_rate_limiter, tx_rate_limiter). */
int config_json_rate_limiter_at(const struct jres *r, const char *field,
				struct rate_limit_config *out) MUST_CHECK;

/* PUT /drives/{drive_id} (the path's id must equal the body's drive_id; an existing drive with
 * that id is replaced; a root device goes first, at most one), PATCH likewise (PartialDrive:
 * path_on_host of an existing drive). Messages are prefixed "drives/<drive_id>". */
int config_json_drive(struct vm_config *cfg, const char *drive_id, const json_t *obj, bool patch,
		      char *err, size_t errlen) MUST_CHECK;
/* PUT /balloon (Firecracker's Balloon) and the document's "balloon": before boot. 0 or -EINVAL
 * with one line in err; cfg unchanged on error. */
int config_json_balloon(struct vm_config *cfg, const json_t *obj, char *err,
			size_t errlen) MUST_CHECK;

/* The balloon as Firecracker's Balloon object (GET /balloon, the document's "balloon"), or JSON
 * null without one; NULL on ENOMEM. */
json_t *config_json_export_balloon(const struct vm_config *c);

/* PUT /network-interfaces/{iface_id} (NetworkInterface: iface_id equal to the path's,
 * host_dev_name, guest_mac, mtu, rx_rate_limiter, tx_rate_limiter; an interface with that id is
 * replaced; another interface's MAC or TAP is refused), PATCH likewise
 * (NetworkInterfaceUpdateConfig: the rate limiters of an existing interface). Messages are
 * prefixed "network-interfaces/<iface_id>". */
int config_json_net(struct vm_config *cfg, const char *iface_id, const json_t *obj, bool patch,
		    char *err, size_t errlen) MUST_CHECK;
int config_json_entropy(struct vm_config *cfg, const json_t *obj, char *err,
			size_t errlen) MUST_CHECK;
/* PUT /vsock (Firecracker's Vsock): guest_cid (3..2^32-1) and uds_path (1-107 bytes) required,
 * vsock_id ignored; replaces an earlier vsock. 0 or -EINVAL with "vsock: ..." in err. */
int config_json_vsock(struct vm_config *cfg, const json_t *obj, char *err,
		      size_t errlen) MUST_CHECK;
/* PUT /mmds/config: version ("V1", the default, or "V2"), network_interfaces (required, the ids of
 * network interfaces MMDS answers on), ipv4_address (link-local; default 169.254.169.254),
 * imds_compat; refused in Firecracker's words when the list is empty, the address is not
 * link-local or an id names no interface (kiln has none yet, so every list is refused). *v1 (may
 * be NULL) tells whether the body asks for V1, which Firecracker marks deprecated. */
int config_json_mmds_config(struct vm_config *cfg, const json_t *obj, bool *v1, char *err,
			    size_t errlen) MUST_CHECK;
/* PUT /serial (COM1): serial_out_path (a file); kiln's kiln_mode "stdio" | "file" | "none". */
int config_json_serial(struct vm_config *cfg, const json_t *obj, char *err,
		       size_t errlen) MUST_CHECK;
/* kiln's COM2: {"mode": "stdio" | "file" | "none", "path": file path (mode "file" only)}. */
int config_json_serial2(struct vm_config *cfg, const json_t *obj, char *err,
			size_t errlen) MUST_CHECK;
/* kiln's virtio console: {"mode": "none" | "stdio" | "file" | "socket", "path": for file and
 * socket}. */
int config_json_console_virtio(struct vm_config *cfg, const json_t *obj, char *err,
			       size_t errlen) MUST_CHECK;

/* The checks across resources, to run before a VM starts (InstanceStart): at most one of COM1,
 * COM2 and the virtio console on stdio. 0 or -EINVAL with one line in err.
 * config_json_document runs it. */
/* PUT /kiln/vfio/{id} (a kiln extension): a passthrough device, {"id", "path"}. */
int config_json_vfio(struct vm_config *cfg, const char *id, const json_t *obj, char *err,
		     size_t errlen) MUST_CHECK;

int config_json_check(const struct vm_config *cfg, char *err, size_t errlen) MUST_CHECK;

/* A whole --config-file document (FullVmConfiguration shape) applied to cfg (normally the
 * defaults): each top-level key dispatched to the converter above ("drives" an array of PUT
 * bodies, messages prefixed "drives[i]"; the keys kiln_serial2 and kiln_console_virtio; a missing
 * boot-source boots the demo guest); unknown top-level keys and resources kiln does not
 * implement yet are errors naming them (null values, or [], of known-but-unimplemented keys are
 * accepted). Then config_json_check. All or nothing: cfg unchanged on error. */
int config_json_document(struct vm_config *cfg, const json_t *doc, char *err,
			 size_t errlen) MUST_CHECK;

/* Read the JSON document at path (a regular file of at most CONFIG_FILE_MAX bytes, opened
 * without blocking: util/file.h): the document, or NULL with one line in err ("PATH: ..." or
 * "PATH:LINE:COL: ..."). */
#define CONFIG_FILE_MAX (16u << 20)
json_t *config_json_read_file(const char *path, char *err, size_t errlen);

/* Read and apply a --config-file. Errors name the file and, for JSON syntax errors, the line
 * and column jansson reports ("vm.json:12:5: ..."). */
int config_json_load_file(struct vm_config *cfg, const char *path, char *err,
			  size_t errlen) MUST_CHECK;

/* GET /vm/config: cfg as a FullVmConfiguration object with kiln's extensions (new reference;
 * NULL on ENOMEM). config_json_document of it onto the defaults gives cfg back (disks without
 * an id are exported as "drive<N>"; kiln-only settings with no JSON field, such as the debug-exit
 * port, are not exported). */
json_t *config_json_export(const struct vm_config *cfg);

/* GET /machine-config: the machine-config object of config_json_export (new reference). */
json_t *config_json_export_machine_config(const struct vm_config *cfg);

#endif
