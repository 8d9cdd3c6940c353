/* pci_cfg.h — one PCI function's configuration space as the guest sees it: the 4 KiB of a PCI
 * Express function (a type 0 header, BARs the guest sizes and moves, a capability list), with a
 * write mask and a write-1-to-clear mask per byte, so that whatever a guest writes, read-only
 * bits keep their value. Hand-written: no Debian library emulates a PCI function for a VMM
 * (QEMU's, kvmtool's and Cloud Hypervisor's are each their own). Every register is stored
 * little-endian, as on the wire. */
#ifndef KILN_PCI_PCI_CFG_H
#define KILN_PCI_PCI_CFG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

#define PCI_CFG_SIZE	   4096 /* PCI Express: ECAM gives each function 4 KiB */
#define PCI_CFG_LEGACY_END 0x100
#define PCI_BAR_COUNT	   6

/* Standard header offsets (PCI Local Bus 3.0, §6.1) and the bits kiln uses. */
#define PCI_VENDOR_ID	   0x00
#define PCI_DEVICE_ID	   0x02
#define PCI_COMMAND	   0x04
#define PCI_STATUS	   0x06
#define PCI_REVISION	   0x08
#define PCI_CLASS_PROG	   0x09
#define PCI_CACHE_LINE	   0x0c
#define PCI_HEADER_TYPE	   0x0e
#define PCI_BAR0	   0x10
#define PCI_SUBSYS_VENDOR  0x2c
#define PCI_SUBSYS_ID	   0x2e
#define PCI_ROM_ADDRESS	   0x30
#define PCI_CAP_PTR	   0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d
#define PCI_CAP_START	   0x40
#define PCI_CMD_IO	   0x0001
#define PCI_CMD_MEMORY	   0x0002
#define PCI_CMD_MASTER	   0x0004
#define PCI_CMD_PARITY	   0x0040
#define PCI_CMD_SERR	   0x0100
#define PCI_CMD_INTX_OFF   0x0400
#define PCI_STATUS_INTX	   0x0008
#define PCI_STATUS_CAPS	   0x0010
#define PCI_STATUS_W1C	   0xf900 /* parity, target/master aborts, SERR, parity error */
#define PCI_BAR_IO_FLAG	   0x1
#define PCI_BAR_MEM64_FLAG 0x4
#define PCI_BAR_PREFETCH   0x8
#define PCI_CAP_ID_MSIX	   0x11
#define PCI_CAP_ID_VENDOR  0x09
#define PCI_CAP_ID_EXP	   0x10

enum pci_bar_kind { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
	enum pci_bar_kind kind; /* a MEM64 BAR also takes the next slot */
	bool prefetchable;
	uint64_t size; /* a power of two (IO >= 4, memory >= 16 bytes); 0: unused */
};

/* What identifies a function. class_code: base class << 16 | subclass << 8 | programming
 * interface. irq_pin: 0 none, 1-4 INTA-INTD. */
struct pci_id {
	uint16_t vendor, device, subsys_vendor, subsys;
	uint8_t revision;
	uint32_t class_code;
	uint8_t irq_pin;
};

struct pci_cfg {
	uint8_t data[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits a guest write may change */
	uint8_t w1c[PCI_CFG_SIZE];   /* bits a guest's 1 clears (and its 0 leaves) */
	struct pci_bar bar[PCI_BAR_COUNT];
	uint16_t last_cap; /* the list's last capability (0: none yet) */
	uint16_t cap_free; /* the first byte no capability uses, from PCI_CAP_START */
};

/* What a guest write changed, for the function's owner (pci_cfg_write's result). */
#define PCI_CFG_CHANGED_COMMAND 0x100u
#define PCI_CFG_CHANGED_BAR(i)	(1u << (i)) /* the BAR's address moved */

/* A function with id's identification, a type 0 header, no BARs and no capabilities; the
 * command register's I/O, memory, bus-master, parity, SERR and INTx-disable bits writable, the
 * status register's error bits write-1-to-clear, the interrupt line writable. */
void pci_cfg_init(struct pci_cfg *c, const struct pci_id *id);

/* Declare BAR i (0-5; a MEM64 BAR takes i and i + 1, so i <= 4) of `size` bytes at `addr` (the
 * firmware's assignment, aligned to size). -EINVAL: a bad index, kind, size or address, or a
 * slot already used. The guest may then size the BAR (all-ones reads back the size mask) and
 * move it. */
int pci_cfg_set_bar(struct pci_cfg *c, unsigned i, enum pci_bar_kind kind, bool prefetchable,
		    uint64_t size, uint64_t addr) MUST_CHECK;

/* BAR i's current address as the guest programmed it (0 for an unused slot). */
uint64_t pci_cfg_bar_addr(const struct pci_cfg *c, unsigned i);

/* Whether BAR i decodes now: declared, its space (I/O or memory) enabled in the command
 * register, and its address neither 0 nor the sizing pattern left by an all-ones write. */
bool pci_cfg_bar_active(const struct pci_cfg *c, unsigned i);

/* Append a capability `id` of `len` bytes (4-aligned, in the legacy 256 bytes after the header)
 * to the list, its bytes zero and read-only: the caller then fills them (pci_cfg_set*) and opens
 * the guest-writable bits (pci_cfg_set_wmask). Its offset in *off. -EINVAL (len < 2) or -ENOSPC. */
int pci_cfg_add_cap(struct pci_cfg *c, uint8_t id, uint8_t len, uint16_t *off) MUST_CHECK;

/* The device side: read or set bytes without the guest's masks (off + width within 4 KiB, the
 * caller's constant layout). */
uint8_t pci_cfg_get8(const struct pci_cfg *c, uint16_t off);
uint16_t pci_cfg_get16(const struct pci_cfg *c, uint16_t off);
uint32_t pci_cfg_get32(const struct pci_cfg *c, uint16_t off);
void pci_cfg_set8(struct pci_cfg *c, uint16_t off, uint8_t v);
void pci_cfg_set16(struct pci_cfg *c, uint16_t off, uint16_t v);
void pci_cfg_set32(struct pci_cfg *c, uint16_t off, uint32_t v);

/* Let the guest write the bits of `mask` (little-endian, len bytes) at off; w1c: as
 * write-1-to-clear bits instead. */
void pci_cfg_set_wmask(struct pci_cfg *c, uint16_t off, const uint8_t *mask, unsigned len,
		       bool w1c);

/* A guest's read of `size` bytes (1, 2 or 4, naturally aligned, within 4 KiB) at off into *val.
 * 0, or -EINVAL for any other access (*val is then all-ones, what a bus answers). */
int pci_cfg_read(const struct pci_cfg *c, uint32_t off, unsigned size, uint32_t *val);

/* A guest's write of `size` bytes at off, through the masks. Returns what changed
 * (PCI_CFG_CHANGED_*: the owner then moves the BARs' windows or updates decoding), 0 for a write
 * that changed neither, or -EINVAL for a bad access (nothing written). */
int pci_cfg_write(struct pci_cfg *c, uint32_t off, unsigned size, uint32_t val);

/* Take saved configuration bytes (a snapshot's, len <= PCI_CFG_SIZE from offset 0) through the
 * masks: only bits a guest could have written (and write-1-to-clear status bits) are taken, so
 * identification, capabilities and BAR types stay the function's whatever the bytes say. */
void pci_cfg_load(struct pci_cfg *c, const uint8_t *saved, unsigned len);

/* Whether [off, off + size) overlaps [start, start + len) (a write into a capability). */
bool pci_cfg_overlaps(uint32_t off, unsigned size, uint32_t start, uint32_t len);

#endif
