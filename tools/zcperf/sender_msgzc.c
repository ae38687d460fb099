/* SPDX-License-Identifier: MIT */
/*
 * A minimal MSG_ZEROCOPY sender, until the library's zc_tx replaces it.
 *
 * With SO_ZEROCOPY set, every send(MSG_ZEROCOPY) call that accepts bytes
 * takes the socket's next 32-bit counter value (a failed call gives its
 * value back), and the kernel later queues on the error queue a range
 * [ee_info, ee_data] of counter values whose pages it released: ranges may
 * be coalesced and the counter wraps (4.14, msg_zerocopy.c). Until a
 * buffer's values have all come back the kernel may still read it, so the
 * buffers form a ring and one is handed out again only when every send()
 * that used it has completed. Each completion needs the peer's ACK.
 *
 * Notifications use option memory (net.core.optmem_max): they are reaped
 * every 32 sends as the kernel selftest does, and an ENOBUFS send is retried
 * after reaping rather than failed.
 */
#include <errno.h>
#include <time.h> /* before linux/errqueue.h: struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "zcperf.h"

#define REAP_EVERY   32u
#define RING_BYTES   (16u << 20) /* in flight: a few send buffers */
#define MIN_BUFS     4u
#define MAX_BUFS     256u
#define WAIT_LIMIT_S 60.0 /* no completion for this long */

struct zbuf {
	uint8_t *mem;
	bool busy;	/* its completions are not all back */
	bool sent;	/* every byte accepted */
	uint64_t first; /* counter value of its first send() */
	uint64_t nids;	/* send() calls that used it */
	uint64_t done;	/* of those, completed */
};

struct msgzc_sender {
	struct sender base;
	uint8_t *region;
	size_t region_len;
	size_t stride; /* chunk rounded up to pages */
	struct zbuf *bufs;
	unsigned int n;
	unsigned int next;
	uint64_t next_id; /* the kernel's counter, widened to 64 bits */
	unsigned int since_reap;
};

static struct msgzc_sender *to_msgzc(struct sender *s)
{
	return (struct msgzc_sender *)s;
}

static void buf_check_done(struct zbuf *b)
{
	if (b->busy && b->sent && b->done >= b->nids)
		b->busy = false;
}

/* Counter values [lo32, hi32] were released. Outstanding values lie within
 * 2^31 of the oldest busy buffer's first one, which widens them. */
static void complete_range(struct msgzc_sender *m, uint32_t lo32, uint32_t hi32,
			   bool copied)
{
	uint64_t base = m->next_id, lo, hi, a, z;
	unsigned int i;

	for (i = 0; i < m->n; i++)
		if (m->bufs[i].busy && m->bufs[i].first < base)
			base = m->bufs[i].first;
	lo = base + (uint32_t)(lo32 - (uint32_t)base);
	hi = lo + (uint32_t)(hi32 - lo32);
	for (i = 0; i < m->n; i++) {
		struct zbuf *b = &m->bufs[i];

		if (!b->busy || !b->nids)
			continue;
		a = b->first > lo ? b->first : lo;
		z = b->first + b->nids - 1 < hi ? b->first + b->nids - 1 : hi;
		if (a <= z) {
			b->done += z - a + 1;
			buf_check_done(b);
		}
	}
	m->base.st.notifications++;
	m->base.st.completed += hi - lo + 1;
	if (copied)
		m->base.st.kernel_copied += hi - lo + 1;
}

/* One error-queue message. Returns 1 when one was read, 0 when the queue
 * is empty, -errno. */
static int read_errqueue(struct msgzc_sender *m)
{
	char control[128];
	struct msghdr msg = {0};
	struct sock_extended_err *serr;
	struct cmsghdr *cm;

	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	if (recvmsg(m->base.fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
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
		complete_range(m, serr->ee_info, serr->ee_data,
			       serr->ee_code & SO_EE_CODE_ZEROCOPY_COPIED);
	}
	return 1;
}

/*
 * Reads every queued notification; when there was none and timeout_ms is
 * not 0, waits up to timeout_ms for one (poll reports POLLERR for a
 * non-empty error queue). A socket error also shows as POLLERR with an
 * empty queue: it is returned. Returns 0 or -errno.
 */
static int reap(struct msgzc_sender *m, int timeout_ms)
{
	struct pollfd pfd = {.fd = m->base.fd, .events = 0};
	socklen_t len = sizeof(int);
	bool got = false;
	int r, err = 0;

	for (;;) {
		r = read_errqueue(m);
		if (r < 0)
			return r;
		if (r) {
			got = true;
			continue;
		}
		if (got || !timeout_ms)
			return 0;
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			return 0;
		r = read_errqueue(m);
		if (r < 0)
			return r;
		if (r) {
			got = true;
			continue;
		}
		if (getsockopt(m->base.fd, SOL_SOCKET, SO_ERROR, &err, &len))
			return -errno;
		if (err)
			return -err;
		/* POLLHUP without an error: completions still come as the
		 * kernel frees what it sent; do not spin on poll. */
		usleep(1000);
		return 0;
	}
}

static uint64_t outstanding(const struct msgzc_sender *m)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < m->n; i++)
		if (m->bufs[i].busy)
			n++;
	return n;
}

static int msgzc_get_buf(struct sender *s, uint8_t **buf)
{
	struct msgzc_sender *m = to_msgzc(s);
	struct zbuf *b = &m->bufs[m->next];
	double since = 0;
	int r;

	while (b->busy) {
		if (!since) {
			since = now_s();
			s->st.buffer_waits++;
		} else if (now_s() - since > WAIT_LIMIT_S) {
			return -ETIMEDOUT;
		}
		r = reap(m, 100);
		if (r < 0)
			return r;
	}
	*buf = b->mem;
	m->next = (m->next + 1) % m->n;
	return 0;
}

static int msgzc_send(struct sender *s, uint8_t *buf, size_t len)
{
	struct msgzc_sender *m = to_msgzc(s);
	size_t idx = (size_t)(buf - m->region) / m->stride, off = 0;
	double enobufs_since = 0;
	struct zbuf *b;
	ssize_t n;
	int r;

	if (buf < m->region || idx >= m->n)
		return -EINVAL;
	b = &m->bufs[idx];
	b->busy = true;
	b->sent = false;
	b->first = m->next_id;
	b->nids = 0;
	b->done = 0;
	while (off < len) {
		n = send(s->fd, buf + off, len - off,
			 MSG_ZEROCOPY | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			/* Option memory is full of notifications (or the
			 * memlock limit is hit): reap and retry. Give up
			 * only when reaping frees nothing for a long time. */
			s->st.enobufs++;
			if (!enobufs_since)
				enobufs_since = now_s();
			else if (now_s() - enobufs_since > WAIT_LIMIT_S / 6 &&
				 !outstanding(m))
				return -ENOBUFS;
			r = reap(m, 10);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		enobufs_since = 0;
		b->nids++;
		m->next_id++;
		off += (size_t)n;
		s->st.sends++;
		s->st.zc_sends++;
		s->st.bytes += (uint64_t)n;
		if (++m->since_reap >= REAP_EVERY) {
			m->since_reap = 0;
			r = reap(m, 0);
			if (r < 0)
				return r;
		}
	}
	b->sent = true;
	buf_check_done(b);
	return 0;
}

static int msgzc_finish(struct sender *s, int timeout_ms)
{
	struct msgzc_sender *m = to_msgzc(s);
	double end = now_s() + timeout_ms / 1000.0;
	int r;

	while (outstanding(m)) {
		if (now_s() > end)
			return -ETIME;
		r = reap(m, 100);
		if (r < 0)
			return r;
	}
	return 0;
}

static void msgzc_destroy(struct sender *s)
{
	struct msgzc_sender *m = to_msgzc(s);

	/* Buffers still busy may be read by the kernel until it frees the
	 * skbs; the caller closed or finished the socket first. */
	sender_release(m->region, m->region_len);
	free(m->bufs);
	free(m);
}

static const struct sender_ops msgzc_ops = {
	.get_buf = msgzc_get_buf,
	.send = msgzc_send,
	.finish = msgzc_finish,
	.destroy = msgzc_destroy,
};

int sender_msgzc_create(struct sender **sp, int fd, size_t chunk)
{
	long page = sysconf(_SC_PAGESIZE);
	struct msgzc_sender *m;
	unsigned int i;
	int one = 1;

	if (page <= 0)
		page = 4096;
	/* ENOPROTOOPT: no MSG_ZEROCOPY on this kernel or socket type. */
	if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		return -errno;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->stride = (chunk + (size_t)page - 1) / (size_t)page * (size_t)page;
	m->n = RING_BYTES / m->stride;
	if (m->n < MIN_BUFS)
		m->n = MIN_BUFS;
	if (m->n > MAX_BUFS)
		m->n = MAX_BUFS;
	m->region_len = m->stride * m->n;
	m->region = sender_alloc(m->region_len);
	m->bufs = calloc(m->n, sizeof(*m->bufs));
	if (!m->region || !m->bufs) {
		sender_release(m->region, m->region_len);
		free(m->bufs);
		free(m);
		return -ENOMEM;
	}
	for (i = 0; i < m->n; i++)
		m->bufs[i].mem = m->region + (size_t)i * m->stride;
	m->base.ops = &msgzc_ops;
	m->base.fd = fd;
	m->base.chunk = chunk;
	*sp = &m->base;
	return 0;
}
