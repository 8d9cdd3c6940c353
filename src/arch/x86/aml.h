/* aml.h — a minimal ACPI Machine Language encoder: the few AML terms and resource descriptors
 * kiln's DSDT needs (ACPI 6.3 §19.6 for the ASL they come from, §20 for the encoding, §6.4 for
 * resource descriptors). */
#ifndef KILN_ARCH_X86_AML_H
#define KILN_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An output buffer. Writers append; on running out of room they set `overflow` and write
 * nothing more, so a caller checks once at the end. Terms with a PkgLength are opened and
 * closed in LIFO order (aml_*_open ... aml_close); open terms nest up to AML_MAX_DEPTH.
 */
#define AML_MAX_DEPTH 8

struct aml_buf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
	unsigned depth;
	size_t open[AML_MAX_DEPTH]; /* offset of each open term's reserved PkgLength */
};

/* Start writing into mem (cap bytes). */
void aml_init(struct aml_buf *b, uint8_t *mem, size_t cap);

/* Append raw bytes. */
void aml_bytes(struct aml_buf *b, const void *src, size_t len);

/*
 * A NameString: an optional leading '\' (root), then one or more dot-separated NameSegs of 1-4
 * characters ([A-Z_] then [A-Z0-9_]), each padded to 4 with '_'. "\_SB" -> 5C "_SB_".
 * A malformed name is a kiln bug (assert).
 */
void aml_name_string(struct aml_buf *b, const char *name);

/* An Integer in its smallest encoding: ZeroOp, OneOp, OnesOp (all 64 bits set), or a Byte,
 * Word, DWord or QWord constant. */
void aml_integer(struct aml_buf *b, uint64_t v);

/* A String constant (ASCII, NUL-terminated in the encoding). */
void aml_string(struct aml_buf *b, const char *s);

/* A compressed EISA ID, as ASL's EisaId("PNP0501"): three letters and four hex digits, encoded
 * as a DWord constant. */
void aml_eisaid(struct aml_buf *b, const char *id);

/* Name(name, ...): the caller appends the data object next. */
void aml_name(struct aml_buf *b, const char *name);

/* Scope(name) { ... }, Device(name) { ... }: close each with aml_close. */
void aml_scope_open(struct aml_buf *b, const char *name);
void aml_device_open(struct aml_buf *b, const char *name);

/* Package(n) { ... }: the caller appends n data objects, then aml_close. */
void aml_package_open(struct aml_buf *b, uint8_t nr_elements);

/* Close the innermost open term: encode its PkgLength (1-4 bytes, the smallest that fits) in
 * front of its contents. */
void aml_close(struct aml_buf *b);

/* Buffer() { bytes }: a Buffer whose size is len. For a ResourceTemplate, pass the descriptors
 * of an aml_buf finished with aml_res_end. */
void aml_buffer(struct aml_buf *b, const uint8_t *bytes, size_t len);

/* Resource descriptors, appended to a separate aml_buf that becomes a _CRS buffer. */

/* Memory32Fixed(ReadWrite, base, len). */
void aml_res_memory32_fixed(struct aml_buf *r, uint32_t base, uint32_t len);

/* Extended Interrupt descriptor flags (ACPI 6.3 §6.4.3.6). */
#define AML_IRQ_CONSUMER     0x01
#define AML_IRQ_EDGE	     0x02
#define AML_IRQ_ACTIVE_LOW   0x04
#define AML_IRQ_SHARED	     0x08
#define AML_IRQ_WAKE_CAPABLE 0x10

/* Interrupt(...) { gsi }: one interrupt with the given AML_IRQ_* flags. */
void aml_res_ext_irq(struct aml_buf *r, uint8_t flags, uint32_t gsi);

/* IO(Decode16, port, port, 0, len): a fixed 16-bit-decoded port range. */
void aml_res_io(struct aml_buf *r, uint16_t port, uint8_t len);

/* IRQNoFlags() { irq }: ISA IRQ 0-15, edge, active high, exclusive. */
void aml_res_irq_noflags(struct aml_buf *r, uint8_t irq);

/* WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, first, last, 0, n): the bus
 * numbers a host bridge decodes. */
void aml_res_word_bus_number(struct aml_buf *r, uint16_t first, uint16_t last);

/* DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0,
 * base, base + len - 1, 0, len): a memory window a host bridge forwards (len > 0). */
void aml_res_dword_memory(struct aml_buf *r, uint32_t base, uint32_t len);

/* The End Tag that closes a resource template (checksum 0: "treat as valid"). */
void aml_res_end(struct aml_buf *r);

#endif
