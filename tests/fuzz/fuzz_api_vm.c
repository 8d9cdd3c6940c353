/* fuzz_api_vm.c — the API fuzzers' fake VM (fuzz_api_vm.h). */
#include "fuzz_api_vm.h"

static enum api_vm_state g_state = API_NOT_STARTED;

void fuzz_api_vm_pick(uint8_t selector)
{
	static const enum api_vm_state states[] = {API_NOT_STARTED, API_RUNNING, API_PAUSED};

	g_state = states[selector % 3];
}

static enum api_vm_state f_state(void *ctx)
{
	return g_state;
}

static int f_ok(void *ctx, struct kiln_err *err)
{
	return 0;
}

static json_t *f_metrics(void *ctx)
{
	return json_object();
}

const struct api_ops fuzz_api_vm_ops = {
    .state = f_state,
    .start = f_ok,
    .pause = f_ok,
    .resume = f_ok,
    .ctrl_alt_del = f_ok,
    .metrics = f_metrics,
};
