/* boottime.c — the arm64 boot benchmark's timing harness (bench/arm64-boot.py): run a VMM once,
 * read its stdout (the guest's console), and report how long the guest took to print its marker
 * line and the VMM to exit, and the VMM's resident memory when the marker appeared.
 *
 * Usage: boottime [-t SECONDS] [-m MARKER] -o CONSOLE -- CMD [ARG...]
 *
 * CMD runs with stdin from /dev/null, stdout into a pipe this program reads, and this program's
 * stderr. Everything read from the pipe is copied as it comes to the file CONSOLE (meant for a
 * tmpfs: it is there for diagnosis). The first console line holding MARKER (default
 * "BOOT-DONE") stops the first clock; the word after MARKER on that line is reported as the
 * guest's own figure (bench's /init prints its /proc/uptime there). Prints one line on stdout:
 *
 *     marker_ms=M exit_ms=E rss_kib=R status=S uptime=U
 *
 * M and E are CLOCK_MONOTONIC milliseconds from just before fork() to the moment the marker
 * line's newline was read and to the moment waitpid() returned; R is VmRSS of CMD's process
 * (/proc/PID/status) read right after the marker was seen; S is CMD's exit status (128 + signal
 * number if a signal ended it). M and R are -1 and U is "-" when no marker line came. When CMD
 * is still running after SECONDS (default 300) it is killed with SIGKILL and S is 124.
 *
 * CMD must be the VMM itself or a program that execs it (busybox chroot does): R is read from
 * the process this program forked. Exit status: 0 when the line above was printed, 2 on a usage
 * or system error. Built static for arm64 by bench/arm64-boot.py
 * (aarch64-linux-gnu-gcc -static -O2) and run inside the arm64 nested rig's L1. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_KEPT 512 /* bytes of the current console line kept for the marker search */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void usage(void)
{
	fputs("usage: boottime [-t SECONDS] [-m MARKER] -o CONSOLE -- CMD [ARG...]\n", stderr);
	exit(2);
}

/* VmRSS of process pid in KiB, from /proc/PID/status; -1 if it cannot be read. */
static long vm_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* Write all of buf to fd; a console copy that fails is reported once and dropped. */
static void copy_out(int fd, const char *buf, size_t len)
{
	static int failed;

	while (len > 0 && !failed) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("boottime: console copy");
			failed = 1;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* If line (NUL-terminated, without its newline) holds marker, copy the word after it into word
 * (at most size - 1 bytes, "-" if none) and return 1; return 0 otherwise. */
static int find_marker(const char *line, const char *marker, char *word, size_t size)
{
	const char *p = strstr(line, marker);
	size_t n = 0;

	if (!p)
		return 0;
	p += strlen(marker);
	while (*p == ' ' || *p == '\t')
		p++;
	while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && n + 1 < size)
		n++;
	if (n == 0)
		snprintf(word, size, "-");
	else {
		memcpy(word, p, n);
		word[n] = '\0';
	}
	return 1;
}

int main(int argc, char **argv)
{
	const char *marker = "BOOT-DONE", *console = NULL;
	char buf[4096], line[LINE_MAX_KEPT + 1], uptime[64] = "-";
	double t0, t_marker = -1, t_exit, deadline;
	long rss = -1, limit_s = 300;
	size_t line_len = 0;
	int out[2], cfd, opt, status, exit_code, timed_out = 0;
	pid_t pid;

	while ((opt = getopt(argc, argv, "t:m:o:")) != -1) {
		switch (opt) {
		case 't':
			limit_s = strtol(optarg, NULL, 10);
			break;
		case 'm':
			marker = optarg;
			break;
		case 'o':
			console = optarg;
			break;
		default:
			usage();
		}
	}
	if (!console || optind >= argc || limit_s <= 0 || !*marker)
		usage();
	cfd = open(console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (cfd < 0 || pipe2(out, O_CLOEXEC) < 0) {
		perror("boottime");
		return 2;
	}

	t0 = now_ms();
	deadline = t0 + (double)limit_s * 1e3;
	pid = fork();
	if (pid < 0) {
		perror("boottime: fork");
		return 2;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);

		if (in < 0 || dup2(in, 0) < 0 || dup2(out[1], 1) < 0)
			_exit(127);
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	close(out[1]);

	/* Read the console until every writer has closed it (the VMM exited) or time runs out. */
	for (;;) {
		struct pollfd pfd = {.fd = out[0], .events = POLLIN};
		double left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0) {
			kill(pid, SIGKILL);
			timed_out = 1;
			break;
		}
		r = poll(&pfd, 1, (int)left + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("boottime: poll");
			kill(pid, SIGKILL);
			break;
		}
		if (r == 0)
			continue; /* the deadline check above ends the loop */
		n = read(out[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		copy_out(cfd, buf, (size_t)n);
		if (t_marker >= 0)
			continue;
		/* Look for the marker line by line: a line is complete at its newline. */
		for (ssize_t i = 0; i < n && t_marker < 0; i++) {
			if (buf[i] != '\n') {
				if (line_len < LINE_MAX_KEPT)
					line[line_len++] = buf[i];
				continue;
			}
			line[line_len] = '\0';
			line_len = 0;
			if (find_marker(line, marker, uptime, sizeof(uptime))) {
				t_marker = now_ms();
				rss = vm_rss_kib(pid);
			}
		}
	}
	close(out[0]);

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("boottime: waitpid");
			return 2;
		}
	t_exit = now_ms();
	close(cfd);
	if (timed_out)
		exit_code = 124;
	else if (WIFEXITED(status))
		exit_code = WEXITSTATUS(status);
	else
		exit_code = 128 + WTERMSIG(status);
	printf("marker_ms=%.1f exit_ms=%.1f rss_kib=%ld status=%d uptime=%s\n",
	       t_marker >= 0 ? t_marker - t0 : -1.0, t_exit - t0, rss, exit_code, uptime);
	return 0;
}
