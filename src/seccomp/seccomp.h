/* seccomp.h — kiln's per-thread seccomp-BPF filters: the allow-lists, compiling them with
 * libseccomp, the filter file (`kiln seccomp compile`, `--seccomp-filter`), and installing one on
 * each thread before any guest code runs. The lists and the file format: docs/seccomp.md. */
#ifndef KILN_SECCOMP_SECCOMP_H
#define KILN_SECCOMP_SECCOMP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "util/compiler.h"

/* The kinds of thread that get a filter, and their names in filter descriptions and files. */
enum seccomp_thread { SECCOMP_VMM, SECCOMP_VCPU, SECCOMP_MIGRATION, SECCOMP_NR_THREADS };

/* What the process runs with: kiln's own filters (the default), none (--no-seccomp), or the
 * ones compiled into a file (--seccomp-filter FILE). */
enum seccomp_mode { SECCOMP_BUILTIN, SECCOMP_OFF, SECCOMP_FILE };

/* One BPF program per kind of thread (struct sock_filter, 8 bytes an instruction). */
struct seccomp_filters {
	struct {
		uint32_t len;
		void *insns;
	} prog[SECCOMP_NR_THREADS];
};

/* The name of a kind of thread ("vmm", "vcpu", "migration"). */
const char *seccomp_thread_name(enum seccomp_thread t);

/* kiln's allow-lists as a filter description (the JSON `kiln seccomp print` shows): one object
 * per kind of thread with default_action, filter_action and the filter rules. `rebuild`: the
 * VMM thread may build the VM again (--on-reset restart), so it also gets what building needs
 * and everything a vCPU thread may do (new vCPU threads start under its filter). New reference,
 * or NULL without memory. */
json_t *seccomp_builtin_json(bool rebuild);

/* Compile a filter description (kiln's thread names; Firecracker's seccompiler JSON shape) for
 * this machine's architecture into out. 0, or -EINVAL with a one-line reason in err. */
int seccomp_compile(const json_t *desc, struct seccomp_filters *out, char *err,
		    size_t errlen) MUST_CHECK;

/* The filter file's bytes for f in a new buffer (*out, free() it; *out_len bytes): what
 * seccomp_file_write writes and seccomp_file_parse reads. 0 or -ENOMEM. */
int seccomp_file_encode(const struct seccomp_filters *f, uint8_t **out, size_t *out_len) MUST_CHECK;

/* Write / read the filter file (little-endian; docs/seccomp.md). 0 or -errno with a one-line
 * reason in err; a file that is not a kiln filter file for this architecture is -EINVAL. */
int seccomp_file_write(const char *path, const struct seccomp_filters *f, char *err,
		       size_t errlen) MUST_CHECK;
int seccomp_file_read(const char *path, struct seccomp_filters *out, char *err,
		      size_t errlen) MUST_CHECK;
/* The same from / into memory (the file's bytes): read checks everything before taking any. */
int seccomp_file_parse(const uint8_t *buf, size_t len, struct seccomp_filters *out, char *err,
		       size_t errlen) MUST_CHECK;

void seccomp_filters_free(struct seccomp_filters *f);

/* --- the process's filters --- */

/* Choose what the process runs with; file is the path for SECCOMP_FILE (kept, not copied).
 * Before any VM starts. exit_status: what kiln exits with when a thread makes a call its filter
 * forbids. */
void seccomp_configure(enum seccomp_mode mode, const char *file, int exit_status);

/* Ready the filters before the first VM starts: compile kiln's (rebuild as above) or read the
 * file, and install the SIGSYS reporter. Once; later calls return the first one's result.
 * 0, or -EINVAL with a one-line reason in err (a bad file, or a combination kiln cannot filter:
 * `spawns` — the VM would start a helper process, virtiofsd, again on a restart, which the VMM
 * thread's filter forbids). */
int seccomp_prepare(bool rebuild, bool spawns, char *err, size_t errlen) MUST_CHECK;

/* Install the kind's filter on the calling thread (no-op when off or not prepared, and for the
 * VMM thread when it already has its filter). name (e.g. "vcpu 1") is what the report of a
 * forbidden call names. 0 or -errno (logged). */
int seccomp_enter(enum seccomp_thread t, const char *name) MUST_CHECK;

/* Whether filters are in force in this process (prepared and not off). */
bool seccomp_active(void);

/* Whether the VMM thread has its filter: from then on the VMM thread may not start processes
 * (src/hv/kvm_reaper.c), and threads it starts inherit its filter. */
bool seccomp_vmm_installed(void);

#endif
