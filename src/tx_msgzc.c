/* SPDX-License-Identifier: MIT */
/*
 * MSG_ZEROCOPY backend (TCP 4.14, UDP 5.0): send(MSG_ZEROCOPY) pins the
 * caller's pages instead of copying them; the kernel reports on the
 * socket's error queue when it let go of them.
 *
 * Each zero-copy send that accepts bytes takes the socket's next 32-bit
 * counter value; a send that fails gives it back (msg_zerocopy_put_abort),
 * so the n-th successful zero-copy send on the socket has id n - 1. The
 * send record of id lives at recs[id & mask]; tx_ranges.c turns the
 * notified ranges into ids. The socket must not have carried MSG_ZEROCOPY
 * sends before the handle was created, or the ids would not line up.
 *
 * UDP datagrams longer than the path MTU allows are sent by copy, see
 * msgzc_dgram_fits().
 */
#include <errno.h>
#include <time.h> /* linux/errqueue.h wants struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "compat.h"
#include "internal.h"
#include "tx.h"

/*
 * UDP: how long a datagram may be and still leave in one IP packet.
 *
 * The kernel zero-copies a datagram only when it fits the path MTU
 * (__ip_append_data and __ip6_append_data want CHECKSUM_PARTIAL, which
 * they never choose for one they must fragment). A longer one is copied
 * into the fragments at send time and the notification says COPIED, but
 * it still takes a counter value, and its fragments keep the notification
 * back until the datagram is freed: on a local path (veth, loopback) that
 * is when the receiving program reads it, and on this project's 6.18
 * kernel a datagram read on another CPU is freed later still, by the next
 * network receive softirq on the CPU that built it, which on a quiet
 * machine may never come (docs/KERNEL_FINDINGS.md). So zero-copy buys
 * such a datagram nothing and can hold its completion for ever: it goes
 * by copy, counted in bytes_policy_copied.
 *
 * Path MTU from IP_MTU / IPV6_MTU on the connected socket, looked up
 * again every ZC__TX_DGRAM_RECHECK datagrams and after a failed
 * send (routes and path MTUs change); a failed look keeps the last value.
 * UDP_SEGMENT (GSO) datagrams are segmented, not fragmented: no limit.
 */
static void msgzc_dgram_lookup(struct zc_tx *tx)
{
	socklen_t len = sizeof(int);
	int gso = 0, mtu = 0, ret;

	tx->dgram_check = ZC__TX_DGRAM_RECHECK;
	if (!zc__sys.getsockopt(tx->fd, IPPROTO_UDP, UDP_SEGMENT, &gso, &len) &&
	    gso > 0) {
		tx->dgram_max = 0;
		return;
	}
	len = sizeof(mtu);
	if (tx->family == AF_INET6)
		ret = zc__sys.getsockopt(tx->fd, IPPROTO_IPV6, IPV6_MTU, &mtu,
					 &len);
	else
		ret = zc__sys.getsockopt(tx->fd, IPPROTO_IP, IP_MTU, &mtu,
					 &len);
	if (!ret && mtu > (int)tx->dgram_hdr)
		tx->dgram_max = (uint32_t)mtu - tx->dgram_hdr;
}

/* True when a datagram of len bytes leaves unfragmented (or we do not
 * know better), so zero-copy may pay. */
static bool msgzc_dgram_fits(struct zc_tx *tx, size_t len)
{
	if (tx->type != SOCK_DGRAM)
		return true;
	if (!tx->dgram_check--)
		msgzc_dgram_lookup(tx);
	return !tx->dgram_max || len <= tx->dgram_max;
}

int zc__tx_msgzc_init(struct zc_tx *tx)
{
	uint32_t n = 2 * tx->cap;
	int one = 1, ret;

	/* ENOPROTOOPT: a kernel without SO_ZEROCOPY (before 4.14); UDP
	 * before 5.0 says EOPNOTSUPP. */
	if (zc__sys.setsockopt(tx->fd, SOL_SOCKET, SO_ZEROCOPY, &one,
			       sizeof(one))) {
		if (errno == ENOPROTOOPT || errno == EOPNOTSUPP)
			return -EOPNOTSUPP;
		return -errno;
	}
	tx->so_zerocopy = true;
	/* Twice the outstanding limit: ids complete out of order, and one
	 * still pending keeps its slot while later ones retire past it. */
	ret = zc__tx_ranges_init(&tx->ranges, n, 0);
	if (ret)
		return ret;
	tx->recs = calloc(n, sizeof(*tx->recs));
	if (!tx->recs)
		return -ENOMEM;
	tx->nrecs = n;
	if (tx->type == SOCK_DGRAM)
		msgzc_dgram_lookup(tx);
	return 0;
}

void zc__tx_msgzc_fini(struct zc_tx *tx)
{
	zc__tx_ranges_fini(&tx->ranges);
}

struct range_ctx {
	struct zc_tx *tx;
	uint32_t flags;
	int completed;
};

static void complete_id(void *arg, uint32_t id)
{
	struct range_ctx *c = arg;
	struct zc_tx *tx = c->tx;
	struct zc__tx_rec *rec = &tx->recs[id & (tx->nrecs - 1)];

	/* A counter value the kernel took for a send that failed (see
	 * msgzc_resync): nothing to complete. */
	if (rec->state != ZC__TX_REC_PENDING)
		return;
	rec->state = ZC__TX_REC_FREE;
	tx->outstanding--;
	zc__tx_complete(tx, rec->user_data, rec->len, c->flags);
	if (rec->epoch == tx->epoch)
		tx->epoch_judged = 1;
	if (c->flags & ZC_COMPLETION_COPIED)
		zc__tx_auto_copied(tx, rec->epoch);
	c->completed++;
}

/* One zero-copy notification: ids [lo, hi], copied or not. */
static int handle_range(struct zc_tx *tx, uint32_t lo, uint32_t hi, bool copied)
{
	struct range_ctx c = { .tx = tx };

	tx->st.notifications++;
	if (copied)
		c.flags = ZC_COMPLETION_COPIED;
	/* The counter value a failed UDP send may have taken: it lies at
	 * next, and its notification was queued before sendmsg returned. */
	if (tx->suspect_id && zc__tx_range_has(lo, hi, tx->ranges.next) &&
	    !zc__tx_ranges_full(&tx->ranges)) {
		uint32_t id = zc__tx_ranges_add(&tx->ranges);

		tx->recs[id & (tx->nrecs - 1)].state = ZC__TX_REC_FREE;
		tx->suspect_id = false;
	}
	zc__tx_ranges_complete(&tx->ranges, lo, hi, complete_id, &c);
	return c.completed;
}

int zc__tx_msgzc_drain(struct zc_tx *tx)
{
	/* ip_recv_error() puts the sock_extended_err and the offender's
	 * address (sockaddr_in or sockaddr_in6) in one cmsg. */
	union {
		char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
				    sizeof(struct sockaddr_in6))];
		struct cmsghdr align;
	} control;
	struct sock_extended_err ee;
	struct cmsghdr *cm;
	struct msghdr msg;
	int total = 0;

	tx->sends_since_reap = 0;
	for (;;) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		/* The error queue never blocks (it answers EAGAIN when
		 * empty); MSG_DONTWAIT says so regardless of the socket. */
		if (zc__sys.recvmsg(tx->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) <
		    0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return total ? total : -errno;
		}
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (!((cm->cmsg_level == SOL_IP &&
			       cm->cmsg_type == IP_RECVERR) ||
			      (cm->cmsg_level == SOL_IPV6 &&
			       cm->cmsg_type == IPV6_RECVERR)) ||
			    cm->cmsg_len < CMSG_LEN(sizeof(ee)))
				continue;
			memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
			/* Anything else on the error queue (ICMP errors
			 * with IP_RECVERR, timestamps) is the caller's,
			 * but reading it here consumed it: count it. */
			if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY ||
			    ee.ee_errno != 0) {
				tx->st.foreign_errors++;
				continue;
			}
			total += handle_range(
				tx, ee.ee_info, ee.ee_data,
				ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED);
		}
	}
	return total;
}

/*
 * A UDP zero-copy send that failed after the datagram was built (a
 * netfilter drop gives EPERM; a qdisc drop ENOBUFS with IP_RECVERR) has
 * taken a counter value the kernel will complete. The datagram is freed
 * inside sendmsg, so that notification is already queued: look now, and if
 * one covers the next id, retire it unused so later ids line up. TCP gives
 * the value back whenever it accepted nothing (tcp_sendmsg_locked).
 */
static void msgzc_resync(struct zc_tx *tx)
{
	if (tx->type != SOCK_DGRAM)
		return;
	tx->dgram_check = 0; /* EMSGSIZE: the path MTU may have shrunk */
	tx->suspect_id = true;
	zc__tx_msgzc_drain(tx);
	tx->suspect_id = false;
}

ssize_t zc__tx_msgzc_send(struct zc_tx *tx, const void *buf, size_t len,
			  uint64_t user_data)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct zc__tx_rec *rec;
	uint32_t id;
	ssize_t n;
	int err, tries = 0;

	if (!msgzc_dgram_fits(tx, len))
		return zc__tx_copy_send(tx, buf, len, user_data,
					ZC_COMPLETION_POLICY_COPY);
	if (zc__tx_ranges_full(&tx->ranges)) {
		zc__tx_msgzc_drain(tx);
		if (zc__tx_ranges_full(&tx->ranges))
			return -EAGAIN;
	}
	for (;;) {
		n = zc__sys.sendmsg(tx->fd, &msg, MSG_ZEROCOPY | MSG_NOSIGNAL);
		if (n >= 0)
			break;
		err = errno;
		msgzc_resync(tx);
		if (err != ENOBUFS)
			return -err;
		tx->st.enobufs++;
		/* optmem (each notification is an skb charged to it until
		 * read) or RLIMIT_MEMLOCK (pinned pages) ran out. Reaping
		 * frees the first; then try once more, and if it still
		 * fails send the bytes by copy: never lose them. */
		if (tries++ == 0) {
			zc__tx_msgzc_drain(tx);
			continue;
		}
		tx->st.enobufs_copied++;
		return zc__tx_copy_send(tx, buf, len, user_data,
					ZC_COMPLETION_POLICY_COPY);
	}
	if (n == 0)
		return 0;
	id = zc__tx_ranges_add(&tx->ranges);
	rec = &tx->recs[id & (tx->nrecs - 1)];
	rec->user_data = user_data;
	rec->len = (uint32_t)n;
	rec->epoch = tx->epoch;
	rec->state = ZC__TX_REC_PENDING;
	tx->outstanding++;
	tx->sends_since_reap++;
	zc__tx_accepted(tx, (uint32_t)n);
	return n;
}
