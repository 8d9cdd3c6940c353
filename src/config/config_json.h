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

/*
 * Each applies one resource's JSON object to cfg. On any error — not an object, an unknown
 * field, a wrong type, a missing required field, a value out of range — it writes one line
 * naming the field (e.g. "machine-config: field 'vcpu_count': 0 is outside 1..254") to err,
 * returns -EINVAL and leaves cfg unchanged. `patch` (PATCH requests) makes every field optional
 * and updates only those present; kiln's extensions are documented fields beside Firecracker's.
 */
int config_json_boot_source(struct vm_config *cfg, const json_t *obj, char *err,
			    size_t errlen) MUST_CHECK;
int config_json_machine_config(struct vm_config *cfg, const json_t *obj, bool patch, char *err,
			       size_t errlen) MUST_CHECK;
/* PUT /drives/{drive_id} (the path's id must equal the body's drive_id), PATCH likewise. */
int config_json_drive(struct vm_config *cfg, const char *drive_id, const json_t *obj, bool patch,
		      char *err, size_t errlen) MUST_CHECK;
int config_json_entropy(struct vm_config *cfg, const json_t *obj, char *err,
			size_t errlen) MUST_CHECK;
int config_json_serial(struct vm_config *cfg, const json_t *obj, char *err,
		       size_t errlen) MUST_CHECK;

/* A whole --config-file document (FullVmConfiguration shape): each top-level key dispatched to
 * the converter above; unknown top-level keys and resources kiln does not implement yet are
 * errors naming them (null values of known-but-unimplemented keys are accepted). */
int config_json_document(struct vm_config *cfg, const json_t *doc, char *err,
			 size_t errlen) MUST_CHECK;

/* Read and apply a --config-file. Errors name the file and, for JSON syntax errors, the line
 * and column jansson reports ("vm.json:12:5: ..."). */
int config_json_load_file(struct vm_config *cfg, const char *path, char *err,
			  size_t errlen) MUST_CHECK;

/* GET /vm/config: cfg as a FullVmConfiguration object (new reference; NULL on ENOMEM). */
json_t *config_json_export(const struct vm_config *cfg);

#endif
