/* restore_cli.h — `kiln restore`: a VM resumed from a snapshot in a new process. */
#ifndef KILN_STATE_RESTORE_CLI_H
#define KILN_STATE_RESTORE_CLI_H

/*
 * `kiln restore SNAPSHOT --mem-file FILE [--paused] [--memory SIZE] [--cpus N] [--api-sock PATH
 * [--id ID]] [-v|-vv]` (argv[0] is "restore"). --memory and --cpus, when given, must match the
 * snapshot. Without --paused the VM resumes at once; with --api-sock the API is served (resume,
 * pause, snapshot again). Returns kiln's exit status: 2 for a bad command line or a refused
 * snapshot (one line on stderr), 4 for a host error, else the VM's.
 */
int snapshot_restore_main(int argc, char **argv);

#endif
