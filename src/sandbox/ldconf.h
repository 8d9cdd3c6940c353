/* ldconf.h — the directories the dynamic loader searches by default: /etc/ld.so.conf (with its
 * include lines), then the built-in system directories. */
#ifndef KILN_SANDBOX_LDCONF_H
#define KILN_SANDBOX_LDCONF_H

#include <stddef.h>

#include "util/compiler.h"

#define LDCONF_MAX_DIRS	 256
#define LDCONF_MAX_DEPTH 8    /* include nesting */
#define LDCONF_LINE_MAX	 4096 /* bytes of one line */

struct ldconf {
	char *dirs[LDCONF_MAX_DIRS]; /* absolute, in search order, without duplicates */
	unsigned nr;
};

/* The system directories after the configured ones, in this order. */
extern const char *const ldconf_default_dirs[];

/*
 * Read `conf` (e.g. "/etc/ld.so.conf"): one directory per line, '#' comments, `include GLOB...`
 * (relative patterns are relative to the including file's directory; matches in sorted order),
 * `hwcap` lines ignored; then append ldconf_default_dirs. A missing conf file is not an error
 * (only the defaults remain). Returns 0, or -EINVAL (a line too long, a relative directory,
 * includes nested deeper than LDCONF_MAX_DEPTH, i.e. a loop), -E2BIG (more than LDCONF_MAX_DIRS
 * directories), -ENOMEM or the -errno of an unreadable file, with a one-line reason naming
 * the file in err. lc is always left freeable.
 */
int ldconf_load(struct ldconf *lc, const char *conf, char *err, size_t errlen) MUST_CHECK;

/* Free the directory list. */
void ldconf_free(struct ldconf *lc);

#endif
