/* fuzz_mmds.c — libFuzzer target: MMDS's network stack (src/mmds/ns.c) and the HTTP behind it,
 * fed arbitrary frames and sequences of frames on a clock the input moves.
 *
 * Input: a configuration byte (bit 0: V2, bit 1: imds_compat), then records, each an op byte:
 *   op & 3 == 0  a frame: u16 LE length, then that many bytes (fewer at the input's end). Bit 7:
 *                the harness first fixes its IPv4 header and TCP checksums (so that mutations
 *                reach TCP); bit 6: it goes in with MMDS_NS_RX_CSUM_PARTIAL.
 *   op & 3 == 1  the clock moves (op >> 2) * 97 ms, or 200 s when op >> 2 is 63.
 *   op & 3 == 2  the output is drained into a buffer of 60 + (op >> 2) * 24 bytes.
 *   op & 3 == 3  the guest answers the last segment MMDS sent (addresses and ports swapped, its
 *                ACK as sequence number, acknowledging all of it): a flags byte, a u16 LE window,
 *                a u16 LE payload length and the payload; checksums right.
 * The input ends with a full drain. The random source is deterministic (a counter), so initial
 * sequence numbers and tokens repeat from run to run.
 *
 * Checks: no read or write outside a frame or buffer (AddressSanitizer), no undefined behaviour;
 * every output frame fits its buffer, comes from MMDS's MAC, and carries right IPv4 and TCP
 * checksums and lengths; a drain ends (no frame storm) and leaves nothing due: the next deadline
 * is later than now.
 *
 * Build: meson setup build-fuzz -Dfuzz=true with CC=clang (see tests/fuzz/meson.build).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/ns.h"

#define MMDS_IP	  0xa9fea9feu
#define DRAIN_MAX 100000
#define BIG                                                                                        \
	"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdef" \
	"g"                                                                                        \
	"hijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvw" \
	"x"
#define STORE_DOC                                                                                  \
	"{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-12345678\",\"n\":[1,2.5,true,null,\"x\"],"   \
	"\"o\":{}},\"user-data\":\"aGVsbG8=\"},\"big\":\"" BIG BIG BIG BIG BIG BIG BIG BIG "\"}"

static struct mmds store;
static uint64_t rand_counter;
static uint8_t last[MMDS_NS_FRAME_MIN + 64]; /* the last TCP segment MMDS sent */
static size_t last_len;

static ssize_t counter_random(void *buf, size_t len, unsigned int flags)
{
	(void)flags;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(++rand_counter * 0x9e3779b97f4a7c15ull >> 56);
	return (ssize_t)len;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t tcp_sum(const uint8_t *ip, const uint8_t *t, size_t n)
{
	uint32_t s = 6 + (uint32_t)n;

	for (int i = 12; i < 20; i += 2)
		s += get16(ip + i);
	return sum(t, n, s);
}

/* Right the IPv4 header and TCP checksums of frame f (n bytes) where its lengths allow. */
static void fix(uint8_t *f, size_t n)
{
	size_t ihl, total;

	if (n < 34 || get16(f + 12) != 0x0800)
		return;
	ihl = (size_t)(f[14] & 15) * 4;
	if (ihl < 20 || 14 + ihl > n)
		return;
	put16(f + 24, 0);
	put16(f + 24, sum(f + 14, ihl, 0));
	total = get16(f + 16);
	if (f[23] != 6 || total < ihl + 20 || 14 + total > n)
		return;
	put16(f + 14 + ihl + 16, 0);
	put16(f + 14 + ihl + 16, tcp_sum(f + 14, f + 14 + ihl, total - ihl));
}

/* An output frame of n bytes in a buffer of cap: as ns.h promises. */
static void check_frame(const uint8_t *f, size_t n, size_t cap)
{
	static const uint8_t mac[6] = MMDS_NS_MAC;
	size_t total;

	if (n > cap || n < 42 || memcmp(f + 6, mac, 6))
		abort();
	if (get16(f + 12) == 0x0806)
		return;
	total = get16(f + 16);
	if (get16(f + 12) != 0x0800 || f[14] != 0x45 || total != n - 14 || sum(f + 14, 20, 0) ||
	    f[23] != 6 || total < 40 || tcp_sum(f + 14, f + 34, total - 20))
		abort();
	memcpy(last, f, n);
	last_len = n;
}

static void drain(struct mmds_ns *ns, size_t cap, uint64_t now)
{
	static uint8_t buf[2048];
	size_t n, frames = 0;

	while ((n = mmds_ns_output(ns, buf, cap, now))) {
		check_frame(buf, n, cap);
		if (++frames > DRAIN_MAX)
			abort();
	}
	if (mmds_ns_next_deadline(ns) <= now)
		abort();
}

/* The guest's answer to the last segment: flags, window, payload. */
static void answer(struct mmds_ns *ns, const uint8_t *p, size_t n, size_t *used, uint64_t now)
{
	static uint8_t f[14 + 20 + 20 + 65536];
	const uint8_t *ip = last + 14, *t = last + 34;
	size_t plen;
	uint32_t seq, ack;

	*used = n < 5 ? n : 5;
	if (n < 5 || !last_len)
		return;
	plen = (size_t)(p[3] | p[4] << 8);
	if (plen > n - 5)
		plen = n - 5;
	*used = 5 + plen;
	seq = (uint32_t)get16(t + 8) << 16 | get16(t + 10);
	ack = ((uint32_t)get16(t + 4) << 16 | get16(t + 6)) +
	      (uint32_t)(last_len - 34 - (size_t)(t[12] >> 4) * 4) + !!(t[13] & 0x02) +
	      !!(t[13] & 0x01);
	memcpy(f, last + 6, 6);
	memcpy(f + 6, last, 6);
	put16(f + 12, 0x0800);
	memset(f + 14, 0, 40);
	f[14] = 0x45;
	put16(f + 16, (unsigned)(40 + plen));
	f[22] = 64;
	f[23] = 6;
	memcpy(f + 26, ip + 16, 4);
	memcpy(f + 30, ip + 12, 4);
	memcpy(f + 34, t + 2, 2);
	memcpy(f + 36, t, 2);
	put16(f + 38, seq >> 16);
	put16(f + 40, seq & 0xffff);
	put16(f + 42, ack >> 16);
	put16(f + 44, ack & 0xffff);
	f[46] = 0x50;
	f[47] = p[0];
	f[48] = p[2];
	f[49] = p[1];
	memcpy(f + 54, p + 5, plen);
	fix(f, 54 + plen);
	mmds_ns_input(ns, f, 54 + plen, 0, now);
}

static void frame(struct mmds_ns *ns, uint8_t op, const uint8_t *p, size_t n, size_t *used,
		  uint64_t now)
{
	static uint8_t f[65536];
	size_t hdr = n < 2 ? n : 2, len = hdr == 2 ? (size_t)(p[0] | p[1] << 8) : 0;

	if (len > n - hdr)
		len = n - hdr;
	*used = hdr + len;
	memcpy(f, p + hdr, len);
	if (op & 0x80)
		fix(f, len);
	(void)mmds_ns_is_for_mmds(ns, f, len);
	mmds_ns_input(ns, f, len, op & 0x40 ? MMDS_NS_RX_CSUM_PARTIAL : 0, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmds_ns_config c = {MMDS_IP, MMDS_V1, false, NULL, counter_random};
	struct mmds_ns *ns;
	uint64_t now = 1000;
	size_t pos = 1;

	if (!store.data) {
		json_t *doc = json_loads(STORE_DOC, 0, NULL);

		mmds_init(&store, 4096);
		if (!doc || mmds_put(&store, doc))
			abort();
		json_decref(doc);
	}
	if (!size)
		return 0;
	c.version = data[0] & 1 ? MMDS_V2 : MMDS_V1;
	c.imds_compat = data[0] & 2;
	rand_counter = 0;
	last_len = 0;
	if (mmds_ns_create(&store, &c, &ns))
		abort();
	while (pos < size) {
		uint8_t op = data[pos++];
		size_t used = 0;

		switch (op & 3) {
		case 0:
			frame(ns, op, data + pos, size - pos, &used, now);
			break;
		case 1:
			now += op >> 2 == 63 ? 200000 : (uint64_t)(op >> 2) * 97;
			break;
		case 2:
			drain(ns, 60 + (size_t)(op >> 2) * 24, now);
			break;
		default:
			answer(ns, data + pos, size - pos, &used, now);
		}
		pos += used;
	}
	drain(ns, MMDS_NS_FRAME_MIN, now);
	mmds_ns_destroy(ns);
	return 0;
}
