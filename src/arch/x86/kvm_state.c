/* kvm_state.c — x86 vCPU and VM state KVM holds, saved to and loaded from state sections. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/kvm_state.h"
#include "util/log.h"

#define RFLAGS_RESERVED	 0xffffffffffc0802aULL /* bits 1 (must be 1), 3, 5, 15, 22-63 */
#define RFLAGS_FIXED1	 0x2ULL
#define XSAVE_LEGACY_LEN 4096 /* struct kvm_xsave */
#define MSRS_MAX	 1024
#define IOAPIC_BASE	 0xfec00000ULL
#define EVENT_FLAGS                                                                                \
	(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |                       \
	 KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD |      \
	 KVM_VCPUEVENT_VALID_TRIPLE_FAULT)

/* --- the MSRs kiln saves: KVM's index list plus its feature MSRs, without duplicates --- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A sorted, duplicate-free malloc'ed list; *n set. NULL on ENOMEM. */
static uint32_t *msr_list(const struct kvm_sys *k, uint32_t *n)
{
	struct kvm_msr_list *feat = kvm_feature_msr_list(k);
	uint32_t nk = k->msrs ? k->msrs->nmsrs : 0, nf = feat ? feat->nmsrs : 0, j = 0;
	uint32_t *l = malloc((nk + nf + 1) * sizeof(*l));

	if (l) {
		if (nk)
			memcpy(l, k->msrs->indices, nk * sizeof(*l));
		if (nf)
			memcpy(l + nk, feat->indices, nf * sizeof(*l));
		qsort(l, nk + nf, sizeof(*l), cmp_u32);
		for (uint32_t i = 0; i < nk + nf; i++)
			if (j == 0 || l[j - 1] != l[i])
				l[j++] = l[i];
		*n = j;
	}
	free(feat);
	return l;
}

static bool msr_in(const uint32_t *l, uint32_t n, uint32_t idx)
{
	return bsearch(&idx, l, n, sizeof(*l), cmp_u32) != NULL;
}

static struct kvm_msrs *msrs_alloc(uint32_t n)
{
	return calloc(1, sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry));
}

/* Read every listed MSR KVM agrees to read into out (room for n); refused ones are skipped. */
static int msrs_read(int fd, const uint32_t *l, uint32_t n, struct kvm_msrs *out)
{
	struct kvm_msrs *tmp = msrs_alloc(n);
	uint32_t next = 0;

	if (!tmp)
		return -ENOMEM;
	out->nmsrs = 0;
	while (next < n) {
		int got;

		tmp->nmsrs = n - next;
		for (uint32_t i = 0; i < tmp->nmsrs; i++)
			tmp->entries[i] = (struct kvm_msr_entry){.index = l[next + i]};
		got = kvm_get_msrs_partial(fd, tmp);
		if (got < 0) {
			log_err("KVM_GET_MSRS: %s", strerror(-got));
			free(tmp);
			return got;
		}
		memcpy(&out->entries[out->nmsrs], tmp->entries,
		       (size_t)got * sizeof(tmp->entries[0]));
		out->nmsrs += (uint32_t)got;
		next += (uint32_t)got + 1; /* KVM stopped at l[next + got]: leave it out */
	}
	free(tmp);
	return 0;
}

static int msrs_save(const struct kvm_sys *k, int fd, struct state_buf *b)
{
	uint32_t n, *l = msr_list(k, &n);
	struct kvm_msrs *m = l ? msrs_alloc(n) : NULL;
	int ret = -ENOMEM;

	if (m)
		ret = msrs_read(fd, l, n, m);
	if (ret == 0) {
		state_put_u32(b, m->nmsrs);
		for (uint32_t i = 0; i < m->nmsrs; i++) {
			state_put_u32(b, m->entries[i].index);
			state_put_u64(b, m->entries[i].data);
		}
	}
	free(m);
	free(l);
	return ret;
}

/* --- vCPU --- */

static int xsave_len(const struct kvm_sys *k, bool *xsave2)
{
	int n = kvm_cap(k->fd, KVM_CAP_XSAVE2);

	*xsave2 = n > 0;
	if (n > XSAVE_LEGACY_LEN)
		return n;
	return kvm_cap(k->fd, KVM_CAP_XSAVE) ? XSAVE_LEGACY_LEN : 0;
}

static int fpu_save(const struct kvm_sys *k, int fd, struct state_buf *b)
{
	bool xsave2;
	int len = xsave_len(k, &xsave2), ret;
	void *buf;

	state_put_u32(b, (uint32_t)len); /* 0: legacy FPU image follows instead */
	if (len == 0) {
		struct kvm_fpu f;

		ret = kvm_get_fpu(fd, &f);
		if (ret == 0)
			state_put_blob(b, &f, sizeof(f));
		return ret;
	}
	buf = calloc(1, (size_t)len);
	if (!buf)
		return -ENOMEM;
	ret = kvm_get_xsave(fd, buf, xsave2);
	if (ret == 0)
		state_put_blob(b, buf, (uint32_t)len);
	free(buf);
	return ret;
}

static int xcrs_save(const struct kvm_sys *k, int fd, struct state_buf *b)
{
	struct kvm_xcrs x;
	int ret = 0;

	memset(&x, 0, sizeof(x));
	if (kvm_cap(k->fd, KVM_CAP_XCRS))
		ret = kvm_get_xcrs(fd, &x);
	state_put_blob(b, &x, sizeof(x)); /* nr_xcrs 0 without the capability */
	return ret;
}

/* The fixed-layout parts, in save order. */
static int regs_save(int fd, struct state_buf *b)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	int ret = kvm_get_regs(fd, &r);

	if (ret == 0)
		ret = kvm_get_sregs(fd, &s);
	if (ret == 0) {
		state_put_blob(b, &r, sizeof(r));
		state_put_blob(b, &s, sizeof(s));
	}
	return ret;
}

static int tail_save(int fd, struct state_buf *b)
{
	struct kvm_lapic_state l;
	struct kvm_vcpu_events e;
	struct kvm_debugregs d;
	uint32_t mp;
	int ret = kvm_get_lapic(fd, &l);

	if (ret == 0)
		ret = kvm_get_vcpu_events(fd, &e);
	if (ret == 0)
		ret = kvm_get_mp_state(fd, &mp);
	if (ret == 0)
		ret = kvm_get_debugregs(fd, &d);
	if (ret == 0) {
		state_put_blob(b, &l, sizeof(l));
		state_put_blob(b, &e, sizeof(e));
		state_put_u32(b, mp);
		state_put_blob(b, &d, sizeof(d));
	}
	return ret;
}

int x86_vcpu_save(const struct kvm_sys *k, int fd, uint32_t kvm_id, struct state_buf *b)
{
	int ret;

	state_put_u32(b, kvm_id);
	ret = regs_save(fd, b);
	if (ret == 0)
		ret = fpu_save(k, fd, b);
	if (ret == 0)
		ret = xcrs_save(k, fd, b);
	if (ret == 0)
		ret = msrs_save(k, fd, b);
	if (ret == 0)
		ret = tail_save(fd, b);
	return ret;
}

/* --- vCPU load --- */

struct vcpu_image {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t xsave_len;
	void *xsave; /* xsave_len bytes, or NULL with fpu */
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_msrs *msrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	uint32_t mp_state;
	struct kvm_debugregs debugregs;
};

/* Refuse the stream (state_refuse: logged, recorded in b->err): -EINVAL. */
#define BAD(id, fmt, ...) state_refuse(b, "vcpu %u: " fmt, (unsigned)(id), ##__VA_ARGS__)

static int read_fpu(const struct kvm_sys *k, uint32_t id, struct state_buf *b, struct vcpu_image *v)
{
	bool xsave2;
	int host = xsave_len(k, &xsave2);

	v->xsave_len = state_get_u32(b);
	if (v->xsave_len != (uint32_t)host)
		return BAD(id, "XSAVE area of %u bytes, this host's KVM uses %d", v->xsave_len,
			   host);
	if (v->xsave_len == 0)
		return state_get_blob(b, &v->fpu, sizeof(v->fpu)) ? BAD(id, "bad FPU image") : 0;
	v->xsave = calloc(1, v->xsave_len);
	if (!v->xsave)
		return -ENOMEM;
	return state_get_blob(b, v->xsave, v->xsave_len) ? BAD(id, "bad XSAVE image") : 0;
}

static int read_msrs(const struct kvm_sys *k, uint32_t id, struct state_buf *b,
		     struct vcpu_image *v)
{
	uint32_t n = state_get_u32(b), nl, *l;
	int ret = 0;

	if (n > MSRS_MAX || n * 12ULL > state_remaining(b))
		return BAD(id, "%u MSRs", n);
	l = msr_list(k, &nl);
	v->msrs = msrs_alloc(n);
	if (!l || !v->msrs) {
		free(l);
		return -ENOMEM;
	}
	v->msrs->nmsrs = n;
	for (uint32_t i = 0; i < n && ret == 0; i++) {
		struct kvm_msr_entry *e = &v->msrs->entries[i];

		e->index = state_get_u32(b);
		e->data = state_get_u64(b);
		if (!msr_in(l, nl, e->index))
			ret = BAD(id, "MSR %#x is not one this host's KVM saves", e->index);
		for (uint32_t j = 0; j < i && ret == 0; j++)
			if (v->msrs->entries[j].index == e->index)
				ret = BAD(id, "MSR %#x appears twice", e->index);
	}
	free(l);
	return ret;
}

static int read_image(const struct kvm_sys *k, uint32_t id, struct state_buf *b,
		      struct vcpu_image *v)
{
	int ret;

	if (state_get_blob(b, &v->regs, sizeof(v->regs)) ||
	    state_get_blob(b, &v->sregs, sizeof(v->sregs)))
		return BAD(id, "bad register image");
	if ((v->regs.rflags & RFLAGS_RESERVED) != RFLAGS_FIXED1)
		return BAD(id, "RFLAGS %#llx has reserved bits wrong", v->regs.rflags);
	ret = read_fpu(k, id, b, v);
	if (ret == 0 && state_get_blob(b, &v->xcrs, sizeof(v->xcrs)))
		ret = BAD(id, "bad XCR image");
	if (ret == 0 && v->xcrs.nr_xcrs > KVM_MAX_XCRS)
		ret = BAD(id, "%u XCRs", v->xcrs.nr_xcrs);
	if (ret == 0)
		ret = read_msrs(k, id, b, v);
	if (ret < 0)
		return ret;
	if (state_get_blob(b, &v->lapic, sizeof(v->lapic)) ||
	    state_get_blob(b, &v->events, sizeof(v->events)))
		return BAD(id, "bad LAPIC or event image");
	v->mp_state = state_get_u32(b);
	if (state_get_blob(b, &v->debugregs, sizeof(v->debugregs)) || state_section_done(b))
		return BAD(id, "section length wrong");
	if (v->mp_state > KVM_MP_STATE_SIPI_RECEIVED)
		return BAD(id, "MP state %u", v->mp_state);
	if (v->events.flags & ~EVENT_FLAGS)
		return BAD(id, "event flags %#x", v->events.flags);
	if (v->events.exception.nr >= 32 || v->debugregs.flags)
		return BAD(id, "exception vector %u / debug flags %#llx", v->events.exception.nr,
			   (unsigned long long)v->debugregs.flags);
	return 0;
}

/* Registers first, special registers (APIC base) before the LAPIC, MSRs (TSC deadline) after it,
 * events and MP state last. Any refusal by KVM is a bad value in the snapshot. */
static int apply_image(int fd, uint32_t id, const struct vcpu_image *v, struct state_buf *b)
{
	int ret = kvm_set_regs(fd, &v->regs);

	if (ret == 0)
		ret = v->xsave ? kvm_set_xsave(fd, v->xsave) : kvm_set_fpu(fd, &v->fpu);
	if (ret == 0 && v->xcrs.nr_xcrs)
		ret = kvm_set_xcrs(fd, &v->xcrs);
	if (ret == 0)
		ret = kvm_set_sregs(fd, &v->sregs);
	if (ret == 0)
		ret = kvm_set_lapic(fd, &v->lapic);
	if (ret == 0 && v->msrs->nmsrs) {
		int n = kvm_set_msrs_partial(fd, v->msrs);

		if (n >= 0 && (uint32_t)n < v->msrs->nmsrs)
			return BAD(id, "KVM refused MSR %#x = %#llx", v->msrs->entries[n].index,
				   (unsigned long long)v->msrs->entries[n].data);
		ret = n < 0 ? n : 0;
	}
	if (ret == 0)
		ret = kvm_set_vcpu_events(fd, &v->events);
	if (ret == 0)
		ret = kvm_set_mp_state(fd, v->mp_state);
	if (ret == 0)
		ret = kvm_set_debugregs(fd, &v->debugregs);
	return ret == -EINVAL ? BAD(id, "KVM refused a value (see the line above)") : ret;
}

int x86_vcpu_load(const struct kvm_sys *k, int fd, uint32_t kvm_id, struct state_buf *b,
		  uint16_t version)
{
	struct vcpu_image *v;
	uint32_t id;
	int ret;

	if (version != X86_VCPU_STATE_VERSION)
		return BAD(kvm_id, "section version %u, kiln reads %u", version,
			   X86_VCPU_STATE_VERSION);
	id = state_get_u32(b);
	if (id != kvm_id)
		return BAD(kvm_id, "saved as KVM vCPU id %u", id);
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	ret = read_image(k, kvm_id, b, v);
	if (ret == 0)
		ret = apply_image(fd, kvm_id, v, b);
	free(v->xsave);
	free(v->msrs);
	free(v);
	return ret;
}

/* --- VM-wide --- */

static int section(struct state_buf *b, const char *name, uint16_t version)
{
	return state_begin_section(b, name, version);
}

int x86_vm_save(int vm_fd, struct state_buf *b)
{
	struct kvm_irqchip chip[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clk;
	int ret = 0;

	memset(chip, 0, sizeof(chip));
	for (unsigned i = 0; i < 3 && ret == 0; i++) {
		chip[i].chip_id = i; /* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC */
		ret = kvm_get_irqchip(vm_fd, &chip[i]);
	}
	if (ret == 0)
		ret = kvm_get_pit2(vm_fd, &pit);
	if (ret == 0)
		ret = kvm_get_clock(vm_fd, &clk);
	if (ret < 0)
		return ret;
	ret = section(b, "irqchip", X86_IRQCHIP_STATE_VERSION);
	for (unsigned i = 0; i < 3; i++)
		state_put_blob(b, &chip[i].chip, sizeof(chip[i].chip));
	ret = ret ? ret : state_end_section(b);
	ret = ret ? ret : section(b, "pit", X86_PIT_STATE_VERSION);
	state_put_blob(b, &pit, sizeof(pit));
	ret = ret ? ret : state_end_section(b);
	ret = ret ? ret : section(b, "clock", X86_CLOCK_STATE_VERSION);
	state_put_u64(b, clk.clock);
	state_put_u32(b, clk.flags);
	return ret ? ret : state_end_section(b);
}

#define BADVM(...) state_refuse(b, __VA_ARGS__)

/* Select a section and check its version. */
static int open_section(struct state_buf *b, const char *name, uint16_t want)
{
	uint16_t v;

	if (state_section(b, name, &v) < 0)
		return BADVM("section '%s' is missing", name);
	if (v != want)
		return BADVM("section '%s' has version %u, kiln reads %u", name, v, want);
	return 0;
}

static int irqchip_load(int vm_fd, struct state_buf *b)
{
	struct kvm_irqchip chip[3];
	int ret = open_section(b, "irqchip", X86_IRQCHIP_STATE_VERSION);

	memset(chip, 0, sizeof(chip));
	for (unsigned i = 0; i < 3 && ret == 0; i++) {
		chip[i].chip_id = i;
		if (state_get_blob(b, &chip[i].chip, sizeof(chip[i].chip)))
			ret = BADVM("irqchip %u: bad image", i);
	}
	if (ret == 0 && state_section_done(b))
		ret = BADVM("irqchip: section length wrong");
	if (ret == 0 && chip[2].chip.ioapic.base_address != IOAPIC_BASE)
		ret = BADVM("IOAPIC at %#llx, not %#llx",
			    (unsigned long long)chip[2].chip.ioapic.base_address, IOAPIC_BASE);
	if (ret == 0 && chip[2].chip.ioapic.id > 0xf)
		ret = BADVM("IOAPIC id %u", chip[2].chip.ioapic.id);
	for (unsigned i = 0; i < 3 && ret == 0; i++)
		ret = kvm_set_irqchip(vm_fd, &chip[i]);
	return ret;
}

static int pit_load(int vm_fd, struct state_buf *b)
{
	struct kvm_pit_state2 pit;
	int ret = open_section(b, "pit", X86_PIT_STATE_VERSION);

	if (ret == 0 && (state_get_blob(b, &pit, sizeof(pit)) || state_section_done(b)))
		ret = BADVM("pit: bad image");
	if (ret == 0 && (pit.flags & ~(KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON)))
		ret = BADVM("pit: flags %#x", pit.flags);
	for (unsigned i = 0; i < 3 && ret == 0; i++) {
		const struct kvm_pit_channel_state *c =
		    &pit.channels[i]; /* 0xff: never programmed */

		if ((c->mode > 5 && c->mode != 0xff) || c->rw_mode > 3 || c->read_state > 4 ||
		    c->write_state > 4)
			ret = BADVM("pit channel %u: mode %u rw %u", i, c->mode, c->rw_mode);
	}
	return ret ? ret : kvm_set_pit2(vm_fd, &pit);
}

static int clock_load(int vm_fd, struct state_buf *b)
{
	struct kvm_clock_data clk;
	int ret = open_section(b, "clock", X86_CLOCK_STATE_VERSION);

	memset(&clk, 0, sizeof(clk));
	clk.clock = state_get_u64(b);
	(void)state_get_u32(b); /* flags as saved (TSC_STABLE...): informational */
	if (ret == 0 && state_section_done(b))
		ret = BADVM("clock: section length wrong");
	/* The guest's kvm-clock continues from the moment of the snapshot. */
	return ret ? ret : kvm_set_clock(vm_fd, &clk);
}

int x86_vm_load(int vm_fd, struct state_buf *b)
{
	int ret = irqchip_load(vm_fd, b);

	if (ret == 0)
		ret = pit_load(vm_fd, b);
	if (ret == 0)
		ret = clock_load(vm_fd, b);
	return ret;
}
