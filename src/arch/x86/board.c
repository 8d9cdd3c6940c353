/* board.c — the x86 machine, assembled in one place and in order. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/board.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/regs.h"
#include "arch/x86/virtio_slots.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/rng.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "devices/acpi_sleep.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "devices/rtc.h"
#include "devices/testdev.h"
#include "devices/uart16550.h"
#include "util/log.h"

/* The embedded demo guest (a PVH ELF), linked in by the build. */
extern const uint8_t kiln_demo_guest_start[];
extern const uint8_t kiln_demo_guest_end[];

struct board {
	struct x86_topology topo;
	struct boot_entry entry;
	struct uart16550 *uart[2];
	int uart_fd[2];		   /* file sinks we opened, -1 otherwise */
	struct uart16550 *console; /* the UART on stdio, if any */
	int console_rx_efd;	   /* eventfd: the console UART has room for input again */
	struct i8042 *i8042;
	struct rtc *rtc;
	struct debug_exit debug_exit;
	struct testdev testdev;
	bool testdev_init;
	struct acpi_sleep acpi_sleep;
	struct pvpanic pvpanic;
	struct virtio_slots virtio; /* devices, their transports, ACPI entries, cmdline tokens */
	uint64_t rsdp_gpa;	    /* 0: no ACPI tables */
};

static int irq_set(void *ctx, uint32_t gsi, int level)
{
	struct vm *vm = ctx;

	return kvm_irq_line(vm->fd, gsi, level);
}

static void on_reset(void *ctx)
{
	vm_request_stop(ctx, VM_STOP_RESET, KILN_EXIT_OK);
}

static void on_poweroff(void *ctx)
{
	log_info("guest powered off (ACPI S5)");
	vm_request_stop(ctx, VM_STOP_POWEROFF, KILN_EXIT_OK);
}

static void on_debug_exit(void *ctx, int status)
{
	vm_request_stop(ctx, VM_STOP_DEBUG_EXIT, status);
}

static void on_pvpanic(void *ctx, uint8_t events)
{
	if (!(events & PVPANIC_PANICKED)) {
		log_info("guest kernel: crash kernel loaded (pvpanic)");
		return;
	}
	/* Reported when the VM has stopped (vmm.c), where kiln sandbox words it itself. */
	vm_request_stop(ctx, VM_STOP_PANIC, KILN_EXIT_GUEST);
}

/* Step 2: the in-kernel platform: TSS, identity map, PIC+IOAPIC+LAPIC, PIT. */
static int platform_create(struct vm *vm)
{
	int ret = kvm_set_tss_addr(vm->fd, LAYOUT_TSS_GPA);

	if (ret == 0)
		ret = kvm_set_identity_map_addr(vm->fd, LAYOUT_IDENTITY_MAP_GPA);
	if (ret == 0)
		ret = kvm_create_irqchip(vm->fd);
	if (ret == 0)
		ret = kvm_create_pit2(vm->fd);
	return ret;
}

/* Step 1: RAM below the MMIO hole (before the irqchip exists, memslot updates are cheap), and the
 * rest above 4 GiB. */
static int memory_create(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	unsigned flags =
	    GUEST_MEM_RAM | (c->hugepages ? GUEST_MEM_HUGEPAGES : 0) | (c->thp ? GUEST_MEM_THP : 0);
	uint64_t low = c->mem_bytes < LAYOUT_RAM_LOW_MAX ? c->mem_bytes : LAYOUT_RAM_LOW_MAX;
	uint64_t need, nfree, psize;
	int ret;

	if (c->hugepages && vm->restore_mem_fd < 0 &&
	    guest_mem_hugepages_check(c->mem_bytes, &need, &nfree, &psize) < 0) {
		log_err("--hugepages: need %llu free %llu KiB huge pages, the pool has %llu "
			"(see /proc/sys/vm/nr_hugepages)",
			(unsigned long long)need, (unsigned long long)(psize >> 10),
			(unsigned long long)nfree);
		return -ENOMEM;
	}
	if (vm->restore_mem_fd >= 0) { /* the memory file: low RAM, then high RAM */
		ret = guest_mem_add_file(&vm->mem, 0, low, vm->restore_mem_fd, 0, flags);
		if (ret == 0 && c->mem_bytes > low)
			ret = guest_mem_add_file(&vm->mem, LAYOUT_RAM_HIGH_GPA, c->mem_bytes - low,
						 vm->restore_mem_fd, low, flags);
	} else {
		ret = guest_mem_add(&vm->mem, 0, low, flags);
		if (ret == 0 && c->mem_bytes > low)
			ret =
			    guest_mem_add(&vm->mem, LAYOUT_RAM_HIGH_GPA, c->mem_bytes - low, flags);
	}
	if (ret < 0)
		log_err("guest memory (%llu MiB): %s", (unsigned long long)(c->mem_bytes >> 20),
			strerror(-ret));
	return ret;
}

static int serial_sink(const struct serial_config *sc, int *opened)
{
	*opened = -1;
	switch (sc->mode) {
	case SERIAL_STDIO:
		return STDOUT_FILENO;
	case SERIAL_NONE:
		return -1;
	case SERIAL_FD:
		return sc->fd;
	case SERIAL_FILE:
		*opened = open(sc->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (*opened < 0)
			log_err("serial file %s: %s", sc->path, strerror(errno));
		return *opened;
	}
	return -1;
}

static void on_rx_space(void *ctx)
{
	struct board *b = ctx;
	uint64_t one = 1;

	if (write(b->console_rx_efd, &one, sizeof(one)) < 0)
		log_debug("console eventfd: %s", strerror(errno));
}

static int uart_add(struct vm *vm, struct board *b, int i)
{
	static const uint16_t port[2] = {LAYOUT_COM1_PORT, LAYOUT_COM2_PORT};
	static const uint32_t irq[2] = {LAYOUT_COM1_IRQ, LAYOUT_COM2_IRQ};
	const struct serial_config *sc = i == 0 ? &vm->cfg->com1 : &vm->cfg->com2;
	struct uart16550_config uc = {
	    .name = i == 0 ? "COM1" : "COM2",
	    .irq = {.set = irq_set, .ctx = vm, .gsi = irq[i]},
	};
	int ret;

	uc.out_fd = serial_sink(sc, &b->uart_fd[i]);
	if (sc->mode == SERIAL_STDIO) {
		b->console_rx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (b->console_rx_efd < 0)
			return -errno;
		uc.rx_space = on_rx_space;
		uc.rx_ctx = b;
	}
	if (sc->mode == SERIAL_FILE && uc.out_fd < 0)
		return -EIO;
	ret = uart16550_create(&uc, &b->uart[i]);
	if (ret == 0)
		ret = io_bus_register(&vm->pio, port[i], UART16550_PORTS, &uart16550_io_ops,
				      b->uart[i]);
	if (ret == 0 && sc->mode == SERIAL_STDIO)
		b->console = b->uart[i];
	return ret;
}

static int testdev_add(struct vm *vm, struct board *b)
{
	int ret;

	testdev_init(&b->testdev);
	b->testdev_init = true;
	ret = io_bus_register(&vm->pio, LAYOUT_TESTDEV_PORT, LAYOUT_TESTDEV_PORTS, &testdev_pio_ops,
			      &b->testdev);
	if (ret == 0)
		ret = io_bus_register(&vm->mmio, LAYOUT_TESTDEV_MMIO_GPA, LAYOUT_TESTDEV_MMIO_LEN,
				      &testdev_mmio_ops, &b->testdev);
	return ret;
}

/* Ports the in-kernel PIC, PIT and ELCR claim before userspace sees them. */
static bool port_in_kernel(uint16_t port)
{
	return port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1 ||
	       (port >= 0x40 && port <= 0x43) || port == 0x61 || port == 0x4d0 || port == 0x4d1;
}

static bool window_in_kernel(uint16_t base, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		if (port_in_kernel((uint16_t)(base + i)))
			return true;
	return false;
}

static int debug_exit_add(struct vm *vm, struct board *b)
{
	uint16_t port = vm->cfg->debug_exit_port;
	int ret;

	if (window_in_kernel(port, DEBUG_EXIT_PORTS)) {
		log_err("--debug-exit-port %#x is owned by the in-kernel PIC/PIT", port);
		return -EINVAL;
	}
	b->debug_exit = (struct debug_exit){.on_exit = on_debug_exit, .ctx = vm};
	ret = io_bus_register(&vm->pio, port, DEBUG_EXIT_PORTS, &debug_exit_io_ops, &b->debug_exit);
	if (ret == -EEXIST) {
		log_err("--debug-exit-port %#x collides with another device", port);
		return -EINVAL; /* a configuration error, not a host one */
	}
	return ret;
}

/* The FADT's sleep control/status registers: S5 powers the VM off. */
static int acpi_sleep_add(struct vm *vm, struct board *b)
{
	b->acpi_sleep =
	    (struct acpi_sleep){.on_poweroff = on_poweroff, .ctx = vm, .rl = LOG_RATELIMIT_INIT};
	return io_bus_register(&vm->pio, LAYOUT_ACPI_SLEEP_PORT, ACPI_SLEEP_PORTS,
			       &acpi_sleep_io_ops, &b->acpi_sleep);
}

/* The pvpanic port (--pvpanic). */
static int pvpanic_add(struct vm *vm, struct board *b)
{
	b->pvpanic = (struct pvpanic){.on_event = on_pvpanic, .ctx = vm};
	return io_bus_register(&vm->pio, LAYOUT_PVPANIC_PORT, PVPANIC_PORTS, &pvpanic_io_ops,
			       &b->pvpanic);
}

/* Step 3: legacy devices on the PIO bus (and the test device). */
static int devices_create(struct vm *vm, struct board *b)
{
	struct i8042_config ic = {.on_reset = on_reset,
				  .ctx = vm,
				  .irq = {.set = irq_set, .ctx = vm, .gsi = LAYOUT_I8042_IRQ}};
	struct rtc_config rc = {0};
	int ret;

	for (int i = 0; i < 2; i++) {
		ret = uart_add(vm, b, i);
		if (ret < 0)
			return ret;
	}
	ret = i8042_create(&ic, &b->i8042);
	if (ret == 0)
		ret = i8042_register(b->i8042, &vm->pio);
	if (ret == 0)
		ret = rtc_create(&rc, &b->rtc);
	if (ret == 0)
		ret = io_bus_register(&vm->pio, LAYOUT_RTC_PORT, 2, &rtc_io_ops, b->rtc);
	if (ret == 0 && vm->cfg->test_device)
		ret = testdev_add(vm, b);
	if (ret == 0 && vm->cfg->acpi)
		ret = acpi_sleep_add(vm, b);
	if (ret == 0 && vm->cfg->pvpanic)
		ret = pvpanic_add(vm, b);
	/* Last, so a collision with any fixed device is reported as the flag's fault. */
	if (ret == 0 && vm->cfg->debug_exit_port)
		ret = debug_exit_add(vm, b);
	return ret;
}

/* Map a whole file read-only; *len set. NULL (and a logged error) on failure. */
static uint8_t *map_file(const char *what, const char *path, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		log_err("%s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		log_err("%s %s: not a non-empty regular file", what, path);
		close(fd);
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_err("%s %s: mmap: %s", what, path, strerror(errno));
		return NULL;
	}
	*len = (size_t)st.st_size;
	return p;
}

/* Step 3b: virtio devices, each in the next slot: disks first (in --disk order), then the
 * console and the entropy device. */
static void console_free(void *dev)
{
	virtio_console_destroy(dev);
}

static void rng_free(void *dev)
{
	virtio_rng_destroy(dev);
}

static void on_console_quit(void *ctx)
{
	vm_request_stop(ctx, VM_STOP_HOST, KILN_EXIT_OK);
}

static int vconsole_add(struct vm *vm, struct board *b)
{
	static const enum chardev_kind kinds[] = {[VCONSOLE_NONE] = CHARDEV_NONE,
						  [VCONSOLE_STDIO] = CHARDEV_STDIO,
						  [VCONSOLE_FILE] = CHARDEV_FILE,
						  [VCONSOLE_SOCKET] = CHARDEV_SOCKET,
						  [VCONSOLE_FD] = CHARDEV_STDIO};
	const struct vconsole_config *vc = &vm->cfg->vconsole;
	bool fd_only = vc->mode == VCONSOLE_FD; /* output only: no input, no escape */
	struct virtio_console_config cc = {.mem = &vm->mem,
					   .loop = vm->loop,
					   .kind = kinds[vc->mode],
					   .path = vc->path,
					   .in_fd = fd_only ? -1 : STDIN_FILENO,
					   .out_fd = fd_only ? vc->fd : STDOUT_FILENO,
					   .escape = !fd_only,
					   .on_quit = on_console_quit,
					   .quit_ctx = vm};
	struct virtio_console *con;
	int ret = virtio_console_create(&cc, &con);

	if (ret < 0) /* the backend has said what was wrong with the path */
		return ret == -EEXIST || ret == -ENOENT || ret == -EACCES ? -EINVAL : ret;
	ret = virtio_slots_add(&b->virtio, vm, &con->vd, console_free, con);
	if (ret < 0)
		virtio_console_destroy(con);
	return ret;
}

static int rng_add(struct vm *vm, struct board *b)
{
	struct virtio_rng_config rc = {.mem = &vm->mem, .loop = vm->loop};
	struct virtio_rng *rng;
	int ret = virtio_rng_create(&rc, &rng);

	if (ret == 0) {
		ret = virtio_slots_add(&b->virtio, vm, &rng->vd, rng_free, rng);
		if (ret < 0)
			virtio_rng_destroy(rng);
	}
	return ret;
}

static int disk_add(struct vm *vm, struct board *b, const struct disk_config *dc)
{
	char serial[BLK_ID_LEN + 1]; /* GET_ID: the id's first 20 bytes */
	struct blk_config bc = {.path = dc->path,
				.read_only = dc->read_only,
				.serial = dc->id[0] ? serial : NULL,
				.force_sync = dc->io_engine == DISK_IO_SYNC,
				.loop = vm->loop,
				.mem = &vm->mem};
	struct blk *blk;
	int ret;

	snprintf(serial, sizeof(serial), "%s", dc->id);
	ret = blk_create(&bc, &blk); /* logs its own one-line error */

	if (ret == 0) {
		ret = virtio_slots_add(&b->virtio, vm, blk_virtio_dev(blk), blk_release, blk);
		if (ret < 0)
			blk_destroy(blk);
	}
	return ret;
}

static int virtio_devices_create(struct vm *vm, struct board *b)
{
	int ret = 0;

	for (unsigned i = 0; i < vm->cfg->nr_disks && ret == 0; i++) {
		ret = disk_add(vm, b, &vm->cfg->disks[i]);
		if (ret == -ENOENT || ret == -EACCES || ret == -EISDIR || ret == -EINVAL)
			return -EINVAL; /* a bad --disk: a configuration error */
	}
	if (ret == 0 && vm->cfg->vconsole.mode != VCONSOLE_NONE)
		ret = vconsole_add(vm, b);
	if (ret == 0 && vm->cfg->rng)
		ret = rng_add(vm, b);
	if (ret < 0 && ret != -EINVAL)
		log_err("virtio devices: %s", strerror(-ret));
	return ret;
}

/* Step 4: the ACPI tables (virtio slots, once there are any, must exist by now). */
static int acpi_tables_write(struct vm *vm, struct board *b)
{
	struct acpi_config ac = {
	    .topo = &b->topo,
	    .virtio = b->virtio.acpi,
	    .nr_virtio = b->virtio.nr,
	    .com = {true, true}, /* both UARTs exist, even when not connected */
	    .rtc = true,
	    .kbd = true,
	    .pvpanic_port = vm->cfg->pvpanic ? LAYOUT_PVPANIC_PORT : 0};
	int ret;

	if (!vm->cfg->acpi)
		return 0;
	ret = acpi_write(&vm->mem, &ac, &b->rsdp_gpa);
	if (ret < 0)
		log_err("ACPI tables: %s", strerror(-ret));
	return ret;
}

/* Whether the guest learns of the virtio devices from command-line tokens: only when it will not
 * read the DSDT, that is without ACPI tables or when the command line turns ACPI off. With ACPI
 * the DSDT describes them, and tokens beside it would name every device twice (Linux then fails
 * to probe the second copy, whose interrupt a hardware-reduced machine never mapped). */
static bool virtio_tokens_wanted(const struct vm_config *c, const char *cmdline)
{
	return !c->acpi || config_cmdline_has(cmdline, "acpi=off");
}

/* The user's command line, root= for a root disk (config_kernel_cmdline), then, where the guest
 * needs them (virtio_tokens_wanted), a virtio_mmio.device= token per device, whatever the boot
 * format. NULL (logged) if too long. */
static char *cmdline_build(const struct vm_config *c, struct board *b)
{
	char *user = malloc(LAYOUT_CMDLINE_MAX), *out = malloc(LAYOUT_CMDLINE_MAX);
	int ret = user && out ? config_kernel_cmdline(c, user, LAYOUT_CMDLINE_MAX) : -ENOMEM;

	if (ret == 0 && virtio_tokens_wanted(c, user))
		ret = virtio_slots_cmdline(&b->virtio, user, out, LAYOUT_CMDLINE_MAX);
	else if (ret == 0)
		ret = config_copy_str(out, LAYOUT_CMDLINE_MAX, user);
	if (ret < 0) {
		log_err("--cmdline: with root= and the virtio device tokens it exceeds %llu bytes",
			(unsigned long long)LAYOUT_CMDLINE_MAX - 1);
		free(out);
		out = NULL;
	}
	free(user);
	return out;
}

/* Step 5: kernel, initrd and command line through the loaders (given the RSDP); boot tables. */
static int kernel_load(struct vm *vm, struct board *b)
{
	const struct vm_config *c = vm->cfg;
	char *cmdline = cmdline_build(vm->cfg, b);
	struct boot_input in = {.cmdline = cmdline,
				.proto = c->boot,
				.load_addr = c->load_addr,
				.entry = c->entry,
				.rsdp_gpa = b->rsdp_gpa};
	uint8_t *kmap = NULL, *imap = NULL;
	char err[256] = "";
	int ret = -EINVAL;

	if (!cmdline)
		return -EINVAL;
	if (c->kernel_path[0]) {
		kmap = map_file("kernel", c->kernel_path, &in.kernel_len);
		if (!kmap)
			goto out;
		in.kernel = kmap;
	} else {
		in.kernel = kiln_demo_guest_start;
		in.kernel_len = (size_t)(kiln_demo_guest_end - kiln_demo_guest_start);
	}
	if (c->initrd_path[0]) {
		imap = map_file("initrd", c->initrd_path, &in.initrd_len);
		if (!imap)
			goto out;
		in.initrd = imap;
	}
	ret = boot_load(&vm->mem, &in, &b->entry, err, sizeof(err));
	if (ret < 0)
		log_err("%s: %s", c->kernel_path[0] ? c->kernel_path : "demo guest", err);
	if (ret == 0)
		ret = x86_boot_tables_write(&vm->mem, b->entry.mode);
out:
	if (kmap)
		munmap(kmap, in.kernel_len);
	if (imap)
		munmap(imap, in.initrd_len);
	free(cmdline);
	return ret;
}

/* Step 7: the BIOS data area word at 0x40e holds the EBDA segment, where the MP table sits. */
static int bda_write(struct vm *vm)
{
	uint16_t ebda_seg = (uint16_t)(LAYOUT_EBDA_GPA >> 4);

	return guest_mem_write(&vm->mem, LAYOUT_BDA_EBDA_PTR_GPA, &ebda_seg, sizeof(ebda_seg));
}

int board_create(struct vm *vm, struct kiln_err *err)
{
	struct board *b = calloc(1, sizeof(*b));
	int ret;

	vm->err = err;
	if (!b)
		return -ENOMEM;
	b->uart_fd[0] = b->uart_fd[1] = -1;
	b->console_rx_efd = -1;
	b->topo = (struct x86_topology){vm->cfg->sockets, vm->cfg->cores, vm->cfg->threads};
	vm->board = b;
	ret = memory_create(vm);
	if (ret == 0)
		ret = platform_create(vm);
	if (ret == 0)
		ret = devices_create(vm, b);
	if (ret == 0)
		ret = virtio_devices_create(vm, b);
	if (ret == 0 && vm->restore_mem_fd >= 0)
		return 0; /* restoring: memory already holds the kernel and tables */
	if (ret == 0)
		ret = acpi_tables_write(vm, b);
	if (ret == 0)
		ret = kernel_load(vm, b);
	/* Step 6: the MP table too, with ACPI or without: the same CPUs and routing, for guests
	 * booted with acpi=off and for the test kit's smp guest. */
	if (ret == 0) {
		ret = mptable_write(&vm->mem, &b->topo);
		if (ret < 0)
			log_err("MP table: %s", strerror(-ret));
	}
	if (ret == 0)
		ret = bda_write(vm);
	return ret;
}

uint32_t board_vcpu_id(struct vm *vm, unsigned index)
{
	return x86_apic_id(&vm->board->topo, index);
}

int board_vcpu_init(struct vm *vm, struct vcpu *v)
{
	struct board *b = vm->board;
	int ret = x86_vcpu_init(vm->kvm, v->fd, &b->topo, v->index);

	if (ret < 0 || vm->restore_mem_fd >= 0) /* restoring: the snapshot has the registers */
		return ret;
	if (v->index == 0)
		return x86_boot_regs_set(v->fd, &b->entry);
	/* Application processors wait in the in-kernel LAPIC for INIT/SIPI. */
	return kvm_set_mp_state(v->fd, KVM_MP_STATE_UNINITIALIZED);
}

size_t board_console_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	struct board *b = vm->board;

	return b && b->console ? uart16550_receive(b->console, buf, len) : len;
}

int board_console_rx_fd(struct vm *vm)
{
	return vm->board ? vm->board->console_rx_efd : -1;
}

int board_ctrl_alt_del(struct vm *vm)
{
	return i8042_ctrl_alt_del(vm->board->i8042);
}

static void uart_stats(struct uart16550 *u, const char *dev, board_stat_fn fn, void *ctx)
{
	struct uart16550_stats s;

	uart16550_get_stats(u, &s);
	fn(ctx, dev, "tx_bytes", s.tx_bytes);
	fn(ctx, dev, "rx_bytes", s.rx_bytes);
	fn(ctx, dev, "overruns", s.overruns);
	fn(ctx, dev, "tx_errors", s.tx_errors);
	fn(ctx, dev, "rx_dropped", s.rx_dropped);
}

static void blk_stats(struct blk *blk, const char *dev, board_stat_fn fn, void *ctx)
{
	struct blk_stats s;

	blk_get_stats(blk, &s);
	fn(ctx, dev, "reads", s.reads);
	fn(ctx, dev, "writes", s.writes);
	fn(ctx, dev, "flushes", s.flushes);
	fn(ctx, dev, "discards", s.discards);
	fn(ctx, dev, "write_zeroes", s.write_zeroes);
	fn(ctx, dev, "get_ids", s.get_ids);
	fn(ctx, dev, "unsupported", s.unsupported);
	fn(ctx, dev, "bytes_read", s.bytes_read);
	fn(ctx, dev, "bytes_written", s.bytes_written);
	fn(ctx, dev, "io_errors", s.io_errors);
	fn(ctx, dev, "bad_requests", s.bad_requests);
	fn(ctx, dev, "no_status", s.no_status);
}

static void console_stats(struct virtio_console *c, const char *dev, board_stat_fn fn, void *ctx)
{
	struct virtio_console_stats s = virtio_console_stats(c);

	fn(ctx, dev, "rx_bytes", s.rx_bytes);
	fn(ctx, dev, "tx_bytes", s.tx_bytes);
	fn(ctx, dev, "emerg_bytes", s.emerg_bytes);
	fn(ctx, dev, "emerg_dropped", s.emerg_dropped);
	fn(ctx, dev, "malformed", s.malformed);
}

static void rng_stats(struct virtio_rng *r, const char *dev, board_stat_fn fn, void *ctx)
{
	struct virtio_rng_stats s = virtio_rng_stats(r);

	fn(ctx, dev, "requests", s.requests);
	fn(ctx, dev, "bytes", s.bytes);
	fn(ctx, dev, "malformed", s.malformed);
	fn(ctx, dev, "starved", s.starved);
}

/* The transport-independent virtio counters of a slot's device. */
static void vdev_stats(struct virtio_dev *vd, const char *dev, board_stat_fn fn, void *ctx)
{
	struct virtio_dev_stats s;

	pthread_mutex_lock(&vd->lock);
	s = vd->stats;
	pthread_mutex_unlock(&vd->lock);
	fn(ctx, dev, "notifies", s.notifies);
	fn(ctx, dev, "interrupts", s.interrupts);
	fn(ctx, dev, "needs_reset", s.needs_reset);
	fn(ctx, dev, "bad_access", s.bad_access);
}

static void slot_stats(struct virtio_slot *sl, unsigned *nr_blk, board_stat_fn fn, void *ctx)
{
	char name[24];

	if (sl->destroy == blk_release) {
		snprintf(name, sizeof(name), "block%u", (*nr_blk)++);
		blk_stats(sl->dev, name, fn, ctx);
	} else if (sl->destroy == console_free) {
		snprintf(name, sizeof(name), "virtio_console");
		console_stats(sl->dev, name, fn, ctx);
	} else if (sl->destroy == rng_free) {
		snprintf(name, sizeof(name), "entropy");
		rng_stats(sl->dev, name, fn, ctx);
	} else {
		return;
	}
	vdev_stats(sl->vd, name, fn, ctx);
}

void board_stats(struct vm *vm, board_stat_fn fn, void *ctx)
{
	struct board *b = vm->board;
	unsigned nr_blk = 0;

	if (!b)
		return;
	for (int i = 0; i < 2; i++)
		if (b->uart[i])
			uart_stats(b->uart[i], i ? "com2" : "com1", fn, ctx);
	if (b->i8042)
		fn(ctx, "i8042", "ignored", i8042_ignored(b->i8042));
	for (unsigned i = 0; i < b->virtio.nr; i++)
		slot_stats(&b->virtio.slot[i], &nr_blk, fn, ctx);
}

/* --- state --- */

typedef void (*save_fn)(void *obj, struct state_buf *b);
typedef int (*load_fn)(void *obj, struct state_buf *b, uint16_t version);

static void uart_save_fn(void *o, struct state_buf *b)
{
	uart16550_save(o, b);
}

static void rtc_save_fn(void *o, struct state_buf *b)
{
	rtc_save(o, b);
}

static void i8042_save_fn(void *o, struct state_buf *b)
{
	i8042_save(o, b);
}

static void testdev_save_fn(void *o, struct state_buf *b)
{
	testdev_save(o, b);
}

static void nothing_save_fn(void *o, struct state_buf *b)
{
	(void)o; /* ACPI sleep registers: nothing is stored; the section records the device */
	(void)b;
}

static int uart_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return uart16550_load(o, b, v);
}

static int rtc_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return rtc_load(o, b, v);
}

static int i8042_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return i8042_load(o, b, v);
}

static int testdev_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return testdev_load(o, b, v);
}

static int nothing_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	(void)o;
	if (v != 1 || state_section_done(b)) {
		log_err("snapshot: acpi_sleep: unknown version or section length");
		return -EINVAL;
	}
	return 0;
}

/* The legacy devices with state: section name, version, object, save and load. */
struct legacy {
	const char *name;
	uint16_t version;
	void *obj;
	save_fn save;
	load_fn load;
};

static unsigned legacy_list(struct vm *vm, struct legacy *l)
{
	struct board *b = vm->board;
	unsigned n = 0;

	l[n++] = (struct legacy){"uart.com1", UART16550_STATE_VERSION, b->uart[0], uart_save_fn,
				 uart_load_fn};
	l[n++] = (struct legacy){"uart.com2", UART16550_STATE_VERSION, b->uart[1], uart_save_fn,
				 uart_load_fn};
	l[n++] =
	    (struct legacy){"i8042", I8042_STATE_VERSION, b->i8042, i8042_save_fn, i8042_load_fn};
	l[n++] = (struct legacy){"rtc", RTC_STATE_VERSION, b->rtc, rtc_save_fn, rtc_load_fn};
	if (vm->cfg->acpi)
		l[n++] = (struct legacy){"acpi_sleep", 1, &b->acpi_sleep, nothing_save_fn,
					 nothing_load_fn};
	if (b->testdev_init)
		l[n++] = (struct legacy){"testdev", TESTDEV_STATE_VERSION, &b->testdev,
					 testdev_save_fn, testdev_load_fn};
	return n;
}

/* The device-specific section of slot i: its name suffix and version. */
static const char *slot_kind(const struct virtio_slot *sl, uint16_t *version)
{
	if (sl->destroy == blk_release) {
		*version = BLK_STATE_VERSION;
		return "blk";
	}
	if (sl->destroy == console_free) {
		*version = VIRTIO_CONSOLE_STATE_VERSION;
		return "console";
	}
	*version = VIRTIO_RNG_STATE_VERSION;
	return "rng";
}

static int slot_dev_save(struct virtio_slot *sl, struct state_buf *b)
{
	if (sl->destroy == blk_release)
		return blk_save(sl->dev, b);
	if (sl->destroy == console_free)
		virtio_console_save(sl->dev, b);
	else
		virtio_rng_save(sl->dev, b);
	return 0;
}

static int slot_dev_load(struct virtio_slot *sl, struct state_buf *b, uint16_t v)
{
	if (sl->destroy == blk_release)
		return blk_load(sl->dev, b, v);
	if (sl->destroy == console_free)
		return virtio_console_load(sl->dev, b, v);
	return virtio_rng_load(sl->dev, b, v);
}

static int slot_save(struct virtio_slot *sl, unsigned i, struct state_buf *b)
{
	char name[STATE_NAME_MAX];
	uint16_t v;
	int ret;

	snprintf(name, sizeof(name), "virtio.%u", i);
	ret = state_begin_section(b, name, VIRTIO_MMIO_STATE_VERSION);
	virtio_mmio_save(sl->transport, b);
	ret = ret ? ret : state_end_section(b);
	snprintf(name, sizeof(name), "virtio.%u.%s", i, slot_kind(sl, &v));
	ret = ret ? ret : state_begin_section(b, name, v);
	ret = ret ? ret : slot_dev_save(sl, b);
	if (ret == 0)
		ret = state_end_section(b);
	return ret;
}

int board_drain(struct vm *vm)
{
	struct board *b = vm->board;
	int ret = 0;

	for (unsigned i = 0; i < b->virtio.nr && ret == 0; i++)
		if (b->virtio.slot[i].destroy == blk_release)
			ret = blk_drain(b->virtio.slot[i].dev, BOARD_DRAIN_MS);
	return ret;
}

int board_save(struct vm *vm, struct state_buf *sb)
{
	struct board *b = vm->board;
	struct legacy l[8];
	unsigned n = legacy_list(vm, l);
	int ret = board_drain(vm);

	for (unsigned i = 0; i < n && ret == 0; i++) {
		ret = state_begin_section(sb, l[i].name, l[i].version);
		l[i].save(l[i].obj, sb);
		ret = ret ? ret : state_end_section(sb);
	}
	for (unsigned i = 0; i < b->virtio.nr && ret == 0; i++)
		ret = slot_save(&b->virtio.slot[i], i, sb);
	return ret;
}

/* Select section `name`; -EINVAL (logged) if the snapshot lacks it. */
static int need(struct state_buf *sb, const char *name, uint16_t *v)
{
	if (state_section(sb, name, v) == 0)
		return 0;
	log_err("snapshot: section '%s' is missing (saved from another machine?)", name);
	return -EINVAL;
}

static int slot_load(struct virtio_slot *sl, unsigned i, struct state_buf *b)
{
	char name[STATE_NAME_MAX];
	uint16_t v;
	int ret;

	snprintf(name, sizeof(name), "virtio.%u", i);
	ret = need(b, name, &v);
	ret = ret ? ret : virtio_mmio_load(sl->transport, b, v, name);
	snprintf(name, sizeof(name), "virtio.%u.%s", i, slot_kind(sl, &v));
	ret = ret ? ret : need(b, name, &v);
	return ret ? ret : slot_dev_load(sl, b, v);
}

int board_load(struct vm *vm, struct state_buf *sb)
{
	struct board *b = vm->board;
	struct legacy l[8];
	unsigned n = legacy_list(vm, l);
	uint16_t v;
	int ret = 0;

	for (unsigned i = 0; i < n && ret == 0; i++) {
		ret = need(sb, l[i].name, &v);
		ret = ret ? ret : l[i].load(l[i].obj, sb, v);
	}
	for (unsigned i = 0; i < b->virtio.nr && ret == 0; i++)
		ret = slot_load(&b->virtio.slot[i], i, sb);
	return ret;
}

void board_restored(struct vm *vm)
{
	struct board *b = vm->board;

	for (unsigned i = 0; i < b->virtio.nr; i++) {
		struct virtio_dev *vd = b->virtio.slot[i].vd;

		pthread_mutex_lock(&vd->lock);
		virtio_dev_restored(vd);
		pthread_mutex_unlock(&vd->lock);
	}
}

void board_destroy(struct vm *vm)
{
	struct board *b = vm->board;

	if (!b)
		return;
	virtio_slots_destroy(&b->virtio);
	for (int i = 0; i < 2; i++) {
		if (b->uart[i])
			uart16550_destroy(b->uart[i]);
		if (b->uart_fd[i] >= 0)
			close(b->uart_fd[i]);
	}
	if (b->console_rx_efd >= 0)
		close(b->console_rx_efd);
	if (b->i8042)
		i8042_destroy(b->i8042);
	if (b->rtc)
		rtc_destroy(b->rtc);
	if (b->testdev_init)
		pthread_mutex_destroy(&b->testdev.lock);
	free(b);
	vm->board = NULL;
}
