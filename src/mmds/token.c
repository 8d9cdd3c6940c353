/* token.c — MMDS V2 session tokens: random text in a bounded table with expiries (see token.h
 * for why a table and not Firecracker's AES-GCM sealed expiry). */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "mmds/token.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void mmds_tokens_init(struct mmds_tokens *t, mmds_getrandom_fn getrandom)
{
	memset(t, 0, sizeof(*t));
	t->getrandom = getrandom;
}

/* Fill buf with len random bytes: 0 or -errno. */
static int random_bytes(const struct mmds_tokens *t, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = t->getrandom ? t->getrandom(buf + got, len - got, GRND_NONBLOCK)
					 : getrandom(buf + got, len - got, GRND_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	return 0;
}

/* Standard base64 of MMDS_TOKEN_RAW bytes (a multiple of 3: no padding). */
static void encode(const uint8_t raw[MMDS_TOKEN_RAW], char out[MMDS_TOKEN_LEN])
{
	for (size_t i = 0, o = 0; i < MMDS_TOKEN_RAW; i += 3, o += 4) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

		out[o] = b64[v >> 18];
		out[o + 1] = b64[(v >> 12) & 63];
		out[o + 2] = b64[(v >> 6) & 63];
		out[o + 3] = b64[v & 63];
	}
}

/* The slot a new token takes at now_ms: a free or expired one, else the oldest issued. */
static struct mmds_token *slot_for_new(struct mmds_tokens *t, uint64_t now_ms)
{
	struct mmds_token *oldest = &t->slot[0];

	for (size_t i = 0; i < MMDS_TOKENS_MAX; i++) {
		struct mmds_token *s = &t->slot[i];

		if (s->expiry_ms <= now_ms)
			return s;
		if (s->serial < oldest->serial)
			oldest = s;
	}
	t->evicted++;
	return oldest;
}

int mmds_token_new(struct mmds_tokens *t, uint32_t ttl_s, uint64_t now_ms,
		   char out[MMDS_TOKEN_LEN + 1])
{
	uint8_t raw[MMDS_TOKEN_RAW];
	struct mmds_token *s;
	int ret;

	if (ttl_s < MMDS_TOKEN_TTL_MIN || ttl_s > MMDS_TOKEN_TTL_MAX)
		return -EINVAL;
	ret = random_bytes(t, raw, sizeof(raw));
	if (ret < 0)
		return ret;
	s = slot_for_new(t, now_ms);
	encode(raw, s->text);
	s->expiry_ms = now_ms + (uint64_t)ttl_s * 1000;
	s->serial = ++t->issued;
	memcpy(out, s->text, MMDS_TOKEN_LEN);
	out[MMDS_TOKEN_LEN] = '\0';
	memset(raw, 0, sizeof(raw));
	return 0;
}

bool mmds_token_valid(const struct mmds_tokens *t, const char *text, size_t len, uint64_t now_ms)
{
	unsigned found = 0;

	if (len != MMDS_TOKEN_LEN) /* the length is no secret: every token has this one */
		return false;
	for (size_t i = 0; i < MMDS_TOKENS_MAX; i++) {
		const struct mmds_token *s = &t->slot[i];
		unsigned diff = 0;

		for (size_t k = 0; k < MMDS_TOKEN_LEN; k++)
			diff |= (unsigned char)(s->text[k] ^ text[k]);
		/* 1 when every byte matched and the slot is live, without branching on either. */
		found |= ((diff - 1) >> 8 & 1) & (unsigned)(s->expiry_ms > now_ms);
	}
	return found != 0;
}
