/* snapshot.c — snapshot files: header, configuration, sections, CRC-32C; the memory file; loading
 * a snapshot's state into a VM rebuilt from its configuration. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/board.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "state/snapshot.h"
#include "util/err.h"
#include "util/io.h"
#include "util/log.h"
#include "util/file.h"

#define MEM_CHUNK (1u << 20)
#define CRC_LEN	  4

/* --- CRC-32C --- */

uint32_t snapshot_crc32c(uint32_t crc, const void *p, size_t len)
{
	static uint32_t table[256];
	const uint8_t *b = p;

	if (!table[1]) { /* built once; racing builders write the same values */
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* --- configuration --- */

static void put_str(struct state_buf *b, const char *s)
{
	uint32_t n = s ? (uint32_t)strlen(s) : 0;

	state_put_u32(b, n);
	state_put_bytes(b, s, n);
}

/* Read a string into buf (size cap, NUL-terminated); false if too long or with a NUL inside. */
static bool get_str(struct state_buf *b, char *buf, size_t cap)
{
	uint32_t n = state_get_u32(b);

	if (n >= cap || n > state_remaining(b)) {
		b->overflow = true;
		return false;
	}
	state_get_bytes(b, buf, n);
	buf[n] = 0;
	return strlen(buf) == n;
}

/* A rate limiter: given (u8), then size, one-time burst and refill time (u64 each) of the
 * bandwidth bucket and of the operations bucket. */
static void put_rate(struct state_buf *b, const struct rate_limit_config *r)
{
	const struct bucket_config *k[2] = {&r->bandwidth, &r->ops};

	state_put_u8(b, r->set);
	for (int i = 0; i < 2; i++) {
		state_put_u64(b, k[i]->size);
		state_put_u64(b, k[i]->one_time_burst);
		state_put_u64(b, k[i]->refill_ms);
	}
}

static const char *get_rate(struct state_buf *b, struct rate_limit_config *r)
{
	struct bucket_config *k[2] = {&r->bandwidth, &r->ops};
	uint8_t set = state_get_u8(b);

	for (int i = 0; i < 2; i++) {
		k[i]->size = state_get_u64(b);
		k[i]->one_time_burst = state_get_u64(b);
		k[i]->refill_ms = state_get_u64(b);
		if (k[i]->size > INT64_MAX || k[i]->one_time_burst > INT64_MAX ||
		    k[i]->refill_ms > INT64_MAX)
			return "rate limiter";
	}
	r->set = set;
	return set > 1 ? "rate limiter" : NULL;
}

/* Network interfaces and the MMDS configuration (version 3). */
static void put_nets(struct state_buf *b, const struct vm_config *c)
{
	const struct mmds_config *m = &c->mmds;

	state_put_u32(b, c->nr_nets);
	for (unsigned i = 0; i < c->nr_nets; i++) {
		const struct net_config *n = &c->nets[i];

		put_str(b, n->id);
		put_str(b, n->tap);
		state_put_bytes(b, n->mac, sizeof(n->mac));
		state_put_u8(b, n->mac_set);
		state_put_u16(b, n->mtu);
		put_rate(b, &n->rx_rate);
		put_rate(b, &n->tx_rate);
	}
	state_put_u8(b, m->set);
	state_put_u8(b, (uint8_t)m->version);
	state_put_u32(b, m->ipv4);
	state_put_u8(b, m->imds_compat);
	state_put_u32(b, m->nr_ifaces);
	for (unsigned i = 0; i < m->nr_ifaces; i++)
		put_str(b, m->ifaces[i]);
}

static const char *get_net(struct state_buf *b, struct net_config *n)
{
	uint8_t mac_set;
	const char *why;

	if (!get_str(b, n->id, sizeof(n->id)) || !config_iface_id_ok(n->id))
		return "network interface id";
	if (!get_str(b, n->tap, sizeof(n->tap)) || !n->tap[0] || strchr(n->tap, '/'))
		return "network interface TAP name";
	state_get_bytes(b, n->mac, sizeof(n->mac));
	mac_set = state_get_u8(b);
	n->mtu = state_get_u16(b);
	if (mac_set > 1 || (n->mtu && n->mtu < 68))
		return "network interface MAC or MTU";
	n->mac_set = mac_set;
	why = get_rate(b, &n->rx_rate);
	return why ? why : get_rate(b, &n->tx_rate);
}

static const char *get_nets(struct state_buf *b, struct vm_config *c)
{
	struct mmds_config *m = &c->mmds;
	uint8_t set, version, compat;
	char msg[256];

	uint32_t count = state_get_u32(b);

	if (count > CONFIG_MAX_NETS)
		return "number of network interfaces";
	c->nr_nets = 0;
	for (unsigned i = 0; i < count; i++) {
		struct net_config n = {0};
		const char *why = get_net(b, &n);
		int other;

		if (why)
			return why;
		/* each must be one config_net_put accepts beside the others, as a new one */
		if (config_net_find(c, n.id) >= 0 || config_net_put(c, &n, &other) < 0)
			return "network interfaces (the same id, MAC or TAP twice)";
	}
	set = state_get_u8(b);
	version = state_get_u8(b);
	m->ipv4 = state_get_u32(b);
	compat = state_get_u8(b);
	m->nr_ifaces = state_get_u32(b);
	if (set > 1 || version > MMDS_V2 || compat > 1 || m->nr_ifaces > CONFIG_MAX_NETS)
		return "MMDS configuration";
	m->set = set, m->version = version, m->imds_compat = compat;
	for (unsigned i = 0; i < m->nr_ifaces; i++)
		if (!get_str(b, m->ifaces[i], sizeof(m->ifaces[i])))
			return "MMDS interface";
	return set && config_mmds_check(c, m, msg, sizeof(msg)) < 0 ? "MMDS interfaces" : NULL;
}

/* The vsock device's configuration: a section of its own ("config.vsock", version 1), written
 * only when there is one, so a configuration without it reads as before. */
static int vsock_config_save(const struct vm_config *c, struct state_buf *b)
{
	int ret;

	if (!c->vsock.set)
		return 0;
	ret = state_begin_section(b, "config.vsock", 1);
	state_put_u32(b, c->vsock.guest_cid);
	put_str(b, c->vsock.uds_path);
	return ret ? ret : state_end_section(b);
}

static const char *vsock_config_load(struct state_buf *b, struct vm_config *c)
{
	uint16_t v;

	if (!state_has_section(b, "config.vsock"))
		return NULL;
	if (state_section(b, "config.vsock", &v) < 0 || v != 1)
		return "vsock version";
	c->vsock.set = true;
	c->vsock.guest_cid = state_get_u32(b);
	if (!get_str(b, c->vsock.uds_path, sizeof(c->vsock.uds_path)) || state_section_done(b) ||
	    config_check_vsock(&c->vsock))
		return "vsock";
	return NULL;
}

/* The virtio transports when any device may be on PCI: a section of its own ("config.virtio"),
 * written only then, so a virtio-mmio configuration reads as before (and a kiln that does not
 * know the section rebuilds virtio-mmio slots, whose loader then refuses "virtio.N"). Version 1:
 * u8 the default (1 = PCI); version 2 adds u8 the number of devices with their own, then per
 * device its name (a string) and u8 its transport. */
#define TRANSPORT_CONFIG_VERSION 2

static int transport_config_save(const struct vm_config *c, struct state_buf *b)
{
	int ret;

	if (!config_virtio_pci_used(c))
		return 0;
	ret = state_begin_section(b, "config.virtio", TRANSPORT_CONFIG_VERSION);
	state_put_u8(b, (uint8_t)c->virtio_transport);
	state_put_u8(b, (uint8_t)c->nr_transport_of);
	for (unsigned i = 0; i < c->nr_transport_of; i++) {
		put_str(b, c->transport_of[i].name);
		state_put_u8(b, (uint8_t)c->transport_of[i].transport);
	}
	return ret ? ret : state_end_section(b);
}

static const char *transport_config_load(struct state_buf *b, struct vm_config *c)
{
	char name[CONFIG_DEV_NAME_MAX];
	uint16_t v;
	uint8_t t, n = 0;

	if (!state_has_section(b, "config.virtio"))
		return NULL;
	if (state_section(b, "config.virtio", &v) < 0 || v < 1 || v > TRANSPORT_CONFIG_VERSION)
		return "virtio transport version";
	t = state_get_u8(b);
	if (t > VIRTIO_TRANSPORT_PCI)
		return "virtio transport";
	c->virtio_transport = (enum virtio_transport)t;
	if (v >= 2)
		n = state_get_u8(b);
	c->nr_transport_of = 0;
	for (unsigned i = 0; i < n; i++) {
		uint8_t d;

		if (!get_str(b, name, sizeof(name)))
			return "virtio transport of a device";
		d = state_get_u8(b);
		if (d > VIRTIO_TRANSPORT_PCI ||
		    config_transport_of_put(c, name, (enum virtio_transport)d) < 0)
			return "virtio transport of a device";
	}
	if (state_section_done(b) || !config_virtio_pci_used(c))
		return "virtio transport";
	return NULL;
}

static void put_balloon(struct state_buf *b, const struct balloon_config *bc)
{
	state_put_u8(b, bc->enabled);
	state_put_u32(b, bc->amount_mib);
	state_put_u8(b, bc->deflate_on_oom);
	state_put_u16(b, bc->stats_interval_s);
	state_put_u8(b, bc->free_page_reporting);
}

/* Version 4's balloon (older versions: none). */
static const char *get_balloon(struct state_buf *b, struct vm_config *c)
{
	struct balloon_config *bc = &c->balloon;
	uint8_t on = state_get_u8(b), oom, report;

	bc->amount_mib = state_get_u32(b);
	oom = state_get_u8(b);
	bc->stats_interval_s = state_get_u16(b);
	report = state_get_u8(b);
	if (on > 1 || oom > 1 || report > 1)
		return "balloon flags";
	bc->enabled = on, bc->deflate_on_oom = oom, bc->free_page_reporting = report;
	return config_check_balloon(c) ? "balloon target" : NULL;
}

int snapshot_config_save(const struct vm_config *c, struct state_buf *b)
{
	int ret = state_begin_section(b, "config", SNAPSHOT_CONFIG_VER);

	state_put_u64(b, c->mem_bytes);
	state_put_u32(b, c->sockets);
	state_put_u32(b, c->cores);
	state_put_u32(b, c->threads);
	state_put_u8(b, c->hugepages);
	state_put_u8(b, c->thp);
	state_put_u8(b, c->acpi);
	state_put_u8(b, c->test_device);
	state_put_u16(b, c->debug_exit_port);
	state_put_u8(b, c->on_reset);
	state_put_u8(b, c->com1.mode);
	put_str(b, c->com1.path);
	state_put_u8(b, c->com2.mode);
	put_str(b, c->com2.path);
	state_put_u32(b, c->nr_disks);
	for (unsigned i = 0; i < c->nr_disks; i++) {
		put_str(b, c->disks[i].path);
		state_put_u8(b, c->disks[i].read_only);
		put_str(b, c->disks[i].id);
		state_put_u8(b, c->disks[i].is_root); /* since version 2 */
		put_str(b, c->disks[i].partuuid);
		state_put_u8(b, (uint8_t)c->disks[i].cache);
		state_put_u8(b, (uint8_t)c->disks[i].io_engine);
		put_rate(b, &c->disks[i].rate);
	}
	state_put_u8(b, c->vconsole.mode);
	put_str(b, c->vconsole.path);
	state_put_u8(b, c->rng);
	put_str(b, c->kernel_path); /* since version 2: the boot source, as configured */
	put_str(b, c->initrd_path);
	state_put_u8(b, c->cmdline_given);
	put_str(b, c->cmdline);
	put_rate(b, &c->rng_rate);
	put_nets(b, c);		     /* since version 3 */
	put_balloon(b, &c->balloon); /* since version 4 */
	ret = ret ? ret : state_end_section(b);
	ret = ret ? ret : vsock_config_save(c, b);
	return ret ? ret : transport_config_save(c, b);
}

/* Version 2's per-disk fields (version 1: not a root device, no PARTUUID, Unsafe, Async). */
static const char *disk_fields_v2(struct state_buf *b, struct disk_config *d)
{
	uint8_t root = state_get_u8(b), cache, engine;

	if (!get_str(b, d->partuuid, sizeof(d->partuuid)))
		return "disk PARTUUID";
	cache = state_get_u8(b);
	engine = state_get_u8(b);
	if (root > 1 || cache > DISK_CACHE_WRITEBACK || engine > DISK_IO_SYNC)
		return "disk root, cache or engine";
	d->is_root = root;
	d->cache = cache;
	d->io_engine = engine;
	return get_rate(b, &d->rate);
}

/* Version 2's boot source (version 1: none recorded). */
static const char *boot_fields_v2(struct state_buf *b, struct vm_config *c)
{
	uint8_t given;

	if (!get_str(b, c->kernel_path, sizeof(c->kernel_path)) ||
	    !get_str(b, c->initrd_path, sizeof(c->initrd_path)))
		return "boot source path";
	given = state_get_u8(b);
	if (given > 1 || !get_str(b, c->cmdline, sizeof(c->cmdline)))
		return "command line";
	c->cmdline_given = given;
	return get_rate(b, &c->rng_rate);
}

static const char *config_fields(struct state_buf *b, struct vm_config *c, uint8_t *f,
				 uint16_t version)
{
	const char *why;

	c->mem_bytes = state_get_u64(b);
	c->sockets = state_get_u32(b);
	c->cores = state_get_u32(b);
	c->threads = state_get_u32(b);
	for (unsigned i = 0; i < 4; i++)
		f[i] = state_get_u8(b); /* hugepages, thp, acpi, test_device */
	c->debug_exit_port = state_get_u16(b);
	f[4] = state_get_u8(b); /* on_reset */
	f[5] = state_get_u8(b); /* com1 */
	if (!get_str(b, c->com1.path, sizeof(c->com1.path)))
		return "serial path";
	f[6] = state_get_u8(b); /* com2 */
	if (!get_str(b, c->com2.path, sizeof(c->com2.path)))
		return "serial path";
	c->nr_disks = state_get_u32(b);
	if (c->nr_disks > CONFIG_MAX_DISKS)
		return "number of disks";
	for (unsigned i = 0; i < c->nr_disks; i++) {
		struct disk_config *d = &c->disks[i];
		uint8_t ro;

		if (!get_str(b, d->path, sizeof(d->path)) || !d->path[0])
			return "disk path";
		ro = state_get_u8(b);
		if (ro > 1 || !get_str(b, d->id, sizeof(d->id)))
			return "disk mode or id";
		d->read_only = ro;
		why = version >= 2 ? disk_fields_v2(b, d) : NULL;
		if (why)
			return why;
	}
	f[7] = state_get_u8(b); /* vconsole */
	if (!get_str(b, c->vconsole.path, sizeof(c->vconsole.path)))
		return "console path";
	f[8] = state_get_u8(b); /* rng */
	if (version < 2)
		return NULL;
	why = boot_fields_v2(b, c);
	if (!why && version >= 3)
		why = get_nets(b, c);
	return why || version < 4 ? why : get_balloon(b, c);
}

static const char *config_check(const struct vm_config *c, const uint8_t *f)
{
	uint64_t vcpus = (uint64_t)c->sockets * c->cores * c->threads;

	if (!c->sockets || !c->cores || !c->threads || vcpus > CONFIG_MAX_VCPUS)
		return "topology";
	if (c->mem_bytes < (2ull << 20) || c->mem_bytes > (1ull << 40) || c->mem_bytes % 4096)
		return "memory size";
	for (unsigned i = 0; i < 4; i++)
		if (f[i] > 1)
			return "flags";
	if (f[0] && f[1])
		return "hugepages with thp";
	if (f[4] > RESET_RESTART || f[5] > SERIAL_NONE || f[6] > SERIAL_NONE ||
	    f[7] > VCONSOLE_SOCKET || f[8] > 1)
		return "mode";
	if (c->debug_exit_port > 0xfffc)
		return "debug-exit port";
	if ((f[5] == SERIAL_FILE && !c->com1.path[0]) ||
	    (f[6] == SERIAL_FILE && !c->com2.path[0]) ||
	    (f[7] >= VCONSOLE_FILE && !c->vconsole.path[0]))
		return "backend path missing";
	return NULL;
}

int snapshot_config_load(struct state_buf *b, struct vm_config *c, struct kiln_err *err)
{
	uint8_t f[9] = {0};
	uint16_t v;
	const char *why;

	config_defaults(c);
	if (state_section(b, "config", &v) < 0)
		why = "missing";
	else if (v < SNAPSHOT_CONFIG_MIN_VER || v > SNAPSHOT_CONFIG_VER)
		why = "version (this kiln reads 1 to 4)";
	else if (!(why = config_fields(b, c, f, v)) && state_section_done(b))
		why = "length";
	if (!why)
		why = config_check(c, f);
	if (!why)
		why = vsock_config_load(b, c);
	if (!why)
		why = transport_config_load(b, c);
	if (why)
		return err_set(err, -EINVAL, "snapshot: configuration: bad %s", why);
	c->hugepages = f[0], c->thp = f[1], c->acpi = f[2], c->test_device = f[3];
	c->on_reset = f[4];
	c->com1.mode = f[5], c->com2.mode = f[6];
	c->vconsole.mode = f[7];
	c->rng = f[8];
	return 0;
}

#define DIFF(what, fmt, a, b)                                                                      \
	do {                                                                                       \
		if ((a) != (b))                                                                    \
			return err_set(err, -EINVAL,                                               \
				       "snapshot: %s differs: snapshot " fmt                       \
				       ", configuration " fmt,                                     \
				       what, b, a);                                                \
	} while (0)

int snapshot_config_check(const struct vm_config *g, const struct vm_config *s,
			  struct kiln_err *err)
{
	DIFF("memory (bytes)", "%llu", (unsigned long long)g->mem_bytes,
	     (unsigned long long)s->mem_bytes);
	DIFF("vCPU count", "%u", config_vcpus(g), config_vcpus(s));
	DIFF("sockets", "%u", g->sockets, s->sockets);
	DIFF("threads per core", "%u", g->threads, s->threads);
	DIFF("ACPI", "%d", g->acpi, s->acpi);
	DIFF("test device", "%d", g->test_device, s->test_device);
	DIFF("debug-exit port", "%#x", g->debug_exit_port, s->debug_exit_port);
	DIFF("number of disks", "%u", g->nr_disks, s->nr_disks);
	for (unsigned i = 0; i < g->nr_disks; i++)
		DIFF("a disk's read-only mode", "%d", g->disks[i].read_only, s->disks[i].read_only);
	DIFF("virtio console", "%d", g->vconsole.mode != VCONSOLE_NONE,
	     s->vconsole.mode != VCONSOLE_NONE);
	DIFF("virtio rng", "%d", g->rng, s->rng);
	DIFF("number of network interfaces", "%u", g->nr_nets, s->nr_nets);
	DIFF("vsock device", "%d", g->vsock.set, s->vsock.set);
	DIFF("balloon", "%d", g->balloon.enabled, s->balloon.enabled);
	return 0;
}

/* --- creating --- */

static bool all_zero(const uint8_t *p, size_t n)
{
	static const uint8_t zero[4096];

	for (size_t off = 0; off < n; off += sizeof(zero)) {
		size_t k = n - off < sizeof(zero) ? n - off : sizeof(zero);

		if (memcmp(p + off, zero, k) != 0)
			return false;
	}
	return true;
}

/* Whether no page of [p, p+n) of anonymous memory was ever touched (neither present nor swapped
 * out, per /proc/self/pagemap bits 63 and 62): it reads as zero, and reading it would only fault
 * the zero page in, page by page. pagemap_fd < 0: unknown (false). */
static bool untouched(int pagemap_fd, const uint8_t *p, size_t n)
{
	uint64_t ent[MEM_CHUNK / 4096];
	size_t pages = (n + 4095) / 4096;
	off_t off = (off_t)((uintptr_t)p / 4096 * sizeof(uint64_t));

	if (pagemap_fd < 0 || (uintptr_t)p % 4096 ||
	    pread(pagemap_fd, ent, pages * sizeof(ent[0]), off) !=
		(ssize_t)(pages * sizeof(ent[0])))
		return false;
	for (size_t i = 0; i < pages; i++)
		if (ent[i] & (3ull << 62))
			return false;
	return true;
}

/* Whether [o, o+n) of shared region r is a hole of its memfd (never written by anyone: kiln's
 * pagemap cannot tell, since a vhost-user backend writes through its own mapping). Unknown:
 * false. */
static bool shared_hole(const struct guest_region *r, uint64_t o, size_t n)
{
	off_t data = lseek(r->fd, (off_t)(r->fd_offset + o), SEEK_DATA);

	if (data < 0)
		return errno == ENXIO; /* no data from there to the end */
	return (uint64_t)data >= r->fd_offset + o + n;
}

/* Whether chunk [o, o+n) of RAM region r reads as zero without being read. */
static bool skippable(int pagemap_fd, const struct guest_region *r, uint64_t o, size_t n)
{
	if (r->flags & GUEST_MEM_SHARED)
		return shared_hole(r, o, n);
	/* A file-backed region's absent pages hold the file's data. */
	return !(r->flags & GUEST_MEM_FILE) && untouched(pagemap_fd, r->host + o, n);
}

/* Open a memory file to write from scratch. An existing regular file is unlinked first, not
 * truncated: ext4 (auto_da_alloc) starts writeback of every page of a file that was truncated
 * and rewritten when it is closed, which made a 2 GiB snapshot 0.6-0.9 s slower here; and a
 * kiln restored from the old file keeps mapping the old file, where truncating it under its
 * MAP_PRIVATE mapping would take its memory away. Anything else at path (a symlink, a FIFO) is
 * left to file_open's checks. fd or -errno (file_open's). */
static int open_fresh(const char *path)
{
	struct stat st;

	/* where it cannot be unlinked (a sticky directory) it is truncated as before */
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) < 0)
		log_debug("snapshot: %s not unlinked (%s): truncated", path, strerror(errno));
	return file_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600, FILE_REG);
}

/* Every RAM region in guest-physical order; all-zero chunks stay holes. */
static int write_memory(struct vm *vm, const char *path, uint64_t *total, struct kiln_err *err)
{
	int fd = open_fresh(path), ret = 0;
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = 0;

	if (fd < 0) {
		if (pagemap >= 0)
			close(pagemap);
		return err_set(err, fd, "snapshot: memory file %s: %s", path, file_strerror(fd));
	}
	for (unsigned i = 0; i < vm->mem.nr && ret == 0; i++) {
		const struct guest_region *r = &vm->mem.r[i];

		if (!(r->flags & GUEST_MEM_RAM))
			continue;
		for (uint64_t o = 0; o < r->len && ret == 0; o += MEM_CHUNK) {
			size_t n = r->len - o < MEM_CHUNK ? (size_t)(r->len - o) : MEM_CHUNK;

			if (skippable(pagemap, r, o, n))
				continue;
			if (!all_zero(r->host + o, n))
				ret = io_pwrite_all(fd, r->host + o, n, off + (off_t)o);
		}
		off += (off_t)r->len;
	}
	if (pagemap >= 0)
		close(pagemap);
	if (ret == 0 && ftruncate(fd, off) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		err_set(err, ret, "snapshot: writing memory file %s: %s", path, strerror(-ret));
	*total = (uint64_t)off;
	return ret;
}

/* Diff: the dirty pages of each RAM region at their offsets (clearing the log); holes elsewhere.
 * With bits NULL (Full) the log is only cleared. */
static int dirty_pages(struct vm *vm, int fd, uint64_t *bits)
{
	off_t off = 0;
	int ret = 0;

	for (unsigned i = 0; i < vm->mem.nr && ret == 0; i++) {
		const struct guest_region *r = &vm->mem.r[i];
		uint64_t pages = r->len / GUEST_PAGE_SIZE;

		if (!(r->flags & GUEST_MEM_RAM))
			continue;
		ret = guest_mem_dirty_fetch(&vm->mem, r, bits);
		for (uint64_t p = 0; p < pages && ret == 0 && fd >= 0; p++) {
			uint64_t n = 0;

			while (p + n < pages && (bits[(p + n) / 64] >> ((p + n) % 64) & 1))
				n++;
			if (n)
				ret = io_pwrite_all(fd, r->host + p * GUEST_PAGE_SIZE,
						    n * GUEST_PAGE_SIZE,
						    off + (off_t)(p * GUEST_PAGE_SIZE));
			p += n;
		}
		off += (off_t)r->len;
	}
	return ret;
}

/* The dirty log for a snapshot: Diff writes the pages to path (holes elsewhere, full size);
 * Full (path NULL) only clears the log, when it is on. */
static int write_dirty(struct vm *vm, const char *path, uint64_t *total, struct kiln_err *err)
{
	size_t words = 1;
	uint64_t *bits;
	int fd = -1, ret;

	if (!vm->mem.logging && !path)
		return 0;
	if (!vm->mem.logging)
		return err_set(
		    err, -EINVAL,
		    "snapshot: Diff needs dirty-page tracking (machine-config track_dirty_pages)");
	for (unsigned i = 0; i < vm->mem.nr; i++)
		if (guest_mem_bitmap_words(vm->mem.r[i].len) > words)
			words = guest_mem_bitmap_words(vm->mem.r[i].len);
	bits = calloc(words, sizeof(*bits));
	fd = path ? open_fresh(path) : -1;
	ret = !bits ? -ENOMEM : (path && fd < 0) ? fd : 0;
	ret = ret ? ret : dirty_pages(vm, path ? fd : -1, bits);
	*total = guest_mem_ram_size(&vm->mem);
	if (ret == 0 && fd >= 0 && ftruncate(fd, (off_t)*total) < 0)
		ret = -errno;
	if (fd >= 0 && close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		err_set(err, ret, "snapshot: writing the Diff memory file %s: %s",
			path ? path : "-", strerror(-ret));
	free(bits);
	return ret;
}

static int save_vcpus(struct vm *vm, struct state_buf *b)
{
	int ret = 0;

	for (unsigned i = 0; i < vm->nr_vcpus && ret == 0; i++)
		ret = board_vcpu_save(vm, i, b);
	return ret;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Header + body + CRC to path.tmp, then renamed over path. */
static int write_state_file(const char *path, const struct state_buf *body, uint64_t mem_bytes,
			    uint32_t flags, struct kiln_err *err)
{
	uint8_t hdr[SNAPSHOT_HDR_LEN] = {0}, crc_le[CRC_LEN];
	char tmp[4200];
	uint32_t crc;
	int fd, ret;

	memcpy(hdr, SNAPSHOT_MAGIC, 8);
	put_le(hdr + 8, SNAPSHOT_VERSION, 4);
	put_le(hdr + 12, flags, 4);
	put_le(hdr + 16, mem_bytes, 8);
	put_le(hdr + 24, body->len, 8);
	crc = snapshot_crc32c(snapshot_crc32c(0, hdr, sizeof(hdr)), body->data, body->len);
	put_le(crc_le, crc, CRC_LEN);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_set(err, -ENAMETOOLONG, "snapshot: %.64s...: path too long", path);
	fd = file_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600, FILE_REG);
	if (fd < 0)
		return err_set(err, fd, "snapshot: %s: %s", tmp, file_strerror(fd));
	ret = io_pwrite_all(fd, hdr, sizeof(hdr), 0);
	ret = ret ? ret : io_pwrite_all(fd, body->data, body->len, SNAPSHOT_HDR_LEN);
	ret = ret ? ret : io_pwrite_all(fd, crc_le, CRC_LEN, (off_t)(SNAPSHOT_HDR_LEN + body->len));
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0) {
		err_set(err, ret, "snapshot: writing %s: %s", path, strerror(-ret));
		unlink(tmp);
	}
	return ret;
}

int snapshot_save_state(struct vm *vm, struct state_buf *b)
{
	int ret = snapshot_config_save(vm->cfg, b);

	ret = ret ? ret : board_save(vm, b);
	ret = ret ? ret : board_platform_save(vm, b);
	ret = ret ? ret : save_vcpus(vm, b);
	if (ret == -ENOMEM)
		log_err("snapshot: out of memory while collecting state");
	return ret;
}

/* path with its directory resolved (realpath of the part before the last '/'), into out; false
 * if that directory does not resolve. */
static bool canonical(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX], real[PATH_MAX];

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >=
		 sizeof(dir))
		return false;
	if (!realpath(dir[0] ? dir : "/", real))
		return false;
	return (size_t)snprintf(out, len, "%s/%s", real, slash ? slash + 1 : path) < len;
}

/* Whether a and b name the same file: the same resolved path, or (both existing) the same
 * inode (a hard link). The snapshot is written beside its name and renamed over it, so a
 * memory file of the same name would be replaced and the pair left unusable. */
static bool same_file(const char *a, const char *b)
{
	char ca[PATH_MAX + 256], cb[PATH_MAX + 256];
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	if (canonical(a, ca, sizeof(ca)) && canonical(b, cb, sizeof(cb)) && strcmp(ca, cb) == 0)
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* -FILE_EKIND if path exists and is not a regular file (the snapshot is renamed over its name:
 * a FIFO or device there would be replaced without a word), else 0. */
static int not_a_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !S_ISREG(st.st_mode) ? -FILE_EKIND : 0;
}

int snapshot_create(struct vm *vm, const char *snap_path, const char *mem_path, bool diff,
		    struct kiln_err *err)
{
	struct state_buf b = {0};
	uint64_t mem_bytes = 0;
	int ret;

	if (vm_get_state(vm) != VM_PAUSED)
		return err_set(err, -EBUSY, "snapshot: the VM must be paused");
	ret = not_a_file(snap_path) ?: not_a_file(mem_path);
	if (ret < 0)
		return err_set(err, ret, "snapshot: %s: %s",
			       not_a_file(snap_path) ? snap_path : mem_path, file_strerror(ret));
	if (same_file(snap_path, mem_path))
		return err_set(err, -EINVAL,
			       "snapshot: snapshot_path and mem_file_path name the same file (%s)",
			       mem_path);
	ret = snapshot_save_state(vm, &b);
	if (diff) {
		ret = ret ? ret : write_dirty(vm, mem_path, &mem_bytes, err);
	} else {
		ret = ret ? ret : write_dirty(vm, NULL, &mem_bytes, err);
		ret = ret ? ret : write_memory(vm, mem_path, &mem_bytes, err);
	}
	ret = ret ? ret
		  : write_state_file(snap_path, &b, mem_bytes,
				     diff ? SNAPSHOT_FLAG_DIFF : SNAPSHOT_FLAG_FULL, err);
	state_buf_free(&b);
	return ret;
}

/* --- reading --- */

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int read_file(const char *path, uint8_t **out, size_t *len, struct kiln_err *err)
{
	int fd = file_open(path, O_RDONLY, 0, FILE_REG), ret = 0;
	struct stat st;
	uint8_t *p = NULL;
	size_t got = 0;

	if (fd < 0) {
		ret = err_set(err, fd, "snapshot: %s: %s", path, file_strerror(fd));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = err_set(err, -errno, "snapshot: %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > SNAPSHOT_MAX_LEN) {
		ret =
		    err_set(err, -EINVAL, "snapshot: %s: not a regular file of at most %llu bytes",
			    path, (unsigned long long)SNAPSHOT_MAX_LEN);
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (p && io_read_all(fd, p, (size_t)st.st_size) == 0) {
		got = (size_t)st.st_size;
	} else {
		ret = err_set(err, -EIO, "snapshot: %s: read failed", path);
		free(p);
		p = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	*out = p;
	*len = got;
	return ret;
}

/* -EINVAL with "snapshot: ..." reported through the function's `err`. */
#define REFUSE(...) err_set(err, -EINVAL, "snapshot: " __VA_ARGS__)

static int check_header(const char *path, const uint8_t *d, size_t len, struct snapshot_image *img,
			struct kiln_err *err)
{
	uint32_t version, crc;
	uint64_t body;

	if (len < SNAPSHOT_HDR_LEN + CRC_LEN || memcmp(d, SNAPSHOT_MAGIC, 8) != 0)
		return REFUSE("%s: not a kiln snapshot (no KILNSNAP header)", path);
	version = (uint32_t)get_le(d + 8, 4);
	if (version != SNAPSHOT_VERSION)
		return REFUSE("%s: format version %u, this kiln reads version %u", path, version,
			      SNAPSHOT_VERSION);
	img->flags = (uint32_t)get_le(d + 12, 4);
	img->mem_bytes = get_le(d + 16, 8);
	body = get_le(d + 24, 8);
	if (body != len - SNAPSHOT_HDR_LEN - CRC_LEN)
		return REFUSE("%s: truncated or padded (%zu bytes, the header says %llu)", path,
			      len, (unsigned long long)body + SNAPSHOT_HDR_LEN + CRC_LEN);
	crc = (uint32_t)get_le(d + len - CRC_LEN, CRC_LEN);
	if (snapshot_crc32c(0, d, len - CRC_LEN) != crc)
		return REFUSE("%s: checksum mismatch (the file is corrupt)", path);
	if (img->flags != SNAPSHOT_FLAG_FULL && img->flags != SNAPSHOT_FLAG_DIFF)
		return REFUSE("%s: flags %#x: not a Full or Diff snapshot", path, img->flags);
	return 0;
}

int snapshot_read(const char *path, struct snapshot_image *img, struct kiln_err *err)
{
	int ret;

	memset(img, 0, sizeof(*img));
	ret = read_file(path, &img->data, &img->len, err);
	if (ret == 0)
		ret = check_header(path, img->data, img->len, img, err);
	if (ret == 0 && state_open(&img->body, img->data + SNAPSHOT_HDR_LEN,
				   img->len - SNAPSHOT_HDR_LEN - CRC_LEN) < 0)
		ret = REFUSE("%s: bad section framing", path);
	if (ret == 0)
		ret = snapshot_config_load(&img->body, &img->cfg, err);
	if (ret == 0 && img->cfg.mem_bytes != img->mem_bytes)
		ret = REFUSE("%s: memory size %llu does not match the configuration's %llu", path,
			     (unsigned long long)img->mem_bytes,
			     (unsigned long long)img->cfg.mem_bytes);
	if (ret < 0)
		snapshot_image_free(img);
	return ret;
}

void snapshot_image_free(struct snapshot_image *img)
{
	free(img->data);
	memset(img, 0, sizeof(*img));
}

static int load_vcpus(struct vm *vm, struct state_buf *b)
{
	int ret = 0;

	for (unsigned i = 0; i < vm->nr_vcpus && ret == 0; i++)
		ret = board_vcpu_load(vm, i, b);
	return ret;
}

int snapshot_load_state(struct vm *vm, struct snapshot_image *img, struct kiln_err *err)
{
	/* Devices first: they drive their interrupt lines to the saved levels, and the irqchip's
	 * state loaded afterwards then holds what the snapshot says. Every loader's refusal goes to
	 * err through the stream (state_refuse). */
	int ret;

	img->body.err = err;
	ret = board_load(vm, &img->body);

	if (ret == 0)
		ret = board_platform_load(vm, &img->body);
	if (ret == 0)
		ret = load_vcpus(vm, &img->body);
	return ret;
}

/* --- merging a Diff memory file --- */

static int copy_extent(int from, int to, off_t off, off_t end)
{
	static uint8_t buf[1 << 20];

	while (off < end) {
		size_t n = end - off < (off_t)sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		ssize_t got = pread(from, buf, n, off);
		int ret;

		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		ret = io_pwrite_all(to, buf, (size_t)got, off);
		if (ret < 0)
			return ret;
		off += got;
	}
	return 0;
}

int snapshot_merge(const char *base_path, const char *diff_path)
{
	int base = file_open(base_path, O_WRONLY, 0, FILE_REG),
	    diff = file_open(diff_path, O_RDONLY, 0, FILE_REG);
	struct stat sb, sd;
	off_t off = 0;
	int ret = 0;

	if (base < 0 || diff < 0)
		ret = base < 0 ? base : diff;
	else if (fstat(base, &sb) < 0 || fstat(diff, &sd) < 0)
		ret = -errno;
	else if (sb.st_size != sd.st_size)
		ret = -EINVAL;
	while (ret == 0) {
		off_t data = lseek(diff, off, SEEK_DATA), hole;

		if (data < 0)
			break; /* ENXIO: no data after off */
		hole = lseek(diff, data, SEEK_HOLE);
		ret = hole < 0 ? -errno : copy_extent(diff, base, data, hole);
		off = hole;
	}
	if (ret < 0)
		log_err("snapshot-merge: %s onto %s: %s", diff_path, base_path,
			ret == -EINVAL ? "the memory files differ in size" : file_strerror(ret));
	if (base >= 0 && close(base) < 0 && ret == 0)
		ret = -errno;
	if (diff >= 0)
		close(diff);
	return ret;
}
