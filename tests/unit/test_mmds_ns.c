/* test_mmds_ns.c — MMDS's network stack driven by a tiny TCP client written here: it crafts the
 * guest's frames (checksums computed independently of ns.c), checks every frame MMDS sends
 * (addresses, lengths, both checksums) and plays the guest's side: ARP, the handshake and its MSS,
 * requests in one or several segments, responses larger than the MSS reassembled under a small
 * window, FIN close, RSTs, malformed frames at every layer, a full connection table, timeouts
 * and retransmission on a clock the test moves, zero windows, duplicate ACKs and oversized
 * requests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mmds/http.h"
#include "mmds/ns.h"

#define MMDS_IP	 0xa9fea9feu /* 169.254.169.254 */
#define GUEST_IP 0xa9fe0002u /* 169.254.0.2 */
#define F_FIN	 0x01
#define F_SYN	 0x02
#define F_RST	 0x04
#define F_PSH	 0x08
#define F_ACK	 0x10

static const uint8_t GUEST_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t MMDS_MAC[6] = MMDS_NS_MAC;

/* The guest: one connection at a time, its next sequence number and what it expects. */
struct g {
	struct mmds store;
	struct mmds_ns *ns;
	uint64_t now;
	uint16_t port;
	uint32_t seq, ack; /* next to send; next expected from MMDS */
	uint16_t wnd;
	uint8_t frame[MMDS_NS_FRAME_MIN];
};

/* A frame from MMDS, parsed. */
struct o {
	size_t len;
	uint16_t type;
	uint8_t flags;
	uint32_t src, dst, seq, ack;
	uint16_t sport, dport, wnd, mss;
	const uint8_t *data;
	size_t dlen;
};

static uint64_t rand_state;

static ssize_t fake_random(void *buf, size_t len, unsigned int flags)
{
	(void)flags;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)((++rand_state * 0x9e3779b97f4a7c15ull) >> 56);
	return (ssize_t)len;
}

/* ---- bytes and checksums, independently of ns.c ---- */

static void w16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void w32(uint8_t *p, uint32_t v)
{
	w16(p, v >> 16);
	w16(p + 2, v & 0xffff);
}

static unsigned r16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t r32(const uint8_t *p)
{
	return (uint32_t)r16(p) << 16 | r16(p + 2);
}

static uint16_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t tcp_sum(uint32_t src, uint32_t dst, const uint8_t *t, size_t n)
{
	uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + (uint32_t)n;

	return sum16(t, n, s);
}

/* ---- frames from the guest ---- */

struct seg_spec {
	uint32_t src, dst;
	uint16_t sport, dport, wnd, mss; /* mss 0: no option */
	uint32_t seq, ack;
	uint8_t flags;
	const void *data;
	size_t len;
};

static size_t build(uint8_t *f, const struct seg_spec *s)
{
	uint8_t *ip = f + 14, *t = ip + 20;
	size_t hl = s->mss ? 24 : 20, tl = hl + s->len;

	memcpy(f, MMDS_MAC, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	w16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	w16(ip + 2, (unsigned)(20 + tl));
	ip[8] = 64;
	ip[9] = 6;
	w32(ip + 12, s->src);
	w32(ip + 16, s->dst);
	w16(ip + 10, sum16(ip, 20, 0));
	memset(t, 0, hl);
	w16(t, s->sport);
	w16(t + 2, s->dport);
	w32(t + 4, s->seq);
	w32(t + 8, s->ack);
	t[12] = (uint8_t)(hl / 4 << 4);
	t[13] = s->flags;
	w16(t + 14, s->wnd);
	if (s->mss) {
		t[20] = 2;
		t[21] = 4;
		w16(t + 22, s->mss);
	}
	if (s->len)
		memcpy(t + hl, s->data, s->len);
	w16(t + 16, tcp_sum(s->src, s->dst, t, tl));
	return 14 + 20 + tl;
}

/* The guest's next segment on its connection; its sequence number advances. */
static void send_seg(struct g *g, uint8_t flags, const void *data, size_t len)
{
	uint8_t f[4096];
	struct seg_spec s = {GUEST_IP, MMDS_IP, g->port, 80,   g->wnd, 0,
			     g->seq,   g->ack,	flags,	 data, len};

	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	g->seq += (uint32_t)len + !!(flags & F_SYN) + !!(flags & F_FIN);
}

static void send_str(struct g *g, const char *text)
{
	send_seg(g, F_ACK | F_PSH, text, strlen(text));
}

/* ---- frames from MMDS ---- */

/* The next frame MMDS sends, checked and parsed into o; false if none. */
static bool pull(struct g *g, struct o *o)
{
	const uint8_t *f = g->frame, *ip = f + 14, *t = ip + 20;
	size_t tl;

	memset(o, 0, sizeof(*o));
	o->len = mmds_ns_output(g->ns, g->frame, sizeof(g->frame), g->now);
	if (!o->len)
		return false;
	assert_memory_equal(f + 6, MMDS_MAC, 6);
	assert_memory_equal(f, GUEST_MAC, 6);
	o->type = (uint16_t)r16(f + 12);
	if (o->type == 0x0806)
		return true;
	assert_int_equal(o->type, 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(r16(ip + 2), o->len - 14);
	assert_int_equal(sum16(ip, 20, 0), 0);
	assert_true(ip[8] > 0);
	assert_int_equal(ip[9], 6);
	o->src = r32(ip + 12);
	o->dst = r32(ip + 16);
	tl = o->len - 34;
	assert_int_equal(tcp_sum(o->src, o->dst, t, tl), 0);
	o->sport = (uint16_t)r16(t);
	o->dport = (uint16_t)r16(t + 2);
	o->seq = r32(t + 4);
	o->ack = r32(t + 8);
	o->flags = t[13];
	o->wnd = (uint16_t)r16(t + 14);
	if ((t[12] >> 4) == 6 && t[20] == 2 && t[21] == 4)
		o->mss = (uint16_t)r16(t + 22);
	o->data = t + (t[12] >> 4) * 4;
	o->dlen = tl - (size_t)(t[12] >> 4) * 4;
	assert_int_equal(o->src, MMDS_IP);
	return true;
}

static void expect_none(struct g *g)
{
	struct o o;

	if (pull(g, &o))
		fail_msg("unexpected frame: flags %#x seq %u len %zu", o.flags, o.seq, o.dlen);
}

/* The next frame is a TCP segment with exactly these flags; returned in o. */
static void expect_seg(struct g *g, struct o *o, uint8_t flags)
{
	assert_true(pull(g, o));
	assert_int_equal(o->type, 0x0800);
	if (o->flags != flags)
		fail_msg("flags %#x, want %#x", o->flags, flags);
	assert_int_equal(o->dst, GUEST_IP);
}

/* ---- fixture ---- */

static void put_doc(struct g *g, const char *text)
{
	json_t *v = json_loads(text, 0, NULL);

	assert_non_null(v);
	assert_int_equal(mmds_put(&g->store, v), 0);
	json_decref(v);
}

static struct g *make(enum mmds_version version)
{
	struct g *g = calloc(1, sizeof(*g));
	struct mmds_ns_config c = {MMDS_IP, version, false, NULL, fake_random};

	mmds_init(&g->store, MMDS_DEFAULT_LIMIT);
	put_doc(g, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-12345678\"}}}");
	assert_int_equal(mmds_ns_create(&g->store, &c, &g->ns), 0);
	g->now = 1000;
	g->port = 40000;
	g->wnd = 64000;
	return g;
}

static int setup(void **st)
{
	*st = make(MMDS_V1);
	return 0;
}

static int teardown(void **st)
{
	struct g *g = *st;

	mmds_ns_destroy(g->ns);
	mmds_destroy(&g->store);
	free(g);
	return 0;
}

static const struct mmds_ns_stats *stats(struct g *g)
{
	return mmds_ns_stats(g->ns);
}

/* Open a connection from g->port announcing mss (0: no option); the SYN-ACK is checked. */
static void connect_mss(struct g *g, uint16_t mss)
{
	uint8_t f[128];
	struct o o;
	struct seg_spec s = {GUEST_IP,	      MMDS_IP, g->port, 80,   g->wnd, mss,
			     1000u * g->port, 0,       F_SYN,	NULL, 0};

	g->seq = s.seq;
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	g->seq++;
	expect_seg(g, &o, F_SYN | F_ACK);
	assert_int_equal(o.ack, g->seq);
	assert_int_equal(o.mss, MMDS_NS_MSS);
	assert_int_equal(o.wnd, 2500);
	assert_int_equal(o.dport, g->port);
	assert_int_equal(o.sport, 80);
	assert_int_equal(o.dlen, 0);
	g->ack = o.seq + 1;
	send_seg(g, F_ACK, NULL, 0);
	expect_none(g);
}

static void connect_(struct g *g)
{
	connect_mss(g, 1460);
}

/* Collect the next HTTP response (headers and Content-Length bytes of body), ACKing each data
 * segment; its body in body (NUL-terminated), its status returned. max_seg: the largest
 * payload allowed. */
static int response(struct g *g, char *body, size_t cap, size_t max_seg)
{
	static char all[65536];
	size_t got = 0, want = SIZE_MAX;
	struct o o;

	while (got < want) {
		char *hend, *cl;

		assert_true(pull(g, &o));
		assert_true(o.flags & F_ACK);
		assert_int_equal(o.seq, g->ack);
		assert_int_equal(o.sport, 80);
		assert_int_equal(o.dport, g->port);
		assert_true(o.dlen > 0 && o.dlen <= max_seg);
		memcpy(all + got, o.data, o.dlen);
		got += o.dlen;
		g->ack += (uint32_t)o.dlen + !!(o.flags & F_FIN);
		send_seg(g, F_ACK, NULL, 0);
		all[got] = '\0';
		hend = strstr(all, "\r\n\r\n");
		cl = strstr(all, "Content-Length: ");
		if (hend && cl)
			want = (size_t)(hend + 4 - all) + strtoul(cl + 16, NULL, 10);
	}
	assert_int_equal(got, want);
	assert_true(o.flags & F_PSH);
	snprintf(body, cap, "%s", strstr(all, "\r\n\r\n") + 4);
	return atoi(all + 9);
}

/* ---- tests ---- */

static size_t arp_request(uint8_t *f, uint32_t target, unsigned op)
{
	uint8_t *a = f + 14;

	memset(f, 0xff, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	w16(f + 12, 0x0806);
	w16(a, 1);
	w16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	w16(a + 6, op);
	memcpy(a + 8, GUEST_MAC, 6);
	w32(a + 14, GUEST_IP);
	memset(a + 18, 0, 6);
	w32(a + 24, target);
	return 42;
}

static void test_arp(void **st)
{
	struct g *g = *st;
	uint8_t f[64];
	const uint8_t *a = g->frame + 14;
	struct o o;
	size_t n = arp_request(f, MMDS_IP, 1);

	assert_true(mmds_ns_is_for_mmds(g->ns, f, n));
	assert_false(mmds_ns_is_for_mmds(g->ns, f, n - 1));
	mmds_ns_input(g->ns, f, n, 0, g->now);
	assert_int_equal(mmds_ns_next_deadline(g->ns), 0);
	assert_true(pull(g, &o));
	assert_int_equal(o.type, 0x0806);
	assert_int_equal(o.len, 42);
	assert_int_equal(r16(a), 1);
	assert_int_equal(r16(a + 2), 0x0800);
	assert_int_equal(r16(a + 6), 2);
	assert_memory_equal(a + 8, MMDS_MAC, 6);
	assert_int_equal(r32(a + 14), MMDS_IP);
	assert_memory_equal(a + 18, GUEST_MAC, 6);
	assert_int_equal(r32(a + 24), GUEST_IP);
	expect_none(g);
	assert_int_equal(mmds_ns_next_deadline(g->ns), UINT64_MAX);
	/* Not for MMDS, not a request, truncated: nothing. */
	n = arp_request(f, 0x0a000001, 1);
	assert_false(mmds_ns_is_for_mmds(g->ns, f, n));
	mmds_ns_input(g->ns, f, n, 0, g->now);
	n = arp_request(f, MMDS_IP, 2);
	assert_false(mmds_ns_is_for_mmds(g->ns, f, n));
	mmds_ns_input(g->ns, f, n, 0, g->now);
	assert_int_equal(stats(g)->rx_dropped, 2);
	for (size_t k = 0; k < 42; k++)
		mmds_ns_input(g->ns, f, k, 0, g->now);
	assert_int_equal(stats(g)->rx_bad, 42);
	expect_none(g);
	assert_int_equal(stats(g)->rx_arp, 1);
	assert_int_equal(stats(g)->tx_frames, 1);
}

static void test_is_for_mmds(void **st)
{
	struct g *g = *st;
	uint8_t f[128];
	struct seg_spec s = {GUEST_IP, MMDS_IP, 1, 80, 100, 0, 1, 0, F_SYN, NULL, 0};
	size_t n = build(f, &s);

	assert_true(mmds_ns_is_for_mmds(g->ns, f, n));
	assert_true(mmds_ns_is_for_mmds(g->ns, f, 34));
	assert_false(mmds_ns_is_for_mmds(g->ns, f, 33));
	assert_false(mmds_ns_is_for_mmds(g->ns, f, 0));
	s.dst = 0x0a000001;
	n = build(f, &s);
	assert_false(mmds_ns_is_for_mmds(g->ns, f, n));
	w16(f + 12, 0x86dd);
	assert_false(mmds_ns_is_for_mmds(g->ns, f, n));
}

static void test_handshake(void **st)
{
	struct g *g = *st;
	uint8_t f[128];
	struct o o;
	struct seg_spec s = {GUEST_IP, MMDS_IP, 5555, 80, 1000, 1000, 77, 0, F_SYN, NULL, 0};

	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	assert_int_equal(mmds_ns_next_deadline(g->ns), 0);
	expect_seg(g, &o, F_SYN | F_ACK);
	assert_int_equal(o.ack, 78);
	assert_int_equal(o.mss, MMDS_NS_MSS);
	assert_int_equal(o.dport, 5555);
	assert_int_equal(stats(g)->connections_created, 1);
	/* The SYN-ACK waits for its ACK: a retransmission deadline. */
	assert_int_equal(mmds_ns_next_deadline(g->ns), g->now + MMDS_NS_RTO_MS);
	/* The same SYN again: the same SYN-ACK at once. */
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	uint32_t iss = o.seq;
	expect_seg(g, &o, F_SYN | F_ACK);
	assert_int_equal(o.seq, iss);
	/* A wrong ACK is answered RST and leaves the connection waiting. */
	s.flags = F_ACK;
	s.seq = 78;
	s.ack = iss + 7;
	s.mss = 0;
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_seg(g, &o, F_RST);
	assert_int_equal(o.seq, iss + 7);
	s.ack = iss + 1;
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_none(g);
	assert_int_equal(mmds_ns_next_deadline(g->ns), g->now + MMDS_NS_IDLE_MS);
	/* No MSS option: 536; one under MMDS_NS_MSS_MIN: the SYN is dropped. */
	g->port = 6000;
	connect_mss(g, 0);
	s.sport = 7000;
	s.flags = F_SYN;
	s.mss = MMDS_NS_MSS_MIN - 1;
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_none(g);
	assert_int_equal(stats(g)->rx_bad, 1);
	assert_int_equal(stats(g)->connections_created, 2);
}

static void test_get_one_segment(void **st)
{
	struct g *g = *st;
	char body[256];

	connect_(g);
	send_str(g, "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\n"
		    "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n");
	assert_int_equal(response(g, body, sizeof(body), 1460), 200);
	assert_string_equal(body, "ami-12345678");
	expect_none(g);
	/* Keep-alive: a second request on the same connection. */
	send_str(g, "GET /latest/ HTTP/1.0\r\n\r\n");
	assert_int_equal(response(g, body, sizeof(body), 1460), 200);
	assert_string_equal(body, "meta-data/");
	assert_int_equal(stats(g)->rx_requests, 2);
	assert_int_equal(stats(g)->rx_no_token, 2);
}

static void test_get_split(void **st)
{
	struct g *g = *st;
	const char *parts[] = {"GET /latest/meta",
			       "-data/ami-id HTTP/1.1\r\nAccept: application/js", "on\r\n", "\r\n"};
	char body[256];
	struct o o;

	connect_(g);
	for (int i = 0; i < 3; i++) {
		send_str(g, parts[i]);
		expect_seg(g, &o, F_ACK);
		assert_int_equal(o.ack, g->seq);
		assert_int_equal(o.dlen, 0);
		expect_none(g);
	}
	send_str(g, parts[3]);
	assert_int_equal(response(g, body, sizeof(body), 1460), 200);
	assert_string_equal(body, "\"ami-12345678\"");
}

/* A body of n letters under /big, fetched with the guest's mss and window. */
static void big_response(struct g *g, size_t n, uint16_t mss, uint16_t wnd)
{
	static char want[8000], doc[8100], body[8000];

	for (size_t i = 0; i < n; i++)
		want[i] = (char)('a' + i * 7 % 26);
	want[n] = '\0';
	snprintf(doc, sizeof(doc), "{\"big\":\"%s\"}", want);
	put_doc(g, doc);
	g->wnd = wnd;
	connect_mss(g, mss);
	send_str(g, "GET /big HTTP/1.1\r\n\r\n");
	assert_int_equal(response(g, body, sizeof(body), mss < wnd ? mss : wnd), 200);
	assert_string_equal(body, want);
}

static void test_large_response(void **st)
{
	struct g *g = *st;

	big_response(g, 2 * 1460, 1460, 64000);
	g->port++;
	big_response(g, 5000, 536, 65535);
	g->port++;
	big_response(g, 7000, 1000, 300); /* window smaller than the MSS */
	g->port++;
	big_response(g, 1460, 1460, 64000);
}

/* The window limits what is in flight: with no ACK, no more than wnd bytes go out. */
static void test_window_respected(void **st)
{
	struct g *g = *st;
	static char doc[8100];
	size_t inflight = 0;
	struct o o;

	memset(doc, 0, sizeof(doc));
	strcpy(doc, "{\"big\":\"");
	memset(doc + 8, 'x', 6000);
	strcat(doc, "\"}");
	put_doc(g, doc);
	g->wnd = 3000;
	connect_(g);
	send_str(g, "GET /big HTTP/1.1\r\n\r\n");
	while (pull(g, &o))
		inflight += o.dlen;
	assert_int_equal(inflight, 3000);
	/* A zero window: nothing more, then a probe on the timer, answered by opening it. */
	g->wnd = 0;
	g->ack += 3000;
	send_seg(g, F_ACK, NULL, 0);
	expect_none(g);
	g->now += MMDS_NS_RTO_MS;
	expect_seg(g, &o, F_ACK);
	assert_int_equal(o.dlen, 0);
	assert_int_equal(o.seq, g->ack - 1);
	g->wnd = 1000;
	send_seg(g, F_ACK, NULL, 0);
	expect_seg(g, &o, F_ACK);
	assert_int_equal(o.dlen, 1000);
	assert_int_equal(o.seq, g->ack);
}

static void test_fin_close(void **st)
{
	struct g *g = *st;
	char body[256];
	struct o o;

	connect_(g);
	send_str(g, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	assert_int_equal(response(g, body, sizeof(body), 1460), 200);
	send_seg(g, F_ACK | F_FIN, NULL, 0);
	expect_seg(g, &o, F_ACK | F_FIN);
	assert_int_equal(o.ack, g->seq);
	assert_int_equal(o.seq, g->ack);
	g->ack++;
	send_seg(g, F_ACK, NULL, 0);
	expect_none(g);
	assert_int_equal(stats(g)->connections_destroyed, 1);
	assert_int_equal(mmds_ns_next_deadline(g->ns), UINT64_MAX);
	/* The connection is gone: a late segment gets RST. */
	send_seg(g, F_ACK, NULL, 0);
	expect_seg(g, &o, F_RST);
	assert_int_equal(o.seq, g->ack);

	/* Request and FIN in one segment: the FIN rides on the response's last segment. */
	g->port++;
	connect_(g);
	send_seg(g, F_ACK | F_PSH | F_FIN, "GET /latest/ HTTP/1.1\r\n\r\n", 25);
	expect_seg(g, &o, F_ACK | F_PSH | F_FIN);
	assert_int_equal(o.ack, g->seq);
	assert_non_null(memmem(o.data, o.dlen, "meta-data/", 10));
	g->ack = o.seq + (uint32_t)o.dlen + 1;
	send_seg(g, F_ACK, NULL, 0);
	expect_none(g);
	assert_int_equal(stats(g)->connections_destroyed, 2);
}

static void test_rst(void **st)
{
	struct g *g = *st;
	uint8_t f[128];
	struct o o;
	struct seg_spec s = {GUEST_IP, MMDS_IP, 1234, 80, 1000, 0, 500, 9999, F_ACK, "abc", 3};

	/* Unknown connection with ACK: RST seq = its ACK. */
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_seg(g, &o, F_RST);
	assert_int_equal(o.seq, 9999);
	assert_int_equal(o.dport, 1234);
	/* Without ACK: RST|ACK acknowledging its length, FIN counted. */
	s.flags = F_FIN;
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_seg(g, &o, F_RST | F_ACK);
	assert_int_equal(o.seq, 0);
	assert_int_equal(o.ack, 504);
	/* A RST to nobody is not answered. */
	s.flags = F_RST;
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_none(g);
	/* A closed port refuses a SYN. */
	s.flags = F_SYN;
	s.dport = 81;
	s.len = 0;
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_seg(g, &o, F_RST | F_ACK);
	assert_int_equal(o.ack, 501);
	assert_int_equal(o.sport, 81);
	/* Bad flags on a connection reset it; a RST in the window ends one silently. */
	connect_(g);
	send_seg(g, F_SYN | F_ACK, NULL, 0);
	expect_seg(g, &o, F_RST | F_ACK);
	assert_int_equal(o.seq, g->ack);
	assert_int_equal(stats(g)->connections_destroyed, 1);
	g->port++;
	connect_(g);
	send_seg(g, F_RST, NULL, 0);
	expect_none(g);
	assert_int_equal(stats(g)->connections_destroyed, 2);
	assert_int_equal(stats(g)->tx_rst, 4);
}

static void test_bad_frames(void **st)
{
	struct g *g = *st;
	uint8_t f[256], copy[256];
	struct seg_spec s = {GUEST_IP, MMDS_IP, 1234, 80, 1000, 1460, 500, 0, F_SYN, NULL, 0};
	size_t n = build(f, &s);
	uint64_t bad = 0;

	/* Every truncation of a good SYN, at every layer. */
	for (size_t k = 0; k < n; k++) {
		mmds_ns_input(g->ns, f, k, 0, g->now);
		expect_none(g);
	}
	assert_int_equal(stats(g)->rx_bad, n);
	bad = n;
	/* A bad IPv4 checksum, a bad TCP checksum. */
	memcpy(copy, f, n);
	copy[14 + 8]--; /* TTL */
	mmds_ns_input(g->ns, copy, n, 0, g->now);
	memcpy(copy, f, n);
	copy[14 + 20 + 14]++; /* window */
	mmds_ns_input(g->ns, copy, n, 0, g->now);
	expect_none(g);
	assert_int_equal(stats(g)->rx_bad_csum, 2);
	/* ... unless the guest left the TCP checksum to the device. */
	mmds_ns_input(g->ns, copy, n, MMDS_NS_RX_CSUM_PARTIAL, g->now);
	expect_seg(g, &(struct o){0}, F_SYN | F_ACK);
	/* IP options (with a right checksum), fragments. */
	{
		uint8_t o[256];

		memcpy(o, f, 34);
		o[14] = 0x46;
		w16(o + 16, (unsigned)(n - 14 + 4));
		memset(o + 34, 1, 4); /* NOPs */
		memcpy(o + 38, f + 34, n - 34);
		w16(o + 24, 0);
		w16(o + 24, sum16(o + 14, 24, 0));
		mmds_ns_input(g->ns, o, n + 4, 0, g->now);
		assert_int_equal(stats(g)->rx_ip_options, 1);
		for (unsigned frag = 0; frag < 2; frag++) {
			memcpy(o, f, n);
			w16(o + 20, frag ? 0x2000 : 0x0010); /* MF; an offset */
			w16(o + 24, 0);
			w16(o + 24, sum16(o + 14, 20, 0));
			mmds_ns_input(g->ns, o, n, 0, g->now);
		}
		assert_int_equal(stats(g)->rx_fragments, 2);
	}
	/* Not MMDS's, not TCP, not IPv4, a bad IP version, a TCP header longer than the segment. */
	s.dst = 0x0a000001;
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	s.dst = MMDS_IP;
	s.sport = 2000; /* 1234 has a connection now */
	n = build(f, &s);
	memcpy(copy, f, n);
	copy[14 + 9] = 17;
	w16(copy + 24, 0);
	w16(copy + 24, sum16(copy + 14, 20, 0));
	mmds_ns_input(g->ns, copy, n, 0, g->now);
	memcpy(copy, f, n);
	w16(copy + 12, 0x86dd);
	mmds_ns_input(g->ns, copy, n, 0, g->now);
	assert_int_equal(stats(g)->rx_dropped, 3);
	memcpy(copy, f, n);
	copy[14] = 0x65;
	mmds_ns_input(g->ns, copy, n, 0, g->now);
	memcpy(copy, f, n);
	copy[14 + 20 + 12] = 0xf0; /* 60-byte header in a 24-byte segment */
	mmds_ns_input(g->ns, copy, n, 0, g->now);
	memcpy(copy, f, n);
	copy[14 + 20 + 12] = 0x40; /* 16 bytes: under the minimum */
	mmds_ns_input(g->ns, copy, n, 0, g->now);
	assert_int_equal(stats(g)->rx_bad, bad + 3);
	/* Malformed TCP options on a SYN. */
	memcpy(copy, f, n);
	copy[14 + 20 + 21] = 9; /* MSS option longer than the options */
	w16(copy + 14 + 20 + 16, 0);
	w16(copy + 14 + 20 + 16, tcp_sum(GUEST_IP, MMDS_IP, copy + 34, n - 34));
	mmds_ns_input(g->ns, copy, n, 0, g->now);
	assert_int_equal(stats(g)->rx_bad, bad + 4);
	expect_none(g);
	assert_int_equal(stats(g)->connections_created, 1);
	/* Ethernet padding after the IP packet is ignored. */
	s.sport = 4321;
	n = build(f, &s);
	memset(f + n, 0, 20);
	mmds_ns_input(g->ns, f, n + 20, 0, g->now);
	expect_seg(g, &(struct o){0}, F_SYN | F_ACK);
}

static void test_table_full(void **st)
{
	struct g *g = *st;
	uint8_t f[128];
	struct o o;
	struct seg_spec s = {GUEST_IP, MMDS_IP, 9, 80, 1000, 0, 42, 0, F_SYN, NULL, 0};

	for (int i = 0; i < MMDS_NS_MAX_CONNECTIONS; i++) {
		g->port = (uint16_t)(30000 + i);
		connect_(g);
		g->now += 10;
	}
	assert_int_equal(stats(g)->connections_created, MMDS_NS_MAX_CONNECTIONS);
	/* Full, none idle long enough: refused. */
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_seg(g, &o, F_RST | F_ACK);
	assert_int_equal(o.ack, 43);
	assert_int_equal(stats(g)->connections_refused, 1);
	/* Later, the one idle longest (the first) gives way. */
	g->now = 1000 + MMDS_NS_EVICT_MS;
	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_seg(g, &o, F_RST | F_ACK);
	assert_int_equal(o.dport, 30000);
	expect_seg(g, &o, F_SYN | F_ACK);
	assert_int_equal(o.dport, 9);
	assert_int_equal(stats(g)->connections_evicted, 1);
	expect_none(g);
}

static void test_retransmit(void **st)
{
	struct g *g = *st;
	struct o o, first;
	uint64_t t, rto = MMDS_NS_RTO_MS;

	connect_(g);
	send_str(g, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	expect_seg(g, &first, F_ACK | F_PSH);
	static uint8_t data[2048];
	memcpy(data, first.data, first.dlen);
	t = g->now;
	assert_int_equal(mmds_ns_next_deadline(g->ns), t + rto);
	g->now = t + rto - 1;
	expect_none(g);
	for (int i = 0; i < MMDS_NS_RETRIES; i++) {
		t += rto;
		g->now = t;
		expect_seg(g, &o, F_ACK | F_PSH);
		assert_int_equal(o.seq, first.seq);
		assert_int_equal(o.dlen, first.dlen);
		assert_memory_equal(o.data, data, o.dlen);
		expect_none(g);
		rto = rto * 2 < MMDS_NS_RTO_MAX_MS ? rto * 2 : MMDS_NS_RTO_MAX_MS;
		assert_int_equal(mmds_ns_next_deadline(g->ns), t + rto);
	}
	g->now = t + rto;
	expect_seg(g, &o, F_RST | F_ACK);
	assert_int_equal(stats(g)->connections_timed_out, 1);
	assert_int_equal(stats(g)->tx_retransmits, MMDS_NS_RETRIES);
	assert_int_equal(mmds_ns_next_deadline(g->ns), UINT64_MAX);
}

static void test_synack_retransmit(void **st)
{
	struct g *g = *st;
	uint8_t f[128];
	struct o o;
	struct seg_spec s = {GUEST_IP, MMDS_IP, 5555, 80, 1000, 0, 77, 0, F_SYN, NULL, 0};
	uint32_t iss;

	mmds_ns_input(g->ns, f, build(f, &s), 0, g->now);
	expect_seg(g, &o, F_SYN | F_ACK);
	iss = o.seq;
	g->now += MMDS_NS_RTO_MS;
	expect_seg(g, &o, F_SYN | F_ACK);
	assert_int_equal(o.seq, iss);
	assert_int_equal(o.ack, 78);
}

/* A lost segment: the guest repeats its ACK, MMDS resends at once (go-back-N). */
static void test_dup_ack(void **st)
{
	struct g *g = *st;
	static char doc[8100];
	struct o a, b, c;

	strcpy(doc, "{\"big\":\"");
	memset(doc + 8, 'y', 4000);
	strcpy(doc + 4008, "\"}");
	put_doc(g, doc);
	connect_(g);
	send_str(g, "GET /big HTTP/1.1\r\n\r\n");
	expect_seg(g, &a, F_ACK);
	expect_seg(g, &b, F_ACK);
	assert_int_equal(b.seq, a.seq + a.dlen);
	g->ack = b.seq; /* the first arrived, the second "lost" */
	send_seg(g, F_ACK, NULL, 0);
	expect_seg(g, &c, F_ACK | F_PSH); /* the third, already due */
	send_seg(g, F_ACK, NULL, 0);	  /* the duplicate ACK */
	expect_seg(g, &c, F_ACK);
	assert_int_equal(c.seq, b.seq);
	assert_int_equal(stats(g)->tx_retransmits, 1);
}

static void test_out_of_order(void **st)
{
	struct g *g = *st;
	const char *req = "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n";
	size_t n = strlen(req);
	uint32_t start;
	char body[64];
	struct o o;

	connect_(g);
	start = g->seq;
	g->seq = start + 10; /* the tail first: dropped, the ACK repeated */
	send_seg(g, F_ACK, req + 10, n - 10);
	expect_seg(g, &o, F_ACK);
	assert_int_equal(o.ack, start);
	assert_int_equal(stats(g)->rx_out_of_order, 1);
	g->seq = start;
	send_seg(g, F_ACK, req, 10);
	expect_seg(g, &o, F_ACK);
	assert_int_equal(o.ack, start + 10);
	/* Overlapping: the first 5 bytes again with the rest; only the new ones are taken. */
	g->seq = start + 5;
	send_seg(g, F_ACK, req + 5, n - 5);
	assert_int_equal(response(g, body, sizeof(body), 1460), 200);
	assert_string_equal(body, "ami-12345678");
}

static void test_too_large(void **st)
{
	struct g *g = *st;
	static char big[MMDS_HTTP_REQ_MAX + 100];
	struct o o;

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	connect_(g);
	send_seg(g, F_ACK, big, sizeof(big)); /* only the window's worth is taken */
	expect_seg(g, &o, F_RST | F_ACK);
	assert_int_equal(stats(g)->rx_too_large, 1);
	assert_int_equal(stats(g)->connections_destroyed, 1);
	/* Just under the limit with the request's end: answered (404). */
	g->port++;
	connect_(g);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	memcpy(big + MMDS_HTTP_REQ_MAX - 15, " HTTP/1.1\r\n\r\n", 13);
	send_seg(g, F_ACK, big, MMDS_HTTP_REQ_MAX - 2);
	char body[4096];
	assert_int_equal(response(g, body, sizeof(body), 1460), 404);
}

static void test_idle(void **st)
{
	struct g *g = *st;
	struct o o;

	connect_(g);
	assert_int_equal(mmds_ns_next_deadline(g->ns), g->now + MMDS_NS_IDLE_MS);
	g->now += MMDS_NS_IDLE_MS - 1;
	expect_none(g);
	g->now++;
	expect_seg(g, &o, F_RST | F_ACK);
	assert_int_equal(o.seq, g->ack);
	assert_int_equal(stats(g)->connections_timed_out, 1);
}

static void test_tokens_over_tcp(void **st)
{
	struct g *g = *st;
	char token[128], body[256], req[256];

	teardown(st);
	g = make(MMDS_V2);
	*st = g;
	connect_(g);
	send_str(g, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	assert_int_equal(response(g, body, sizeof(body), 1460), 401);
	send_str(g, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n");
	assert_int_equal(response(g, token, sizeof(token), 1460), 200);
	snprintf(req, sizeof(req),
		 "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", token);
	send_str(g, req);
	assert_int_equal(response(g, body, sizeof(body), 1460), 200);
	assert_string_equal(body, "ami-12345678");
	g->now += 60000;
	send_str(g, req);
	assert_int_equal(response(g, body, sizeof(body), 1460), 401);
	assert_string_equal(body, "MMDS token not valid.");
	assert_int_equal(stats(g)->rx_no_token, 1);
	assert_int_equal(stats(g)->rx_invalid_token, 1);
}

/* Two requests in one segment: answered in order, the second after the first is acknowledged. */
static void test_pipelined(void **st)
{
	struct g *g = *st;
	char body[256];

	connect_(g);
	send_str(g, "GET /latest/ HTTP/1.1\r\n\r\nGET /latest/meta-data/ HTTP/1.1\r\n\r\n");
	assert_int_equal(response(g, body, sizeof(body), 1460), 200);
	assert_string_equal(body, "meta-data/");
	assert_int_equal(response(g, body, sizeof(body), 1460), 200);
	assert_string_equal(body, "ami-id");
	expect_none(g);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_arp),
	    T(test_is_for_mmds),
	    T(test_handshake),
	    T(test_get_one_segment),
	    T(test_get_split),
	    T(test_large_response),
	    T(test_window_respected),
	    T(test_fin_close),
	    T(test_rst),
	    T(test_bad_frames),
	    T(test_table_full),
	    T(test_retransmit),
	    T(test_synack_retransmit),
	    T(test_dup_ack),
	    T(test_out_of_order),
	    T(test_too_large),
	    T(test_idle),
	    T(test_tokens_over_tcp),
	    T(test_pipelined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
