/* protocol.h — what kiln sandbox and its guest init (init.c) agree on: where the initramfs keeps
 * the command, which devices carry what, and the control-channel lines. Plain C and no kiln
 * headers: init.c is built apart, as a static guest program. */
#ifndef KILN_SANDBOX_PROTOCOL_H
#define KILN_SANDBOX_PROTOCOL_H

/* In the initramfs. */
#define SANDBOX_INIT "init"	  /* kiln's init (the kernel runs /init: rdinit=/init) */
#define SANDBOX_DIR  ".kiln"	  /* kiln's own files */
#define SANDBOX_EXE  ".kiln/exe"  /* the path CMD is executed from, NUL-terminated */
#define SANDBOX_ARGV ".kiln/argv" /* CMD's argv: each argument NUL-terminated, in order */
#define SANDBOX_ENV  ".kiln/env"  /* CMD's environment, NAME=VALUE strings as in argv */
/* Limits of the argv and env files (above the host's ARG_MAX, so any host argv fits). */
#define SANDBOX_ARGV_MAX_BYTES (4u << 20)
#define SANDBOX_ARGV_MAX_ARGS  65536u

/* In the guest. */
#define SANDBOX_DEV_OUT	    "/dev/hvc0"	 /* CMD's stdout: virtio-console port 0 */
#define SANDBOX_DEV_OUT_ALT "/dev/ttyS0" /* ... when there is no hvc0 */
#define SANDBOX_DEV_ERR	    "/dev/ttyS0" /* CMD's stderr and the kernel console: COM1 */
#define SANDBOX_DEV_CTL	    "/dev/ttyS1" /* the control channel: COM2 */

/*
 * The control channel: one line per event, "\n"-terminated, in this order:
 *	KILN-SANDBOX start		CMD is about to be executed
 * then exactly one of
 *	KILN-SANDBOX exit N		CMD exited with status N (0-255)
 *	KILN-SANDBOX signal N		CMD was killed by signal N (1-64)
 *	KILN-SANDBOX exec-error ERRNO	execve of CMD failed with ERRNO (1-4095)
 * CMD's output is drained and the disks synced before the final event; the guest powers off
 * after it.
 */
#define SANDBOX_CTL_TAG	       "KILN-SANDBOX"
#define SANDBOX_CTL_START      "start"
#define SANDBOX_CTL_EXIT       "exit"
#define SANDBOX_CTL_SIGNAL     "signal"
#define SANDBOX_CTL_EXEC_ERROR "exec-error"
#define SANDBOX_CTL_LINE_MAX   64 /* bytes of a line without its newline */

#endif
