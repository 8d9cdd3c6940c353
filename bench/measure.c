/* measure.c — run a command once; print "first_ms exit_ms maxrss_kib status": milliseconds from
 * spawn to its first stdout byte (-1 if none) and to its exit, and its peak RSS. A small C parent
 * matters: the child's ru_maxrss includes the RSS of whatever process it was spawned from.
 * Usage: measure CMD [ARG...] */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	int out[2], status;
	double t0, first = -1;
	char buf[4096];
	ssize_t n;
	pid_t pid;

	if (argc < 2 || pipe(out) < 0)
		return 2;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	t0 = now_ms();
	if (posix_spawnp(&pid, argv[1], &fa, NULL, argv + 1, environ) != 0)
		return 2;
	close(out[1]);
	while ((n = read(out[0], buf, sizeof(buf))) > 0)
		if (first < 0)
			first = now_ms() - t0;
	if (wait4(pid, &status, 0, &ru) < 0)
		return 2;
	printf("%.3f %.3f %ld %d\n", first, now_ms() - t0, ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
