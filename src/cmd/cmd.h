/* cmd.h — kiln's command entry points: each turns its command line into a running VM, a served
 * API or a client's request, and returns the process exit status (README's table). main.c only
 * picks one; the work is done by the library folders (core, api, migrate, state, sandbox). */
#ifndef KILN_CMD_CMD_H
#define KILN_CMD_CMD_H

#include <stdbool.h>

struct vm_config;

/* `kiln run [options] [--api-sock PATH [--id ID]]` (argv[0] is "run"): boot the VM the options
 * describe. 2 for a bad command line (one line on stderr, even on a host without KVM). */
int cmd_run(int argc, char **argv);

/* What is wrong with path as an --api-sock (unix_sock_path_check): "the path is empty", "path
 * too long for a Unix socket (at most 107 bytes)", or NULL if nothing. */
const char *cmd_api_sock_problem(const char *path);

/* Check an --api-sock path on a command line: 0, or -EINVAL after one line on stderr
 * ("kiln: --api-sock: " and cmd_api_sock_problem's words). */
int cmd_check_api_sock(const char *path);

/* Check an --id on a command line as Firecracker does (fc_check_id: 1 to 64 letters, digits and
 * '-'): 0, or -EINVAL after one line on stderr. */
int cmd_check_id(const char *id);

/* Set the log level from -v counts: 0 warnings, 1 info, 2 or more debug. */
void cmd_set_verbosity(int verbosity);

/*
 * Firecracker's process command line (argv[0] is the program): `kiln --api-sock PATH ...`,
 * `kiln --config-file FILE ...`, or any flags when called as `firecracker` (firecracker true:
 * Firecracker's default socket and exit statuses). Flags are checked first (one line on stderr,
 * even without KVM); the document, if any, boots at once; the API is served unless --no-api.
 * Returns the exit status (README's table; 153/152 for a bad command line as `firecracker`).
 */
int cmd_firecracker(int argc, char **argv, bool firecracker);

/*
 * `kiln ctl --sock PATH COMMAND` (argv[0] is "ctl"); commands: info, version, start, pause,
 * resume, ctrl-alt-del, config, metrics, snapshot, restore, migrate, migrate-status. Prints the
 * result readably; returns 0 on a 2xx answer, 1 with the fault_message on stderr otherwise, 2
 * for a usage error.
 */
int cmd_ctl(int argc, char **argv);

/* `kiln migrate receive --listen HOST:PORT [--api-sock PATH [--id ID]] [-v]` and
 * `kiln migrate send ...` (argv[0] is "migrate"). Returns the exit status. */
int cmd_migrate(int argc, char **argv);

/*
 * `kiln migrate send --sock PATH --to HOST:PORT [--downtime-ms N] [--max-rounds N] [--timeout-s T]
 * [--on-timeout force|cancel] [--stall-timeout-s S]` (argv[0] is "send"): PUT /migrate, then GET
 * /migrate every 50 ms, printing a progress line per round and the outcome. 0 if the migration
 * completed, 1 if it failed or was cancelled (the VM keeps running at the source), 2 for a usage
 * error.
 */
int cmd_migrate_send(int argc, char **argv);

/*
 * `kiln restore SNAPSHOT --mem-file FILE [--paused] [--memory SIZE] [--cpus N] [--api-sock PATH
 * [--id ID]] [-v|-vv]` (argv[0] is "restore"). --memory and --cpus, when given, must match the
 * snapshot. Without --paused the VM resumes at once; with --api-sock the API is served (resume,
 * pause, snapshot again). Returns kiln's exit status: 2 for a bad command line or a refused
 * snapshot (one line on stderr), 4 for a host error, else the VM's.
 */
int cmd_restore(int argc, char **argv);

/* `kiln snapshot-merge BASE_MEM DIFF_MEM...` (argv[0] is "snapshot-merge"): apply Diff memory
 * files onto a base, in order. 0, or 2 (one line on stderr) at the first that fails. */
int cmd_snapshot_merge(int argc, char **argv);

/* `kiln seccomp print|compile`: exit status. */
int cmd_seccomp(int argc, char **argv);

/* Take --no-seccomp and --seccomp-filter FILE out of argv (argc updated) and configure the
 * process's filters with them (src/seccomp); exit_status is what a forbidden call ends kiln
 * with. Arguments after "--" are left alone. 0, or -EINVAL after a one-line message (no
 * file, or both flags). */
int cmd_take_seccomp_args(int *argc, char **argv, int exit_status);

#endif
