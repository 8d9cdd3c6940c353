/* proto.c — migration framing: stream header, frames with CRC-32C. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "migrate/proto.h"
#include "state/snapshot.h"
#include "util/io.h"

const char *mig_type_name(uint32_t type)
{
	static const char *const names[] = {"?",	"CONFIG",  "MEMORY", "STATE",
					    "COMPLETE", "ABANDON", "ACK"};

	return type >= 1 && type <= MIG_ACK ? names[type] : "unknown";
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = ~crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		/* Not a wire integer: eight payload bytes in memory order, which is what the
		 * instruction consumes from a little-endian register (x86 only). */
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	for (; len; p++, len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p);
	return ~(uint32_t)c;
}

uint32_t mig_crc32c(uint32_t crc, const void *p, size_t len)
{
	static int hw = -1;

	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	return hw ? crc_hw(crc, p, len) : snapshot_crc32c(crc, p, len);
}
#else
/* Other architectures: the table-driven CRC-32C of the snapshot format. */
uint32_t mig_crc32c(uint32_t crc, const void *p, size_t len)
{
	return snapshot_crc32c(crc, p, len);
}
#endif

void mig_put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void mig_put_le64(uint8_t *p, uint64_t v)
{
	mig_put_le32(p, (uint32_t)v);
	mig_put_le32(p + 4, (uint32_t)(v >> 32));
}

uint32_t mig_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t mig_get_le64(const uint8_t *p)
{
	return (uint64_t)mig_get_le32(p) | (uint64_t)mig_get_le32(p + 4) << 32;
}

void mig_put_run(uint8_t *p, uint64_t gpa, uint32_t pages)
{
	mig_put_le64(p, gpa);
	mig_put_le32(p + 8, pages);
	mig_put_le32(p + 12, 0);
}

int mig_get_run(const uint8_t *p, size_t left, struct mig_run *run, const char **why)
{
	uint32_t rsv;

	if (left < MIG_RUN_HDR) {
		*why = "MEMORY: truncated page run";
		return -EPROTO;
	}
	run->gpa = mig_get_le64(p);
	run->pages = mig_get_le32(p + 8);
	rsv = mig_get_le32(p + 12);
	if (run->pages == 0 || rsv || run->gpa % MIG_PAGE ||
	    (uint64_t)run->pages * MIG_PAGE > left - MIG_RUN_HDR) {
		*why = "MEMORY: bad page run (alignment, count or length)";
		return -EPROTO;
	}
	return 0;
}

int mig_send_hello(int fd)
{
	uint8_t h[MIG_HELLO_LEN] = {0};

	memcpy(h, MIG_MAGIC, 8);
	mig_put_le32(h + 8, MIG_VERSION);
	return io_write_all(fd, h, sizeof(h));
}

int mig_recv_hello(int fd, const char **why)
{
	uint8_t h[MIG_HELLO_LEN];
	int ret = io_read_all(fd, h, sizeof(h));

	if (ret < 0)
		return ret;
	if (memcmp(h, MIG_MAGIC, 8) != 0)
		*why = "not a kiln migration stream (bad magic)";
	else if (mig_get_le32(h + 8) != MIG_VERSION)
		*why = "unsupported protocol version";
	else if (mig_get_le32(h + 12) != 0)
		*why = "unknown stream flags";
	else
		return 0;
	return -EPROTO;
}

/* fd's SO_SNDTIMEO in milliseconds; 0 if none (or not a socket). */
static int stall_ms(int fd)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) < 0)
		return 0;
	return (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send n bytes on socket fd, failing with -EAGAIN once no byte has moved for ms milliseconds
 * since *last (updated on every progress). SO_SNDTIMEO alone restarts with each send() call, so
 * a peer that takes a few bytes now and then could hold a blocking send about twice as long. */
static int send_stall(int fd, const uint8_t *p, size_t n, int ms, int64_t *last)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		int64_t left = ms - (now_ms() - *last);
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			*last = now_ms();
		} else if (w < 0 && errno == EAGAIN) {
			if (left <= 0)
				return -EAGAIN;
			if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
				return -errno;
		} else if (w < 0 && errno != EINTR) {
			return -errno;
		} else if (w == 0) {
			return -EIO;
		}
	}
	return 0;
}

/* Write the n bytes at p: with fd's SO_SNDTIMEO as a no-progress deadline (ms > 0, *last its
 * start), else plainly. */
static int frame_write(int fd, const void *p, size_t n, int ms, int64_t *last)
{
	return ms > 0 ? send_stall(fd, p, n, ms, last) : io_write_all(fd, p, n);
}

int mig_send_frame(int fd, uint32_t type, const void *head, size_t hlen, const void *body,
		   size_t blen)
{
	uint8_t h[MIG_FRAME_HDR];
	uint32_t crc;
	int ms = stall_ms(fd), ret;
	int64_t last = now_ms();

	if (hlen + blen > MIG_FRAME_MAX)
		return -EINVAL;
	mig_put_le32(h, type);
	mig_put_le32(h + 4, (uint32_t)(hlen + blen));
	crc = mig_crc32c(0, h, 8);
	crc = mig_crc32c(crc, head, hlen);
	crc = mig_crc32c(crc, body, blen);
	mig_put_le32(h + 8, crc);
	ret = frame_write(fd, h, sizeof(h), ms, &last);
	if (ret == 0 && hlen)
		ret = frame_write(fd, head, hlen, ms, &last);
	if (ret == 0 && blen)
		ret = frame_write(fd, body, blen, ms, &last);
	return ret;
}

int mig_recv_frame(int fd, struct mig_frame *f, const char **why)
{
	uint8_t h[MIG_FRAME_HDR];
	int ret = io_read_all(fd, h, sizeof(h));

	memset(f, 0, sizeof(*f));
	if (ret < 0)
		return ret;
	f->type = mig_get_le32(h);
	f->len = mig_get_le32(h + 4);
	if (f->type < MIG_CONFIG || f->type > MIG_ACK) {
		*why = "unknown frame type";
		return -EPROTO;
	}
	if (f->len > MIG_FRAME_MAX) {
		*why = "frame length exceeds the maximum";
		return -EPROTO;
	}
	f->data = malloc(f->len + 1u);
	if (!f->data)
		return -ENOMEM;
	f->data[f->len] = 0;
	ret = io_read_all(fd, f->data, f->len);
	if (ret == 0 && mig_crc32c(mig_crc32c(0, h, 8), f->data, f->len) != mig_get_le32(h + 8)) {
		*why = "frame checksum mismatch";
		ret = -EPROTO;
	}
	if (ret < 0) {
		free(f->data);
		f->data = NULL;
	}
	return ret;
}

void mig_send_abandon(int fd, const char *reason)
{
	size_t n = strnlen(reason, MIG_REASON_MAX - 1);

	if (fd >= 0 && mig_send_frame(fd, MIG_ABANDON, reason, n, NULL, 0) < 0)
		return;
}

void mig_reason(const struct mig_frame *f, char *buf, size_t cap)
{
	size_t n = f->len < cap - 1 ? f->len : cap - 1;

	for (size_t i = 0; i < n; i++)
		buf[i] = f->data[i] >= 0x20 && f->data[i] < 0x7f ? (char)f->data[i] : '?';
	buf[n] = 0;
}

int mig_parse_addr(const char *s, struct sockaddr_in *addr)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port == 0 || port > 65535)
		return -EINVAL;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_port = htons((uint16_t)port);
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	return inet_pton(AF_INET, host, &addr->sin_addr) == 1 ? 0 : -EINVAL;
}
