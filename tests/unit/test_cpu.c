/* test_cpu.c — APIC ID numbering, CPUID topology on synthetic Intel/AMD tables, boot MSRs, LAPIC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/cpu.h"

#define TABLE_ROOM 64
#define SIG	   KVM_CPUID_FLAG_SIGNIFCANT_INDEX

static struct kvm_cpuid2 *table_new(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + TABLE_ROOM * sizeof(c->entries[0]));

	assert_non_null(c);
	return c;
}

static void add(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx, uint32_t flags, uint32_t a,
		uint32_t b, uint32_t cx, uint32_t d)
{
	assert_true(c->nent < TABLE_ROOM);
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){
	    .function = fn, .index = idx, .flags = flags, .eax = a, .ebx = b, .ecx = cx, .edx = d};
}

static uint32_t str4(const char *s)
{
	uint32_t v;

	memcpy(&v, s, 4);
	return v;
}

static void add_vendor(struct kvm_cpuid2 *c, uint32_t max, const char *v)
{
	add(c, 0, 0, 0, max, str4(v), str4(v + 8), str4(v + 4));
}

/* KVM's own leaves, plus one more in the range that must also pass through. */
static void add_hypervisor(struct kvm_cpuid2 *c)
{
	add(c, 0x40000000, 0, 0, 0x40000001, str4("KVMK"), str4("VMKV"), str4("M\0\0\0"));
	add(c, 0x40000001, 0, 0, 0x01007efb, 0, 0, 0);
	add(c, 0x40000100, 0, 0, 0x40000101, 0x12345678, 0x9abcdef0, 0x0badf00d);
}

/* Intel-like: max basic 0x1f with leaves 4, 0xB and 0x1F as KVM reports them on a host. */
static struct kvm_cpuid2 *intel_table(uint32_t max_basic, int with_topo)
{
	struct kvm_cpuid2 *c = table_new();

	add_vendor(c, max_basic, "GenuineIntel");
	add(c, 1, 0, 0, 0x000906ea, 0x07100800, 0x7ffafbff & ~(1u << 31), 0xbfebfbff);
	add(c, 4, 0, SIG, 0x1c004121, 0x01c0003f, 0x3f, 0);
	add(c, 4, 1, SIG, 0x1c004122, 0x01c0003f, 0x3f, 0);
	add(c, 4, 2, SIG, 0x1c004143, 0x00c0003f, 0x3ff, 0);
	add(c, 4, 3, SIG, 0x1c03c163, 0x03c0003f, 0x2fff, 6);
	add(c, 4, 4, SIG, 0, 0, 0, 0);
	add(c, 7, 0, SIG, 0, 0x029c6fbf, 0, 0);
	if (with_topo) {
		add(c, 0xb, 0, SIG, 1, 2, 0x100, 3);
		add(c, 0x1f, 0, SIG, 1, 2, 0x100, 3);
	}
	add_hypervisor(c);
	add(c, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	add(c, 0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800);
	add(c, 0x80000008, 0, 0, 0x3027, 0, 0, 0);
	return c;
}

/* AMD-like: as this project's EPYC host reports (no 0x1F; 0x8000001E present but zero). */
static struct kvm_cpuid2 *amd_table(int with_1e)
{
	struct kvm_cpuid2 *c = table_new();

	add_vendor(c, 0xd, "AuthenticAMD");
	add(c, 1, 0, 0, 0x00a00f11, 0x01020800, 0x81202000, 0x078bfbff);
	add(c, 4, 0, SIG, 0, 0, 0, 0);
	add(c, 0xb, 0, SIG, 0, 0, 0, 1);
	add(c, 0xd, 0, SIG, 7, 0x340, 0x340, 0);
	add_hypervisor(c);
	add(c, 0x80000000, 0, 0, 0x80000021, 0, 0, 0);
	add(c, 0x80000001, 0, 0, 0x00a00f11, 0x40000000, 0x00400393, 0x23d3fbff);
	add(c, 0x80000008, 0, 0, 0x3030, 0x10000005, 0x00017001, 0);
	add(c, 0x8000001d, 0, SIG, 0x121, 0x01c0003f, 0x3f, 0);
	add(c, 0x8000001d, 1, SIG, 0x122, 0x01c0003f, 0x3f, 0);
	add(c, 0x8000001d, 2, SIG, 0x143, 0x01c0003f, 0x3ff, 2);
	add(c, 0x8000001d, 3, SIG, 0x4163, 0x03c0003f, 0x7fff, 1);
	add(c, 0x8000001d, 4, SIG, 0, 0, 0, 0);
	if (with_1e)
		add(c, 0x8000001e, 0, 0, 0, 0, 0, 0);
	add(c, 0x80000021, 0, 0, 0x204, 0, 6, 0);
	return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	const struct kvm_cpuid_entry2 *hit = NULL;

	for (uint32_t i = 0; i < c->nent; i++) {
		if (c->entries[i].function == fn && c->entries[i].index == idx) {
			assert_null(hit); /* never two entries for one (leaf, subleaf) */
			hit = &c->entries[i];
		}
	}
	return hit;
}

static unsigned count_leaf(const struct kvm_cpuid2 *c, uint32_t fn)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < c->nent; i++)
		n += c->entries[i].function == fn;
	return n;
}

static const struct kvm_cpuid_entry2 *get(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	const struct kvm_cpuid_entry2 *e = find(c, fn, idx);

	if (!e)
		fail_msg("leaf %#x.%u missing", fn, idx);
	return e;
}

/* Build for (s:c:t, index), with invariants every table must keep: the input is unchanged,
 * every supported (leaf, subleaf) is still there with its flags, hypervisor leaves are
 * byte-identical. */
static struct kvm_cpuid2 *build(const struct kvm_cpuid2 *sup, unsigned s, unsigned co, unsigned th,
				unsigned index)
{
	struct x86_topology t = {s, co, th};
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *before = malloc(sz), *out;

	assert_non_null(before);
	memcpy(before, sup, sz);
	out = x86_cpuid_build(sup, &t, index);
	assert_non_null(out);
	assert_memory_equal(before, sup, sz);
	for (uint32_t i = 0; i < sup->nent; i++) {
		const struct kvm_cpuid_entry2 *in = &sup->entries[i];
		const struct kvm_cpuid_entry2 *o = get(out, in->function, in->index);

		assert_int_equal(o->flags, in->flags);
		if (in->function >= 0x40000000 && in->function <= 0x400000ff)
			assert_memory_equal(o, in, sizeof(*o));
	}
	free(before);
	return out;
}

/* Leaf 0xB or 0x1F: exactly SMT, core and terminator subleaves. */
static void check_topo_leaf(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t smt_shift,
			    uint32_t threads, uint32_t pkg_shift, uint32_t per_pkg, uint32_t apic)
{
	const struct kvm_cpuid_entry2 *e;

	assert_int_equal(count_leaf(c, fn), 3);
	e = get(c, fn, 0);
	assert_int_equal(e->eax, smt_shift);
	assert_int_equal(e->ebx, threads);
	assert_int_equal(e->ecx, 0x100);
	assert_int_equal(e->edx, apic);
	assert_int_equal(e->flags, SIG);
	e = get(c, fn, 1);
	assert_int_equal(e->eax, pkg_shift);
	assert_int_equal(e->ebx, per_pkg);
	assert_int_equal(e->ecx, 0x201);
	assert_int_equal(e->edx, apic);
	assert_int_equal(e->flags, SIG);
	e = get(c, fn, 2);
	assert_int_equal(e->eax, 0);
	assert_int_equal(e->ebx, 0);
	assert_int_equal(e->ecx, 2); /* level type 0 (invalid), level number echoed */
	assert_int_equal(e->edx, apic);
	assert_int_equal(e->flags, SIG);
}

static void check_leaf1(const struct kvm_cpuid2 *c, uint32_t apic, uint32_t logical, int htt)
{
	const struct kvm_cpuid_entry2 *e = get(c, 1, 0);

	assert_int_equal(e->ebx >> 24, apic);
	assert_int_equal((e->ebx >> 16) & 0xff, logical);
	assert_int_equal(e->ebx & 0xffff, 0x0800); /* CLFLUSH size and brand kept */
	assert_int_equal(!!(e->edx & (1u << 28)), htt);
	assert_true(e->ecx & (1u << 31));
}

static void test_apic_id_single(void **state)
{
	struct x86_topology t = {1, 1, 1};
	struct x86_apic_shifts s;

	x86_apic_shifts(&t, &s);
	assert_int_equal(s.thread_bits, 0);
	assert_int_equal(s.core_bits, 0);
	assert_int_equal(s.pkg_shift, 0);
	assert_int_equal(x86_apic_id(&t, 0), 0);
	assert_int_equal(x86_topology_vcpus(&t), 1);
}

static void test_apic_id_dense(void **state)
{
	struct x86_topology quad = {1, 4, 1}, cube = {2, 2, 2}, smt = {2, 1, 2};
	struct x86_apic_shifts s;

	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(x86_apic_id(&quad, i), i);
		assert_int_equal(x86_apic_id(&smt, i), i);
	}
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(x86_apic_id(&cube, i), i);
	x86_apic_shifts(&cube, &s);
	assert_int_equal(s.thread_bits, 1);
	assert_int_equal(s.core_bits, 1);
	assert_int_equal(s.pkg_shift, 2);
	x86_apic_shifts(&smt, &s);
	assert_int_equal(s.thread_bits, 1);
	assert_int_equal(s.core_bits, 0);
	assert_int_equal(s.pkg_shift, 1);
	x86_apic_shifts(&quad, &s);
	assert_int_equal(s.core_bits, 2);
}

static void test_apic_id_padded(void **state)
{
	struct x86_topology three = {1, 3, 1}, two3 = {2, 3, 1}, odd = {2, 3, 3};
	static const uint32_t two3_ids[] = {0, 1, 2, 4, 5, 6};

	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(x86_apic_id(&three, i), i);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(x86_apic_id(&two3, i), two3_ids[i]);
	/* 3 threads -> 2 bits, 3 cores -> 2 bits: index 4 is core 1 thread 1, index 9 socket 1. */
	assert_int_equal(x86_apic_id(&odd, 4), 0x5);
	assert_int_equal(x86_apic_id(&odd, 8), 0xa);
	assert_int_equal(x86_apic_id(&odd, 9), 0x10);
	assert_int_equal(x86_apic_id(&odd, 17), 0x1a);
}

static void test_cpuid_intel_2x2x2(void **state)
{
	struct kvm_cpuid2 *sup = intel_table(0x1f, 1), *c = build(sup, 2, 2, 2, 5);

	check_leaf1(c, 5, 4, 1);
	check_topo_leaf(c, 0xb, 1, 2, 2, 4, 5);
	check_topo_leaf(c, 0x1f, 1, 2, 2, 4, 5);
	/* Leaf 4: L1/L2 shared by the core's 2 threads, L3 by the package's 4; 2 cores. */
	assert_int_equal(get(c, 4, 0)->eax, 0x04004121);
	assert_int_equal(get(c, 4, 1)->eax, 0x04004122);
	assert_int_equal(get(c, 4, 2)->eax, 0x04004143);
	assert_int_equal(get(c, 4, 3)->eax, 0x0400c163);
	assert_int_equal(get(c, 4, 3)->ebx, 0x03c0003f);
	assert_memory_equal(get(c, 4, 4), get(sup, 4, 4), sizeof(struct kvm_cpuid_entry2));
	/* No AMD fix-ups on Intel. */
	assert_memory_equal(get(c, 0x80000008, 0), get(sup, 0x80000008, 0),
			    sizeof(struct kvm_cpuid_entry2));
	assert_memory_equal(get(c, 0x80000001, 0), get(sup, 0x80000001, 0),
			    sizeof(struct kvm_cpuid_entry2));
	assert_null(find(c, 0x8000001e, 0));
	free(c);
	free(sup);
}

static void test_cpuid_intel_single(void **state)
{
	struct kvm_cpuid2 *sup = intel_table(0x1f, 1), *c = build(sup, 1, 1, 1, 0);

	check_leaf1(c, 0, 1, 0); /* HTT cleared although the host had it */
	check_topo_leaf(c, 0xb, 0, 1, 0, 1, 0);
	check_topo_leaf(c, 0x1f, 0, 1, 0, 1, 0);
	assert_int_equal(get(c, 4, 0)->eax, 0x00000121);
	assert_int_equal(get(c, 4, 3)->eax, 0x00000163);
	free(c);
	free(sup);
}

static void test_cpuid_intel_padded(void **state)
{
	struct kvm_cpuid2 *sup = intel_table(0x1f, 1), *c = build(sup, 2, 3, 1, 4);

	/* 2:3:1 index 4 = socket 1, core 1 -> APIC ID 5; 3 cores padded to 4 IDs. */
	check_leaf1(c, 5, 4, 1);
	check_topo_leaf(c, 0xb, 0, 1, 2, 3, 5);
	assert_int_equal(get(c, 4, 0)->eax >> 26, 3);
	assert_int_equal((get(c, 4, 0)->eax >> 14) & 0xfff, 0);
	assert_int_equal((get(c, 4, 3)->eax >> 14) & 0xfff, 3);
	free(c);
	free(sup);
}

static void test_cpuid_intel_missing_topo(void **state)
{
	struct kvm_cpuid2 *old = intel_table(0xa, 0), *modern = intel_table(0x16, 0);
	struct kvm_cpuid2 *c = build(old, 1, 2, 1, 1), *d = build(modern, 1, 2, 1, 1);

	/* Below max basic leaf 0xB nothing is added; within it 0xB is, 0x1F never is. */
	assert_int_equal(c->nent, old->nent);
	assert_int_equal(count_leaf(c, 0xb), 0);
	check_topo_leaf(d, 0xb, 0, 1, 1, 2, 1);
	assert_int_equal(count_leaf(d, 0x1f), 0);
	assert_int_equal(d->nent, modern->nent + 3);
	free(c);
	free(d);
	free(old);
	free(modern);
}

static void test_cpuid_amd_2x2x2(void **state)
{
	struct kvm_cpuid2 *sup = amd_table(1), *c = build(sup, 2, 2, 2, 5);
	const struct kvm_cpuid_entry2 *e;

	check_leaf1(c, 5, 4, 1);
	check_topo_leaf(c, 0xb, 1, 2, 2, 4, 5);
	assert_int_equal(count_leaf(c, 0x1f), 0); /* not supported, not added */
	assert_memory_equal(get(c, 4, 0), get(sup, 4, 0), sizeof(*e)); /* leaf 4 is Intel's */
	e = get(c, 0x8000001e, 0);
	assert_int_equal(e->eax, 5);
	assert_int_equal(e->ebx, 0x100); /* core 0 of its socket, 2 threads per core */
	assert_int_equal(e->ecx, 1);	 /* node = socket 1, one node per socket */
	assert_int_equal(e->edx, 0);
	e = get(c, 0x80000008, 0);
	assert_int_equal(e->ecx, 0x00012003); /* PerfTscSize kept, ApicIdCoreIdSize 2, NC 3 */
	assert_int_equal(e->eax, 0x3030);
	assert_true(get(c, 0x80000001, 0)->ecx & 0x2);
	assert_int_equal(get(c, 0x80000001, 0)->ecx & ~0x2u, 0x00400393 & ~0x2u);
	assert_int_equal(get(c, 0x8000001d, 0)->eax, 0x4121);
	assert_int_equal(get(c, 0x8000001d, 2)->eax, 0x4143);
	assert_int_equal(get(c, 0x8000001d, 3)->eax, 0xc163);
	assert_int_equal(get(c, 0x8000001d, 4)->eax, 0);
	free(c);
	free(sup);
}

static void test_cpuid_amd_single(void **state)
{
	struct kvm_cpuid2 *sup = amd_table(1), *c = build(sup, 1, 1, 1, 0);
	const struct kvm_cpuid_entry2 *e;

	check_leaf1(c, 0, 1, 0);
	check_topo_leaf(c, 0xb, 0, 1, 0, 1, 0);
	assert_false(get(c, 0x80000001, 0)->ecx & 0x2); /* CmpLegacy cleared: one thread */
	assert_int_equal(get(c, 0x80000008, 0)->ecx, 0x00010000);
	e = get(c, 0x8000001e, 0);
	assert_int_equal(e->eax, 0);
	assert_int_equal(e->ebx, 0);
	assert_int_equal(e->ecx, 0);
	assert_int_equal(get(c, 0x8000001d, 3)->eax, 0x0163);
	free(c);
	free(sup);
}

static void test_cpuid_amd_smt_sockets(void **state)
{
	struct kvm_cpuid2 *sup = amd_table(1), *c = build(sup, 2, 1, 2, 3);
	const struct kvm_cpuid_entry2 *e = get(c, 0x8000001e, 0);

	/* 2:1:2 index 3 = socket 1, core 0, thread 1 -> APIC ID 3. */
	check_leaf1(c, 3, 2, 1);
	check_topo_leaf(c, 0xb, 1, 2, 1, 2, 3);
	assert_int_equal(e->eax, 3);
	assert_int_equal(e->ebx, 0x100);
	assert_int_equal(e->ecx, 1);
	assert_int_equal(get(c, 0x80000008, 0)->ecx & 0xf0ff, 0x1001);
	free(c);
	free(sup);
}

static void test_cpuid_amd_padded_cores(void **state)
{
	struct kvm_cpuid2 *sup = amd_table(1), *c = build(sup, 1, 3, 1, 2);
	const struct kvm_cpuid_entry2 *e = get(c, 0x8000001e, 0);

	check_leaf1(c, 2, 4, 1);
	check_topo_leaf(c, 0xb, 0, 1, 2, 3, 2);
	assert_int_equal(e->eax, 2);
	assert_int_equal(e->ebx, 2); /* core 2, one thread per core */
	assert_int_equal(get(c, 0x80000008, 0)->ecx & 0xf0ff, 0x2002);
	free(c);
	free(sup);
}

static void test_cpuid_amd_missing_1e(void **state)
{
	struct kvm_cpuid2 *sup = amd_table(0), *c = build(sup, 1, 4, 1, 3);
	const struct kvm_cpuid_entry2 *e = get(c, 0x8000001e, 0);

	assert_int_equal(e->eax, 3);
	assert_int_equal(e->ebx, 3);
	assert_int_equal(e->flags, 0);
	assert_int_equal(c->nent, sup->nent + 2 + 1); /* 0xB grows by 2, 0x8000001E added */
	free(c);
	free(sup);
}

static void test_cpuid_every_index(void **state)
{
	struct x86_topology t = {2, 3, 2};
	struct kvm_cpuid2 *sup = amd_table(1);

	for (unsigned i = 0; i < x86_topology_vcpus(&t); i++) {
		struct kvm_cpuid2 *c = build(sup, t.sockets, t.cores, t.threads, i);
		uint32_t apic = x86_apic_id(&t, i);

		assert_int_equal(get(c, 1, 0)->ebx >> 24, apic);
		assert_int_equal(get(c, 0xb, 0)->edx, apic);
		assert_int_equal(get(c, 0x8000001e, 0)->eax, apic);
		assert_int_equal(get(c, 0x8000001e, 0)->ecx, i / 6);
		free(c);
	}
	free(sup);
}

static struct kvm_msr_list *msr_list(const uint32_t *idx, uint32_t n)
{
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + n * sizeof(l->indices[0]));

	assert_non_null(l);
	l->nmsrs = n;
	memcpy(l->indices, idx, n * sizeof(idx[0]));
	return l;
}

static const struct kvm_msr_entry *msr_find(const struct kvm_msr_entry *e, size_t n, uint32_t i)
{
	for (size_t k = 0; k < n; k++)
		if (e[k].index == i)
			return &e[k];
	return NULL;
}

static void test_boot_msrs_host(void **state)
{
	/* This project's PVM host: no MTRRs listed, 0x10a (ARCH_CAPABILITIES) listed. */
	static const uint32_t host[] = {0x174,	    0x175,	0x176,	    0xc0000081, 0xc0000083,
					0xc0000102, 0xc0000084, 0xc0000082, 0x10,	0x10a,
					0x1a0,	    0x277,	0x6e0};
	struct kvm_sys k = {.fd = -1, .msrs = msr_list(host, ARRAY_SIZE(host))};
	struct kvm_msr_entry e[X86_BOOT_MSRS_MAX];
	size_t n = x86_boot_msrs(&k, e, ARRAY_SIZE(e));

	assert_int_equal(n, 9);
	assert_null(msr_find(e, n, 0x2ff)); /* not listed: not set */
	assert_null(msr_find(e, n, 0x10));  /* TSC never written */
	assert_null(msr_find(e, n, 0x10a)); /* never written, listed or not */
	assert_int_equal(msr_find(e, n, 0x1a0)->data, 0x1801);
	for (size_t i = 0; i < n; i++) {
		assert_true(kvm_msr_supported(&k, e[i].index));
		if (e[i].index != 0x1a0)
			assert_int_equal(e[i].data, 0);
	}
	assert_int_equal(x86_boot_msrs(&k, e, 3), 3);
	free(k.msrs);
}

static void test_boot_msrs_mtrr(void **state)
{
	static const uint32_t with_mtrr[] = {0x2ff, 0x1a0};
	struct kvm_sys k = {.fd = -1, .msrs = msr_list(with_mtrr, 2)};
	struct kvm_msr_entry e[X86_BOOT_MSRS_MAX];
	size_t n = x86_boot_msrs(&k, e, ARRAY_SIZE(e));

	assert_int_equal(n, 2);
	assert_int_equal(msr_find(e, n, 0x2ff)->data, 0x806);
	free(k.msrs);
	k.msrs = msr_list(with_mtrr, 0);
	assert_int_equal(x86_boot_msrs(&k, e, ARRAY_SIZE(e)), 0);
	free(k.msrs);
}

static uint32_t reg(const struct kvm_lapic_state *l, unsigned off)
{
	uint32_t v;

	memcpy(&v, &l->regs[off], 4);
	return v;
}

static void test_lapic_boot_setup(void **state)
{
	struct kvm_lapic_state l;

	memset(&l, 0xff, sizeof(l));
	x86_lapic_boot_setup(&l, 5);
	assert_int_equal(reg(&l, X86_LAPIC_ID), 5u << 24);
	assert_int_equal(reg(&l, X86_LAPIC_LVT0), 0x700);
	assert_int_equal(reg(&l, X86_LAPIC_LVT1), 0x400);
	assert_int_equal(reg(&l, 0x30), 0xffffffff); /* nothing else touched */
	assert_int_equal(reg(&l, 0x340), 0xffffffff);
	assert_int_equal(reg(&l, 0x370), 0xffffffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_apic_id_single),
	    cmocka_unit_test(test_apic_id_dense),
	    cmocka_unit_test(test_apic_id_padded),
	    cmocka_unit_test(test_cpuid_intel_2x2x2),
	    cmocka_unit_test(test_cpuid_intel_single),
	    cmocka_unit_test(test_cpuid_intel_padded),
	    cmocka_unit_test(test_cpuid_intel_missing_topo),
	    cmocka_unit_test(test_cpuid_amd_2x2x2),
	    cmocka_unit_test(test_cpuid_amd_single),
	    cmocka_unit_test(test_cpuid_amd_smt_sockets),
	    cmocka_unit_test(test_cpuid_amd_padded_cores),
	    cmocka_unit_test(test_cpuid_amd_missing_1e),
	    cmocka_unit_test(test_cpuid_every_index),
	    cmocka_unit_test(test_boot_msrs_host),
	    cmocka_unit_test(test_boot_msrs_mtrr),
	    cmocka_unit_test(test_lapic_boot_setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
