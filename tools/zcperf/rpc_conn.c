/* SPDX-License-Identifier: MIT */
/*
 * One rpc connection, either side: receive through zc_rx and the message
 * layer on a non-blocking socket, send one message at a time with
 * zc_msg_send(), and check payloads against the pattern.
 *
 * The message layer puts a header in its own segment (MSG_EOR) when a page
 * or more of payload follows, so the payload starts page-aligned in the
 * stream; over loopback and veth the receiver can map it only when the
 * sender used MSG_ZEROCOPY (KERNEL_NOTES), hence --tx=msg_zerocopy. Its
 * buffers must stay untouched until the kernel's completion, so each
 * connection keeps a few and reuses one only when it is done
 * (msgzc_ring.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rpc.h"

#define ENOBUFS_RETRIES 8
/* Pool slots per connection by default: a message being read holds a
 * view or two, and the message layer copies a payload out rather than
 * hold every slot (ZC_MSG_ASSEMBLED). */
#define POOL_SLOTS_PER_CONN 4u
#define POOL_MIN_SLOTS	    64u
#define POOL_MAX_SLOTS	    65536u
#define BUF_WAIT_LIMIT_S    30.0

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64's finaliser, as pattern.c spreads its seeds. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t rpc_seed(uint64_t run_id, uint32_t index, uint64_t id, bool reply)
{
	return mix64(pattern_seed(run_id, index) ^
		     (id * 2 + reply) * 0xd1b54a32d192ed03ull);
}

int rpc_raise_nofile(unsigned int n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		return -EMFILE;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	return 0;
}

int rpc_pool_create(struct zc_rx_pool **poolp, const struct cfg *cfg,
		    unsigned int conns)
{
	struct zc_rx_pool_opts po = { 0 };
	uint64_t slots = cfg->pool_slots;

	if (!slots) {
		slots = (uint64_t)conns * POOL_SLOTS_PER_CONN;
		if (slots < POOL_MIN_SLOTS)
			slots = POOL_MIN_SLOTS;
		if (slots > POOL_MAX_SLOTS)
			slots = POOL_MAX_SLOTS;
	}
	po.slot_size = cfg->chunk;
	po.slots = (uint32_t)slots;
	po.copybuf_size = cfg->copybuf;
	po.zap = (uint32_t)cfg->zap;
	return zc_rx_pool_create(poolp, &po);
}

static size_t page_round(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t p = page > 0 ? (size_t)page : 4096;

	return (len + p - 1) / p * p;
}

int rpc_conn_setup(struct rpc_conn *c, const struct cfg *cfg,
		   struct zc_rx_pool *pool, uint32_t max_payload,
		   uint32_t out_len)
{
	struct zc_msg_rx_opts mo = { 0 };
	struct zc_rx_opts o = { 0 };
	int fl, r, one = 1;

	c->verify = cfg->verify;
	c->verified = cfg->verify;
	c->tx = cfg->tx;
	fl = fcntl(c->fd, F_GETFL);
	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK)) {
		conn_error_set(&c->error, "O_NONBLOCK", errno);
		return -errno;
	}
	o.mode = (uint32_t)cfg->rx;
	o.slots = cfg->slots;
	if (pool) {
		/* The pool's slot size, copybuf and zap apply. */
		o.pool = pool;
	} else {
		o.slot_size = cfg->chunk;
		o.copybuf_size = cfg->copybuf;
		o.zap = (uint32_t)cfg->zap;
	}
	r = zc_rx_create(&c->rx, c->fd, &o);
	if (r) {
		conn_error_set(&c->error, "zc_rx_create", -r);
		return r;
	}
	/* The message layer sets SO_RCVLOWAT itself while a payload of a
	 * page or more is pending, so epoll wakes us for the whole of it. */
	mo.max_payload = max_payload ? max_payload : 1;
	mo.flags = cfg->rcvlowat ? 0 : ZC_MSG_RX_F_NO_RCVLOWAT;
	r = zc_msg_rx_create(&c->mrx, c->rx, &mo);
	if (r) {
		conn_error_set(&c->error, "zc_msg_rx_create", -r);
		return r;
	}
	c->buf_len = page_round(out_len);
	c->ring.fd = c->fd;
	c->ring.bufs = c->bufs;
	c->ring.st = &c->st.tx;
	if (c->tx == TX_MSG_ZEROCOPY &&
	    setsockopt(c->fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one))) {
		/* ENOPROTOOPT: no MSG_ZEROCOPY here. */
		conn_error_set(&c->error, "SO_ZEROCOPY", errno);
		return -errno;
	}
	c->open = true;
	return 0;
}

/* A buffer that may be written now. Copy sends complete when send()
 * returns, so one buffer does; MSG_ZEROCOPY ones wait for completions. */
static int get_buf(struct rpc_conn *c, struct zbuf **bp)
{
	double since = 0;
	unsigned int i;
	int r;

	if (!c->buf_len) {
		*bp = NULL;
		return 0;
	}
	for (;;) {
		for (i = 0; i < c->ring.n; i++)
			if (!c->bufs[i].busy) {
				*bp = &c->bufs[i];
				return 0;
			}
		if (c->tx == TX_MSG_ZEROCOPY && c->ring.n && !since) {
			r = zring_drain(&c->ring);
			if (r < 0)
				return r;
			since = now_s();
			continue;
		}
		if (c->ring.n < (c->tx == TX_MSG_ZEROCOPY ? RPC_TX_BUFS : 1)) {
			struct zbuf *b = &c->bufs[c->ring.n];

			b->mem = sender_alloc(c->buf_len);
			if (!b->mem)
				return -ENOMEM;
			c->ring.n++;
			*bp = b;
			return 0;
		}
		/* Every buffer still in the kernel's hands: wait for a
		 * completion (this stalls the thread's other connections,
		 * so it is counted). */
		c->st.tx.buffer_waits++;
		if (now_s() - since > BUF_WAIT_LIMIT_S)
			return -ETIMEDOUT;
		r = zring_reap(&c->ring, 10);
		if (r < 0)
			return r;
	}
}

/* Gives the ring the MSG_ZEROCOPY sends zc_msg_send() made since the last
 * call, so completions that arrive meanwhile are matched. */
static void count_zc_sends(struct rpc_conn *c)
{
	uint32_t n = c->out.zerocopy_sends - c->zc_counted;

	if (n && c->cur)
		zring_count_sends(&c->ring, c->cur, n);
	c->st.tx.zc_sends += n;
	c->zc_counted = c->out.zerocopy_sends;
}

int rpc_send_more(struct rpc_conn *c)
{
	int r, tries = 0;

	for (;;) {
		r = zc_msg_send(&c->out);
		count_zc_sends(c);
		if (r != -ENOBUFS)
			break;
		/* Option memory full of notifications: read them and try
		 * again; then send the rest of this message by copy rather
		 * than fail. */
		c->st.tx.enobufs++;
		r = zring_drain(&c->ring);
		if (r < 0)
			break;
		if (++tries >= ENOBUFS_RETRIES &&
		    (c->out.flags & ZC_MSG_SEND_ZEROCOPY)) {
			c->out.flags &= ~ZC_MSG_SEND_ZEROCOPY;
			c->st.enobufs_copied++;
		}
	}
	if (r == -EAGAIN) {
		if (!c->sending)
			c->st.send_waits++;
		c->sending = true;
		return r;
	}
	c->sending = false;
	if (c->cur)
		zring_end(&c->ring, c->cur);
	c->cur = NULL;
	if (r)
		return r;
	c->st.tx.sends++;
	c->st.tx.bytes += c->out.sent;
	return 0;
}

int rpc_send_start(struct rpc_conn *c, const struct zc_msg_hdr *hdr,
		   uint64_t seed)
{
	struct zbuf *b = NULL;
	int r;

	if (hdr->len > c->buf_len)
		return -EINVAL;
	if (hdr->len) {
		r = get_buf(c, &b);
		if (r)
			return r;
		pattern_fill(b->mem, hdr->len, seed, 0);
		zring_begin(&c->ring, b);
	}
	memset(&c->out, 0, sizeof(c->out));
	c->out.fd = c->fd;
	c->out.hdr = *hdr;
	if (b) {
		c->iov.iov_base = b->mem;
		c->iov.iov_len = hdr->len;
		c->out.iov = &c->iov;
		c->out.iovcnt = 1;
	}
	if (c->tx == TX_MSG_ZEROCOPY)
		c->out.flags = ZC_MSG_SEND_ZEROCOPY;
	c->cur = b;
	c->zc_counted = 0;
	return rpc_send_more(c);
}

int rpc_check_payload(struct rpc_conn *c, const struct zc_msg *m, uint64_t seed,
		      const char *what)
{
	uint64_t off = 0;
	size_t bad;
	uint32_t k;

	for (k = 0; k < m->nsegs; k++) {
		const uint8_t *p = m->seg[k].iov_base;
		size_t len = m->seg[k].iov_len;

		bad = pattern_check(p, len, seed, off);
		if (bad != len) {
			snprintf(c->error.detail, sizeof(c->error.detail),
				 "%s %" PRIu64 ": payload byte %" PRIu64
				 " of %u is 0x%02x, expected 0x%02x",
				 what, m->hdr.id, off + bad, m->hdr.len, p[bad],
				 pattern_byte(seed, off + bad));
			conn_error_set(&c->error, "verify", EILSEQ);
			c->verified = false;
			return -EILSEQ;
		}
		off += len;
	}
	if (off != m->hdr.len) {
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "%s %" PRIu64 ": the message layer gave %" PRIu64
			 " payload bytes of %u (library bug)",
			 what, m->hdr.id, off, m->hdr.len);
		conn_error_set(&c->error, "receive", EPROTO);
		c->verified = false;
		return -EPROTO;
	}
	return 0;
}

int rpc_conn_errqueue(struct rpc_conn *c)
{
	if (c->tx != TX_MSG_ZEROCOPY)
		return 0;
	return zring_drain(&c->ring);
}

int rpc_conn_watch(struct rpc_conn *c, int epfd, bool add)
{
	struct epoll_event ev = { 0 };

	if (!add && c->want_out == c->sending)
		return 0;
	ev.events = EPOLLIN | (c->sending ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev))
		return -errno;
	c->want_out = c->sending;
	return 0;
}

void rpc_read_error(struct rpc_conn *c, int err, const char *side)
{
	int why = zc_msg_rx_error(c->mrx);
	const char *name = why > 0 ? zc_msg_error_name(why) : NULL;

	if (name)
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "malformed stream from the %s: %s", side, name);
	conn_error_set(&c->error, "receive", -err);
	c->verified = false;
}

void rpc_stats_add(struct rpc_stats *a, const struct rpc_stats *b)
{
	a->txns += b->txns;
	a->payload_bytes += b->payload_bytes;
	a->mapped_bytes += b->mapped_bytes;
	rx_stats_add(&a->rx, &b->rx);
	a->msg.messages += b->msg.messages;
	a->msg.payload_bytes += b->msg.payload_bytes;
	a->msg.bytes_mapped += b->msg.bytes_mapped;
	a->msg.bytes_assembled += b->msg.bytes_assembled;
	a->msg.assembled += b->msg.assembled;
	a->msg.views += b->msg.views;
	a->msg.rcvlowat_sets += b->msg.rcvlowat_sets;
	a->tx.sends += b->tx.sends;
	a->tx.bytes += b->tx.bytes;
	a->tx.zc_sends += b->tx.zc_sends;
	a->tx.notifications += b->tx.notifications;
	a->tx.completed += b->tx.completed;
	a->tx.kernel_copied += b->tx.kernel_copied;
	a->tx.enobufs += b->tx.enobufs;
	a->tx.buffer_waits += b->tx.buffer_waits;
	a->enobufs_copied += b->enobufs_copied;
	a->send_waits += b->send_waits;
	a->rx_starved += b->rx_starved;
}

void rpc_conn_close(struct rpc_conn *c)
{
	unsigned int i;

	if (c->mrx) {
		zc_msg_rx_get_stats(c->mrx, &c->st.msg);
		c->st.payload_bytes = c->st.msg.payload_bytes;
		c->st.mapped_bytes = c->st.msg.bytes_mapped;
		zc_msg_rx_free(c->mrx);
		c->mrx = NULL;
	}
	if (c->rx) {
		zc_rx_get_stats(c->rx, &c->st.rx);
		zc_rx_free(c->rx);
		c->rx = NULL;
	}
	if (c->fd >= 0) {
		/* Completions already queued count; later ones are lost
		 * with the socket. */
		if (c->tx == TX_MSG_ZEROCOPY)
			zring_drain(&c->ring);
		close(c->fd);
		c->fd = -1;
	}
	/* The kernel holds its own references to pages still being sent
	 * (MSG_ZEROCOPY pins them), so unmapping is safe. */
	for (i = 0; i < c->ring.n; i++) {
		sender_release(c->bufs[i].mem, c->buf_len);
		c->bufs[i].mem = NULL;
	}
	c->ring.n = 0;
	c->open = false;
}
