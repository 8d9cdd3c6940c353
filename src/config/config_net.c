/* config_net.c — network interfaces in the configuration: the rules every front end shares (MAC
 * syntax, iface ids, one TAP and one MAC per interface), `kiln run --net`, and the MMDS
 * configuration's link to the interfaces. */
#include <errno.h>
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

/* One KEY=VALUE of --net into obj (a struct net_config). */
static int net_opt(void *obj, const struct config_kv *kv, char *err, size_t errlen)
{
	struct net_config *n = obj;
	const char *v = kv->val;
	uint64_t mtu;

	if (strcmp(kv->key, "tap") == 0) {
		if (kv->vlen > CONFIG_TAP_NAME_MAX || strchr(v, '/'))
			return config_fail(err, errlen,
					   "--net: tap name '%s' is not 1-%d bytes without '/'", v,
					   CONFIG_TAP_NAME_MAX);
		memcpy(n->tap, v, kv->vlen + 1);
	} else if (strcmp(kv->key, "mac") == 0) {
		if (config_parse_mac(v, n->mac) < 0)
			return config_fail(
			    err, errlen, "--net: mac '%s' is not six hex bytes (06:00:ac:10:00:02)",
			    v);
		n->mac_set = true;
	} else if (strcmp(kv->key, "id") == 0) {
		if (!config_iface_id_ok(v))
			return config_fail(err, errlen,
					   "--net: id '%s' is not 1-%d letters, digits or '_'", v,
					   CONFIG_IFACE_ID_MAX);
		memcpy(n->id, v, kv->vlen + 1);
	} else if (strcmp(kv->key, "mtu") == 0) {
		if (config_parse_u64(v, &mtu) < 0 || mtu < 68 || mtu > 65535)
			return config_fail(err, errlen,
					   "--net: mtu '%s' is not a number from 68 to 65535", v);
		n->mtu = (uint16_t)mtu;
	} else {
		return config_fail(
		    err, errlen, "--net: '%s': the options are tap=, mac=, id= and mtu=", kv->key);
	}
	return 0;
}

int config_parse_net(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct net_config n = {0};
	int other, ret = config_each_kv("--net", v, net_opt, &n, err, errlen);

	if (ret < 0)
		return ret;
	if (!n.tap[0])
		return config_fail(err, errlen, "--net: '%s' names no tap=NAME", v);
	if (!n.id[0])
		snprintf(n.id, sizeof(n.id), "eth%u", c->nr_nets);
	if (config_net_find(c, n.id) >= 0)
		return config_fail(err, errlen, "--net: id '%s' is given twice", n.id);
	ret = config_net_put(c, &n, &other);
	if (ret == -EADDRINUSE) {
		char mac[18];

		config_format_mac(n.mac, mac);
		return config_fail(err, errlen, "--net: mac %s is also interface '%s''s", mac,
				   c->nets[other].id);
	}
	if (ret == -EBUSY)
		return config_fail(err, errlen, "--net: tap '%s' is also interface '%s''s", n.tap,
				   c->nets[other].id);
	if (ret < 0)
		return config_fail(err, errlen, "--net: at most %d interfaces", CONFIG_MAX_NETS);
	return 0;
}

int config_mmds_check(const struct vm_config *c, const struct mmds_config *m, char *err,
		      size_t errlen)
{
	if (m->nr_ifaces == 0)
		return config_fail(err, errlen,
				   "The list of network interface IDs that allow forwarding "
				   "MMDS requests is empty.");
	for (unsigned i = 0; i < m->nr_ifaces; i++)
		if (config_net_find(c, m->ifaces[i]) < 0)
			return config_fail(
			    err, errlen,
			    "The list of network interface IDs provided contains at least "
			    "one ID that does not correspond to any existing network "
			    "interface (\"%s\").",
			    m->ifaces[i]);
	return 0;
}
