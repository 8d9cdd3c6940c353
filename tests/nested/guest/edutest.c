/* edutest — run inside a Linux guest of kiln that was given QEMU's edu device (1234:11e8)
 * through VFIO passthrough (tests/nested/linux-vfio.py). It drives the device from userspace
 * through sysfs and prints one "KT edu ..." line per check:
 *
 *   edutest regs BDF      identification register, liveness register (reads back the
 *                         complement), the factorial unit
 *   edutest dma BDF N     N bytes RAM -> edu -> RAM through edu's DMA engine, between edu's
 *                         buffer and a locked guest page (its physical address from
 *                         /proc/self/pagemap): byte-exact round trip
 *   edutest intx BDF      edu raises its interrupt; the guest's uio_pci_generic (bound by the
 *                         caller) delivers it to /dev/uioN (INTx through kiln's _PRT and irqfd)
 *   edutest msi BDF       the program enables edu's MSI itself (no driver of this guest does)
 *                         towards CPU 0 with a vector no handler owns, and raises three: the
 *                         guest kernel's "No irq handler for vector" lines count the arrivals
 *                         (MSI through kiln's emulated MSI capability and its MSI route)
 *
 * edu's registers (QEMU docs/specs/edu.txt): 0x00 identification 0x010000ed; 0x04 liveness
 * (reads ~written); 0x08 factorial (write n, poll 0x20 bit 0, read n!); 0x24 interrupt status,
 * 0x60 raise, 0x64 acknowledge; 0x80 DMA source, 0x88 destination, 0x90 count, 0x98 command
 * (1 start, 2 edu -> RAM, 4 interrupt when done). The DMA buffer is at edu address 0x40000. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_BUF 0x40000u

static volatile uint32_t *bar;

static uint32_t rd32(unsigned off)
{
	return bar[off / 4];
}

static uint64_t rd64(unsigned off)
{
	return *(volatile uint64_t *)((volatile uint8_t *)bar + off);
}

static void wr32(unsigned off, uint32_t v)
{
	bar[off / 4] = v;
}

static void wr64(unsigned off, uint64_t v)
{
	*(volatile uint64_t *)((volatile uint8_t *)bar + off) = v;
}

static int die(const char *what)
{
	printf("KT edu error %s: %s\n", what, strerror(errno));
	return 1;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Memory decoding and bus mastering on, through sysfs's configuration file. */
static int enable(const char *bdf)
{
	char path[256];
	uint16_t cmd;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, &cmd, 2, 4) != 2)
		return die("config");
	cmd |= 0x6;
	if (pwrite(fd, &cmd, 2, 4) != 2)
		return die("config write");
	close(fd);
	return 0;
}

static int map_bar(const char *bdf)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return die("resource0");
	bar = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (bar == MAP_FAILED)
		return die("mmap resource0");
	return 0;
}

static int regs(void)
{
	uint32_t id = rd32(0);
	int ok;

	printf("KT edu ident 0x%08x\n", id);
	wr32(4, 0x12345678u);
	printf("KT edu liveness 0x%08x\n", rd32(4));
	wr32(8, 10);
	for (int i = 0; i < 100000 && (rd32(0x20) & 1); i++)
		usleep(10);
	ok = rd32(8) == 3628800u;
	printf("KT edu factorial %u %s\n", rd32(8), ok ? "ok" : "wrong");
	return id == 0x010000edu && ok ? 0 : 1;
}

/* The guest-physical address of the page at p (locked, touched). */
static uint64_t phys(void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 || pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8)
		return 0;
	close(fd);
	if (!(e >> 63 & 1))
		return 0;
	return (e & ((1ULL << 55) - 1)) * 4096 + (uintptr_t)p % 4096;
}

static int dma_wait(void)
{
	double t0 = now();

	while (rd32(0x98) & 1)
		if (now() - t0 > 5)
			return -1;
	return 0;
}

static int dma(unsigned n)
{
	uint8_t *page =
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t pa;
	unsigned bad = 0;

	if (page == MAP_FAILED || mlock(page, 4096) < 0)
		return die("page");
	for (unsigned i = 0; i < 4096; i++)
		page[i] = (uint8_t)(i * 7 + 3);
	pa = phys(page);
	if (!pa || n > 4096)
		return die("pagemap");
	printf("KT edu page 0x%llx\n", (unsigned long long)pa);
	wr64(0x80, pa); /* RAM -> edu */
	wr64(0x88, EDU_BUF);
	wr64(0x90, n);
	wr64(0x98, 1);
	if (dma_wait() < 0)
		return die("dma to edu timed out");
	memset(page, 0, 4096);
	wr64(0x80, EDU_BUF); /* edu -> RAM */
	wr64(0x88, pa);
	wr64(0x90, n);
	wr64(0x98, 1 | 2);
	if (dma_wait() < 0)
		return die("dma to RAM timed out");
	for (unsigned i = 0; i < n; i++)
		bad += page[i] != (uint8_t)(i * 7 + 3);
	for (unsigned i = n; i < 4096; i++)
		bad += page[i] != 0;
	printf("KT edu dma %u bytes %s (%u wrong; src 0x%llx)\n", n, bad ? "wrong" : "ok", bad,
	       (unsigned long long)rd64(0x80));
	return bad ? 1 : 0;
}

/* Wait up to 5 s for fd to become readable; the 8 or 4 bytes read. */
static int wait_fd(int fd, void *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, 5000) != 1)
		return -1;
	return (int)read(fd, buf, len);
}

/* The device's configuration file in sysfs (open, O_RDWR). */
static int config_fd(const char *bdf)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	return open(path, O_RDWR);
}

/* Clear (or set) the command register's INTx Disable bit: what re-arms INTx after
 * uio_pci_generic's handler masked it. */
static int intx_disable(const char *bdf, int on)
{
	int fd = config_fd(bdf);
	uint16_t cmd;

	if (fd < 0 || pread(fd, &cmd, 2, 4) != 2)
		return -1;
	cmd = on ? cmd | 0x400 : cmd & ~0x400;
	if (pwrite(fd, &cmd, 2, 4) != 2)
		return -1;
	close(fd);
	return 0;
}

static int uio_dev(const char *bdf, char *out, size_t len)
{
	char path[256];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/uio", bdf);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "uio", 3) == 0) {
			snprintf(out, len, "/dev/%s", e->d_name);
			closedir(d);
			return 0;
		}
	closedir(d);
	return -1;
}

static int intx(const char *bdf)
{
	char dev[300];
	int32_t count = 0;
	int fd, got = 0;

	if (uio_dev(bdf, dev, sizeof(dev)) < 0)
		return die("no uio device");
	fd = open(dev, O_RDWR);
	if (fd < 0)
		return die(dev);
	for (int round = 0; round < 3; round++) {
		if (intx_disable(bdf, 0) < 0) /* re-arm: uio_pci_generic's handler masked it */
			return die("INTx re-arm");
		wr32(0x60, 0x100u << round);
		if (wait_fd(fd, &count, 4) != 4) {
			printf("KT edu intx round %d: no interrupt (status 0x%x)\n", round,
			       rd32(0x24));
			return 1;
		}
		printf("KT edu intx round %d count %d status 0x%x\n", round, count, rd32(0x24));
		wr32(0x64, rd32(0x24)); /* acknowledge: edu lowers its line */
		got++;
	}
	printf("KT edu intx ok %d\n", got);
	return 0;
}

/* No driver in this guest programs edu's MSI, so the program does, through the configuration
 * file: the message goes to CPU 0's local APIC (0xfee00000) with vector MSI_VECTOR, which no
 * Linux handler owns; the guest kernel then logs "0.<vector> No irq handler for vector" for
 * each one that arrives, which the scenario counts. */
#define MSI_VECTOR 0x9f

static int msi(const char *bdf)
{
	int fd = config_fd(bdf);
	uint8_t off = 0, id = 0;
	uint16_t ctrl;
	uint32_t addr = 0xfee00000u, zero = 0;
	uint16_t data = MSI_VECTOR;

	if (fd < 0 || pread(fd, &off, 1, 0x34) != 1)
		return die("config");
	for (int hops = 0; off && hops < 48; hops++) {
		if (pread(fd, &id, 1, off) != 1)
			return die("config");
		if (id == 0x05)
			break;
		if (pread(fd, &off, 1, off + 1) != 1)
			return die("config");
	}
	if (id != 0x05 || pread(fd, &ctrl, 2, off + 2) != 2)
		return die("no MSI capability");
	if (pwrite(fd, &addr, 4, off + 4) != 4 ||
	    ((ctrl & 0x80) && pwrite(fd, &zero, 4, off + 8) != 4) ||
	    pwrite(fd, &data, 2, off + ((ctrl & 0x80) ? 12 : 8)) != 2)
		return die("MSI address and data");
	ctrl = (uint16_t)((ctrl & ~0x70) | 1); /* one vector, enabled */
	if (pwrite(fd, &ctrl, 2, off + 2) != 2 || intx_disable(bdf, 1) < 0)
		return die("MSI enable");
	printf("KT edu msi cap 0x%x ctrl 0x%x vector %d\n", off, ctrl, MSI_VECTOR);
	for (int round = 0; round < 3; round++) {
		wr32(0x60, 0x1000u << round);
		usleep(200000);
		wr32(0x64, rd32(0x24));
	}
	ctrl &= (uint16_t)~1;
	if (pwrite(fd, &ctrl, 2, off + 2) != 2)
		return die("MSI disable");
	close(fd);
	printf("KT edu msi raised 3\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		return fprintf(stderr, "usage: edutest regs|dma|intx|msi BDF [N]\n"), 2;
	if (enable(argv[2]))
		return 1;
	if (map_bar(argv[2]))
		return 1;
	if (strcmp(argv[1], "regs") == 0)
		return regs();
	if (strcmp(argv[1], "dma") == 0)
		return dma(argc > 3 ? (unsigned)atoi(argv[3]) : 1024);
	if (strcmp(argv[1], "intx") == 0)
		return intx(argv[2]);
	if (strcmp(argv[1], "msi") == 0)
		return msi(argv[2]);
	return fprintf(stderr, "edutest: unknown check %s\n", argv[1]), 2;
}
