/* token.h — MMDS V2 session tokens (PUT /latest/api/token, then X-metadata-token on each GET).
 *
 * Firecracker seals each token's expiry with AES-GCM under a key made at start, so it keeps no
 * table. kiln links no crypto library, so a token here is 36 random bytes from getrandom(2),
 * written as 48 base64 characters (Firecracker's tokens have the same length and alphabet), kept
 * with its expiry in a bounded table: expired tokens are reclaimed first, then the oldest issued
 * is evicted when the table is full. Tokens are compared in constant time. Like Firecracker's,
 * they live in the process only: a restored snapshot starts with none. */
#ifndef KILN_MMDS_TOKEN_H
#define KILN_MMDS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/compiler.h"

#define MMDS_TOKEN_TTL_MIN 1u	  /* seconds: Firecracker's bounds */
#define MMDS_TOKEN_TTL_MAX 21600u /* 6 hours */
#define MMDS_TOKEN_RAW	   36	  /* random bytes in a token */
#define MMDS_TOKEN_LEN	   48	  /* its text: base64 of MMDS_TOKEN_RAW bytes, no padding needed */
#define MMDS_TOKENS_MAX	   256	  /* live tokens kept; the oldest is evicted beyond */

/* getrandom(2) semantics; called with GRND_NONBLOCK. */
typedef ssize_t (*mmds_getrandom_fn)(void *buf, size_t len, unsigned int flags);

struct mmds_token {
	char text[MMDS_TOKEN_LEN];
	uint64_t expiry_ms; /* valid while now < expiry_ms; 0: free slot */
	uint64_t serial;    /* issue order, for eviction */
};

struct mmds_tokens {
	struct mmds_token slot[MMDS_TOKENS_MAX];
	uint64_t issued;  /* tokens made so far */
	uint64_t evicted; /* live tokens dropped to make room */
	mmds_getrandom_fn getrandom;
};

/* An empty table drawing from getrandom (NULL: getrandom(2); tests and fuzzers pass their own). */
void mmds_tokens_init(struct mmds_tokens *t, mmds_getrandom_fn getrandom);

/* Issue a token valid for ttl_s seconds from now_ms (a monotonic clock in milliseconds): its text
 * (MMDS_TOKEN_LEN characters and a NUL) in out. Returns 0, -EINVAL when ttl_s is outside
 * [MMDS_TOKEN_TTL_MIN, MMDS_TOKEN_TTL_MAX], or -errno when no random bytes could be had (then no
 * token is made). */
int mmds_token_new(struct mmds_tokens *t, uint32_t ttl_s, uint64_t now_ms,
		   char out[MMDS_TOKEN_LEN + 1]) MUST_CHECK;

/* Whether text (len bytes, not NUL-terminated) is a token of t still valid at now_ms. The time it
 * takes depends on len and the table size only, never on which bytes match. */
bool mmds_token_valid(const struct mmds_tokens *t, const char *text, size_t len, uint64_t now_ms);

#endif
