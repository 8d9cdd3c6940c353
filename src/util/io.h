/* io.h — transfer exactly n bytes on a blocking descriptor (file, pipe or socket), retrying
 * short transfers and EINTR. Shared by the migration stream, the API client, snapshot files,
 * the sandbox's initramfs writer and its guest init (which builds this file on its own). */
#ifndef KILN_UTIL_IO_H
#define KILN_UTIL_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "util/compiler.h"

/*
 * Read exactly n bytes from fd into p (n == 0: 0 at once). Returns 0, -EPIPE when the end of
 * the file or stream comes before n bytes (read() returned 0; what was read is in p but its
 * length is not reported), or the -errno of the failing read(). EINTR is retried.
 * -EAGAIN means fd would block: it is non-blocking, or its SO_RCVTIMEO expired. The bytes read
 * before that are consumed and lost to the caller, so use these helpers on blocking
 * descriptors only (a timeout then means "give up on this stream").
 */
int io_read_all(int fd, void *p, size_t n) MUST_CHECK;

/*
 * Write exactly n bytes from p to fd (n == 0: 0 at once). Returns 0 or the -errno of the
 * failing write (-EIO if write() returned 0). EINTR is retried; -EAGAIN as for io_read_all
 * (SO_SNDTIMEO for sockets). On a socket the bytes go with send(MSG_NOSIGNAL): a peer that
 * went away is -EPIPE, never SIGPIPE; other descriptors use write(), where a pipe's SIGPIPE is
 * the process's to handle (kiln ignores it: vmm_init).
 */
int io_write_all(int fd, const void *p, size_t n) MUST_CHECK;

/* As io_write_all, at file offset off with pwrite() (fd's own offset unchanged). */
int io_pwrite_all(int fd, const void *p, size_t n, off_t off) MUST_CHECK;

#endif
