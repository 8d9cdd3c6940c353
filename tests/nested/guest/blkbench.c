/* blkbench.c — a guest-side block benchmark for bench/pci.py (virtio-pci against virtio-mmio in
 * the nested rig): times O_DIRECT requests to a block device for a fixed number of seconds and
 * counts the device's interrupts over the same time from /proc/interrupts.
 *
 *     blkbench DEVICE MODE BS QD SECONDS
 *
 * MODE lat: synchronous pread(2)s of BS bytes at random BS-aligned offsets, one at a time (the
 * process sleeps until the completion interrupt wakes it), each timed; reports the median, 99th
 * percentile and mean latency. MODE seqread, seqwrite, randread, randwrite: QD requests of BS bytes
 * kept in flight with Linux native AIO (io_submit/io_getevents, raw system calls), sequential
 * offsets wrapping at the device's end or random BS-aligned ones; reports MB/s and IOPS. The
 * first 16 requests are a warm-up and not counted. Offsets come from a fixed xorshift sequence.
 *
 * The interrupts counted are those of every /proc/interrupts line named after the device's virtio
 * device (the last component of /sys/block/NAME/device: "virtio0" for virtio-mmio's one line,
 * "virtio0-req.0" for virtio-pci's queue vector), its configuration-change vector excepted.
 *
 * One report line on stdout: "KT res MODE n=REQUESTS secs=S irqs=I ..." (lat: median_us=
 * p99_us= mean_us=; the others: mbps= iops=), or "KT res MODE error WHAT" and exit status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WARMUP	 16
#define MAX_LAT	 (1 << 20)
#define MAX_QD	 256
#define LINE_LEN 4096

static const char *mode;

static void fail(const char *what)
{
	printf("KT res %s error %s: %s\n", mode, what, errno ? strerror(errno) : "");
	fflush(stdout);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The virtio device behind block device `dev` ("virtio0"), into name. */
static void virtio_name(const char *dev, char *name, size_t len)
{
	char path[256], target[256], copy[256];
	ssize_t n;

	snprintf(copy, sizeof(copy), "%s", dev);
	snprintf(path, sizeof(path), "/sys/block/%s/device", basename(copy));
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		fail("readlink /sys/block/DEV/device");
	target[n] = 0;
	snprintf(name, len, "%s", basename(target));
}

/* The sum over CPUs of every /proc/interrupts line of virtio device `name` but its config one. */
static uint64_t irq_count(const char *name)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[LINE_LEN];
	size_t nlen = strlen(name);
	uint64_t total = 0;
	int cpus = 0;

	if (!f)
		fail("open /proc/interrupts");
	if (fgets(line, sizeof(line), f))
		for (char *t = strtok(line, " \t\n"); t; t = strtok(NULL, " \t\n"))
			cpus++;
	while (fgets(line, sizeof(line), f)) {
		char *last, *end = line + strlen(line);
		uint64_t sum = 0;
		char *p = strchr(line, ':');

		while (end > line && (end[-1] == '\n' || end[-1] == ' '))
			*--end = 0;
		last = strrchr(line, ' ');
		last = last ? last + 1 : line;
		if (!p || strncmp(last, name, nlen) != 0 ||
		    (last[nlen] != 0 && last[nlen] != '-') || strstr(last + nlen, "config"))
			continue;
		p++;
		for (int c = 0; c < cpus; c++)
			sum += strtoull(p, &p, 10);
		total += sum;
	}
	fclose(f);
	return total;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void run_lat(int fd, size_t bs, uint64_t blocks, double secs, const char *vname)
{
	uint64_t *lat = malloc(MAX_LAT * sizeof(*lat)), irq0 = 0;
	void *buf;
	size_t n = 0;
	double t0 = 0, sum = 0;

	if (!lat || posix_memalign(&buf, 4096, bs))
		fail("memory");
	for (size_t i = 0; n < MAX_LAT; i++) {
		struct timespec a, b;
		off_t off = (off_t)((xorshift() % blocks) * bs);

		if (i == WARMUP) {
			irq0 = irq_count(vname);
			t0 = now();
		}
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (pread(fd, buf, bs, off) != (ssize_t)bs)
			fail("pread");
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (i < WARMUP)
			continue;
		lat[n] = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ULL + (uint64_t)b.tv_nsec -
			 (uint64_t)a.tv_nsec;
		sum += (double)lat[n++];
		if (now() - t0 >= secs)
			break;
	}
	double el = now() - t0;
	uint64_t irqs = irq_count(vname) - irq0;

	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("KT res lat n=%zu secs=%.3f irqs=%" PRIu64
	       " median_us=%.1f p99_us=%.1f mean_us=%.1f\n",
	       n, el, irqs, (double)lat[n / 2] / 1e3, (double)lat[n * 99 / 100] / 1e3,
	       sum / (double)n / 1e3);
}

static int io_setup(unsigned nr, aio_context_t *ctx)
{
	return (int)syscall(SYS_io_setup, nr, ctx);
}

static int io_submit(aio_context_t ctx, long n, struct iocb **iocbs)
{
	return (int)syscall(SYS_io_submit, ctx, n, iocbs);
}

static int io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev)
{
	return (int)syscall(SYS_io_getevents, ctx, min, max, ev, NULL);
}

static void run_aio(int fd, size_t bs, unsigned qd, uint64_t blocks, double secs, const char *vname)
{
	int write_it = strstr(mode, "write") != NULL, seq = strncmp(mode, "seq", 3) == 0;
	static struct iocb cb[MAX_QD];
	struct iocb *cbp[MAX_QD];
	struct io_event ev[MAX_QD];
	int busy[MAX_QD] = {0}, stopping = 0;
	aio_context_t ctx = 0;
	uint64_t next = 0, done = 0, counted = 0, irq0 = 0, irqs = 0;
	unsigned inflight = 0;
	double t0 = 0, el = 0;
	char *buf;

	if (posix_memalign((void **)&buf, 4096, bs * qd))
		fail("memory");
	for (size_t i = 0; i < bs * qd; i++)
		buf[i] = (char)(i * 7 + 1);
	if (io_setup(qd, &ctx) < 0)
		fail("io_setup");
	for (unsigned i = 0; i < qd; i++) {
		memset(&cb[i], 0, sizeof(cb[i]));
		cb[i].aio_fildes = (uint32_t)fd;
		cb[i].aio_lio_opcode = write_it ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
		cb[i].aio_buf = (uint64_t)(uintptr_t)(buf + i * bs);
		cb[i].aio_nbytes = bs;
		cb[i].aio_data = i;
	}
	/* Refill every idle slot at the next offset, wait for at least one completion; once the
	 * time is up, start nothing more and drain what is in flight (not counted). */
	for (;;) {
		unsigned n = 0;

		for (unsigned i = 0; i < qd && !stopping; i++) {
			if (busy[i])
				continue;
			cb[i].aio_offset =
			    (int64_t)((seq ? next++ % blocks : xorshift() % blocks) * bs);
			busy[i] = 1;
			cbp[n++] = &cb[i];
		}
		if (n) {
			if (io_submit(ctx, n, cbp) != (int)n)
				fail("io_submit");
			inflight += n;
		}
		if (!inflight)
			break;
		int got = io_getevents(ctx, 1, qd, ev);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			fail("io_getevents");
		}
		for (int e = 0; e < got; e++) {
			if (ev[e].res != (int64_t)bs) {
				errno = ev[e].res < 0 ? (int)-ev[e].res : 0;
				fail("request");
			}
			busy[ev[e].data] = 0;
			inflight--;
			if (++done == WARMUP) {
				irq0 = irq_count(vname);
				t0 = now();
			} else if (done > WARMUP && !stopping) {
				counted++;
				if (now() - t0 >= secs) {
					el = now() - t0;
					irqs = irq_count(vname) - irq0;
					stopping = 1;
				}
			}
		}
	}
	printf("KT res %s n=%" PRIu64 " secs=%.3f irqs=%" PRIu64 " mbps=%.2f iops=%.0f\n", mode,
	       counted, el, irqs, (double)counted * (double)bs / 1e6 / el, (double)counted / el);
}

int main(int argc, char **argv)
{
	char vname[64];
	uint64_t size;
	size_t bs;
	unsigned qd;
	double secs;
	int fd;

	if (argc != 6) {
		fprintf(stderr,
			"usage: blkbench DEVICE lat|seqread|seqwrite|randread|randwrite BS QD "
			"SECONDS\n");
		return 2;
	}
	mode = argv[2];
	bs = strtoull(argv[3], NULL, 0);
	qd = (unsigned)strtoul(argv[4], NULL, 0);
	secs = strtod(argv[5], NULL);
	if (bs == 0 || bs % 512 || qd == 0 || qd > MAX_QD || secs <= 0)
		fail("bad arguments");
	if (strcmp(mode, "lat") && strcmp(mode, "seqread") && strcmp(mode, "seqwrite") &&
	    strcmp(mode, "randread") && strcmp(mode, "randwrite"))
		fail("unknown mode");
	fd = open(argv[1], (strstr(mode, "write") ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0)
		fail("open");
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		fail("BLKGETSIZE64");
	if (size < bs)
		fail("device smaller than one request");
	virtio_name(argv[1], vname, sizeof(vname));
	if (strcmp(mode, "lat") == 0)
		run_lat(fd, bs, size / bs, secs, vname);
	else
		run_aio(fd, bs, qd, size / bs, secs, vname);
	fflush(stdout);
	return 0;
}
