/* smpsoak.c — an SMP soak for the full-Linux suite: for SECONDS, one CPU-bound thread pinned to
 * every online CPU, plus IPI-heavy work — futex ping-pong between threads pinned to different
 * CPUs (each wake-up of a sleeping thread on another CPU is a reschedule IPI), a thread issuing
 * membarrier(PRIVATE_EXPEDITED) (an IPI to every CPU running this process) and a thread that
 * migrates itself from CPU to CPU. Every INTERVAL seconds it checks that every thread made
 * progress since the last check and still runs where it is pinned; at the end it checks that
 * every CPU took reschedule and function-call interrupts during the run.
 *
 *     smpsoak SECONDS [INTERVAL]
 *
 * Reports on stdout: "KT smp tick T spin=... pingpong=... membarrier=... migrations=..." per
 * interval, "KT smp irqs CPU RES CAL" per CPU, and finally "KT smp ok CPUS" or
 * "KT smp FAIL reason".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64

struct worker {
	pthread_t tid;
	int cpu;				   /* pinned to, or -1 */
	_Atomic uint64_t progress;		   /* bumped as it works */
	_Atomic int wrong_cpu;			   /* seen running elsewhere than pinned */
	_Atomic uint32_t *futex_mine, *futex_peer; /* ping-pong */
};

static _Atomic int stop;
static int ncpus;
static struct worker spin[MAX_CPUS], ping[2], pong[2], barrier_w, migrator;
static _Atomic uint32_t futexes[4];

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s) < 0) {
		printf("KT smp FAIL sched_setaffinity(%d): %s\n", cpu, strerror(errno));
		exit(1);
	}
}

static void *spinner(void *arg)
{
	struct worker *w = arg;
	uint64_t x = (uint64_t)w->cpu + 1;

	pin(w->cpu);
	while (!stop) {
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		if (sched_getcpu() != w->cpu)
			w->wrong_cpu = 1;
		w->progress += 1 + (x & 0); /* keep x alive */
	}
	return NULL;
}

static long futex(_Atomic uint32_t *f, int op, uint32_t v)
{
	struct timespec ts = {0, 100 * 1000 * 1000}; /* so a stop is noticed */

	return syscall(SYS_futex, f, op, v, op == FUTEX_WAIT ? &ts : NULL, NULL, 0);
}

/* Wait until our futex is 1, clear it, set the peer's and wake it: one round trip per two. */
static void *pingponger(void *arg)
{
	struct worker *w = arg;

	pin(w->cpu);
	while (!stop) {
		uint32_t one = 1;

		if (!atomic_compare_exchange_strong(w->futex_mine, &one, 0)) {
			futex(w->futex_mine, FUTEX_WAIT, 0);
			continue;
		}
		if (sched_getcpu() != w->cpu)
			w->wrong_cpu = 1;
		w->progress++;
		*w->futex_peer = 1;
		futex(w->futex_peer, FUTEX_WAKE, 1);
	}
	*w->futex_peer = 1; /* let the peer out too */
	futex(w->futex_peer, FUTEX_WAKE, 1);
	return NULL;
}

static void *barrierer(void *arg)
{
	struct worker *w = arg;

	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) < 0) {
		printf("KT smp FAIL membarrier register: %s\n", strerror(errno));
		exit(1);
	}
	while (!stop) {
		if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) < 0) {
			printf("KT smp FAIL membarrier: %s\n", strerror(errno));
			exit(1);
		}
		w->progress++;
		usleep(200);
	}
	return NULL;
}

static void *migrating(void *arg)
{
	struct worker *w = arg;

	for (int cpu = 0; !stop; cpu = (cpu + 1) % ncpus) {
		pin(cpu);
		if (sched_getcpu() != cpu)
			w->wrong_cpu = 1;
		w->progress++;
		usleep(1000);
	}
	return NULL;
}

static void start(struct worker *w, void *(*fn)(void *), int cpu)
{
	w->cpu = cpu;
	if (pthread_create(&w->tid, NULL, fn, w) != 0) {
		printf("KT smp FAIL pthread_create\n");
		exit(1);
	}
}

/* Per-CPU totals of the "RES" and "CAL" lines of /proc/interrupts. */
static int irqs(uint64_t *res, uint64_t *cal)
{
	char line[4096];
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	memset(res, 0, sizeof(*res) * MAX_CPUS);
	memset(cal, 0, sizeof(*cal) * MAX_CPUS);
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		uint64_t *dst;

		while (*p == ' ')
			p++;
		if (strncmp(p, "RES:", 4) == 0)
			dst = res;
		else if (strncmp(p, "CAL:", 4) == 0)
			dst = cal;
		else
			continue;
		p += 4;
		for (int c = 0; c < ncpus; c++, p = end)
			dst[c] = strtoull(p, &end, 10);
	}
	fclose(f);
	return 0;
}

static struct worker *all[MAX_CPUS + 6];
static int nall;

/* Every worker moved since `last` (updated); 0, or -1 with a FAIL line. */
static int check(uint64_t *last, int t)
{
	for (int i = 0; i < nall; i++) {
		uint64_t now = all[i]->progress;

		if (now == last[i]) {
			printf("KT smp FAIL worker %d (cpu %d) made no progress in interval %d\n",
			       i, all[i]->cpu, t);
			return -1;
		}
		if (all[i]->wrong_cpu) {
			printf("KT smp FAIL worker %d ran off its CPU %d\n", i, all[i]->cpu);
			return -1;
		}
		last[i] = now;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 60, interval = argc > 2 ? atoi(argv[2]) : 5;
	uint64_t res0[MAX_CPUS], cal0[MAX_CPUS], res1[MAX_CPUS], cal1[MAX_CPUS];
	uint64_t last[MAX_CPUS + 6] = {0};
	int bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus < 2 || ncpus > MAX_CPUS || seconds <= 0 || interval <= 0 || irqs(res0, cal0)) {
		printf("KT smp FAIL setup: %d CPUs online\n", ncpus);
		return 1;
	}
	for (int c = 0; c < ncpus; c++) {
		start(&spin[c], spinner, c);
		all[nall++] = &spin[c];
	}
	for (int k = 0; k < 2; k++) { /* two pairs, each across two CPUs */
		ping[k].futex_mine = &futexes[2 * k], ping[k].futex_peer = &futexes[2 * k + 1];
		pong[k].futex_mine = &futexes[2 * k + 1], pong[k].futex_peer = &futexes[2 * k];
		start(&ping[k], pingponger, (2 * k) % ncpus);
		start(&pong[k], pingponger, (2 * k + 1) % ncpus);
		all[nall++] = &ping[k];
		all[nall++] = &pong[k];
		futexes[2 * k] = 1;
		futex(&futexes[2 * k], FUTEX_WAKE, 1);
	}
	start(&barrier_w, barrierer, -1);
	start(&migrator, migrating, -1);
	all[nall++] = &barrier_w;
	all[nall++] = &migrator;
	for (int t = interval; t <= seconds && !bad; t += interval) {
		sleep((unsigned)interval);
		bad = check(last, t);
		printf("KT smp tick %d spin0=%" PRIu64 " pingpong=%" PRIu64 " membarrier=%" PRIu64
		       " migrations=%" PRIu64 "\n",
		       t, (uint64_t)spin[0].progress, (uint64_t)ping[0].progress,
		       (uint64_t)barrier_w.progress, (uint64_t)migrator.progress);
	}
	stop = 1;
	for (int i = 0; i < nall; i++)
		pthread_join(all[i]->tid, NULL);
	if (irqs(res1, cal1))
		bad = 1;
	for (int c = 0; c < ncpus && !bad; c++) {
		printf("KT smp irqs %d %" PRIu64 " %" PRIu64 "\n", c, res1[c] - res0[c],
		       cal1[c] - cal0[c]);
		if (res1[c] == res0[c] || cal1[c] == cal0[c]) {
			printf("KT smp FAIL CPU %d took no reschedule or function-call IPI\n", c);
			bad = 1;
		}
	}
	if (!bad)
		printf("KT smp ok %d\n", ncpus);
	return bad;
}
