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

#define STATE_NAME_MAX 32 /* section names: "vcpu.0", "irqchip", "uart.com1", "virtio.2", ... */

/* An in-memory stream being written (sections appended) or read (sections looked up). */
struct state_buf {
	uint8_t *data;
	size_t len, cap;
	size_t pos;	  /* reader: position inside the current section */
	size_t sec_start; /* reader: current section's payload [sec_start, sec_end) */
	size_t sec_end;
	bool overflow; /* a write failed (ENOMEM) or a read ran past its section */
};

/* --- writing --- */

/* Begin section `name` (version `version`); every put until state_end_section goes into it. */
int state_begin_section(struct state_buf *b, const char *name, uint16_t version) MUST_CHECK;
int state_end_section(struct state_buf *b) MUST_CHECK;
/* Little-endian fixed-width values and raw bytes. Errors latch into b->overflow. */
void state_put_u8(struct state_buf *b, uint8_t v);
void state_put_u16(struct state_buf *b, uint16_t v);
void state_put_u32(struct state_buf *b, uint32_t v);
void state_put_u64(struct state_buf *b, uint64_t v);
void state_put_bytes(struct state_buf *b, const void *p, size_t len);

/* --- reading --- */

/* Wrap len bytes of untrusted data; validates the section framing (names NUL-terminated,
 * lengths inside the buffer, no duplicate names). Returns 0 or -EINVAL. */
int state_open(struct state_buf *b, const uint8_t *data, size_t len) MUST_CHECK;
/* Select section `name`: 0 with *version set, -ENOENT if absent. */
int state_section(struct state_buf *b, const char *name, uint16_t *version) MUST_CHECK;
/* Reads from the selected section; reading past its end sets b->overflow and yields zeros. */
uint8_t state_get_u8(struct state_buf *b);
uint16_t state_get_u16(struct state_buf *b);
uint32_t state_get_u32(struct state_buf *b);
uint64_t state_get_u64(struct state_buf *b);
void state_get_bytes(struct state_buf *b, void *p, size_t len);
/* 0 if the selected section was read exactly to its end without overflow, else -EINVAL. */
int state_section_done(const struct state_buf *b) MUST_CHECK;

void state_buf_free(struct state_buf *b);

#endif
