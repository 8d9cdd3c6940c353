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

/* 0, -EINVAL for a bad command line (the caller prints the usage), 1 for a bad --api-sock path
 * or --id (already said in one line). */
static int parse_recv(int argc, char **argv, struct recv_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **slot = strcmp(s, "--listen") == 0	   ? &a->listen
				    : strcmp(s, "--api-sock") == 0 ? &a->sock
				    : strcmp(s, "--id") == 0	   ? &a->id
								   : NULL;

		if (v && ((slot == &a->sock && cmd_check_api_sock(v) < 0) ||
			  (slot == &a->id && cmd_check_id(v) < 0)))
			return 1; /* said in one line */
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

/* Accept the source on listen and receive its VM into m. 0, or the exit status after one line
 * on stderr. */
static int receive_vm(struct vmm *m, const char *listen, char *err, size_t errlen)
{
	int fd = accept_one(listen), ret;

	if (fd < 0) {
		fprintf(stderr, "kiln: migrate: cannot listen on %s: %s\n", listen,
			fd == -EINVAL ? "not IPv4-HOST:PORT" : strerror(-fd));
		return fd == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST;
	}
	ret = migrate_receive(m, fd, err, errlen);
	close(fd);
	if (ret < 0) {
		fprintf(stderr, "kiln: migrate: receive failed: %s\n", err);
		return KILN_EXIT_USAGE;
	}
	return 0;
}

static int receive_main(int argc, char **argv)
{
	struct recv_args a = {0};
	struct api_proc p;
	char err[400];
	struct vmm m;
	int ret;

	if (cmd_take_seccomp_args(&argc, argv, KILN_EXIT_HOST) < 0)
		return KILN_EXIT_USAGE;
	ret = parse_recv(argc, argv, &a);
	if (ret != 0)
		return ret > 0 ? KILN_EXIT_USAGE : usage(stderr);
	cmd_set_verbosity(a.verbosity);
	if (vmm_init(&m) < 0) {
		vmm_destroy(&m);
		return KILN_EXIT_HOST;
	}
	m.cfg.verbosity = a.verbosity;
	/* The API's socket before the source is let in: a path that cannot be served is refused
	 * while the VM still runs at the source. Requests wait until the VM has arrived. */
	if (a.sock && api_proc_open(&p, &m, a.sock, a.id) != 0) {
		vmm_destroy(&m);
		return KILN_EXIT_HOST;
	}
	ret = receive_vm(&m, a.listen, err, sizeof(err));
	if (ret == 0)
		ret = a.sock ? api_proc_run(&p, NULL) : vmm_run(&m);
	if (a.sock)
		api_proc_destroy(&p);
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
