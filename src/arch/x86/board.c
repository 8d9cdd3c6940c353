/* board.c — the x86 machine's assembly: memory, the in-kernel platform, the fixed PC devices (one
 * table), the virtio devices (virtio_devices_add), ACPI and MP tables and the kernel. The state
 * and counters of every device are walked through vm->devices (core/board_state.c); the x86
 * platform's and vCPUs' own state is in board_state.c beside this file. */
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
#include "arch/x86/board_priv.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/regs.h"
#include "virtio/slots.h"
#include "core/board.h"
#include "core/board_util.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "devices/acpi_sleep.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "devices/rtc.h"
#include "devices/testdev.h"
#include "devices/uart16550.h"
#include "util/err.h"
#include "util/log.h"
#include "virtio/devices.h"
#include "pci/vfio_pci.h"
#include "virtio/virtio_pci.h"
#include "util/file.h"

static const uint32_t virtio_gsis[LAYOUT_VIRTIO_SLOTS] = LAYOUT_VIRTIO_GSIS;

/* Whether the board has a PCI bus: for virtio-pci or for passthrough devices. */
static bool pci_wanted(const struct vm_config *c)
{
	return config_virtio_pci_used(c) || c->nr_vfio > 0;
}

/* The embedded demo guest (a PVH ELF), linked in by the build. */
extern const uint8_t kiln_demo_guest_start[];
extern const uint8_t kiln_demo_guest_end[];

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

/* The guest decides how often it writes the port: its log line is rate-limited. */
static struct log_ratelimit pvpanic_rl = LOG_RATELIMIT_INIT;

static void on_pvpanic(void *ctx, uint8_t events)
{
	if (!(events & PVPANIC_PANICKED)) {
		log_info_ratelimited(&pvpanic_rl, "guest kernel: crash kernel loaded (pvpanic)");
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
	uint64_t size = vm->cfg->mem_bytes;
	uint64_t low = size < LAYOUT_RAM_LOW_MAX ? size : LAYOUT_RAM_LOW_MAX;
	int ret = board_ram_check(vm);

	if (ret == 0)
		ret = board_ram_add(vm, 0, low, 0);
	if (ret == 0 && size > low) /* in the memory file, high RAM follows low RAM */
		ret = board_ram_add(vm, LAYOUT_RAM_HIGH_GPA, size - low, low);
	return ret;
}

/* Register a device the board created in vm->devices; on failure the caller still owns it. */
static int join(struct vm *vm, const struct device_ops *ops, void *obj, const char *name,
		const char *section, uint16_t version, uint16_t min_version)
{
	return device_list_add_ops(&vm->devices, ops, obj, name, section, version, min_version);
}

static int uart_add(struct vm *vm, struct board *b, unsigned i)
{
	static const uint16_t port[2] = {LAYOUT_COM1_PORT, LAYOUT_COM2_PORT};
	static const uint32_t irq[2] = {LAYOUT_COM1_IRQ, LAYOUT_COM2_IRQ};
	struct board_uart_place p = {.bus = &vm->pio,
				     .base = port[i],
				     .irq = {.set = irq_set, .ctx = vm, .gsi = irq[i]},
				     .label = i ? "COM2" : "COM1"};

	return board_uart_add(vm, &b->uarts, i, &p);
}

static int com1_add(struct vm *vm, struct board *b)
{
	return uart_add(vm, b, 0);
}

static int com2_add(struct vm *vm, struct board *b)
{
	return uart_add(vm, b, 1);
}

static int i8042_add(struct vm *vm, struct board *b)
{
	struct i8042_config ic = {.on_reset = on_reset,
				  .ctx = vm,
				  .irq = {.set = irq_set, .ctx = vm, .gsi = LAYOUT_I8042_IRQ}};
	struct i8042 *d;
	int ret = i8042_create(&ic, &d);

	if (ret < 0)
		return ret;
	ret = join(vm, &i8042_device_ops, d, "i8042", "i8042", I8042_STATE_VERSION,
		   I8042_STATE_MIN_VERSION);
	if (ret < 0) {
		i8042_destroy(d);
		return ret;
	}
	b->i8042 = d;
	return i8042_register(d, &vm->pio);
}

static int rtc_add(struct vm *vm, struct board *b)
{
	struct rtc_config rc = {0};
	struct rtc *r;
	int ret = rtc_create(&rc, &r);

	(void)b;
	if (ret < 0)
		return ret;
	ret = join(vm, &rtc_device_ops, r, "rtc", "rtc", RTC_STATE_VERSION, RTC_STATE_MIN_VERSION);
	if (ret < 0) {
		rtc_destroy(r);
		return ret;
	}
	return io_bus_register(&vm->pio, LAYOUT_RTC_PORT, 2, &rtc_io_ops, r);
}

/* The windows registered below are the device's arrays: a change to one side must not leave the
 * bus passing offsets the arrays do not have (the handlers refuse them too). */
_Static_assert(LAYOUT_TESTDEV_PORTS == TESTDEV_PIO_LEN, "test device ports: the array's size");
_Static_assert(LAYOUT_TESTDEV_MMIO_LEN == TESTDEV_MMIO_LEN, "test device MMIO: the array's size");

static int testdev_add(struct vm *vm, struct board *b)
{
	int ret;

	if (!vm->cfg->test_device)
		return 0;
	testdev_init(&b->testdev);
	ret = join(vm, &testdev_device_ops, &b->testdev, "testdev", "testdev",
		   TESTDEV_STATE_VERSION, TESTDEV_STATE_MIN_VERSION);
	if (ret < 0) {
		testdev_destroy(&b->testdev);
		return ret;
	}
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

	if (!port)
		return 0;
	if (window_in_kernel(port, DEBUG_EXIT_PORTS)) {
		return err_set(vm->err, -EINVAL,
			       "--debug-exit-port %#x is owned by the in-kernel PIC/PIT", port);
	}
	b->debug_exit = (struct debug_exit){.on_exit = on_debug_exit, .ctx = vm};
	ret = join(vm, &debug_exit_device_ops, &b->debug_exit, "debug_exit", NULL, 0, 0);
	if (ret == 0)
		ret = io_bus_register(&vm->pio, port, DEBUG_EXIT_PORTS, &debug_exit_io_ops,
				      &b->debug_exit);
	if (ret == -EEXIST) {
		/* a configuration error, not a host one */
		return err_set(vm->err, -EINVAL,
			       "--debug-exit-port %#x collides with another device", port);
	}
	return ret;
}

/* The FADT's sleep control/status registers (with ACPI): S5 powers the VM off. */
static int acpi_sleep_add(struct vm *vm, struct board *b)
{
	int ret;

	if (!vm->cfg->acpi)
		return 0;
	b->acpi_sleep =
	    (struct acpi_sleep){.on_poweroff = on_poweroff, .ctx = vm, .rl = LOG_RATELIMIT_INIT};
	ret = join(vm, &acpi_sleep_device_ops, &b->acpi_sleep, "acpi_sleep", "acpi_sleep",
		   ACPI_SLEEP_STATE_VERSION, ACPI_SLEEP_STATE_VERSION);
	return ret ? ret
		   : io_bus_register(&vm->pio, LAYOUT_ACPI_SLEEP_PORT, ACPI_SLEEP_PORTS,
				     &acpi_sleep_io_ops, &b->acpi_sleep);
}

/* The pvpanic port (--pvpanic). */
static int pvpanic_add(struct vm *vm, struct board *b)
{
	int ret;

	if (!vm->cfg->pvpanic)
		return 0;
	b->pvpanic = (struct pvpanic){.on_event = on_pvpanic, .ctx = vm};
	ret = join(vm, &pvpanic_device_ops, &b->pvpanic, "pvpanic", NULL, 0, 0);
	return ret ? ret
		   : io_bus_register(&vm->pio, LAYOUT_PVPANIC_PORT, PVPANIC_PORTS, &pvpanic_io_ops,
				     &b->pvpanic);
}

/* Firecracker's boot timer (--boot-timer): the clock starts as the machine is built. */
static int boot_timer_add(struct vm *vm, struct board *b)
{
	int ret;

	if (!vm->cfg->boot_timer)
		return 0;
	boot_timer_init(&b->boot_timer);
	ret = join(vm, &boot_timer_device_ops, &b->boot_timer, "boot_timer", NULL, 0, 0);
	return ret ? ret
		   : io_bus_register(&vm->mmio, LAYOUT_BOOT_TIMER_GPA, BOOT_TIMER_LEN,
				     &boot_timer_io_ops, &b->boot_timer);
}

/* Step 3: the PC's fixed devices, in this order (each checks whether the configuration wants
 * it). debug-exit is last, so a collision with any fixed device is reported as the flag's fault.
 * A new fixed device is one line here. */
static int (*const fixed_devices[])(struct vm *vm, struct board *b) = {
    com1_add,	    com2_add,	 i8042_add,	 rtc_add,	 testdev_add,
    acpi_sleep_add, pvpanic_add, boot_timer_add, debug_exit_add,
};

/* Step 3a': with --virtio-transport pci or --vfio, bus 0 behind a host bridge: its configuration
 * space both through ECAM (MCFG; the 4 KiB of each function, for guests with MMCONFIG) and
 * through configuration mechanism #1 at 0xcf8 (the first 256 bytes, for guests without, such as
 * the project's kernel), the 32-bit window for the BARs, and the routing table the functions' MSI
 * and MSI-X vectors join. */
static int pci_create(struct vm *vm, struct board *b)
{
	const uint64_t base[PCI_NR_WINDOWS] = {LAYOUT_PCI_MEM32_GPA, 0, 0};
	const uint64_t len[PCI_NR_WINDOWS] = {LAYOUT_PCI_MEM32_SIZE, 0, 0};
	int ret;

	if (!pci_wanted(vm->cfg))
		return 0;
	ret = board_pci_bus_new(&b->pci, base, len);
	if (ret < 0)
		return ret;
	ret = irq_routes_init(&b->routes, vm->fd, 0);
	if (ret < 0)
		return ret;
	ret = io_bus_register(&vm->pio, PCI_CF8_PORT, 8, &pci_cf8_io_ops, b->pci);
	if (ret == 0)
		ret = io_bus_register(&vm->mmio, LAYOUT_PCI_ECAM_GPA, PCI_ECAM_BUS_SIZE,
				      &pci_ecam_io_ops, b->pci);
	if (ret == 0)
		ret = io_bus_register(&vm->mmio, LAYOUT_PCI_MEM32_GPA, LAYOUT_PCI_MEM32_SIZE,
				      &pci_mem_io_ops, &b->pci->win[PCI_WIN_MEM32]);
	return ret;
}

static int devices_create(struct vm *vm, struct board *b)
{
	int ret = 0;

	for (unsigned i = 0; i < sizeof(fixed_devices) / sizeof(fixed_devices[0]) && ret == 0; i++)
		ret = fixed_devices[i](vm, b);
	return ret;
}

/* Step 4: the ACPI tables (virtio slots, once there are any, must exist by now). */
static int acpi_tables_write(struct vm *vm, struct board *b)
{
	struct acpi_config ac = {
	    .topo = &b->topo,
	    .virtio = b->virtio.slot,
	    .nr_virtio = b->virtio.nr,
	    .com = {true, true}, /* both UARTs exist, even when not connected */
	    .rtc = true,
	    .kbd = true,
	    .pvpanic_port = vm->cfg->pvpanic ? LAYOUT_PVPANIC_PORT : 0,
	    .pci_mem_base = b->pci ? (uint32_t)LAYOUT_PCI_MEM32_GPA : 0,
	    .pci_mem_len = b->pci ? (uint32_t)LAYOUT_PCI_MEM32_SIZE : 0,
	    .pci_intx_gsi = LAYOUT_PCI_INTX_GSIS,
	    .pci_ecam_base = b->pci ? (uint32_t)LAYOUT_PCI_ECAM_GPA : 0};
	int ret;

	if (!vm->cfg->acpi)
		return 0;
	ret = acpi_write(&vm->mem, &ac, &b->rsdp_gpa);
	if (ret < 0)
		err_set(vm->err, ret, "ACPI tables: %s", strerror(-ret));
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
static char *cmdline_build(const struct vm_config *c, struct board *b, struct kiln_err *err)
{
	char *user = malloc(LAYOUT_CMDLINE_MAX), *out = malloc(LAYOUT_CMDLINE_MAX);
	int ret = user && out ? config_kernel_cmdline(c, user, LAYOUT_CMDLINE_MAX) : -ENOMEM;

	if (ret == 0 && virtio_tokens_wanted(c, user))
		ret = virtio_slots_cmdline(&b->virtio, user, out, LAYOUT_CMDLINE_MAX);
	else if (ret == 0)
		ret = config_copy_str(out, LAYOUT_CMDLINE_MAX, user);
	if (ret < 0) {
		err_set(err, -EINVAL,
			"--cmdline: with root= and the virtio device tokens it exceeds %llu bytes",
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
	char *cmdline = cmdline_build(vm->cfg, b, vm->err);
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
		kmap = board_map_file("kernel", c->kernel_path, &in.kernel_len, vm->err);
		if (!kmap)
			goto out;
		in.kernel = kmap;
	} else {
		in.kernel = kiln_demo_guest_start;
		in.kernel_len = (size_t)(kiln_demo_guest_end - kiln_demo_guest_start);
	}
	if (c->initrd_path[0]) {
		imap = board_map_file("initrd", c->initrd_path, &in.initrd_len, vm->err);
		if (!imap)
			goto out;
		in.initrd = imap;
	}
	ret = boot_load(&vm->mem, &in, &b->entry, err, sizeof(err));
	if (ret < 0)
		err_set(vm->err, ret, "%s: %s", c->kernel_path[0] ? c->kernel_path : "demo guest",
			err);
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

/* Step 3c: --vfio's devices on the bus, after the virtio functions: the VM's container with all
 * guest RAM mapped for DMA, then each device. */
static int vfio_devices_add(struct vm *vm, struct board *b)
{
	const struct vm_config *c = vm->cfg;
	char err[256] = "";
	int ret;

	if (!c->nr_vfio)
		return 0;
	ret = vfio_container_open(&b->vfio, vm->fd);
	if (ret < 0)
		return err_set(vm->err, ret, "--vfio: /dev/vfio/vfio: %s%s", strerror(-ret),
			       ret == -ENOENT ? " (load the vfio-pci module)" : "");
	for (unsigned i = 0; i < c->nr_vfio && ret == 0; i++) {
		struct vfio_pci_config vc = {.bus = b->pci,
					     .container = &b->vfio,
					     .vm_fd = vm->fd,
					     .routes = &b->routes,
					     .memslot_base =
						 LAYOUT_VFIO_MEMSLOT + i * VFIO_PCI_MAX_PIECES,
					     .intx_gsi = LAYOUT_PCI_INTX_GSIS,
					     .sysfs = c->vfio[i].path,
					     .name = c->vfio[i].id};

		ret = vfio_pci_attach(vm, &vc, c->vfio[i].id);
		/* the first group sets the container's IOMMU: RAM can be mapped only after it */
		if (ret == 0 && i == 0) {
			ret = vfio_pci_map_ram(&b->vfio, &vm->mem, err, sizeof(err));
			if (ret < 0)
				err_set(vm->err, ret, "%s", err);
		}
	}
	return ret;
}

int board_create(struct vm *vm)
{
	struct board *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return -ENOMEM;
	board_uarts_init(&b->uarts);
	b->topo = (struct x86_topology){vm->cfg->sockets, vm->cfg->cores, vm->cfg->threads};
	b->vfio.fd = b->vfio.kvm_dev_fd = -1;
	virtio_slots_init(&b->virtio, LAYOUT_VIRTIO_MMIO_GPA, LAYOUT_VIRTIO_SLOT_SIZE, virtio_gsis,
			  pci_wanted(vm->cfg) ? LAYOUT_VIRTIO_SLOTS_PCI : LAYOUT_VIRTIO_SLOTS);
	vm->board = b;
	ret = memory_create(vm);
	if (ret == 0)
		ret = platform_create(vm);
	if (ret == 0)
		ret = devices_create(vm, b);
	if (ret == 0)
		ret = pci_create(vm, b);
	if (ret == 0) /* step 3b: each in the next slot or on the bus (board_add_virtio) */
		ret = virtio_devices_add(vm);
	if (ret == 0)
		ret = vfio_devices_add(vm, b);
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
			err_set(vm->err, ret, "MP table: %s", strerror(-ret));
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
	int ret = x86_vcpu_init(vm->kvm, v->fd, &b->topo, v->index, vm->err);

	if (ret < 0 || vm->restore_mem_fd >= 0) /* restoring: the snapshot has the registers */
		return ret;
	if (v->index == 0)
		return x86_boot_regs_set(v->fd, &b->entry);
	/* Application processors wait in the in-kernel LAPIC for INIT/SIPI. */
	return kvm_set_mp_state(v->fd, KVM_MP_STATE_UNINITIALIZED);
}

int board_vcpus_created(struct vm *vm)
{
	(void)vm; /* the in-kernel irqchip was complete before the vCPUs */
	return 0;
}

int board_vcpu_pc(struct vm *vm, struct vcpu *v, uint64_t *pc)
{
	struct kvm_regs regs;
	int ret = kvm_get_regs(v->fd, &regs);

	(void)vm;
	if (ret == 0)
		*pc = regs.rip;
	return ret;
}

size_t board_console_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	return vm->board ? board_uarts_input(&vm->board->uarts, buf, len) : len;
}

int board_console_rx_fd(struct vm *vm)
{
	return vm->board ? vm->board->uarts.console_rx_efd : -1;
}

int board_ctrl_alt_del(struct vm *vm)
{
	return vm->board && vm->board->i8042 ? i8042_ctrl_alt_del(vm->board->i8042) : -ENOTSUP;
}

int board_add_virtio(struct vm *vm, struct virtio_dev *vd, const char *name)
{
	struct board *b = vm->board;

	return board_virtio_place(vm, &b->virtio, b->pci, &b->routes, &b->nr_pci, vd, name);
}

void board_destroy(struct vm *vm)
{
	struct board *b = vm->board;

	device_list_destroy(&vm->devices); /* every device, the board's own included */
	if (!b)
		return;
	board_uarts_close(&b->uarts);
	vfio_container_close(&b->vfio); /* after its devices, which went with the list */
	if (b->pci) {			/* its functions went with the device list */
		irq_routes_destroy(&b->routes);
		pci_bus_destroy(b->pci);
		free(b->pci);
	}
	free(b);
	vm->board = NULL;
}
