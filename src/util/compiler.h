/* compiler.h — attribute shorthands used across kiln. */
#ifndef KILN_UTIL_COMPILER_H
#define KILN_UTIL_COMPILER_H

#define MUST_CHECK    __attribute__((warn_unused_result))
#define PRINTF(a, b)  __attribute__((format(printf, a, b)))
#define UNUSED	      __attribute__((unused))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
