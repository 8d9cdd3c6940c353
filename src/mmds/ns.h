/* ns.h — MMDS's network stack: the guest-facing side of the metadata service. A virtio-net device
 * hands it the Ethernet frames the guest sends to MMDS's address (ARP requests, IPv4/TCP to port
 * 80) and pulls from it the frames to deliver to the guest. It answers ARP from a fixed MAC,
 * speaks a small passive-open TCP over IPv4 and serves HTTP requests from the store
 * (src/mmds/http.c), as Firecracker's MMDS does (its dumbo stack). One stack per network interface
 * that MMDS is configured on; nothing here touches a device, a socket or a clock.
 *
 * Not thread-safe: one thread calls into a stack at a time, and the store must not change during
 * a call (the store is read at each request). */
#ifndef KILN_MMDS_NS_H
#define KILN_MMDS_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "mmds/mmds.h"
#include "mmds/token.h"
#include "util/compiler.h"

/* MMDS's MAC address: locally administered, Firecracker's. */
#define MMDS_NS_MAC                                                                                \
	{                                                                                          \
		0x06, 0x01, 0x23, 0x45, 0x67, 0x01                                                 \
	}
#define MMDS_NS_PORT		80
#define MMDS_NS_FRAME_MIN	1514  /* a buffer for mmds_ns_output: a full Ethernet frame */
#define MMDS_NS_MSS		1460  /* most TCP payload per frame, sent and advertised */
#define MMDS_NS_MSS_MIN		100   /* a SYN announcing less is dropped (Firecracker's bound) */
#define MMDS_NS_MAX_CONNECTIONS 30    /* Firecracker's */
#define MMDS_NS_RST_QUEUE	16    /* RSTs for segments of no connection, waiting to go out */
#define MMDS_NS_RTO_MS		300   /* first retransmission timeout; doubles up to ... */
#define MMDS_NS_RTO_MAX_MS	3000  /* ... this */
#define MMDS_NS_RETRIES		15    /* retransmissions without progress before a reset */
#define MMDS_NS_EVICT_MS	10000 /* a connection idle this long may be evicted for a new one */
#define MMDS_NS_IDLE_MS		120000 /* a connection idle this long is reset */

/* mmds_ns_input flags. */
#define MMDS_NS_RX_CSUM_PARTIAL                                                                    \
	1u /* the guest left the TCP checksum to the device (virtio-net's                          \
	    * VIRTIO_NET_HDR_F_NEEDS_CSUM): it is not verified */

struct mmds_ns_config {
	uint32_t ipv4;		   /* MMDS's address, host byte order (config: mmds.ipv4) */
	enum mmds_version version; /* V1: tokens optional; V2: every GET needs a valid one */
	bool imds_compat;	   /* always answer in the IMDS text format */
	/* Tokens shared with the stacks of other interfaces (a token from one is valid on all, as
	 * in Firecracker); NULL: the stack keeps its own table. Must outlive the stack. */
	struct mmds_tokens *tokens;
	/* getrandom(2) semantics, for initial sequence numbers (and the stack's own tokens); NULL:
	 * getrandom(2). For tests and fuzzing. */
	mmds_getrandom_fn getrandom;
};

/* Counters, only ever increasing. */
struct mmds_ns_stats {
	uint64_t rx_frames;	   /* frames given to mmds_ns_input */
	uint64_t rx_bad;	   /* malformed: truncated or inconsistent headers, bad options */
	uint64_t rx_bad_csum;	   /* IPv4 header or TCP checksum wrong */
	uint64_t rx_ip_options;	   /* IPv4 packets with options: dropped */
	uint64_t rx_fragments;	   /* IPv4 fragments: dropped */
	uint64_t rx_dropped;	   /* well-formed but unwanted (not for MMDS, not TCP, no taker) */
	uint64_t rx_out_of_order;  /* data past the next expected byte: dropped, re-ACKed */
	uint64_t rx_arp;	   /* ARP requests for MMDS's address (answered) */
	uint64_t rx_segments;	   /* TCP segments with good headers and checksum */
	uint64_t rx_requests;	   /* HTTP requests answered */
	uint64_t rx_too_large;	   /* requests past MMDS_HTTP_REQ_MAX: connection reset */
	uint64_t rx_no_token;	   /* GETs without a token (V1 and V2, as Firecracker counts) */
	uint64_t rx_invalid_token; /* GETs with a token not valid now */
	uint64_t tx_frames;	   /* frames returned by mmds_ns_output */
	uint64_t tx_bytes;	   /* their bytes */
	uint64_t tx_rst;	   /* RST segments among them */
	uint64_t tx_rst_dropped;   /* RSTs never sent: their queue was full */
	uint64_t tx_retransmits;   /* timeout and duplicate-ACK resends, SYN-ACK resends, probes */
	uint64_t connections_created;	/* SYNs accepted */
	uint64_t connections_destroyed; /* connections gone, for any reason */
	uint64_t connections_refused;	/* SYNs answered RST: table full and none evictable */
	uint64_t connections_evicted;	/* idle connections reset to make room for a SYN */
	uint64_t connections_timed_out; /* reset: retransmissions unanswered, or idle too long */
};

struct mmds_ns;

/* A stack answering for c->ipv4 from store (read at each request; must outlive the stack). It
 * allocates everything it will use, connections included, now: 0, or -ENOMEM. */
int mmds_ns_create(const struct mmds *store, const struct mmds_ns_config *c,
		   struct mmds_ns **out) MUST_CHECK;

/* Free ns and everything it holds. NULL is ignored. */
void mmds_ns_destroy(struct mmds_ns *ns);

/* Whether the guest frame (its first len bytes) is MMDS's: an ARP request for MMDS's address, or
 * an IPv4 packet to it (judged on the destination field alone, so that malformed packets to MMDS
 * go to mmds_ns_input and never to the host). Reads nothing past len; changes nothing. */
bool mmds_ns_is_for_mmds(const struct mmds_ns *ns, const void *frame, size_t len);

/* Take one whole frame the guest sent (Ethernet header first, no virtio-net header; any length,
 * any bytes) at now_ms, a monotonic clock in milliseconds (never going back). flags:
 * MMDS_NS_RX_CSUM_PARTIAL or 0. Never fails: malformed or unwanted frames are counted and dropped,
 * segments for no connection answered with RST. The frame is not kept. */
void mmds_ns_input(struct mmds_ns *ns, const void *frame, size_t len, unsigned flags,
		   uint64_t now_ms);

/* Write the next frame MMDS has for the guest into buf (cap bytes: MMDS_NS_FRAME_MIN or more; a
 * smaller buffer limits the payload, and one under 60 bytes gets nothing). Returns its length, or
 * 0 when there is none now. Also fires due retransmission and idle timers. Call it until it
 * returns 0 after each mmds_ns_input, and when mmds_ns_next_deadline passes. */
size_t mmds_ns_output(struct mmds_ns *ns, void *buf, size_t cap, uint64_t now_ms);

/* When mmds_ns_output must next be called without new input: 0 when a frame is ready now, a
 * deadline on the now_ms clock (a retransmission, a probe, an idle timeout), or UINT64_MAX when
 * nothing is pending. */
uint64_t mmds_ns_next_deadline(const struct mmds_ns *ns);

/* ns's counters. */
const struct mmds_ns_stats *mmds_ns_stats(const struct mmds_ns *ns);

#endif
