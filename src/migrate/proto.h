/* proto.h — kiln's migration wire format (docs/migration-protocol.md): a versioned stream header,
 * then typed, length-prefixed, checksummed frames over a stream socket. */
#ifndef KILN_MIGRATE_PROTO_H
#define KILN_MIGRATE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define MIG_MAGIC      "KILNMIGR"
#define MIG_VERSION    1u
#define MIG_HELLO_LEN  16u		    /* magic, u32 version, u32 flags (0) */
#define MIG_FRAME_HDR  12u		    /* u32 type, u32 length, u32 CRC-32C */
#define MIG_FRAME_MAX  ((8u << 20) + 4096u) /* payload bytes, at most */
#define MIG_RUN_HDR    16u		    /* u64 gpa, u32 pages, u32 reserved (0) */
#define MIG_PAGE       4096u
#define MIG_REASON_MAX 256u /* ABANDON payload: a reason, printable ASCII */

/* Frame types. Source -> destination: CONFIG, MEMORY, STATE, COMPLETE, ABANDON; destination ->
 * source: ACK (answer to COMPLETE: the VM is loaded and about to run) or ABANDON. */
enum mig_type {
	MIG_CONFIG = 1,
	MIG_MEMORY = 2,
	MIG_STATE = 3,
	MIG_COMPLETE = 4,
	MIG_ABANDON = 5,
	MIG_ACK = 6,
};

/* A received frame; data is malloc'ed (len bytes, plus a NUL), free it. */
struct mig_frame {
	uint32_t type;
	uint32_t len;
	uint8_t *data;
};

/* Integers on the wire are little-endian whatever the host's order: these encode and decode them
 * byte by byte at p (4 or 8 bytes, any alignment). Never copy wire bytes into host integers. */
void mig_put_le32(uint8_t *p, uint32_t v);
void mig_put_le64(uint8_t *p, uint64_t v);
uint32_t mig_get_le32(const uint8_t *p);
uint64_t mig_get_le64(const uint8_t *p);

/* A MEMORY frame's page run, decoded: `pages` pages of MIG_PAGE bytes at `gpa` follow the header.
 */
struct mig_run {
	uint64_t gpa;
	uint32_t pages;
};

/* Write a page-run header (MIG_RUN_HDR bytes: u64 gpa, u32 pages, u32 reserved 0) at p. */
void mig_put_run(uint8_t *p, uint64_t gpa, uint32_t pages);

/*
 * Decode and check the page run at p, `left` bytes before the frame's end: a whole header, gpa
 * page-aligned, at least one page, reserved 0, and the pages within `left`. 0 with *run filled,
 * or -EPROTO with why set. Where the pages go (guest RAM) is the caller's check.
 */
int mig_get_run(const uint8_t *p, size_t left, struct mig_run *run, const char **why) MUST_CHECK;

/* Name of a frame type ("CONFIG", ...; "unknown"). */
const char *mig_type_name(uint32_t type);

/* CRC-32C as snapshot_crc32c (same values), with the SSE4.2 instruction when the CPU has it. */
uint32_t mig_crc32c(uint32_t crc, const void *p, size_t len);

/* The stream header: send ours; read and check the peer's (magic, version, flags). 0 or -errno
 * (-EPROTO for a bad header, with why set; -EPIPE: the stream ended first, as util/io.h). */
int mig_send_hello(int fd) MUST_CHECK;
int mig_recv_hello(int fd, const char **why) MUST_CHECK;

/* Send one frame whose payload is head (hlen bytes) followed by body (blen), either may be
 * empty. -EINVAL if the payload exceeds MIG_FRAME_MAX, else io_write_all's result; on a socket
 * with SO_SNDTIMEO, that is a deadline for progress: -EAGAIN once no byte of the frame has moved
 * for that long (however many send() calls it took). */
int mig_send_frame(int fd, uint32_t type, const void *head, size_t hlen, const void *body,
		   size_t blen) MUST_CHECK;

/* Read one frame: header, bounds (length <= MIG_FRAME_MAX), known type, payload, checksum.
 * 0 with f filled, or -errno (I/O; -EPIPE: the stream ended first), -EPROTO with why set (the
 * frame is refused). */
int mig_recv_frame(int fd, struct mig_frame *f, const char **why) MUST_CHECK;

/* Send ABANDON with a reason (truncated to MIG_REASON_MAX - 1); best effort, errors ignored. */
void mig_send_abandon(int fd, const char *reason);

/* Copy an ABANDON payload into buf as printable text. */
void mig_reason(const struct mig_frame *f, char *buf, size_t cap);

/* Parse "HOST:PORT" (IPv4 dotted quad, or "localhost") into addr. 0 or -EINVAL. */
struct sockaddr_in;
int mig_parse_addr(const char *s, struct sockaddr_in *addr) MUST_CHECK;

#endif
