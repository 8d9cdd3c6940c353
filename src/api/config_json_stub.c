/* config_json_stub.c — stand-ins for the JSON config converters until config_json.c lands;
 * built only when src/config/config_json.c does not exist (see src/meson.build). */
#include <errno.h>
#include <stdio.h>

#include "config/config_json.h"

static int absent(const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: this kiln build has no JSON configuration converters yet", what);
	return -ENOSYS;
}

int config_json_boot_source(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	return absent("boot-source", err, errlen);
}

int config_json_machine_config(struct vm_config *cfg, const json_t *obj, bool patch, char *err,
			       size_t errlen)
{
	return absent("machine-config", err, errlen);
}

int config_json_drive(struct vm_config *cfg, const char *drive_id, const json_t *obj, bool patch,
		      char *err, size_t errlen)
{
	return absent("drives", err, errlen);
}

int config_json_entropy(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	return absent("entropy", err, errlen);
}

int config_json_serial(struct vm_config *cfg, const json_t *obj, char *err, size_t errlen)
{
	return absent("serial", err, errlen);
}

int config_json_document(struct vm_config *cfg, const json_t *doc, char *err, size_t errlen)
{
	return absent("config document", err, errlen);
}

int config_json_load_file(struct vm_config *cfg, const char *path, char *err, size_t errlen)
{
	return absent(path, err, errlen);
}

json_t *config_json_export(const struct vm_config *cfg)
{
	return json_pack("{s:{s:i,s:I}}", "machine-config", "vcpu_count", (int)config_vcpus(cfg),
			 "mem_size_mib", (json_int_t)(cfg->mem_bytes >> 20));
}
