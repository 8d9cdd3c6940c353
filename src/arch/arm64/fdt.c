/* fdt.c — the arm64 board's device tree through libfdt's sequential-write API. The nodes follow
 * the Linux bindings (Documentation/devicetree/bindings: arm/cpus, arm/psci, timer/arm,arch_timer,
 * interrupt-controller/arm,gic-v3 with its ITS, serial/8250, rtc/arm,pl031, virtio/mmio,
 * pci/host-generic-pci and pci/pci-msi) and the cpu-map of cpu/cpu-topology (sockets, each with
 * one cluster of cores). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/layout.h"

/* GIC interrupt specifier cells: type, number, flags. */
#define GIC_SPI		0
#define GIC_PPI		1
#define IRQ_EDGE_RISING 1
#define IRQ_LEVEL_HIGH	4

/* The affinity fields of MPIDR_EL1 (Aff3, Aff2-Aff0): a cpu node's reg holds only these. */
#define MPIDR_HWID_MASK 0xff00ffffffULL

enum {
	PHANDLE_GIC = 1,
	PHANDLE_CLK = 2,
	PHANDLE_ITS = 3,
	PHANDLE_CPU0 = 16,
	PHANDLE_L2_0 = 0x1000
};

/* The first cell of a PCI address (phys.hi): the space code, 32-bit memory space. */
#define PCI_SPACE_MEM32	   0x02000000u
#define PCI_RID_SPACE	   0x10000u    /* requester IDs: 16 bits */
#define PCI_ECAM_BUS_BYTES 0x100000ULL /* ECAM of one bus */

/* A libfdt result as -errno: out of room is -ENOSPC, anything else a bad description. */
static int fdt_errno(int r)
{
	if (r >= 0)
		return 0;
	return r == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL;
}

/* Stop at the first failure: every helper returns 0 or a negative libfdt error. */
#define TRY(x)                                                                                     \
	do {                                                                                       \
		int r_ = (x);                                                                      \
		if (r_ < 0)                                                                        \
			return r_;                                                                 \
	} while (0)

/* reg = <base size> with two address and two size cells. */
static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t v[2] = {cpu_to_fdt64(base), cpu_to_fdt64(size)};

	return fdt_property(fdt, "reg", v, sizeof(v));
}

/* interrupts = <type num flags>. */
static int prop_irq(void *fdt, uint32_t type, uint32_t num, uint32_t flags)
{
	fdt32_t v[3] = {cpu_to_fdt32(type), cpu_to_fdt32(num), cpu_to_fdt32(flags)};

	return fdt_property(fdt, "interrupts", v, sizeof(v));
}

static int chosen(void *fdt, const struct arm64_fdt_desc *d)
{
	char path[64];

	TRY(fdt_begin_node(fdt, "chosen"));
	if (d->bootargs)
		TRY(fdt_property_string(fdt, "bootargs", d->bootargs));
	if (d->stdout_uart >= 0) {
		snprintf(path, sizeof(path), "/uart@%llx",
			 (unsigned long long)d->uart[d->stdout_uart].base);
		TRY(fdt_property_string(fdt, "stdout-path", path));
	}
	if (d->initrd_end > d->initrd_start) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", d->initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", d->initrd_end));
	}
	return fdt_end_node(fdt);
}

/* serialN aliases, so Linux numbers the UARTs ttyS0 and ttyS1 in the board's order. */
static int aliases(void *fdt, const struct arm64_fdt_desc *d)
{
	char name[24], path[40];

	TRY(fdt_begin_node(fdt, "aliases"));
	for (unsigned i = 0; i < d->nr_uart; i++) {
		snprintf(name, sizeof(name), "serial%u", i);
		snprintf(path, sizeof(path), "/uart@%llx", (unsigned long long)d->uart[i].base);
		TRY(fdt_property_string(fdt, name, path));
	}
	return fdt_end_node(fdt);
}

static int memory(void *fdt, const struct arm64_fdt_desc *d)
{
	char name[40];

	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)d->mem_base);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(prop_reg(fdt, d->mem_base, d->mem_size));
	return fdt_end_node(fdt);
}

/* cpu-map: socketS / cluster0 / coreC / threadT (thread nodes only with SMT) -> cpu. Linux
 * (since 6.0) takes a socket as the package, and wants cores inside a cluster. */
static int cpu_map(void *fdt, const struct arm64_fdt_desc *d)
{
	char name[24];
	unsigned cpu = 0;

	TRY(fdt_begin_node(fdt, "cpu-map"));
	for (unsigned s = 0; s < d->sockets; s++) {
		snprintf(name, sizeof(name), "socket%u", s);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_begin_node(fdt, "cluster0"));
		for (unsigned c = 0; c < d->cores; c++) {
			snprintf(name, sizeof(name), "core%u", c);
			TRY(fdt_begin_node(fdt, name));
			for (unsigned t = 0; t < d->threads; t++, cpu++) {
				if (d->threads > 1) {
					snprintf(name, sizeof(name), "thread%u", t);
					TRY(fdt_begin_node(fdt, name));
				}
				TRY(fdt_property_u32(fdt, "cpu", PHANDLE_CPU0 + cpu));
				if (d->threads > 1)
					TRY(fdt_end_node(fdt));
			}
			TRY(fdt_end_node(fdt));
		}
		TRY(fdt_end_node(fdt));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int cpus(void *fdt, const struct arm64_fdt_desc *d)
{
	char name[32];

	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	for (unsigned i = 0; i < d->nr_cpus; i++) {
		uint64_t hwid = d->mpidr[i] & MPIDR_HWID_MASK;

		snprintf(name, sizeof(name), "cpu@%llx", (unsigned long long)hwid);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_string(fdt, "compatible", "arm,arm-v8"));
		TRY(fdt_property_u64(fdt, "reg", hwid));
		TRY(fdt_property_string(fdt, "enable-method", "psci"));
		TRY(fdt_property_u32(fdt, "next-level-cache",
				     PHANDLE_L2_0 + i / (d->cores * d->threads)));
		TRY(fdt_property_u32(fdt, "phandle", PHANDLE_CPU0 + i));
		TRY(fdt_end_node(fdt));
	}
	TRY(cpu_map(fdt, d));
	return fdt_end_node(fdt);
}

/* One unified L2 cache per socket, shared by its CPUs. Linux takes the last cache level the
 * tree describes as the LLC and builds its MC scheduling domain from the CPUs sharing it: without
 * these nodes each vCPU's caches look private, the MC domain shrinks to one CPU and, with SMT,
 * the scheduler reports "arch topology borken" (SMT domain not a subset of MC). */
static int caches(void *fdt, const struct arm64_fdt_desc *d)
{
	char name[24];

	for (unsigned s = 0; s < d->sockets; s++) {
		snprintf(name, sizeof(name), "l2-cache%u", s);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "compatible", "cache"));
		TRY(fdt_property(fdt, "cache-unified", NULL, 0));
		TRY(fdt_property_u32(fdt, "cache-level", 2));
		TRY(fdt_property_u32(fdt, "phandle", PHANDLE_L2_0 + s));
		TRY(fdt_end_node(fdt));
	}
	return 0;
}

static int psci(void *fdt)
{
	static const char compat[] = "arm,psci-1.0\0arm,psci-0.2";

	TRY(fdt_begin_node(fdt, "psci"));
	TRY(fdt_property(fdt, "compatible", compat, sizeof(compat)));
	TRY(fdt_property_string(fdt, "method", "hvc"));
	return fdt_end_node(fdt);
}

static int timer(void *fdt)
{
	static const uint32_t ppi[4] = {ARM64_PPI_TIMER_SEC, ARM64_PPI_TIMER_PHYS,
					ARM64_PPI_TIMER_VIRT, ARM64_PPI_TIMER_HYP};
	fdt32_t v[12];

	for (unsigned i = 0; i < 4; i++) {
		v[3 * i] = cpu_to_fdt32(GIC_PPI);
		v[3 * i + 1] = cpu_to_fdt32(ppi[i]);
		v[3 * i + 2] = cpu_to_fdt32(IRQ_LEVEL_HIGH);
	}
	TRY(fdt_begin_node(fdt, "timer"));
	TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
	TRY(fdt_property(fdt, "interrupts", v, sizeof(v)));
	TRY(fdt_property(fdt, "always-on", NULL, 0));
	return fdt_end_node(fdt);
}

/* The ITS, a child of the GIC node: MSIs written to its translation frame become LPIs. */
static int its(void *fdt, const struct arm64_fdt_desc *d)
{
	char name[48];

	snprintf(name, sizeof(name), "msi-controller@%llx", (unsigned long long)d->its_base);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3-its"));
	TRY(fdt_property(fdt, "msi-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "#msi-cells", 1));
	TRY(prop_reg(fdt, d->its_base, d->its_size));
	TRY(fdt_property_u32(fdt, "phandle", PHANDLE_ITS));
	return fdt_end_node(fdt);
}

static int gic(void *fdt, const struct arm64_fdt_desc *d)
{
	fdt64_t reg[4] = {cpu_to_fdt64(d->gicd_base), cpu_to_fdt64(d->gicd_size),
			  cpu_to_fdt64(d->gicr_base), cpu_to_fdt64(d->gicr_size)};
	char name[40];

	snprintf(name, sizeof(name), "intc@%llx", (unsigned long long)d->gicd_base);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 3));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "#address-cells", 2)); /* for the ITS child */
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property(fdt, "ranges", NULL, 0));
	TRY(fdt_property_u32(fdt, "#redistributor-regions", 1));
	TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	TRY(prop_irq(fdt, GIC_PPI, ARM64_PPI_GIC_MAINT, IRQ_LEVEL_HIGH));
	TRY(fdt_property_u32(fdt, "phandle", PHANDLE_GIC));
	if (d->its)
		TRY(its(fdt, d));
	return fdt_end_node(fdt);
}

/* Begin node <prefix>@<base> of an MMIO device: compatible (a string list of compat_len bytes),
 * reg and one SPI; the caller adds the rest and ends it. */
static int mmio_node(void *fdt, const char *prefix, const char *compat, size_t compat_len,
		     uint64_t base, uint64_t size, uint32_t spi, uint32_t flags)
{
	char name[40];

	snprintf(name, sizeof(name), "%s@%llx", prefix, (unsigned long long)base);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property(fdt, "compatible", compat, (int)compat_len));
	TRY(prop_reg(fdt, base, size));
	return prop_irq(fdt, GIC_SPI, spi, flags);
}

static int uart(void *fdt, const struct arm64_fdt_mmio *u)
{
	static const char compat[] = "ns16550a";

	TRY(mmio_node(fdt, "uart", compat, sizeof(compat), u->base, u->size, u->spi,
		      IRQ_LEVEL_HIGH));
	TRY(fdt_property_u32(fdt, "clock-frequency", 1843200));
	return fdt_end_node(fdt);
}

/* The PL031 and the fixed APB clock the AMBA bus asks every PrimeCell for. */
static int rtc(void *fdt, const struct arm64_fdt_mmio *r)
{
	static const char compat[] = "arm,pl031\0arm,primecell";

	TRY(fdt_begin_node(fdt, "apb-pclk"));
	TRY(fdt_property_string(fdt, "compatible", "fixed-clock"));
	TRY(fdt_property_u32(fdt, "#clock-cells", 0));
	TRY(fdt_property_u32(fdt, "clock-frequency", 24000000));
	TRY(fdt_property_string(fdt, "clock-output-names", "clk24mhz"));
	TRY(fdt_property_u32(fdt, "phandle", PHANDLE_CLK));
	TRY(fdt_end_node(fdt));
	TRY(mmio_node(fdt, "rtc", compat, sizeof(compat), r->base, r->size, r->spi,
		      IRQ_LEVEL_HIGH));
	TRY(fdt_property_u32(fdt, "clocks", PHANDLE_CLK));
	TRY(fdt_property_string(fdt, "clock-names", "apb_pclk"));
	return fdt_end_node(fdt);
}

static int virtio(void *fdt, const struct virtio_slot *v)
{
	static const char compat[] = "virtio,mmio";

	TRY(mmio_node(fdt, "virtio_mmio", compat, sizeof(compat), v->base, v->size, v->gsi,
		      IRQ_EDGE_RISING));
	TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	return fdt_end_node(fdt);
}

/* The PCIe host bridge: bus 0 through ECAM, the 32-bit window identity-mapped (PCI address = CPU
 * address), MSIs to the ITS with the requester ID as device ID. No interrupt-map: the functions
 * have no INTx pin (virtio-pci interrupts through MSI-X only). */
static int pcie(void *fdt, const struct arm64_fdt_desc *d)
{
	const fdt32_t bus_range[2] = {0, 0};
	const fdt32_t ranges[7] = {
	    cpu_to_fdt32(PCI_SPACE_MEM32),
	    cpu_to_fdt32((uint32_t)(d->pci_mem32_base >> 32)),
	    cpu_to_fdt32((uint32_t)d->pci_mem32_base),
	    cpu_to_fdt32((uint32_t)(d->pci_mem32_base >> 32)),
	    cpu_to_fdt32((uint32_t)d->pci_mem32_base),
	    cpu_to_fdt32((uint32_t)(d->pci_mem32_size >> 32)),
	    cpu_to_fdt32((uint32_t)d->pci_mem32_size),
	};
	const fdt32_t msi_map[4] = {0, cpu_to_fdt32(PHANDLE_ITS), 0, cpu_to_fdt32(PCI_RID_SPACE)};
	char name[40];

	snprintf(name, sizeof(name), "pcie@%llx", (unsigned long long)d->ecam_base);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(fdt_property_u32(fdt, "#address-cells", 3));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_u32(fdt, "linux,pci-domain", 0));
	TRY(fdt_property(fdt, "bus-range", bus_range, sizeof(bus_range)));
	TRY(prop_reg(fdt, d->ecam_base, d->ecam_size));
	TRY(fdt_property(fdt, "ranges", ranges, sizeof(ranges)));
	TRY(fdt_property(fdt, "msi-map", msi_map, sizeof(msi_map)));
	TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	return fdt_end_node(fdt);
}

static int root(void *fdt, const struct arm64_fdt_desc *d)
{
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	TRY(fdt_property_string(fdt, "model", "kiln"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_u32(fdt, "interrupt-parent", PHANDLE_GIC));
	TRY(chosen(fdt, d));
	TRY(aliases(fdt, d));
	TRY(memory(fdt, d));
	TRY(cpus(fdt, d));
	TRY(caches(fdt, d));
	TRY(psci(fdt));
	TRY(timer(fdt));
	TRY(gic(fdt, d));
	for (unsigned i = 0; i < d->nr_uart; i++)
		TRY(uart(fdt, &d->uart[i]));
	if (d->rtc)
		TRY(rtc(fdt, &d->rtc_dev));
	for (unsigned i = 0; i < d->nr_virtio; i++)
		TRY(virtio(fdt, &d->virtio[i]));
	if (d->pci)
		TRY(pcie(fdt, d));
	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}

/* PCI needs the ITS (its MSIs' target), one bus of ECAM and a window below 4 GiB. */
static bool pci_ok(const struct arm64_fdt_desc *d)
{
	if (!d->pci)
		return true;
	return d->its && d->ecam_size >= PCI_ECAM_BUS_BYTES && d->pci_mem32_size > 0 &&
	       d->pci_mem32_base + d->pci_mem32_size <= 1ULL << 32 &&
	       d->pci_mem32_base + d->pci_mem32_size > d->pci_mem32_base;
}

static bool desc_ok(const struct arm64_fdt_desc *d)
{
	return pci_ok(d) && d->nr_cpus >= 1 && d->nr_cpus <= ARM64_FDT_CPUS_MAX && d->mpidr &&
	       d->sockets * d->cores * d->threads == d->nr_cpus && d->nr_uart <= 2 &&
	       d->stdout_uart < (int)d->nr_uart && (d->nr_virtio == 0 || d->virtio) &&
	       d->mem_size > 0;
}

int arm64_fdt_build(const struct arm64_fdt_desc *d, void *buf, size_t len)
{
	if (!desc_ok(d))
		return -EINVAL;
	if (len > INT32_MAX)
		len = INT32_MAX;
	TRY(fdt_errno(fdt_create(buf, (int)len)));
	return fdt_errno(root(buf, d));
}
