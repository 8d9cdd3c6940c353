/* tap.h — a host TAP interface opened by name as a virtio-net backend: /dev/net/tun with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte virtio-net header in front of every frame in both
 * directions, non-blocking. The interface must exist (the user or an orchestrator created it);
 * kiln neither creates nor configures it. */
#ifndef KILN_BACKEND_TAP_H
#define KILN_BACKEND_TAP_H

#include <stddef.h>

#include <linux/if_tun.h> /* TUN_F_* offload flags, for tap_set_offload */

#include "util/compiler.h"

#define TAP_NAME_MAX	 15 /* IFNAMSIZ - 1 */
#define TAP_VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1, num_buffers included */
#define TAP_OFFLOADS_ALL (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO)
#define TAP_WHY_MAX	 256

/* Whether name can name an interface: 1..TAP_NAME_MAX bytes. 0, or -EINVAL with a one-line
 * reason naming it in why (why_len bytes). The kernel checks the characters. Pure. */
int tap_check_name(const char *name, char *why, size_t why_len) MUST_CHECK;

/*
 * Open the existing TAP interface `name` (-ENODEV if there is none: kiln never creates one):
 * /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC),
 * TUNSETIFF with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (not IFF_TUN_EXCL: the interface may exist
 * already, which is the normal case), TUNSETVNETHDRSZ 12. Offloads are left off (tap_set_offload).
 * Returns the descriptor (>= 0), or -errno with one line in why naming the interface and the step
 * that failed, e.g. "tap0: TUNSETIFF: Operation not permitted (kiln needs CAP_NET_ADMIN or a TAP
 * owned by its user)". Nothing is logged.
 */
int tap_open(const char *name, char *why, size_t why_len) MUST_CHECK;

/* Tell the kernel which offloads it may hand us in frames read from fd (TUNSETOFFLOAD): flags is
 * a set of TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_UFO; TSO and UFO need TUN_F_CSUM too.
 * 0 or -errno. */
int tap_set_offload(int fd, unsigned flags) MUST_CHECK;

/* The offloads fd accepts, the first set TUNSETOFFLOAD takes of: TAP_OFFLOADS_ALL, TUN_F_CSUM |
 * TUN_F_TSO4 | TUN_F_TSO6, TUN_F_CSUM; else 0 (not a TAP). Leaves the offloads off. */
unsigned tap_probe_offloads(int fd);

#endif
