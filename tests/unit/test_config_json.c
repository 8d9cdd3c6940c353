/* test_config_json.c — the JSON converters: every resource and field, every error kind (PUT and
 * PATCH), cfg unchanged on error, root-device rules, Firecracker's example documents, export.
 * Usage: test_config_json DATA_DIR   (DATA_DIR holds Firecracker's vm_config*.json) */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config_json.h"

static const char *g_data_dir;

enum res {
	BOOT,
	MC_PUT,
	MC_PATCH,
	DRIVE_PUT,
	DRIVE_PATCH,
	NET_PUT,
	NET_PATCH,
	MMDS,
	ENTROPY,
	SERIAL,
	SERIAL2,
	VCON,
	DOC,
	VSOCK,
	VFIO
};

static char g_err[1024];

static struct vm_config *new_cfg(void)
{
	struct vm_config *c = malloc(sizeof(*c));

	assert_non_null(c);
	config_defaults(c);
	return c;
}

/* Apply `text` (JSON) as resource r; `id` is the drive id of the request path. */
static int apply(struct vm_config *c, enum res r, const char *id, const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
	int ret = -1;

	if (!j)
		fail_msg("bad test JSON %s: %s", text, je.text);
	g_err[0] = '\0';
	switch (r) {
	case BOOT:
		ret = config_json_boot_source(c, j, g_err, sizeof(g_err));
		break;
	case MC_PUT:
	case MC_PATCH:
		ret = config_json_machine_config(c, j, r == MC_PATCH, g_err, sizeof(g_err));
		break;
	case DRIVE_PUT:
	case DRIVE_PATCH:
		ret = config_json_drive(c, id, j, r == DRIVE_PATCH, g_err, sizeof(g_err));
		break;
	case NET_PUT:
	case NET_PATCH:
		ret = config_json_net(c, id, j, r == NET_PATCH, g_err, sizeof(g_err));
		break;
	case MMDS:
		ret = config_json_mmds_config(c, j, NULL, g_err, sizeof(g_err));
		break;
	case ENTROPY:
		ret = config_json_entropy(c, j, g_err, sizeof(g_err));
		break;
	case SERIAL:
		ret = config_json_serial(c, j, g_err, sizeof(g_err));
		break;
	case SERIAL2:
		ret = config_json_serial2(c, j, g_err, sizeof(g_err));
		break;
	case VCON:
		ret = config_json_console_virtio(c, j, g_err, sizeof(g_err));
		break;
	case DOC:
		ret = config_json_document(c, j, g_err, sizeof(g_err));
		break;
	case VSOCK:
		ret = config_json_vsock(c, j, g_err, sizeof(g_err));
		break;
	case VFIO:
		ret = config_json_vfio(c, id, j, g_err, sizeof(g_err));
		break;
	}
	json_decref(j);
	return ret;
}

static void ok(struct vm_config *c, enum res r, const char *id, const char *text)
{
	if (apply(c, r, id, text) != 0)
		fail_msg("%s: unexpected error: %s", text, g_err);
}

/* The call fails with -EINVAL, one line containing `part`, and c unchanged. */
static void fails(struct vm_config *c, enum res r, const char *id, const char *text,
		  const char *part)
{
	struct vm_config *before = malloc(sizeof(*before));
	int ret;

	assert_non_null(before);
	memcpy(before, c, sizeof(*c));
	ret = apply(c, r, id, text);
	if (ret != -EINVAL || !strstr(g_err, part) || strchr(g_err, '\n'))
		fail_msg("%s: got %d '%s', want -EINVAL and '%s'", text, ret, g_err, part);
	assert_memory_equal(before, c, sizeof(*c));
	free(before);
}

static void test_boot_source(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, BOOT, NULL,
	   "{\"kernel_image_path\": \"/k\", \"boot_args\": \"console=ttyS0\", \"initrd_path\": "
	   "\"/i\"}");
	assert_string_equal(c->kernel_path, "/k");
	assert_string_equal(c->cmdline, "console=ttyS0");
	assert_string_equal(c->initrd_path, "/i");
	assert_int_equal(c->boot, BOOT_AUTO);
	/* A PUT resets what it does not give; null is absent. */
	ok(c, BOOT, NULL, "{\"kernel_image_path\": \"/k2\", \"initrd_path\": null}");
	assert_string_equal(c->kernel_path, "/k2");
	assert_string_equal(c->cmdline, "");
	assert_string_equal(c->initrd_path, "");
	ok(c, BOOT, NULL,
	   "{\"kernel_image_path\": \"/raw\", \"kiln_load_addr\": \"0x200000\", \"kiln_entry\": "
	   "2097168}");
	assert_int_equal(c->boot, BOOT_RAW);
	assert_int_equal(c->load_addr, 0x200000);
	assert_int_equal(c->entry, 0x200010);
	ok(c, BOOT, NULL, "{\"kernel_image_path\": \"/k\", \"kiln_boot\": \"pvh\"}");
	assert_int_equal(c->boot, BOOT_PVH);
	assert_int_equal(c->load_addr, 0);
	free(c);
}

static void test_boot_source_errors(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	fails(c, BOOT, NULL, "{\"boot_args\": \"x\"}", "field 'kernel_image_path' is missing");
	fails(c, BOOT, NULL, "{\"kernel_image_path\": null}",
	      "field 'kernel_image_path' is missing");
	fails(c, BOOT, NULL, "{\"kernel_image_path\": \"\"}", "must not be empty");
	fails(c, BOOT, NULL, "{\"kernel_image_path\": 7}",
	      "boot-source: field 'kernel_image_path': expected a string, got an integer");
	fails(c, BOOT, NULL, "{\"kernel_image_path\": \"/k\", \"boot_args\": [\"a\"]}",
	      "field 'boot_args': expected a string, got an array");
	fails(c, BOOT, NULL, "{\"kernel_image_path\": \"/k\", \"kernel\": \"/k\"}",
	      "boot-source: unknown field 'kernel'");
	fails(c, BOOT, NULL, "[1]", "boot-source: expected an object, got an array");
	fails(c, BOOT, NULL, "{\"kernel_image_path\": \"/k\", \"kiln_load_addr\": 4096}",
	      "field 'kiln_entry' is missing");
	fails(c, BOOT, NULL, "{\"kernel_image_path\": \"/k\", \"kiln_entry\": 4096}",
	      "field 'kiln_load_addr' is missing");
	fails(c, BOOT, NULL,
	      "{\"kernel_image_path\": \"/k\", \"kiln_load_addr\": -1, \"kiln_entry\": 1}",
	      "field 'kiln_load_addr': not an address");
	fails(c, BOOT, NULL,
	      "{\"kernel_image_path\": \"/k\", \"kiln_load_addr\": \"zz\", \"kiln_entry\": 1}",
	      "field 'kiln_load_addr': not an address");
	fails(c, BOOT, NULL,
	      "{\"kernel_image_path\": \"/k\", \"kiln_load_addr\": 1, \"kiln_entry\": 1, "
	      "\"kiln_boot\": \"pvh\"}",
	      "field 'kiln_boot': does not apply to a raw image");
	fails(c, BOOT, NULL, "{\"kernel_image_path\": \"/k\", \"kiln_boot\": \"efi\"}",
	      "field 'kiln_boot': \"efi\" is not one of \"auto\", \"linux\", \"pvh\"");
	free(c);
}

static void test_machine_config_put(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, MC_PUT, NULL,
	   "{\"vcpu_count\": 4, \"mem_size_mib\": 1024, \"smt\": true, \"track_dirty_pages\": "
	   "true, \"huge_pages\": \"2M\", \"cpu_template\": \"None\"}");
	assert_int_equal(config_vcpus(c), 4);
	assert_int_equal(c->sockets, 1);
	assert_int_equal(c->cores, 2);
	assert_int_equal(c->threads, 2);
	assert_int_equal(c->mem_bytes, 1024ULL << 20);
	assert_true(c->track_dirty_pages);
	assert_true(c->hugepages);
	assert_false(c->thp);
	/* PUT: the optional fields return to their defaults. */
	ok(c, MC_PUT, NULL, "{\"vcpu_count\": 3, \"mem_size_mib\": 64}");
	assert_int_equal(c->cores, 3);
	assert_int_equal(c->threads, 1);
	assert_false(c->track_dirty_pages);
	assert_false(c->hugepages);
	ok(c, MC_PUT, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 2, \"smt\": true}");
	assert_int_equal(config_vcpus(c), 1);
	ok(c, MC_PUT, NULL,
	   "{\"vcpu_count\": 254, \"mem_size_mib\": 1048576, \"huge_pages\": \"Transparent\"}");
	assert_int_equal(config_vcpus(c), 254);
	assert_true(c->thp);
	ok(c, MC_PUT, NULL,
	   "{\"vcpu_count\": 12, \"mem_size_mib\": 64, \"kiln_topology\": {\"sockets\": 2, "
	   "\"cores\": 3, \"threads\": 2}, \"kiln_vcpu_pinning\": [0,1,0,1,0,1,0,1,0,1,0,1023]}");
	assert_int_equal(c->sockets, 2);
	assert_int_equal(c->cores, 3);
	assert_int_equal(c->threads, 2);
	assert_true(c->pin_vcpus);
	assert_int_equal(c->vcpu_pin[1], 1);
	assert_int_equal(c->vcpu_pin[11], 1023);
	ok(c, MC_PUT, NULL, "{\"vcpu_count\": 2, \"mem_size_mib\": 64}");
	assert_false(c->pin_vcpus);
	free(c);
}

static void test_machine_config_errors(void **state)
{
	struct vm_config *c = new_cfg();
	enum res both[] = {MC_PUT, MC_PATCH};

	(void)state;
	fails(c, MC_PUT, NULL, "{\"mem_size_mib\": 64}", "field 'vcpu_count' is missing");
	fails(c, MC_PUT, NULL, "{\"vcpu_count\": 1}", "field 'mem_size_mib' is missing");
	fails(c, MC_PUT, NULL, "{\"vcpu_count\": null, \"mem_size_mib\": 64}",
	      "field 'vcpu_count' is missing");
	for (int i = 0; i < 2; i++) {
		enum res r = both[i];

		fails(c, r, NULL, "{\"vcpu_count\": 0, \"mem_size_mib\": 64}",
		      "machine-config: field 'vcpu_count': 0 is outside 1..254");
		fails(c, r, NULL, "{\"vcpu_count\": 255, \"mem_size_mib\": 64}",
		      "field 'vcpu_count': 255 is outside 1..254");
		fails(c, r, NULL, "{\"vcpu_count\": -1, \"mem_size_mib\": 64}",
		      "field 'vcpu_count': -1 is outside");
		fails(c, r, NULL, "{\"vcpu_count\": \"2\", \"mem_size_mib\": 64}",
		      "field 'vcpu_count': expected an integer, got a string");
		fails(c, r, NULL, "{\"vcpu_count\": 2.5, \"mem_size_mib\": 64}",
		      "field 'vcpu_count': expected an integer, got a number with a fraction");
		fails(c, r, NULL, "{\"vcpu_count\": true, \"mem_size_mib\": 64}",
		      "expected an integer, got a boolean");
		fails(c, r, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 1}",
		      "field 'mem_size_mib': 1 is outside 2..1048576");
		fails(c, r, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 1048577}",
		      "field 'mem_size_mib': 1048577 is outside");
		fails(c, r, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"smt\": 1}",
		      "field 'smt': expected a boolean, got an integer");
		fails(c, r, NULL, "{\"vcpu_count\": 3, \"mem_size_mib\": 64, \"smt\": true}",
		      "field 'vcpu_count': 3 must be 1 or even with smt");
		fails(c, r, NULL,
		      "{\"vcpu_count\": 1, \"mem_size_mib\": 63, \"huge_pages\": \"2M\"}",
		      "field 'mem_size_mib': 63 MiB is not a multiple of 2M");
		fails(c, r, NULL,
		      "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"huge_pages\": \"1G\"}",
		      "field 'huge_pages': \"1G\" is not one of \"None\", \"Transparent\", \"2M\"");
		fails(c, r, NULL,
		      "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": \"T2\"}",
		      "field 'cpu_template': \"T2\" is not supported by kiln");
		fails(c, r, NULL,
		      "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"track_dirty_pages\": "
		      "\"yes\"}",
		      "field 'track_dirty_pages': expected a boolean");
		fails(c, r, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"gdb\": 1}",
		      "machine-config: unknown field 'gdb'");
		fails(c, r, NULL, "\"x\"", "machine-config: expected an object, got a string");
		fails(
		    c, r, NULL,
		    "{\"vcpu_count\": 4, \"mem_size_mib\": 64, \"kiln_topology\": {\"sockets\": 1, "
		    "\"cores\": 2, \"threads\": 1}}",
		    "machine-config.kiln_topology: 1*2*1 vCPUs, but vcpu_count is 4");
		fails(
		    c, r, NULL,
		    "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": false, \"kiln_topology\": "
		    "{\"sockets\": 1, \"cores\": 1, \"threads\": 2}}",
		    "threads 2 disagrees with smt false");
		fails(
		    c, r, NULL,
		    "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"kiln_topology\": {\"sockets\": 1, "
		    "\"cores\": 2}}",
		    "machine-config.kiln_topology: field 'threads' is missing");
		fails(
		    c, r, NULL,
		    "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"kiln_topology\": {\"sockets\": 1, "
		    "\"cores\": 2, \"threads\": 1, \"dies\": 1}}",
		    "machine-config.kiln_topology: unknown field 'dies'");
		fails(
		    c, r, NULL,
		    "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"kiln_topology\": {\"sockets\": 0, "
		    "\"cores\": 2, \"threads\": 1}}",
		    "field 'sockets': 0 is outside 1..254");
		fails(c, r, NULL,
		      "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"kiln_topology\": {\"sockets\": "
		      "16, "
		      "\"cores\": 16, \"threads\": 2}}",
		      "16:16:2 gives more than 254 vCPUs");
		fails(c, r, NULL, "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"kiln_topology\": 3}",
		      "machine-config.kiln_topology: expected an object, got an integer");
		fails(c, r, NULL,
		      "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"kiln_vcpu_pinning\": [0]}",
		      "field 'kiln_vcpu_pinning': 1 entries for 2 vCPUs");
		fails(c, r, NULL,
		      "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"kiln_vcpu_pinning\": [0, 1024]}",
		      "field 'kiln_vcpu_pinning': entry 1 is not a host CPU number 0..1023");
		fails(
		    c, r, NULL,
		    "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"kiln_vcpu_pinning\": [0, \"1\"]}",
		    "entry 1 is not a host CPU number");
		fails(c, r, NULL,
		      "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"kiln_vcpu_pinning\": 0}",
		      "field 'kiln_vcpu_pinning': expected an array, got an integer");
	}
	free(c);
}

static void round_trip(struct vm_config *c);

static void test_machine_config_patch(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, MC_PATCH, NULL, "{}");
	assert_int_equal(config_vcpus(c), 1);
	assert_int_equal(c->mem_bytes, 256ULL << 20);
	ok(c, MC_PATCH, NULL, "{\"mem_size_mib\": 128}");
	assert_int_equal(c->mem_bytes, 128ULL << 20);
	/* kiln's extension: the virtio transport, kept by a PATCH that does not name it */
	ok(c, MC_PATCH, NULL, "{\"kiln_virtio_transport\": \"pci\"}");
	assert_int_equal(c->virtio_transport, VIRTIO_TRANSPORT_PCI);
	ok(c, MC_PATCH, NULL, "{\"mem_size_mib\": 128}");
	assert_int_equal(c->virtio_transport, VIRTIO_TRANSPORT_PCI);
	fails(c, MC_PATCH, NULL, "{\"kiln_virtio_transport\": \"isa\"}", "kiln_virtio_transport");
	ok(c, MC_PATCH, NULL, "{\"kiln_virtio_transport\": \"mmio\"}");
	/* devices' own transports: the whole set each time it is given */
	ok(c, MC_PATCH, NULL,
	   "{\"kiln_virtio_transport_of\": {\"block0\": \"pci\", \"entropy\": \"mmio\"}}");
	assert_int_equal(c->nr_transport_of, 2);
	assert_int_equal(config_virtio_transport_of(c, "block0"), VIRTIO_TRANSPORT_PCI);
	assert_true(config_virtio_pci_used(c));
	round_trip(c);
	fails(c, MC_PATCH, NULL, "{\"kiln_virtio_transport_of\": {\"disk0\": \"pci\"}}",
	      "'disk0' names no virtio device");
	fails(c, MC_PATCH, NULL, "{\"kiln_virtio_transport_of\": {\"block0\": \"isa\"}}",
	      "'block0' is not \"mmio\" or \"pci\"");
	fails(c, MC_PATCH, NULL, "{\"kiln_virtio_transport_of\": [\"block0\"]}",
	      "expected an object, got an array");
	ok(c, MC_PATCH, NULL, "{\"kiln_virtio_transport_of\": {}}");
	assert_int_equal(c->nr_transport_of, 0);
	assert_int_equal(c->virtio_transport, VIRTIO_TRANSPORT_MMIO);
	ok(c, MC_PATCH, NULL, "{\"smt\": true, \"vcpu_count\": 2}");
	assert_int_equal(c->threads, 2);
	ok(c, MC_PATCH, NULL, "{\"vcpu_count\": 4}"); /* smt stays on */
	assert_int_equal(c->threads, 2);
	assert_int_equal(c->cores, 2);
	ok(c, MC_PATCH, NULL, "{\"huge_pages\": \"2M\"}");
	assert_true(c->hugepages);
	assert_int_equal(c->mem_bytes, 128ULL << 20); /* untouched by the PATCH */
	fails(c, MC_PATCH, NULL, "{\"mem_size_mib\": 127}", "127 MiB is not a multiple of 2M");
	ok(c, MC_PATCH, NULL,
	   "{\"kiln_topology\": {\"sockets\": 2, \"cores\": 1, \"threads\": 2}}");
	assert_int_equal(c->sockets, 2);
	ok(c, MC_PATCH, NULL, "{\"track_dirty_pages\": true}");
	assert_int_equal(c->sockets, 2); /* a PATCH that touches no count keeps the topology */
	assert_true(c->track_dirty_pages);
	ok(c, MC_PATCH, NULL, "{\"kiln_vcpu_pinning\": [3, 2, 1, 0]}");
	assert_int_equal(c->vcpu_pin[0], 3);
	fails(c, MC_PATCH, NULL, "{\"vcpu_count\": 2}",
	      "field 'kiln_vcpu_pinning': has 4 entries, vcpu_count is now 2");
	fails(c, MC_PATCH, NULL, "{\"vcpu_count\": 2, \"kiln_vcpu_pinning\": null}",
	      "has 4 entries, vcpu_count is now 2");
	ok(c, MC_PATCH, NULL, "{\"vcpu_count\": 2, \"kiln_vcpu_pinning\": [1, 1]}");
	assert_int_equal(c->vcpu_pin[1], 1);
	free(c);
}

static const char *const drive_a = "{\"drive_id\": \"a\", \"path_on_host\": \"/a.img\", "
				   "\"is_root_device\": false, \"is_read_only\": false}";

static void test_drive_put(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, DRIVE_PUT, "rootfs",
	   "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.ext4\", \"is_root_device\": true, "
	   "\"partuuid\": \"0eaa91a0-01\", \"is_read_only\": true, \"cache_type\": \"Writeback\", "
	   "\"io_engine\": \"Async\", \"rate_limiter\": null, \"socket\": null}");
	assert_int_equal(c->nr_disks, 1);
	assert_string_equal(c->disks[0].id, "rootfs");
	assert_string_equal(c->disks[0].path, "/r.ext4");
	assert_true(c->disks[0].is_root);
	assert_true(c->disks[0].read_only);
	assert_string_equal(c->disks[0].partuuid, "0eaa91a0-01");
	assert_int_equal(c->disks[0].cache, DISK_CACHE_WRITEBACK);
	assert_int_equal(c->disks[0].io_engine, DISK_IO_ASYNC);
	ok(c, DRIVE_PUT, "a", drive_a);
	assert_int_equal(c->disks[1].io_engine, DISK_IO_SYNC); /* Firecracker's default */
	assert_int_equal(c->disks[1].cache, DISK_CACHE_UNSAFE);
	/* A PUT of an existing id replaces it in place. */
	ok(c, DRIVE_PUT, "a",
	   "{\"drive_id\": \"a\", \"path_on_host\": \"/a2.img\", \"is_root_device\": false, "
	   "\"is_read_only\": true}");
	assert_int_equal(c->nr_disks, 2);
	assert_string_equal(c->disks[1].path, "/a2.img");
	assert_true(c->disks[1].read_only);
	free(c);
}

static void test_drive_root_rules(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, DRIVE_PUT, "a", drive_a);
	ok(c, DRIVE_PUT, "b",
	   "{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": false, "
	   "\"is_read_only\": false}");
	/* The root device is attached first, whatever the order of the requests. */
	ok(c, DRIVE_PUT, "root_1",
	   "{\"drive_id\": \"root_1\", \"path_on_host\": \"/r\", \"is_root_device\": true, "
	   "\"is_read_only\": false}");
	assert_string_equal(c->disks[0].id, "root_1");
	assert_string_equal(c->disks[1].id, "a");
	assert_string_equal(c->disks[2].id, "b");
	fails(c, DRIVE_PUT, "b",
	      "{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": true, "
	      "\"is_read_only\": false}",
	      "drives/b: field 'is_root_device': drive \"root_1\" is already the root device");
	/* The root itself may be replaced; made a plain drive it moves to the end. */
	ok(c, DRIVE_PUT, "root_1",
	   "{\"drive_id\": \"root_1\", \"path_on_host\": \"/r2\", \"is_root_device\": true, "
	   "\"is_read_only\": true}");
	assert_string_equal(c->disks[0].path, "/r2");
	ok(c, DRIVE_PUT, "root_1",
	   "{\"drive_id\": \"root_1\", \"path_on_host\": \"/r2\", \"is_root_device\": false, "
	   "\"is_read_only\": true}");
	assert_string_equal(c->disks[0].id, "a");
	assert_string_equal(c->disks[2].id, "root_1");
	ok(c, DRIVE_PUT, "b",
	   "{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": true, "
	   "\"is_read_only\": false}");
	assert_string_equal(c->disks[0].id, "b");
	assert_int_equal(c->nr_disks, 3);
	/* is_read_only is optional, false by default (Firecracker's Option<bool>) */
	ok(c, DRIVE_PUT, "ro",
	   "{\"drive_id\": \"ro\", \"path_on_host\": \"/ro\", \"is_root_device\": false}");
	assert_false(c->disks[config_disk_find(c, "ro")].read_only);
	free(c);
}

static void test_drive_errors(void **state)
{
	struct vm_config *c = new_cfg();
	char body[256];

	(void)state;
	fails(c, DRIVE_PUT, "b", drive_a, "field 'drive_id': \"a\" differs from the path's \"b\"");
	fails(c, DRIVE_PUT, "a-1",
	      "{\"drive_id\": \"a-1\", \"path_on_host\": \"/a\", \"is_root_device\": false, "
	      "\"is_read_only\": false}",
	      "field 'drive_id': \"a-1\" may hold only letters, digits and '_'");
	fails(c, DRIVE_PUT, "a", "{\"path_on_host\": \"/a\"}", "field 'drive_id' is missing");
	fails(c, DRIVE_PUT, "a",
	      "{\"drive_id\": \"a\", \"is_root_device\": false, \"is_read_only\": false}",
	      "drives/a: field 'path_on_host' is missing");
	fails(c, DRIVE_PUT, "a",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_read_only\": "
	      "false}",
	      "field 'is_root_device' is missing");
	fails(c, DRIVE_PUT, "a",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": \"no\", "
	      "\"is_read_only\": false}",
	      "field 'is_root_device': expected a boolean, got a string");
	fails(c, DRIVE_PUT, "a",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false, "
	      "\"is_read_only\": false, \"cache_type\": \"None\"}",
	      "field 'cache_type': \"None\" is not one of \"Unsafe\", \"Writeback\"");
	fails(c, DRIVE_PUT, "a",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false, "
	      "\"is_read_only\": false, \"io_engine\": \"Uring\"}",
	      "field 'io_engine': \"Uring\" is not one of \"Sync\", \"Async\"");
	fails(c, DRIVE_PUT, "a",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false, "
	      "\"is_read_only\": false, \"rate_limiter\": {\"ops\": {\"size\": 1}}}",
	      "drives/a.rate_limiter.ops: field 'refill_time' is missing (required)");
	fails(c, DRIVE_PUT, "a",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false, "
	      "\"is_read_only\": false, \"socket\": \"/s\"}",
	      "field 'socket': kiln has no vhost-user drives");
	fails(c, DRIVE_PUT, "a",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false, "
	      "\"is_read_only\": false, \"readonly\": true}",
	      "drives/a: unknown field 'readonly'");
	for (int i = 0; i < CONFIG_MAX_DISKS; i++) {
		char id[16];

		snprintf(id, sizeof(id), "d%d", i);
		snprintf(body, sizeof(body),
			 "{\"drive_id\": \"%s\", \"path_on_host\": \"/d\", \"is_root_device\": "
			 "false, \"is_read_only\": false}",
			 id);
		ok(c, DRIVE_PUT, id, body);
	}
	fails(c, DRIVE_PUT, "a", drive_a, "drives/a: at most 16 drives");
	free(c);
}

static void test_drive_patch(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, DRIVE_PUT, "a", drive_a);
	ok(c, DRIVE_PATCH, "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/new.img\"}");
	assert_string_equal(c->disks[0].path, "/new.img");
	ok(c, DRIVE_PATCH, "a", "{\"drive_id\": \"a\", \"rate_limiter\": null}");
	assert_string_equal(c->disks[0].path, "/new.img");
	fails(c, DRIVE_PATCH, "zz", "{\"drive_id\": \"zz\"}",
	      "drives/zz: no drive \"zz\" to update");
	fails(c, DRIVE_PATCH, "a", "{\"path_on_host\": \"/x\"}", "field 'drive_id' is missing");
	fails(c, DRIVE_PATCH, "a", "{\"drive_id\": \"a\", \"is_read_only\": true}",
	      "drives/a: unknown field 'is_read_only'");
	fails(c, DRIVE_PATCH, "a", "{\"drive_id\": \"a\", \"path_on_host\": 5}",
	      "field 'path_on_host': expected a string, got an integer");
	fails(c, DRIVE_PATCH, "a", "{\"drive_id\": \"a\", \"rate_limiter\": {\"bandwidth\": {}}}",
	      "drives/a.rate_limiter.bandwidth: field 'size' is missing (required)");
	fails(c, DRIVE_PATCH, "a", "{\"drive_id\": \"b\"}", "differs from the path's \"a\"");
	free(c);
}

static void test_entropy_and_consoles(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, ENTROPY, NULL, "{}");
	assert_true(c->rng);
	ok(c, ENTROPY, NULL, "{\"rate_limiter\": null}");
	/* Firecracker's RateLimiter: each bucket a TokenBucket or null; {} limits nothing */
	ok(c, ENTROPY, NULL, "{\"rate_limiter\": {}}");
	assert_true(c->rng_rate.set);
	ok(c, ENTROPY, NULL,
	   "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"one_time_burst\": 50, "
	   "\"refill_time\": 100}, \"ops\": null}}");
	assert_int_equal(c->rng_rate.bandwidth.size, 1000);
	assert_int_equal(c->rng_rate.bandwidth.one_time_burst, 50);
	assert_int_equal(c->rng_rate.bandwidth.refill_ms, 100);
	assert_int_equal(c->rng_rate.ops.size, 0);
	fails(c, ENTROPY, NULL, "{\"rate_limiter\": {\"bw\": 1}}",
	      "entropy.rate_limiter: unknown field 'bw'");
	fails(c, ENTROPY, NULL, "{\"rate_limiter\": {\"ops\": {\"size\": -1, \"refill_time\": 1}}}",
	      "entropy.rate_limiter.ops: field 'size'");
	fails(c, ENTROPY, NULL, "{\"rate\": 1}", "entropy: unknown field 'rate'");
	fails(c, ENTROPY, NULL, "[]", "entropy: expected an object");

	ok(c, SERIAL, NULL, "{\"serial_out_path\": \"/tmp/com1\"}");
	assert_int_equal(c->com1.mode, SERIAL_FILE);
	assert_string_equal(c->com1.path, "/tmp/com1");
	ok(c, SERIAL, NULL, "{\"kiln_mode\": \"none\"}");
	assert_int_equal(c->com1.mode, SERIAL_NONE);
	ok(c, SERIAL, NULL, "{}");
	assert_int_equal(c->com1.mode, SERIAL_STDIO);
	ok(c, SERIAL, NULL, "{\"kiln_mode\": \"file\", \"serial_out_path\": \"/x\"}");
	assert_int_equal(c->com1.mode, SERIAL_FILE);
	fails(c, SERIAL, NULL, "{\"kiln_mode\": \"file\"}",
	      "serial: field 'serial_out_path' is missing (required with kiln_mode \"file\")");
	fails(c, SERIAL, NULL, "{\"kiln_mode\": \"stdio\", \"serial_out_path\": \"/x\"}",
	      "field 'serial_out_path': not used with kiln_mode \"stdio\"");
	fails(c, SERIAL, NULL, "{\"serial_out_path\": 1}", "field 'serial_out_path': expected a");
	fails(c, SERIAL, NULL, "{\"rate_limiter\": {\"size\": 1}}", "serial: field 'rate_limiter'");

	ok(c, SERIAL2, NULL, "{\"mode\": \"file\", \"path\": \"/tmp/com2\"}");
	assert_int_equal(c->com2.mode, SERIAL_FILE);
	assert_string_equal(c->com2.path, "/tmp/com2");
	fails(c, SERIAL2, NULL, "{\"mode\": \"socket\", \"path\": \"/s\"}",
	      "kiln_serial2: field 'mode': \"socket\" is not one of");
	fails(c, SERIAL2, NULL, "{\"path\": \"/s\"}", "kiln_serial2: field 'mode' is missing");

	ok(c, VCON, NULL, "{\"mode\": \"socket\", \"path\": \"/run/c.sock\"}");
	assert_int_equal(c->vconsole.mode, VCONSOLE_SOCKET);
	assert_string_equal(c->vconsole.path, "/run/c.sock");
	ok(c, VCON, NULL, "{\"mode\": \"none\"}");
	assert_int_equal(c->vconsole.mode, VCONSOLE_NONE);
	fails(c, VCON, NULL, "{\"mode\": \"socket\"}",
	      "kiln_console_virtio: field 'path' is missing (required with mode \"socket\")");
	fails(c, VCON, NULL, "{\"mode\": \"stdio\", \"tty\": 1}",
	      "kiln_console_virtio: unknown field 'tty'");
	free(c);
}

static void test_document(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, DOC, NULL, "{}"); /* nothing: the demo guest with the defaults */
	assert_string_equal(c->kernel_path, "");
	ok(c, DOC, NULL,
	   "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": \"d\", "
	   "\"path_on_host\": \"/d\", \"is_root_device\": false, \"is_read_only\": false}], "
	   "\"entropy\": {}, \"kiln_serial2\": {\"mode\": \"none\"}, \"network-interfaces\": [], "
	   "\"vsock\": null, \"logger\": null, \"metrics\": null}");
	assert_string_equal(c->kernel_path, "/k");
	assert_true(c->rng);
	assert_int_equal(c->nr_disks, 1);
	fails(c, DOC, NULL, "{\"machine_config\": {}}", "unknown top-level field 'machine_config'");
	/* Echoed names keep the message on one line. */
	fails(c, DOC, NULL, "{\"a\\nb\": 1}", "unknown top-level field 'a?b'");
	fails(c, ENTROPY, NULL, "{\"x\\u0001\": 1}", "unknown field 'x?'");
	fails(c, DOC, NULL, "{\"vsock\": {\"guest_cid\": 3}}",
	      "vsock: field 'uds_path' is missing (required)");
	ok(c, DOC, NULL, "{\"vsock\": {\"guest_cid\": 5, \"uds_path\": \"/tmp/v.sock\"}}");
	assert_true(c->vsock.set);
	assert_int_equal(c->vsock.guest_cid, 5);
	/* mmds-config: PUT /mmds/config's checks, in Firecracker's words */
	fails(c, DOC, NULL, "{\"mmds-config\": {\"network_interfaces\": [\"eth0\"]}}",
	      "mmds-config: The list of network interface IDs provided contains at least one ID");
	fails(c, DOC, NULL, "{\"mmds-config\": {\"network_interfaces\": []}}",
	      "mmds-config: The list of network interface IDs that allow forwarding MMDS requests "
	      "is empty.");
	ok(c, DOC, NULL, "{\"mmds-config\": null}");
	/* logger and metrics are the process's: accepted here, applied by the command */
	ok(c, DOC, NULL,
	   "{\"logger\": {\"level\": \"Info\"}, \"metrics\": {\"metrics_path\": \"/m\"}}");
	fails(c, DOC, NULL, "{\"logger\": 1}", "logger: expected an object");
	fails(c, DOC, NULL, "{\"drives\": {}}", "drives: expected an array, got an object");
	fails(c, DOC, NULL, "{\"drives\": [1]}", "drives[0]: expected an object, got an integer");
	fails(c, DOC, NULL,
	      "{\"drives\": [{\"drive_id\": \"x\", \"path_on_host\": \"/d\", \"is_root_device\": "
	      "false, \"is_read_only\": false}, {\"drive_id\": \"y\"}]}",
	      "drives[1]: field 'path_on_host' is missing");
	/* All or nothing: the good machine-config before the bad drive is not applied. */
	fails(c, DOC, NULL,
	      "{\"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64}, \"drives\": [7]}",
	      "drives[0]");
	fails(c, DOC, NULL, "{\"kiln_console_virtio\": {\"mode\": \"stdio\"}}",
	      "only one of serial, kiln_serial2 and kiln_console_virtio can use stdio");
	ok(c, DOC, NULL,
	   "{\"kiln_console_virtio\": {\"mode\": \"stdio\"}, \"serial\": {\"kiln_mode\": "
	   "\"none\"}}");
	fails(c, DOC, NULL, "[]", "expected a JSON object at the top level, got an array");
	free(c);
}

static int load(struct vm_config *c, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", g_data_dir, name);
	config_defaults(c);
	return config_json_load_file(c, path, g_err, sizeof(g_err));
}

/* network-interfaces: Firecracker's test_net_api_put_update_pre_boot rules (one MAC and one TAP
 * per interface, a PUT with the same id replaces), PATCH of the rate limiters, the checks. */
static void round_trip(struct vm_config *a);

/* The config file's "balloon" (PUT /balloon's converter): Firecracker's fields and checks. */
static void test_balloon(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, DOC, NULL,
	   "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 512}, \"balloon\": "
	   "{\"amount_mib\": 300, \"deflate_on_oom\": false, \"stats_polling_interval_s\": 2, "
	   "\"free_page_reporting\": true, \"free_page_hinting\": false}}");
	assert_true(c->balloon.enabled && c->balloon.free_page_reporting);
	assert_int_equal(c->balloon.amount_mib, 300);
	assert_int_equal(c->balloon.stats_interval_s, 2);
	round_trip(c);
	fails(c, DOC, NULL,
	      "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128}, \"balloon\": "
	      "{\"amount_mib\": 300, \"deflate_on_oom\": false}}",
	      "Amount of pages requested is too large.");
	fails(c, DOC, NULL, "{\"balloon\": {\"amount_mib\": 1}}",
	      "balloon: field 'deflate_on_oom' is missing (required)");
	fails(c, DOC, NULL, "{\"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": 1}}",
	      "balloon: field 'deflate_on_oom': expected a boolean, got an integer");
	fails(c, DOC, NULL,
	      "{\"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": true, \"free_page_hinting\": "
	      "true}}",
	      "free page hinting is not implemented");
	fails(c, DOC, NULL, "{\"balloon\": [1]}", "balloon");
	free(c);
}

/* kiln_vfio in the document and PUT /kiln/vfio/{id}: id and path checked, exported again. */
static void test_vfio(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	ok(c, DOC, NULL,
	   "{\"kiln_vfio\": [{\"id\": \"edu0\", \"path\": "
	   "\"/sys/bus/pci/devices/0000:00:03.0\"}]}");
	assert_int_equal(c->nr_vfio, 1);
	assert_string_equal(c->vfio[0].id, "edu0");
	round_trip(c);
	ok(c, VFIO, "nic", "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0\"}");
	assert_int_equal(c->nr_vfio, 2);
	assert_string_equal(c->vfio[1].id, "nic");
	ok(c, VFIO, "nic", "{\"id\": \"nic\", \"path\": \"/sys/bus/pci/devices/0000:00:05.0\"}");
	assert_int_equal(c->nr_vfio, 2);
	assert_string_equal(c->vfio[1].path, "/sys/bus/pci/devices/0000:00:05.0");
	fails(c, VFIO, "nic", "{\"id\": \"other\", \"path\": \"/p\"}", "differs from the path's");
	fails(c, VFIO, "x", "{\"path\": \"/sys/bus/pci/devices/0000:00:03.0\"}",
	      "is another device's");
	fails(c, VFIO, "x", "{\"path\": \"relative\"}", "is not an absolute path");
	fails(c, VFIO, "x", "{}", "field 'path' is missing");
	fails(c, VFIO, "x", "{\"path\": \"/p\", \"rom\": true}", "rom");
	fails(c, DOC, NULL, "{\"kiln_vfio\": [{\"path\": \"/p\"}]}", "field 'id' is missing");
	fails(
	    c, DOC, NULL,
	    "{\"kiln_vfio\": [{\"id\": \"a\", \"path\": \"/p\"}], \"balloon\": {\"amount_mib\": 0, "
	    "\"deflate_on_oom\": false}}",
	    "balloon cannot go together");
	free(c);
}

static void test_network_interfaces(void **state)
{
	struct vm_config *c = new_cfg();
	const char *rl = "{\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}}";
	char body[256];

	(void)state;
	ok(c, NET_PUT, "1",
	   "{\"iface_id\": \"1\", \"host_dev_name\": \"tap1\", \"guest_mac\": "
	   "\"06:00:00:00:00:01\"}");
	ok(c, NET_PUT, "2",
	   "{\"iface_id\": \"2\", \"host_dev_name\": \"tap2\", \"guest_mac\": "
	   "\"07:00:00:00:00:01\"}");
	fails(c, NET_PUT, "2",
	      "{\"iface_id\": \"2\", \"host_dev_name\": \"tap2\", \"guest_mac\": "
	      "\"06:00:00:00:00:01\"}",
	      "The MAC address is already in use: 06:00:00:00:00:01");
	ok(c, NET_PUT, "2",
	   "{\"iface_id\": \"2\", \"host_dev_name\": \"tap2\", \"guest_mac\": "
	   "\"08:00:00:00:00:01\"}");
	fails(c, NET_PUT, "1",
	      "{\"iface_id\": \"1\", \"host_dev_name\": \"tap2\", \"guest_mac\": "
	      "\"06:00:00:00:00:01\"}",
	      "Could not create the network device: the TAP device tap2 is interface \"2\"'s");
	ok(c, NET_PUT, "3", "{\"iface_id\": \"3\", \"host_dev_name\": \"tap3\", \"mtu\": 9000}");
	assert_int_equal(c->nr_nets, 3);
	assert_int_equal(c->nets[1].mac[0], 8);
	assert_false(c->nets[2].mac_set);
	assert_int_equal(c->nets[2].mtu, 9000);
	fails(c, NET_PUT, "4", "{\"iface_id\": \"5\", \"host_dev_name\": \"t\"}",
	      "differs from the path's");
	fails(c, NET_PUT, "a-b", "{\"iface_id\": \"a-b\", \"host_dev_name\": \"t\"}",
	      "may hold only letters, digits and '_'");
	fails(c, NET_PUT, "4", "{\"iface_id\": \"4\"}", "'host_dev_name' is missing");
	fails(c, NET_PUT, "4", "{\"iface_id\": \"4\", \"host_dev_name\": \"0123456789abcdef\"}",
	      "longer than 15 bytes");
	fails(c, NET_PUT, "4",
	      "{\"iface_id\": \"4\", \"host_dev_name\": \"t\", \"guest_mac\": \"06:00\"}",
	      "is not a MAC address");
	fails(c, NET_PUT, "4", "{\"iface_id\": \"4\", \"host_dev_name\": \"t\", \"mtu\": 67}",
	      "'mtu'");
	fails(c, NET_PUT, "4", "{\"iface_id\": \"4\", \"host_dev_name\": \"t\", \"x\": 1}",
	      "unknown field 'x'");
	snprintf(body, sizeof(body), "{\"iface_id\": \"2\", \"tx_rate_limiter\": %s}", rl);
	ok(c, NET_PATCH, "2", body);
	assert_true(c->nets[1].tx_rate.set);
	assert_int_equal(c->nets[1].tx_rate.bandwidth.size, 1000);
	assert_false(c->nets[1].rx_rate.set);
	fails(c, NET_PATCH, "9", "{\"iface_id\": \"9\"}", "no network interface \"9\" to update");
	fails(c, NET_PATCH, "2", "{\"iface_id\": \"2\", \"host_dev_name\": \"x\"}",
	      "unknown field 'host_dev_name'");
	/* MMDS on them */
	fails(c, MMDS, NULL, "{\"network_interfaces\": [\"1\", \"foo\"]}",
	      "does not correspond to any existing network interface");
	ok(c, MMDS, NULL, "{\"network_interfaces\": [\"1\"]}");
	assert_true(c->mmds.set);
	assert_int_equal(c->mmds.version, MMDS_V1);
	assert_int_equal(c->mmds.ipv4, MMDS_DEFAULT_IPV4);
	ok(c, MMDS, NULL,
	   "{\"version\": \"V2\", \"ipv4_address\": \"169.254.169.250\", \"network_interfaces\": "
	   "[\"1\", \"3\"], \"imds_compat\": true}");
	assert_int_equal(c->mmds.version, MMDS_V2);
	assert_int_equal(c->mmds.ipv4, 0xa9fea9fa);
	assert_int_equal(c->mmds.nr_ifaces, 2);
	assert_string_equal(c->mmds.ifaces[1], "3");
	assert_true(c->mmds.imds_compat);
	free(c);
}

static void test_firecracker_examples(void **state)
{
	struct vm_config *c = new_cfg();
	char line[512];

	(void)state;
	/* Paths are stored, not opened: they are checked when the VM starts. */
	if (load(c, "vm_config.json") != 0)
		fail_msg("vm_config.json: %s", g_err);
	assert_string_equal(c->kernel_path, "vmlinux.bin");
	assert_string_equal(c->cmdline, "console=ttyS0 reboot=k panic=1");
	assert_int_equal(config_vcpus(c), 2);
	assert_int_equal(c->mem_bytes, 1024ULL << 20);
	assert_int_equal(c->nr_disks, 1);
	assert_true(c->disks[0].is_root);
	assert_int_equal(c->disks[0].io_engine, DISK_IO_SYNC);
	assert_int_equal(config_kernel_cmdline(c, line, sizeof(line)), 0);
	assert_string_equal(line, "console=ttyS0 reboot=k panic=1 root=/dev/vda rw");
	assert_int_equal(load(c, "vm_config_smt_true.json"), 0);
	assert_int_equal(c->threads, 2);
	assert_int_equal(c->cores, 1);
	assert_int_equal(load(c, "vm_config_missing_mem_size_mib.json"), -EINVAL);
	assert_non_null(strstr(g_err, "vm_config_missing_mem_size_mib.json: machine-config: field "
				      "'mem_size_mib' is missing (required)"));
	assert_int_equal(load(c, "vm_config_missing_vcpu_count.json"), -EINVAL);
	assert_non_null(strstr(g_err, "machine-config: field 'vcpu_count' is missing (required)"));
	if (load(c, "vm_config_network.json") != 0)
		fail_msg("vm_config_network.json: %s", g_err);
	assert_int_equal(c->nr_nets, 1);
	assert_string_equal(c->nets[0].id, "eth0");
	assert_string_equal(c->nets[0].tap, "tap0");
	assert_true(c->nets[0].mac_set);
	assert_memory_equal(c->nets[0].mac, "\x06\x00\xc0\xa8\x00\x02", 6);
	assert_false(c->nets[0].rx_rate.set);
	free(c);
}

/* Write text to a temporary file and load it; the message is in g_err. */
static int load_text(struct vm_config *c, const char *text, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/kiln-cfgjson-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_defaults(c);
	fd = config_json_load_file(c, path, g_err, sizeof(g_err));
	unlink(path);
	return fd;
}

static void test_load_file_errors(void **state)
{
	struct vm_config *c = new_cfg();
	char path[64], want[128];

	(void)state;
	assert_int_equal(
	    load_text(c, "{\n  \"machine-config\": {\"vcpu_count\": 2,,}\n}\n", path, sizeof(path)),
	    -EINVAL);
	snprintf(want, sizeof(want), "%s:2:38: ", path);
	if (strncmp(g_err, want, strlen(want)) != 0)
		fail_msg("got '%s', want it to start with '%s'", g_err, want);
	assert_int_equal(load_text(c, "{\"entropy\": {}, \"entropy\": null}", path, sizeof(path)),
			 -EINVAL);
	assert_non_null(strstr(g_err, "duplicate object key"));
	assert_int_equal(load_text(c, "{\"entropy\": {\"x\": 1}}", path, sizeof(path)), -EINVAL);
	snprintf(want, sizeof(want), "%s: entropy: unknown field 'x'", path);
	assert_string_equal(g_err, want);
	assert_int_equal(config_json_load_file(c, "/nonexistent/vm.json", g_err, sizeof(g_err)),
			 -EINVAL);
	assert_non_null(strstr(g_err, "/nonexistent/vm.json"));
	free(c);
}

static const char *const full_doc =
    "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"console=ttyS0\", "
    "\"initrd_path\": \"/i\", \"kiln_boot\": \"linux\"},"
    " \"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 512, \"track_dirty_pages\": true,"
    " \"huge_pages\": \"2M\", \"kiln_topology\": {\"sockets\": 2, \"cores\": 1, \"threads\": 2},"
    " \"kiln_vcpu_pinning\": [0, 0, 1, 1]},"
    " \"drives\": [{\"drive_id\": \"data\", \"path_on_host\": \"/d\", \"is_root_device\": false,"
    " \"is_read_only\": true, \"io_engine\": \"Async\"}, {\"drive_id\": \"root\", \"path_on_host\":"
    " \"/r\", \"is_root_device\": true, \"partuuid\": \"abcd-01\", \"is_read_only\": false,"
    " \"cache_type\": \"Writeback\"}],"
    " \"entropy\": {}, \"serial\": {\"serial_out_path\": \"/com1\"},"
    " \"kiln_serial2\": {\"mode\": \"stdio\"},"
    " \"kiln_console_virtio\": {\"mode\": \"file\", \"path\": \"/vc\"},"
    " \"mmds-config\": {\"version\": \"V2\", \"network_interfaces\": [\"eth1\"]},"
    " \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"},"
    " {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"guest_mac\": \"06:00:AC:10:00:02\","
    " \"mtu\": 1400, \"rx_rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 5}}}]}";

/* export -> document onto the defaults -> export gives the same document and configuration. */
static void round_trip(struct vm_config *a)
{
	struct vm_config *b = new_cfg();
	json_t *ja = config_json_export(a), *jb;
	char *text;

	assert_non_null(ja);
	if (config_json_document(b, ja, g_err, sizeof(g_err)) != 0) {
		text = json_dumps(ja, 0);
		fail_msg("re-import of %s: %s", text, g_err);
	}
	jb = config_json_export(b);
	assert_true(json_equal(ja, jb));
	assert_string_equal(a->kernel_path, b->kernel_path);
	assert_string_equal(a->cmdline, b->cmdline);
	assert_int_equal(a->nr_disks, b->nr_disks);
	assert_int_equal(a->mem_bytes, b->mem_bytes);
	json_decref(ja);
	json_decref(jb);
	free(b);
}

/* PUT /vsock (Firecracker's Vsock): required fields, CID range, path length; a second PUT
 * replaces the first. */
static void test_vsock(void **state)
{
	struct vm_config *c = new_cfg();

	(void)state;
	fails(c, VSOCK, NULL, "{}", "vsock: field 'guest_cid' is missing (required)");
	fails(c, VSOCK, NULL, "{\"guest_cid\": 3}", "vsock: field 'uds_path' is missing");
	fails(c, VSOCK, NULL, "{\"uds_path\": \"/v\"}", "field 'guest_cid' is missing");
	fails(c, VSOCK, NULL, "{\"guest_cid\": 2, \"uds_path\": \"/v\"}",
	      "vsock: field 'guest_cid': 2 is outside 3..4294967295");
	fails(c, VSOCK, NULL, "{\"guest_cid\": 4294967296, \"uds_path\": \"/v\"}",
	      "is outside 3..4294967295");
	fails(c, VSOCK, NULL, "{\"guest_cid\": \"3\", \"uds_path\": \"/v\"}",
	      "field 'guest_cid': expected an integer");
	fails(c, VSOCK, NULL, "{\"guest_cid\": 3, \"uds_path\": 7}",
	      "field 'uds_path': expected a string");
	fails(c, VSOCK, NULL, "{\"guest_cid\": 3, \"uds_path\": \"\"}", "vsock: uds_path is empty");
	fails(
	    c, VSOCK, NULL,
	    "{\"guest_cid\": 3, \"uds_path\": "
	    "\"/0123456789012345678901234567890123456789012345678901234567890123456789012345678901"
	    "234567890123456789012345678901234567890\"}",
	    "vsock: field 'uds_path'");
	fails(c, VSOCK, NULL, "{\"guest_cid\": 3, \"uds_path\": \"/v\", \"port\": 1}",
	      "vsock: unknown field 'port'");
	ok(c, VSOCK, NULL, "{\"guest_cid\": 3, \"uds_path\": \"/a\", \"vsock_id\": \"vsock0\"}");
	ok(c, VSOCK, NULL, "{\"guest_cid\": 9, \"uds_path\": \"/b\"}");
	assert_int_equal(c->vsock.guest_cid, 9);
	assert_string_equal(c->vsock.uds_path, "/b");
	free(c);
}

static void test_export_round_trip(void **state)
{
	struct vm_config *c = new_cfg();
	json_t *j, *mc;
	char line[256];

	(void)state;
	round_trip(c);		   /* the defaults: the demo guest */
	j = config_json_export(c); /* exactly Firecracker's keys: no extension is in use */
	assert_int_equal(json_object_size(j), 13);
	assert_null(json_object_get(j, "kiln_console_virtio"));
	assert_null(json_object_get(json_object_get(j, "machine-config"), "kiln_topology"));
	assert_true(json_is_null(json_object_get(json_object_get(j, "boot-source"), "boot_args")));
	json_decref(j);
	ok(c, DOC, NULL, full_doc);
	assert_string_equal(c->disks[0].id, "root");
	assert_int_equal(config_kernel_cmdline(c, line, sizeof(line)), 0);
	assert_string_equal(line, "console=ttyS0 root=PARTUUID=abcd-01 rw");
	round_trip(c);
	j = config_json_export(c);
	mc = json_object_get(j, "machine-config");
	assert_int_equal(json_integer_value(json_object_get(mc, "vcpu_count")), 4);
	assert_true(json_is_true(json_object_get(mc, "smt")));
	assert_string_equal(json_string_value(json_object_get(mc, "huge_pages")), "2M");
	assert_int_equal(json_array_size(json_object_get(mc, "kiln_vcpu_pinning")), 4);
	assert_null(json_object_get(mc, "kiln_virtio_transport")); /* mmio: left out */
	json_decref(j);
	c->virtio_transport = VIRTIO_TRANSPORT_PCI;
	round_trip(c);
	j = config_json_export(c);
	mc = json_object_get(j, "machine-config");
	assert_string_equal(json_string_value(json_object_get(mc, "kiln_virtio_transport")), "pci");
	c->virtio_transport = VIRTIO_TRANSPORT_MMIO;
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(j, "drives"), 0), "drive_id")),
			    "root");
	/* Firecracker's document: unset resources are null, kiln's unused extensions left out */
	assert_true(json_is_null(json_object_get(j, "vsock")));
	assert_true(json_is_array(json_object_get(j, "network-interfaces")));
	assert_non_null(json_object_get(j, "kiln_console_virtio")); /* used: reported */
	assert_non_null(json_object_get(mc, "kiln_topology")); /* 2 sockets: not Firecracker's */
	/* mmds-config before network-interfaces in the document: applied after them */
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "mmds-config"), "ipv4_address")),
	    "169.254.169.254");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(j, "network-interfaces"), 1), "guest_mac")),
	    "06:00:ac:10:00:02");
	json_decref(j);
	ok(c, BOOT, NULL,
	   "{\"kernel_image_path\": \"/raw\", \"kiln_load_addr\": 1048576, \"kiln_entry\": "
	   "\"0x100000\"}");
	ok(c, SERIAL, NULL, "{\"kiln_mode\": \"none\"}");
	round_trip(c);
	free(c);
}

static void test_kernel_cmdline_and_pinning(void **state)
{
	struct vm_config *c = new_cfg();
	char line[64];
	cpu_set_t set;

	(void)state;
	assert_int_equal(config_kernel_cmdline(c, line, sizeof(line)), 0);
	assert_string_equal(line, "");
	ok(c, DRIVE_PUT, "r",
	   "{\"drive_id\": \"r\", \"path_on_host\": \"/r\", \"is_root_device\": true, "
	   "\"is_read_only\": true}");
	assert_int_equal(config_kernel_cmdline(c, line, sizeof(line)), 0);
	assert_string_equal(line, "root=/dev/vda ro");
	assert_int_equal(config_kernel_cmdline(c, line, 16), -ENOSPC);

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CPU_SET(2, &set);
	ok(c, MC_PUT, NULL,
	   "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"kiln_vcpu_pinning\": [2, 0]}");
	assert_int_equal(config_check_pinning(c, &set, g_err, sizeof(g_err)), 0);
	ok(c, MC_PATCH, NULL, "{\"kiln_vcpu_pinning\": [2, 1]}");
	assert_int_equal(config_check_pinning(c, &set, g_err, sizeof(g_err)), -EINVAL);
	assert_non_null(strstr(g_err, "vCPU 1 -> host CPU 1"));
	free(c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_boot_source),
	    cmocka_unit_test(test_boot_source_errors),
	    cmocka_unit_test(test_machine_config_put),
	    cmocka_unit_test(test_machine_config_errors),
	    cmocka_unit_test(test_machine_config_patch),
	    cmocka_unit_test(test_drive_put),
	    cmocka_unit_test(test_drive_root_rules),
	    cmocka_unit_test(test_drive_errors),
	    cmocka_unit_test(test_drive_patch),
	    cmocka_unit_test(test_entropy_and_consoles),
	    cmocka_unit_test(test_document),
	    cmocka_unit_test(test_network_interfaces),
	    cmocka_unit_test(test_balloon),
	    cmocka_unit_test(test_vfio),
	    cmocka_unit_test(test_firecracker_examples),
	    cmocka_unit_test(test_load_file_errors),
	    cmocka_unit_test(test_export_round_trip),
	    cmocka_unit_test(test_vsock),
	    cmocka_unit_test(test_kernel_cmdline_and_pinning),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
		return 2;
	}
	g_data_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
