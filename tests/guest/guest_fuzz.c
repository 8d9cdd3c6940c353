/* guest_fuzz.c — a seeded, reproducible fuzzer of everything kiln exposes to an x86 guest: random
 * values of random widths to every port and MMIO register, random descriptor chains to every
 * virtqueue. kiln must neither crash nor hang; the guest ends with a liveness check and PASS.
 *
 * Command line: seed=N (default 1), accesses=N (port and MMIO accesses in all, default 200000),
 * seconds=N (optional: stop earlier after about N s, for slower KVMs; the summary's count then
 * replays the run), pvpanic=1 when kiln runs with --pvpanic, acpi=off (the virtio_mmio.device=
 * tokens). The seed and the count are printed first: the same two values replay the same
 * guest-side sequence (the generator never depends on what the guest reads: a device found
 * needing a reset is brought back by recover(), which draws nothing and whose accesses are
 * counted apart), see README.md.
 *
 * What is avoided, and why (everything else, every width, reads and writes, is fair game):
 *  - Ports 0xf4-0xf7, kiln's debug-exit window (4 ports, as QEMU's isa-debug-exit with
 *    iosize=4), for writes: any value ends the run (it is how the kit reports). Reads are fuzzed.
 *  - ACPI sleep control 0x600: a write of SLP_TYP=5 with SLP_EN powers off; such a byte gets one
 *    SLP_TYP bit flipped (other sleep types and 0x601 are fuzzed as they are).
 *  - The i8042 reset: command bytes 0xf0-0xfe with bit 0 clear (pulse the reset line, 0xfe) get
 *    bit 0 set; after command 0xd1 (write output port) the data byte at 0x60 gets bit 0 (the
 *    reset line, active low) set. Everything else at 0x60/0x64 is fuzzed.
 *  - 0xcf9 (PCI reset control) and 0x92 (fast reset, bit 0): kiln has no device there today, but
 *    on a PC these reset the machine; 0xcf9 is never written, bit 0 of a 0x92 byte is cleared.
 *  - pvpanic 0x505 (with --pvpanic): bit 0 (PANICKED) stops the VM, it is cleared.
 *  - COM1's data register 0x3f8 for writes: the guest reports through COM1; its other registers
 *    are fuzzed, and LCR, MCR and IER are restored after each port batch so the output stays
 *    readable. COM2 and the unmapped COM3/COM4 are fuzzed fully.
 *  - The in-kernel PIC (0x20-0x21, 0xa0-0xa1), PIT (0x40-0x43, 0x61) and ELCR (0x4d0-0x4d1),
 *    and the in-kernel IOAPIC and LAPIC pages: KVM's, not kiln's; reprogrammed they would deliver
 *    interrupts on vectors the kit treats as fatal exceptions. KVM's TSS and identity-map pages
 *    (0xfffbc000-0xfffbffff) likewise.
 *  - Guest memory the guest lives in, [1 MiB, 32 MiB) (image, stacks, lib/virtio's region): no
 *    address the fuzzer hands a device (queue registers, descriptors) lies there, and every byte
 *    it writes where a device may read it is scrubbed so that no aligned 8-byte word reads as an
 *    address there and, in the balloon's arena, no 4-byte window as a page number there
 *    (scrub()). Devices may write and the balloon may discard anywhere else: [0, 1 MiB) (read
 *    only at start) and the per-device arenas from 32 MiB. An arena's first half (T) holds what
 *    a device reads descriptors from (queue tables, indirect tables) and avail rings, written
 *    only by the guest; the second (B) holds buffers and used rings, which devices write: no
 *    descriptor is ever read from bytes a device wrote (a vsock header there could name an
 *    address in the guest), and no buffer of one device reaches another's arena.
 */
#include "virtio.h"

#define KEEP_LO		  0x100000ULL  /* [KEEP_LO, KEEP_HI): the guest's own memory */
#define KEEP_HI		  0x2000000ULL /* 32 MiB */
#define ARENA_BASE	  KEEP_HI      /* one arena per virtio device from here */
#define ARENA_SIZE	  0x200000ULL  /* 2 MiB: tables (T), then buffers (B) */
#define HALF		  (ARENA_SIZE / 2)
#define USED_AREA	  (MAX_QUEUES * 4096ULL) /* the end of B: the queues' own used rings */
#define MAX_DEVS	  18			 /* kiln's virtio slots */
#define MAX_QUEUES	  4			 /* the most queues a kiln device has (balloon) */
#define QMAX		  256			 /* kiln's largest queue */
#define TOP		  0x140000000ULL	 /* the kit maps 0-5 GiB */
#define HOLE		  0xc0000000ULL
#define PROGRESS	  25000 /* accesses between progress lines */
#define DEBUG_EXIT_PORT	  0xf4
#define ARRAY_LEN(a)	  (sizeof(a) / sizeof((a)[0]))
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19

/* ---- the generator: splitmix64 seeds xorshift64* ------------------------------------------ */

static uint64_t rng;

static void rng_seed(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	rng = (z ^ (z >> 31)) | 1; /* xorshift's state must not be 0 */
}

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n); 0 for n == 0. */
static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned percent)
{
	return below(100) < percent;
}

/* A value of width bytes, biased to edges: small numbers, all ones, powers of two +-1. */
static uint64_t fuzz_value(unsigned width)
{
	uint64_t mask = width >= 8 ? ~0ULL : (1ULL << (8 * width)) - 1, v;

	switch (below(8)) {
	case 0:
	case 1:
		v = below(17);
		break;
	case 2:
		v = ~0ULL - below(3);
		break;
	case 3:
		v = (1ULL << below(8 * width)) + below(3) - 1;
		break;
	default:
		v = rnd();
	}
	return v & mask;
}

static unsigned pio_width(void)
{
	return 1u << below(3);
}

static unsigned mmio_width(void)
{
	return 1u << below(4);
}

/* ---- counted accesses ----------------------------------------------------------------------- */

static uint64_t nr_accesses, nr_recovery;
static bool recovering; /* recover() is running: its accesses are counted apart */

static void count(void)
{
	if (recovering)
		nr_recovery++;
	else
		nr_accesses++;
}

static void pio_wr(uint16_t port, unsigned width, uint32_t v)
{
	pio_write(port, width, v);
	count();
}

static void pio_rd(uint16_t port, unsigned width)
{
	(void)pio_read(port, width);
	count();
}

static void mm_wr(uint64_t a, unsigned width, uint64_t v)
{
	mmio_write(a, width, v);
	count();
}

static uint64_t mm_rd(uint64_t a, unsigned width)
{
	uint64_t v = mmio_read(a, width);

	count();
	return v;
}

/* ---- the machine as the command line and the memory map describe it ----------------------- */

struct fq {
	uint16_t size;		    /* what we last wrote to QueueNum */
	uint64_t desc, avail, used; /* what we last wrote (only used when in our arena) */
	uint16_t avail_idx;
	uint16_t used_seen; /* used->idx when we last looked */
	bool set;	    /* set up by the last initialisation (recover() repeats it) */
};

struct fdev {
	uint64_t base, arena, offered;
	uint32_t id;
	unsigned nq; /* queues whose QueueNumMax is not 0 */
	uint16_t qmax;
	struct fq q[MAX_QUEUES];
	uint64_t features; /* negotiated at the last initialisation */
	uint64_t inits, chains, needs_reset, used, live;
};

static struct fdev devs[MAX_DEVS];
static unsigned nr_devs;
static uint64_t ram_end;    /* end of RAM below 4 GiB */
static uint64_t ram_hi_end; /* end of RAM above 4 GiB, or 0 */
static bool have_pvpanic, have_testdev;
static bool kbd_outport_pending;
static uint8_t com1_lcr, com1_mcr, com1_ier;

static void find_ram(void)
{
	struct guest_mem_range m[32];
	int n = guest_memmap(m, 32);

	for (int i = 0; i < n; i++) {
		uint64_t end = m[i].addr + m[i].size;

		if (m[i].type != 1)
			continue;
		if (end <= 1ULL << 32 && end > ram_end)
			ram_end = end;
		else if (m[i].addr >= 1ULL << 32 && end > ram_hi_end)
			ram_hi_end = end;
	}
	GUEST_ASSERT(ram_end >= ARENA_BASE + MAX_DEVS * ARENA_SIZE);
}

static const uint32_t virtio_ids[] = {VIRTIO_ID_NET, VIRTIO_ID_BLOCK,	VIRTIO_ID_CONSOLE,
				      VIRTIO_ID_RNG, VIRTIO_ID_BALLOON, VIRTIO_ID_VSOCK};

static void find_devices(void)
{
	for (unsigned k = 0; k < ARRAY_LEN(virtio_ids); k++) {
		struct vdev v;

		for (unsigned nth = 0; nr_devs < MAX_DEVS && vdev_find(virtio_ids[k], nth, &v);
		     nth++) {
			struct fdev *d = &devs[nr_devs];

			*d = (struct fdev){.base = v.base,
					   .id = v.id,
					   .offered = v.offered,
					   .arena = ARENA_BASE + nr_devs * ARENA_SIZE};
			for (unsigned q = 0; q < MAX_QUEUES; q++) {
				vdev_write(&v, VIRTIO_MMIO_QUEUE_SEL, q);
				if (vdev_read(&v, VIRTIO_MMIO_QUEUE_NUM_MAX) == 0)
					break;
				d->nq = q + 1;
				d->qmax = (uint16_t)vdev_read(&v, VIRTIO_MMIO_QUEUE_NUM_MAX);
			}
			guest_printf("guest_fuzz: virtio device %u at %#lx, %u queues of %u\n",
				     d->id, d->base, d->nq, d->qmax);
			nr_devs++;
		}
	}
}

/* ---- guest memory the devices see ----------------------------------------------------------- */

static bool keep_overlaps(uint64_t a, uint64_t len)
{
	return a < KEEP_HI && a + len > KEEP_LO && a + len >= a;
}

/*
 * Scrub [p, p + n) (an arena's bytes, 8 either side included by the caller's choice): no
 * 8-aligned 8-byte word may read as an address in [KEEP_LO, KEEP_HI) (a descriptor read from
 * anywhere could point there: every table the fuzzer lets a device read descriptors from is
 * 8-aligned) and, with pfns (the balloon's arena, the only one it reads), no 4-byte window at
 * any offset as a page number there (the balloon would discard the guest). Each fix turns a zero
 * byte into 0x80; repeated until nothing changes.
 */
static void scrub(uint8_t *p, uint64_t n, bool pfns)
{
	bool changed = true;

	while (changed) {
		changed = false;
		for (uint64_t i = 0; i + 4 <= n; i++) {
			uint32_t w =
			    p[i] | p[i + 1] << 8 | p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;

			if (pfns && w >= KEEP_LO / 4096 && w < KEEP_HI / 4096) {
				p[i + 3] = 0x80;
				changed = true;
			}
			if (i + 8 <= n && !((uintptr_t)(p + i) & 7) && !p[i + 4] && !p[i + 5] &&
			    !p[i + 6] && !p[i + 7] && w >= KEEP_LO && w < KEEP_HI) {
				p[i + 7] = 0x80;
				changed = true;
			}
		}
	}
}

/* Scrub what was just written at [a, a + n) inside arena d, with 8 bytes of margin. */
static void scrub_at(const struct fdev *d, uint64_t a, uint64_t n)
{
	uint64_t lo = a >= d->arena + 8 ? a - 8 : d->arena;
	uint64_t hi = a + n + 8 <= d->arena + ARENA_SIZE ? a + n + 8 : d->arena + ARENA_SIZE;

	if (a >= d->arena && a < d->arena + ARENA_SIZE && lo < hi)
		scrub((uint8_t *)lo, hi - lo, d->id == VIRTIO_ID_BALLOON);
}

static void arena_fill(const struct fdev *d)
{
	uint64_t *p = (uint64_t *)d->arena;

	for (uint64_t i = 0; i < ARENA_SIZE / 8; i++)
		p[i] = chance(50) ? 0 : rnd();
	scrub((uint8_t *)d->arena, ARENA_SIZE, d->id == VIRTIO_ID_BALLOON);
}

/* An address with nothing behind it: past RAM, the MMIO hole, far above everything. */
static uint64_t outside_ram(void)
{
	switch (below(4)) {
	case 0:
		return ram_end < HOLE ? ram_end + below(HOLE - ram_end) : HOLE + below(1 << 30);
	case 1:
		return HOLE + below(1 << 30);
	case 2:
		return (ram_hi_end ? ram_hi_end : 1ULL << 32) + below(1ULL << 40);
	default:
		return rnd() | 1ULL << 63;
	}
}

static uint64_t tables(const struct fdev *d)
{
	return d->arena;
}

static uint64_t buffers(const struct fdev *d)
{
	return d->arena + HALF;
}

static bool in_b(const struct fdev *d, uint64_t a)
{
	return a >= buffers(d) && a < buffers(d) + HALF;
}

/* A buffer for device d: an address and a length, never touching the guest's own memory, nor
 * another arena or d's tables unless it runs past the end of RAM (refused as a whole). */
static uint64_t buffer(const struct fdev *d, uint32_t *len)
{
	uint64_t a;

	switch (below(8)) {
	case 0:
		*len = (uint32_t)fuzz_value(4);
		break;
	case 1:
	case 2:
		*len = (uint32_t)below(65536);
		break;
	default:
		*len = (uint32_t)below(600);
	}
	switch (below(20)) {
	case 0:
	case 1:
	case 2:
		a = outside_ram();
		break;
	case 3:
		a = rnd();
		break;
	case 4:
		a = ram_end - below(64); /* straddling the end of RAM */
		break;
	case 5:
		a = below(KEEP_LO); /* the low 1 MiB, the guest no longer needs it */
		if (a + *len > KEEP_LO)
			*len = (uint32_t)(KEEP_LO - a);
		break;
	case 6:
		a = 0;
		break;
	default:
		a = buffers(d) + below(HALF - USED_AREA);
	}
	/* Only the balloon reads page numbers, and other devices write anywhere in RAM outside
	 * the arenas: its buffers in RAM are its own. */
	if (keep_overlaps(a, *len) || (d->id == VIRTIO_ID_BALLOON && a < ram_end && !in_b(d, a)))
		a = buffers(d) + below(HALF - USED_AREA);
	if (a >= buffers(d) && a < buffers(d) + HALF && a + *len > buffers(d) + HALF &&
	    a + *len <= ram_end)
		*len = (uint32_t)(buffers(d) + HALF - a);
	return a;
}

/* A ring address for device d, mostly in its arena (aligned or not), sometimes nowhere: a
 * descriptor table or avail ring in its tables (T), a used ring among its buffers (B). */
static uint64_t ring_addr(const struct fdev *d, uint64_t align, bool used)
{
	uint64_t a;

	if (chance(85)) {
		a = (used ? buffers(d) : tables(d)) + below(HALF);
		return chance(80) ? a & ~(align - 1) : a;
	}
	a = chance(50) || !used ? outside_ram() : ram_end - below(4096);
	return keep_overlaps(a, 1 << 20) ? buffers(d) : a;
}

/* ---- phase 1: ports ------------------------------------------------------------------------- */

static const uint16_t kiln_ports[] = {
    0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, /* COM1 */
    0x2f8, 0x2f9, 0x2fa, 0x2fb, 0x2fc, 0x2fd, 0x2fe, 0x2ff, /* COM2 */
    0x3e8, 0x3ec, 0x2e8, 0x2ec,				    /* COM3/COM4 (absent) */
    0x60,  0x64,  0x70,	 0x71,	0x600, 0x601, 0x505, 0xf4,  /* i8042, RTC, ACPI, pvpanic, exit */
    0xe0,  0xe1,  0xe3,	 0xe4,	0xe7,  0xe8,  0xec,  0xef,  /* test device */
    0xcf8, 0xcfc, 0xcf9, 0x92,	0x80,  0x402, 0x510, 0x511, /* PCI, reset, POST, QEMU's */
};

static bool in_kernel(unsigned p)
{
	return p == 0x20 || p == 0x21 || p == 0xa0 || p == 0xa1 || (p >= 0x40 && p <= 0x43) ||
	       p == 0x61 || p == 0x4d0 || p == 0x4d1;
}

/* The byte written to port p, made harmless (see the opening comment); false: never write p. */
static bool port_byte_ok(unsigned p, unsigned width, uint8_t *b)
{
	if ((p >= DEBUG_EXIT_PORT && p < DEBUG_EXIT_PORT + 4) || p == 0xcf9 || p == 0x3f8)
		return false;
	if (p == 0x600 && (*b & 0x3c) == 0x34)
		*b ^= 0x04; /* SLP_EN with SLP_TYP 5 -> SLP_TYP 4 */
	if (p == 0x64) {
		if ((*b & 0xf0) == 0xf0)
			*b |= 1;
		if (*b == 0xd1)
			kbd_outport_pending = true;
		else if (width == 1)
			kbd_outport_pending = false; /* wider accesses may be refused: keep it */
	}
	if (p == 0x60 && kbd_outport_pending) {
		*b |= 1;
		if (width == 1)
			kbd_outport_pending = false;
	}
	if (p == 0x92)
		*b &= (uint8_t)~1;
	if (p == 0x505 && have_pvpanic)
		*b &= (uint8_t)~1;
	return true;
}

static void port_access(unsigned p, unsigned width)
{
	uint32_t v = (uint32_t)fuzz_value(width);

	if (p + width > 0x10000)
		return;
	for (unsigned k = 0; k < width; k++)
		if (in_kernel(p + k))
			return;
	if (chance(40)) {
		pio_rd((uint16_t)p, width);
		return;
	}
	for (unsigned k = 0; k < width; k++) {
		uint8_t b = (uint8_t)(v >> (8 * k));

		if (!port_byte_ok(p + k, width, &b))
			return;
		v = (v & ~(0xffu << (8 * k))) | (uint32_t)b << (8 * k);
	}
	pio_wr((uint16_t)p, width, v);
}

/* Put back what the guest's own output needs: DLAB off, 8N1, no loopback, no interrupts. */
static void com1_restore(void)
{
	outb(0x3fb, com1_lcr & 0x7f);
	outb(0x3fc, com1_mcr);
	outb(0x3f9, com1_ier);
}

static void phase_ports(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned p = chance(75) ? kiln_ports[below(ARRAY_LEN(kiln_ports))] + below(2)
					: (unsigned)below(0x10000);

		port_access(p, pio_width());
	}
	com1_restore();
	kbd_outport_pending = false;
	outb(0x64, 0xaa); /* a harmless command: nothing pending at the i8042 either */
}

/* ---- phase 2: MMIO -------------------------------------------------------------------------- */

static bool mmio_avoid(uint64_t a, unsigned width)
{
	static const uint64_t avoid[][2] = {
	    {0xfec00000, 0xfec01000}, /* IOAPIC (in the kernel) */
	    {0xfee00000, 0xfee01000}, /* LAPIC (in the kernel) */
	    {0xfffbc000, 0xfffc0000}, /* KVM's identity map and TSS */
	};

	if (a + width > TOP || a < ram_end || (a < TOP && a >= 1ULL << 32 && ram_hi_end))
		return true;
	for (unsigned i = 0; i < ARRAY_LEN(avoid); i++)
		if (a < avoid[i][1] && a + width > avoid[i][0])
			return true;
	return false;
}

/* A value for a write at offset off of a virtio-mmio window: queue addresses stay away from
 * the guest's memory, the rest is anything. */
static uint64_t virtio_value(const struct fdev *d, unsigned off, unsigned width)
{
	uint64_t v = fuzz_value(width);

	if (off >= VIRTIO_MMIO_QUEUE_DESC_LOW && off < VIRTIO_MMIO_CONFIG_GENERATION) {
		uint64_t a = ring_addr(d, 16, (off & ~4u) == VIRTIO_MMIO_QUEUE_DEVICE_LOW);

		v = (off & 4) ? (chance(80) ? 0 : a >> 32) : a;
		/* A low half in RAM with a high half of 0: only d's own tables or buffers. */
		if (!(off & 4) && (v & 0xffffffff) < ram_end && !in_b(d, v & 0xffffffff) &&
		    ((v & 0xffffffff) < tables(d) || (v & 0xffffffff) >= tables(d) + HALF))
			v = tables(d);
	} else if (off == VIRTIO_MMIO_QUEUE_SEL || off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		v = chance(80) ? below(MAX_QUEUES + 1) : v;
	}
	return v;
}

static void mmio_virtio(const struct fdev *d)
{
	unsigned width = mmio_width();
	unsigned off = chance(70) ? (unsigned)below(0x100) & ~3u : (unsigned)below(0x1000);
	uint64_t v = virtio_value(d, off & ~3u, width);

	if (off + width > 0x1000)
		return;
	if (chance(40))
		(void)mm_rd(d->base + off, width);
	else
		mm_wr(d->base + off, width, v);
}

static void mmio_other(void)
{
	uint64_t a;
	unsigned width = mmio_width();

	switch (below(4)) {
	case 0:
		a = have_testdev ? 0xd8000000 + below(0x1000) : HOLE + below(1 << 30);
		break;
	case 1:
		a = 0xd0000000 + below(MAX_DEVS + 2) * 0x1000 + below(0x1000); /* empty slots too */
		break;
	case 2:
		a = ram_end + below(TOP - ram_end);
		break;
	default:
		a = HOLE + below(1 << 30);
	}
	if (mmio_avoid(a, width))
		return;
	if (chance(40))
		(void)mm_rd(a, width);
	else
		mm_wr(a, width, fuzz_value(width));
}

static void phase_mmio(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (nr_devs && chance(60))
			mmio_virtio(&devs[below(nr_devs)]);
		else
			mmio_other();
	}
}

/* ---- phase 3: virtqueues -------------------------------------------------------------------- */

static void reg_wr(const struct fdev *d, unsigned off, uint32_t v)
{
	mm_wr(d->base + off, 4, v);
}

static uint32_t reg_rd(const struct fdev *d, unsigned off)
{
	return (uint32_t)mm_rd(d->base + off, 4);
}

static void write64(const struct fdev *d, unsigned off, uint64_t v)
{
	reg_wr(d, off, (uint32_t)v);
	reg_wr(d, off + 4, (uint32_t)(v >> 32));
}

/* Driver features: mostly a subset of the offer, sometimes anything. */
static void negotiate(struct fdev *d)
{
	uint64_t f = chance(80) ? (d->offered & rnd()) | VIRTIO_BIT(VIRTIO_F_VERSION_1) : rnd();

	d->features = (f & d->offered) | VIRTIO_BIT(VIRTIO_F_VERSION_1);

	reg_wr(d, VIRTIO_MMIO_DRIVER_FEAT_SEL, 0);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEAT_SEL, 1);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	reg_wr(d, VIRTIO_MMIO_STATUS,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	(void)reg_rd(d, VIRTIO_MMIO_STATUS);
}

/* Program queue qi as d->q[qi] says, with empty rings where they are ours, then QueueReady. */
static void queue_program(struct fdev *d, unsigned qi, uint32_t ready)
{
	struct fq *q = &d->q[qi];

	q->avail_idx = 0;
	q->used_seen = 0;
	reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, qi);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NUM, q->size);
	write64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, q->desc);
	write64(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, q->avail);
	write64(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, q->used);
	if (q->avail >= d->arena && q->avail + 6 + 2 * QMAX <= d->arena + ARENA_SIZE) {
		memset((void *)q->avail, 0, 6 + 2 * QMAX);
		scrub_at(d, q->avail, 6 + 2 * QMAX);
	}
	if (q->used >= d->arena && q->used + 6 + 8 * QMAX <= d->arena + ARENA_SIZE)
		memset((void *)q->used, 0, 6 + 8 * QMAX); /* zeros are harmless: no scrub needed */
	reg_wr(d, VIRTIO_MMIO_QUEUE_READY, ready);
	(void)reg_rd(d, VIRTIO_MMIO_QUEUE_READY);
}

/* A queue: a proper layout in the arena (size a power of two up to QueueNumMax), or garbage. */
static void queue_setup(struct fdev *d, unsigned qi)
{
	struct fq *q = &d->q[qi];
	uint64_t slot = tables(d) + qi * (HALF / MAX_QUEUES);

	q->size = (uint16_t)(chance(85) ? 1u << below(9) : fuzz_value(2));
	if (q->size > d->qmax && chance(80))
		q->size = d->qmax;
	if (chance(92)) {
		q->desc = slot;
		q->avail = slot + 16 * QMAX;
		q->used = buffers(d) + HALF - USED_AREA + qi * 4096;
	} else {
		q->desc = ring_addr(d, 16, false);
		q->avail = ring_addr(d, 2, false);
		q->used = ring_addr(d, 4, true);
	}
	q->set = true;
	queue_program(d, qi, chance(95) ? 1 : (uint32_t)fuzz_value(4));
}

/* Reset and bring the device up: properly most of the time, otherwise status garbage. */
static void device_init(struct fdev *d)
{
	d->inits++;
	reg_wr(d, VIRTIO_MMIO_STATUS, 0);
	if (chance(20)) {
		d->features = VIRTIO_BIT(VIRTIO_F_VERSION_1);
		for (unsigned i = below(6); i > 0; i--)
			reg_wr(d, VIRTIO_MMIO_STATUS, (uint32_t)fuzz_value(1));
	} else {
		reg_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
		reg_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
		negotiate(d);
	}
	for (unsigned qi = 0; qi < d->nq; qi++) {
		d->q[qi].set = false;
		if (chance(90))
			queue_setup(d, qi);
	}
	if (chance(90))
		reg_wr(d, VIRTIO_MMIO_STATUS,
		       reg_rd(d, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

/* Whether queue q's rings are ours (in the arena, room for QMAX entries): then we write them. */
static bool rings_ours(const struct fdev *d, const struct fq *q)
{
	uint64_t end = tables(d) + HALF;

	return q->desc >= d->arena && q->desc + 16 * QMAX <= end && q->avail >= d->arena &&
	       q->avail + 6 + 2 * QMAX <= end;
}

static uint16_t rand_flags(void)
{
	uint16_t f = 0;

	if (chance(50))
		f |= VIRTQ_DESC_F_NEXT;
	if (chance(40))
		f |= VIRTQ_DESC_F_WRITE;
	if (chance(8))
		f |= VIRTQ_DESC_F_INDIRECT;
	if (chance(3))
		f = (uint16_t)rnd();
	return f;
}

/* An indirect table of n descriptors somewhere in the arena, 16-aligned mostly. */
static uint64_t indirect_table(const struct fdev *d, unsigned n)
{
	uint64_t t = tables(d) + below(HALF - 16 * (uint64_t)n);
	struct virtq_desc *td;

	t &= chance(90) ? ~15ULL : ~7ULL; /* 8-aligned at least: see scrub() */
	td = (struct virtq_desc *)t;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len;

		td[i].addr = buffer(d, &len);
		td[i].len = len;
		td[i].flags = rand_flags();
		td[i].next = (uint16_t)(chance(80) ? below(n + 1) : rnd());
	}
	scrub_at(d, t, 16 * (uint64_t)n);
	return t;
}

/* Write descriptor i of queue q: a buffer, a link (loops included), maybe an indirect table. */
static void write_desc(const struct fdev *d, const struct fq *q, unsigned i)
{
	struct virtq_desc *desc = (struct virtq_desc *)q->desc + i;
	uint32_t len;
	unsigned size = q->size && q->size <= QMAX ? q->size : QMAX;

	desc->addr = buffer(d, &len);
	desc->len = len;
	desc->flags = rand_flags();
	desc->next = (uint16_t)(chance(85) ? below(size) : rnd());
	if (desc->flags & VIRTQ_DESC_F_INDIRECT) {
		/* Whatever is there is read as descriptors: only the tables, 8-aligned (scrub()).
		 */
		if (chance(70)) {
			unsigned n = 1 + (unsigned)below(chance(90) ? 16 : 300);

			desc->addr = indirect_table(d, n);
			desc->len = chance(90) ? 16 * n : (uint32_t)fuzz_value(4);
		} else {
			desc->addr = (tables(d) + below(HALF)) & ~7ULL;
		}
		/* Not into the buffers, unless longer than kiln takes (VIRTQ_SIZE_MAX entries). */
		if (desc->addr + desc->len > tables(d) + HALF && desc->len <= 16 * 32768)
			desc->len = (uint32_t)(tables(d) + HALF - desc->addr) & ~15u;
	}
	scrub_at(d, (uint64_t)desc, 16);
}

/* Page numbers for the balloon's inflate and deflate queues: mostly pages of its own arena (so
 * pages really go and come back), sometimes past RAM or anything scrub() lets through. */
static void balloon_pfns(const struct fdev *d, uint32_t *w, uint32_t len)
{
	for (uint32_t i = 0; i < len / 4; i++)
		w[i] = (uint32_t)(chance(80)   ? (d->arena + below(ARENA_SIZE)) / 4096
				  : chance(50) ? ram_end / 4096 + below(1 << 20)
					       : rnd());
}

/*
 * The contents a device would parse at the start of a chain's first readable buffer:
 * virtio-blk's request header (type, sector), virtio-vsock's packet header (CIDs, ports, length,
 * type, op), the balloon's page numbers; random fields where it matters. Other devices (net,
 * console, the balloon's statistics) get the arena's random bytes.
 */
static void plausible_header(const struct fdev *d, unsigned qi, uint64_t a, uint32_t len)
{
	static const uint32_t blk_types[] = {0, 1, 4, 8, 11, 13, 99};
	uint32_t *w = (uint32_t *)a;

	if (a < d->arena || a + len > d->arena + ARENA_SIZE)
		return;
	if (d->id == VIRTIO_ID_BALLOON && qi < 2) {
		balloon_pfns(d, w, len);
		scrub_at(d, a, len);
		return;
	}
	if (len < 44)
		return;
	if (d->id == VIRTIO_ID_BLOCK) {
		w[0] = blk_types[below(ARRAY_LEN(blk_types))];
		w[1] = 0;
		*(uint64_t *)(w + 2) = chance(80) ? below(4096) : rnd();
	} else if (d->id == VIRTIO_ID_VSOCK) {
		*(uint64_t *)w = chance(90) ? 3 : rnd();       /* src_cid */
		*(uint64_t *)(w + 2) = chance(90) ? 2 : rnd(); /* dst_cid */
		w[4] = (uint32_t)below(4);		       /* src_port */
		/* dst_port: run-guest's listeners at 10000 and 10001, nobody at 10002 */
		w[5] = chance(50) ? 10000 + (uint32_t)below(3) : (uint32_t)rnd();
		w[6] = (uint32_t)(chance(80) ? below(len - 44 + 1) : rnd()); /* len */
		w[7] = (uint32_t)((chance(90) ? 1 : below(4)) | /* type, op: REQUEST often */
				  (chance(40) ? 1 : 1 + below(8)) << 16);
		w[8] = (uint32_t)below(4);	 /* flags */
		w[9] = (uint32_t)fuzz_value(4);	 /* buf_alloc */
		w[10] = (uint32_t)fuzz_value(4); /* fwd_cnt */
	}
	scrub_at(d, a, 44);
}

/*
 * Where the device-writable part of a well-formed chain of n on queue qi starts, mostly as the
 * device expects it: receive-like queues all writable, transmit-like all readable, virtio-blk a
 * readable header first; sometimes anywhere.
 */
static unsigned writable_from(const struct fdev *d, unsigned qi, unsigned n)
{
	if (chance(30))
		return (unsigned)below(n + 1);
	switch (d->id) {
	case VIRTIO_ID_BLOCK:
		return 1 + (unsigned)below(n);
	case VIRTIO_ID_RNG:
		return 0;
	case VIRTIO_ID_BALLOON: /* inflate, deflate, statistics readable; reporting writable */
		return qi == 3 ? 0 : n;
	default: /* net, console, vsock: receive 0, transmit 1 (vsock: events 2) */
		return qi == 1 ? n : 0;
	}
}

/* A well-formed chain of 1-4 descriptors at head: in-arena buffers, readable ones first. */
static void good_chain(const struct fdev *d, unsigned qi, unsigned head, unsigned size)
{
	const struct fq *q = &d->q[qi];
	struct virtq_desc *desc = (struct virtq_desc *)q->desc;
	unsigned n = 1 + (unsigned)below(size < 4 ? size : 4), i = head;
	unsigned wfrom = writable_from(d, qi, n);

	for (unsigned k = 0; k < n; k++) {
		unsigned next = (i + 1) % size;
		uint32_t len = (uint32_t)(chance(80) ? 44 + below(600) : below(16384));
		uint64_t a = (buffers(d) + below(HALF - USED_AREA - len)) & ~7ULL;

		desc[i] =
		    (struct virtq_desc){.addr = a,
					.len = len,
					.flags = (uint16_t)((k >= wfrom ? VIRTQ_DESC_F_WRITE : 0) |
							    (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
					.next = (uint16_t)next};
		if (k == 0)
			plausible_header(d, qi, a, len);
		scrub_at(d, (uint64_t)&desc[i], 16);
		i = next;
	}
}

/* A burst on queue qi: random descriptors (or well-formed chains), random heads made available,
 * a notification. */
static void chain_burst(struct fdev *d, unsigned qi)
{
	struct fq *q = &d->q[qi];
	struct virtq_avail *av = (struct virtq_avail *)q->avail;
	unsigned size = q->size && q->size <= QMAX ? q->size : QMAX, n = 1 + (unsigned)below(8);
	unsigned start = (unsigned)below(size);
	bool good = chance(75);

	if (good && n > (size + 3) / 4)
		n = (size + 3) / 4; /* well-formed chains 4 descriptors apart do not overlap */
	for (unsigned k = good ? 0 : below(2 * size) + 1; k > 0; k--)
		write_desc(d, q, (unsigned)below(size));
	for (unsigned k = 0; k < n; k++) {
		uint16_t head = (uint16_t)(good		? (start + 4 * k) % size
					   : chance(90) ? below(size)
							: fuzz_value(2));

		if (good)
			good_chain(d, qi, head, size);
		av->ring[(q->avail_idx + k) % size] = head;
		d->chains++;
	}
	if (chance(10))
		av->ring[size] = (uint16_t)rnd(); /* used_event */
	if (chance(5))
		av->flags = (uint16_t)rnd();
	q->avail_idx = (uint16_t)(q->avail_idx + (chance(98) ? n : rnd()));
	__atomic_store_n(&av->idx, q->avail_idx, __ATOMIC_RELEASE);
	scrub_at(d, q->avail, 6 + 2 * QMAX);
	q->avail_idx = av->idx; /* the scrub may have changed it */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, chance(95) ? qi : (uint32_t)fuzz_value(4));
}

/*
 * After NEEDS_RESET: the last initialisation again (its features and queue layouts), properly,
 * drawing nothing from the generator, its accesses counted apart: what the device answered
 * changes neither the random sequence nor the access count, so a seed replays exactly.
 */
static void recover(struct fdev *d)
{
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	recovering = true;
	reg_wr(d, VIRTIO_MMIO_STATUS, 0);
	reg_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	reg_wr(d, VIRTIO_MMIO_STATUS, st);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEAT_SEL, 0);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->features);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEAT_SEL, 1);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	reg_wr(d, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned qi = 0; qi < d->nq; qi++)
		if (d->q[qi].set)
			queue_program(d, qi, 1);
	reg_wr(d, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	recovering = false;
}

/* Give the device a moment (its thread works asynchronously) and look at what it did; a device
 * that needs a reset gets one (recover()). */
static void observe(struct fdev *d)
{
	uint32_t status;

	for (unsigned i = 0; i < 200; i++)
		guest_pause();
	status = reg_rd(d, VIRTIO_MMIO_STATUS);
	reg_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS));
	for (unsigned qi = 0; qi < d->nq; qi++) {
		struct fq *q = &d->q[qi];
		uint64_t u = q->used;

		if (u >= d->arena && u + 4 <= d->arena + ARENA_SIZE) {
			uint16_t idx = ((volatile struct virtq_used *)u)->idx;

			d->used += (uint16_t)(idx - q->used_seen);
			q->used_seen = idx;
		}
	}
	if ((status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET |
		       VIRTIO_STATUS_FAILED)) == VIRTIO_STATUS_DRIVER_OK)
		d->live++;
	if (status & VIRTIO_STATUS_NEEDS_RESET) {
		d->needs_reset++;
		recover(d);
	}
}

static void phase_queues(struct fdev *d, unsigned bursts)
{
	if (chance(30) || d->inits == 0)
		device_init(d);
	for (unsigned b = 0; b < bursts && d->nq; b++) {
		unsigned qi = (unsigned)below(d->nq);

		if (rings_ours(d, &d->q[qi]))
			chain_burst(d, qi);
		if (chance(30))
			observe(d);
		if (chance(3))
			device_init(d);
		if (chance(2))
			queue_setup(d, qi);
	}
	observe(d);
}

/* ---- the end: every device still answers ----------------------------------------------- */

static void check_alive(void)
{
	uint8_t *buf = virtio_alloc(4096, 4096);

	if (have_testdev) {
		mmio_write64(0xd8000000, 0x1122334455667788ULL);
		GUEST_ASSERT_EQ(mmio_read64(0xd8000000), 0x1122334455667788ULL);
		outb(0xe0, 0x5a);
		GUEST_ASSERT_EQ(inb(0xe0), 0x5a);
	}
	outb(0x2ff, 0xa5); /* COM2's scratch register */
	GUEST_ASSERT_EQ(inb(0x2ff), 0xa5);
	for (unsigned i = 0; i < nr_devs; i++) {
		struct vdev v = {.base = devs[i].base, .id = devs[i].id};
		struct vq q;

		vdev_write(&v, VIRTIO_MMIO_DEVICE_FEAT_SEL, 1);
		v.offered = (uint64_t)vdev_read(&v, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
		vdev_write(&v, VIRTIO_MMIO_DEVICE_FEAT_SEL, 0);
		v.offered |= vdev_read(&v, VIRTIO_MMIO_DEVICE_FEATURES);
		vdev_init(&v, VIRTIO_BIT(VIRTIO_F_VERSION_1));
		vq_setup(&v, &q, 0, 16);
		vdev_driver_ok(&v);
		if (v.id == VIRTIO_ID_RNG) {
			struct vbuf b = {buf, 64, true};

			GUEST_ASSERT(VQ_RUN(&q, &b, 1) > 0);
		}
		if (v.id == VIRTIO_ID_BLOCK) {
			static struct {
				uint32_t type, reserved;
				uint64_t sector;
			} hdr; /* a read of sector 0 */
			struct vbuf b[3] = {
			    {&hdr, 16, false}, {buf, 512, true}, {buf + 512, 1, true}};

			buf[512] = 0xff;
			VQ_RUN(&q, b, 3);
			GUEST_ASSERT_EQ(buf[512], 0);
		}
		GUEST_ASSERT_EQ(
		    vdev_status(&v) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED), 0);
		vdev_reset(&v);
	}
	guest_printf("guest_fuzz: all %u virtio devices reset, re-initialised and answered\n",
		     nr_devs);
}

/* ---- main ----------------------------------------------------------------------------------- */

static void setup(uint64_t seed)
{
	uint64_t v;

	pic_mask_all();
	have_pvpanic = guest_cmdline_u64("pvpanic", &v) && v;
	have_testdev = mmio_read32(0xd8000000) != 0xffffffff; /* it starts zeroed */
	com1_lcr = inb(0x3fb);
	com1_mcr = inb(0x3fc);
	com1_ier = inb(0x3f9);
	find_ram();
	find_devices(); /* the command line is read here for the last time: [0, 1 MiB) is fair game
			 */
	rng_seed(seed);
	for (unsigned i = 0; i < nr_devs; i++)
		arena_fill(&devs[i]);
}

static void summary(uint64_t seed, uint64_t t0)
{
	uint64_t ms = (guest_rdtsc() - t0) / guest_tsc_per_ms();

	guest_printf("guest_fuzz: seed=%lu: %lu accesses (and %lu re-initialising devices) in %lu "
		     "ms (%lu/s)\n",
		     seed, nr_accesses, nr_recovery, ms,
		     ms ? (nr_accesses + nr_recovery) * 1000 / ms : 0);
	for (unsigned i = 0; i < nr_devs; i++)
		guest_printf("guest_fuzz: device %u at %#lx: %lu inits, %lu chains, %lu used, "
			     "seen live %lu times, NEEDS_RESET %lu times\n",
			     devs[i].id, devs[i].base, devs[i].inits, devs[i].chains, devs[i].used,
			     devs[i].live, devs[i].needs_reset);
}

int main(void)
{
	uint64_t seed = 1, budget = 200000, seconds = 0, t0 = guest_rdtsc(), end = 0;
	uint64_t next_progress = PROGRESS;

	guest_cmdline_u64("seed", &seed);
	guest_cmdline_u64("accesses", &budget);
	if (guest_cmdline_u64("seconds", &seconds) && seconds)
		end = t0 + seconds * 1000 * guest_tsc_per_ms();
	guest_printf("guest_fuzz: seed=%lu accesses=%lu seconds=%lu\n", seed, budget, seconds);
	setup(seed);
	guest_printf(
	    "guest_fuzz: RAM below 4 GiB ends at %#lx, %u virtio devices, test device %s\n",
	    ram_end, nr_devs, have_testdev ? "present" : "absent");
	while (nr_accesses < budget) {
		unsigned phase = (unsigned)below(3);

		if (end && guest_rdtsc() > end) { /* replay: accesses= the count printed below */
			guest_printf("guest_fuzz: time bound of %lu s reached\n", seconds);
			break;
		}
		if (nr_accesses >= next_progress) { /* between batches: COM1 is in order */
			guest_printf("guest_fuzz: %lu accesses\n", nr_accesses);
			next_progress += PROGRESS;
		}
		if (phase == 0)
			phase_ports(256);
		else if (phase == 1 || !nr_devs)
			phase_mmio(256);
		else
			phase_queues(&devs[below(nr_devs)], 16);
	}
	summary(seed, t0);
	check_alive();
	return 0;
}
