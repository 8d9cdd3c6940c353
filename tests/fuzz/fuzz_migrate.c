/* fuzz_migrate.c — libFuzzer target: the migration destination (migrate_receive) reading an
 * untrusted stream from a socket, with a real KVM VM built from the stream's CONFIG.
 *
 * Input: the stream after the 16-byte hello, as the wire frames it: u32 type, u32 length, u32
 * CRC-32C, payload (docs/migration-protocol.md). The harness sends a valid hello (or, when the
 * input starts with "KILNMIGR", the input's own header), then each frame with its checksum
 * recomputed (a CRC field of 1 is kept as given, to reach the checksum refusal) so mutations reach
 * the decoders instead of dying at the checksum. A trailing partial frame is sent as it is (a cut
 * stream). COMPLETE frames are dropped: the fuzzer never runs guest code, so every input ends
 * in the receiver's refusal or its end-of-stream path, which discards the VM.
 *
 * The receiver trusts the source's configuration the way a restore trusts its snapshot (host
 * paths, TAP names, sockets). The harness decodes each CONFIG itself first and drops inputs whose
 * configuration names any host resource (disks, network, files, sockets, vsock, virtio-fs) or
 * more than 64 MiB of RAM, so a run never touches the host beyond /dev/kvm. The decoding is the
 * receiver's own (snapshot_config_load), so it is fuzzed either way.
 *
 * Checks: migrate_receive never crashes (AddressSanitizer, UBSan), ends with -EPROTO and a
 * one-line printable reason, and leaves no VM behind.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/vmm.h"
#include "migrate/proto.h"
#include "migrate/recv.h"
#include "seccomp/seccomp.h"
#include "state/snapshot.h"
#include "state/state.h"
#include "util/err.h"
#include "util/log.h"

#define FUZZ_MEM_MAX (64ull << 20)

struct stream {
	uint8_t *buf;
	size_t len, cap;
};

static int put(struct stream *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		size_t cap = (s->len + n) * 2;
		uint8_t *b = realloc(s->buf, cap);

		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Whether a CONFIG payload names nothing on the host (or does not decode: the receiver then
 * refuses it before building anything). */
static bool config_harmless(const uint8_t *p, size_t n)
{
	static struct vm_config c;
	struct kiln_err e = {0};
	struct state_buf b = {0};
	uint8_t *copy = malloc(n ? n : 1);
	bool ok = true;

	if (!copy)
		return false;
	memcpy(copy, p, n);
	if (state_open(&b, copy, n) == 0 && snapshot_config_load(&b, &c, &e) == 0)
		ok = c.nr_disks == 0 && c.nr_nets == 0 && c.nr_fs == 0 && !c.vsock.set &&
		     c.vconsole.mode == VCONSOLE_NONE && c.com1.mode != SERIAL_FILE &&
		     c.com2.mode != SERIAL_FILE && c.com1.mode != SERIAL_FD &&
		     c.com2.mode != SERIAL_FD && !c.hugepages && !c.pin_vcpus &&
		     c.mem_bytes <= FUZZ_MEM_MAX;
	state_buf_free(&b);
	free(copy);
	return ok;
}

/* The bytes to send for one input: 0, or -EINVAL to skip the input. */
static int build(const uint8_t *d, size_t n, struct stream *s)
{
	uint8_t hello[MIG_HELLO_LEN] = "KILNMIGR";
	size_t off = 0;

	mig_put_le32(hello + 8, MIG_VERSION);
	mig_put_le32(hello + 12, 0);
	if (n >= MIG_HELLO_LEN && memcmp(d, "KILNMIGR", 8) == 0) {
		memcpy(hello, d, MIG_HELLO_LEN);
		off = MIG_HELLO_LEN;
	}
	if (put(s, hello, sizeof(hello)) < 0)
		return -EINVAL;
	while (n - off >= MIG_FRAME_HDR) {
		uint8_t h[MIG_FRAME_HDR];
		uint32_t type = mig_get_le32(d + off), len = mig_get_le32(d + off + 4);
		const uint8_t *payload = d + off + MIG_FRAME_HDR;

		if (len > n - off - MIG_FRAME_HDR)
			break; /* a partial frame: sent raw below */
		memcpy(h, d + off, MIG_FRAME_HDR);
		if (mig_get_le32(h + 8) != 1)
			mig_put_le32(h + 8, mig_crc32c(mig_crc32c(0, h, 8), payload, len));
		off += MIG_FRAME_HDR + len;
		if (type == MIG_COMPLETE)
			continue;
		if (type == MIG_CONFIG && !config_harmless(payload, len))
			return -EINVAL;
		if (put(s, h, sizeof(h)) < 0 || put(s, payload, len) < 0)
			return -EINVAL;
	}
	return put(s, d + off, n - off) < 0 ? -EINVAL : 0;
}

struct writer {
	int fd;
	const struct stream *s;
};

/* The source: write the stream, then end it (EOF). Stops early when the receiver hung up. */
static void *write_stream(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;

	while (off < w->s->len) {
		ssize_t r = send(w->fd, w->s->buf + off, w->s->len - off, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

static void check_reason(const char *err)
{
	assert(err[0]);
	for (const char *p = err; *p; p++)
		assert(*p >= 0x20 && *p < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream s = {0};
	struct writer w;
	pthread_t t;
	struct vmm m;
	char err[400] = "";
	int sv[2], ret;

	if (build(data, size, &s) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(s.buf);
		return 0;
	}
	if (vmm_init(&m) < 0)
		abort(); /* /dev/kvm must work for this target */
	w = (struct writer){.fd = sv[1], .s = &s};
	if (pthread_create(&t, NULL, write_stream, &w) != 0)
		abort();
	ret = migrate_receive(&m, sv[0], err, sizeof(err));
	close(sv[0]); /* a writer still sending gets EPIPE */
	pthread_join(t, NULL);
	close(sv[1]);
	assert(ret == -EPROTO); /* no COMPLETE ever arrives */
	check_reason(err);
	assert(!m.vm);
	vmm_destroy(&m);
	free(s.buf);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Quiet logging: the receiver logs every refusal. No seccomp filters: the incoming VM's vCPU
 * threads would enter theirs, and this ASan build's thread teardown calls sigaltstack, which the
 * vCPU filter forbids (kiln runs without filters under ASan for the same reason, as the guest
 * fuzzer's rows in tests/guest/meson.build do). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_OFF);
	seccomp_configure(SECCOMP_OFF, NULL, 0);
	return 0;
}
