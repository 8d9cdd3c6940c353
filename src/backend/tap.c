/* tap.c — open a host TAP interface by name (TUNSETIFF) with virtio-net headers, set its
 * offloads. A few ioctls: no library needed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <net/if.h>

#include "backend/tap.h"

int tap_check_name(const char *name, char *why, size_t why_len)
{
	size_t len = strnlen(name, TAP_NAME_MAX + 1);

	if (len == 0) {
		snprintf(why, why_len, "tap: the interface name is empty");
		return -EINVAL;
	}
	if (len > TAP_NAME_MAX) {
		snprintf(why, why_len, "%s: an interface name has at most %d bytes", name,
			 TAP_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

/* What to add to a TUNSETIFF failure so the user knows what to fix. */
static const char *setiff_hint(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return " (kiln needs CAP_NET_ADMIN or a TAP owned by its user)";
	case EBUSY:
		return " (another process has the interface open)";
	case EINVAL:
		return " (not a TAP interface, or a multi-queue one)";
	default:
		return "";
	}
}

/* Attach fd to the interface and set the header size. 0 or -errno with why filled. */
static int tap_attach(int fd, const char *name, char *why, size_t why_len)
{
	struct ifreq ifr;
	int hdr = TAP_VNET_HDR_LEN, err;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name)); /* checked: at most IFNAMSIZ - 1 */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		snprintf(why, why_len, "%s: TUNSETIFF: %s%s", name, strerror(err),
			 setiff_hint(err));
		return -err;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		err = errno;
		snprintf(why, why_len, "%s: TUNSETVNETHDRSZ %d: %s", name, hdr, strerror(err));
		return -err;
	}
	return 0;
}

int tap_open(const char *name, char *why, size_t why_len)
{
	int fd, ret = tap_check_name(name, why, why_len);

	if (ret < 0)
		return ret;
	/* As root, TUNSETIFF would create a missing interface for the VM's lifetime, unconfigured
	 * and unseen by whoever meant to set it up: refuse instead. */
	if (if_nametoindex(name) == 0) {
		snprintf(why, why_len,
			 "%s: no such network interface (create the TAP first, e.g. `ip tuntap add "
			 "dev %s mode tap`)",
			 name, name);
		return -ENODEV;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "%s: cannot open /dev/net/tun: %s", name, strerror(-ret));
		return ret;
	}
	ret = tap_attach(fd, name, why, why_len);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int tap_set_offload(int fd, unsigned flags)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0 ? -errno : 0;
}

unsigned tap_probe_offloads(int fd)
{
	static const unsigned tries[] = {TAP_OFFLOADS_ALL, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
					 TUN_F_CSUM};
	unsigned found = 0;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]) && !found; i++)
		if (tap_set_offload(fd, tries[i]) == 0)
			found = tries[i];
	if (found && tap_set_offload(fd, 0) < 0)
		return 0; /* cannot turn them off again: offer none */
	return found;
}
