/* file.h — opening a path a user named (kernel, initrd, disk, serial file, snapshot, memory file,
 * config file) without letting it block kiln: a FIFO or a device would make open() wait for a
 * peer, with the event loop, the API and signal handling stuck behind it. */
#ifndef KILN_UTIL_FILE_H
#define KILN_UTIL_FILE_H

#include <sys/types.h>

#include "util/compiler.h"

/* The kinds of file a caller accepts (a mask). */
#define FILE_REG (1u << 0) /* a regular file */
#define FILE_BLK (1u << 1) /* a block device (a disk) */
#define FILE_CHR (1u << 2) /* a character device (/dev/null, a terminal: output) */

/* What file_open returns for a path of a kind the caller does not accept. */
#define FILE_EKIND EMEDIUMTYPE

/*
 * Open path with flags (O_CLOEXEC and O_NOCTTY added; mode for O_CREAT) without blocking,
 * whatever it names, and keep it only if it is of one of `kinds`; the descriptor is then
 * blocking as usual. Returns the fd, -FILE_EKIND (a FIFO, socket, directory or device the
 * caller does not accept; a FIFO with no reader too) or the -errno of open/fstat.
 */
int file_open(const char *path, int flags, mode_t mode, unsigned kinds) MUST_CHECK;

/* strerror for file_open's errors: -FILE_EKIND reads "not a regular file (a FIFO, socket,
 * directory or device)". */
const char *file_strerror(int err);

/* Read the whole regular file at path into a malloc'ed, NUL-terminated buffer: 0 with *out and
 * *len set, or file_open's -errno, -EFBIG (over max bytes) or -ENOMEM. */
int file_read_all(const char *path, size_t max, char **out, size_t *len) MUST_CHECK;

#endif
