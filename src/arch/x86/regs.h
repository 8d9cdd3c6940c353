/* regs.h — boot-time CPU state: GDT, identity page tables and the entry registers. */
#ifndef KILN_ARCH_X86_REGS_H
#define KILN_ARCH_X86_REGS_H

#include "arch/x86/boot.h"
#include "core/guest_mem.h"
#include "util/compiler.h"

/* Write the boot GDT (and, for 64-bit entries, the 0-4 GiB identity page tables) into guest
 * memory at their layout addresses. Returns 0 or -EFAULT if RAM does not cover them. */
int x86_boot_tables_write(struct guest_mem *m, enum boot_cpu_mode mode) MUST_CHECK;

/* Load segment, control and general registers so the vCPU starts at e->rip in e->mode. */
int x86_boot_regs_set(int vcpu_fd, const struct boot_entry *e) MUST_CHECK;

#endif
