/* fuzz_api_vm.h — the VM the API fuzzers (fuzz_api, fuzz_http) put behind the API: a fake whose
 * state the input picks and whose operations all succeed. */
#ifndef KILN_FUZZ_API_VM_H
#define KILN_FUZZ_API_VM_H

#include <stdint.h>

#include "api/api.h"

/* The operations: state() answers what fuzz_api_vm_pick chose; start, pause, resume and
 * ctrl_alt_del succeed; metrics is an empty object. */
extern const struct api_ops fuzz_api_vm_ops;

/* Choose the state the fake reports from a selector byte: Not started, Running or Paused. */
void fuzz_api_vm_pick(uint8_t selector);

#endif
