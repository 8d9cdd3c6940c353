/* archive.h — kiln sandbox's initramfs as it is written: host files copied in at their host
 * paths, with every directory and symbolic link on the way, and kiln's own entries. */
#ifndef KILN_SANDBOX_ARCHIVE_H
#define KILN_SANDBOX_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox/cpio.h"
#include "sandbox/status.h"
#include "sandbox/strset.h"
#include "util/compiler.h"

#define ARCHIVE_MAX_LINKS   40	  /* symbolic links followed for one path, as the kernel */
#define ARCHIVE_MAX_ENTRIES 65536 /* entries of one archive */

struct archive_stats {
	unsigned files, dirs, symlinks;
	uint64_t file_bytes;
};

struct archive {
	struct cpio_writer w;
	struct strset names; /* entry names, tagged with their kind */
	struct archive_stats stats;
	uint64_t max_len;
	int dir_fd; /* >= 0: host paths are copied under this directory, no newc (the jailer) */
};

/* Start an archive written to fd, at most max_len bytes. */
void archive_init(struct archive *a, int fd, uint64_t max_len);

/* Start a tree instead: archive_add_host copies directories, links and files under dir_fd
 * (directories that exist are kept, files and links that exist replaced), each file at most
 * max_len bytes. kiln's own entries and archive_finish are for archives only. */
void archive_init_dir(struct archive *a, int dir_fd, uint64_t max_len);

/* Free the bookkeeping (the descriptor is the caller's). */
void archive_free(struct archive *a);

/*
 * Copy the host file at the absolute path `path` into the archive under the same path. Every
 * directory on the way is added (with its host mode), every symbolic link is added as a link
 * and followed (at most ARCHIVE_MAX_LINKS), so the guest resolves the path as the host does.
 * Entries already in the archive are not added again. The canonical path (no links, no . or
 * ..) is written to canon (size canon_len) for de-duplication. Returns 0 or -errno with e
 * filled (status SANDBOX_EXIT_KILN): a missing or unreadable component, a link loop, a final
 * component that is not a regular file, a file larger than the archive may be, a path under
 * /dev, /proc or /sys (the guest mounts its own file systems there), a path that collides with
 * one of kiln's own entries, or an archive that would grow beyond max_len.
 */
int archive_add_host(struct archive *a, const char *path, char *canon, size_t canon_len,
		     struct sandbox_err *e) MUST_CHECK;

/* kiln's own entries (name without a leading '/'); a host path may not use them later. A name
 * already present is an error. 0 or -errno with e filled. */
int archive_add_own_dir(struct archive *a, const char *name, struct sandbox_err *e) MUST_CHECK;
int archive_add_own_file(struct archive *a, const char *name, uint32_t perm, const void *data,
			 size_t len, struct sandbox_err *e) MUST_CHECK;
int archive_add_own_chardev(struct archive *a, const char *name, uint32_t major, uint32_t minor,
			    struct sandbox_err *e) MUST_CHECK;

/* Write the trailer. 0 or -errno with e filled. */
int archive_finish(struct archive *a, struct sandbox_err *e) MUST_CHECK;

#endif
