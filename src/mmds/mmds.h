/* mmds.h — the microVM metadata service's data store (Firecracker's MMDS): one JSON document the
 * host puts and patches over the API (PUT/PATCH/GET /mmds) or fills from --metadata, bounded by a
 * size limit. The guest-facing side (ARP, TCP, HTTP on a network interface) reads it. */
#ifndef KILN_MMDS_MMDS_H
#define KILN_MMDS_MMDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mmds/token.h"

#include "util/compiler.h"

#define MMDS_DEFAULT_LIMIT 51200 /* bytes of compact JSON: Firecracker's default */

/*
 * The store is written on the main thread (the API, --metadata) and read by the network stacks
 * of the interfaces MMDS serves, which run on whichever thread drives their device: `lock` guards
 * data and tokens. mmds_put, mmds_patch and mmds_get take it themselves; a stack's caller holds it
 * around each call into the stack (mmds_lock). A document is never changed in place: a put or a
 * patch installs a new one, so a reference taken under the lock stays valid after it.
 */
struct mmds {
	pthread_mutex_t lock;
	json_t *data; /* the document; NULL until the first put (Firecracker: "not initialized") */
	size_t limit; /* the most bytes data may take as compact JSON */
	bool created; /* something asked for the store before boot (Firecracker builds it then) */
	struct mmds_tokens tokens; /* V2 session tokens, valid on every interface (Firecracker's) */
};

/* An empty, uncreated store holding at most limit bytes. */
void mmds_init(struct mmds *m, size_t limit);

/* Drop the document. m may be reused after mmds_init. */
void mmds_destroy(struct mmds *m);

/* Hold / release the store's lock around calls into a network stack that reads it. */
void mmds_lock(struct mmds *m);
void mmds_unlock(struct mmds *m);

/* Bytes value takes as compact JSON (Firecracker measures its limit on this form). */
size_t mmds_json_size(const json_t *value);

/* Replace the document with value (borrowed; the store keeps its own reference; value must not
 * be changed afterwards). Main thread. Returns 0 or
 * -EFBIG (value over the limit; the document is unchanged). Marks the store created. */
int mmds_put(struct mmds *m, json_t *value) MUST_CHECK;

/* Apply patch to the document as a JSON merge patch (RFC 7396: objects merge key by key, null
 * removes a key, anything else replaces). Returns 0, -ENODATA (nothing was put yet) or -EFBIG
 * (the result would be over the limit) or -ENOMEM; on error the document is unchanged. */
int mmds_patch(struct mmds *m, const json_t *patch) MUST_CHECK;

/* The document as a new reference; an empty object when nothing (or null) was put. NULL only on
 * ENOMEM. */
json_t *mmds_get(struct mmds *m);

/* Put the JSON document in the file at path (--metadata). Returns 0 or -errno with one line in
 * err (size errlen) naming the file and the fault: unreadable, not a regular file, not JSON, over
 * the limit. */
int mmds_load_file(struct mmds *m, const char *path, char *err, size_t errlen) MUST_CHECK;

#endif
