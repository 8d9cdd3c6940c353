/* client.h — a minimal HTTP/1.1 client of kiln's API socket (one request per connection), for
 * `kiln ctl` and `kiln migrate send`. */
#ifndef KILN_API_CLIENT_H
#define KILN_API_CLIENT_H

#include <stddef.h>

#include "util/compiler.h"

#define API_CLIENT_TIMEOUT_S 10 /* connect, send and each receive */

/* A response as the client sees it. */
struct api_client_response {
	int status; /* HTTP status */
	char *body; /* malloc'ed, NUL-terminated ("" if none) */
};

/*
 * One HTTP/1.1 request over the Unix socket at sock (Connection: close; body may be NULL).
 * Returns 0 with out filled (free out->body), or -errno (connect, I/O, -ETIMEDOUT after
 * API_CLIENT_TIMEOUT_S without progress, -EMSGSIZE for an answer over 1 MiB) / -EPROTO (not an
 * HTTP response).
 */
int api_client_request(const char *sock, const char *method, const char *path, const char *body,
		       struct api_client_response *out) MUST_CHECK;

#endif
