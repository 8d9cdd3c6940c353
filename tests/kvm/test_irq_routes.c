/* test_irq_routes.c — the VM's GSI routing table against the real KVM (x86, in-kernel irqchip):
 * KVM accepts the defaults plus MSI routes; an irqfd on an MSI route delivers the MSI's vector
 * to the LAPIC it names (seen in the vCPU's IRR, the vCPU never running); a cleared route
 * delivers nothing; GSIs not handed out are refused, and a full table says so. (Without a usable
 * KVM: skipped, or failed under CI=true; kvm_check.h.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hv/irq_routes.h"
#include "kvm_check.h"

#define APIC_SVR 0xf0
#define APIC_IRR 0x200
#define VECTOR	 0x41

static struct kvm_sys k;

struct fixture {
	int vm_fd, vcpu_fd;
	struct kvm_run *run;
	struct irq_routes r;
};

static int setup(void **state)
{
	static struct fixture f;
	struct kvm_lapic_state l;

	memset(&f, 0, sizeof(f));
	assert_int_equal(kvm_vm_create(&k, &f.vm_fd), 0);
	assert_int_equal(kvm_create_irqchip(f.vm_fd), 0);
	assert_int_equal(kvm_vcpu_create(&k, f.vm_fd, 0, &f.vcpu_fd, &f.run), 0);
	/* software-enable the LAPIC (SVR bit 8), or it accepts no interrupt */
	assert_int_equal(kvm_get_lapic(f.vcpu_fd, &l), 0);
	l.regs[APIC_SVR + 1] |= 1;
	assert_int_equal(kvm_set_lapic(f.vcpu_fd, &l), 0);
	assert_int_equal(irq_routes_init(&f.r, f.vm_fd, 0), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	irq_routes_destroy(&f->r);
	kvm_vcpu_destroy(&k, f->vcpu_fd, f->run);
	close(f->vm_fd);
	return 0;
}

static bool irr_has(int vcpu_fd, unsigned vector)
{
	struct kvm_lapic_state l;

	assert_int_equal(kvm_get_lapic(vcpu_fd, &l), 0);
	return l.regs[APIC_IRR + (vector / 32) * 0x10 + (vector % 32) / 8] >> (vector % 8) & 1;
}

/* Whether the vector shows in the IRR within `ms` milliseconds (an irqfd injects
 * asynchronously). */
static bool delivered(int vcpu_fd, unsigned vector, int ms)
{
	struct timespec one = {0, 1000000};

	for (int i = 0; i < ms; i++) {
		if (irr_has(vcpu_fd, vector))
			return true;
		nanosleep(&one, NULL);
	}
	return false;
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(irq_routes_count(&f->r), 40); /* 16 x (PIC + IOAPIC) + 8 IOAPIC */
	assert_int_equal(f->r.first_gsi, 24);
}

static void test_msi_route_delivers(void **state)
{
	struct fixture *f = *state;
	uint64_t one = 1;
	uint32_t gsi;
	int efd = eventfd(0, EFD_CLOEXEC);

	assert_true(efd >= 0);
	assert_int_equal(irq_routes_alloc(&f->r, &gsi), 0);
	assert_int_equal(gsi, 24);
	assert_int_equal(kvm_irqfd(f->vm_fd, efd, gsi, false), 0);
	/* no route yet: nothing arrives */
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_false(delivered(f->vcpu_fd, VECTOR, 100));
	/* fixed delivery, physical destination APIC ID 0 */
	assert_int_equal(irq_routes_set_msi(&f->r, gsi, 0xfee00000, VECTOR), 0);
	assert_int_equal(irq_routes_count(&f->r), 41);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_true(delivered(f->vcpu_fd, VECTOR, 1000));
	/* a second set replaces the route, not adds one */
	assert_int_equal(irq_routes_set_msi(&f->r, gsi, 0xfee00000, VECTOR + 1), 0);
	assert_int_equal(irq_routes_count(&f->r), 41);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_true(delivered(f->vcpu_fd, VECTOR + 1, 1000));
	/* cleared: the vector after it never arrives */
	assert_int_equal(irq_routes_set_msi(&f->r, gsi, 0xfee00000, VECTOR + 2), 0);
	assert_int_equal(irq_routes_clear(&f->r, gsi), 0);
	assert_int_equal(irq_routes_count(&f->r), 40);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_false(delivered(f->vcpu_fd, VECTOR + 2, 100));
	assert_int_equal(kvm_irqfd(f->vm_fd, efd, gsi, true), 0);
	close(efd);
}

static void test_refused(void **state)
{
	struct fixture *f = *state;
	uint32_t gsi;
	unsigned n = 0;

	assert_int_equal(irq_routes_set_msi(&f->r, 23, 0xfee00000, VECTOR), -EINVAL); /* IOAPIC */
	assert_int_equal(irq_routes_set_msi(&f->r, 24, 0xfee00000, VECTOR), -EINVAL); /* not ours */
	assert_int_equal(irq_routes_clear(&f->r, 5), -EINVAL);
	/* routes set along the way do not shrink what can still be handed out */
	assert_int_equal(irq_routes_alloc(&f->r, &gsi), 0);
	assert_int_equal(irq_routes_set_msi(&f->r, gsi, 0xfee00000, VECTOR), 0);
	n = 1;
	while (irq_routes_alloc(&f->r, &gsi) == 0)
		n++;
	assert_int_equal(n, IRQ_ROUTES_MAX - 40); /* every GSI handed out can have its route */
	assert_int_equal(irq_routes_set_msi(&f->r, gsi, 0xfee00000, VECTOR), 0);
	assert_int_equal(irq_routes_count(&f->r), 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msi_route_delivers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	kvm_check_open(&k);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
