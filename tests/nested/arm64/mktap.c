/* mktap — create a persistent TAP device (the arm64 rig's busybox `ip` has no `tuntap`).
 *
 *   mktap NAME
 *
 * Opens /dev/net/tun, asks for TAP device NAME without packet information (IFF_TAP |
 * IFF_NO_PI, the way kiln opens it later) and makes it persistent (TUNSETPERSIST), so it outlives
 * this process; busybox `ip link`/`ip addr` configure it afterwards. Exit status 0, or 1 with a
 * one-line reason. Built static for arm64 by tests/nested/linux-arm64.py and run inside the arm64
 * L1, whose kernel has tun as a module (the rig loads it with --module tun).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct ifreq ifr;
	int fd;

	if (argc != 2 || strlen(argv[1]) >= IFNAMSIZ) {
		fprintf(stderr, "usage: mktap NAME (at most %d characters)\n", IFNAMSIZ - 1);
		return 1;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("mktap: /dev/net/tun");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
		fprintf(stderr, "mktap: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
