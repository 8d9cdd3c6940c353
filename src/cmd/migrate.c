/* migrate.c — `kiln migrate receive|send`: the destination's listener (migrate/recv.h takes the
 * stream) and the source's client (ctl.c's migrate). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api_vmm.h"
#include "cmd/cmd.h"
#include "core/vmm.h"
#include "migrate/proto.h"
#include "migrate/recv.h"
#include "util/log.h"

struct recv_args {
	const char *listen, *sock, *id;
	int verbosity;
};

static int usage(FILE *f)
{
	fputs("usage: kiln migrate receive --listen HOST:PORT [--api-sock PATH [--id ID]] [-v]\n"
	      "       kiln migrate send --sock PATH --to HOST:PORT [--downtime-ms N]\n"
	      "                    [--max-rounds N] [--timeout-s T] [--on-timeout force|cancel]\n"
	      "                    [--stall-timeout-s S]\n",
	      f);
	return f == stdout ? KILN_EXIT_OK : KILN_EXIT_USAGE;
}

static int parse_recv(int argc, char **argv, struct recv_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **slot = strcmp(s, "--listen") == 0	   ? &a->listen
				    : strcmp(s, "--api-sock") == 0 ? &a->sock
				    : strcmp(s, "--id") == 0	   ? &a->id
								   : NULL;

		if (slot && v) {
			*slot = v;
			i++;
		} else if (strcmp(s, "-v") == 0 || strcmp(s, "-vv") == 0) {
			a->verbosity = s[2] ? 2 : a->verbosity + 1;
		} else {
			return -EINVAL;
		}
	}
	return a->listen ? 0 : -EINVAL;
}

/* Listen on addr and accept one connection (the listener is closed then). fd or -errno. */
static int accept_one(const char *addr)
{
	struct sockaddr_in a;
	int one = 1, lfd, fd;

	if (mig_parse_addr(addr, &a) < 0)
		return -EINVAL;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0) {
		fd = -errno;
		close(lfd);
		return fd;
	}
	fprintf(stderr, "kiln: migrate: waiting for the source on %s\n", addr);
	do {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	fd = fd < 0 ? -errno : fd;
	close(lfd);
	return fd;
}

static int receive_main(int argc, char **argv)
{
	struct recv_args a = {0};
	char err[400];
	struct vmm m;
	int fd, ret;

	if (cmd_take_seccomp_args(&argc, argv, KILN_EXIT_HOST) < 0 ||
	    parse_recv(argc, argv, &a) < 0)
		return usage(stderr);
	cmd_set_verbosity(a.verbosity);
	if (vmm_init(&m) < 0) {
		vmm_destroy(&m);
		return KILN_EXIT_HOST;
	}
	m.cfg.verbosity = a.verbosity;
	fd = accept_one(a.listen);
	if (fd < 0) {
		fprintf(stderr, "kiln: migrate: cannot listen on %s: %s\n", a.listen,
			fd == -EINVAL ? "not IPv4-HOST:PORT" : strerror(-fd));
		vmm_destroy(&m);
		return fd == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST;
	}
	ret = migrate_receive(&m, fd, err, sizeof(err));
	close(fd);
	if (ret < 0) {
		fprintf(stderr, "kiln: migrate: receive failed: %s\n", err);
		vmm_destroy(&m);
		return KILN_EXIT_USAGE;
	}
	ret = a.sock ? api_run(&m, a.sock, a.id) : vmm_run(&m);
	vmm_destroy(&m);
	return ret;
}

int cmd_migrate(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout);
	if (argc >= 2 && strcmp(argv[1], "receive") == 0)
		return receive_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return cmd_migrate_send(argc - 1, argv + 1);
	return usage(stderr);
}
