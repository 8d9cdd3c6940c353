/* main.c — kiln's entry: picks the command from argv and hands over to src/cmd/ (one file per
 * command); no logic of its own. */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/vm.h"
#include "sandbox/sandbox.h"
#include "sandbox/status.h"
#include "util/privilege.h"

static void usage(FILE *out)
{
	fputs(
	    "usage: kiln run [options] [--api-sock PATH [--id ID]]   boot a VM (kiln run --help)\n"
	    "       kiln sandbox --kernel PATH [options] -- CMD [ARGS...]   run one command in a\n"
	    "                    fresh VM (kiln sandbox --help)\n"
	    "       kiln restore SNAPSHOT --mem-file FILE [--paused] [--memory SIZE] [--cpus N]\n"
	    "                    [--api-sock PATH [--id ID]] [-v|-vv]   resume a snapshot\n"
	    "       kiln --config-file FILE [--no-api | --api-sock PATH] [-v]\n"
	    "                            boot the VM a Firecracker-style JSON document describes\n"
	    "       kiln --api-sock PATH [--id ID] [-v]   serve the API, boot on InstanceStart\n"
	    "                    (Firecracker's flags: kiln --api-sock x --help; kiln installed\n"
	    "                    as `firecracker` takes them all)\n"
	    "       kiln snapshot-merge BASE_MEM DIFF_MEM...   apply Diff memory files onto a "
	    "base\n"
	    "       kiln migrate receive --listen HOST:PORT [--api-sock PATH]   await a migration\n"
	    "       kiln migrate send --sock PATH --to HOST:PORT [...]   migrate a VM (its API)\n"
	    "       kiln ctl --sock PATH COMMAND   talk to a kiln API socket\n"
	    "       kiln seccomp print|compile ...   the seccomp filters (kiln seccomp --help)\n"
	    "       commands that run a VM take --no-seccomp or --seccomp-filter FILE\n"
	    "       kiln --version\n"
	    "       kiln --help\n",
	    out);
}

/* Whether the program was called as `firecracker` (a symlink or copy of kiln). */
static bool called_as_firecracker(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	return strcmp(slash ? slash + 1 : argv0, "firecracker") == 0;
}

/*
 * One malloc arena for every thread. glibc gives each new thread a heap of its own, and the first
 * time any such heap shrinks it reads /proc/sys/vm/overcommit_memory (shrink_heap); a vCPU or
 * migration thread, whose seccomp filter allows no open, would then be stopped (guest_fuzz found
 * a guest freeing queue records on the vCPU thread doing exactly that). The main arena trims
 * with brk and never opens anything; kiln's threads allocate rarely, so sharing it costs nothing.
 */
static void malloc_one_arena(void)
{
	(void)mallopt(M_ARENA_MAX, 1); /* ASan's allocator ignores it: it has no such heaps */
}

int main(int argc, char **argv)
{
	char err[256];

	if (privilege_refuse_setid(err, sizeof(err)) < 0) {
		fprintf(stderr,
			"kiln: %s: give the user access to /dev/kvm, or start kiln through "
			"kiln-jailer\n",
			err);
		return KILN_EXIT_USAGE;
	}
	malloc_one_arena();
	if (argc > 0 && called_as_firecracker(argv[0]))
		return cmd_firecracker(argc, argv, true);
	if (argc < 2) {
		fputs("kiln: no command given (usage: kiln run [options] | kiln --version | kiln "
		      "--help)\n",
		      stderr);
		return KILN_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("kiln %s\n", KILN_VERSION);
		return KILN_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return KILN_EXIT_OK;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "sandbox") == 0) {
		int n = argc - 1;

		if (cmd_take_seccomp_args(&n, argv + 1, SANDBOX_EXIT_KILN) < 0)
			return SANDBOX_EXIT_KILN;
		return sandbox_main(n, argv + 1);
	}
	if (strcmp(argv[1], "ctl") == 0)
		return cmd_ctl(argc - 1, argv + 1);
	if (strcmp(argv[1], "restore") == 0)
		return cmd_restore(argc - 1, argv + 1);
	if (strcmp(argv[1], "snapshot-merge") == 0)
		return cmd_snapshot_merge(argc - 1, argv + 1);
	if (strcmp(argv[1], "migrate") == 0)
		return cmd_migrate(argc - 1, argv + 1);
	if (strcmp(argv[1], "seccomp") == 0)
		return cmd_seccomp(argc - 1, argv + 1);
	/* Firecracker's process flags (--api-sock, --config-file, --id, ...). */
	if (argv[1][0] == '-')
		return cmd_firecracker(argc, argv, false);
	fprintf(stderr, "kiln: unknown command '%s' (see kiln --help)\n", argv[1]);
	return KILN_EXIT_USAGE;
}
