/* guest.h — the guest test kit's runtime: everything a test's main() may call, at CPL3. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kit.h"

/*
 * A test is one file defining `int main(void)`. The kit's entry code (entry.S) boots via PVH or
 * the Linux 64-bit entry, sets up a GDT, TSS, IDT and an identity map of 0-5 GiB (2 MiB pages,
 * user-accessible, the 3-4 GiB MMIO hole uncached), then calls main() at CPL3 with interrupts
 * enabled (IF=1). main() returning 0 is guest_pass(); anything else is a failure.
 *
 * Exit values (kiln's status is ((V & 0x7f) << 1) | 1):
 */
#define GUEST_EXIT_PASS	     0 /* kiln status 1 */
#define GUEST_EXIT_FAIL	     1 /* kiln status 3: an assertion failed */
#define GUEST_EXIT_EXCEPTION 2 /* kiln status 5: an unexpected exception reached ring 0 */

/* The count guest stores its running count here (a uint64_t); nothing else in the kit uses it. */
#define GUEST_COUNTER_GPA 0x300000ULL

int main(void);

/* ---- port I/O and MMIO (CPL3 may do both: the TSS I/O bitmap allows every port) ---------- */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* One access of exactly the named width (volatile: never split, merged or elided). */
static inline uint8_t mmio_read8(uint64_t a)
{
	return *(volatile uint8_t *)a;
}
static inline uint16_t mmio_read16(uint64_t a)
{
	return *(volatile uint16_t *)a;
}
static inline uint32_t mmio_read32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}
static inline uint64_t mmio_read64(uint64_t a)
{
	return *(volatile uint64_t *)a;
}
static inline void mmio_write8(uint64_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}
static inline void mmio_write16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}
static inline void mmio_write32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}
static inline void mmio_write64(uint64_t a, uint64_t v)
{
	*(volatile uint64_t *)a = v;
}

/* The same, with the width (1, 2, 4; MMIO also 8) as an argument: one access of that width. */
static inline uint32_t pio_read(uint16_t port, unsigned width)
{
	return width == 1 ? inb(port) : width == 2 ? inw(port) : inl(port);
}
static inline void pio_write(uint16_t port, unsigned width, uint32_t v)
{
	if (width == 1)
		outb(port, (uint8_t)v);
	else if (width == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
}
static inline uint64_t mmio_read(uint64_t a, unsigned width)
{
	return width == 1   ? mmio_read8(a)
	       : width == 2 ? mmio_read16(a)
	       : width == 4 ? mmio_read32(a)
			    : mmio_read64(a);
}
static inline void mmio_write(uint64_t a, unsigned width, uint64_t v)
{
	if (width == 1)
		mmio_write8(a, (uint8_t)v);
	else if (width == 2)
		mmio_write16(a, (uint16_t)v);
	else if (width == 4)
		mmio_write32(a, (uint32_t)v);
	else
		mmio_write64(a, v);
}

static inline void guest_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/*
 * CPUID as the VM defines it. Under PVM, cpuid at CPL3 runs natively and returns the *host's*
 * values (measured: leaf 1 EBX shows the host CPU's APIC ID); guest_cpuid() at CPL3 is only
 * good for host facts. This runs cpuid at ring 0 (guest_ring0_call), where kiln's table applies.
 */
void guest_cpuid_vm(uint32_t leaf, uint32_t sub, uint32_t r[4]);

static inline uint64_t guest_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void guest_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* ---- console (COM1, polled) and formatting ------------------------------------------------ */
void guest_putc(char c);	/* waits for LSR.THRE; '\n' is sent as "\r\n" */
void guest_puts(const char *s); /* no newline added */
/* printf-lite: %d %i %u %x %s %c %p %%, with l/ll (e.g. %lx, %lu), a width and 0-padding. */
void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void guest_vprintf(const char *fmt, va_list ap);
/* Like snprintf: writes at most n bytes including the NUL; returns the length it wanted. */
int guest_snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- strings (also what gcc may call for struct copies) ---------------------------------- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strstr(const char *h, const char *n);

/* ---- ending the test ----------------------------------------------------------------------- */
/* Write v to the debug-exit port (0xf4): kiln exits with ((v & 0x7f) << 1) | 1. No return. */
__attribute__((noreturn)) void guest_exit(unsigned v);
/* Print "PASS" and exit with GUEST_EXIT_PASS (kiln status 1). */
__attribute__((noreturn)) void guest_pass(void);
/* Print "FAIL <msg>" and exit with GUEST_EXIT_FAIL (kiln status 3). */
__attribute__((noreturn)) void guest_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* "FAIL <file>:<line>: <expr>" then exit GUEST_EXIT_FAIL. */
#define GUEST_ASSERT(cond)                                                                         \
	do {                                                                                       \
		if (!(cond))                                                                       \
			guest_fail("%s:%d: %s", __FILE__, __LINE__, #cond);                        \
	} while (0)
/* "FAIL <file>:<line>: a == b (0x<a> != 0x<b>)"; both sides are evaluated once as uint64_t. */
#define GUEST_ASSERT_EQ(a, b)                                                                      \
	do {                                                                                       \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                   \
		if (a_ != b_)                                                                      \
			guest_fail("%s:%d: %s == %s (%#lx != %#lx)", __FILE__, __LINE__, #a, #b,   \
				   a_, b_);                                                        \
	} while (0)

/* ---- boot information ---------------------------------------------------------------------- */
/* KIT_BOOT_PVH or KIT_BOOT_LINUX: how kiln entered the image. */
int guest_boot_protocol(void);
const char *guest_boot_protocol_name(void); /* "pvh" or "linux" */
/* The hvm_start_info (PVH) or boot_params (Linux) address kiln passed in %ebx / %rsi. */
uint64_t guest_boot_info_gpa(void);

/* The kernel command line ("" when there is none). */
const char *guest_cmdline(void);
/*
 * Find `key=value` among the space-separated words of the command line and copy value (NUL-
 * terminated, truncated to len - 1) to buf. Returns true if the key is present.
 */
bool guest_cmdline_get(const char *key, char *buf, size_t len);
/*
 * Parse key's value as a number: decimal or 0x hex, optional K/M/G/T suffix (binary units).
 * Returns true and sets *out on success; false if absent or malformed.
 */
bool guest_cmdline_u64(const char *key, uint64_t *out);

/* One entry of the boot memory map, whichever protocol delivered it. type: 1 RAM, 2 reserved. */
struct guest_mem_range {
	uint64_t addr, size;
	uint32_t type;
};
/* Copy up to max entries of the boot memory map (e820 or PVH memmap) to out; return the count. */
int guest_memmap(struct guest_mem_range *out, int max);

/* ---- waiting ----------------------------------------------------------------------------- */
/* Rough TSC ticks per millisecond, for bounded waits (from CPUID 0x15/0x16 if present). */
uint64_t guest_tsc_per_ms(void);
/* Spin until *flag != 0 or about ms milliseconds pass; returns whether the flag was seen. */
bool guest_wait_nonzero(const volatile uint32_t *flag, unsigned ms);
void guest_delay_ms(unsigned ms);

/* ---- interrupts ---------------------------------------------------------------------------- */
/*
 * Interrupt vectors 32..KIT_VECTORS-1 taken at CPL3 are counted here by the ring-0 stub,
 * which then writes the LAPIC EOI (not for KIT_SPURIOUS_VECTOR) and iretq's straight back
 * to CPL3. An interrupt arriving in ring 0 or an exception ends the test (status 5) after
 * printing "guest exception <vector> at <rip> (error <code>)".
 */
extern volatile uint64_t guest_irq_count[KIT_VECTORS];

#define LAPIC_ID     0x020
#define LAPIC_SVR    0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
static inline uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(KIT_LAPIC_GPA + reg);
}
static inline void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(KIT_LAPIC_GPA + reg, v);
}
/* Software-enable the LAPIC (SVR) with KIT_SPURIOUS_VECTOR; return this CPU's APIC ID. */
uint32_t lapic_enable(void);
/* Route IOAPIC pin to vector on APIC dest: fixed, physical, edge, active high, unmasked. */
void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest);
/* Mask both 8259 PICs (so only the IOAPIC delivers ISA interrupts). */
void pic_mask_all(void);

/* ---- ring 0 -------------------------------------------------------------------------------- */
/*
 * Run fn at ring 0 (through a ud2 the #UD handler recognises), then return to CPL3. Only for
 * tests of what ring 0 does; fn runs in the emulator, on the TSS stack, with IF=0, and may not
 * return to CPL3 by itself.
 */
void guest_ring0_call(void (*fn)(void));

/* ---- application processors (smp) -------------------------------------------------------- */
/* The AP entry (entry.S) fills one slot per AP, in arrival order, then increments reported. */
extern const char guest_ap_trampoline[], guest_ap_trampoline_end[];
extern volatile uint32_t guest_ap_next, guest_ap_reported;
extern volatile uint32_t guest_ap_lapic_id[KIT_MAX_CPUS];  /* LAPIC ID register >> 24 */
extern volatile uint32_t guest_ap_cpuid1_id[KIT_MAX_CPUS]; /* CPUID.1 EBX[31:24] */
extern volatile uint32_t guest_ap_cpuidb_id[KIT_MAX_CPUS]; /* CPUID.0xB EDX, ~0 if no leaf */

#endif
