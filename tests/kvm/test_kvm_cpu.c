/* test_kvm_cpu.c — x86_vcpu_init against the real KVM, read back with KVM_GET_* (without a
 * usable KVM: skipped, or failed under CI=true; kvm_check.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/x86/cpu.h"
#include "kvm_check.h"

struct fixture {
	struct kvm_sys k;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;
};

static struct fixture fx = {.vm_fd = -1, .vcpu_fd = -1};

/* A VM with the in-kernel irqchip and one vCPU with KVM id `id`. */
static int vcpu_setup(unsigned id)
{
	if (kvm_vm_create(&fx.k, &fx.vm_fd) < 0 || kvm_create_irqchip(fx.vm_fd) < 0)
		return -1;
	return kvm_vcpu_create(&fx.k, fx.vm_fd, id, &fx.vcpu_fd, &fx.run);
}

static int teardown(void **state)
{
	kvm_vcpu_destroy(&fx.k, fx.vcpu_fd, fx.run);
	if (fx.vm_fd >= 0)
		close(fx.vm_fd);
	fx.vm_fd = fx.vcpu_fd = -1;
	fx.run = NULL;
	return 0;
}

static int setup_id5(void **state)
{
	return vcpu_setup(5);
}

static int setup_id0(void **state)
{
	return vcpu_setup(0);
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

static struct kvm_cpuid2 *get_cpuid(void)
{
	uint32_t room = fx.k.cpuid->nent + 16;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + room * sizeof(c->entries[0]));

	assert_non_null(c);
	c->nent = room;
	assert_int_equal(kvm_get_cpuid(fx.vcpu_fd, c), 0);
	return c;
}

static void check_cpuid(const struct x86_topology *t, unsigned index)
{
	struct kvm_cpuid2 *c = get_cpuid(), *want = x86_cpuid_build(fx.k.cpuid, t, index);
	uint32_t apic = x86_apic_id(t, index);

	assert_non_null(want);
	assert_int_equal(find(c, 1, 0)->ebx >> 24, apic);
	assert_true(find(c, 1, 0)->ecx & (1u << 31));
	if (find(want, 0xb, 0)) {
		assert_int_equal(find(c, 0xb, 0)->edx, apic);
		assert_int_equal(find(c, 0xb, 1)->eax, find(want, 0xb, 1)->eax);
		assert_int_equal(find(c, 0xb, 1)->ebx, t->threads * t->cores);
	}
	/* KVM keeps what it was given for its hypervisor leaves. */
	for (uint32_t i = 0; i < fx.k.cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *s = &fx.k.cpuid->entries[i];

		if (s->function >= 0x40000000 && s->function <= 0x400000ff) {
			const struct kvm_cpuid_entry2 *g = find(c, s->function, s->index);

			assert_non_null(g);
			assert_int_equal(g->eax, s->eax);
			assert_int_equal(g->ebx, s->ebx);
			assert_int_equal(g->ecx, s->ecx);
			assert_int_equal(g->edx, s->edx);
		}
	}
	if (find(want, 0x8000001e, 0))
		assert_int_equal(find(c, 0x8000001e, 0)->eax, apic);
	free(want);
	free(c);
}

static void check_msrs(void)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + X86_BOOT_MSRS_MAX * sizeof(m->entries[0]));
	struct kvm_msr_entry want[X86_BOOT_MSRS_MAX];
	size_t n = x86_boot_msrs(&fx.k, want, X86_BOOT_MSRS_MAX);

	assert_non_null(m);
	assert_true(n > 0);
	m->nmsrs = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		m->entries[i].index = want[i].index;
	assert_int_equal(kvm_get_msrs(fx.vcpu_fd, m), 0);
	for (size_t i = 0; i < n; i++) {
		if (m->entries[i].data != want[i].data)
			fail_msg("MSR %#x = %#llx, want %#llx", want[i].index,
				 (unsigned long long)m->entries[i].data,
				 (unsigned long long)want[i].data);
	}
	free(m);
}

static void check_fpu_lapic(uint32_t apic)
{
	struct kvm_fpu f;
	struct kvm_lapic_state l;
	uint32_t v;

	assert_int_equal(kvm_get_fpu(fx.vcpu_fd, &f), 0);
	assert_int_equal(f.fcw, 0x37f);
	/* No MXCSR check: KVM_GET_FPU has never copied MXCSR out (it always reads 0). */
	assert_int_equal(kvm_get_lapic(fx.vcpu_fd, &l), 0);
	memcpy(&v, &l.regs[X86_LAPIC_ID], 4);
	assert_int_equal(v >> 24, apic);
	memcpy(&v, &l.regs[X86_LAPIC_LVT0], 4);
	assert_int_equal(v & 0x10700, 0x700); /* ExtINT, unmasked */
	memcpy(&v, &l.regs[X86_LAPIC_LVT1], 4);
	assert_int_equal(v & 0x10700, 0x400); /* NMI, unmasked */
}

static void test_2x2x2_index5(void **state)
{
	struct x86_topology t = {2, 2, 2};

	assert_int_equal(x86_apic_id(&t, 5), 5);
	assert_int_equal(x86_vcpu_init(&fx.k, fx.vcpu_fd, &t, 5, NULL), 0);
	check_cpuid(&t, 5);
	check_msrs();
	check_fpu_lapic(5);
}

static void test_single_bsp(void **state)
{
	struct x86_topology t = {1, 1, 1};

	assert_int_equal(x86_vcpu_init(&fx.k, fx.vcpu_fd, &t, 0, NULL), 0);
	check_cpuid(&t, 0);
	check_msrs();
	check_fpu_lapic(0);
}

/* The guest is told of the TSC-deadline timer exactly when KVM has it (KVM's supported CPUID
 * left that bit out before KVM commit 9be4ec35d668: kvm_x86.c adds it). */
static void test_tsc_deadline(void **state)
{
	struct x86_topology t = {1, 1, 1};
	const struct kvm_cpuid_entry2 *l1;
	struct kvm_cpuid2 *c;
	bool has = kvm_cap(fx.k.fd, KVM_CAP_TSC_DEADLINE_TIMER) > 0;

	assert_int_equal(x86_vcpu_init(&fx.k, fx.vcpu_fd, &t, 0, NULL), 0);
	c = get_cpuid();
	l1 = find(c, 1, 0);
	assert_non_null(l1);
	assert_int_equal(!!(l1->ecx & KVM_CPUID1_ECX_TSC_DEADLINE), has);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_2x2x2_index5, setup_id5, teardown),
	    cmocka_unit_test_setup_teardown(test_single_bsp, setup_id0, teardown),
	    cmocka_unit_test_setup_teardown(test_tsc_deadline, setup_id0, teardown),
	};
	int ret;

	kvm_check_open(&fx.k);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	kvm_sys_close(&fx.k);
	return ret;
}
