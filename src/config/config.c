/* config.c — defaults and the `kiln run` command-line parser (pure: no I/O but usage text). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "util/file.h"

#define MEM_DEFAULT (256ULL << 20)
#define STR_(x)	    #x
#define STR(x)	    STR_(x)

void config_defaults(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	config_defaults_zeroed(c);
}

void config_defaults_zeroed(struct vm_config *c)
{
	c->sockets = c->cores = c->threads = 1;
	c->mem_bytes = MEM_DEFAULT;
	c->com1.mode = SERIAL_STDIO;
	c->com2.mode = SERIAL_NONE;
	c->boot = BOOT_AUTO;
	c->on_reset = RESET_STOP;
	c->debug_exit_port = 0xf4;
	c->acpi = true;
	c->mmds.ipv4 = MMDS_DEFAULT_IPV4;
}

void config_usage(void)
{
	fputs(
	    "usage: kiln run [options]\n"
	    "  --kernel PATH          kernel: bzImage, ELF vmlinux, PVH ELF, or raw image\n"
	    "                         (without --kernel: the built-in demo guest)\n"
	    "  --initrd PATH          initial ramdisk\n"
	    "  --cmdline STR          kernel command line\n"
	    "  --boot auto|linux|pvh  boot protocol for ELF kernels (auto: PVH if the ELF has\n"
	    "                         a PVH entry note, else the Linux 64-bit entry)\n"
	    "  --cpus N               N vCPUs (1 socket, N cores)\n"
	    "  --topology S:C:T       sockets:cores:threads per core\n"
	    "  --pin-vcpus C0,C1,...  run vCPU i only on host CPU Ci (one per vCPU)\n"
	    "  --memory SIZE          guest RAM, e.g. 512M, 2G (bare number: MiB; default 256M)\n"
	    "  --hugepages            back guest RAM with 2 MiB huge pages (hugetlb pool)\n"
	    "  --thp                  ask for transparent huge pages for guest RAM\n"
	    "  --serial MODE          COM1: stdio (default), file:PATH, none\n"
	    "  --serial2 MODE         COM2: stdio, file:PATH, none (default)\n"
	    "  --load-addr A --entry E  raw image: load at A, enter at E (64-bit mode)\n"
	    "  --on-reset stop|restart  what a guest reset does (default stop)\n"
	    "  --sync-teardown        exit only once KVM has torn the VM down (default: a reaper\n"
	    "                         process does it after kiln has exited)\n"
	    "  --no-seccomp           run without kiln's per-thread seccomp filters\n"
	    "  --seccomp-filter FILE  the filters compiled into FILE (kiln seccomp compile)\n"
	    "  --debug-exit-port P|none  debug-exit port (default 0xf4)\n"
	    "  --test-device          add the PIO/MMIO scratch device used by the guest tests\n"
	    "  --no-acpi              no ACPI tables: the guest finds CPUs in the MP table\n"
	    "  --pvpanic              a pvpanic port: a guest kernel panic ends kiln (status 6)\n"
	    "  --boot-timer           log the guest's boot time when it writes 123 at 0xc0000000\n"
	    "  --virtio-transport mmio|pci  virtio devices on virtio-mmio slots (default) or on a\n"
	    "                         PCI bus with MSI-X; NAME=mmio|pci: device NAME's own\n"
	    "                         (block0, net1, fs0, entropy, balloon, vsock, ...)\n"
	    "  --vfio PATH            pass the host PCI device at PATH\n"
	    "                         (/sys/bus/pci/devices/DDDD:BB:DD.F, bound to vfio-pci)\n"
	    "                         through to the guest (repeatable, 8 max; x86)\n"
	    "  --disk PATH[,ro][,id=NAME][,root]  a virtio-blk disk on a raw image (repeatable,\n"
	    "                         16 max); root: first disk, root=/dev/vda ro|rw on the "
	    "cmdline\n"
	    "  --console-virtio MODE  virtio-console: stdio, file:PATH, socket:PATH, none\n"
	    "  --rng                  a virtio-rng entropy device\n"
	    "  --net tap=NAME[,mac=MAC][,id=ID][,mtu=N]  a virtio-net interface on an existing\n"
	    "                         TAP device (repeatable, 8 max; id default eth<N>)\n"
	    "  --vsock cid=N,uds=PATH  a virtio-vsock device: guest CID N (>= 3); host processes\n"
	    "                         connect to PATH and send CONNECT <port>, the guest reaches\n"
	    "                         host port P at PATH_P\n"
	    "  --balloon "
	    "amount_mib=N[,deflate_on_oom=on][,stats_interval=S][,free_page_reporting=on]\n"
	    "                         a virtio-balloon holding N MiB of guest RAM\n"
	    "  --fs tag=NAME,socket=PATH|dir=PATH  a virtio-fs share through vhost-user: a "
	    "running\n"
	    "                         backend's socket, or a directory kiln serves with its own\n"
	    "                         virtiofsd (repeatable, 4 max; guest RAM becomes shared)\n"
	    "  -v, --verbose          more log output (repeat for debug)\n"
	    "  -h, --help             this text\n",
	    stdout);
}

int config_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 20;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end) {
		switch (*end) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		case 't':
		case 'T':
			shift = 40;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (v == 0 || v > (~0ULL >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int config_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

const char *config_check_mem(uint64_t bytes, bool hugepages)
{
	if (bytes < CONFIG_MEM_MIN || bytes > CONFIG_MEM_MAX)
		return "is outside 2M..1T";
	if (bytes & 0xfff)
		return "is not a multiple of 4K";
	if (hugepages && (bytes & ((2ULL << 20) - 1)))
		return "is not a multiple of 2M (needed with huge pages)";
	return NULL;
}

const char *config_check_topology(uint64_t sockets, uint64_t cores, uint64_t threads)
{
	if (sockets == 0 || cores == 0 || threads == 0)
		return "has a count of 0";
	if (sockets > CONFIG_MAX_VCPUS || cores > CONFIG_MAX_VCPUS || threads > CONFIG_MAX_VCPUS ||
	    sockets * cores * threads > CONFIG_MAX_VCPUS)
		return "gives more than " STR(CONFIG_MAX_VCPUS) " vCPUs";
	return NULL;
}

unsigned config_stdio_users(const struct vm_config *c)
{
	return (c->com1.mode == SERIAL_STDIO) + (c->com2.mode == SERIAL_STDIO) +
	       (c->vconsole.mode == VCONSOLE_STDIO);
}

static int parse_serial(struct serial_config *sc, const char *flag, const char *v, char *err,
			size_t errlen)
{
	if (strcmp(v, "stdio") == 0) {
		sc->mode = SERIAL_STDIO;
	} else if (strcmp(v, "none") == 0) {
		sc->mode = SERIAL_NONE;
	} else if (strncmp(v, "file:", 5) == 0 && v[5]) {
		if (strlen(v + 5) >= sizeof(sc->path))
			return config_fail(err, errlen, "%s: path too long", flag);
		sc->mode = SERIAL_FILE;
		strcpy(sc->path, v + 5);
	} else {
		return config_fail(err, errlen, "%s: '%s' is not stdio, file:PATH or none", flag,
				   v);
	}
	return 0;
}

static int parse_count(const char *s, unsigned *out)
{
	uint64_t v;

	if (config_parse_u64(s, &v) < 0 || v == 0 || v > CONFIG_MAX_VCPUS)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_topology(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	char buf[64], *p[3], *save = NULL;
	unsigned n[3];

	if (strlen(v) >= sizeof(buf))
		return config_fail(err, errlen, "--topology: '%s' is not S:C:T", v);
	strcpy(buf, v);
	p[0] = strtok_r(buf, ":", &save);
	p[1] = strtok_r(NULL, ":", &save);
	p[2] = strtok_r(NULL, "", &save);
	for (int i = 0; i < 3; i++)
		if (!p[i] || parse_count(p[i], &n[i]) < 0)
			return config_fail(err, errlen,
					   "--topology: '%s' is not S:C:T with each >= 1", v);
	if (config_check_topology(n[0], n[1], n[2]))
		return config_fail(err, errlen, "--topology: %s %s", v,
				   config_check_topology(n[0], n[1], n[2]));
	c->sockets = n[0];
	c->cores = n[1];
	c->threads = n[2];
	return 0;
}

enum opt_id {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_BOOT,
	OPT_CPUS,
	OPT_TOPOLOGY,
	OPT_PIN_VCPUS,
	OPT_MEMORY,
	OPT_HUGEPAGES,
	OPT_THP,
	OPT_SERIAL,
	OPT_SERIAL2,
	OPT_LOAD_ADDR,
	OPT_ENTRY,
	OPT_ON_RESET,
	OPT_SYNC_TEARDOWN,
	OPT_DEBUG_EXIT,
	OPT_TEST_DEVICE,
	OPT_NO_ACPI,
	OPT_PVPANIC,
	OPT_BOOT_TIMER,
	OPT_VIRTIO_TRANSPORT,
	OPT_DISK,
	OPT_CONSOLE_VIRTIO,
	OPT_RNG,
	OPT_NET,
	OPT_VSOCK,
	OPT_BALLOON,
	OPT_FS,
	OPT_VFIO,
};

static const struct option run_opts[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"boot", required_argument, NULL, OPT_BOOT},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"topology", required_argument, NULL, OPT_TOPOLOGY},
    {"pin-vcpus", required_argument, NULL, OPT_PIN_VCPUS},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"hugepages", no_argument, NULL, OPT_HUGEPAGES},
    {"thp", no_argument, NULL, OPT_THP},
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"serial2", required_argument, NULL, OPT_SERIAL2},
    {"load-addr", required_argument, NULL, OPT_LOAD_ADDR},
    {"entry", required_argument, NULL, OPT_ENTRY},
    {"on-reset", required_argument, NULL, OPT_ON_RESET},
    {"sync-teardown", no_argument, NULL, OPT_SYNC_TEARDOWN},
    {"debug-exit-port", required_argument, NULL, OPT_DEBUG_EXIT},
    {"test-device", no_argument, NULL, OPT_TEST_DEVICE},
    {"no-acpi", no_argument, NULL, OPT_NO_ACPI},
    {"pvpanic", no_argument, NULL, OPT_PVPANIC},
    {"boot-timer", no_argument, NULL, OPT_BOOT_TIMER},
    {"virtio-transport", required_argument, NULL, OPT_VIRTIO_TRANSPORT},
    {"disk", required_argument, NULL, OPT_DISK},
    {"console-virtio", required_argument, NULL, OPT_CONSOLE_VIRTIO},
    {"rng", no_argument, NULL, OPT_RNG},
    {"net", required_argument, NULL, OPT_NET},
    {"vsock", required_argument, NULL, OPT_VSOCK},
    {"balloon", required_argument, NULL, OPT_BALLOON},
    {"fs", required_argument, NULL, OPT_FS},
    {"vfio", required_argument, NULL, OPT_VFIO},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct parse_state {
	bool cpus_set, topo_set, load_set, entry_set;
	unsigned nr_pins; /* entries in --pin-vcpus */
};

static int parse_boot(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "auto") == 0)
		c->boot = BOOT_AUTO;
	else if (strcmp(v, "linux") == 0)
		c->boot = BOOT_LINUX;
	else if (strcmp(v, "pvh") == 0)
		c->boot = BOOT_PVH;
	else
		return config_fail(err, errlen, "--boot: '%s' is not auto, linux or pvh", v);
	return 0;
}

static int parse_memory(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	const char *why;

	if (config_parse_size(v, &c->mem_bytes) < 0)
		return config_fail(err, errlen, "--memory: '%s' is not a size (e.g. 512M, 2G)", v);
	why = config_check_mem(c->mem_bytes, false);
	if (why)
		return config_fail(err, errlen, "--memory: %s %s", v, why);
	return 0;
}

static int parse_addr(const char *flag, const char *v, uint64_t *out, char *err, size_t errlen)
{
	if (config_parse_u64(v, out) < 0)
		return config_fail(err, errlen, "%s: '%s' is not an address", flag, v);
	return 0;
}

static int parse_debug_exit(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	uint64_t port;

	if (strcmp(v, "none") == 0) {
		c->debug_exit_port = 0;
		return 0;
	}
	if (config_parse_u64(v, &port) < 0 || port == 0 || port > 0xfffc)
		return config_fail(err, errlen,
				   "--debug-exit-port: '%s' is not a port 1..0xfffc or none", v);
	c->debug_exit_port = (uint16_t)port;
	return 0;
}

/* One option of --disk after PATH (olen bytes at opt). */
static int parse_disk_opt(struct disk_config *d, const char *opt, size_t olen, char *err,
			  size_t errlen)
{
	if (olen == 2 && strncmp(opt, "ro", 2) == 0)
		d->read_only = true;
	else if (olen == 4 && strncmp(opt, "root", 4) == 0)
		d->is_root = true;
	else if (olen > 3 && strncmp(opt, "id=", 3) == 0 && olen - 3 <= CONFIG_DISK_ID_MAX)
		memcpy(d->id, opt + 3, olen - 3);
	else
		return config_fail(
		    err, errlen,
		    "--disk: option '%.*s' is not ro, root or id=NAME (at most %d bytes)",
		    (int)olen, opt, CONFIG_DISK_ID_MAX);
	return 0;
}

/* --disk PATH[,ro][,id=NAME][,root]: PATH itself may not contain a comma. */
static int parse_disk(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct disk_config d = {0};
	const char *p = strchr(v, ',');
	size_t len = p ? (size_t)(p - v) : strlen(v);
	int other, ret;

	if (len == 0 || len >= sizeof(d.path))
		return config_fail(err, errlen, "--disk: '%s' has no usable path", v);
	memcpy(d.path, v, len);
	while (p && *p == ',') {
		const char *opt = p + 1, *end = strchr(opt, ',');

		ret = parse_disk_opt(&d, opt, end ? (size_t)(end - opt) : strlen(opt), err, errlen);
		if (ret < 0)
			return ret;
		p = end;
	}
	if (d.id[0] && config_disk_find(c, d.id) >= 0)
		return config_fail(err, errlen, "--disk: id '%s' is given twice", d.id);
	ret = config_disk_put(c, &d, &other);
	if (ret == -EEXIST)
		return config_fail(err, errlen, "--disk: only one disk can be the root disk");
	if (ret < 0)
		return config_fail(err, errlen, "--disk: at most %d disks", CONFIG_MAX_DISKS);
	return 0;
}

/* --pin-vcpus C0,C1,...: host CPU numbers (checked against the host when the VM starts). */
static int parse_pins(struct vm_config *c, struct parse_state *st, const char *v, char *err,
		      size_t errlen)
{
	const char *p = v;

	st->nr_pins = 0;
	for (;;) {
		char *end;
		unsigned long cpu;

		if (*p < '0' || *p > '9')
			return config_fail(err, errlen,
					   "--pin-vcpus: '%s' is not a list of CPU numbers", v);
		errno = 0;
		cpu = strtoul(p, &end, 10);
		if (errno || cpu >= CPU_SETSIZE || (*end && *end != ','))
			return config_fail(err, errlen,
					   "--pin-vcpus: '%s' is not a list of CPU numbers "
					   "below %d",
					   v, CPU_SETSIZE);
		if (st->nr_pins == CONFIG_MAX_VCPUS)
			return config_fail(err, errlen, "--pin-vcpus: more than %d CPUs",
					   CONFIG_MAX_VCPUS);
		c->vcpu_pin[st->nr_pins++] = (uint16_t)cpu;
		if (!*end)
			break;
		p = end + 1;
	}
	c->pin_vcpus = true;
	return 0;
}

static int parse_vconsole(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct vconsole_config *vc = &c->vconsole;
	const char *path = NULL;

	if (strcmp(v, "stdio") == 0) {
		vc->mode = VCONSOLE_STDIO;
	} else if (strcmp(v, "none") == 0) {
		vc->mode = VCONSOLE_NONE;
	} else if (strncmp(v, "file:", 5) == 0 && v[5]) {
		vc->mode = VCONSOLE_FILE;
		path = v + 5;
	} else if (strncmp(v, "socket:", 7) == 0 && v[7]) {
		vc->mode = VCONSOLE_SOCKET;
		path = v + 7;
	} else {
		return config_fail(
		    err, errlen,
		    "--console-virtio: '%s' is not stdio, file:PATH, socket:PATH or none", v);
	}
	if (path && strlen(path) >= sizeof(vc->path))
		return config_fail(err, errlen, "--console-virtio: path too long");
	if (path)
		strcpy(vc->path, path);
	return 0;
}

static int parse_virtio_opt(struct vm_config *c, int opt, const char *v, char *err, size_t errlen)
{
	switch (opt) {
	case OPT_DISK:
		return parse_disk(c, v, err, errlen);
	case OPT_CONSOLE_VIRTIO:
		return parse_vconsole(c, v, err, errlen);
	case OPT_NET:
		return config_parse_net(c, v, err, errlen);
	case OPT_VSOCK:
		return config_parse_vsock(c, v, err, errlen);
	case OPT_FS:
		return config_parse_fs(c, v, err, errlen);
	case OPT_VFIO:
		return config_parse_vfio(c, v, err, errlen);
	case OPT_RNG:
		c->rng = true;
		return 0;
	case OPT_BALLOON:
		return config_parse_balloon(c, v, err, errlen);
	default:
		return config_fail(err, errlen, "internal: option %d", opt);
	}
}

/* --virtio-transport mmio|pci (the default) or NAME=mmio|pci (device NAME's own). */
static int parse_transport(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '=');
	const char *t = eq ? eq + 1 : v;
	char name[CONFIG_DEV_NAME_MAX];
	enum virtio_transport tr;

	if (strcmp(t, "mmio") == 0)
		tr = VIRTIO_TRANSPORT_MMIO;
	else if (strcmp(t, "pci") == 0)
		tr = VIRTIO_TRANSPORT_PCI;
	else
		return config_fail(err, errlen, "--virtio-transport: '%s' is not mmio or pci", t);
	if (!eq) {
		c->virtio_transport = tr;
		return 0;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(eq - v), v);
	if ((size_t)(eq - v) >= sizeof(name) || !config_virtio_name_ok(name))
		return config_fail(
		    err, errlen,
		    "--virtio-transport: '%.*s' names no virtio device (blockN, netN, "
		    "fsN, entropy, balloon, vsock, virtio_console)",
		    (int)(eq - v), v);
	if (config_transport_of_put(c, name, tr) < 0)
		return config_fail(err, errlen,
				   "--virtio-transport: at most %d devices of their own",
				   CONFIG_MAX_TRANSPORT_OF);
	return 0;
}

static int parse_one(struct vm_config *c, struct parse_state *st, int opt, const char *v, char *err,
		     size_t errlen)
{
	switch (opt) {
	case OPT_KERNEL:
		if (!*v || config_copy_str(c->kernel_path, sizeof(c->kernel_path), v) < 0)
			return config_fail(err, errlen, "--kernel: empty or too long a path");
		return 0;
	case OPT_INITRD:
		if (!*v || config_copy_str(c->initrd_path, sizeof(c->initrd_path), v) < 0)
			return config_fail(err, errlen, "--initrd: empty or too long a path");
		return 0;
	case OPT_CMDLINE:
		c->cmdline_given = true;
		if (config_copy_str(c->cmdline, sizeof(c->cmdline), v) < 0)
			return config_fail(err, errlen, "--cmdline: longer than %d bytes",
					   CONFIG_CMDLINE_MAX - 1);
		return 0;
	case OPT_BOOT:
		return parse_boot(c, v, err, errlen);
	case OPT_CPUS:
		st->cpus_set = true;
		c->sockets = c->threads = 1;
		if (parse_count(v, &c->cores) < 0)
			return config_fail(err, errlen, "--cpus: '%s' is not a number 1..%d", v,
					   CONFIG_MAX_VCPUS);
		return 0;
	case OPT_TOPOLOGY:
		st->topo_set = true;
		return parse_topology(c, v, err, errlen);
	case OPT_PIN_VCPUS:
		return parse_pins(c, st, v, err, errlen);
	case OPT_MEMORY:
		return parse_memory(c, v, err, errlen);
	case OPT_THP:
		c->thp = true;
		return 0;
	case OPT_SYNC_TEARDOWN:
		c->sync_teardown = true;
		return 0;
	case OPT_HUGEPAGES:
		c->hugepages = true;
		return 0;
	case OPT_SERIAL:
		return parse_serial(&c->com1, "--serial", v, err, errlen);
	case OPT_SERIAL2:
		return parse_serial(&c->com2, "--serial2", v, err, errlen);
	case OPT_LOAD_ADDR:
		st->load_set = true;
		return parse_addr("--load-addr", v, &c->load_addr, err, errlen);
	case OPT_ENTRY:
		st->entry_set = true;
		return parse_addr("--entry", v, &c->entry, err, errlen);
	case OPT_ON_RESET:
		if (strcmp(v, "stop") == 0)
			c->on_reset = RESET_STOP;
		else if (strcmp(v, "restart") == 0)
			c->on_reset = RESET_RESTART;
		else
			return config_fail(err, errlen, "--on-reset: '%s' is not stop or restart",
					   v);
		return 0;
	case OPT_DEBUG_EXIT:
		return parse_debug_exit(c, v, err, errlen);
	case OPT_TEST_DEVICE:
		c->test_device = true;
		return 0;
	case OPT_NO_ACPI:
		c->acpi = false;
		return 0;
	case OPT_BOOT_TIMER:
		c->boot_timer = true;
		return 0;
	case OPT_PVPANIC:
		c->pvpanic = true;
		return 0;
	case OPT_VIRTIO_TRANSPORT:
		return parse_transport(c, v, err, errlen);
	case 'v':
		c->verbosity++;
		return 0;
	default:
		return parse_virtio_opt(c, opt, v, err, errlen);
	}
}

static int check_combination(struct vm_config *c, const struct parse_state *st, char *err,
			     size_t errlen)
{
	if (st->cpus_set && st->topo_set)
		return config_fail(err, errlen, "--cpus and --topology are mutually exclusive");
	if (st->load_set != st->entry_set)
		return config_fail(err, errlen, "--load-addr and --entry go together");
	if (st->load_set) {
		if (c->boot != BOOT_AUTO)
			return config_fail(err, errlen, "--boot does not apply to a raw image");
		c->boot = BOOT_RAW;
	}
	if (!c->kernel_path[0] && (c->initrd_path[0] || st->load_set))
		return config_fail(err, errlen, "%s needs --kernel",
				   c->initrd_path[0] ? "--initrd" : "--load-addr");
	if (c->hugepages && c->thp)
		return config_fail(err, errlen, "--hugepages and --thp are mutually exclusive");
	if (c->hugepages && config_check_mem(c->mem_bytes, true))
		return config_fail(err, errlen,
				   "--memory must be a multiple of 2M with --hugepages");
	if (config_stdio_users(c) > 1)
		return config_fail(
		    err, errlen,
		    "only one of --serial, --serial2 and --console-virtio can use stdio");
	if (config_check_balloon(c))
		return config_fail(err, errlen,
				   "--balloon: amount_mib %u is more than --memory (%llu MiB)",
				   c->balloon.amount_mib, (unsigned long long)(c->mem_bytes >> 20));
	if (config_check_vfio(c))
		return config_fail(err, errlen, "%s", config_check_vfio(c));
	if (c->pin_vcpus && st->nr_pins != config_vcpus(c))
		return config_fail(err, errlen, "--pin-vcpus: %u CPUs given for %u vCPUs",
				   st->nr_pins, config_vcpus(c));
	return 0;
}

int config_parse_run(struct vm_config *c, int argc, char **argv, char *err, size_t errlen)
{
	struct parse_state st = {0};
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", run_opts, NULL)) != -1) {
		if (opt == 'h') {
			config_usage();
			return 1;
		}
		if (opt == '?')
			return config_fail(err, errlen, "unknown option '%s' (see kiln run --help)",
					   argv[optind - 1]);
		if (opt == ':')
			return config_fail(err, errlen, "option '%s' needs a value",
					   argv[optind - 1]);
		ret = parse_one(c, &st, opt, optarg, err, errlen);
		if (ret < 0)
			return ret;
	}
	if (optind < argc)
		return config_fail(err, errlen, "unexpected argument '%s'", argv[optind]);
	return check_combination(c, &st, err, errlen);
}

int config_disk_find(const struct vm_config *c, const char *id)
{
	for (unsigned i = 0; id[0] && i < c->nr_disks; i++)
		if (strcmp(c->disks[i].id, id) == 0)
			return (int)i;
	return -1;
}

static void disk_remove(struct vm_config *c, unsigned i)
{
	memmove(&c->disks[i], &c->disks[i + 1], (c->nr_disks - i - 1) * sizeof(c->disks[0]));
	c->nr_disks--;
}

int config_disk_put(struct vm_config *c, const struct disk_config *d, int *other)
{
	int old = config_disk_find(c, d->id);

	*other = -1;
	if (d->is_root && c->nr_disks && c->disks[0].is_root && old != 0) {
		*other = 0;
		return -EEXIST;
	}
	if (old >= 0 && c->disks[old].is_root == d->is_root) {
		c->disks[old] = *d;
		return 0;
	}
	if (old < 0 && c->nr_disks == CONFIG_MAX_DISKS)
		return -ENOSPC;
	if (old >= 0)
		disk_remove(c, (unsigned)old);
	if (d->is_root) { /* the root disk takes the first slot: it becomes /dev/vda */
		memmove(&c->disks[1], &c->disks[0], c->nr_disks * sizeof(c->disks[0]));
		c->disks[0] = *d;
	} else {
		c->disks[c->nr_disks] = *d;
	}
	c->nr_disks++;
	return 0;
}

int config_check_pinning(const struct vm_config *c, const cpu_set_t *allowed, char *err,
			 size_t errlen)
{
	for (unsigned i = 0; c->pin_vcpus && i < config_vcpus(c); i++) {
		unsigned cpu = c->vcpu_pin[i];

		if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, allowed))
			return config_fail(
			    err, errlen,
			    "vCPU pinning: vCPU %u -> host CPU %u: no such CPU, or not in "
			    "kiln's allowed set (%d CPUs)",
			    i, cpu, CPU_COUNT(allowed));
	}
	return 0;
}

int config_kernel_cmdline(const struct vm_config *c, char *out, size_t len)
{
	const struct disk_config *root = c->nr_disks && c->disks[0].is_root ? &c->disks[0] : NULL;
	int n;

	if (!root)
		n = snprintf(out, len, "%s", c->cmdline);
	else if (root->partuuid[0])
		n = snprintf(out, len, "%s%sroot=PARTUUID=%s %s", c->cmdline,
			     c->cmdline[0] ? " " : "", root->partuuid,
			     root->read_only ? "ro" : "rw");
	else
		n = snprintf(out, len, "%s%sroot=/dev/vda %s", c->cmdline, c->cmdline[0] ? " " : "",
			     root->read_only ? "ro" : "rw");
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

bool config_cmdline_has(const char *cmdline, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = cmdline; n && (p = strstr(p, word)) != NULL; p++) {
		bool starts = p == cmdline || p[-1] == ' ' || p[-1] == '\t';
		bool ends = p[n] == '\0' || p[n] == ' ' || p[n] == '\t';

		if (starts && ends)
			return true;
	}
	return false;
}

/* Open path with flags, as a file of `kinds` (file_open: never blocking), and close it again:
 * 0 or -errno. */
static int try_open(const char *path, int flags, unsigned kinds)
{
	int fd = file_open(path, flags, 0, kinds);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int config_open_boot_files(const struct vm_config *c, char *err, size_t len)
{
	int ret = c->kernel_path[0] ? try_open(c->kernel_path, O_RDONLY, FILE_REG) : 0;

	if (ret < 0) {
		snprintf(err, len, "The kernel file cannot be opened: %s (os error %d)",
			 file_strerror(ret), -ret);
		return ret;
	}
	ret = c->initrd_path[0] ? try_open(c->initrd_path, O_RDONLY, FILE_REG) : 0;
	if (ret < 0)
		snprintf(err, len,
			 "The initrd file cannot be opened due to invalid path or invalid "
			 "permissions. %s (os error %d)",
			 file_strerror(ret), -ret);
	return ret;
}

int config_open_disk_file(const struct disk_config *d, char *err, size_t len)
{
	int ret = try_open(d->path, d->read_only ? O_RDONLY : O_RDWR, FILE_REG | FILE_BLK);

	if (ret < 0)
		snprintf(err, len, "Unable to create the virtio block device: %s: %s (os error %d)",
			 d->path, file_strerror(ret), -ret);
	return ret;
}
