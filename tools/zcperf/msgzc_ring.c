/* SPDX-License-Identifier: MIT */
/*
 * MSG_ZEROCOPY completions for buffers that are reused, shared by the
 * stream sender (sender_msgzc.c) and rpc mode (rpc_conn.c), until the
 * library's zc_tx replaces both.
 *
 * With SO_ZEROCOPY set, every send(MSG_ZEROCOPY) call that accepts bytes
 * takes the socket's next 32-bit counter value (a failed call gives its
 * value back), and the kernel later queues on the error queue a range
 * [ee_info, ee_data] of counter values whose pages it released: ranges may
 * be coalesced and the counter wraps (4.14, msg_zerocopy.c). Until a
 * buffer's values have all come back the kernel may still read it, so a
 * buffer is busy from its first send until every value it used came back.
 * Each completion needs the peer's ACK.
 */
#include <errno.h>
#include <time.h> /* before linux/errqueue.h: struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcperf.h"

static void buf_check_done(struct zbuf *b)
{
	if (b->busy && b->sent && b->done >= b->nids)
		b->busy = false;
}

void zring_begin(struct zring *r, struct zbuf *b)
{
	b->busy = true;
	b->sent = false;
	b->first = r->next_id;
	b->nids = 0;
	b->done = 0;
}

void zring_count_sends(struct zring *r, struct zbuf *b, uint64_t n)
{
	b->nids += n;
	r->next_id += n;
}

void zring_end(struct zring *r, struct zbuf *b)
{
	b->sent = true;
	buf_check_done(b);
}

unsigned int zring_busy(const struct zring *r)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->n; i++)
		if (r->bufs[i].busy)
			n++;
	return n;
}

/* Counter values [lo32, hi32] were released. Outstanding values lie within
 * 2^31 of the oldest busy buffer's first one, which widens them. */
static void complete_range(struct zring *r, uint32_t lo32, uint32_t hi32,
			   bool copied)
{
	uint64_t base = r->next_id, lo, hi, a, z;
	unsigned int i;

	for (i = 0; i < r->n; i++)
		if (r->bufs[i].busy && r->bufs[i].first < base)
			base = r->bufs[i].first;
	lo = base + (uint32_t)(lo32 - (uint32_t)base);
	hi = lo + (uint32_t)(hi32 - lo32);
	for (i = 0; i < r->n; i++) {
		struct zbuf *b = &r->bufs[i];

		if (!b->busy || !b->nids)
			continue;
		a = b->first > lo ? b->first : lo;
		z = b->first + b->nids - 1 < hi ? b->first + b->nids - 1 : hi;
		if (a <= z) {
			b->done += z - a + 1;
			buf_check_done(b);
		}
	}
	r->st->notifications++;
	r->st->completed += hi - lo + 1;
	if (copied)
		r->st->kernel_copied += hi - lo + 1;
}

int zring_read_errqueue(struct zring *r)
{
	char control[128];
	struct msghdr msg = { 0 };
	struct sock_extended_err *serr;
	struct cmsghdr *cm;

	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	if (recvmsg(r->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return -errno;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (!(cm->cmsg_level == SOL_IP &&
		      cm->cmsg_type == IP_RECVERR) &&
		    !(cm->cmsg_level == SOL_IPV6 &&
		      cm->cmsg_type == IPV6_RECVERR))
			continue;
		serr = (struct sock_extended_err *)CMSG_DATA(cm);
		if (serr->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
			continue;
		if (serr->ee_errno)
			return -(int)serr->ee_errno;
		complete_range(r, serr->ee_info, serr->ee_data,
			       serr->ee_code & SO_EE_CODE_ZEROCOPY_COPIED);
	}
	return 1;
}

int zring_drain(struct zring *r)
{
	int ret;

	do
		ret = zring_read_errqueue(r);
	while (ret > 0);
	return ret;
}

int zring_reap(struct zring *r, int timeout_ms)
{
	struct pollfd pfd = { .fd = r->fd, .events = 0 };
	socklen_t len = sizeof(int);
	bool got = false;
	int ret, err = 0;

	for (;;) {
		ret = zring_read_errqueue(r);
		if (ret < 0)
			return ret;
		if (ret) {
			got = true;
			continue;
		}
		if (got || !timeout_ms)
			return 0;
		ret = poll(&pfd, 1, timeout_ms);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0)
			return 0;
		ret = zring_read_errqueue(r);
		if (ret < 0)
			return ret;
		if (ret) {
			got = true;
			continue;
		}
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			return -errno;
		if (err)
			return -err;
		/* POLLHUP without an error: completions still come as the
		 * kernel frees what it sent; do not spin on poll. */
		usleep(1000);
		return 0;
	}
}
