/* SPDX-License-Identifier: MIT */
/*
 * The stream sender's buffers on the library's send engine (struct zc_tx),
 * whichever --tx backend runs: copy, MSG_ZEROCOPY, io_uring SEND or
 * SEND_ZC, or auto.
 *
 * A ring of page-aligned buffers; each send passes its buffer's index as
 * user_data, and the library gives every accepted byte exactly one
 * completion with that user_data once the kernel no longer reads it. A
 * buffer goes back on the free stack only when it was sent whole and each
 * of its sends completed, so it is never rewritten while the kernel may
 * still read it. The free stack is last in, first out: a copy completes at
 * once, so copy sends keep reusing the one buffer still in cache, and
 * zero-copy sends use as many buffers as they keep in flight.
 *
 * How often the MSG_ZEROCOPY error queue is read is the library's
 * reap_every (--reap-every), as seed 003's cfg_notification_limit: this
 * file takes completions that are already queued without reading the
 * error queue itself, and reads it only when it has no free buffer left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcperf.h"

#define RING_BYTES   (16u << 20) /* in flight at most: a few send sizes */
#define MIN_BUFS     4u
#define MAX_BUFS     256u
#define REAP_BATCH   64u
#define WAIT_STEP_MS 100
#define WAIT_LIMIT_S 60.0 /* no completion for this long: give up */

struct sender {
	int fd;
	bool dgram;
	struct zc_tx *tx;
	size_t chunk;
	size_t stride; /* chunk rounded up to pages */
	uint8_t *region;
	size_t region_len;
	unsigned int nbufs;
	uint32_t *inflight; /* per buffer: sends not completed */
	bool *held;	    /* per buffer: handed out, not all sent yet */
	unsigned int *free; /* stack of buffers that may be written */
	unsigned int nfree;
	uint64_t reaped_bytes; /* bytes of the completions taken */
	struct send_stats st;
};

uint8_t *sender_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void sender_release(uint8_t *mem, size_t len)
{
	if (mem)
		munmap(mem, len);
}

void send_stats_add(struct send_stats *a, const struct send_stats *b)
{
	struct zc_tx_stats *x = &a->zc;
	const struct zc_tx_stats *y = &b->zc;

	x->sends += y->sends;
	x->bytes += y->bytes;
	x->bytes_zerocopy += y->bytes_zerocopy;
	x->bytes_kernel_copied += y->bytes_kernel_copied;
	x->bytes_policy_copied += y->bytes_policy_copied;
	x->notifications += y->notifications;
	x->enobufs += y->enobufs;
	x->enobufs_copied += y->enobufs_copied;
	x->fallbacks += y->fallbacks;
	x->outstanding += y->outstanding;
	x->auto_backoffs += y->auto_backoffs;
	x->out_of_order += y->out_of_order;
	x->bad_ids += y->bad_ids;
	x->foreign_errors += y->foreign_errors;
	if (a->backend < 0)
		a->backend = b->backend;
	a->completions += b->completions;
	a->completions_copied += b->completions_copied;
	a->completions_policy += b->completions_policy;
	a->buffer_waits += b->buffer_waits;
}

uint64_t send_stats_attempts(const struct send_stats *st)
{
	return st->completions - st->completions_policy;
}

void tx_opts_from_cfg(struct zc_tx_opts *o, const struct cfg *cfg)
{
	memset(o, 0, sizeof(*o));
	o->backend = (uint32_t)cfg->tx;
	o->reap_every = cfg->reap_every;
	o->zc_threshold = cfg->zc_threshold;
}

static void push_free(struct sender *s, unsigned int i)
{
	s->free[s->nfree++] = i;
}

/* One completion: its buffer may be free now. -EPROTO for a completion
 * zcperf never asked for (the library broke its contract: refusing it
 * beats rewriting a buffer the kernel may read). */
static int complete(struct sender *s, const struct zc_completion *c)
{
	uint64_t i = c->user_data;

	if (i >= s->nbufs || !s->inflight[i])
		return -EPROTO;
	s->st.completions++;
	if (c->flags & ZC_COMPLETION_POLICY_COPY)
		s->st.completions_policy++;
	else if (c->flags & ZC_COMPLETION_COPIED)
		s->st.completions_copied++;
	s->reaped_bytes += c->len;
	if (!--s->inflight[i] && !s->held[i])
		push_free(s, (unsigned int)i);
	return 0;
}

/*
 * Takes the completions the library has queued already, without reading
 * the error queue: zc_tx_reap reads it only when fewer than max
 * completions are queued (src/tx.c), and the bytes completed (the stats)
 * minus the bytes taken say whether one is. So the error queue is read at
 * the library's reap_every cadence, not after every send.
 */
static int take_queued(struct sender *s)
{
	struct zc_tx_stats st;
	struct zc_completion c;
	uint64_t done;
	int n, r;

	for (;;) {
		zc_tx_get_stats(s->tx, &st);
		done = st.bytes_zerocopy + st.bytes_kernel_copied +
		       st.bytes_policy_copied;
		if (done == s->reaped_bytes)
			return 0;
		n = zc_tx_reap(s->tx, &c, 1);
		if (n < 0)
			return n;
		if (n == 0)
			return -EPROTO; /* the counts disagree */
		r = complete(s, &c);
		if (r)
			return r;
	}
}

/* Every completion there is (reads the error queue / completion ring);
 * with wait_ms, waits that long for one when there is none. Returns how
 * many, or -errno. */
static int reap(struct sender *s, int wait_ms)
{
	struct zc_completion c[REAP_BATCH];
	int n, i, r, total = 0;

	for (;;) {
		if (wait_ms && !total)
			n = zc_tx_wait(s->tx, c, REAP_BATCH, wait_ms);
		else
			n = zc_tx_reap(s->tx, c, REAP_BATCH);
		if (n < 0)
			return n;
		for (i = 0; i < n; i++) {
			r = complete(s, &c[i]);
			if (r)
				return r;
		}
		total += n;
		if (n < (int)REAP_BATCH)
			return total;
	}
}

int sender_get_buf(struct sender *s, uint8_t **buf)
{
	double since = 0;
	unsigned int i;
	int r;

	r = take_queued(s);
	if (r)
		return r;
	if (!s->nfree) {
		r = reap(s, 0);
		if (r < 0)
			return r;
	}
	while (!s->nfree) {
		/* After SIGINT completions may never come (the socket is
		 * shut down): the run is over anyway. */
		if (interrupted())
			return -EINTR;
		if (!since) {
			since = now_s();
			s->st.buffer_waits++;
		} else if (now_s() - since > WAIT_LIMIT_S) {
			return -ETIMEDOUT;
		}
		r = reap(s, WAIT_STEP_MS);
		if (r < 0)
			return r;
	}
	i = s->free[--s->nfree];
	s->held[i] = true;
	*buf = s->region + (size_t)i * s->stride;
	return 0;
}

int sender_send(struct sender *s, uint8_t *buf, size_t len, size_t *sent)
{
	size_t i = (size_t)(buf - s->region) / s->stride, off = 0;
	ssize_t n;
	int r;

	*sent = 0;
	if (buf < s->region || i >= s->nbufs || !s->held[i] || !len ||
	    len > s->chunk)
		return -EINVAL;
	while (off < len) {
		n = zc_tx_send(s->tx, buf + off, len - off, i);
		if (n > 0) {
			s->inflight[i]++;
			off += (size_t)n;
			*sent = off;
			/* A datagram goes whole or not at all. */
			if (s->dgram && off < len)
				return -EMSGSIZE;
			continue;
		}
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN) {
			if (interrupted())
				return -EINTR;
			/* max_outstanding sends not reaped: completions
			 * make room. */
			r = reap(s, WAIT_STEP_MS);
			if (r < 0)
				return r;
			continue;
		}
		return n ? (int)n : -EIO;
	}
	s->held[i] = false;
	if (!s->inflight[i])
		push_free(s, (unsigned int)i);
	/* Copies complete at once: back on the stack, and reused next. */
	return take_queued(s);
}

int sender_finish(struct sender *s, int timeout_ms)
{
	int r;

	r = zc_tx_flush(s->tx, timeout_ms);
	if (r)
		return r;
	r = reap(s, 0);
	return r < 0 ? r : 0;
}

void sender_get_stats(const struct sender *s, struct send_stats *st)
{
	*st = s->st;
	zc_tx_get_stats(s->tx, &st->zc);
	st->backend = zc_tx_backend(s->tx);
}

void sender_destroy(struct sender *s)
{
	if (!s)
		return;
	/* Sends still outstanding (a failed connection) may still be read
	 * by the kernel: leave their memory mapped. */
	if (zc_tx_free(s->tx) == 0)
		sender_release(s->region, s->region_len);
	free(s->inflight);
	free(s->held);
	free(s->free);
	free(s);
}

int sender_create(struct sender **sp, int fd, size_t chunk,
		  const struct zc_tx_opts *opts)
{
	long page = sysconf(_SC_PAGESIZE);
	socklen_t len = sizeof(int);
	struct sender *s;
	unsigned int i, n;
	int r, type = 0;

	if (page <= 0)
		page = 4096;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->chunk = chunk;
	s->st.backend = -1;
	if (!getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
		s->dgram = type == SOCK_DGRAM;
	s->stride = (chunk + (size_t)page - 1) / (size_t)page * (size_t)page;
	n = RING_BYTES / s->stride;
	n = n < MIN_BUFS ? MIN_BUFS : n > MAX_BUFS ? MAX_BUFS : n;
	s->nbufs = n;
	s->region_len = s->stride * n;
	s->region = sender_alloc(s->region_len);
	s->inflight = calloc(n, sizeof(*s->inflight));
	s->held = calloc(n, sizeof(*s->held));
	s->free = calloc(n, sizeof(*s->free));
	if (!s->region || !s->inflight || !s->held || !s->free) {
		r = -ENOMEM;
		goto out_free;
	}
	/* Buffer 0 on top. */
	for (i = n; i > 0; i--)
		push_free(s, i - 1);
	r = zc_tx_create(&s->tx, fd, opts);
	if (r)
		goto out_free;
	s->st.backend = zc_tx_backend(s->tx);
	*sp = s;
	return 0;

out_free:
	sender_release(s->region, s->region_len);
	free(s->inflight);
	free(s->held);
	free(s->free);
	free(s);
	return r;
}
