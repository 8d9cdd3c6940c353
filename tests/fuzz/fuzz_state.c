/* fuzz_state.c — libFuzzer target: state_open and reads of every section of untrusted bytes.
 *
 * The input is the stream itself. If it opens, every section named in it is selected and read
 * with a mix of widths (chosen by the payload's first byte) until past its end; the reader must
 * never touch memory outside the input (AddressSanitizer) and must latch the overflow.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"

static void read_all(struct state_buf *r, const char *name)
{
	uint16_t ver;
	uint8_t tmp[64];
	unsigned mode, steps = 0;

	if (state_section(r, name, &ver) < 0)
		abort(); /* state_open promised it is there */
	mode = state_get_u8(r);
	while (!r->overflow && steps++ < 100000) {
		switch (mode++ % 5) {
		case 0:
			(void)state_get_u16(r);
			break;
		case 1:
			(void)state_get_u32(r);
			break;
		case 2:
			(void)state_get_u64(r);
			break;
		case 3:
			state_get_bytes(r, tmp, mode % sizeof(tmp));
			break;
		default:
			(void)state_get_u8(r);
			break;
		}
	}
	assert(state_section_done(r) < 0 || state_remaining(r) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_buf r;
	uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees any overread */
	size_t off = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (state_open(&r, copy, size) == 0) {
		/* Walk the names the way the reader framed them. */
		while (off < size) {
			const char *name = (const char *)copy + off;
			size_t n = strlen(name);
			uint32_t plen;

			memcpy(&plen, copy + off + n + 3, 4);
			read_all(&r, name);
			off += n + 7 + plen;
		}
	}
	state_buf_free(&r);
	free(copy);
	return 0;
}
