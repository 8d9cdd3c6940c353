/* fuzz_vsock.c — libFuzzer target: virtio-vsock's packet handling (src/virtio/vsock.c,
 * vsock_conn.c). The input is a list of operations a hostile guest and a host peer perform:
 * transmit packets whose 44-byte header and payload come from the input (split over one or two
 * descriptors at an input-chosen point, the header's length field free), receive and event
 * buffers of input-chosen sizes, host connections with input-chosen CONNECT lines and data,
 * host closes, driver resets and a save/load (TRANSPORT_RESET). A host listener at
 * "<uds>_1" and "<uds>_2" accepts guest connections. The device must stay within its bounds
 * (connections, buffered bytes, resets queued, every used length within its chain), never
 * spin the loop; AddressSanitizer and UBSan watch the rest. The transport is left out: the
 * input drives the device through the calls a transport makes.
 *
 * Input: operations of [op][a][b][n] then n bytes (op % 8: 0 transmit, 1 receive buffers,
 * 2 event buffer, 3 host connect + line, 4 host data, 5 host close, 6 save/load, 7 reset).
 *
 * Build: meson setup build-fuzz -Dfuzz=true with CC=clang (see tests/fuzz/meson.build).
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "util/log.h"
#include "util/unix_sock.h"
#include "virtio/vsock.h"
#include "virtio/vsock_conn.h"

#define MEM_LEN	 0x40000ull
#define QSIZE	 64
#define RING(q)	 ((uint64_t)(q)*0x1000)
#define BUF_AREA 0x4000ull
#define NR_HOST	 8
#define CID	 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static uint8_t *ram;
static struct event_loop loop;
static char dir[64], uds[108];
static int listeners[2] = {-1, -1};

struct drv {
	uint16_t avail_idx[3], next_desc[3];
	uint64_t heap;
	int host[NR_HOST];
};

static void setup_once(void)
{
	static bool ready;
	char p[128];

	if (ready)
		return;
	log_set_level(LOG_OFF);
	ram = aligned_alloc(4096, MEM_LEN);
	assert(ram);
	guest_mem_init(&mem, -1);
	strcpy(dir, "/tmp/kiln-fuzz-vsock-XXXXXX");
	if (guest_mem_add_host(&mem, 0, MEM_LEN, ram, GUEST_MEM_RAM) < 0 ||
	    event_loop_init(&loop) < 0 || !mkdtemp(dir))
		abort();
	snprintf(uds, sizeof(uds), "%s/v", dir);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s_%d", uds, i + 1);
		listeners[i] = unix_listen(p, 64, SOCK_NONBLOCK);
		assert(listeners[i] >= 0);
	}
	ready = true;
}

static void put16(uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(ram + gpa, &v, 2);
}

/* Add a chain of n buffers (gpa, len, writable) on queue q and publish it. */
static void add_chain(struct drv *d, unsigned q, const uint64_t *gpa, const uint32_t *len,
		      unsigned n, bool writable)
{
	uint16_t head = d->next_desc[q];

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE);
		uint8_t *desc = ram + RING(q) + idx * 16u;
		uint64_t a = htole64(gpa[i]);
		uint32_t l = htole32(len[i]);
		uint16_t fl = htole16((uint16_t)((writable ? 2 : 0) | (i + 1 < n ? 1 : 0)));
		uint16_t nx = htole16((uint16_t)((idx + 1) % QSIZE));

		memcpy(desc, &a, 8);
		memcpy(desc + 8, &l, 4);
		memcpy(desc + 12, &fl, 2);
		memcpy(desc + 14, &nx, 2);
	}
	d->next_desc[q] = (uint16_t)((head + n) % QSIZE);
	put16(RING(q) + 0x400 + 4 + (d->avail_idx[q] % QSIZE) * 2u, head);
	d->avail_idx[q]++;
	put16(RING(q) + 0x400 + 2, d->avail_idx[q]);
}

/* n bytes of guest memory from a wrapping bump allocator. */
static uint64_t alloc(struct drv *d, uint32_t n)
{
	if (d->heap + n > MEM_LEN)
		d->heap = BUF_AREA;
	d->heap += n;
	return d->heap - n;
}

static void locked(struct virtio_vsock *vs, void (*fn)(struct virtio_dev *, unsigned), unsigned q)
{
	pthread_mutex_lock(&vs->vd.lock);
	fn(&vs->vd, q);
	pthread_mutex_unlock(&vs->vd.lock);
}

static void driver_init(struct virtio_vsock *vs, struct drv *d)
{
	struct virtio_dev *vd = &vs->vd;
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	pthread_mutex_lock(&vd->lock);
	virtio_dev_write_status(vd, 0);
	memset(ram, 0, BUF_AREA);
	memset(d->avail_idx, 0, sizeof(d->avail_idx));
	memset(d->next_desc, 0, sizeof(d->next_desc));
	virtio_dev_write_status(vd, st);
	vd->driver_features = 1ull << VIRTIO_F_VERSION_1;
	virtio_dev_write_status(vd, st | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 3; q++) {
		vd->vq[q].size = QSIZE;
		vd->vq[q].desc_gpa = RING(q);
		vd->vq[q].avail_gpa = RING(q) + 0x400;
		vd->vq[q].used_gpa = RING(q) + 0x800;
		virtio_dev_queue_ready(vd, q);
	}
	virtio_dev_write_status(vd, st | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	pthread_mutex_unlock(&vd->lock);
}

/* A transmit packet: the n input bytes, split at a % (n + 1) over one or two descriptors. */
static void op_tx(struct virtio_vsock *vs, struct drv *d, uint8_t a, const uint8_t *p, size_t n)
{
	uint64_t gpa[2];
	uint32_t len[2];
	uint32_t cut = n ? a % (uint32_t)(n + 1) : 0;

	gpa[0] = alloc(d, (uint32_t)n + 1);
	memcpy(ram + gpa[0], p, n);
	if (n >= 16) { /* CIDs mostly right, so packets get past the first check */
		uint64_t src = htole64(CID), dst = htole64(VSOCK_HOST_CID);

		if (!(a & 0x80))
			memcpy(ram + gpa[0], &src, 8), memcpy(ram + gpa[0] + 8, &dst, 8);
	}
	if (cut && cut < n) {
		gpa[1] = gpa[0] + cut;
		len[0] = cut;
		len[1] = (uint32_t)n - cut;
		add_chain(d, VSOCK_TXQ, gpa, len, 2, false);
	} else {
		len[0] = (uint32_t)n;
		add_chain(d, VSOCK_TXQ, gpa, len, 1, false);
	}
	locked(vs, virtio_dev_notify, VSOCK_TXQ);
}

static void op_rx(struct virtio_vsock *vs, struct drv *d, uint8_t a, uint8_t b)
{
	for (unsigned i = 0; i < (a % 8u) + 1; i++) {
		uint32_t len = (uint32_t)b * 64 + (a & 0x40 ? 44 : 0);
		uint64_t gpa = alloc(d, len + 1);

		add_chain(d, VSOCK_RXQ, &gpa, &len, 1, true);
	}
	locked(vs, virtio_dev_notify, VSOCK_RXQ);
}

static void op_host(struct drv *d, unsigned op, uint8_t a, const uint8_t *p, size_t n)
{
	int *h = &d->host[a % NR_HOST];

	if (op == 3 && *h < 0) {
		*h = unix_connect(uds, SOCK_NONBLOCK, 0);
		op = 4;
	}
	if (op == 4 && *h >= 0 && n)
		(void)send(*h, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (op == 5 && *h >= 0) {
		close(*h);
		*h = -1;
	}
}

static void save_load(struct virtio_vsock *vs)
{
	struct state_buf w = {0}, r;
	uint16_t v;

	if (state_begin_section(&w, "v", VIRTIO_VSOCK_STATE_VERSION) == 0 &&
	    virtio_vsock_save(vs, &w) == 0 && state_end_section(&w) == 0 &&
	    state_open(&r, w.data, w.len) == 0 && state_section(&r, "v", &v) == 0 &&
	    virtio_vsock_load(vs, &r, VIRTIO_VSOCK_STATE_VERSION) == 0) {
		pthread_mutex_lock(&vs->vd.lock);
		virtio_dev_restored(&vs->vd);
		pthread_mutex_unlock(&vs->vd.lock);
	}
	state_buf_free(&w);
}

/* Accept and drain what guest connections sent; the loop a bounded number of rounds. */
static void pump(void)
{
	static uint8_t buf[65536];

	for (int round = 0; round < 8 && event_loop_dispatch(&loop, 0) > 0; round++)
		;
	for (int i = 0; i < 2; i++) {
		int fd;

		while ((fd = accept(listeners[i], NULL, NULL)) >= 0) {
			(void)send(fd, "host data", 9, MSG_DONTWAIT | MSG_NOSIGNAL);
			while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
			close(fd);
		}
	}
}

static void check(struct virtio_vsock *vs)
{
	unsigned n = 0;

	assert(vs->nr_conns <= VSOCK_CONN_MAX && vs->rst_len <= VSOCK_RSTQ_MAX);
	for (struct vsock_conn *c = vs->all; c; c = c->next, n++)
		assert(c->buf_used <= VSOCK_CONN_BUF && (c->buf_used == 0) == (c->buf == NULL));
	assert(n == vs->nr_conns);
	for (unsigned q = 0; q < 3; q++) {
		const struct virtq *vq = &vs->vd.vq[q];

		assert(!vq->active || (uint16_t)(vq->last_avail - vq->used_idx) <= vq->size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_vsock_config c = {
	    .mem = &mem, .loop = &loop, .guest_cid = CID, .uds_path = NULL};
	struct virtio_vsock *vs;
	struct drv d = {.heap = BUF_AREA};
	size_t off = 0;

	setup_once();
	c.uds_path = uds;
	memset(d.host, -1, sizeof(d.host));
	if (virtio_vsock_create(&c, &vs) < 0)
		abort();
	driver_init(vs, &d);
	while (off + 4 <= size) {
		uint8_t op = data[off] % 8, a = data[off + 1], b = data[off + 2];
		size_t n = data[off + 3] + (op == 0 ? (size_t)b * 64 : 0);
		const uint8_t *p = data + off + 4;

		n = n < size - off - 4 ? n : size - off - 4;
		off += 4 + n;
		if (op == 0)
			op_tx(vs, &d, a, p, n);
		else if (op == 1)
			op_rx(vs, &d, a, b);
		else if (op == 2) {
			uint64_t gpa = alloc(&d, 8);
			uint32_t len = b % 8;

			add_chain(&d, VSOCK_EVQ, &gpa, &len, 1, true);
			locked(vs, virtio_dev_notify, VSOCK_EVQ);
		} else if (op <= 5)
			op_host(&d, op, a, p, n);
		else if (op == 6)
			save_load(vs);
		else
			driver_init(vs, &d);
		pump();
		check(vs);
	}
	for (int i = 0; i < NR_HOST; i++)
		if (d.host[i] >= 0)
			close(d.host[i]);
	virtio_vsock_destroy(vs);
	pump();
	return 0;
}
