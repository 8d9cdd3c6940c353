/* compiler.h — attribute shorthands used across kiln. */
#ifndef KILN_UTIL_COMPILER_H
#define KILN_UTIL_COMPILER_H

#define MUST_CHECK    __attribute__((warn_unused_result))
#define PRINTF(a, b)  __attribute__((format(printf, a, b)))
#define UNUSED	      __attribute__((unused))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A spin-wait hint to the CPU (x86 PAUSE, arm64 YIELD): a busy loop that leaves the core's
 * other thread and the memory bus alone. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

#endif
