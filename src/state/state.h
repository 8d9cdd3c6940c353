/* state.h — guest-visible state as a versioned, sectioned byte stream: the same encoding is a
 * snapshot file's body and a migration stream's state phase. Every object with guest-visible
 * state (vCPU, irqchip, PIT, clock, each device, each virtqueue) saves into a named section of
 * its own and loads from it, checking lengths and versions: the input is untrusted. */
#ifndef KILN_STATE_STATE_H
#define KILN_STATE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct kiln_err;

#define STATE_NAME_MAX 32 /* section names: "vcpu.0", "irqchip", "uart.com1", "virtio.2", ... */

/*
 * Encoding (docs/snapshot-format.md): a stream is a sequence of sections, each
 *     name     1..STATE_NAME_MAX-1 bytes of printable ASCII, then a NUL
 *     version  u16, little-endian
 *     length   u32, little-endian: payload bytes that follow
 *     payload  the object's fields, little-endian, in the order its save function puts them
 * Names are unique in a stream. Readers look sections up by name, so their order is free.
 */
#define STATE_SECTION_MAX  (64u << 20) /* payload bytes per section, at most */
#define STATE_SECTIONS_MAX 4096	       /* sections per stream, at most */

/* An in-memory stream being written (sections appended) or read (sections looked up). A zeroed
 * struct is an empty writer. */
struct state_buf {
	uint8_t *data;
	size_t len, cap;  /* cap 0 while reading: data is borrowed, not freed */
	size_t pos;	  /* reader: position inside the current section */
	size_t sec_start; /* reader: current section's payload [sec_start, sec_end);
			   * writer: offset of the open section's length field */
	size_t sec_end;
	struct kiln_err *err; /* reader: where loaders' refusals go (state_refuse); may be NULL */
	bool overflow;	      /* a write failed (ENOMEM) or a read ran past its section */
	bool in_section;      /* writer: a section is open; reader: one is selected */
};

/* --- writing --- */

/* Begin section `name` (version `version`); every put until state_end_section goes into it.
 * -EINVAL for a bad name (empty, too long, not printable) or a section already open; names are
 * not checked for uniqueness here (the reader refuses duplicates). */
int state_begin_section(struct state_buf *b, const char *name, uint16_t version) MUST_CHECK;
/* Close the open section. -EINVAL if none is open, -ENOMEM if a put failed (b->overflow) or
 * the payload exceeds STATE_SECTION_MAX. */
int state_end_section(struct state_buf *b) MUST_CHECK;
/* Little-endian fixed-width values and raw bytes. Errors latch into b->overflow. */
void state_put_u8(struct state_buf *b, uint8_t v);
void state_put_u16(struct state_buf *b, uint16_t v);
void state_put_u32(struct state_buf *b, uint32_t v);
void state_put_u64(struct state_buf *b, uint64_t v);
void state_put_bytes(struct state_buf *b, const void *p, size_t len);
/* A length-prefixed blob: u32 length, then the bytes (for fixed-layout kernel ABI structs). */
void state_put_blob(struct state_buf *b, const void *p, uint32_t len);

/* --- reading --- */

/* Wrap len bytes of untrusted data; validates the section framing (names NUL-terminated,
 * lengths inside the buffer, no duplicate names). Returns 0 or -EINVAL. */
int state_open(struct state_buf *b, const uint8_t *data, size_t len) MUST_CHECK;
/* Select section `name`: 0 with *version set (and b->overflow cleared), -ENOENT if absent. */
int state_section(struct state_buf *b, const char *name, uint16_t *version) MUST_CHECK;
/* Whether section `name` exists (does not change the selection). */
bool state_has_section(const struct state_buf *b, const char *name);
/* Bytes left unread in the selected section. */
size_t state_remaining(const struct state_buf *b);
/* Reads from the selected section; reading past its end sets b->overflow and yields zeros. */
uint8_t state_get_u8(struct state_buf *b);
uint16_t state_get_u16(struct state_buf *b);
uint32_t state_get_u32(struct state_buf *b);
uint64_t state_get_u64(struct state_buf *b);
void state_get_bytes(struct state_buf *b, void *p, size_t len);
/* Read a blob into p: 0, or -EINVAL (overflow latched, p zeroed) unless its stored length is
 * exactly len. */
int state_get_blob(struct state_buf *b, void *p, uint32_t len) MUST_CHECK;
/* 0 if the selected section was read exactly to its end without overflow, else -EINVAL. */
int state_section_done(const struct state_buf *b) MUST_CHECK;

/* A loader refuses the stream: log "snapshot: <message>" and record it in b->err (the context of
 * the restore or migration that is loading: err_set). Returns -EINVAL. */
int state_refuse(struct state_buf *b, const char *fmt, ...) PRINTF(2, 3);

/* Free a writer's data (a reader's borrowed data is left alone) and zero b. */
void state_buf_free(struct state_buf *b);

#endif
