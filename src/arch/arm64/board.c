/* board.c — the arm64 machine's assembly: DRAM from 1 GiB, the in-kernel GICv3, two 16550A UARTs
 * and a PL031 RTC on MMIO, the virtio devices (virtio_devices_add) in the virtio-mmio slots or,
 * with --virtio-transport pci, on a PCIe host bridge (ECAM) whose MSI-X vectors reach the GIC
 * through an ITS, the kernel through the Image loader and a device tree describing all of it. RAM
 * comes last, once the vCPUs exist (board_vcpus_created). Device state and counters are walked
 * through vm->devices (core/board_state.c); the vCPUs' own state is in board_state.c beside this
 * file. The memory map is layout.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libfdt.h>

#include "arch/arm64/board_priv.h"
#include "arch/arm64/fdt.h"
#include "core/board.h"
#include "core/board_util.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "devices/pl031.h"
#include "devices/uart16550.h"
#include "util/err.h"
#include "util/log.h"
#include "virtio/devices.h"
#include "virtio/virtio_pci.h"

#define CMDLINE_MAX 4096 /* what arm64 Linux reads of /chosen/bootargs (COMMAND_LINE_SIZE) */

/* Drive SPI `gsi` (a level, from the UARTs and the RTC). */
static int irq_set(void *ctx, uint32_t gsi, int level)
{
	struct vm *vm = ctx;

	return kvm_irq_line(vm->fd, arm64_irq_line_spi(gsi), level);
}

/* Step 1: DRAM, one region from ARM64_DRAM_GPA. */
static int memory_create(struct vm *vm)
{
	uint64_t size = vm->cfg->mem_bytes;
	int ret;

	if (size > ARM64_DRAM_MAX)
		return err_set(
		    vm->err, -EINVAL, "--memory %llu MiB: the arm64 board holds at most %llu GiB",
		    (unsigned long long)(size >> 20), (unsigned long long)(ARM64_DRAM_MAX >> 30));
	ret = board_ram_check(vm);
	return ret ? ret : board_ram_add(vm, ARM64_DRAM_GPA, size, 0);
}

static bool pci_wanted(const struct vm *vm)
{
	return config_virtio_pci_used(vm->cfg);
}

/* Step 2: the GICv3 (initialised once the vCPUs exist), with PCI its ITS, and the vCPU target. */
static int platform_create(struct vm *vm, struct board *b)
{
	int ret = kvm_arm_preferred_target(vm->fd, &b->target);

	if (ret == 0)
		ret = arm64_gic_create(vm->fd, vm->nr_vcpus, &b->gic_fd);
	if (ret == -EINVAL && vm->nr_vcpus > ARM64_MAX_VCPUS)
		return err_set(vm->err, ret, "%u vCPUs: the arm64 board's GIC holds at most %llu",
			       vm->nr_vcpus, (unsigned long long)ARM64_MAX_VCPUS);
	if (ret < 0)
		return err_set(vm->err, ret, "GICv3: %s (does this host's KVM offer a vGICv3?)",
			       strerror(-ret));
	if (!pci_wanted(vm))
		return 0;
	ret = arm64_its_create(vm->fd, &b->its_fd);
	if (ret < 0)
		err_set(vm->err, ret,
			"--virtio-transport pci: the GICv3 ITS: %s (does this host's KVM offer a "
			"vITS?)",
			strerror(-ret));
	return ret;
}

static int uart_add(struct vm *vm, struct board *b, unsigned i)
{
	static const uint64_t base[2] = {ARM64_UART0_GPA, ARM64_UART1_GPA};
	static const uint32_t spi[2] = {ARM64_SPI_UART0, ARM64_SPI_UART1};
	struct board_uart_place p = {.bus = &vm->mmio,
				     .base = base[i],
				     .irq = {.set = irq_set, .ctx = vm, .gsi = spi[i]},
				     .label = i ? "UART1" : "UART0"};

	return board_uart_add(vm, &b->uarts, i, &p);
}

static int rtc_add(struct vm *vm)
{
	struct pl031_config rc = {.irq = {.set = irq_set, .ctx = vm, .gsi = ARM64_SPI_RTC}};
	struct pl031 *r;
	int ret = pl031_create(&rc, &r);

	if (ret < 0)
		return ret;
	ret = device_list_add_ops(&vm->devices, &pl031_device_ops, r, "rtc", "pl031",
				  PL031_STATE_VERSION, PL031_STATE_VERSION);
	if (ret < 0) {
		pl031_destroy(r);
		return ret;
	}
	return io_bus_register(&vm->mmio, ARM64_RTC_GPA, PL031_SIZE, &pl031_io_ops, r);
}

/* Step 3': with PCI, bus 0 behind a host bridge: its ECAM and 32-bit BAR window on the MMIO bus,
 * and the routing table (the SPIs' default routes, then the MSI-X vectors', each with its
 * function's requester ID as the ITS wants). */
static int pci_create(struct vm *vm, struct board *b)
{
	const uint64_t base[PCI_NR_WINDOWS] = {ARM64_PCI_MEM32_GPA, 0, 0};
	const uint64_t len[PCI_NR_WINDOWS] = {ARM64_PCI_MEM32_SIZE, 0, 0};
	int ret;

	if (!pci_wanted(vm))
		return 0;
	ret = board_pci_bus_new(&b->pci, base, len);
	if (ret < 0)
		return ret;
	ret = irq_routes_init(&b->routes, vm->fd, ARM64_NR_IRQS - 32);
	if (ret < 0)
		return ret;
	irq_routes_require_devid(&b->routes);
	ret = io_bus_register(&vm->mmio, ARM64_PCI_ECAM_GPA, ARM64_PCI_ECAM_SIZE, &pci_ecam_io_ops,
			      b->pci);
	if (ret == 0)
		ret = io_bus_register(&vm->mmio, ARM64_PCI_MEM32_GPA, ARM64_PCI_MEM32_SIZE,
				      &pci_mem_io_ops, &b->pci->win[PCI_WIN_MEM32]);
	return ret;
}

/* Step 3: the fixed devices: both UARTs (they exist even when not connected) and the RTC; then
 * the PCI bus if the configuration asks for one. */
static int devices_create(struct vm *vm, struct board *b)
{
	int ret = uart_add(vm, b, 0);

	if (ret == 0)
		ret = uart_add(vm, b, 1);
	if (ret == 0)
		ret = rtc_add(vm);
	if (ret == 0)
		ret = pci_create(vm, b);
	return ret;
}

/* The machine as the device tree describes it. */
static void fdt_desc(struct vm *vm, const struct board *b, const char *cmdline,
		     struct arm64_fdt_desc *d)
{
	*d = (struct arm64_fdt_desc){
	    .mem_base = ARM64_DRAM_GPA,
	    .mem_size = vm->cfg->mem_bytes,
	    .nr_cpus = vm->nr_vcpus,
	    .mpidr = b->mpidr,
	    .sockets = b->topo.sockets,
	    .cores = b->topo.cores,
	    .threads = b->topo.threads,
	    .gicd_base = ARM64_GICD_GPA,
	    .gicd_size = ARM64_GICD_SIZE,
	    .gicr_base = ARM64_GICR_GPA,
	    .gicr_size = ARM64_GICR_STRIDE * vm->nr_vcpus,
	    .uart = {{ARM64_UART0_GPA, ARM64_UART_SIZE, ARM64_SPI_UART0},
		     {ARM64_UART1_GPA, ARM64_UART_SIZE, ARM64_SPI_UART1}},
	    .nr_uart = 2,
	    .stdout_uart = vm->cfg->com1.mode != SERIAL_NONE   ? 0
			   : vm->cfg->com2.mode != SERIAL_NONE ? 1
							       : -1,
	    .rtc = true,
	    .rtc_dev = {ARM64_RTC_GPA, ARM64_RTC_SIZE, ARM64_SPI_RTC},
	    .virtio = b->virtio.slot,
	    .nr_virtio = b->virtio.nr,
	    .its = b->its_fd >= 0,
	    .its_base = ARM64_ITS_GPA,
	    .its_size = ARM64_ITS_SIZE,
	    .pci = b->pci != NULL,
	    .ecam_base = ARM64_PCI_ECAM_GPA,
	    .ecam_size = ARM64_PCI_ECAM_SIZE,
	    .pci_mem32_base = ARM64_PCI_MEM32_GPA,
	    .pci_mem32_size = ARM64_PCI_MEM32_SIZE,
	    .bootargs = cmdline,
	    .initrd_start = b->boot.initrd_start,
	    .initrd_end = b->boot.initrd_end,
	};
}

/* Step 5b: build the device tree and put it where the loader kept room for it. */
static int fdt_write(struct vm *vm, struct board *b, const char *cmdline)
{
	struct arm64_fdt_desc d;
	void *buf = calloc(1, ARM64_FDT_MAX);
	int ret = buf ? 0 : -ENOMEM;

	fdt_desc(vm, b, cmdline, &d);
	if (ret == 0)
		ret = arm64_fdt_build(&d, buf, ARM64_FDT_MAX);
	if (ret == 0)
		ret = guest_mem_write(&vm->mem, b->boot.fdt_gpa, buf, fdt_totalsize(buf));
	if (ret < 0)
		err_set(vm->err, ret, "device tree: %s", strerror(-ret));
	free(buf);
	return ret;
}

/* The kernel and initrd files (or the refusal of a boot format arm64 does not have). */
static int kernel_inputs(struct vm *vm, struct arm64_boot_input *in)
{
	const struct vm_config *c = vm->cfg;

	if (c->boot == BOOT_LINUX || c->boot == BOOT_PVH)
		return err_set(vm->err, -EINVAL,
			       "--boot %s is an x86 boot protocol; on arm64 boot an Image (the "
			       "default) or --boot raw",
			       c->boot == BOOT_LINUX ? "linux" : "pvh");
	if (!c->kernel_path[0])
		return err_set(vm->err, -EINVAL,
			       "no --kernel: kiln on arm64 has no built-in demo guest");
	*in = (struct arm64_boot_input){.raw = c->boot == BOOT_RAW,
					.load_addr = c->load_addr,
					.entry = c->entry,
					.dram_base = ARM64_DRAM_GPA,
					.dram_size = c->mem_bytes,
					.fdt_max = ARM64_FDT_MAX};
	in->kernel = board_map_file("kernel", c->kernel_path, &in->kernel_len, vm->err);
	if (!in->kernel)
		return -EINVAL;
	if (c->initrd_path[0]) {
		in->initrd = board_map_file("initrd", c->initrd_path, &in->initrd_len, vm->err);
		if (!in->initrd)
			return -EINVAL;
	}
	return 0;
}

/* Step 5: kernel and initrd through the loader, then the device tree with the command line (the
 * user's, with root= for a root disk: config_kernel_cmdline). */
static int kernel_load(struct vm *vm, struct board *b)
{
	struct arm64_boot_input in = {0};
	char *cmdline = malloc(CMDLINE_MAX), err[256] = "";
	int ret = cmdline ? kernel_inputs(vm, &in) : -ENOMEM;

	if (ret == 0 && config_kernel_cmdline(vm->cfg, cmdline, CMDLINE_MAX) < 0)
		ret = err_set(vm->err, -EINVAL, "--cmdline: with root= it exceeds %d bytes",
			      CMDLINE_MAX - 1);
	if (ret == 0) {
		ret = arm64_boot_load(&vm->mem, &in, &b->boot, err, sizeof(err));
		if (ret < 0)
			err_set(vm->err, ret, "%s: %s", vm->cfg->kernel_path, err);
	}
	if (ret == 0)
		ret = fdt_write(vm, b, cmdline);
	if (in.kernel)
		munmap((void *)in.kernel, in.kernel_len);
	if (in.initrd)
		munmap((void *)in.initrd, in.initrd_len);
	free(cmdline);
	return ret;
}

static int board_alloc(struct vm *vm, struct board **out)
{
	struct board *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	board_uarts_init(&b->uarts);
	b->gic_fd = b->its_fd = -1;
	b->topo = (struct arm64_topology){vm->cfg->sockets, vm->cfg->cores, vm->cfg->threads};
	b->mpidr = calloc(vm->nr_vcpus, sizeof(*b->mpidr));
	if (!b->mpidr) {
		free(b);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		b->mpidr[i] = arm64_mpidr(i);
	for (unsigned i = 0; i < ARM64_VIRTIO_SLOTS; i++)
		b->virtio_spis[i] = ARM64_SPI_VIRTIO0 + i;
	virtio_slots_init(&b->virtio, ARM64_VIRTIO_GPA, ARM64_VIRTIO_STRIDE, b->virtio_spis,
			  ARM64_VIRTIO_SLOTS);
	*out = b;
	return 0;
}

/* Refuse what the configuration asks for that only the x86 board has, rather than ignore it. */
static int config_check(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	const char *flag = c->pvpanic	    ? "--pvpanic"
			   : c->test_device ? "--test-device"
			   : c->boot_timer  ? "--boot-timer"
					    : NULL;

	if (flag)
		return err_set(vm->err, -EINVAL, "%s: the arm64 board has no such device", flag);
	if (c->nr_vfio) /* its MSI routes carry no device ID, which the ITS needs */
		return err_set(vm->err, -EINVAL,
			       "--vfio: PCI passthrough is on the x86 board only, not arm64 yet");
	return 0;
}

/* The "deferred" constructor: the VM, its GIC and fixed devices first, the vCPUs next (vm.c),
 * and the virtio devices, RAM, kernel and device tree last, in board_vcpus_created once every
 * vCPU exists and the GIC is initialised. Nothing before needs guest memory. */
int board_create(struct vm *vm)
{
	struct board *b;
	int ret = board_alloc(vm, &b);

	if (ret < 0)
		return ret;
	vm->board = b;
	ret = config_check(vm);
	if (ret == 0)
		ret = platform_create(vm, b);
	return ret ? ret : devices_create(vm, b);
}

uint32_t board_vcpu_id(struct vm *vm, unsigned index)
{
	(void)vm;
	return index;
}

int board_vcpu_init(struct vm *vm, struct vcpu *v)
{
	struct board *b = vm->board;
	int ret = arm64_vcpu_init(v->fd, &b->target, v->index, b->mpidr[v->index]);

	if (ret < 0)
		err_set(vm->err, ret, "vCPU %u: KVM_ARM_VCPU_INIT: %s", v->index, strerror(-ret));
	return ret;
}

/* Every vCPU exists: initialise the GIC (and the ITS), then add the virtio devices (KVM refuses
 * their irqfds, EAGAIN, until the GIC is initialised) and RAM, and load the kernel, the initrd
 * and the device tree (unless restoring: the memory file holds them and the snapshot the
 * registers), and point the boot vCPU at the kernel. */
int board_vcpus_created(struct vm *vm)
{
	struct board *b = vm->board;
	int ret = arm64_gic_init(b->gic_fd);

	if (ret < 0)
		return err_set(vm->err, ret, "GICv3 initialisation: %s", strerror(-ret));
	if (b->its_fd >= 0) {
		ret = arm64_its_init(b->its_fd);
		if (ret < 0)
			return err_set(vm->err, ret, "GICv3 ITS initialisation: %s",
				       strerror(-ret));
	}
	ret = virtio_devices_add(vm); /* their irqfds: KVM takes none before the GIC is ready */
	if (ret == 0)
		ret = memory_create(vm);
	if (ret < 0 || vm->restore_mem_fd >= 0)
		return ret;
	ret = kernel_load(vm, b);
	if (ret == 0)
		ret = arm64_boot_regs_set(vm->vcpus[0].fd, b->boot.entry, b->boot.fdt_gpa);
	return ret;
}

int board_vcpu_pc(struct vm *vm, struct vcpu *v, uint64_t *pc)
{
	(void)vm;
	return arm64_vcpu_pc(v->fd, pc);
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
	(void)vm;
	return -ENOTSUP; /* no keyboard controller on this board */
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
	if (b->pci) { /* its functions went with the device list */
		irq_routes_destroy(&b->routes);
		pci_bus_destroy(b->pci);
		free(b->pci);
	}
	if (b->its_fd >= 0)
		close(b->its_fd);
	if (b->gic_fd >= 0)
		close(b->gic_fd);
	free(b->mpidr);
	free(b);
	vm->board = NULL;
}
