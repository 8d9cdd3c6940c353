/* pci_bus.h — bus 0 of one PCI segment behind a PCI Express host bridge: the configuration space
 * of its functions through ECAM (an MMIO window the board places and describes: MCFG on x86,
 * pci-host-ecam-generic on arm64), the host bridge itself at 00.0, and the BARs. The board
 * registers the bus's windows (32-bit memory, 64-bit memory, I/O) on its MMIO and PIO buses once;
 * the bus routes each access in them to the function whose BAR decodes that address now, so a
 * guest that moves a BAR changes no bus table, and a BAR moved out of the windows decodes
 * nothing. Functions are single-function devices in slots 1-31, added before vCPUs start. */
#ifndef KILN_PCI_PCI_BUS_H
#define KILN_PCI_PCI_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/io_bus.h"
#include "pci/pci_cfg.h"
#include "util/compiler.h"

#define PCI_SLOTS	  32
#define PCI_ECAM_BUS_SIZE (PCI_SLOTS * 8 * PCI_CFG_SIZE) /* one bus: 32 devices x 8 functions */
/* The host bridge's identity: the ID pci.ids lists as Red Hat's generic "QEMU PCIe Host
 * bridge", which guests know as a plain host bridge needing no driver. */
#define PCI_HOST_VENDOR 0x1b36
#define PCI_HOST_DEVICE 0x0008

/* A function's requester ID (PCIe's bus/device/function number, 16 bits): what it writes its
 * MSIs with, and on arm64 the device ID the ITS translates them by (the device tree's msi-map is
 * the identity). Pure. */
static inline uint16_t pci_requester_id(unsigned bus, unsigned slot, unsigned fn)
{
	return (uint16_t)((bus & 0xff) << 8 | (slot & 0x1f) << 3 | (fn & 7));
}

struct pci_function_ops {
	/* A guest's write of [off, off + size) to the function's configuration space was applied;
	 * changed: what it changed (PCI_CFG_CHANGED_*). The function follows its BARs (its
	 * ioeventfds, memory slots) and its capabilities (MSI-X). Runs under the bus's lock, so
	 * a function's writes arrive in order: it must not call back into the bus. May be NULL. */
	void (*cfg_written)(void *obj, uint32_t off, unsigned size, int changed);
	/* A guest writes `val` to [off, off + size), before the write is applied to cfg: a
	 * passthrough function hands the bytes it does not emulate to its device. Under the bus's
	 * lock; may be NULL. */
	void (*cfg_writing)(void *obj, uint32_t off, unsigned size, uint32_t val);
	/* A guest is about to read [off, off + size) of the configuration space: bring registers
	 * the function computes up to date (pci_cfg_set*). Under the bus's lock; may be NULL. */
	void (*cfg_reading)(void *obj, uint32_t off, unsigned size);
	/* An access at `off` within BAR `bar` (which decodes it now), of a width the window's
	 * io_ops allow (1-8 bytes; the function checks what its registers accept). */
	uint64_t (*bar_read)(void *obj, unsigned bar, uint64_t off, unsigned size);
	void (*bar_write)(void *obj, unsigned bar, uint64_t off, uint64_t val, unsigned size);
};

struct pci_function {
	struct pci_cfg *cfg;
	const struct pci_function_ops *ops;
	void *obj;
};

enum pci_window_kind { PCI_WIN_MEM32, PCI_WIN_MEM64, PCI_WIN_IO, PCI_NR_WINDOWS };

struct pci_bus;

/* An address window: [base, base + len), len 0 for none; next: the allocator's bump pointer;
 * bus and kind set by pci_bus_init (the window is the io_ops' dev). */
struct pci_window {
	uint64_t base, len, next;
	struct pci_bus *bus;
	enum pci_window_kind kind;
};

struct pci_bus_stats {
	uint64_t cfg_absent;	/* configuration accesses to an empty slot or function */
	uint64_t cfg_bad;	/* ... of a bad width or alignment */
	uint64_t bar_unclaimed; /* window accesses no BAR decodes */
};

struct pci_bus {
	pthread_mutex_t lock; /* configuration accesses and BAR lookups (vCPU threads) */
	uint32_t cf8;	      /* configuration mechanism #1's address register */
	struct pci_cfg host;  /* 00.0 */
	struct pci_function fn[PCI_SLOTS];
	struct pci_window win[PCI_NR_WINDOWS];
	struct pci_bus_stats stats;
};

/* The io_ops for io_bus_register: ECAM (1-4 bytes; dev: the pci_bus), the memory windows (1-8
 * bytes) and the I/O window (1-4 bytes; dev: &bus->win[kind], registered at its base). */
extern const struct io_ops pci_ecam_io_ops, pci_mem_io_ops, pci_io_io_ops;

/* PC configuration mechanism #1 (PCI 3.0 §3.2.2.3.2), for guests without ECAM (Linux built
 * without MMCONFIG): the address register at port PCI_CF8_PORT (4-byte accesses; others read
 * all-ones and are ignored) and the data window at PCI_CF8_PORT + 4 (1, 2 or 4 bytes), the first
 * 256 bytes of each function's space, bus 0. Register 8 ports at PCI_CF8_PORT (dev: the bus). */
#define PCI_CF8_PORT 0xcf8
extern const struct io_ops pci_cf8_io_ops;

/* A bus with the host bridge at 00.0 and the windows [base[k], base[k] + len[k]) for each
 * pci_window_kind (len 0: none; mem32 below 4 GiB, io below 64 KiB, none wrapping). 0 or
 * -EINVAL. */
int pci_bus_init(struct pci_bus *b, const uint64_t base[PCI_NR_WINDOWS],
		 const uint64_t len[PCI_NR_WINDOWS]) MUST_CHECK;

void pci_bus_destroy(struct pci_bus *b);

/* Plug f into the first free slot (1-31) and give its number in *slot. 0, -EINVAL (no cfg or
 * ops) or -ENOSPC. The bus does not own f's objects. */
int pci_bus_add(struct pci_bus *b, const struct pci_function *f, unsigned *slot) MUST_CHECK;

/* Take the function in `slot` off the bus again (a board whose assembly failed, before any vCPU
 * runs); nothing for slot 0 or an empty slot. */
void pci_bus_remove(struct pci_bus *b, unsigned slot);

/* The firmware's assignment: size bytes (a power of two) from window `kind`, aligned to size,
 * in *addr. 0, or -ENOSPC (the window is full or absent) or -EINVAL. */
int pci_bus_alloc(struct pci_bus *b, enum pci_window_kind kind, uint64_t size,
		  uint64_t *addr) MUST_CHECK;

/* Whether BAR i of the function in `slot` decodes now, wholly inside the bus window of its
 * kind (a passthrough BAR is mapped only then). Takes the bus's lock. */
bool pci_bus_bar_decodes(struct pci_bus *b, unsigned slot, unsigned i);

/* Whether [addr, addr + size) lies wholly inside a window of b for a BAR of `kind` (the
 * windows never change after pci_bus_init: no lock, so a function may ask under the bus's lock,
 * in cfg_written, before it hooks anything to the address). */
bool pci_bus_window_holds(const struct pci_bus *b, enum pci_bar_kind kind, uint64_t addr,
			  uint64_t size);

/* A configuration access at ECAM offset `off` (bus 0 only; relative to the ECAM base): what the
 * ECAM io_ops do, callable directly. Empty slots and functions read all-ones. */
uint32_t pci_bus_cfg_read(struct pci_bus *b, uint32_t off, unsigned size);
void pci_bus_cfg_write(struct pci_bus *b, uint32_t off, unsigned size, uint32_t val);

#endif
