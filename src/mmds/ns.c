/* ns.c — MMDS's network stack: Ethernet II, ARP, IPv4 and a passive-open TCP on port 80 carrying
 * HTTP requests to src/mmds/http.c.
 *
 * Hand-written because no library gives a VMM an embedded TCP endpoint for one service: the
 * usual stacks (lwIP, picoTCP, smoltcp) are general ones with their own buffers, timers and
 * sockets, far more than answering one kind of request from a local guest needs, and Firecracker
 * has its own (dumbo) for the same reason. The behaviour follows dumbo's where a guest can tell.
 *
 * Shape: a fixed table of MMDS_NS_MAX_CONNECTIONS connections made at creation, each with a
 * request buffer of MMDS_HTTP_REQ_MAX bytes (the receive window is its free space) and at most
 * one response (allocated per request, bounded by the store's size). Segments are taken in order
 * only: bytes already received are trimmed, anything beyond the next expected byte is dropped
 * and re-ACKed. Output is pulled: nothing is sent until mmds_ns_output asks, so a guest that
 * stops reading loses nothing. Retransmission is go-back-N from the oldest unacknowledged byte on
 * a timeout (doubling from MMDS_NS_RTO_MS) or on the first duplicate ACK, and a zero window is
 * probed on the same timer; MMDS_NS_RETRIES without progress reset the connection. Every byte of
 * a frame is checked against the frame's length before it is read; frames are read with byte
 * helpers, never through structures laid over them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mmds/http.h"
#include "mmds/ns.h"

#define ETH_HLEN     14
#define ETH_P_IP     0x0800
#define ETH_P_ARP    0x0806
#define ARP_LEN	     28
#define IP_HLEN	     20
#define IP_TTL	     64
#define IP_PROTO_TCP 6
#define TCP_HLEN     20
#define TCP_FIN	     0x01
#define TCP_SYN	     0x02
#define TCP_RST	     0x04
#define TCP_PSH	     0x08
#define TCP_ACK	     0x10
#define MSS_DEFAULT  536 /* RFC 9293: a SYN without the option */
#define HEADERS	     (ETH_HLEN + IP_HLEN + TCP_HLEN)
#define FRAME_MIN    60		/* smallest buffer mmds_ns_output writes into */
#define RESPONSE_MAX (1u << 30) /* a response longer than this would confuse sequence numbers */
#define WINDOW_MAX   MMDS_HTTP_REQ_MAX

static const uint8_t mmds_mac[6] = MMDS_NS_MAC;

struct conn {
	bool used;
	bool established; /* the SYN-ACK was acknowledged */
	bool synack_due;  /* send (again) the SYN-ACK */
	bool ack_due;	  /* send an ACK at the next chance */
	bool probe_due;	  /* send a zero-window probe */
	bool rst_due;	  /* send RST, then forget the connection */
	bool fin_rcvd;	  /* the guest closed its side */
	bool fin_queued;  /* our FIN follows the last response byte, at fin_seq */
	uint8_t mac[6];	  /* the guest's, from its SYN */
	uint16_t rport;
	uint16_t mss; /* most payload per segment we send */
	uint32_t raddr;
	uint32_t irs, rcv_nxt; /* the guest's first and next expected sequence number */
	uint32_t iss, snd_una, snd_nxt, snd_max; /* ours: first, oldest unacked, next, highest */
	uint32_t snd_edge;			 /* right edge of the guest's window */
	uint32_t data_end;			 /* sequence number after the last response byte */
	uint32_t fin_seq;
	uint32_t rexmit_una; /* snd_una of the last duplicate-ACK resend (one per value) */
	uint64_t rto_at;     /* retransmission (or probe) deadline; 0: none */
	uint32_t rto_ms;
	unsigned retries;
	uint64_t last_rx;		/* when the guest last sent a segment we took */
	struct mmds_http_response resp; /* the response in flight; data NULL: none */
	uint32_t resp_seq;		/* sequence number of resp.data[0] */
	size_t req_len;
	uint8_t req[MMDS_HTTP_REQ_MAX];
};

/* A RST for a segment no connection takes, waiting for mmds_ns_output. */
struct rst {
	uint8_t mac[6];
	uint8_t flags;
	uint16_t lport, rport;
	uint32_t raddr, seq, ack;
};

/* A parsed TCP segment from the guest. */
struct seg {
	const uint8_t *mac; /* the frame's source MAC */
	uint32_t saddr;
	uint16_t sport, dport, wnd;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *opt, *data;
	size_t opt_len, len;
};

/* A TCP segment for the guest. */
struct tx {
	const uint8_t *mac;
	uint32_t raddr;
	uint16_t lport, rport, wnd, mss_opt; /* mss_opt: 0 for none */
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data;
	size_t len;
};

struct mmds_ns {
	uint32_t ipv4;
	struct mmds_http http;
	mmds_getrandom_fn getrandom;
	uint32_t isn_fallback;
	uint16_t ip_id;
	bool arp_due; /* answer the last ARP request */
	uint8_t arp_mac[6];
	uint32_t arp_ip;
	struct rst rsts[MMDS_NS_RST_QUEUE];
	unsigned rst_head, rst_count;
	unsigned next_conn; /* where the round-robin output scan starts */
	struct mmds_ns_stats stats;
	struct mmds_tokens own_tokens;
	struct conn conns[MMDS_NS_MAX_CONNECTIONS];
};

/* ---- bytes, checksums, sequence numbers ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The ones' complement sum of p (n bytes) added to sum, unfolded. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		sum += get16(p);
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

/* Fold and complement: the checksum to write, or 0 when verifying a correct one. */
static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The TCP checksum over the pseudo-header and seg (n bytes, checksum field included). */
static uint16_t tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t n)
{
	uint8_t pseudo[12];

	put32(pseudo, src);
	put32(pseudo + 4, dst);
	pseudo[8] = 0;
	pseudo[9] = IP_PROTO_TCP;
	put16(pseudo + 10, (uint16_t)n);
	return csum_fold(csum_add(csum_add(0, pseudo, sizeof(pseudo)), seg, n));
}

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Milliseconds from then to now, 0 if now is earlier. */
static uint64_t elapsed(uint64_t now_ms, uint64_t then_ms)
{
	return now_ms > then_ms ? now_ms - then_ms : 0;
}

/* ---- life of the stack ---- */

int mmds_ns_create(const struct mmds *store, const struct mmds_ns_config *c, struct mmds_ns **out)
{
	struct mmds_ns *ns = calloc(1, sizeof(*ns));

	*out = NULL;
	if (!ns)
		return -ENOMEM;
	ns->ipv4 = c->ipv4;
	ns->getrandom = c->getrandom;
	mmds_tokens_init(&ns->own_tokens, c->getrandom);
	ns->http = (struct mmds_http){store, c->version, c->imds_compat,
				      c->tokens ? c->tokens : &ns->own_tokens};
	*out = ns;
	return 0;
}

static void conn_free(struct mmds_ns *ns, struct conn *c)
{
	free(c->resp.data);
	c->resp.data = NULL;
	c->used = false;
	ns->stats.connections_destroyed++;
}

void mmds_ns_destroy(struct mmds_ns *ns)
{
	if (!ns)
		return;
	for (size_t i = 0; i < MMDS_NS_MAX_CONNECTIONS; i++)
		free(ns->conns[i].resp.data);
	free(ns);
}

const struct mmds_ns_stats *mmds_ns_stats(const struct mmds_ns *ns)
{
	return &ns->stats;
}

bool mmds_ns_is_for_mmds(const struct mmds_ns *ns, const void *frame, size_t len)
{
	const uint8_t *f = frame;

	if (len < ETH_HLEN)
		return false;
	if (get16(f + 12) == ETH_P_ARP)
		return len >= ETH_HLEN + ARP_LEN && get16(f + ETH_HLEN + 6) == 1 &&
		       get32(f + ETH_HLEN + 24) == ns->ipv4;
	if (get16(f + 12) == ETH_P_IP)
		return len >= ETH_HLEN + IP_HLEN && get32(f + ETH_HLEN + 16) == ns->ipv4;
	return false;
}

/* ---- building frames ---- */

static void eth_header(uint8_t *buf, const uint8_t *dst, uint16_t type)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, mmds_mac, 6);
	put16(buf + 12, type);
}

static void ip_header(struct mmds_ns *ns, uint8_t *ip, uint32_t dst, size_t payload)
{
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(IP_HLEN + payload));
	put16(ip + 4, ns->ip_id++);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = IP_TTL;
	ip[9] = IP_PROTO_TCP;
	put16(ip + 10, 0);
	put32(ip + 12, ns->ipv4);
	put32(ip + 16, dst);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
}

/* Write t as a whole frame into buf (room checked by the caller): its length. */
static size_t tcp_frame(struct mmds_ns *ns, const struct tx *t, uint8_t *buf)
{
	uint8_t *tcp = buf + ETH_HLEN + IP_HLEN;
	size_t hlen = TCP_HLEN + (t->mss_opt ? 4 : 0);

	eth_header(buf, t->mac, ETH_P_IP);
	ip_header(ns, buf + ETH_HLEN, t->raddr, hlen + t->len);
	put16(tcp, t->lport);
	put16(tcp + 2, t->rport);
	put32(tcp + 4, t->seq);
	put32(tcp + 8, t->ack);
	tcp[12] = (uint8_t)(hlen / 4 << 4);
	tcp[13] = t->flags;
	put16(tcp + 14, t->wnd);
	put32(tcp + 16, 0); /* checksum, urgent pointer */
	if (t->mss_opt) {
		tcp[20] = 2;
		tcp[21] = 4;
		put16(tcp + 22, t->mss_opt);
	}
	if (t->len)
		memcpy(tcp + hlen, t->data, t->len);
	put16(tcp + 16, tcp_csum(ns->ipv4, t->raddr, tcp, hlen + t->len));
	return ETH_HLEN + IP_HLEN + hlen + t->len;
}

static size_t arp_frame(struct mmds_ns *ns, uint8_t *buf)
{
	uint8_t *a = buf + ETH_HLEN;

	eth_header(buf, ns->arp_mac, ETH_P_ARP);
	put16(a, 1);
	put16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2); /* reply */
	memcpy(a + 8, mmds_mac, 6);
	put32(a + 14, ns->ipv4);
	memcpy(a + 18, ns->arp_mac, 6);
	put32(a + 24, ns->arp_ip);
	ns->arp_due = false;
	return ETH_HLEN + ARP_LEN;
}

/* ---- RSTs for segments no connection takes ---- */

static void queue_rst(struct mmds_ns *ns, const uint8_t *mac, uint32_t raddr, uint16_t lport,
		      uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct rst *r;

	if (ns->rst_count == MMDS_NS_RST_QUEUE) {
		ns->stats.tx_rst_dropped++;
		return;
	}
	r = &ns->rsts[(ns->rst_head + ns->rst_count++) % MMDS_NS_RST_QUEUE];
	*r = (struct rst){
	    .flags = flags, .lport = lport, .rport = rport, .raddr = raddr, .seq = seq, .ack = ack};
	memcpy(r->mac, mac, 6);
}

/* RFC 9293's reset for a segment s of no connection (none for a RST). */
static void reset_for(struct mmds_ns *ns, const struct seg *s)
{
	uint32_t len = (uint32_t)s->len + !!(s->flags & TCP_SYN) + !!(s->flags & TCP_FIN);

	if (s->flags & TCP_RST)
		return;
	if (s->flags & TCP_ACK)
		queue_rst(ns, s->mac, s->saddr, s->dport, s->sport, s->ack, 0, TCP_RST);
	else
		queue_rst(ns, s->mac, s->saddr, s->dport, s->sport, 0, s->seq + len,
			  TCP_RST | TCP_ACK);
}

static size_t rst_frame(struct mmds_ns *ns, uint8_t *buf)
{
	const struct rst *r = &ns->rsts[ns->rst_head];
	struct tx t = {.mac = r->mac,
		       .raddr = r->raddr,
		       .lport = r->lport,
		       .rport = r->rport,
		       .seq = r->seq,
		       .ack = r->ack,
		       .flags = r->flags};

	ns->rst_head = (ns->rst_head + 1) % MMDS_NS_RST_QUEUE;
	ns->rst_count--;
	ns->stats.tx_rst++;
	return tcp_frame(ns, &t, buf);
}

/* ---- connections: the table ---- */

static struct conn *conn_find(struct mmds_ns *ns, uint32_t raddr, uint16_t rport)
{
	for (size_t i = 0; i < MMDS_NS_MAX_CONNECTIONS; i++) {
		struct conn *c = &ns->conns[i];

		if (c->used && c->raddr == raddr && c->rport == rport)
			return c;
	}
	return NULL;
}

/* Our receive window: the request buffer's free space. */
static uint16_t conn_window(const struct conn *c)
{
	return (uint16_t)(sizeof(c->req) - c->req_len);
}

/* A slot for a new connection at now_ms: a free one, else the one idle longest if idle for
 * MMDS_NS_EVICT_MS (reset), else NULL. */
static struct conn *conn_slot(struct mmds_ns *ns, uint64_t now_ms)
{
	struct conn *oldest = &ns->conns[0];

	for (size_t i = 0; i < MMDS_NS_MAX_CONNECTIONS; i++) {
		if (!ns->conns[i].used)
			return &ns->conns[i];
		if (ns->conns[i].last_rx < oldest->last_rx)
			oldest = &ns->conns[i];
	}
	if (elapsed(now_ms, oldest->last_rx) < MMDS_NS_EVICT_MS)
		return NULL;
	queue_rst(ns, oldest->mac, oldest->raddr, MMDS_NS_PORT, oldest->rport, oldest->snd_nxt,
		  oldest->rcv_nxt, TCP_RST | TCP_ACK);
	conn_free(ns, oldest);
	ns->stats.connections_evicted++;
	return oldest;
}

static uint32_t random32(struct mmds_ns *ns)
{
	uint32_t v;
	ssize_t n = ns->getrandom ? ns->getrandom(&v, sizeof(v), GRND_NONBLOCK)
				  : getrandom(&v, sizeof(v), GRND_NONBLOCK);

	if (n == (ssize_t)sizeof(v))
		return v;
	ns->isn_fallback = ns->isn_fallback * 1664525u + 1013904223u; /* no entropy: still vary */
	return ns->isn_fallback;
}

static void conn_open(struct mmds_ns *ns, struct conn *c, const struct seg *s, uint16_t mss,
		      uint64_t now_ms)
{
	uint32_t iss = random32(ns);

	memset(c, 0, offsetof(struct conn, req));
	c->used = true;
	c->synack_due = true;
	memcpy(c->mac, s->mac, 6);
	c->raddr = s->saddr;
	c->rport = s->sport;
	c->mss = mss;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->iss = c->snd_una = c->snd_nxt = c->snd_max = iss;
	c->data_end = iss + 1;
	c->rexmit_una = iss;
	c->snd_edge = iss + 1 + s->wnd;
	c->rto_ms = MMDS_NS_RTO_MS;
	c->last_rx = now_ms;
	ns->stats.connections_created++;
}

/* ---- receiving: a SYN for no connection ---- */

/* The MSS a SYN's options announce: MSS_DEFAULT without one, -1 when malformed. */
static int syn_mss(const struct seg *s)
{
	for (size_t i = 0; i < s->opt_len;) {
		uint8_t kind = s->opt[i], len;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= s->opt_len)
			return -1;
		len = s->opt[i + 1];
		if (len < 2 || len > s->opt_len - i || (kind == 2 && len != 4))
			return -1;
		if (kind == 2)
			return get16(s->opt + i + 2);
		i += len;
	}
	return MSS_DEFAULT;
}

static void listen_input(struct mmds_ns *ns, const struct seg *s, uint64_t now_ms)
{
	int mss;
	struct conn *c;

	if ((s->flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) != TCP_SYN) {
		ns->stats.rx_dropped++;
		reset_for(ns, s);
		return;
	}
	mss = syn_mss(s);
	if (mss < MMDS_NS_MSS_MIN) {
		ns->stats.rx_bad++;
		return;
	}
	c = conn_slot(ns, now_ms);
	if (!c) {
		ns->stats.connections_refused++;
		reset_for(ns, s);
		return;
	}
	conn_open(ns, c, s, (uint16_t)min_size((size_t)mss, MMDS_NS_MSS), now_ms);
}

/* ---- receiving: segments of a connection ---- */

/* Restart the retransmission timer if something is unacknowledged, else stop it. */
static void timer_restart(struct conn *c, uint64_t now_ms)
{
	c->rto_at = c->snd_una != c->snd_max ? now_ms + c->rto_ms : 0;
}

/* Data waits for the guest's window to open: probe it on the retransmission timer. */
static bool window_closed(const struct conn *c)
{
	return c->resp.data && seq_lt(c->snd_nxt, c->data_end) && !seq_lt(c->snd_nxt, c->snd_edge);
}

/* The guest acknowledged up to ack (past snd_una). */
static void acked(struct conn *c, uint32_t ack, uint64_t now_ms)
{
	c->snd_una = ack;
	c->retries = 0;
	c->rto_ms = MMDS_NS_RTO_MS;
	if (seq_lt(c->snd_nxt, ack))
		c->snd_nxt = ack; /* after a go-back, the guest had more than we thought */
	if (c->resp.data && seq_le(c->resp_seq + (uint32_t)c->resp.len, ack)) {
		free(c->resp.data);
		c->resp.data = NULL;
	}
	timer_restart(c, now_ms);
}

/* The handshake's ACK: true if s completes it, else s is answered with RST. */
static bool handshake_ack(struct mmds_ns *ns, struct conn *c, const struct seg *s, uint64_t now_ms)
{
	if (c->snd_max == c->iss || s->ack != c->iss + 1) {
		ns->stats.rx_dropped++;
		reset_for(ns, s);
		return false;
	}
	c->established = true;
	c->synack_due = false;
	acked(c, s->ack, now_ms);
	c->snd_edge = s->ack + s->wnd;
	return true;
}

/* The ACK field of s: false if s is to be dropped. */
static bool conn_ack(struct mmds_ns *ns, struct conn *c, const struct seg *s, uint64_t now_ms)
{
	bool dup;

	if (!c->established)
		return handshake_ack(ns, c, s, now_ms);
	if (seq_lt(c->snd_max, s->ack)) { /* acknowledges what was never sent */
		c->ack_due = true;
		ns->stats.rx_dropped++;
		return false;
	}
	if (seq_lt(s->ack, c->snd_una))
		return true; /* an old ACK: only its data counts */
	c->retries = 0;	     /* the guest is alive (and answers probes so) */
	dup = s->ack == c->snd_una && c->snd_una != c->snd_max && !s->len &&
	      !(s->flags & TCP_FIN) && s->ack + s->wnd == c->snd_edge;
	if (s->ack != c->snd_una)
		acked(c, s->ack, now_ms);
	c->snd_edge = s->ack + s->wnd;
	if (window_closed(c) && !c->rto_at)
		c->rto_at = now_ms + c->rto_ms;	  /* probe a closed window */
	if (dup && c->rexmit_una != c->snd_una) { /* the guest lost something: resend at once */
		c->rexmit_una = c->snd_una;
		c->snd_nxt = c->snd_una;
		ns->stats.tx_retransmits++;
	}
	return true;
}

/* The data and FIN of s, in order only. */
static void conn_data(struct mmds_ns *ns, struct conn *c, const struct seg *s)
{
	const uint8_t *d = s->data;
	size_t n = s->len, take;
	uint32_t seq = s->seq;
	bool fin = s->flags & TCP_FIN;

	if (!n && !fin)
		return;
	c->ack_due = true;
	if (c->fin_rcvd)
		return;		       /* nothing counts after the guest's FIN */
	if (seq_lt(seq, c->rcv_nxt)) { /* trim what was already taken */
		uint32_t old = c->rcv_nxt - seq;

		if (old > n)
			return;
		d += old;
		n -= old;
		seq = c->rcv_nxt;
	}
	if (seq != c->rcv_nxt) {
		ns->stats.rx_out_of_order++;
		return;
	}
	take = min_size(n, sizeof(c->req) - c->req_len);
	memcpy(c->req + c->req_len, d, take);
	c->req_len += take;
	c->rcv_nxt += (uint32_t)take;
	if (fin && take == n) {
		c->fin_rcvd = true;
		c->rcv_nxt++;
	}
}

/* Answer the request in c->req's first end bytes. */
static void conn_answer(struct mmds_ns *ns, struct conn *c, size_t end, uint64_t now_ms)
{
	struct mmds_http_response *r = &c->resp;

	if (mmds_http_answer(&ns->http, c->req, end, now_ms, r) < 0 || r->len >= RESPONSE_MAX) {
		free(r->data);
		r->data = NULL;
		c->rst_due = true;
		return;
	}
	ns->stats.rx_requests++;
	ns->stats.rx_no_token += r->no_token;
	ns->stats.rx_invalid_token += r->invalid_token;
	if (c->req_len == sizeof(c->req))
		c->ack_due = true; /* the window reopens */
	memmove(c->req, c->req + end, c->req_len - end);
	c->req_len -= end;
	c->resp_seq = c->data_end;
	c->data_end += (uint32_t)r->len;
}

/* Serve what the request buffer holds: one response at a time; a full buffer without a
 * request in it resets the connection (Firecracker's answer to an oversized request); once
 * the guest closed and no whole request is left, our FIN follows the last response. */
static void conn_serve(struct mmds_ns *ns, struct conn *c, uint64_t now_ms)
{
	size_t end = mmds_http_request_end(c->req, c->req_len);

	if (!c->established || c->rst_due || c->fin_queued)
		return;
	if (!c->resp.data && end) {
		conn_answer(ns, c, end, now_ms);
		end = mmds_http_request_end(c->req, c->req_len);
	}
	if (!c->resp.data && !end && c->req_len == sizeof(c->req)) {
		ns->stats.rx_too_large++;
		c->rst_due = true;
	} else if (c->fin_rcvd && !end && !c->rst_due) {
		c->fin_queued = true;
		c->fin_seq = c->data_end;
	}
}

/* A RST within the window ends the connection at once. */
static void conn_rst(struct mmds_ns *ns, struct conn *c, const struct seg *s)
{
	uint32_t wnd = conn_window(c) ? conn_window(c) : 1;

	if (seq_le(c->rcv_nxt, s->seq) && seq_lt(s->seq, c->rcv_nxt + wnd))
		conn_free(ns, c);
	else
		ns->stats.rx_dropped++;
}

/* A SYN on a connection: the same SYN again before the handshake completes resends the SYN-ACK;
 * a new SYN means the guest reuses the port, so the old connection gives way (as no TIME-WAIT
 * ever protects it here); any other segment with SYN resets the connection. */
static void conn_syn(struct mmds_ns *ns, struct conn *c, const struct seg *s, uint64_t now_ms)
{
	bool pure = (s->flags & (TCP_SYN | TCP_ACK | TCP_FIN)) == TCP_SYN;

	if (pure && !c->established && s->seq == c->irs) {
		c->synack_due = true;
	} else if (pure) {
		conn_free(ns, c);
		listen_input(ns, s, now_ms);
	} else {
		ns->stats.rx_dropped++;
		c->rst_due = true;
	}
}

static void conn_input(struct mmds_ns *ns, struct conn *c, const struct seg *s, uint64_t now_ms)
{
	c->last_rx = now_ms;
	if (s->flags & TCP_RST) {
		conn_rst(ns, c, s);
		return;
	}
	if (s->flags & TCP_SYN) {
		conn_syn(ns, c, s, now_ms);
		return;
	}
	if (!(s->flags & TCP_ACK)) {
		ns->stats.rx_dropped++;
		return;
	}
	if (!conn_ack(ns, c, s, now_ms))
		return;
	conn_data(ns, c, s);
	conn_serve(ns, c, now_ms);
	if (c->fin_queued && c->snd_una == c->fin_seq + 1)
		conn_free(ns, c); /* both FINs sent and acknowledged */
}

/* ---- receiving: frames ---- */

/* Parse the TCP segment t (n bytes, within the frame) from saddr: false if malformed. */
static bool tcp_parse(const uint8_t *t, size_t n, struct seg *s)
{
	size_t doff;

	if (n < TCP_HLEN)
		return false;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < TCP_HLEN || doff > n)
		return false;
	s->sport = get16(t);
	s->dport = get16(t + 2);
	s->seq = get32(t + 4);
	s->ack = get32(t + 8);
	s->flags = t[13];
	s->wnd = get16(t + 14);
	s->opt = t + TCP_HLEN;
	s->opt_len = doff - TCP_HLEN;
	s->data = t + doff;
	s->len = n - doff;
	return true;
}

static void tcp_input(struct mmds_ns *ns, struct seg *s, const uint8_t *t, size_t n, unsigned flags,
		      uint64_t now_ms)
{
	struct conn *c;

	if (!tcp_parse(t, n, s)) {
		ns->stats.rx_bad++;
		return;
	}
	if (!(flags & MMDS_NS_RX_CSUM_PARTIAL) && tcp_csum(s->saddr, ns->ipv4, t, n)) {
		ns->stats.rx_bad_csum++;
		return;
	}
	ns->stats.rx_segments++;
	if (s->dport != MMDS_NS_PORT) { /* a closed port: refused */
		ns->stats.rx_dropped++;
		reset_for(ns, s);
		return;
	}
	c = conn_find(ns, s->saddr, s->sport);
	if (c)
		conn_input(ns, c, s, now_ms);
	else
		listen_input(ns, s, now_ms);
}

/* A source no reply may go to: 0.0.0.0, broadcast, multicast or class E. */
static bool bad_source(uint32_t a)
{
	return !a || a >> 28 >= 0xe;
}

static void ip_input(struct mmds_ns *ns, const uint8_t *f, size_t len, unsigned flags,
		     uint64_t now_ms)
{
	const uint8_t *ip = f + ETH_HLEN;
	size_t avail = len - ETH_HLEN, ihl, total;
	struct seg s = {.mac = f + 6};

	if (avail < IP_HLEN || ip[0] >> 4 != 4 || (ihl = (size_t)(ip[0] & 15) * 4) < IP_HLEN ||
	    (total = get16(ip + 2)) < ihl || total > avail) {
		ns->stats.rx_bad++;
		return;
	}
	if (csum_fold(csum_add(0, ip, ihl))) {
		ns->stats.rx_bad_csum++;
		return;
	}
	if (ihl > IP_HLEN) {
		ns->stats.rx_ip_options++;
		return;
	}
	if (get16(ip + 6) & 0x3fff) { /* MF or a fragment offset */
		ns->stats.rx_fragments++;
		return;
	}
	s.saddr = get32(ip + 12);
	if (get32(ip + 16) != ns->ipv4 || ip[9] != IP_PROTO_TCP || bad_source(s.saddr) ||
	    (s.mac[0] & 1)) {
		ns->stats.rx_dropped++;
		return;
	}
	tcp_input(ns, &s, ip + IP_HLEN, total - IP_HLEN, flags, now_ms);
}

static void arp_input(struct mmds_ns *ns, const uint8_t *f, size_t len)
{
	const uint8_t *a = f + ETH_HLEN;

	if (len < ETH_HLEN + ARP_LEN || get16(a) != 1 || get16(a + 2) != ETH_P_IP || a[4] != 6 ||
	    a[5] != 4) {
		ns->stats.rx_bad++;
		return;
	}
	if (get16(a + 6) != 1 || get32(a + 24) != ns->ipv4 || (a[8] & 1)) {
		ns->stats.rx_dropped++; /* not a request for MMDS, or from a group address */
		return;
	}
	ns->stats.rx_arp++;
	ns->arp_due = true; /* the last request wins */
	memcpy(ns->arp_mac, a + 8, 6);
	ns->arp_ip = get32(a + 14);
}

void mmds_ns_input(struct mmds_ns *ns, const void *frame, size_t len, unsigned flags,
		   uint64_t now_ms)
{
	const uint8_t *f = frame;

	ns->stats.rx_frames++;
	if (len < ETH_HLEN) {
		ns->stats.rx_bad++;
		return;
	}
	switch (get16(f + 12)) {
	case ETH_P_ARP:
		arp_input(ns, f, len);
		break;
	case ETH_P_IP:
		ip_input(ns, f, len, flags, now_ms);
		break;
	default:
		ns->stats.rx_dropped++;
	}
}

/* ---- sending ---- */

/* A segment of c with its addresses, our window and the next ACK. */
static struct tx conn_tx(const struct conn *c, uint32_t seq, uint8_t flags)
{
	return (struct tx){.mac = c->mac,
			   .raddr = c->raddr,
			   .lport = MMDS_NS_PORT,
			   .rport = c->rport,
			   .wnd = conn_window(c),
			   .seq = seq,
			   .ack = c->rcv_nxt,
			   .flags = flags};
}

/* Note that seq..end went out: advance, arm the timer. */
static void sent(struct conn *c, uint32_t end, uint64_t now_ms)
{
	c->snd_nxt = end;
	if (seq_lt(c->snd_max, end))
		c->snd_max = end;
	if (!c->rto_at)
		c->rto_at = now_ms + c->rto_ms;
	c->ack_due = false;
}

/* How much response c may send now: within the data, the guest's window, the MSS and room. */
static size_t data_len(const struct conn *c, size_t room)
{
	size_t n;

	if (!c->resp.data || !seq_lt(c->snd_nxt, c->data_end) || !seq_lt(c->snd_nxt, c->snd_edge))
		return 0;
	n = min_size(c->data_end - c->snd_nxt, c->snd_edge - c->snd_nxt);
	return min_size(min_size(n, c->mss), room);
}

static size_t send_data(struct mmds_ns *ns, struct conn *c, uint8_t *buf, size_t cap,
			uint64_t now_ms)
{
	size_t n = data_len(c, cap - HEADERS);
	uint32_t end = c->snd_nxt + (uint32_t)n;
	struct tx t = conn_tx(c, c->snd_nxt, TCP_ACK);

	t.data = (const uint8_t *)c->resp.data + (c->snd_nxt - c->resp_seq);
	t.len = n;
	if (end == c->data_end)
		t.flags |= TCP_PSH;
	if (c->fin_queued && end == c->fin_seq) {
		t.flags |= TCP_FIN;
		end++;
	}
	sent(c, end, now_ms);
	return tcp_frame(ns, &t, buf);
}

static bool fin_ready(const struct conn *c)
{
	return c->fin_queued && c->snd_nxt == c->fin_seq;
}

/* Whether c has a segment to send now. */
static bool conn_ready(const struct conn *c)
{
	return c->rst_due || c->synack_due || c->probe_due || c->ack_due || fin_ready(c) ||
	       data_len(c, MMDS_NS_MSS);
}

/* The next segment of c into buf, or 0. */
static size_t conn_output(struct mmds_ns *ns, struct conn *c, uint8_t *buf, size_t cap,
			  uint64_t now_ms)
{
	struct tx t;

	if (c->rst_due) {
		size_t n;

		t = conn_tx(c, c->snd_nxt, TCP_RST | TCP_ACK);
		n = tcp_frame(ns, &t, buf);
		conn_free(ns, c);
		ns->stats.tx_rst++;
		return n;
	}
	if (c->synack_due) {
		t = conn_tx(c, c->iss, TCP_SYN | TCP_ACK);
		t.mss_opt = MMDS_NS_MSS;
		c->synack_due = false;
		sent(c, c->iss + 1, now_ms);
		return tcp_frame(ns, &t, buf);
	}
	if (data_len(c, cap - HEADERS))
		return send_data(ns, c, buf, cap, now_ms);
	if (fin_ready(c)) {
		t = conn_tx(c, c->fin_seq, TCP_ACK | TCP_FIN);
		sent(c, c->fin_seq + 1, now_ms);
		return tcp_frame(ns, &t, buf);
	}
	if (c->probe_due || c->ack_due) { /* a probe is an ACK below the window: answered */
		t = conn_tx(c, c->probe_due ? c->snd_una - 1 : c->snd_nxt, TCP_ACK);
		c->probe_due = c->ack_due = false;
		return tcp_frame(ns, &t, buf);
	}
	return 0;
}

/* c's retransmission timer fired: resend from the oldest unacknowledged byte (or the SYN-ACK),
 * or probe a closed window; reset after MMDS_NS_RETRIES in a row. */
static void conn_timeout(struct mmds_ns *ns, struct conn *c, uint64_t now_ms)
{
	if (++c->retries > MMDS_NS_RETRIES) {
		ns->stats.connections_timed_out++;
		c->rst_due = true;
		return;
	}
	ns->stats.tx_retransmits++;
	c->rto_ms = c->rto_ms * 2 < MMDS_NS_RTO_MAX_MS ? c->rto_ms * 2 : MMDS_NS_RTO_MAX_MS;
	c->rto_at = now_ms + c->rto_ms;
	if (!c->established)
		c->synack_due = true;
	else
		c->snd_nxt = c->snd_una;
	if (window_closed(c))
		c->probe_due = true;
}

static void timers(struct mmds_ns *ns, uint64_t now_ms)
{
	for (size_t i = 0; i < MMDS_NS_MAX_CONNECTIONS; i++) {
		struct conn *c = &ns->conns[i];

		if (!c->used || c->rst_due)
			continue;
		if (elapsed(now_ms, c->last_rx) >= MMDS_NS_IDLE_MS) {
			ns->stats.connections_timed_out++;
			c->rst_due = true;
		} else if (c->rto_at && now_ms >= c->rto_at) {
			conn_timeout(ns, c, now_ms);
		}
	}
}

static size_t output(struct mmds_ns *ns, uint8_t *buf, size_t cap, uint64_t now_ms)
{
	timers(ns, now_ms);
	if (ns->arp_due)
		return arp_frame(ns, buf);
	if (ns->rst_count)
		return rst_frame(ns, buf);
	for (size_t i = 0; i < MMDS_NS_MAX_CONNECTIONS; i++) {
		size_t k = (ns->next_conn + i) % MMDS_NS_MAX_CONNECTIONS, n;

		if (!ns->conns[k].used)
			continue;
		n = conn_output(ns, &ns->conns[k], buf, cap, now_ms);
		if (n) {
			ns->next_conn = (unsigned)(k + 1) % MMDS_NS_MAX_CONNECTIONS;
			return n;
		}
	}
	return 0;
}

size_t mmds_ns_output(struct mmds_ns *ns, void *buf, size_t cap, uint64_t now_ms)
{
	size_t n;

	if (cap < FRAME_MIN)
		return 0;
	n = output(ns, buf, cap, now_ms);
	if (n) {
		ns->stats.tx_frames++;
		ns->stats.tx_bytes += n;
	}
	return n;
}

uint64_t mmds_ns_next_deadline(const struct mmds_ns *ns)
{
	uint64_t next = UINT64_MAX;

	if (ns->arp_due || ns->rst_count)
		return 0;
	for (size_t i = 0; i < MMDS_NS_MAX_CONNECTIONS; i++) {
		const struct conn *c = &ns->conns[i];

		if (!c->used)
			continue;
		if (conn_ready(c))
			return 0;
		if (c->rto_at && c->rto_at < next)
			next = c->rto_at;
		if (c->last_rx + MMDS_NS_IDLE_MS < next)
			next = c->last_rx + MMDS_NS_IDLE_MS;
	}
	return next;
}
