/* raw_syscall.h — arm64 system calls without libc: the return value is the kernel's (-errno on
 * failure) and no thread-local state (errno) is touched. For code that runs on a stack and in a
 * task glibc does not know of (src/hv/kvm_reaper.c). */
#ifndef KILN_ARCH_ARM64_RAW_SYSCALL_H
#define KILN_ARCH_ARM64_RAW_SYSCALL_H

/* System call nr with up to four arguments (unused ones 0); returns what the kernel returned. */
static inline long raw_syscall4(long nr, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;

	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
}

#endif
