/* msix.h — MSI-X for one PCI function (PCI Local Bus 3.0 §6.8.2): the capability in its
 * configuration space, the vector table and the pending-bit array in one of its BARs, and the
 * masking rules. The owner routes each vector's message (KVM GSI routing) and delivers it (an
 * irqfd) through two callbacks; this file never sees KVM. Hand-written for the same reason as
 * pci_cfg.c. Table and PBA are little-endian, as the guest reads them. */
#ifndef KILN_PCI_MSIX_H
#define KILN_PCI_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "pci/pci_cfg.h"
#include "state/state.h"
#include "util/compiler.h"

#define MSIX_MAX_VECTORS   2048
#define MSIX_CAP_LEN	   12
#define MSIX_ENTRY_SIZE	   16
#define MSIX_CTRL_ENABLE   0x8000
#define MSIX_CTRL_MASKALL  0x4000
#define MSIX_VECTOR_MASKED 0x1

/* A vector's message: where the guest wants it written, and what. */
struct msix_msg {
	uint64_t addr;
	uint32_t data;
};

struct msix_ops {
	/* Vector vec's message or mask changed (masked: by its own bit, the function mask, or
	 * MSI-X being off): bring its route up to date. */
	void (*update)(void *ctx, unsigned vec, const struct msix_msg *msg, bool masked);
	/* Deliver vector vec now (it is unmasked and MSI-X is on). */
	void (*fire)(void *ctx, unsigned vec);
};

struct msix_stats {
	uint64_t fired, pended, bad_access;
};

struct msix {
	struct pci_cfg *cfg;
	uint16_t cap; /* the capability's offset in cfg */
	unsigned nr;  /* vectors */
	uint8_t bar;
	uint32_t table_off, pba_off; /* in the BAR */
	uint8_t *table; /* nr entries of MSIX_ENTRY_SIZE bytes, as the guest sees them */
	uint64_t *pba;	/* one pending bit per vector */
	uint16_t ctrl;	/* Message Control (Enable, Function Mask) as of msix_cfg_written */
	const struct msix_ops *ops;
	void *ctx;
	struct msix_stats stats;
};

/* Add the MSI-X capability for nr vectors (1..MSIX_MAX_VECTORS) to cfg, its table at table_off
 * and its PBA at pba_off of BAR `bar` (both 8-aligned, not overlapping; the caller declared the
 * BAR large enough: pci_cfg's bar[bar].size covers both). Every vector starts masked, MSI-X
 * off. 0, -EINVAL, -ENOSPC (no room for the capability) or -ENOMEM. */
int msix_init(struct msix *m, struct pci_cfg *cfg, unsigned nr, uint8_t bar, uint32_t table_off,
	      uint32_t pba_off, const struct msix_ops *ops, void *ctx) MUST_CHECK;

/* As msix_init, for a capability already at offset `cap` of cfg (a passthrough function's own,
 * whose table and PBA sit where the device put them): its Message Control becomes writable in
 * Enable and Function Mask, its Table and PBA registers are rewritten from bar and the offsets. */
int msix_init_at(struct msix *m, struct pci_cfg *cfg, uint16_t cap, unsigned nr, uint8_t bar,
		 uint32_t table_off, uint32_t pba_off, const struct msix_ops *ops,
		 void *ctx) MUST_CHECK;

/* Free the table and the PBA. */
void msix_destroy(struct msix *m);

/* Whether MSI-X is on (the guest set Enable in the capability, as of msix_cfg_written). */
bool msix_enabled(const struct msix *m);

/* A guest write of [off, off + size) to the configuration space has been applied: if it touched
 * the capability, act on Enable and Function Mask (routes updated, pending vectors that are now
 * unmasked delivered). */
void msix_cfg_written(struct msix *m, uint32_t off, unsigned size);

/* A guest access at `off` within the MSI-X BAR: true if it falls in the table or the PBA (then
 * handled; a read of a bad width or alignment answers all-ones, a write of one is ignored, both
 * counted), false if it is the BAR's other business. Widths: 4, and 8 naturally aligned. */
bool msix_bar_read(struct msix *m, uint64_t off, unsigned size, uint64_t *val);
bool msix_bar_write(struct msix *m, uint64_t off, unsigned size, uint64_t val);

/* Raise vector vec: delivered if unmasked, else its pending bit is set (delivered at unmask).
 * 0; -ENOTCONN when MSI-X is off (the owner may use INTx); -EINVAL for a vector out of range. */
int msix_signal(struct msix *m, unsigned vec);

/* Vector vec's message as the guest wrote it, and whether it is masked now (any mask). */
void msix_vector(const struct msix *m, unsigned vec, struct msix_msg *msg, bool *masked);

/* Power-on state: every vector masked with a zero message, nothing pending, MSI-X off. */
void msix_reset(struct msix *m);

/* A snapshot of the table and the pending bits (the capability is in the configuration space,
 * saved with it). */
void msix_save(const struct msix *m, struct state_buf *b);
/* Load what msix_save wrote for the same number of vectors; every entry through the rules of a
 * guest's table write (reserved bits zero), pending bits only for vectors that exist. Call
 * msix_restored once the configuration space is loaded too. */
void msix_load(struct msix *m, struct state_buf *b);
/* After a load: take Enable and Function Mask from the configuration space, give the owner every
 * vector's route, and deliver pending vectors that are unmasked. */
void msix_restored(struct msix *m);

#endif
