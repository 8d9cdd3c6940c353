/* fuzz_sandbox_ctl.c — libFuzzer target: kiln sandbox's control-channel parser (guest input) on
 * arbitrary bytes, fed in chunks whose sizes come from the input; the outcome is then decided for
 * every way the VM can stop.
 *
 * Built with -Dfuzz=true (CC=clang; tests/fuzz/meson.build); `make fuzz` runs it at length.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sandbox/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sandbox_ctl c;
	char msg[1024];
	size_t off = 0;
	int finals = 0;

	sandbox_ctl_init(&c);
	while (off < size) {
		size_t n = 1 + data[off] % 97; /* the chunk's size, from the data itself */

		if (n > size - off)
			n = size - off;
		finals += sandbox_ctl_feed(&c, data + off, n);
		off += n;
	}
	sandbox_ctl_end(&c);
	assert(finals <= 1);
	assert(c.len <= SANDBOX_CTL_LINE_MAX + 1);
	assert(c.state != SANDBOX_CTL_DONE || c.started);
	for (int r = VM_STOP_NONE; r <= VM_STOP_PANIC; r++) {
		struct sandbox_stop s = {.reason = (enum vm_stop_reason)r, .timeout_text = "1"};
		int status = sandbox_ctl_outcome(&c, &s, msg, sizeof(msg));

		assert(status >= 0 && status <= 255);
		assert(memchr(msg, '\0', sizeof(msg)) && !strchr(msg, '\n'));
	}
	return 0;
}
