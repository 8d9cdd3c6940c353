/* config_balloon.c — the balloon in the configuration: the rule every front end shares (the
 * target fits in guest RAM) and `kiln run --balloon`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

const char *config_check_balloon(const struct vm_config *c)
{
	if (c->balloon.enabled && c->balloon.amount_mib > c->mem_bytes >> 20)
		return "Amount of pages requested is too large.";
	return NULL;
}

static int on_off(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0)
		*out = false;
	else
		return config_fail(err, errlen, "--balloon: %s '%s' is not on or off", key, v);
	return 0;
}

/* What --balloon's items fill in. */
struct balloon_parse {
	struct balloon_config b;
	bool amount_set;
};

/* One KEY=VALUE of --balloon into obj (a struct balloon_parse). */
static int balloon_opt(void *obj, const struct config_kv *kv, char *err, size_t errlen)
{
	struct balloon_parse *bp = obj;
	const char *k = kv->key, *v = kv->val;
	uint64_t n;

	if (strcmp(k, "amount_mib") == 0) {
		if (config_parse_u64(v, &n) < 0 || n > UINT32_MAX)
			return config_fail(err, errlen,
					   "--balloon: amount_mib '%s' is not a number of MiB", v);
		bp->b.amount_mib = (uint32_t)n;
		bp->amount_set = true;
	} else if (strcmp(k, "stats_interval") == 0) {
		if (config_parse_u64(v, &n) < 0 || n > UINT16_MAX)
			return config_fail(
			    err, errlen, "--balloon: stats_interval '%s' is not 0 to 65535 seconds",
			    v);
		bp->b.stats_interval_s = (uint16_t)n;
	} else if (strcmp(k, "deflate_on_oom") == 0) {
		return on_off(k, v, &bp->b.deflate_on_oom, err, errlen);
	} else if (strcmp(k, "free_page_reporting") == 0) {
		return on_off(k, v, &bp->b.free_page_reporting, err, errlen);
	} else {
		return config_fail(err, errlen,
				   "--balloon: '%s': the options are amount_mib=, deflate_on_oom=, "
				   "stats_interval= and free_page_reporting=",
				   k);
	}
	return 0;
}

int config_parse_balloon(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct balloon_parse bp = {.b = {.enabled = true}};
	int ret;

	if (c->balloon.enabled)
		return config_fail(err, errlen, "--balloon: given twice (a VM has one balloon)");
	ret = config_each_kv("--balloon", v, balloon_opt, &bp, err, errlen);
	if (ret < 0)
		return ret;
	if (!bp.amount_set)
		return config_fail(err, errlen, "--balloon: '%s' names no amount_mib=N", v);
	c->balloon = bp.b;
	return 0;
}
