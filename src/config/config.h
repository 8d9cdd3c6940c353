/* config.h — the VM configuration, and the `kiln run` command-line parser that fills it. */
#ifndef KILN_CONFIG_CONFIG_H
#define KILN_CONFIG_CONFIG_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define CONFIG_MAX_VCPUS 254 /* APIC IDs must fit the xAPIC's 8 bits, 0xff is broadcast */

/* SERIAL_FD: output to a descriptor the embedding code owns (kiln sandbox), no input; not
 * reachable from the command line, JSON or snapshots. */
enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE, SERIAL_FD };
enum boot_protocol { BOOT_AUTO, BOOT_LINUX, BOOT_PVH, BOOT_RAW };
enum reset_action { RESET_STOP, RESET_RESTART };
/* How the board exposes its virtio devices: virtio-mmio slots (default) or a PCI bus. */
enum virtio_transport { VIRTIO_TRANSPORT_MMIO, VIRTIO_TRANSPORT_PCI };

#define CONFIG_PATH_MAX		4096
#define CONFIG_CMDLINE_MAX	0x10000 /* including the NUL (LAYOUT_CMDLINE_MAX) */
#define CONFIG_MEM_MIN		(2ULL << 20)
#define CONFIG_MEM_MAX		(1ULL << 40)
#define CONFIG_MAX_DISKS	16
#define CONFIG_DISK_ID_MAX	20 /* virtio-blk GET_ID: at most 20 bytes (--disk id=) */
#define CONFIG_DRIVE_ID_MAX	64 /* a JSON drive_id; GET_ID answers its first 20 bytes */
#define CONFIG_PARTUUID_MAX	64
#define CONFIG_MAX_NETS		8
#define CONFIG_IFACE_ID_MAX	64 /* a network interface's iface_id */
#define CONFIG_TAP_NAME_MAX	15 /* IFNAMSIZ - 1 */
#define CONFIG_MAX_FS		4
#define CONFIG_FS_TAG_MAX	36  /* virtio-fs config: tag[36], no NUL when full */
#define CONFIG_SOCK_MAX		108 /* sizeof(sun_path), its NUL included */
#define CONFIG_MAX_VFIO		8
#define CONFIG_MAX_TRANSPORT_OF 16 /* per-device transport choices (--virtio-transport NAME=T) */
#define CONFIG_DEV_NAME_MAX	24 /* a virtio device's name: "block0", "net1", "entropy", ... */
#define CONFIG_VFIO_PATH_MAX	256

enum disk_cache { DISK_CACHE_UNSAFE, DISK_CACHE_WRITEBACK };
enum disk_io_engine { DISK_IO_ASYNC, DISK_IO_SYNC }; /* io_uring (sync fallback) | pread/pwrite */

/* One token bucket, as Firecracker's TokenBucket object: size 0 or refill_ms 0 means no limit. */
struct bucket_config {
	uint64_t size;		 /* tokens (bytes or operations) the bucket holds when full */
	uint64_t one_time_burst; /* extra tokens at the start, never refilled */
	uint64_t refill_ms;	 /* time to refill the whole size from empty */
};

/* A device's rate limiter (Firecracker's RateLimiter): bandwidth in bytes and operations.
 * `set`: a rate_limiter object was given (GET /vm/config reports it, else null). */
struct rate_limit_config {
	struct bucket_config bandwidth, ops;
	bool set;
};

struct disk_config {
	char path[CONFIG_PATH_MAX];
	bool read_only;
	char id[CONFIG_DRIVE_ID_MAX + 1]; /* "" if none given; the drive_id of a JSON drive */
	bool is_root;			  /* attached first (/dev/vda); root= on the cmdline */
	char partuuid[CONFIG_PARTUUID_MAX + 1]; /* root=PARTUUID=... instead of /dev/vda */
	enum disk_cache cache;			/* stored; kiln always offers and honours FLUSH */
	enum disk_io_engine io_engine;
	struct rate_limit_config rate;
};

/* A virtio-net interface on a host TAP device (Firecracker's NetworkInterface). */
struct net_config {
	char id[CONFIG_IFACE_ID_MAX + 1];  /* iface_id: letters, digits and '_' */
	char tap[CONFIG_TAP_NAME_MAX + 1]; /* host_dev_name: an existing TAP, opened by name */
	uint8_t mac[6];			   /* guest_mac */
	bool mac_set;			   /* given; else kiln generates one when the VM is built */
	uint16_t mtu;			   /* 68..65535 advertised (VIRTIO_NET_F_MTU); 0: none */
	struct rate_limit_config rx_rate, tx_rate; /* rx: to the guest; tx: from it */
};

/* A virtio-fs device served by a vhost-user backend: a running one at `socket`, or virtiofsd
 * started by kiln on `dir` (exactly one of the two is set). */
struct fs_config {
	char tag[CONFIG_FS_TAG_MAX + 1]; /* the name the guest mounts: mount -t virtiofs TAG */
	char socket[CONFIG_SOCK_MAX];	 /* vhost-user socket of a running backend; "" with dir */
	char dir[CONFIG_PATH_MAX];	 /* shared directory for a virtiofsd kiln runs; "" */
};

/* One virtio device's own transport, overriding vm_config.virtio_transport for it. */
struct transport_of {
	char name[CONFIG_DEV_NAME_MAX]; /* config_virtio_name_ok */
	enum virtio_transport transport;
};

/* A host PCI device passed through with VFIO: its sysfs directory
 * (/sys/bus/pci/devices/DDDD:BB:DD.F, bound to vfio-pci) under an id (counters, the API). */
struct vfio_config {
	char id[CONFIG_IFACE_ID_MAX + 1];
	char path[CONFIG_VFIO_PATH_MAX];
};

enum mmds_version { MMDS_V1, MMDS_V2 };

/* Which network interfaces answer MMDS requests, and how (Firecracker's MmdsConfig). */
struct mmds_config {
	bool set; /* PUT /mmds/config or mmds-config was given */
	enum mmds_version version;
	uint32_t ipv4; /* host byte order; default 169.254.169.254 */
	bool imds_compat;
	unsigned nr_ifaces;
	char ifaces[CONFIG_MAX_NETS][CONFIG_IFACE_ID_MAX + 1];
};

#define MMDS_DEFAULT_IPV4 0xa9fea9feu /* 169.254.169.254 */

/* VCONSOLE_FD: output only, to a descriptor the embedding code owns (kiln sandbox); input is
 * never read. Not reachable from the command line, JSON or snapshots. */
enum vconsole_mode { VCONSOLE_NONE, VCONSOLE_STDIO, VCONSOLE_FILE, VCONSOLE_SOCKET, VCONSOLE_FD };

struct vconsole_config {
	enum vconsole_mode mode;
	char path[4096]; /* VCONSOLE_FILE, VCONSOLE_SOCKET */
	int fd;		 /* VCONSOLE_FD: not owned, must stay open while the VM exists */
};

struct serial_config {
	enum serial_mode mode;
	char path[4096]; /* SERIAL_FILE */
	int fd;		 /* SERIAL_FD: not owned, must stay open while the VM exists */
};

/* virtio-vsock with Firecracker's host side (its Vsock resource). */
#define CONFIG_UDS_PATH_MAX 107 /* sun_path without its terminating zero */
struct vsock_config {
	bool set;
	uint32_t guest_cid;			/* >= 3 */
	char uds_path[CONFIG_UDS_PATH_MAX + 1]; /* listened on; "<uds_path>_P" for guest port P */
};

/* A virtio-balloon (Firecracker's Balloon). */
struct balloon_config {
	bool enabled;
	uint32_t amount_mib;	   /* target: memory the guest should give back */
	bool deflate_on_oom;	   /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	uint16_t stats_interval_s; /* statistics polling period; 0: no statistics queue */
	bool free_page_reporting;  /* VIRTIO_BALLOON_F_REPORTING */
};

struct vm_config {
	char kernel_path[CONFIG_PATH_MAX]; /* "": the built-in demo guest */
	char initrd_path[CONFIG_PATH_MAX]; /* "": none */
	char cmdline[CONFIG_CMDLINE_MAX];
	bool cmdline_given; /* boot_args was given (GET /vm/config answers null otherwise) */
	unsigned sockets, cores, threads; /* vCPUs = sockets * cores * threads */
	bool pin_vcpus;			  /* vCPU i runs only on host CPU vcpu_pin[i] */
	uint16_t vcpu_pin[CONFIG_MAX_VCPUS];
	uint64_t mem_bytes;
	bool hugepages;
	bool thp;		/* MADV_HUGEPAGE on guest RAM */
	bool sync_teardown;	/* KVM's teardown of the VM in kiln, not in a reaper (src/hv) */
	bool track_dirty_pages; /* dirty logging from boot on, for Diff snapshots */
	struct serial_config com1, com2;
	enum boot_protocol boot;
	uint64_t load_addr, entry; /* BOOT_RAW */
	enum reset_action on_reset;
	uint16_t debug_exit_port; /* 0: no debug-exit device */
	bool test_device;	  /* the PIO/MMIO scratch device used by the guest tests */
	bool boot_timer;	  /* Firecracker's boot timer device (--boot-timer) */
	bool acpi;		  /* ACPI tables (default); false: the MP table only */
	bool pvpanic;		  /* the pvpanic port: a guest kernel panic stops the VM */
	enum virtio_transport virtio_transport;			   /* the virtio devices' default */
	struct transport_of transport_of[CONFIG_MAX_TRANSPORT_OF]; /* and per device */
	unsigned nr_transport_of;
	struct disk_config disks[CONFIG_MAX_DISKS]; /* virtio-blk, in slot order */
	unsigned nr_disks;
	struct vconsole_config vconsole;	 /* virtio-console port 0 */
	struct net_config nets[CONFIG_MAX_NETS]; /* virtio-net, in slot order */
	unsigned nr_nets;
	struct mmds_config mmds;
	struct fs_config fs[CONFIG_MAX_FS];	  /* virtio-fs over vhost-user, in slot order */
	unsigned nr_fs;				  /* > 0: guest RAM is shared memory (memfd) */
	bool rng;				  /* virtio-rng */
	struct rate_limit_config rng_rate;	  /* its rate limiter (PUT /entropy) */
	struct balloon_config balloon;		  /* virtio-balloon (PUT /balloon, --balloon) */
	int verbosity;				  /* 0 warn, 1 info, 2 debug */
	struct vsock_config vsock;		  /* virtio-vsock (PUT /vsock) */
	struct vfio_config vfio[CONFIG_MAX_VFIO]; /* passthrough devices (x86), in slot order */
	unsigned nr_vfio;
};

/* One KEY=VALUE item of a device flag's value (config_kv.c), as NUL-terminated copies. */
struct config_kv {
	char key[32];
	char val[CONFIG_PATH_MAX];
	size_t vlen;
};

/* Takes one item into obj: 0, or -EINVAL with one line in err. */
typedef int (*config_kv_fn)(void *obj, const struct config_kv *kv, char *err, size_t errlen);

/* Split v ("KEY=VALUE,KEY=VALUE,...") at commas and give each item to fn with obj. An item
 * without '=', with an empty key or value, or one too long is "<flag>: 'ITEM' is not KEY=VALUE".
 * 0, or the first failure (-EINVAL, err set). */
int config_each_kv(const char *flag, const char *v, config_kv_fn fn, void *obj, char *err,
		   size_t errlen) MUST_CHECK;

/* Write the message into err (errlen bytes) and return -EINVAL: the parsers' one-line error. */
int config_fail(char *err, size_t errlen, const char *fmt, ...) PRINTF(3, 4);

/* Total vCPUs of the configuration. */
static inline unsigned config_vcpus(const struct vm_config *c)
{
	return c->sockets * c->cores * c->threads;
}

/* Fill c with the defaults: 1 vCPU, 256 MiB, COM1 on stdio, COM2 off, debug-exit at 0xf4,
 * ACPI on. */
void config_defaults(struct vm_config *c);

/* config_defaults for a c that is all zero bytes already (fresh calloc memory): sets only the
 * fields whose default is not zero, so the rest of this large structure is not written and its
 * pages are not faulted in until used. */
void config_defaults_zeroed(struct vm_config *c);

/*
 * Parse the arguments of `kiln run` (argv[0] is "run"). On a bad argument, write a one-line
 * message naming it to err (size errlen) and return -EINVAL. Returns 1 if --help was given
 * (usage printed to stdout), 0 otherwise. Pointers in c refer into argv.
 */
int config_parse_run(struct vm_config *c, int argc, char **argv, char *err,
		     size_t errlen) MUST_CHECK;

/* Parse a size with an optional K/M/G/T suffix (binary units; a bare number is MiB).
 * Returns 0 or -EINVAL (empty, junk, zero, overflow). */
int config_parse_size(const char *s, uint64_t *out) MUST_CHECK;

/* Parse an unsigned integer in decimal or 0x-hex; -EINVAL on junk or overflow. */
int config_parse_u64(const char *s, uint64_t *out) MUST_CHECK;

/* Copy the string src into dst (size bytes); -ENAMETOOLONG (dst unchanged) if it does not fit. */
int config_copy_str(char *dst, size_t size, const char *src) MUST_CHECK;

/* Shared checks (the CLI and the JSON converters word their own messages around them). */

/* NULL if bytes is a usable guest RAM size (CONFIG_MEM_MIN..CONFIG_MEM_MAX, a multiple of 4K, and
 * of 2M with hugepages), else the reason, e.g. "is outside 2M..1T". */
const char *config_check_mem(uint64_t bytes, bool hugepages);

/* NULL if sockets * cores * threads, each >= 1, is at most CONFIG_MAX_VCPUS; else the reason. */
const char *config_check_topology(uint64_t sockets, uint64_t cores, uint64_t threads);

/* How many of COM1, COM2 and the virtio console are on stdio (at most one may be). */
unsigned config_stdio_users(const struct vm_config *c);

/* Network interfaces (config_net.c). */

/* Index of the network interface whose iface_id is `id` (non-empty), or -1. */
int config_net_find(const struct vm_config *c, const char *id);

/* Parse "xx:xx:xx:xx:xx:xx" (hex, either case) into mac. 0 or -EINVAL. */
int config_parse_mac(const char *s, uint8_t mac[6]) MUST_CHECK;

/* mac as "xx:xx:xx:xx:xx:xx" (lower case) in out. */
void config_format_mac(const uint8_t mac[6], char out[18]);

/* Whether id is a usable iface_id: 1 to CONFIG_IFACE_ID_MAX letters, digits and '_' (the rule
 * Firecracker applies to ids in paths). */
bool config_iface_id_ok(const char *id);

/*
 * Add n, or replace the interface with the same id in place. Refused, c unchanged and *other the
 * index of the interface in the way: -EADDRINUSE if another interface has n's MAC (both given),
 * -EBUSY if another uses n's TAP; -ENOSPC if CONFIG_MAX_NETS are configured. 0 otherwise.
 */
int config_net_put(struct vm_config *c, const struct net_config *n, int *other) MUST_CHECK;

/* kiln run's --net tap=NAME[,mac=MAC][,id=ID][,mtu=N] (id default "eth<N>"): 0 or -EINVAL with
 * one line in err. */
int config_parse_net(struct vm_config *c, const char *v, char *err, size_t errlen) MUST_CHECK;

/* Whether m may be applied to c: a non-empty list of ids of c's interfaces. 0 or -EINVAL with
 * Firecracker's message in err. */
int config_mmds_check(const struct vm_config *c, const struct mmds_config *m, char *err,
		      size_t errlen) MUST_CHECK;

/* kiln run's --vsock cid=N,uds=PATH: 0 or -EINVAL with one line in err (config_vsock.c). */
int config_parse_vsock(struct vm_config *c, const char *v, char *err, size_t errlen) MUST_CHECK;

/* NULL if v may be applied (a CID of at least 3, a non-empty uds_path of at most 107 bytes), else
 * the reason, e.g. "guest_cid 2 is below 3". */
const char *config_check_vsock(const struct vsock_config *v);

/* The balloon (config_balloon.c). */

/* NULL if the balloon's target fits in guest RAM (amount_mib at most the RAM's MiB), else
 * Firecracker's reason ("Amount of pages requested is too large."). */
const char *config_check_balloon(const struct vm_config *c);

/* kiln run's --balloon amount_mib=N[,deflate_on_oom=on|off][,stats_interval=S]
 * [,free_page_reporting=on|off]: 0 or -EINVAL with one line in err. */
int config_parse_balloon(struct vm_config *c, const char *v, char *err, size_t errlen) MUST_CHECK;

/* virtio-fs devices (config_fs.c). */

/* Whether tag is usable: 1 to CONFIG_FS_TAG_MAX printable ASCII bytes, no space or ','. */
bool config_fs_tag_ok(const char *tag);

/* Index of the virtio-fs device whose tag is `tag`, or -1. */
int config_fs_find(const struct vm_config *c, const char *tag);

/* Add f, or replace the device with the same tag in place. -EINVAL if f has not exactly one of
 * socket and dir or a bad tag, -ENOSPC if CONFIG_MAX_FS are configured; c unchanged then. */
int config_fs_put(struct vm_config *c, const struct fs_config *f) MUST_CHECK;

/* kiln run's --fs tag=NAME,socket=PATH | tag=NAME,dir=PATH: 0 or -EINVAL with one line in err. */
int config_parse_fs(struct vm_config *c, const char *v, char *err, size_t errlen) MUST_CHECK;

/* Whether name is a virtio device's as kiln names them: blockN, netN, fsN (N < 100), entropy,
 * balloon, vsock, virtio_console. */
bool config_virtio_name_ok(const char *name);

/* Give the virtio device `name` its own transport (again: replaced). 0, -EINVAL (a bad name) or
 * -ENOSPC (CONFIG_MAX_TRANSPORT_OF already). */
int config_transport_of_put(struct vm_config *c, const char *name,
			    enum virtio_transport t) MUST_CHECK;

/* The transport of virtio device `name`: its own choice, else the default. */
enum virtio_transport config_virtio_transport_of(const struct vm_config *c, const char *name);

/* Whether any virtio device may be on PCI (the default, or a device's own choice). */
bool config_virtio_pci_used(const struct vm_config *c);

/* Add passthrough device `path` under `id`, or give device `id` that path: 0, -EINVAL (a bad
 * id, or a path that is empty, too long or not absolute), -EEXIST (the path is another id's)
 * or -ENOSPC (CONFIG_MAX_VFIO already). */
int config_vfio_put(struct vm_config *c, const char *id, const char *path) MUST_CHECK;

/* kiln run's --vfio PATH (device id "vfio<N>"): 0 or -EINVAL with one line in err. */
int config_parse_vfio(struct vm_config *c, const char *v, char *err, size_t errlen) MUST_CHECK;

/* Why the passthrough devices cannot go with the rest of c (a message), or NULL when they can:
 * a balloon cannot take back RAM the IOMMU pins for DMA. */
const char *config_check_vfio(const struct vm_config *c);

/* Index of the disk whose id is `id` (non-empty), or -1. */
int config_disk_find(const struct vm_config *c, const char *id);

/*
 * Add d, or replace the disk with the same non-empty id (in place, unless its root status
 * changes). A root disk always sits at index 0 (the first virtio slot: /dev/vda). Returns 0,
 * -EEXIST if d is a root disk and another disk already is (*other = its index), or -ENOSPC if
 * CONFIG_MAX_DISKS are attached. c is unchanged on error.
 */
int config_disk_put(struct vm_config *c, const struct disk_config *d, int *other) MUST_CHECK;

/*
 * Check vCPU pinning against the host CPUs this process may use (`allowed`, from
 * sched_getaffinity). Returns 0 (also when c->pin_vcpus is false) or -EINVAL with one line in
 * err naming the vCPU and the host CPU.
 */
int config_check_pinning(const struct vm_config *c, const cpu_set_t *allowed, char *err,
			 size_t errlen) MUST_CHECK;

/*
 * Write the kernel command line kiln passes (before the virtio device tokens): c->cmdline, then,
 * with a root disk, " root=/dev/vda" (or " root=PARTUUID=<partuuid>") and " ro" or " rw", as
 * Firecracker does. Returns 0, or -ENOSPC if it does not fit in len bytes with its NUL.
 */
int config_kernel_cmdline(const struct vm_config *c, char *out, size_t len) MUST_CHECK;

/* Open the kernel and initrd c names (read-only), as Firecracker does when a boot source is put,
 * so a path that cannot be opened is refused then rather than at start. 0, or -errno with
 * Firecracker's wording in err ("The kernel file cannot be opened: No such file or directory
 * (os error 2)"). No kernel configured: 0 (the command line's built-in demo guest). */
int config_open_boot_files(const struct vm_config *c, char *err, size_t len) MUST_CHECK;

/* Open disk d's backing file as the VM would (read-only or read-write), as Firecracker does when a
 * drive is put. 0, or -errno with "Unable to create the virtio block device: ..." in err. */
int config_open_disk_file(const struct disk_config *d, char *err, size_t len) MUST_CHECK;

/* True if the command line holds `word` as a whole space-separated token (e.g. "acpi=off"). */
bool config_cmdline_has(const char *cmdline, const char *word);

/* Print the `kiln run` usage text. */
void config_usage(void);

#endif
