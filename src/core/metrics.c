/* metrics.c — gathers vCPU, bus and device counters into JSON for the metrics file. */
#include "core/board.h"
#include "core/metrics.h"
#include "core/vcpu.h"
#include "core/vm.h"

/* A counter another thread increments: read it whole, without tearing. */
static json_t *counter(const uint64_t *p)
{
	return json_integer((json_int_t)__atomic_load_n(p, __ATOMIC_RELAXED));
}

static json_t *vcpu_json(struct vcpu *v)
{
	json_t *o = json_object();

	if (o) {
		json_object_set_new(o, "exits_io", counter(&v->stats.exits_io));
		json_object_set_new(o, "exits_mmio", counter(&v->stats.exits_mmio));
		json_object_set_new(o, "exits_intr", counter(&v->stats.exits_intr));
		json_object_set_new(o, "exits_other", counter(&v->stats.exits_other));
	}
	return o;
}

static json_t *bus_json(struct io_bus *b)
{
	json_t *o = json_object();

	if (o) {
		json_object_set_new(o, "reads", counter(&b->stats.reads));
		json_object_set_new(o, "writes", counter(&b->stats.writes));
		json_object_set_new(o, "unmapped_reads", counter(&b->stats.unmapped_reads));
		json_object_set_new(o, "unmapped_writes", counter(&b->stats.unmapped_writes));
		json_object_set_new(o, "bad_size", counter(&b->stats.bad_size));
	}
	return o;
}

/* board_stats callback: out[dev][name] = value. */
static void put_stat(void *ctx, const char *dev, const char *name, uint64_t value)
{
	json_t *out = ctx, *d = json_object_get(out, dev);

	if (!d) {
		d = json_object();
		if (!d || json_object_set_new(out, dev, d) < 0)
			return;
	}
	json_object_set_new(d, name, json_integer((json_int_t)value));
}

json_t *metrics_json(struct vm *vm)
{
	json_t *o = json_object(), *cpus;

	if (!o || !vm)
		return o;
	cpus = json_array();
	for (unsigned i = 0; cpus && i < vm->nr_vcpus; i++)
		json_array_append_new(cpus, vcpu_json(&vm->vcpus[i]));
	json_object_set_new(o, "vcpu", cpus);
	json_object_set_new(o, "pio", bus_json(&vm->pio));
	json_object_set_new(o, "mmio", bus_json(&vm->mmio));
	board_stats(vm, put_stat, o);
	return o;
}
