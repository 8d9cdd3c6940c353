/* raw_syscall.h — x86_64 system calls without libc: the return value is the kernel's (-errno on
 * failure) and no thread-local state (errno) is touched. For code that runs on a stack and in a
 * task glibc does not know of (src/hv/kvm_reaper.c). */
#ifndef KILN_ARCH_X86_RAW_SYSCALL_H
#define KILN_ARCH_X86_RAW_SYSCALL_H

/* System call nr with up to four arguments (unused ones 0); returns what the kernel returned. */
static inline long raw_syscall4(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

#endif
