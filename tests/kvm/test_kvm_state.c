/* test_kvm_state.c — x86 vCPU and VM state against the real KVM: save, load into a fresh VM, the
 * registers come back; each validation failure of x86_vcpu_load / x86_vm_load (without a usable
 * /dev/kvm: skipped, or failed under CI=true; kvm_check.h). */
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
#include "arch/x86/kvm_state.h"
#include "kvm_check.h"
#include "util/log.h"

static struct kvm_sys k;

struct vmx {
	int vm_fd, vcpu_fd;
	struct kvm_run *run;
};

static void vmx_new(struct vmx *v)
{
	struct x86_topology t = {1, 1, 1};

	assert_int_equal(kvm_vm_create(&k, &v->vm_fd), 0);
	assert_int_equal(kvm_create_irqchip(v->vm_fd), 0);
	assert_int_equal(kvm_create_pit2(v->vm_fd), 0);
	assert_int_equal(kvm_vcpu_create(&k, v->vm_fd, 0, &v->vcpu_fd, &v->run), 0);
	assert_int_equal(x86_vcpu_init(&k, v->vcpu_fd, &t, 0, NULL), 0);
}

static void vmx_free(struct vmx *v)
{
	kvm_vcpu_destroy(&k, v->vcpu_fd, v->run);
	close(v->vm_fd);
}

static void save_vcpu(struct vmx *v, struct state_buf *w)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(state_begin_section(w, "vcpu.0", X86_VCPU_STATE_VERSION), 0);
	assert_int_equal(x86_vcpu_save(&k, v->vcpu_fd, 0, w), 0);
	assert_int_equal(state_end_section(w), 0);
}

static int load_vcpu(struct vmx *v, const struct state_buf *w, uint16_t version)
{
	struct state_buf r;
	uint16_t ver;

	assert_int_equal(state_open(&r, w->data, w->len), 0);
	assert_int_equal(state_section(&r, "vcpu.0", &ver), 0);
	return x86_vcpu_load(&k, v->vcpu_fd, 0, &r, version);
}

/* Payload offsets: id u32, regs blob (u32 len + struct kvm_regs), sregs blob... */
#define P(off)	     (7 + 6 + (off)) /* after "vcpu.0\0", u16 version, u32 length */
#define OFF_RFLAGS   P(4 + 4 + 17 * 8)
#define OFF_REGS_LEN P(4)

static void set_len(struct state_buf *w, int delta)
{
	uint32_t len;

	memcpy(&len, w->data + 9, 4);
	len += (uint32_t)delta;
	memcpy(w->data + 9, &len, 4);
}

static void test_vcpu_round_trip(void **st)
{
	struct vmx a, b;
	struct state_buf w;
	struct kvm_regs ra, rb;

	(void)st;
	vmx_new(&a);
	vmx_new(&b);
	assert_int_equal(kvm_get_regs(a.vcpu_fd, &ra), 0);
	ra.rax = 0x1234567890abcdefULL;
	ra.rip = 0x100000;
	ra.r15 = 42;
	assert_int_equal(kvm_set_regs(a.vcpu_fd, &ra), 0);
	save_vcpu(&a, &w);
	assert_int_equal(load_vcpu(&b, &w, X86_VCPU_STATE_VERSION), 0);
	assert_int_equal(kvm_get_regs(b.vcpu_fd, &rb), 0);
	assert_true(rb.rax == ra.rax && rb.rip == ra.rip && rb.r15 == 42);
	state_buf_free(&w);
	vmx_free(&a);
	vmx_free(&b);
}

static void test_vcpu_refusals(void **st)
{
	struct vmx a, b;
	struct state_buf w;
	uint8_t old;

	(void)st;
	vmx_new(&a);
	vmx_new(&b);
	save_vcpu(&a, &w);
	assert_int_equal(load_vcpu(&b, &w, 2), -EINVAL); /* unknown version */
	w.data[P(0)] = 1;				 /* saved as KVM id 1 */
	assert_int_equal(load_vcpu(&b, &w, 1), -EINVAL);
	w.data[P(0)] = 0;
	old = w.data[OFF_RFLAGS];
	w.data[OFF_RFLAGS] = 0x00; /* bit 1 must be set */
	assert_int_equal(load_vcpu(&b, &w, 1), -EINVAL);
	w.data[OFF_RFLAGS] = old | 0x08; /* reserved bit 3 */
	assert_int_equal(load_vcpu(&b, &w, 1), -EINVAL);
	w.data[OFF_RFLAGS] = old;
	w.data[OFF_REGS_LEN]++; /* a regs blob of another size */
	assert_int_equal(load_vcpu(&b, &w, 1), -EINVAL);
	w.data[OFF_REGS_LEN]--;
	/* The tail: ... MP state (u32), then the debugregs blob (u32 len + 128 bytes). */
	{
		size_t mp = w.len - 4 - sizeof(struct kvm_debugregs) - 4;

		w.data[mp] = 7; /* OPERATING: not an x86 state kiln accepts */
		assert_int_equal(load_vcpu(&b, &w, 1), -EINVAL);
		w.data[mp] = 0;
	}
	/* One byte short of its section (the length field follows the name and version). */
	w.len--;
	set_len(&w, -1);
	assert_int_equal(load_vcpu(&b, &w, 1), -EINVAL);
	w.len++;
	set_len(&w, +1);
	assert_int_equal(load_vcpu(&b, &w, 1), 0);
	state_buf_free(&w);
	vmx_free(&a);
	vmx_free(&b);
}

static void test_vm_sections(void **st)
{
	struct vmx a, b;
	struct state_buf w = {0}, r;
	struct kvm_clock_data ca, cb;
	size_t ioapic_base;

	(void)st;
	vmx_new(&a);
	vmx_new(&b);
	assert_int_equal(x86_vm_save(a.vm_fd, &w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(x86_vm_load(b.vm_fd, &r), 0);
	assert_int_equal(kvm_get_clock(a.vm_fd, &ca), 0);
	assert_int_equal(kvm_get_clock(b.vm_fd, &cb), 0);
	assert_true(cb.clock <= ca.clock + 1000000000ULL); /* b continues from a's saved clock */
	/* An IOAPIC elsewhere: "irqchip\0" u16 u32, 2 PIC blobs, then the IOAPIC blob. */
	ioapic_base = 8 + 6 + 2 * (4 + sizeof(((struct kvm_irqchip *)0)->chip)) + 4;
	w.data[ioapic_base + 2] ^= 1;
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(x86_vm_load(b.vm_fd, &r), -EINVAL);
	w.data[ioapic_base + 2] ^= 1;
	/* Without a "pit" section. */
	{
		struct state_buf w2 = {0};
		uint16_t v;

		assert_int_equal(state_open(&r, w.data, w.len), 0);
		assert_int_equal(state_section(&r, "irqchip", &v), 0);
		assert_int_equal(state_begin_section(&w2, "irqchip", v), 0);
		state_put_bytes(&w2, r.data + r.sec_start, r.sec_end - r.sec_start);
		assert_int_equal(state_end_section(&w2), 0);
		assert_int_equal(state_open(&r, w2.data, w2.len), 0);
		assert_int_equal(x86_vm_load(b.vm_fd, &r), -EINVAL);
		state_buf_free(&w2);
	}
	state_buf_free(&w);
	vmx_free(&a);
	vmx_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vcpu_round_trip),
	    cmocka_unit_test(test_vcpu_refusals),
	    cmocka_unit_test(test_vm_sections),
	};
	int ret;

	kvm_check_open(&k);
	log_set_level(LOG_OFF);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	kvm_sys_close(&k);
	return ret;
}
