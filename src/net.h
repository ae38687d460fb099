/* SPDX-License-Identifier: MIT */
/* Loopback socket pairs for the probe (and nothing that carries traffic
 * beyond 127.0.0.1 / ::1). */
#ifndef ZC_NET_H
#define ZC_NET_H

/* Connected TCP pair over loopback: fds[0] the accepted end, fds[1] the
 * connecting end. Returns 0 or -errno. */
int zc__tcp_pair(int fds[2], int family);

/* Connected UDP pair over loopback. Returns 0 or -errno. */
int zc__udp_pair(int fds[2], int family);

#endif
