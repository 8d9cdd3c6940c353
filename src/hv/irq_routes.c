/* irq_routes.c — the VM's GSI routing table (see irq_routes.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/irq_routes.h"
#include "hv/kvm.h"

int irq_routes_init(struct irq_routes *r, int vm_fd, unsigned nr_spis)
{
	uint32_t top = 0;
	int n;

	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	r->table = calloc(1, sizeof(*r->table) + IRQ_ROUTES_MAX * sizeof(r->table->entries[0]));
	if (!r->table)
		return -ENOMEM;
	n = kvm_default_routes(r->table->entries, IRQ_ROUTES_MAX, nr_spis);
	if (n < 0) {
		free(r->table);
		r->table = NULL;
		return n;
	}
	r->table->nr = r->nr_default = (uint32_t)n;
	for (int i = 0; i < n; i++)
		if (r->table->entries[i].gsi + 1 > top)
			top = r->table->entries[i].gsi + 1;
	r->first_gsi = r->next_gsi = top;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

void irq_routes_destroy(struct irq_routes *r)
{
	if (!r->table)
		return;
	free(r->table);
	r->table = NULL;
	pthread_mutex_destroy(&r->lock);
}

int irq_routes_alloc(struct irq_routes *r, uint32_t *gsi)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	/* every GSI handed out must be able to hold its route at the same time */
	if (r->next_gsi - r->first_gsi < IRQ_ROUTES_MAX - r->nr_default) {
		*gsi = r->next_gsi++;
		ret = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* The index of gsi's entry, or nr. Under the lock. */
static uint32_t find(const struct irq_routes *r, uint32_t gsi)
{
	uint32_t i = 0;

	while (i < r->table->nr && r->table->entries[i].gsi != gsi)
		i++;
	return i;
}

static int commit(struct irq_routes *r)
{
	r->commits++;
	return r->vm_fd < 0 ? 0 : kvm_set_gsi_routing(r->vm_fd, r->table);
}

void irq_routes_require_devid(struct irq_routes *r)
{
	pthread_mutex_lock(&r->lock);
	r->devid = true;
	pthread_mutex_unlock(&r->lock);
}

/* Put e in the table in place of its GSI's route (or add it) and commit; on failure the table
 * is as before. Under the lock. */
static int replace(struct irq_routes *r, const struct kvm_irq_routing_entry *e)
{
	struct kvm_irq_routing_entry old;
	uint32_t i;
	bool added;
	int ret;

	if (e->gsi < r->first_gsi || e->gsi >= r->next_gsi)
		return -EINVAL;
	i = find(r, e->gsi);
	if (i == r->table->nr && r->table->nr == IRQ_ROUTES_MAX)
		return -ENOSPC;
	added = i == r->table->nr;
	old = r->table->entries[i];
	r->table->entries[i] = *e;
	if (added)
		r->table->nr++;
	ret = commit(r);
	if (ret < 0) { /* KVM kept the old table: so does kiln */
		if (added)
			r->table->nr--;
		else
			r->table->entries[i] = old;
	}
	return ret;
}

/* The MSI route of gsi; with_devid: it carries devid (KVM_MSI_VALID_DEVID). */
static int set_msi(struct irq_routes *r, uint32_t gsi, uint64_t addr, uint32_t data,
		   bool with_devid, uint32_t devid)
{
	struct kvm_irq_routing_entry e = {
	    .gsi = gsi,
	    .type = KVM_IRQ_ROUTING_MSI,
	    .u.msi = {.address_lo = (uint32_t)addr,
		      .address_hi = (uint32_t)(addr >> 32),
		      .data = data},
	};
	int ret;

	pthread_mutex_lock(&r->lock);
	if (r->devid && !with_devid) {
		ret = -EINVAL; /* KVM would refuse it at the commit, or route it nowhere */
	} else {
		if (r->devid) {
			e.flags = KVM_MSI_VALID_DEVID;
			e.u.msi.devid = devid;
		}
		ret = replace(r, &e);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_routes_set_msi(struct irq_routes *r, uint32_t gsi, uint64_t addr, uint32_t data)
{
	return set_msi(r, gsi, addr, data, false, 0);
}

int irq_routes_set_msi_dev(struct irq_routes *r, uint32_t gsi, uint64_t addr, uint32_t data,
			   uint32_t devid)
{
	return set_msi(r, gsi, addr, data, true, devid);
}

int irq_routes_clear(struct irq_routes *r, uint32_t gsi)
{
	struct kvm_irq_routing_entry old;
	uint32_t i;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (gsi < r->first_gsi || gsi >= r->next_gsi) {
		pthread_mutex_unlock(&r->lock);
		return -EINVAL;
	}
	i = find(r, gsi);
	if (i < r->table->nr) {
		old = r->table->entries[i];
		r->table->entries[i] = r->table->entries[--r->table->nr];
		ret = commit(r);
		if (ret < 0) {
			r->table->entries[r->table->nr++] = r->table->entries[i];
			r->table->entries[i] = old;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

unsigned irq_routes_count(struct irq_routes *r)
{
	unsigned n;

	pthread_mutex_lock(&r->lock);
	n = r->table->nr;
	pthread_mutex_unlock(&r->lock);
	return n;
}
