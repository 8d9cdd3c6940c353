/* metrics.h — the VM's counters (vCPU exits, buses, devices) gathered into one JSON object. */
#ifndef KILN_CORE_METRICS_H
#define KILN_CORE_METRICS_H

#include <jansson.h>

struct vm;

/*
 * A new JSON object of the VM's counters:
 *   "vcpu": [{"exits_io": n, "exits_mmio": n, "exits_intr": n, "exits_other": n}, ...],
 *   "pio"/"mmio": {"reads", "writes", "unmapped_reads", "unmapped_writes", "bad_size"},
 *   one object per device ("com1", "com2", "i8042", "block0".., "virtio_console", "entropy").
 * vm may be NULL (no VM yet): an empty object. Main thread; counters written by vCPU threads
 * are read without stopping them. Returns NULL on ENOMEM.
 */
json_t *metrics_json(struct vm *vm);

#endif
