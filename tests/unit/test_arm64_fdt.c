/* test_arm64_fdt.c — the arm64 board's device tree, built and parsed back with libfdt on any
 * host (the board code itself needs arm64 KVM), and the MPIDR values of the topology. The tree
 * is also written to a file for `dtc -I dtb -O dts` when KILN_FDT_OUT names one
 * (tests/unit/dtc-check.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libfdt.h>

#include "arch/arm64/cpu.h"
#include "arch/arm64/fdt.h"
#include "arch/arm64/layout.h"

#define BUF (64 * 1024)

static uint64_t mpidr[8];
static struct virtio_slot slots[3] = {
    {0x0a000000, 0x200, 16}, {0x0a001000, 0x200, 17}, {0x0a002000, 0x200, 18}};

static struct arm64_fdt_desc desc(unsigned sockets, unsigned cores, unsigned threads)
{
	unsigned n = sockets * cores * threads;

	for (unsigned i = 0; i < n && i < 8; i++)
		mpidr[i] = arm64_mpidr(i);
	return (struct arm64_fdt_desc){
	    .mem_base = ARM64_DRAM_GPA,
	    .mem_size = 512ULL << 20,
	    .nr_cpus = n,
	    .mpidr = mpidr,
	    .sockets = sockets,
	    .cores = cores,
	    .threads = threads,
	    .gicd_base = ARM64_GICD_GPA,
	    .gicd_size = ARM64_GICD_SIZE,
	    .gicr_base = ARM64_GICR_GPA,
	    .gicr_size = ARM64_GICR_STRIDE * n,
	    .uart = {{ARM64_UART0_GPA, 0x1000, 1}, {ARM64_UART1_GPA, 0x1000, 2}},
	    .nr_uart = 2,
	    .stdout_uart = 0,
	    .rtc = true,
	    .rtc_dev = {ARM64_RTC_GPA, 0x1000, 3},
	    .virtio = slots,
	    .nr_virtio = 3,
	    .bootargs = "console=ttyS0 root=/dev/vda",
	    .initrd_start = 0x5f000000,
	    .initrd_end = 0x5f400000,
	};
}

static void *build(const struct arm64_fdt_desc *d)
{
	void *buf = malloc(BUF);

	assert_non_null(buf);
	assert_int_equal(arm64_fdt_build(d, buf, BUF), 0);
	assert_int_equal(fdt_check_header(buf), 0);
	return buf;
}

static const char *str(const void *fdt, const char *path, const char *prop)
{
	int off = fdt_path_offset(fdt, path), len;
	const char *v;

	assert_true(off >= 0);
	v = fdt_getprop(fdt, off, prop, &len);
	assert_non_null(v);
	return v;
}

static uint32_t cell(const void *fdt, const char *path, const char *prop, int i)
{
	int off = fdt_path_offset(fdt, path), len;
	const fdt32_t *v;

	assert_true(off >= 0);
	v = fdt_getprop(fdt, off, prop, &len);
	assert_non_null(v);
	assert_true((i + 1) * 4 <= len);
	return fdt32_to_cpu(v[i]);
}

static uint64_t cell64(const void *fdt, const char *path, const char *prop, int i)
{
	return (uint64_t)cell(fdt, path, prop, 2 * i) << 32 | cell(fdt, path, prop, 2 * i + 1);
}

static void test_chosen_memory(void **state)
{
	struct arm64_fdt_desc d = desc(1, 2, 1);
	void *fdt = build(&d);

	(void)state;
	assert_string_equal(str(fdt, "/chosen", "bootargs"), "console=ttyS0 root=/dev/vda");
	assert_string_equal(str(fdt, "/chosen", "stdout-path"), "/uart@9000000");
	assert_int_equal(cell64(fdt, "/chosen", "linux,initrd-start", 0), 0x5f000000);
	assert_int_equal(cell64(fdt, "/chosen", "linux,initrd-end", 0), 0x5f400000);
	assert_string_equal(str(fdt, "/memory@40000000", "device_type"), "memory");
	assert_int_equal(cell64(fdt, "/memory@40000000", "reg", 0), ARM64_DRAM_GPA);
	assert_int_equal(cell64(fdt, "/memory@40000000", "reg", 1), 512ULL << 20);
	assert_string_equal(str(fdt, "/aliases", "serial1"), "/uart@9001000");
	free(fdt);
}

static void test_no_initrd_no_stdout(void **state)
{
	struct arm64_fdt_desc d = desc(1, 1, 1);
	void *fdt;
	int off;

	(void)state;
	d.initrd_start = d.initrd_end = 0;
	d.stdout_uart = -1;
	d.bootargs = NULL;
	fdt = build(&d);
	off = fdt_path_offset(fdt, "/chosen");
	assert_true(off >= 0);
	assert_null(fdt_getprop(fdt, off, "linux,initrd-start", NULL));
	assert_null(fdt_getprop(fdt, off, "stdout-path", NULL));
	assert_null(fdt_getprop(fdt, off, "bootargs", NULL));
	free(fdt);
}

static void test_gic_timer_psci(void **state)
{
	struct arm64_fdt_desc d = desc(1, 4, 1);
	void *fdt = build(&d);
	int off, len;
	const char *c;

	(void)state;
	assert_string_equal(str(fdt, "/intc@8000000", "compatible"), "arm,gic-v3");
	assert_int_equal(cell64(fdt, "/intc@8000000", "reg", 0), ARM64_GICD_GPA);
	assert_int_equal(cell64(fdt, "/intc@8000000", "reg", 2), ARM64_GICR_GPA);
	assert_int_equal(cell64(fdt, "/intc@8000000", "reg", 3), 4 * ARM64_GICR_STRIDE);
	assert_int_equal(cell(fdt, "/intc@8000000", "#interrupt-cells", 0), 3);
	assert_int_equal(cell(fdt, "/", "interrupt-parent", 0),
			 cell(fdt, "/intc@8000000", "phandle", 0));
	/* timer PPIs: secure 13, non-secure 14, virtual 11, hypervisor 10 */
	assert_int_equal(cell(fdt, "/timer", "interrupts", 1), 13);
	assert_int_equal(cell(fdt, "/timer", "interrupts", 4), 14);
	assert_int_equal(cell(fdt, "/timer", "interrupts", 7), 11);
	assert_int_equal(cell(fdt, "/timer", "interrupts", 10), 10);
	assert_string_equal(str(fdt, "/psci", "method"), "hvc");
	off = fdt_path_offset(fdt, "/psci");
	c = fdt_getprop(fdt, off, "compatible", &len);
	assert_true(fdt_stringlist_contains(c, len, "arm,psci-0.2"));
	free(fdt);
}

static void test_devices(void **state)
{
	struct arm64_fdt_desc d = desc(1, 1, 1);
	void *fdt = build(&d);
	int off, len;
	const char *c;

	(void)state;
	assert_string_equal(str(fdt, "/uart@9000000", "compatible"), "ns16550a");
	assert_int_equal(cell(fdt, "/uart@9001000", "interrupts", 1), 2);
	assert_int_equal(cell(fdt, "/uart@9001000", "interrupts", 2), 4); /* level high */
	off = fdt_path_offset(fdt, "/rtc@9010000");
	c = fdt_getprop(fdt, off, "compatible", &len);
	assert_true(fdt_stringlist_contains(c, len, "arm,pl031"));
	assert_true(fdt_stringlist_contains(c, len, "arm,primecell"));
	assert_string_equal(str(fdt, "/rtc@9010000", "clock-names"), "apb_pclk");
	assert_int_equal(cell(fdt, "/rtc@9010000", "clocks", 0),
			 cell(fdt, "/apb-pclk", "phandle", 0));
	for (unsigned i = 0; i < 3; i++) {
		char path[40];

		snprintf(path, sizeof(path), "/virtio_mmio@%llx",
			 (unsigned long long)slots[i].base);
		assert_string_equal(str(fdt, path, "compatible"), "virtio,mmio");
		assert_int_equal(cell64(fdt, path, "reg", 1), 0x200);
		assert_int_equal(cell(fdt, path, "interrupts", 0), 0); /* SPI */
		assert_int_equal(cell(fdt, path, "interrupts", 1), 16 + i);
		assert_int_equal(cell(fdt, path, "interrupts", 2), 1); /* edge rising */
	}
	free(fdt);
}

/* A description with the ITS and the PCIe host bridge at the board's addresses. */
static void with_pci(struct arm64_fdt_desc *d)
{
	d->its = d->pci = true;
	d->its_base = ARM64_ITS_GPA;
	d->its_size = ARM64_ITS_SIZE;
	d->ecam_base = ARM64_PCI_ECAM_GPA;
	d->ecam_size = ARM64_PCI_ECAM_SIZE;
	d->pci_mem32_base = ARM64_PCI_MEM32_GPA;
	d->pci_mem32_size = ARM64_PCI_MEM32_SIZE;
	d->nr_virtio = 0; /* the board's virtio devices are PCI functions then */
}

/* The ITS under the GIC and the host bridge as Linux's bindings want them (arm,gic-v3-its,
 * pci-host-ecam-generic, pci-msi's msi-map). */
static void test_pci_its(void **state)
{
	struct arm64_fdt_desc d = desc(1, 2, 1);
	const char *its = "/intc@8000000/msi-controller@8080000", *pci = "/pcie@30000000";
	void *fdt;

	(void)state;
	with_pci(&d);
	fdt = build(&d);
	assert_string_equal(str(fdt, its, "compatible"), "arm,gic-v3-its");
	assert_int_equal(cell64(fdt, its, "reg", 0), ARM64_ITS_GPA);
	assert_int_equal(cell64(fdt, its, "reg", 1), 0x20000);
	assert_int_equal(cell(fdt, its, "#msi-cells", 0), 1);
	assert_non_null(fdt_getprop(fdt, fdt_path_offset(fdt, its), "msi-controller", NULL));
	assert_int_equal(cell(fdt, "/intc@8000000", "#address-cells", 0), 2);
	assert_non_null(fdt_getprop(fdt, fdt_path_offset(fdt, "/intc@8000000"), "ranges", NULL));
	assert_string_equal(str(fdt, pci, "compatible"), "pci-host-ecam-generic");
	assert_string_equal(str(fdt, pci, "device_type"), "pci");
	assert_int_equal(cell(fdt, pci, "#address-cells", 0), 3);
	assert_int_equal(cell(fdt, pci, "#size-cells", 0), 2);
	assert_int_equal(cell(fdt, pci, "bus-range", 0), 0);
	assert_int_equal(cell(fdt, pci, "bus-range", 1), 0);
	assert_int_equal(cell64(fdt, pci, "reg", 0), ARM64_PCI_ECAM_GPA);
	assert_int_equal(cell64(fdt, pci, "reg", 1), 1 << 20);
	/* ranges: 32-bit memory space, PCI address = CPU address, 256 MiB */
	assert_int_equal(cell(fdt, pci, "ranges", 0), 0x02000000);
	assert_int_equal(cell(fdt, pci, "ranges", 2), ARM64_PCI_MEM32_GPA);
	assert_int_equal(cell(fdt, pci, "ranges", 4), ARM64_PCI_MEM32_GPA);
	assert_int_equal(cell(fdt, pci, "ranges", 6), ARM64_PCI_MEM32_SIZE);
	/* msi-map: requester IDs 0.. to the ITS's device IDs 0.., all 65536 */
	assert_int_equal(cell(fdt, pci, "msi-map", 0), 0);
	assert_int_equal(cell(fdt, pci, "msi-map", 1), cell(fdt, its, "phandle", 0));
	assert_int_equal(cell(fdt, pci, "msi-map", 2), 0);
	assert_int_equal(cell(fdt, pci, "msi-map", 3), 0x10000);
	assert_non_null(fdt_getprop(fdt, fdt_path_offset(fdt, pci), "dma-coherent", NULL));
	assert_true(fdt_path_offset(fdt, "/virtio_mmio@a000000") < 0);
	free(fdt);
}

/* Without PCI: no ITS and no host bridge (the board creates only what the guest uses). */
static void test_no_pci(void **state)
{
	struct arm64_fdt_desc d = desc(1, 1, 1);
	void *fdt = build(&d);

	(void)state;
	assert_true(fdt_path_offset(fdt, "/intc@8000000/msi-controller@8080000") < 0);
	assert_true(fdt_path_offset(fdt, "/pcie@30000000") < 0);
	free(fdt);
}

/* The layout's regions do not overlap, and the PCI ones fit where the tree says. */
static void test_layout_disjoint(void **state)
{
	static const uint64_t r[][2] = {
	    {ARM64_GICD_GPA, ARM64_GICD_SIZE},
	    {ARM64_ITS_GPA, ARM64_ITS_SIZE},
	    {ARM64_GICR_GPA, ARM64_GICR_END - ARM64_GICR_GPA},
	    {ARM64_UART0_GPA, ARM64_UART_SIZE},
	    {ARM64_UART1_GPA, ARM64_UART_SIZE},
	    {ARM64_RTC_GPA, ARM64_RTC_SIZE},
	    {ARM64_VIRTIO_GPA, ARM64_VIRTIO_STRIDE * ARM64_VIRTIO_SLOTS},
	    {ARM64_PCI_MEM32_GPA, ARM64_PCI_MEM32_SIZE},
	    {ARM64_PCI_ECAM_GPA, ARM64_PCI_ECAM_SIZE},
	    {ARM64_DRAM_GPA, ARM64_DRAM_MAX},
	};
	const size_t n = sizeof(r) / sizeof(r[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_true(r[i][0] + r[i][1] <= r[j][0] || r[j][0] + r[j][1] <= r[i][0]);
	assert_int_equal(ARM64_ITS_GPA % 0x10000, 0); /* KVM: 64 KiB-aligned */
	assert_int_equal(ARM64_PCI_ECAM_SIZE, 32 * 8 * 4096);
	assert_true(ARM64_PCI_MEM32_GPA + ARM64_PCI_MEM32_SIZE <= 1ULL << 32);
}

/* cpu nodes carry the MPIDR; cpu-map names each vCPU once, in index order. */
static void test_cpus_topology(void **state)
{
	struct arm64_fdt_desc d = desc(2, 2, 2);
	void *fdt = build(&d);
	char path[96];

	(void)state;
	for (unsigned i = 0; i < 8; i++) {
		unsigned s = i / 4, c = (i / 2) % 2, t = i % 2;
		char cpu[64];

		uint64_t hwid = mpidr[i] & 0xff00ffffffULL; /* no RES1 or MT bit in reg */

		snprintf(cpu, sizeof(cpu), "/cpus/cpu@%llx", (unsigned long long)hwid);
		assert_string_equal(str(fdt, cpu, "enable-method"), "psci");
		assert_int_equal(cell64(fdt, cpu, "reg", 0), hwid);
		snprintf(path, sizeof(path), "/cpus/cpu-map/socket%u/cluster0/core%u/thread%u", s,
			 c, t);
		assert_int_equal(cell(fdt, path, "cpu", 0),
				 fdt_get_phandle(fdt, fdt_path_offset(fdt, cpu)));
		/* the socket's shared L2: the LLC Linux builds the MC domain from */
		snprintf(path, sizeof(path), "/l2-cache%u", s);
		assert_int_equal(cell(fdt, cpu, "next-level-cache", 0),
				 fdt_get_phandle(fdt, fdt_path_offset(fdt, path)));
		assert_int_equal(cell(fdt, path, "cache-level", 0), 2);
	}
	free(fdt);
}

static void test_mpidr(void **state)
{
	(void)state; /* KVM's reset value (reset_mpidr in Linux's arch/arm64/kvm/sys_regs.c) */
	assert_int_equal(arm64_mpidr(0), 0x80000000ULL);
	assert_int_equal(arm64_mpidr(15), 0x8000000fULL);
	assert_int_equal(arm64_mpidr(16), 0x80000100ULL); /* Aff0 stays below 16 */
	assert_int_equal(arm64_mpidr(4096 + 35), 0x80010203ULL);
}

static void test_refused(void **state)
{
	struct arm64_fdt_desc d = desc(1, 2, 1);
	char small[256];
	void *buf = malloc(BUF);

	(void)state;
	d.sockets = 3; /* 3 * 2 * 1 != 2 */
	assert_int_equal(arm64_fdt_build(&d, buf, BUF), -EINVAL);
	d = desc(1, 2, 1);
	d.nr_cpus = 0;
	assert_int_equal(arm64_fdt_build(&d, buf, BUF), -EINVAL);
	d = desc(1, 2, 1);
	d.stdout_uart = 2;
	assert_int_equal(arm64_fdt_build(&d, buf, BUF), -EINVAL);
	d = desc(1, 2, 1);
	with_pci(&d);
	d.its = false; /* PCI's MSIs need the ITS */
	assert_int_equal(arm64_fdt_build(&d, buf, BUF), -EINVAL);
	with_pci(&d);
	d.pci_mem32_base = 0xf8000000; /* the window would cross 4 GiB */
	assert_int_equal(arm64_fdt_build(&d, buf, BUF), -EINVAL);
	d = desc(1, 2, 1);
	assert_int_equal(arm64_fdt_build(&d, small, sizeof(small)), -ENOSPC);
	free(buf);
}

/* With KILN_FDT_OUT set, write a 2-socket tree there for dtc (tests/unit/dtc-check.sh), with
 * the virtio-mmio slots and the ITS and PCIe host bridge too, so dtc checks every node kind. */
static void test_write_for_dtc(void **state)
{
	const char *out = getenv("KILN_FDT_OUT");
	struct arm64_fdt_desc d = desc(2, 2, 1);
	void *fdt;
	FILE *f;

	(void)state;
	if (!out)
		skip();
	with_pci(&d);
	d.nr_virtio = 3;
	fdt = build(&d);
	f = fopen(out, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(fdt, 1, fdt_totalsize(fdt), f), fdt_totalsize(fdt));
	fclose(f);
	free(fdt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chosen_memory),  cmocka_unit_test(test_no_initrd_no_stdout),
	    cmocka_unit_test(test_gic_timer_psci), cmocka_unit_test(test_devices),
	    cmocka_unit_test(test_cpus_topology),  cmocka_unit_test(test_mpidr),
	    cmocka_unit_test(test_refused),	   cmocka_unit_test(test_pci_its),
	    cmocka_unit_test(test_no_pci),	   cmocka_unit_test(test_layout_disjoint),
	    cmocka_unit_test(test_write_for_dtc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
