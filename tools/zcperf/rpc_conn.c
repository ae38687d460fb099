/* SPDX-License-Identifier: MIT */
/*
 * One rpc connection, either side: receive through zc_rx and the message
 * layer on a non-blocking socket, send one message at a time with
 * zc_msg_send(), and check payloads against the pattern.
 *
 * The message layer puts a header in its own segment (MSG_EOR) when a page
 * or more of payload follows, so the payload starts page-aligned in the
 * stream; over loopback and veth the receiver can map it only when the
 * sender sent it zero-copy (KERNEL_NOTES), hence --tx=msg_zerocopy.
 * --tx=copy lets zc_msg_send() send header and payload itself; every
 * other mode hands the payload to the library's send engine (struct
 * zc_tx) through the message layer's payload writer, with the buffer's
 * index as user_data. A buffer must stay untouched until every completion
 * for it came back, so each connection keeps a few and reuses one only
 * when it is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rpc.h"

#define REAP_BATCH 64
/* Pool slots per connection by default, as many as a handle's own window
 * has by default: a 1 MiB message in 512 KiB slots holds three
 * views or more, and with 4 per connection 100 connections ran the pool
 * dry, so the message layer copied payloads out (ZC_MSG_ASSEMBLED) and
 * only 82-90% of 1 MiB requests stayed mapped, against 98% with 8. */
#define POOL_SLOTS_PER_CONN 8u
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
	int fl, r;

	c->verify = cfg->verify;
	c->verified = cfg->verify;
	c->tx = cfg->tx;
	c->st.tx.backend = -1;
	fl = fcntl(c->fd, F_GETFL);
	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK)) {
		conn_error_set(&c->error, "O_NONBLOCK", errno);
		return -errno;
	}
	/* A message of a page or more goes as a header segment and then the
	 * payload: with Nagle on, a payload shorter than the MSS waits for
	 * the peer's delayed ACK of the header (~40 ms a transaction). */
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
		       sizeof(int))) {
		conn_error_set(&c->error, "TCP_NODELAY", errno);
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
	c->cur = -1;
	tx_opts_from_cfg(&c->tx_opts, cfg);
	c->open = true;
	return 0;
}

/* Takes every completion the library has; with wait_ms, waits up to that
 * long for one when there is none. Returns how many, or -errno. */
static int take_completions(struct rpc_conn *c, int wait_ms)
{
	struct zc_completion cq[REAP_BATCH];
	int n, i, total = 0;

	if (!c->ztx)
		return 0;
	for (;;) {
		if (wait_ms && !total)
			n = zc_tx_wait(c->ztx, cq, REAP_BATCH, wait_ms);
		else
			n = zc_tx_reap(c->ztx, cq, REAP_BATCH);
		if (n < 0)
			return n;
		for (i = 0; i < n; i++) {
			uint64_t b = cq[i].user_data;

			/* One we never asked for: refuse it rather than
			 * reuse a buffer the kernel may read. */
			if (b >= c->nbufs || !c->inflight[b])
				return -EPROTO;
			c->inflight[b]--;
			c->st.tx.completions++;
			if (cq[i].flags & ZC_COMPLETION_POLICY_COPY)
				c->st.tx.completions_policy++;
			else if (cq[i].flags & ZC_COMPLETION_COPIED)
				c->st.tx.completions_copied++;
		}
		total += n;
		if (n < REAP_BATCH)
			return total;
	}
}

static bool buf_free(const struct rpc_conn *c, unsigned int i)
{
	return !c->inflight[i] && (int)i != c->cur;
}

/* A buffer that may be written now: a copy send completes when send()
 * returns, so one buffer does; zero-copy ones wait for completions. */
static int get_buf(struct rpc_conn *c, int *bp)
{
	double since = 0;
	unsigned int i;
	int r;

	for (;;) {
		for (i = 0; i < c->nbufs; i++)
			if (buf_free(c, i)) {
				*bp = (int)i;
				return 0;
			}
		if (c->nbufs && !since) {
			r = take_completions(c, 0);
			if (r < 0)
				return r;
			since = now_s();
			continue;
		}
		if (c->nbufs < (c->ztx ? RPC_TX_BUFS : 1)) {
			c->bufs[c->nbufs] = sender_alloc(c->buf_len);
			if (!c->bufs[c->nbufs])
				return -ENOMEM;
			*bp = (int)c->nbufs++;
			return 0;
		}
		/* Every buffer still in the kernel's hands: wait for a
		 * completion (this stalls the thread's other connections,
		 * so it is counted). */
		c->st.tx.buffer_waits++;
		if (now_s() - since > BUF_WAIT_LIMIT_S)
			return -ETIMEDOUT;
		r = take_completions(c, 10);
		if (r < 0)
			return r;
	}
}

/* zc_msg_send's payload writer: the payload goes through the zc_tx, the
 * buffer index as user_data. */
static ssize_t payload_write(void *ctx, const void *buf, size_t len,
			     uint64_t user_data)
{
	struct rpc_conn *c = ctx;
	ssize_t n;

	n = zc_tx_send(c->ztx, buf, len, user_data);
	if (n > 0)
		c->inflight[user_data]++;
	return n;
}

int rpc_send_more(struct rpc_conn *c)
{
	int r;

	r = zc_msg_send(&c->out);
	if (r == -EAGAIN) {
		if (!c->sending)
			c->st.send_waits++;
		c->sending = true;
		return r;
	}
	c->sending = false;
	c->cur = -1;
	if (r)
		return r;
	c->st.messages_sent++;
	c->st.bytes_sent += c->out.sent;
	return 0;
}

/* The loop thread makes the zc_tx at its first send: an io_uring handle
 * belongs to the thread that created it. */
static int make_tx(struct rpc_conn *c)
{
	int r;

	if (c->tx == ZC_TX_COPY || c->ztx)
		return 0;
	r = zc_tx_create(&c->ztx, c->fd, &c->tx_opts);
	if (r)
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "--tx=%s: %s%s", tx_kind_name(c->tx), strerror(-r),
			 r == -EOPNOTSUPP ? " (the kernel refuses this "
					    "backend; --tx=auto always works)"
					  : "");
	return r;
}

int rpc_send_start(struct rpc_conn *c, const struct zc_msg_hdr *hdr,
		   uint64_t seed)
{
	int b = -1, r;

	if (hdr->len > c->buf_len)
		return -EINVAL;
	r = make_tx(c);
	if (r)
		return r;
	if (hdr->len) {
		r = get_buf(c, &b);
		if (r)
			return r;
		pattern_fill(c->bufs[b], hdr->len, seed, 0);
	}
	memset(&c->out, 0, sizeof(c->out));
	c->out.fd = c->fd;
	c->out.hdr = *hdr;
	if (b >= 0) {
		c->iov.iov_base = c->bufs[b];
		c->iov.iov_len = hdr->len;
		c->out.iov = &c->iov;
		c->out.iovcnt = 1;
	}
	if (c->ztx) {
		c->out.payload_fn = payload_write;
		c->out.payload_ctx = c;
		c->out.user_data = (uint64_t)(b >= 0 ? b : 0);
	}
	c->cur = b;
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
	int r = take_completions(c, 0);

	return r < 0 ? r : 0;
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
	a->messages_sent += b->messages_sent;
	a->bytes_sent += b->bytes_sent;
	send_stats_add(&a->tx, &b->tx);
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
	if (c->ztx) {
		/* Completions already there count; later ones are lost with
		 * the socket. */
		take_completions(c, 0);
		zc_tx_get_stats(c->ztx, &c->st.tx.zc);
		c->st.tx.backend = zc_tx_backend(c->ztx);
		zc_tx_free(c->ztx);
		c->ztx = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	/* The kernel holds its own references to pages still being sent
	 * (zero-copy sends pin them), so unmapping is safe. */
	for (i = 0; i < c->nbufs; i++) {
		sender_release(c->bufs[i], c->buf_len);
		c->bufs[i] = NULL;
	}
	c->nbufs = 0;
	c->open = false;
}
