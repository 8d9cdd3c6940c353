/* config_balloon.c — the balloon in the configuration: the rule every front end shares (the
 * target fits in guest RAM) and `kiln run --balloon`. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

const char *config_check_balloon(const struct vm_config *c)
{
	if (c->balloon.enabled && c->balloon.amount_mib > c->mem_bytes >> 20)
		return "Amount of pages requested is too large.";
	return NULL;
}

static PRINTF(3, 4) int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int on_off(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0)
		*out = false;
	else
		return fail(err, errlen, "--balloon: %s '%s' is not on or off", key, v);
	return 0;
}

/* One KEY=VALUE of --balloon (olen bytes at opt) into b; *amount_set once amount_mib is seen. */
static int balloon_opt(struct balloon_config *b, const char *opt, size_t olen, bool *amount_set,
		       char *err, size_t errlen)
{
	const char *eq = memchr(opt, '=', olen);
	size_t klen = eq ? (size_t)(eq - opt) : olen, vlen = eq ? olen - klen - 1 : 0;
	char k[32] = "", v[32] = "";
	uint64_t n;

	if (!eq || vlen == 0 || vlen >= sizeof(v) || klen >= sizeof(k))
		return fail(err, errlen, "--balloon: '%.*s' is not KEY=VALUE", (int)olen, opt);
	memcpy(k, opt, klen);
	memcpy(v, eq + 1, vlen);
	if (strcmp(k, "amount_mib") == 0) {
		if (config_parse_u64(v, &n) < 0 || n > UINT32_MAX)
			return fail(err, errlen,
				    "--balloon: amount_mib '%s' is not a number of MiB", v);
		b->amount_mib = (uint32_t)n;
		*amount_set = true;
	} else if (strcmp(k, "stats_interval") == 0) {
		if (config_parse_u64(v, &n) < 0 || n > UINT16_MAX)
			return fail(err, errlen,
				    "--balloon: stats_interval '%s' is not 0 to 65535 seconds", v);
		b->stats_interval_s = (uint16_t)n;
	} else if (strcmp(k, "deflate_on_oom") == 0) {
		return on_off(k, v, &b->deflate_on_oom, err, errlen);
	} else if (strcmp(k, "free_page_reporting") == 0) {
		return on_off(k, v, &b->free_page_reporting, err, errlen);
	} else {
		return fail(err, errlen,
			    "--balloon: '%s': the options are amount_mib=, deflate_on_oom=, "
			    "stats_interval= and free_page_reporting=",
			    k);
	}
	return 0;
}

int config_parse_balloon(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct balloon_config b = {.enabled = true};
	bool amount_set = false;
	const char *p = v;

	if (c->balloon.enabled)
		return fail(err, errlen, "--balloon: given twice (a VM has one balloon)");
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int ret = balloon_opt(&b, p, len, &amount_set, err, errlen);

		if (ret < 0)
			return ret;
		p += len + (end ? 1 : 0);
	}
	if (!amount_set)
		return fail(err, errlen, "--balloon: '%s' names no amount_mib=N", v);
	c->balloon = b;
	return 0;
}
