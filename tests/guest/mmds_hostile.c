/* mmds_hostile.c — frames to kiln's MMDS (in the VMM, on the guest's virtio-net) that are
 * truncated or malformed at every layer (ARP, IPv4, TCP, HTTP), RST/FIN storms and a SYN flood
 * past the connection table: MMDS answers exactly what it should (RSTs, re-ACKs, a 400), never
 * takes a malformed SYN, kiln survives, and afterwards ARP and an HTTP GET work. The runner
 * checks that none of it reached the TAP (--tap-rx-delta mmds-begin,mmds-end,0). */
#include "net.h"

/* Command line: ip=, host=, mmds= (MMDS's address), path= and body= (a GET of path answers
 * 200 with exactly body). */
#define WAIT_MS	    2000
#define QUIET_MS    300
#define TCP_HLEN    20
#define TCP_FIN	    0x01
#define TCP_SYN	    0x02
#define TCP_RST	    0x04
#define TCP_PSH	    0x08
#define TCP_ACK	    0x10
#define WND	    8192
#define REQ_MAX	    2500  /* MMDS's request buffer (MMDS_HTTP_REQ_MAX) */
#define BAD_PORT0   40000 /* malformed SYNs come from 40000 on: none may be answered SYN-ACK */
#define BAD_PORTS   64
#define FLOOD_PORT0 30000
#define FLOOD_SYNS  40
#define CONN_MAX    30 /* MMDS's connection table (MMDS_NS_MAX_CONNECTIONS) */

static const uint8_t mmds_mac[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};
static struct vnet net;
static uint32_t mmds_ip;
static uint8_t f[NET_RX_BUF], r[NET_RX_BUF];
static unsigned bad_port = BAD_PORT0;

/* A TCP segment received from MMDS. */
struct rseg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data;
	uint32_t len;
};

/* One connection of the guest's minimal client. */
struct conn {
	uint16_t port;
	uint32_t snd, rcv;
};

/* ---- building frames ---------------------------------------------------------------------- */

/* Ethernet + IPv4 to MMDS; returns the payload's place. */
static uint8_t *ip_to_mmds(uint8_t *fr, uint8_t proto, uint16_t payload)
{
	eth_header(fr, mmds_mac, net.mac, ETH_P_IP);
	ip_header(fr + ETH_HLEN, net.ip, mmds_ip, proto, payload);
	return fr + ETH_HLEN + IP_HLEN;
}

static void tcp_csum(uint8_t *ip, uint8_t *t, uint32_t n)
{
	uint8_t pseudo[12];

	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IP_PROTO_TCP;
	put16(pseudo + 10, (uint16_t)n);
	put16(t + 16, 0);
	put16(t + 16, csum_fold(csum_add(csum_add(0, pseudo, 12), t, n)));
}

/* A TCP segment to MMDS port 80 in f: its frame length. opt: an MSS option of 1460 on SYNs. */
static uint32_t tcp_seg(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
			uint32_t len)
{
	uint32_t hl = TCP_HLEN + ((flags & TCP_SYN) ? 4 : 0);
	uint8_t *t = ip_to_mmds(f, IP_PROTO_TCP, (uint16_t)(hl + len));

	memset(t, 0, hl);
	put16(t, sport);
	put16(t + 2, 80);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)(hl / 4 << 4);
	t[13] = flags;
	put16(t + 14, WND);
	if (flags & TCP_SYN) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, 1460);
	}
	memcpy(t + hl, data, len);
	tcp_csum(f + ETH_HLEN, t, hl + len);
	return ETH_HLEN + IP_HLEN + hl + len;
}

static void send_seg(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
		     uint32_t len)
{
	vnet_send(&net, f, tcp_seg(sport, seq, ack, flags, data, len));
}

/* ---- receiving ---------------------------------------------------------------------------- */

/* Parse a frame from MMDS to us as TCP; false if it is not one. */
static bool parse_seg(const uint8_t *fr, uint32_t len, struct rseg *s)
{
	const uint8_t *ip = fr + ETH_HLEN, *t = ip + IP_HLEN;
	uint32_t total, hl;

	if (len < ETH_HLEN + IP_HLEN + TCP_HLEN || get16(fr + 12) != ETH_P_IP ||
	    ip[9] != IP_PROTO_TCP || get32(ip + 12) != mmds_ip || get32(ip + 16) != net.ip)
		return false;
	total = get16(ip + 2);
	hl = (uint32_t)(t[12] >> 4) * 4;
	GUEST_ASSERT(total <= len - ETH_HLEN && hl >= TCP_HLEN && IP_HLEN + hl <= total);
	GUEST_ASSERT_EQ(csum_fold(csum_add(0, ip, IP_HLEN)), 0);
	*s = (struct rseg){get16(t), get16(t + 2), get32(t + 4),	get32(t + 8),
			   t[13],    t + hl,	   total - IP_HLEN - hl};
	return true;
}

/* Every segment for a malformed SYN's port would mean MMDS took it: fail. */
static void check_bad_ports(const struct rseg *s)
{
	if (s->dport >= BAD_PORT0 && s->dport < BAD_PORT0 + BAD_PORTS && (s->flags & TCP_SYN))
		guest_fail("MMDS answered the malformed SYN from port %u (flags %#x)", s->dport,
			   s->flags);
}

struct want {
	uint16_t port;
	uint8_t mask, flags;
	struct rseg *s;
};

static bool seg_match(const uint8_t *fr, uint32_t len, void *ctx)
{
	struct want *w = ctx;

	if (!parse_seg(fr, len, w->s))
		return false;
	check_bad_ports(w->s);
	return w->s->dport == w->port && (w->s->flags & w->mask) == w->flags;
}

/* The next segment to port with (flags & mask) == want, within WAIT_MS; fails the test
 * otherwise. */
static void wait_seg(uint16_t port, uint8_t mask, uint8_t want, struct rseg *s, const char *what)
{
	struct want w = {port, mask, want, s};

	if (!vnet_recv_match(&net, r, sizeof(r), WAIT_MS, seg_match, &w))
		guest_fail("%s: no segment with flags %#x/%#x to port %u", what, want, mask, port);
}

/* Receive until QUIET_MS pass without a frame; count RSTs and SYN-ACKs by port range. */
static unsigned drain(uint16_t port0, unsigned nports, unsigned *synacks, unsigned *rsts)
{
	static bool seen_sa[64], seen_rst[64];
	unsigned frames = 0;
	uint32_t len;
	struct rseg s;

	memset(seen_sa, 0, sizeof(seen_sa));
	memset(seen_rst, 0, sizeof(seen_rst));
	while ((len = vnet_recv(&net, r, sizeof(r), QUIET_MS)) != 0) {
		frames++;
		if (!parse_seg(r, len, &s))
			continue;
		check_bad_ports(&s);
		if (s.dport < port0 || s.dport >= port0 + nports)
			continue;
		if ((s.flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
			seen_sa[s.dport - port0] = true;
		if (s.flags & TCP_RST)
			seen_rst[s.dport - port0] = true;
	}
	for (unsigned i = 0; synacks && i < nports; i++) {
		*synacks += seen_sa[i];
		*rsts += seen_rst[i];
	}
	return frames;
}

/* ---- the client --------------------------------------------------------------------------- */

/* SYN, SYN-ACK, ACK from port. */
static void tcp_open(struct conn *c, uint16_t port)
{
	struct rseg s;

	*c = (struct conn){port, port * 1000u, 0};
	send_seg(port, c->snd, 0, TCP_SYN, NULL, 0);
	wait_seg(port, TCP_SYN | TCP_ACK | TCP_RST, TCP_SYN | TCP_ACK, &s, "handshake");
	GUEST_ASSERT_EQ(s.ack, c->snd + 1);
	c->snd++;
	c->rcv = s.seq + 1;
	send_seg(port, c->snd, c->rcv, TCP_ACK, NULL, 0);
}

static void tcp_data(struct conn *c, const void *data, uint32_t len)
{
	send_seg(c->port, c->snd, c->rcv, TCP_ACK | TCP_PSH, data, len);
	c->snd += len;
}

static void tcp_reset(struct conn *c)
{
	send_seg(c->port, c->snd, 0, TCP_RST, NULL, 0);
}

/* Content-Length of the response head in buf, or -1 while the head is incomplete. */
static int head_done(const char *buf, uint32_t len, uint32_t *body_at)
{
	const char *end = strstr(buf, "\r\n\r\n"), *cl = strstr(buf, "Content-Length: ");
	int n = 0;

	if (!end || !cl || cl > end)
		return -1;
	for (cl += 16; *cl >= '0' && *cl <= '9'; cl++)
		n = n * 10 + (*cl - '0');
	*body_at = (uint32_t)(end + 4 - buf);
	return *body_at + (uint32_t)n <= len ? n : -1;
}

/* Send req on c and read the whole response (in-order segments, each ACKed) into out. */
static uint32_t tcp_exchange(struct conn *c, const char *req, char *out, uint32_t cap)
{
	uint32_t got = 0, body_at;
	struct rseg s;

	tcp_data(c, req, (uint32_t)strlen(req));
	out[0] = '\0';
	while (head_done(out, got, &body_at) < 0) {
		wait_seg(c->port, 0, 0, &s, "response");
		if (s.flags & TCP_RST)
			guest_fail("MMDS reset the connection from port %u", c->port);
		if (s.seq != c->rcv || !s.len)
			continue;
		GUEST_ASSERT(got + s.len < cap);
		memcpy(out + got, s.data, s.len);
		got += s.len;
		out[got] = '\0';
		c->rcv += s.len;
		send_seg(c->port, c->snd, c->rcv, TCP_ACK, NULL, 0);
	}
	return got;
}

/* GET path from a fresh connection: the status line must start with want; the body in body. */
static void http_get(uint16_t port, const char *path, const char *want, char *body, size_t cap)
{
	static char req[256], resp[4096];
	uint32_t at;
	struct conn c;

	guest_snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: mmds\r\n\r\n", path);
	tcp_open(&c, port);
	tcp_exchange(&c, req, resp, sizeof(resp));
	tcp_reset(&c);
	if (strncmp(resp, want, strlen(want)) != 0)
		guest_fail("GET %s: \"%.40s\", expected \"%s\"", path, resp, want);
	head_done(resp, (uint32_t)strlen(resp), &at);
	guest_snprintf(body, cap, "%s", resp + at);
}

/* ---- malformed frames --------------------------------------------------------------------- */

/* A SYN from the next "bad" port in f, to be corrupted: its length. */
static uint32_t bad_syn(void)
{
	GUEST_ASSERT(bad_port < BAD_PORT0 + BAD_PORTS);
	return tcp_seg((uint16_t)bad_port++, 1, 0, TCP_SYN, NULL, 0);
}

static void ip_recsum(void)
{
	uint8_t *ip = f + ETH_HLEN;
	uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;

	put16(ip + 10, 0);
	put16(ip + 10, csum_fold(csum_add(0, ip, ihl < IP_HLEN ? IP_HLEN : ihl)));
}

static void tcp_recsum(uint32_t len)
{
	uint8_t *ip = f + ETH_HLEN;
	uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;

	tcp_csum(ip, ip + ihl, len - ETH_HLEN - ihl);
}

static unsigned sent_bad;

static void send_bad(uint32_t len)
{
	vnet_send(&net, f, len);
	sent_bad++;
}

/* ARP requests for MMDS's address with a bad hardware or protocol type or length, or from a
 * group address: none is answered. */
static void malformed_arp(void)
{
	static const unsigned off[] = {0, 2, 4, 5, 8};
	static const uint8_t val[] = {6, 0x86, 8, 6, 0x07};
	uint8_t *a = f + ETH_HLEN;

	for (unsigned i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		uint32_t len = arp_request(&net, f, mmds_ip);

		a[off[i]] = val[i];
		send_bad(len);
	}
}

/* One IPv4 header field of a SYN set to a bad value. */
struct ip_bad {
	uint8_t off, width;
	uint32_t val;
};

static const struct ip_bad ip_bads[] = {
    {0, 1, 0x65},		      /* version 6 */
    {0, 1, 0x44},		      /* IHL 4 */
    {0, 1, 0x4f},		      /* IHL 15: past the data */
    {2, 2, 200},		      /* total length past the frame */
    {2, 2, 16},			      /* total length shorter than the header */
    {6, 2, 0x2000},		      /* more fragments */
    {6, 2, 100},		      /* fragment offset 800 */
    {9, 1, IP_PROTO_UDP}, {12, 4, 0}, /* source 0.0.0.0 */
    {12, 4, 0xe0000001},	      /* source 224.0.0.1 */
};

/* The IPv4 header of a SYN, corrupted field by field (each packet would be a good SYN but for
 * one field: a SYN-ACK to any of them fails the test). */
static void malformed_ipv4(void)
{
	uint8_t *ip = f + ETH_HLEN;
	uint32_t len;

	for (unsigned k = 0; k < sizeof(ip_bads) / sizeof(ip_bads[0]); k++) {
		const struct ip_bad *b = &ip_bads[k];

		len = bad_syn();
		if (b->width == 1)
			ip[b->off] = (uint8_t)b->val;
		else if (b->width == 2)
			put16(ip + b->off, (uint16_t)b->val);
		else
			put32(ip + b->off, b->val);
		ip_recsum();
		if (b->off == 12)
			tcp_recsum(len); /* the source is in TCP's pseudo-header */
		send_bad(len);
	}
	len = bad_syn();
	ip[10] ^= 0x5a; /* a wrong header checksum */
	send_bad(len);
	len = bad_syn();
	f[6] |= 1; /* a group source MAC */
	send_bad(len);
	/* Options: four bytes (NOP NOP NOP EOL) between the header and TCP. */
	len = bad_syn();
	for (uint32_t i = len - ETH_HLEN - IP_HLEN; i-- > 0;) /* no memmove in the kit */
		ip[24 + i] = ip[20 + i];
	put32(ip + 20, 0x01010100);
	ip[0] = 0x46;
	put16(ip + 2, (uint16_t)(get16(ip + 2) + 4));
	ip_recsum();
	send_bad(len + 4);
	/* An ICMP echo to MMDS: not TCP, dropped. */
	ip_to_mmds(f, IP_PROTO_ICMP, 8);
	memset(ip + IP_HLEN, 0, 8);
	ip[IP_HLEN] = 8;
	put16(ip + IP_HLEN + 2, csum_fold(csum_add(0, ip + IP_HLEN, 8)));
	send_bad(ETH_HLEN + IP_HLEN + 8);
}

/* TCP headers: truncated, bad data offsets, checksum, options, flag combinations. */
static void malformed_tcp(void)
{
	uint8_t *t = f + ETH_HLEN + IP_HLEN;
	uint32_t len;

	ip_to_mmds(f, IP_PROTO_TCP, 0), send_bad(ETH_HLEN + IP_HLEN); /* no TCP header at all */
	len = bad_syn();
	ip_header(f + ETH_HLEN, net.ip, mmds_ip, IP_PROTO_TCP, 10); /* 10 bytes of it */
	send_bad(ETH_HLEN + IP_HLEN + 10);
	len = bad_syn(), t[12] = 4 << 4, tcp_recsum(len), send_bad(len);  /* offset 16 bytes */
	len = bad_syn(), t[12] = 15 << 4, tcp_recsum(len), send_bad(len); /* 60: past the end */
	len = bad_syn(), t[16] ^= 0x5a, send_bad(len);			  /* checksum */
	len = bad_syn(), t[21] = 3, tcp_recsum(len), send_bad(len);	  /* MSS option length 3 */
	len = bad_syn(), put16(t + 22, 50), tcp_recsum(len), send_bad(len); /* MSS 50 < 100 */
	send_bad(tcp_seg((uint16_t)bad_port++, 1, 0, TCP_SYN | TCP_RST, NULL, 0));
	send_bad(tcp_seg((uint16_t)bad_port++, 1, 0, TCP_SYN | TCP_FIN, NULL, 0)); /* -> RST */
}

/* ---- TCP misuse --------------------------------------------------------------------------- */

/* A closed port, an ACK of no connection, RST and FIN storms. */
static void tcp_refusals(void)
{
	static uint8_t zero[1];
	unsigned sa = 0, rsts = 0, frames;
	uint32_t len;
	struct rseg s;

	len = tcp_seg(41000, 5000, 0, TCP_SYN, NULL, 0);
	put16(f + ETH_HLEN + IP_HLEN + 2, 81);
	tcp_recsum(len);
	vnet_send(&net, f, len);
	wait_seg(41000, 0, 0, &s, "SYN to port 81");
	GUEST_ASSERT(s.flags == (TCP_RST | TCP_ACK) && s.ack == 5001);
	send_seg(41001, 7000, 12345, TCP_ACK, zero, 1);
	wait_seg(41001, 0, 0, &s, "ACK of no connection");
	GUEST_ASSERT(s.flags == TCP_RST && s.seq == 12345);
	guest_printf("closed port and stray ACK: answered RST\n");
	for (unsigned i = 0; i < 200; i++)
		send_seg((uint16_t)(41100 + i), i * 7919, 0, TCP_RST, NULL, 0);
	frames = drain(0, 0, NULL, NULL);
	GUEST_ASSERT_EQ(frames, 0);
	for (unsigned i = 0; i < 100; i++)
		send_seg((uint16_t)(41300 + i), i * 7919, 1, TCP_FIN | TCP_ACK, NULL, 0);
	drain(41300, 64, &sa, &rsts);
	guest_printf("RST storm: 200 sent, none answered; FIN storm: 100 sent, RSTs to %u of the "
		     "first 64 ports\n",
		     rsts);
	GUEST_ASSERT(sa == 0 && rsts >= 16);
}

/* Within a connection: data far out of the window (re-ACKed, dropped), RSTs out of the window
 * and an ACK of data never sent (ignored); then the connection still serves a GET. */
static void tcp_in_connection(const char *path, const char *body)
{
	static char req[256], resp[4096];
	struct conn c;
	struct rseg s;

	tcp_open(&c, 41500);
	send_seg(c.port, c.snd + 100000, c.rcv, TCP_ACK, "x", 1);
	wait_seg(c.port, TCP_ACK | TCP_RST | TCP_SYN, TCP_ACK, &s, "out-of-window data");
	GUEST_ASSERT(s.ack == c.snd && s.len == 0);
	send_seg(c.port, c.snd + 50000, 0, TCP_RST, NULL, 0);
	send_seg(c.port, c.snd - 10, 0, TCP_RST, NULL, 0);
	send_seg(c.port, c.snd, c.rcv + 5000, TCP_ACK, NULL, 0);
	guest_snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", path);
	tcp_exchange(&c, req, resp, sizeof(resp));
	tcp_reset(&c);
	GUEST_ASSERT(strncmp(resp, "HTTP/1.1 200 ", 13) == 0 && strstr(resp, body));
	guest_printf("out-of-window data re-ACKed, stray RSTs ignored; the connection serves a "
		     "GET after them\n");
}

/* HTTP garbage is answered 400; a request line or headers past MMDS's buffer reset. */
static void http_misuse(void)
{
	static char resp[4096], big[3000];
	struct conn c;
	struct rseg s;

	tcp_open(&c, 41600);
	tcp_exchange(&c, "\x01\x02\xff garbage \x7f\r\n\r\n", resp, sizeof(resp));
	tcp_reset(&c);
	GUEST_ASSERT(strncmp(resp, "HTTP/1.1 400 ", 13) == 0);
	memset(big, 'A', sizeof(big));
	memcpy(big, "GET /", 5);
	for (unsigned k = 0; k < 2; k++) {
		if (k == 1)
			for (unsigned i = 0; i + 16 < sizeof(big); i += 16)
				memcpy(big + i, i ? "X-Pad: aaaaaa\r\n " : "GET / HTTP/1.1\r\n",
				       16);
		tcp_open(&c, (uint16_t)(41700 + k));
		for (unsigned i = 0; i < 3; i++)
			tcp_data(&c, big + i * 1000, 1000);
		wait_seg(c.port, TCP_RST, TCP_RST, &s, "request past the buffer");
	}
	guest_printf("HTTP garbage: 400; request line and headers past %d bytes: reset\n", REQ_MAX);
}

/* 40 SYNs: 30 connections (the table), 10 refused with RST; then all reset by the guest. */
static void syn_flood(void)
{
	unsigned sa = 0, rsts = 0;

	for (unsigned i = 0; i < FLOOD_SYNS; i++)
		send_seg((uint16_t)(FLOOD_PORT0 + i), (FLOOD_PORT0 + i) * 1000u, 0, TCP_SYN, NULL,
			 0);
	drain(FLOOD_PORT0, FLOOD_SYNS, &sa, &rsts);
	guest_printf("SYN flood: %u SYNs, %u SYN-ACKs, %u refused with RST\n", FLOOD_SYNS, sa,
		     rsts);
	GUEST_ASSERT_EQ(sa, CONN_MAX);
	GUEST_ASSERT_EQ(rsts, FLOOD_SYNS - CONN_MAX);
	for (unsigned i = 0; i < FLOOD_SYNS; i++)
		send_seg((uint16_t)(FLOOD_PORT0 + i), (FLOOD_PORT0 + i) * 1000u + 1, 0, TCP_RST,
			 NULL, 0);
	drain(0, 0, NULL, NULL);
}

/* ---- main --------------------------------------------------------------------------------- */

/* Frames cut before MMDS's address can be nobody's: they go to the TAP (before the sample). */
static void unaddressed(void)
{
	arp_request(&net, f, mmds_ip);
	vnet_send(&net, f, 10); /* shorter than an Ethernet header */
	vnet_send(&net, f, 30); /* an ARP request cut before the target address */
}

int main(void)
{
	static char path[128], body[128], got[128];
	uint8_t mac[6];
	unsigned frames;

	vnet_open(&net);
	cmdline_ip("mmds", &mmds_ip);
	GUEST_ASSERT(guest_cmdline_get("path", path, sizeof(path)));
	GUEST_ASSERT(guest_cmdline_get("body", body, sizeof(body)));
	vnet_start(&net, 0, 64);
	unaddressed();
	guest_sample("mmds-begin");
	GUEST_ASSERT(arp_resolve(&net, mmds_ip, mac, WAIT_MS));
	GUEST_ASSERT(memcmp(mac, mmds_mac, 6) == 0);
	malformed_arp();
	malformed_ipv4();
	malformed_tcp();
	frames = drain(0, 0, NULL, NULL);
	guest_printf("%u malformed frames: %u answered (the RST for SYN+FIN), no SYN-ACK\n",
		     sent_bad, frames);
	GUEST_ASSERT_EQ(frames, 1);
	tcp_refusals();
	tcp_in_connection(path, body);
	http_misuse();
	syn_flood();
	GUEST_ASSERT(arp_resolve(&net, mmds_ip, mac, WAIT_MS));
	http_get(42000, path, "HTTP/1.1 200 ", got, sizeof(got));
	if (strcmp(got, body) != 0)
		guest_fail("GET %s: body \"%s\", expected \"%s\"", path, got, body);
	guest_printf("after all that: ARP and GET %s -> 200 \"%s\"\n", path, got);
	guest_sample("mmds-end");
	return 0;
}
