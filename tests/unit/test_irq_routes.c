/* test_irq_routes.c — the GSI routing table without KVM (vm_fd -1: kept, never committed): MSI
 * routes with and without the device ID arm64's ITS needs (KVM_MSI_VALID_DEVID), and the PCI
 * requester ID that device ID is. The table against a real KVM is tests/kvm/test_irq_routes.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "hv/irq_routes.h"
#include "pci/pci_bus.h"

#define ADDR 0x08090040ULL /* an ITS's GITS_TRANSLATER */

/* gsi's entry in the table, or NULL. */
static const struct kvm_irq_routing_entry *entry(const struct irq_routes *r, uint32_t gsi)
{
	for (uint32_t i = 0; i < r->table->nr; i++)
		if (r->table->entries[i].gsi == gsi)
			return &r->table->entries[i];
	return NULL;
}

/* Without device IDs (x86): both calls give the same route, no flags, the devid ignored. */
static void test_no_devid(void **state)
{
	struct irq_routes r;
	const struct kvm_irq_routing_entry *e;
	uint32_t gsi;

	(void)state;
	assert_int_equal(irq_routes_init(&r, -1, 0), 0);
	assert_int_equal(irq_routes_alloc(&r, &gsi), 0);
	assert_int_equal(irq_routes_set_msi_dev(&r, gsi, 0xfee00000, 0x41, 0x0108), 0);
	e = entry(&r, gsi);
	assert_non_null(e);
	assert_int_equal(e->type, KVM_IRQ_ROUTING_MSI);
	assert_int_equal(e->flags, 0);
	assert_int_equal(e->u.msi.devid, 0);
	assert_int_equal(e->u.msi.address_lo, 0xfee00000);
	assert_int_equal(e->u.msi.data, 0x41);
	assert_int_equal(irq_routes_set_msi(&r, gsi, 0xfee00000, 0x42), 0);
	e = entry(&r, gsi);
	assert_int_equal(e->flags, 0);
	assert_int_equal(e->u.msi.data, 0x42);
	irq_routes_destroy(&r);
}

/* With device IDs (an ITS): each route carries its writer's ID; a route without one is refused
 * and leaves the table as it was. */
static void test_devid(void **state)
{
	struct irq_routes r;
	const struct kvm_irq_routing_entry *e;
	uint32_t a, b;
	unsigned n;

	(void)state;
	/* the host's default routes (arm64's: 96 SPIs, GSI n = SPI n), then the MSIs' GSIs */
	assert_int_equal(irq_routes_init(&r, -1, 96), 0);
	irq_routes_require_devid(&r);
	assert_int_equal(irq_routes_alloc(&r, &a), 0);
	assert_int_equal(irq_routes_alloc(&r, &b), 0);
	assert_true(a == r.first_gsi && b == a + 1);
	n = irq_routes_count(&r);
	assert_int_equal(irq_routes_set_msi(&r, a, ADDR, 0), -EINVAL);
	assert_int_equal(irq_routes_count(&r), n);
	assert_int_equal(irq_routes_set_msi_dev(&r, a, ADDR, 0, pci_requester_id(0, 1, 0)), 0);
	assert_int_equal(irq_routes_set_msi_dev(&r, b, ADDR, 3, pci_requester_id(0, 2, 0)), 0);
	e = entry(&r, a);
	assert_int_equal(e->flags, KVM_MSI_VALID_DEVID);
	assert_int_equal(e->u.msi.devid, 0x08);
	assert_int_equal(e->u.msi.address_lo, (uint32_t)ADDR);
	assert_int_equal(e->u.msi.address_hi, 0);
	e = entry(&r, b);
	assert_int_equal(e->flags, KVM_MSI_VALID_DEVID);
	assert_int_equal(e->u.msi.devid, 0x10);
	assert_int_equal(e->u.msi.data, 3);
	/* a replaced route keeps one entry and takes the new ID */
	assert_int_equal(irq_routes_set_msi_dev(&r, a, ADDR, 1, pci_requester_id(0, 3, 0)), 0);
	assert_int_equal(irq_routes_count(&r), n + 2);
	assert_int_equal(entry(&r, a)->u.msi.devid, 0x18);
	assert_int_equal(irq_routes_clear(&r, a), 0);
	assert_null(entry(&r, a));
	/* a default route's GSI is not the caller's to reroute */
	assert_int_equal(irq_routes_set_msi_dev(&r, r.first_gsi - 1, ADDR, 0, 8), -EINVAL);
	irq_routes_destroy(&r);
}

static void test_requester_id(void **state)
{
	(void)state;
	assert_int_equal(pci_requester_id(0, 0, 0), 0);
	assert_int_equal(pci_requester_id(0, 1, 0), 0x0008);
	assert_int_equal(pci_requester_id(0, 31, 7), 0x00ff);
	assert_int_equal(pci_requester_id(1, 2, 3), 0x0113);
	assert_int_equal(pci_requester_id(255, 31, 7), 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_devid),
	    cmocka_unit_test(test_devid),
	    cmocka_unit_test(test_requester_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
