/* config_net.c — network interfaces in the configuration: the rules every front end shares (MAC
 * syntax, iface ids, one TAP and one MAC per interface), `kiln run --net`, and the MMDS
 * configuration's link to the interfaces. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int config_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		char hex[3] = {s[0], s[0] ? s[1] : 0, 0};
		char *end;

		if (!hex[0] || !hex[1] || hex[0] == '+' || hex[0] == '-' || hex[0] == ' ')
			return -EINVAL;
		mac[i] = (uint8_t)strtoul(hex, &end, 16);
		if (*end)
			return -EINVAL;
		s += 2;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

void config_format_mac(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

bool config_iface_id_ok(const char *id)
{
	if (!id[0] || strlen(id) > CONFIG_IFACE_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!(*p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

int config_net_find(const struct vm_config *c, const char *id)
{
	for (unsigned i = 0; id[0] && i < c->nr_nets; i++)
		if (strcmp(c->nets[i].id, id) == 0)
			return (int)i;
	return -1;
}

int config_net_put(struct vm_config *c, const struct net_config *n, int *other)
{
	int old = config_net_find(c, n->id);

	*other = -1;
	for (unsigned i = 0; i < c->nr_nets; i++) {
		if ((int)i == old)
			continue;
		*other = (int)i;
		if (n->mac_set && c->nets[i].mac_set && memcmp(n->mac, c->nets[i].mac, 6) == 0)
			return -EADDRINUSE;
		if (strcmp(n->tap, c->nets[i].tap) == 0)
			return -EBUSY;
	}
	*other = -1;
	if (old >= 0) {
		c->nets[old] = *n;
		return 0;
	}
	if (c->nr_nets == CONFIG_MAX_NETS)
		return -ENOSPC;
	c->nets[c->nr_nets++] = *n;
	return 0;
}

/* ---- kiln run --net tap=NAME[,mac=MAC][,id=ID][,mtu=N] ---- */

static PRINTF(3, 4) int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One KEY=VALUE of --net (olen bytes at opt) into n. */
static int net_opt(struct net_config *n, const char *opt, size_t olen, char *err, size_t errlen)
{
	const char *eq = memchr(opt, '=', olen);
	size_t klen = eq ? (size_t)(eq - opt) : olen, vlen = eq ? olen - klen - 1 : 0;
	char v[80] = "";
	uint64_t mtu;

	if (!eq || vlen == 0 || vlen >= sizeof(v))
		return fail(err, errlen, "--net: '%.*s' is not KEY=VALUE", (int)olen, opt);
	memcpy(v, eq + 1, vlen);
	if (klen == 3 && strncmp(opt, "tap", 3) == 0) {
		if (vlen > CONFIG_TAP_NAME_MAX || strchr(v, '/'))
			return fail(err, errlen,
				    "--net: tap name '%s' is not 1-%d bytes without '/'", v,
				    CONFIG_TAP_NAME_MAX);
		memcpy(n->tap, v, vlen + 1);
	} else if (klen == 3 && strncmp(opt, "mac", 3) == 0) {
		if (config_parse_mac(v, n->mac) < 0)
			return fail(err, errlen,
				    "--net: mac '%s' is not six hex bytes (06:00:ac:10:00:02)", v);
		n->mac_set = true;
	} else if (klen == 2 && strncmp(opt, "id", 2) == 0) {
		if (!config_iface_id_ok(v))
			return fail(err, errlen,
				    "--net: id '%s' is not 1-%d letters, digits or '_'", v,
				    CONFIG_IFACE_ID_MAX);
		memcpy(n->id, v, vlen + 1);
	} else if (klen == 3 && strncmp(opt, "mtu", 3) == 0) {
		if (config_parse_u64(v, &mtu) < 0 || mtu < 68 || mtu > 65535)
			return fail(err, errlen, "--net: mtu '%s' is not a number from 68 to 65535",
				    v);
		n->mtu = (uint16_t)mtu;
	} else {
		return fail(err, errlen,
			    "--net: '%.*s': the options are tap=, mac=, id= and mtu=", (int)klen,
			    opt);
	}
	return 0;
}

int config_parse_net(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct net_config n = {0};
	const char *p = v;
	int other, ret;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		ret = net_opt(&n, p, len, err, errlen);
		if (ret < 0)
			return ret;
		p += len + (end ? 1 : 0);
	}
	if (!n.tap[0])
		return fail(err, errlen, "--net: '%s' names no tap=NAME", v);
	if (!n.id[0])
		snprintf(n.id, sizeof(n.id), "eth%u", c->nr_nets);
	if (config_net_find(c, n.id) >= 0)
		return fail(err, errlen, "--net: id '%s' is given twice", n.id);
	ret = config_net_put(c, &n, &other);
	if (ret == -EADDRINUSE) {
		char mac[18];

		config_format_mac(n.mac, mac);
		return fail(err, errlen, "--net: mac %s is also interface '%s''s", mac,
			    c->nets[other].id);
	}
	if (ret == -EBUSY)
		return fail(err, errlen, "--net: tap '%s' is also interface '%s''s", n.tap,
			    c->nets[other].id);
	if (ret < 0)
		return fail(err, errlen, "--net: at most %d interfaces", CONFIG_MAX_NETS);
	return 0;
}

int config_mmds_check(const struct vm_config *c, const struct mmds_config *m, char *err,
		      size_t errlen)
{
	if (m->nr_ifaces == 0)
		return fail(err, errlen,
			    "The list of network interface IDs that allow forwarding "
			    "MMDS requests is empty.");
	for (unsigned i = 0; i < m->nr_ifaces; i++)
		if (config_net_find(c, m->ifaces[i]) < 0)
			return fail(err, errlen,
				    "The list of network interface IDs provided contains at least "
				    "one ID that does not correspond to any existing network "
				    "interface (\"%s\").",
				    m->ifaces[i]);
	return 0;
}
