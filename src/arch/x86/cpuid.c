/* cpuid.c — APIC ID numbering and the guest CPUID table: host-supported leaves plus topology. */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/cpu.h"

#define LEAF_VENDOR	   0x0u
#define LEAF_FEATURES	   0x1u
#define LEAF_CACHE_PARAMS  0x4u
#define LEAF_EXT_TOPO	   0xbu
#define LEAF_V2_EXT_TOPO   0x1fu
#define LEAF_EXT_MAX	   0x80000000u
#define LEAF_EXT_FEATURES  0x80000001u
#define LEAF_AMD_SIZES	   0x80000008u
#define LEAF_AMD_CACHE	   0x8000001du
#define LEAF_AMD_EXT_APIC  0x8000001eu
#define LEAF_HYPERVISOR_LO 0x40000000u
#define LEAF_HYPERVISOR_HI 0x400000ffu

#define CPUID1_EDX_HTT	      (1u << 28)
#define CPUID1_ECX_HYPERVISOR (1u << 31)
#define CPUID_EXT1_ECX_CMPLEG (1u << 1) /* AMD APM: CmpLegacy */

/* Leaf 0xB/0x1F ECX[15:8] level types (SDM vol. 2A, CPUID). */
#define TOPO_TYPE_INVALID 0u
#define TOPO_TYPE_SMT	  1u
#define TOPO_TYPE_CORE	  2u
#define TOPO_SUBLEAVES	  3u /* SMT, core, terminator */

/* Leaf 4 / 0x8000001D EAX: cache type [4:0], level [7:5], sharing - 1 [25:14]. */
#define CACHE_TYPE(eax)	    ((eax)&0x1fu)
#define CACHE_LEVEL(eax)    (((eax) >> 5) & 0x7u)
#define CACHE_SHARING_SHIFT 14
#define CACHE_SHARING_MASK  (0xfffu << CACHE_SHARING_SHIFT)
#define CPUID4_CORES_SHIFT  26 /* EAX[31:26]: addressable core IDs per package - 1 */

/* Entries x86_cpuid_build may add beyond the supported list: 0xB and 0x1F grow to three
 * subleaves each, and 0x8000001E may be added. */
#define CPUID_EXTRA_ENTRIES (2 * TOPO_SUBLEAVES + 1)

/* Everything about one vCPU's place in the topology. */
struct topo_ctx {
	struct x86_apic_shifts s;
	uint32_t apic_id;
	unsigned threads, cores; /* per core, per socket */
	unsigned thread, core, socket;
	bool amd;
};

static unsigned ceil_log2(unsigned n)
{
	unsigned bits = 0;

	while (bits < 32 && (1ull << bits) < n)
		bits++;
	return bits;
}

void x86_apic_shifts(const struct x86_topology *t, struct x86_apic_shifts *s)
{
	assert(t->sockets >= 1 && t->cores >= 1 && t->threads >= 1);
	s->thread_bits = ceil_log2(t->threads);
	s->core_bits = ceil_log2(t->cores);
	s->pkg_shift = s->thread_bits + s->core_bits;
}

unsigned x86_topology_vcpus(const struct x86_topology *t)
{
	uint64_t n = (uint64_t)t->sockets * t->cores * t->threads;

	return n > UINT32_MAX ? 0 : (unsigned)n;
}

uint32_t x86_apic_id(const struct x86_topology *t, unsigned index)
{
	struct x86_apic_shifts s;
	unsigned thread = index % t->threads;
	unsigned core = (index / t->threads) % t->cores;
	unsigned socket = index / t->threads / t->cores;

	x86_apic_shifts(t, &s);
	return ((uint32_t)socket << s.pkg_shift) | ((uint32_t)core << s.thread_bits) | thread;
}

static const struct kvm_cpuid_entry2 *find_leaf(const struct kvm_cpuid2 *c, uint32_t fn)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn)
			return &c->entries[i];
	return NULL;
}

/* Highest leaf of the range starting at `base` (0 or 0x80000000), or 0 if absent. */
static uint32_t max_leaf(const struct kvm_cpuid2 *c, uint32_t base)
{
	const struct kvm_cpuid_entry2 *e = find_leaf(c, base);

	return e ? e->eax : 0;
}

/* AMD (and Hygon, which follows the AMD topology leaves); everything else is Intel-style. */
static bool vendor_is_amd(const struct kvm_cpuid2 *c)
{
	const struct kvm_cpuid_entry2 *e = find_leaf(c, LEAF_VENDOR);
	char v[12];

	if (!e)
		return false;
	memcpy(v, &e->ebx, 4);
	memcpy(v + 4, &e->edx, 4);
	memcpy(v + 8, &e->ecx, 4);
	return memcmp(v, "AuthenticAMD", 12) == 0 || memcmp(v, "HygonGenuine", 12) == 0;
}

static void topo_ctx_init(struct topo_ctx *x, const struct kvm_cpuid2 *supported,
			  const struct x86_topology *t, unsigned index)
{
	x86_apic_shifts(t, &x->s);
	x->apic_id = x86_apic_id(t, index);
	x->threads = t->threads;
	x->cores = t->cores;
	x->thread = index % t->threads;
	x->core = (index / t->threads) % t->cores;
	x->socket = index / t->threads / t->cores;
	x->amd = vendor_is_amd(supported);
}

/* Logical processors per package. */
static uint64_t pkg_threads(const struct topo_ctx *x)
{
	return (uint64_t)x->threads * x->cores;
}

static uint32_t min_u32(uint64_t a, uint32_t b)
{
	return a < b ? (uint32_t)a : b;
}

/* Leaf 1: initial APIC ID, addressable logical processors per package (a power of two, as the
 * APIC ID space is: real hardware reports 1 << package shift), HTT, hypervisor present. */
static void fix_leaf1(struct kvm_cpuid_entry2 *e, const struct topo_ctx *x)
{
	uint32_t logical = min_u32(1ull << x->s.pkg_shift, 0xff);

	e->ebx = (e->ebx & 0xffffu) | (logical << 16) | ((x->apic_id & 0xffu) << 24);
	if (pkg_threads(x) > 1)
		e->edx |= CPUID1_EDX_HTT;
	else
		e->edx &= ~CPUID1_EDX_HTT;
	e->ecx |= CPUID1_ECX_HYPERVISOR;
}

/* Leaf 4 / 0x8000001D: logical processors sharing each cache. L1 and L2 are per core, L3 and
 * beyond per package; counted in APIC ID space (padded to powers of two). */
static void fix_cache_sharing(struct kvm_cpuid_entry2 *e, const struct topo_ctx *x)
{
	unsigned shift = CACHE_LEVEL(e->eax) >= 3 ? x->s.pkg_shift : x->s.thread_bits;
	uint32_t sharing = min_u32((1ull << shift) - 1, 0xfff);

	if (CACHE_TYPE(e->eax) == 0)
		return; /* the null subleaf ends the list; leave it all-zero */
	e->eax = (e->eax & ~CACHE_SHARING_MASK) | (sharing << CACHE_SHARING_SHIFT);
}

/* Leaf 4 only: EAX[31:26] = addressable core IDs per package - 1, on every cache subleaf. */
static void fix_leaf4(struct kvm_cpuid_entry2 *e, const struct topo_ctx *x)
{
	uint32_t cores = min_u32((1ull << x->s.core_bits) - 1, 0x3f);

	if (CACHE_TYPE(e->eax) == 0)
		return;
	fix_cache_sharing(e, x);
	e->eax = (e->eax & ~(0x3fu << CPUID4_CORES_SHIFT)) | (cores << CPUID4_CORES_SHIFT);
}

/* AMD 0x80000008 ECX: NC [7:0] = threads per package - 1; ApicIdCoreIdSize [15:12]. */
static void fix_amd_sizes(struct kvm_cpuid_entry2 *e, const struct topo_ctx *x)
{
	uint32_t nc = min_u32(pkg_threads(x) - 1, 0xff);

	e->ecx = (e->ecx & ~0xf0ffu) | ((x->s.pkg_shift & 0xfu) << 12) | nc;
}

/* AMD 0x8000001E: extended APIC ID; core ID and threads per core - 1; node ID (one node per
 * socket, so nodes per processor - 1 = 0). */
static void fix_amd_ext_apic(struct kvm_cpuid_entry2 *e, const struct topo_ctx *x)
{
	e->eax = x->apic_id;
	e->ebx = (x->core & 0xffu) | (((x->threads - 1) & 0xffu) << 8);
	e->ecx = x->socket & 0xffu;
	e->edx = 0;
}

/* AMD 0x80000001 ECX.CmpLegacy: set when the package holds more than one logical processor,
 * matching leaf 1 EDX.HTT and 0x80000008 NC. */
static void fix_amd_ext_features(struct kvm_cpuid_entry2 *e, const struct topo_ctx *x)
{
	if (pkg_threads(x) > 1)
		e->ecx |= CPUID_EXT1_ECX_CMPLEG;
	else
		e->ecx &= ~CPUID_EXT1_ECX_CMPLEG;
}

/* Leaf 0xB or 0x1F, all three subleaves: SMT level, core level, terminator (SDM vol. 2A). */
static void topo_subleaves(struct kvm_cpuid_entry2 *out, uint32_t fn, const struct topo_ctx *x)
{
	memset(out, 0, TOPO_SUBLEAVES * sizeof(*out));
	for (uint32_t i = 0; i < TOPO_SUBLEAVES; i++) {
		out[i].function = fn;
		out[i].index = i;
		out[i].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		out[i].ecx = i; /* ECX[7:0] echoes the subleaf, also on the terminator */
		out[i].edx = x->apic_id;
	}
	out[0].eax = x->s.thread_bits;
	out[0].ebx = x->threads & 0xffffu;
	out[0].ecx |= TOPO_TYPE_SMT << 8;
	out[1].eax = x->s.pkg_shift;
	out[1].ebx = (uint32_t)pkg_threads(x) & 0xffffu;
	out[1].ecx |= TOPO_TYPE_CORE << 8;
	out[2].ecx |= TOPO_TYPE_INVALID << 8;
}

/* Apply the per-leaf fix-ups to a copied entry. Leaves not named here (the hypervisor range
 * 0x40000000-0x400000FF in particular) are left exactly as KVM reported them. */
static void fix_entry(struct kvm_cpuid_entry2 *e, const struct topo_ctx *x)
{
	switch (e->function) {
	case LEAF_FEATURES:
		fix_leaf1(e, x);
		break;
	case LEAF_CACHE_PARAMS:
		if (!x->amd)
			fix_leaf4(e, x);
		break;
	case LEAF_EXT_FEATURES:
		if (x->amd)
			fix_amd_ext_features(e, x);
		break;
	case LEAF_AMD_SIZES:
		if (x->amd)
			fix_amd_sizes(e, x);
		break;
	case LEAF_AMD_CACHE:
		if (x->amd)
			fix_cache_sharing(e, x);
		break;
	case LEAF_AMD_EXT_APIC:
		if (x->amd)
			fix_amd_ext_apic(e, x);
		break;
	}
}

static bool is_hypervisor_leaf(uint32_t fn)
{
	return fn >= LEAF_HYPERVISOR_LO && fn <= LEAF_HYPERVISOR_HI;
}

/* Copy supported into out, fixing entries; 0xB/0x1F are regenerated where they first appear.
 * Returns the number of entries written. */
static uint32_t copy_fixed(struct kvm_cpuid2 *out, const struct kvm_cpuid2 *supported,
			   const struct topo_ctx *x)
{
	bool done_b = false, done_1f = false;
	uint32_t n = 0;

	for (uint32_t i = 0; i < supported->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &supported->entries[i];

		if (e->function == LEAF_EXT_TOPO || e->function == LEAF_V2_EXT_TOPO) {
			bool *done = e->function == LEAF_EXT_TOPO ? &done_b : &done_1f;

			if (!*done) {
				topo_subleaves(&out->entries[n], e->function, x);
				n += TOPO_SUBLEAVES;
				*done = true;
			}
			continue;
		}
		out->entries[n] = *e;
		if (!is_hypervisor_leaf(e->function))
			fix_entry(&out->entries[n], x);
		n++;
	}
	return n;
}

/* Add the standard topology leaves the guest needs but KVM did not list, when they lie within
 * the maximum basic/extended leaf. Returns the new entry count. */
static uint32_t add_missing(struct kvm_cpuid2 *out, uint32_t n, const struct kvm_cpuid2 *supported,
			    const struct topo_ctx *x)
{
	if (!find_leaf(supported, LEAF_EXT_TOPO) && max_leaf(supported, 0) >= LEAF_EXT_TOPO) {
		topo_subleaves(&out->entries[n], LEAF_EXT_TOPO, x);
		n += TOPO_SUBLEAVES;
	}
	if (x->amd && !find_leaf(supported, LEAF_AMD_EXT_APIC) &&
	    max_leaf(supported, LEAF_EXT_MAX) >= LEAF_AMD_EXT_APIC) {
		memset(&out->entries[n], 0, sizeof(out->entries[n]));
		out->entries[n].function = LEAF_AMD_EXT_APIC;
		fix_amd_ext_apic(&out->entries[n], x);
		n++;
	}
	return n;
}

struct kvm_cpuid2 *x86_cpuid_build(const struct kvm_cpuid2 *supported, const struct x86_topology *t,
				   unsigned index)
{
	uint32_t cap = supported->nent + CPUID_EXTRA_ENTRIES;
	struct kvm_cpuid2 *out = calloc(1, sizeof(*out) + cap * sizeof(out->entries[0]));
	struct topo_ctx x;

	if (!out)
		return NULL;
	topo_ctx_init(&x, supported, t, index);
	out->nent = copy_fixed(out, supported, &x);
	out->nent = add_missing(out, out->nent, supported, &x);
	assert(out->nent <= cap);
	return out;
}
