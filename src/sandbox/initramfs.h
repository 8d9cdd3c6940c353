/* initramfs.h — kiln sandbox's initramfs: kiln's init, the command, its interpreters and every
 * shared library they need, found on the host as the dynamic loader would find them. */
#ifndef KILN_SANDBOX_INITRAMFS_H
#define KILN_SANDBOX_INITRAMFS_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox/archive.h"
#include "sandbox/status.h"
#include "util/compiler.h"

#define INITRAMFS_MAX_OBJECTS	   1024 /* ELF files (programs, interpreters, libraries) */
#define INITRAMFS_MAX_SCRIPT_DEPTH 4	/* #! interpreters that are scripts again, as the kernel */
#define INITRAMFS_SHEBANG_MAX	   256	/* bytes of a #! line the kernel reads */

struct initramfs_input {
	const char *exe;   /* CMD: an absolute host path (initramfs_find_cmd) */
	char *const *argv; /* CMD's arguments, argv[0] first, NULL-terminated */
	char *const *envp; /* CMD's environment in the guest, NULL-terminated */
	const void *init;  /* kiln's guest init, stored as /init */
	size_t init_len;
	const char *ld_so_conf;	 /* "/etc/ld.so.conf" (tests give their own) */
	const char *ld_so_cache; /* "/etc/ld.so.cache", copied if it exists; NULL: never */
	const char *path_env;	 /* the host's $PATH, for "#!/usr/bin/env NAME" (NULL: default) */
	uint64_t max_len;	 /* the archive's limit in bytes */
};

/*
 * Write the newc archive to fd: /dev/console, /init, /.kiln/{exe,argv,env}, then CMD at its host
 * path; for a #! script its interpreter (recursively, and for "#!/usr/bin/env NAME" NAME from
 * the host's PATH); for each ELF program its PT_INTERP and, breadth first, every DT_NEEDED
 * library, searched as glibc's loader does: DT_RUNPATH of the needing object if it has one,
 * else the DT_RPATH of it, its loaders and the program ($ORIGIN expanded); then the
 * directories of ld_so_conf and the system directories; candidates for another class or
 * machine are skipped. Every file sits at its host path with the directories and symbolic
 * links leading to it (archive_add_host). Returns 0, or -errno with e filled: the status is
 * SANDBOX_EXIT_CANNOT_EXEC for a CMD or interpreter that is not an x86-64 executable or script,
 * SANDBOX_EXIT_NOT_FOUND for a missing interpreter, SANDBOX_EXIT_KILN for everything else
 * (malformed ELF, missing library, unreadable file, loops, limits). stats may be NULL.
 */
int initramfs_build(const struct initramfs_input *in, int fd, struct archive_stats *stats,
		    struct sandbox_err *e) MUST_CHECK;

/*
 * The same files as initramfs_build (in->exe, its interpreters and libraries, the loader cache;
 * not kiln's own entries, argv and envp unused), plus the libraries named in extra (a
 * NULL-terminated list of DT_NEEDED-style names, found as the program's own; NULL for none),
 * copied under the directory dir_fd at their host paths, each file at most in->max_len bytes:
 * the jailer's chroot. Returns 0 or -errno with e filled, as initramfs_build.
 */
int initramfs_copy_tree(const struct initramfs_input *in, const char *const *extra, int dir_fd,
			struct archive_stats *stats, struct sandbox_err *e) MUST_CHECK;

/*
 * Find CMD on the host as execvp would: a name with a '/' is taken as a path (relative to the
 * current directory), any other name is looked up in path_env (NULL: a default PATH; an empty
 * entry is the current directory), taking the first executable regular file. The absolute path
 * goes to out (size outlen). Returns 0, or -errno with e filled: SANDBOX_EXIT_NOT_FOUND (no such
 * file), SANDBOX_EXIT_CANNOT_EXEC (not a regular file, not executable), SANDBOX_EXIT_KILN
 * (unreadable: kiln must copy it; path too long).
 */
int initramfs_find_cmd(const char *cmd, const char *path_env, char *out, size_t outlen,
		       struct sandbox_err *e) MUST_CHECK;

/*
 * Expand $ORIGIN and ${ORIGIN} in s with origin into out (size outlen). Returns 0, -ENOTSUP for
 * any other dynamic string token ($LIB, $PLATFORM, a lone '$'), or -ENAMETOOLONG.
 */
int initramfs_expand_origin(const char *s, const char *origin, char *out, size_t outlen) MUST_CHECK;

#endif
