/* main.c — kiln-jailer: Firecracker's jailer for kiln (docs/jailer.md). */
#include <stdio.h>

#include "jailer/jailer.h"
#include "util/log.h"
#include "util/privilege.h"

static void usage(void)
{
	fputs("usage: kiln-jailer --id ID --exec-file FILE --uid UID --gid GID\n"
	      "         [--chroot-base-dir DIR (default /srv/jailer)] [--netns PATH]\n"
	      "         [--cgroup-version 1|2] [--cgroup CONTROLLER.FILE=VALUE]...\n"
	      "         [--parent-cgroup PATH] [--resource-limit fsize=N|no-file=N]...\n"
	      "         [--daemonize] [--new-pid-ns] [-- ARGS FOR FILE...]\n"
	      "Builds <DIR>/<FILE's name>/<ID>/root (FILE and the libraries it loads copied in;\n"
	      "/dev/kvm, /dev/net/tun, /dev/urandom), pivots into it in a new mount namespace,\n"
	      "joins the cgroups and namespaces, drops to UID:GID and execs\n"
	      "/<FILE's name> --id ID --start-time-us T --start-time-cpu-us C ARGS...\n"
	      "Firecracker's jailer flags; see docs/jailer.md.\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct jailer_args a;
	char err[768];
	int status;

	if (privilege_refuse_setid(err, sizeof(err)) < 0) {
		fprintf(stderr, "kiln-jailer: %s: run it as root, not set-ID\n", err);
		return JAILER_EXIT_USAGE;
	}
	if (jailer_parse(&a, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "kiln-jailer: %s\n", log_printable(err, err, sizeof(err)));
		return JAILER_EXIT_USAGE;
	}
	if (a.help || a.version) {
		if (a.help)
			usage();
		else
			printf("kiln-jailer %s\n", KILN_VERSION);
		return 0;
	}
	status = jailer_run(&a, err, sizeof(err));
	fprintf(stderr, "kiln-jailer: %s\n", log_printable(err, err, sizeof(err)));
	return status;
}
