/* http.h — MMDS's HTTP answers to the guest: one request's bytes, the store, the tokens and the
 * time in, the response's bytes out. Pure apart from the token table (a PUT issues a token);
 * src/mmds/ns.c carries the bytes over TCP.
 *
 * The observable behaviour is Firecracker's (its micro_http parser, src/vmm/src/mmds/mod.rs and
 * the endpoint in src/vmm/src/dumbo/tcp/endpoint.rs): the same request framing, the same status
 * codes, headers and body texts, including its quirks (see docs/api.md, "MMDS"). */
#ifndef KILN_MMDS_HTTP_H
#define KILN_MMDS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "mmds/mmds.h"
#include "mmds/token.h"
#include "util/compiler.h"

/* Most bytes of request a connection buffers (Firecracker's receive buffer, RCV_BUF_MAX_SIZE): a
 * request whose headers do not end within it is never answered (the connection is reset). */
#define MMDS_HTTP_REQ_MAX 2500

/* What answers: the store, how (version, format) and the tokens. */
struct mmds_http {
	const struct mmds *store; /* read only; its document is read at each request */
	enum mmds_version version;
	bool imds_compat;	    /* always the IMDS text format, whatever Accept says */
	struct mmds_tokens *tokens; /* required: PUT /latest/api/token issues, GET checks */
};

struct mmds_http_response {
	char *data;	    /* malloc'd: status line, headers, body, then a NUL; free() it */
	size_t len;	    /* bytes in data, the NUL not counted */
	int status;	    /* 200, 400, 401, 404, 405 or 501 */
	bool no_token;	    /* a GET without a token header (counted in V1 too) */
	bool invalid_token; /* a GET whose token is not valid now (counted in V1 too) */
};

/* Where the first request in buf (len bytes) ends: 1 + the index of the first LF followed by LF
 * or by CR LF, plus that LF or CR LF (Firecracker's endpoint frames a request so, before parsing
 * it). 0 when no request is complete yet. A body is never part of a request: a request with a
 * nonzero Content-Length is answered 400 and its body is read as the next request, as in
 * Firecracker. */
size_t mmds_http_request_end(const void *buf, size_t len);

/* Answer the request in req (len bytes, as framed by mmds_http_request_end; any bytes are
 * accepted) at now_ms (a monotonic clock in milliseconds, the tokens' clock). Fills out and
 * returns 0, or returns -ENOMEM with out cleared. */
int mmds_http_answer(const struct mmds_http *h, const void *req, size_t len, uint64_t now_ms,
		     struct mmds_http_response *out) MUST_CHECK;

#endif
