/* prebuilt.h — kiln's built-in seccomp filters compiled at build time (src/seccomp/gen.c writes
 * the definition into the kiln executable's sources). A binary that cannot run the generator
 * where it is built (a cross build) or a program that does not link it (the unit tests) has
 * none, and install.c compiles the filters at start-up instead. */
#ifndef KILN_SECCOMP_PREBUILT_H
#define KILN_SECCOMP_PREBUILT_H

#include <stddef.h>

#define SECCOMP_PREBUILT_NAMES 512 /* system call numbers named in the SIGSYS report */

struct seccomp_prebuilt {
	const unsigned char *file[2]; /* filter files (file.c): [0] plain, [1] with rebuild */
	size_t len[2];
	const char *const *names; /* SECCOMP_PREBUILT_NAMES entries, NULL where unnamed */
};

/* Weak: absent (NULL address) in programs that do not link the generated source. */
extern const struct seccomp_prebuilt seccomp_prebuilt __attribute__((weak));

#endif
