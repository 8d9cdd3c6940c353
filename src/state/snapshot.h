/* snapshot.h — snapshot files (docs/snapshot-format.md): a checksummed, versioned state file with
 * the VM's configuration and every object's section, plus a separate guest memory file. */
#ifndef KILN_STATE_SNAPSHOT_H
#define KILN_STATE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "state/state.h"
#include "util/compiler.h"

#define SNAPSHOT_MAGIC	   "KILNSNAP"
#define SNAPSHOT_VERSION   1
#define SNAPSHOT_HDR_LEN   32
#define SNAPSHOT_FLAG_FULL 0x1u		  /* every RAM byte is in the memory file */
#define SNAPSHOT_FLAG_DIFF 0x2u		  /* the memory file holds the dirtied pages only */
#define SNAPSHOT_MAX_LEN   (256ull << 20) /* longest state file kiln reads */
/* The "config" section: version 2 added, per disk, root device, PARTUUID, cache type and I/O
 * engine, and then the boot source (kernel, initrd, command line as given), so GET /vm/config after
 * a restore answers what was configured; a version-1 section loads with those at their defaults. */
#define SNAPSHOT_CONFIG_VER	4
#define SNAPSHOT_CONFIG_MIN_VER 1

struct vm;
struct kiln_err;

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF) of
 * len bytes, continuing from crc (pass 0 to start). crc32c("123456789") == 0xE3069283. */
uint32_t snapshot_crc32c(uint32_t crc, const void *p, size_t len);

/* Encode the parts of c that shape the machine and its backends (memory, topology, devices and
 * their paths, serial ports, flags) as section "config". 0 or -errno. */
int snapshot_config_save(const struct vm_config *c, struct state_buf *b) MUST_CHECK;

/* Decode section "config" into *c (config_defaults first: no kernel, no command line). Every value
 * is checked as the command line would check it. 0 or -EINVAL (one line logged and recorded in
 * err, which may be NULL, as for every err below). */
int snapshot_config_load(struct state_buf *b, struct vm_config *c, struct kiln_err *err) MUST_CHECK;

/* Whether `given` describes the same machine as the snapshot's `snap`: memory size, topology,
 * ACPI, test device, debug-exit port, and the virtio devices (number of disks, their read-only
 * mode, console, rng). Backend paths may differ. 0 or -EINVAL naming the first difference. */
int snapshot_config_check(const struct vm_config *given, const struct vm_config *snap,
			  struct kiln_err *err) MUST_CHECK;

/*
 * Write a snapshot of the paused vm: the state file at snap_path (written beside it as
 * snap_path.tmp, then renamed) and every RAM region, in guest-physical order, to mem_path. Full:
 * all of RAM (all-zero MiB chunks are left as holes). Diff (dirty logging must be on, -EINVAL
 * otherwise): only the pages dirtied since the previous snapshot (or since logging started),
 * each at its offset, the rest holes; the file has the full size, and `kiln snapshot-merge`
 * applies it onto the previous memory file. Either way the dirty log is cleared, so the next
 * Diff starts here. The VM must be PAUSED (-EBUSY otherwise); virtio-blk requests in flight are
 * waited for first. Returns 0 or -errno with one line logged and recorded in err (the reasons
 * found here; the devices' own ones are only logged for now).
 */
int snapshot_create(struct vm *vm, const char *snap_path, const char *mem_path, bool diff,
		    struct kiln_err *err) MUST_CHECK;

/* Copy the data extents (SEEK_DATA/SEEK_HOLE) of the Diff memory file diff_path onto base_path
 * at the same offsets; both must have the same size. 0 or -errno (one line logged). */
int snapshot_merge(const char *base_path, const char *diff_path) MUST_CHECK;

/* Collect the paused vm's whole state stream into b (section "config", the devices after
 * draining virtio-blk, the irqchip/PIT/clock, each vCPU): a snapshot's body, and a migration's
 * STATE frame. 0 or -errno (logged for ENOMEM). */
int snapshot_save_state(struct vm *vm, struct state_buf *b) MUST_CHECK;

/* A state file read and checked: the body's sections and the configuration from them. */
struct snapshot_image {
	uint8_t *data; /* the whole file */
	size_t len;
	uint32_t flags;
	uint64_t mem_bytes;
	struct state_buf body; /* reader over the sections */
	struct vm_config cfg;
};

/* Read and check snap_path: size, magic, format version, flags, lengths, checksum, section framing,
 * the configuration. 0, or -EINVAL (-errno for I/O) with one line logged and recorded in err. */
int snapshot_read(const char *snap_path, struct snapshot_image *img,
		  struct kiln_err *err) MUST_CHECK;
void snapshot_image_free(struct snapshot_image *img);

/* Load every section of img into vm, created by vm_create_restore from img->cfg: devices, then
 * the irqchip/PIT/clock, then each vCPU. 0 or -EINVAL/-errno; every loader's refusal is logged and
 * recorded in err (img->body.err = err: loaders refuse through state_refuse). */
int snapshot_load_state(struct vm *vm, struct snapshot_image *img, struct kiln_err *err) MUST_CHECK;

#endif
