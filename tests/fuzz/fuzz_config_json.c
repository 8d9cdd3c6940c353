/* fuzz_config_json.c — libFuzzer target: the JSON configuration converters.
 *
 * Input: one selector byte, then JSON text. The selector picks the converter (the whole
 * document, or one resource in PUT or PATCH form). Checked: a failing converter leaves the
 * configuration byte-for-byte unchanged and writes a one-line message; an accepted document
 * exports to one that reads back to the same export (the round trip of GET /vm/config).
 *
 * Build: meson setup build-fuzz -Dfuzz=true with CC=clang (see tests/fuzz/meson.build).
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_json.h"

static int convert(struct vm_config *c, uint8_t sel, const json_t *j, char *err, size_t len)
{
	switch (sel % 10) {
	case 0:
		return config_json_document(c, j, err, len);
	case 1:
		return config_json_boot_source(c, j, err, len);
	case 2:
	case 3:
		return config_json_machine_config(c, j, sel % 10 == 3, err, len);
	case 4:
	case 5:
		return config_json_drive(c, "rootfs", j, sel % 10 == 5, err, len);
	case 6:
		return config_json_entropy(c, j, err, len);
	case 7:
		return config_json_serial(c, j, err, len);
	case 8:
		return config_json_serial2(c, j, err, len);
	default:
		return config_json_console_virtio(c, j, err, len);
	}
}

/* export -> document onto the defaults -> export: the same document. */
static void round_trip(const struct vm_config *c, struct vm_config *scratch)
{
	json_t *a = config_json_export(c), *b;
	char err[1024];

	assert(a);
	config_defaults(scratch);
	assert(config_json_document(scratch, a, err, sizeof(err)) == 0);
	b = config_json_export(scratch);
	assert(b && json_equal(a, b));
	json_decref(a);
	json_decref(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_config c, before, scratch;
	json_error_t je;
	json_t *j;
	char err[1024];
	int ret;

	if (size < 1)
		return 0;
	j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, &je);
	if (!j)
		return 0;
	config_defaults(&c);
	/* A drive to PATCH, so the PATCH form gets past "no such drive". */
	assert(config_disk_put(&c, &(struct disk_config){.path = "/d", .id = "rootfs"}, &ret) == 0);
	before = c;
	ret = convert(&c, data[0], j, err, sizeof(err));
	if (ret < 0) {
		assert(ret == -EINVAL && memcmp(&before, &c, sizeof(c)) == 0);
		assert(err[0] && !strchr(err, '\n'));
	} else {
		round_trip(&c, &scratch);
	}
	json_decref(j);
	return 0;
}
