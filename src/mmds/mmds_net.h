/* mmds_net.h — MMDS on a virtio-net interface: the glue between a network device's hooks
 * (virtio/net.h) and MMDS's network stack (mmds/ns.h). Frames the guest sends to MMDS's address
 * never reach the TAP; MMDS's answers reach the guest before the TAP's frames; a timer on the
 * event loop fires the stack's retransmissions and timeouts. */
#ifndef KILN_MMDS_MMDS_NET_H
#define KILN_MMDS_MMDS_NET_H

#include "util/compiler.h"

struct vm;

/*
 * For every network interface that vm->cfg->mmds lists (when it is set and vm->mmds exists):
 * a network stack on vm->mmds for that interface, hooked into its virtio-net device, and a board
 * entry "mmds.<iface id>" that reports the stack's counters and frees it after the device. Call
 * after the network devices exist (virtio_net_board_add). 0 or -errno (reason in vm->err). Main
 * thread, during board_create.
 */
int mmds_net_board_add(struct vm *vm) MUST_CHECK;

#endif
