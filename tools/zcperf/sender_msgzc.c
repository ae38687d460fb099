/* SPDX-License-Identifier: MIT */
/*
 * A minimal MSG_ZEROCOPY sender, until the library's zc_tx replaces it.
 *
 * The buffers form a ring, and one is handed out again only when every
 * send() that used it has completed (msgzc_ring.c tracks the kernel's
 * completion ranges).
 *
 * Notifications use option memory (net.core.optmem_max): they are reaped
 * every 32 sends as the kernel selftest does, and an ENOBUFS send is retried
 * after reaping rather than failed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcperf.h"

#define REAP_EVERY   32u
#define RING_BYTES   (16u << 20) /* in flight: a few send buffers */
#define MIN_BUFS     4u
#define MAX_BUFS     256u
#define WAIT_LIMIT_S 60.0 /* no completion for this long */

struct msgzc_sender {
	struct sender base;
	uint8_t *region;
	size_t region_len;
	size_t stride; /* chunk rounded up to pages */
	struct zring ring;
	unsigned int next;
	unsigned int since_reap;
};

static struct msgzc_sender *to_msgzc(struct sender *s)
{
	return (struct msgzc_sender *)s;
}

static int msgzc_get_buf(struct sender *s, uint8_t **buf)
{
	struct msgzc_sender *m = to_msgzc(s);
	struct zbuf *b = &m->ring.bufs[m->next];
	double since = 0;
	int r;

	while (b->busy) {
		if (!since) {
			since = now_s();
			s->st.buffer_waits++;
		} else if (now_s() - since > WAIT_LIMIT_S) {
			return -ETIMEDOUT;
		}
		r = zring_reap(&m->ring, 100);
		if (r < 0)
			return r;
	}
	*buf = b->mem;
	m->next = (m->next + 1) % m->ring.n;
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

	if (buf < m->region || idx >= m->ring.n)
		return -EINVAL;
	b = &m->ring.bufs[idx];
	zring_begin(&m->ring, b);
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
				 !zring_busy(&m->ring))
				return -ENOBUFS;
			r = zring_reap(&m->ring, 10);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		enobufs_since = 0;
		zring_count_sends(&m->ring, b, 1);
		off += (size_t)n;
		s->st.sends++;
		s->st.zc_sends++;
		s->st.bytes += (uint64_t)n;
		if (++m->since_reap >= REAP_EVERY) {
			m->since_reap = 0;
			r = zring_reap(&m->ring, 0);
			if (r < 0)
				return r;
		}
	}
	zring_end(&m->ring, b);
	return 0;
}

static int msgzc_finish(struct sender *s, int timeout_ms)
{
	struct msgzc_sender *m = to_msgzc(s);
	double end = now_s() + timeout_ms / 1000.0;
	int r;

	while (zring_busy(&m->ring)) {
		if (now_s() > end)
			return -ETIME;
		r = zring_reap(&m->ring, 100);
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
	free(m->ring.bufs);
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
	unsigned int i, n;
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
	n = RING_BYTES / m->stride;
	if (n < MIN_BUFS)
		n = MIN_BUFS;
	if (n > MAX_BUFS)
		n = MAX_BUFS;
	m->region_len = m->stride * n;
	m->region = sender_alloc(m->region_len);
	m->ring.bufs = calloc(n, sizeof(*m->ring.bufs));
	if (!m->region || !m->ring.bufs) {
		sender_release(m->region, m->region_len);
		free(m->ring.bufs);
		free(m);
		return -ENOMEM;
	}
	m->ring.n = n;
	m->ring.fd = fd;
	m->ring.st = &m->base.st;
	for (i = 0; i < n; i++)
		m->ring.bufs[i].mem = m->region + (size_t)i * m->stride;
	m->base.ops = &msgzc_ops;
	m->base.fd = fd;
	m->base.chunk = chunk;
	*sp = &m->base;
	return 0;
}
