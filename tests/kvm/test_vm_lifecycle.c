/* test_vm_lifecycle.c — the VM state machine on real KVM: start, pause/resume of a guest counting
 * at CPL3 (the count moves only while running, a paused VM uses no CPU), stop, and the
 * transitions each state refuses. Also guest memory slots registered with KVM, and dirty logging:
 * the pages the counting guest writes, and only those, plus what kiln itself wrote.
 * Usage: test_vm_lifecycle COUNT_GUEST_ELF COUNTER_GPA   (kvm_check.h: skip, or fail under CI=true,
 * if /dev/kvm is unusable) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <dirent.h>

#include "core/vcpu.h"
#include "core/vm.h"
#include "hv/kvm.h"
#include "kvm_check.h"

static struct kvm_sys g_kvm;
static struct event_loop g_loop;
static const struct vm_env g_env = {.kvm = &g_kvm, .loop = &g_loop};
static const char *g_guest;
static uint64_t g_counter_gpa;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t counter(struct vm *vm)
{
	volatile uint64_t *p = guest_mem_ptr(&vm->mem, g_counter_gpa, sizeof(uint64_t));

	assert_non_null(p);
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Wait (bounded) until the guest's counter passes `above`. */
static uint64_t wait_counter_above(struct vm *vm, uint64_t above)
{
	for (int i = 0; i < 1000; i++) {
		uint64_t c = counter(vm);

		if (c > above)
			return c;
		sleep_ms(10);
	}
	fail_msg("guest counter stuck at %llu", (unsigned long long)above);
	return 0;
}

static void config_for_test(struct vm_config *c, unsigned cpus)
{
	config_defaults(c);
	snprintf(c->kernel_path, sizeof(c->kernel_path), "%s", g_guest);
	c->mem_bytes = 64ULL << 20;
	c->cores = cpus;
	c->com1.mode = SERIAL_NONE;
}

static void test_pause_resume_counting_guest(void **state)
{
	struct vm_config cfg;
	struct vm *vm;
	uint64_t c1, c2;
	double cpu0;

	(void)state;
	config_for_test(&cfg, 2); /* the AP sits in KVM_RUN waiting for SIPI: pause must kick it */
	assert_int_equal(vm_create(&cfg, &g_env, &vm, NULL), 0);
	assert_int_equal(vm_get_state(vm), VM_CREATED);
	assert_int_equal(vm_pause(vm), -EBUSY);
	assert_int_equal(vm_resume(vm), -EBUSY);
	assert_int_equal(vm_start(vm), 0);
	assert_int_equal(vm_start(vm), -EBUSY);
	assert_int_equal(vm_resume(vm), -EBUSY);
	c1 = wait_counter_above(vm, 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(vm_pause(vm), 0);
		assert_int_equal(vm_get_state(vm), VM_PAUSED);
		assert_int_equal(vm_pause(vm), -EBUSY);
		c1 = counter(vm);
		cpu0 = cpu_seconds();
		sleep_ms(300);
		c2 = counter(vm);
		assert_int_equal(c1, c2); /* no progress while paused */
		/* Parked vCPU threads burn nothing: allow 30 ms of slack for this thread. */
		if (cpu_seconds() - cpu0 >= 0.03)
			fail_msg("paused VM used %.1f ms of CPU in 300 ms",
				 (cpu_seconds() - cpu0) * 1e3);
		assert_int_equal(vm_resume(vm), 0);
		assert_int_equal(vm_get_state(vm), VM_RUNNING);
		wait_counter_above(vm, c2);
	}
	vm_request_stop(vm, VM_STOP_HOST, KILN_EXIT_OK);
	vm_request_stop(vm, VM_STOP_FATAL, KILN_EXIT_GUEST); /* the first reason wins */
	assert_int_equal(vm_join(vm), KILN_EXIT_OK);
	assert_int_equal(vm_get_state(vm), VM_STOPPED);
	assert_int_equal(vm->stop_reason, VM_STOP_HOST);
	assert_int_equal(vm_resume(vm), -EBUSY);
	assert_int_equal(vm_pause(vm), -EBUSY);
	assert_int_equal(vm_start(vm), -EBUSY);
	vm_destroy(vm);
}

/* Fetch and clear every RAM region's dirty log; the dirty page numbers (gpa / 4 KiB) go into
 * pages (at most max), their count is returned. */
static unsigned fetch_dirty(struct vm *vm, uint64_t *pages, unsigned max)
{
	static uint64_t bits[(1u << 30) / 4096 / 64];
	unsigned n = 0;

	for (unsigned i = 0; i < vm->mem.nr; i++) {
		const struct guest_region *r = &vm->mem.r[i];

		if (!(r->flags & GUEST_MEM_RAM))
			continue;
		assert_true(guest_mem_bitmap_words(r->len) <= sizeof(bits) / sizeof(bits[0]));
		assert_int_equal(guest_mem_dirty_fetch(&vm->mem, r, bits), 0);
		for (uint64_t p = 0; p < r->len / 4096; p++)
			if ((bits[p / 64] >> (p % 64)) & 1 && n++ < max)
				pages[n - 1] = r->gpa / 4096 + p;
	}
	return n;
}

static void test_dirty_log(void **state)
{
	struct vm_config cfg;
	struct vm *vm;
	uint64_t pages[64], c;
	unsigned n;
	bool counter_seen = false;

	(void)state;
	config_for_test(&cfg, 1);
	assert_int_equal(vm_create(&cfg, &g_env, &vm, NULL), 0);
	assert_int_equal(vm_start(vm), 0);
	c = wait_counter_above(vm, 0);
	assert_int_equal(vm_pause(vm), 0);
	assert_int_equal(guest_mem_log_start(&vm->mem), 0);
	assert_int_equal(fetch_dirty(vm, pages, 64), 0); /* starts clean */
	c = counter(vm); /* (it moved between the first read and the pause) */
	assert_int_equal(vm_resume(vm), 0);
	wait_counter_above(vm, c + 1000);
	assert_int_equal(vm_pause(vm), 0);
	n = fetch_dirty(vm, pages, 64);
	/* The counter's page, and a few more: the guest's stack. Nothing else runs. */
	for (unsigned i = 0; i < n && i < 64; i++)
		counter_seen |= pages[i] == g_counter_gpa / 4096;
	if (!counter_seen)
		fail_msg("the counter's page %#llx is not among the %u dirty pages (first %#llx)",
			 (unsigned long long)(g_counter_gpa / 4096), n,
			 (unsigned long long)(n ? pages[0] : 0));
	if (n > 8)
		fail_msg("%u pages dirty, expected the counter's and a few stack pages", n);
	assert_int_equal(fetch_dirty(vm, pages, 64), 0); /* paused: cleared, nothing new */
	/* kiln's own writes: the VMM bitmap, merged. */
	assert_int_equal(guest_mem_write(&vm->mem, 0x500ff8, "0123456789abcdef", 16), 0);
	assert_int_equal(fetch_dirty(vm, pages, 64), 2);
	assert_int_equal(pages[0], 0x500);
	assert_int_equal(pages[1], 0x501);
	guest_mem_log_stop(&vm->mem);
	vm_request_stop(vm, VM_STOP_HOST, KILN_EXIT_OK);
	assert_int_equal(vm_join(vm), KILN_EXIT_OK);
	vm_destroy(vm);
}

static void test_stop_while_paused(void **state)
{
	struct vm_config cfg;
	struct vm *vm;

	(void)state;
	config_for_test(&cfg, 1);
	assert_int_equal(vm_create(&cfg, &g_env, &vm, NULL), 0);
	assert_int_equal(vm_start(vm), 0);
	wait_counter_above(vm, 0);
	assert_int_equal(vm_pause(vm), 0);
	vm_request_stop(vm, VM_STOP_HOST, KILN_EXIT_OK);
	assert_int_equal(vm_join(vm), KILN_EXIT_OK);
	assert_int_equal(vm_get_state(vm), VM_STOPPED);
	vm_destroy(vm);
}

/* The host CPUs this process may use: the first and the last. */
static void allowed_cpus(unsigned *first, unsigned *last, cpu_set_t *set)
{
	assert_int_equal(sched_getaffinity(0, sizeof(*set), set), 0);
	*first = CPU_SETSIZE;
	for (unsigned i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, set))
			continue;
		if (*first == CPU_SETSIZE)
			*first = i;
		*last = i;
	}
	assert_true(*first < CPU_SETSIZE);
}

/* Each vCPU thread pins itself to its host CPU before it enters the guest: read it back. */
static void test_vcpu_pinning(void **state)
{
	struct vm_config cfg;
	struct vm *vm;
	unsigned first, last;
	cpu_set_t set;

	(void)state;
	allowed_cpus(&first, &last, &set);
	config_for_test(&cfg, 2);
	cfg.pin_vcpus = true;
	cfg.vcpu_pin[0] = (uint16_t)last;
	cfg.vcpu_pin[1] = (uint16_t)first;
	assert_int_equal(vm_create(&cfg, &g_env, &vm, NULL), 0);
	assert_int_equal(vm_start(vm), 0);
	wait_counter_above(vm, 0);
	assert_int_equal(vm_pause(vm), 0); /* every thread parked: past its pinning */
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(pthread_getaffinity_np(vm->vcpus[i].thread, sizeof(set), &set), 0);
		assert_int_equal(CPU_COUNT(&set), 1);
		assert_true(CPU_ISSET(cfg.vcpu_pin[i], &set));
	}
	vm_request_stop(vm, VM_STOP_HOST, KILN_EXIT_OK);
	assert_int_equal(vm_join(vm), KILN_EXIT_OK);
	vm_destroy(vm);
}

/* A host CPU that does not exist or is not allowed: refused before anything is built. */
static void test_vcpu_pinning_refused(void **state)
{
	struct vm_config cfg;
	struct vm *vm = NULL;
	unsigned first, last;
	cpu_set_t set;

	(void)state;
	allowed_cpus(&first, &last, &set);
	if (last == CPU_SETSIZE - 1)
		skip();
	config_for_test(&cfg, 1);
	cfg.pin_vcpus = true;
	cfg.vcpu_pin[0] = CPU_SETSIZE - 1;
	assert_int_equal(vm_create(&cfg, &g_env, &vm, NULL), -EINVAL);
}

static void test_stop_before_start(void **state)
{
	struct vm_config cfg;
	struct vm *vm;

	(void)state;
	config_for_test(&cfg, 1);
	assert_int_equal(vm_create(&cfg, &g_env, &vm, NULL), 0);
	vm_request_stop(vm, VM_STOP_HOST, KILN_EXIT_OK);
	assert_int_equal(vm_start(vm), -EBUSY);
	assert_int_equal(vm_join(vm), KILN_EXIT_OK);
	vm_destroy(vm);
}

/* A host stop behind a guest reset: the reset stays the reason (first wins), and host_stop tells
 * the process not to restart the VM (Ctrl-A x typed while the guest was resetting). */
static void test_host_stop_behind_reset(void **state)
{
	struct vm_config cfg;
	struct vm *vm;

	(void)state;
	config_for_test(&cfg, 1);
	assert_int_equal(vm_create(&cfg, &g_env, &vm, NULL), 0);
	vm_request_stop(vm, VM_STOP_RESET, KILN_EXIT_OK);
	assert_false(vm->host_stop);
	vm_request_stop(vm, VM_STOP_HOST, KILN_EXIT_OK);
	assert_int_equal(vm->stop_reason, VM_STOP_RESET);
	assert_true(vm->host_stop);
	assert_int_equal(vm_join(vm), KILN_EXIT_OK);
	vm_destroy(vm);
}

/* The threads of this process (/proc/self/task), a joined thread no longer among them. */
static int nr_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* nr_threads once it is n, or after a second: a joined thread can stay listed for a moment
 * (pthread_join returns when the kernel clears its tid, before the task is released). */
static int threads_settle_at(int n)
{
	for (int i = 0; i < 200 && nr_threads() != n; i++)
		sleep_ms(5);
	return nr_threads();
}

/* vm_create starts the vCPU threads (their start-up overlaps the VM's building); they wait for
 * vm_start, and a VM destroyed without ever starting ends them. */
static void test_vcpu_threads_wait_for_start(void **state)
{
	struct vm_config cfg;
	struct vm *vm;
	int before = threads_settle_at(1); /* the earlier tests' vCPU threads gone */

	(void)state;
	config_for_test(&cfg, 3);
	assert_int_equal(vm_create(&cfg, &g_env, &vm, NULL), 0);
	assert_int_equal(nr_threads(), before + 3);
	sleep_ms(50);
	assert_int_equal(vm_get_state(vm), VM_CREATED); /* nobody ran */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		assert_int_equal(vm->vcpus[i].stats.exits_io + vm->vcpus[i].stats.exits_mmio +
				     vm->vcpus[i].stats.exits_other,
				 0);
	vm_destroy(vm);
	assert_int_equal(threads_settle_at(before), before);
}

/* A VM whose building fails after its vCPU threads started (its kernel is missing) takes them
 * with it: vm_create returns the error, not a hang, and no thread is left. */
static void test_failed_create_ends_vcpu_threads(void **state)
{
	struct vm_config cfg;
	struct vm *vm = NULL;
	int before = threads_settle_at(1);

	(void)state;
	config_for_test(&cfg, 2);
	snprintf(cfg.kernel_path, sizeof(cfg.kernel_path), "/nonexistent/kernel");
	assert_true(vm_create(&cfg, &g_env, &vm, NULL) < 0);
	assert_int_equal(threads_settle_at(before), before);
}

static void test_guest_mem_slots_with_kvm(void **state)
{
	struct guest_mem m;
	int vm_fd;

	(void)state;
	assert_int_equal(kvm_vm_create(&g_kvm, &vm_fd), 0);
	guest_mem_init(&m, vm_fd);
	assert_int_equal(guest_mem_add(&m, 0, 2ULL << 20, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add(&m, 1ULL << 32, 1ULL << 20, GUEST_MEM_READONLY), 0);
	assert_int_equal(guest_mem_add(&m, 1ULL << 20, 2ULL << 20, GUEST_MEM_RAM), -EEXIST);
	assert_int_equal(guest_mem_remove(&m, 1ULL << 32), 0);
	/* KVM really dropped the slot: the same range can be registered again. */
	assert_int_equal(guest_mem_add(&m, 1ULL << 32, 2ULL << 20, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_ram_size(&m), 4ULL << 20);
	guest_mem_destroy(&m);
	close(vm_fd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pause_resume_counting_guest),
	    cmocka_unit_test(test_stop_while_paused),
	    cmocka_unit_test(test_dirty_log),
	    cmocka_unit_test(test_stop_before_start),
	    cmocka_unit_test(test_host_stop_behind_reset),
	    cmocka_unit_test(test_vcpu_threads_wait_for_start),
	    cmocka_unit_test(test_failed_create_ends_vcpu_threads),
	    cmocka_unit_test(test_vcpu_pinning),
	    cmocka_unit_test(test_vcpu_pinning_refused),
	    cmocka_unit_test(test_guest_mem_slots_with_kvm),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s COUNT_GUEST_ELF COUNTER_GPA\n", argv[0]);
		return 2;
	}
	g_guest = argv[1];
	g_counter_gpa = strtoull(argv[2], NULL, 0);
	kvm_check_open(&g_kvm);
	if (vcpu_signals_init() < 0 || event_loop_init(&g_loop) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
