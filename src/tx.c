/* SPDX-License-Identifier: MIT */
/*
 * Send engine front end: options, the auto policy, the queue of completions
 * the caller reaps, waiting, flushing and stats. The backends
 * (tx_copy.c, tx_msgzc.c, tx_uring.c) turn sends into completions; this
 * file decides which backend a send takes and hands completions out.
 *
 * The contract every backend keeps: a send that accepts bytes produces
 * exactly one completion, carrying the caller's user_data, once the kernel
 * no longer reads the buffer; a send that fails produces none. That holds
 * through every fallback below, which only ever choose a different way to
 * send the same bytes and count it in the stats.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tx.h"

/* --- completions ------------------------------------------------------- */

void zc__tx_accepted(struct zc_tx *tx, uint32_t len)
{
	tx->st.sends++;
	tx->st.bytes += len;
}

void zc__tx_complete(struct zc_tx *tx, uint64_t user_data, uint32_t len,
		     uint32_t flags)
{
	struct zc_completion *c;

	/* Sends not reaped never exceed max_outstanding <= cap (checked in
	 * zc_tx_send), so the ring has room. */
	c = &tx->ready[(tx->ready_head + tx->ready_count) & (tx->cap - 1)];
	c->user_data = user_data;
	c->len = len;
	c->flags = flags;
	tx->ready_count++;
	if (flags & ZC_COMPLETION_POLICY_COPY)
		tx->st.bytes_policy_copied += len;
	else if (flags & ZC_COMPLETION_COPIED)
		tx->st.bytes_kernel_copied += len;
	else
		tx->st.bytes_zerocopy += len;
}

static unsigned int pop_ready(struct zc_tx *tx, struct zc_completion *out,
			      unsigned int max)
{
	unsigned int n = 0;

	while (n < max && tx->ready_count) {
		out[n++] = tx->ready[tx->ready_head];
		tx->ready_head = (tx->ready_head + 1) & (tx->cap - 1);
		tx->ready_count--;
	}
	return n;
}

/* Moves whatever the kernel completed into the ready queue, without
 * blocking. Returns completions found or -errno. */
static int drain(struct zc_tx *tx)
{
	switch (tx->backend) {
	case ZC_TX_MSG_ZEROCOPY:
		return zc__tx_msgzc_drain(tx);
	case ZC_TX_URING:
	case ZC_TX_URING_ZC:
		return zc__tx_uring_drain(tx);
	default:
		return 0;
	}
}

/* --- auto policy ------------------------------------------------------- */

/*
 * Zero-copy pays only when the kernel really skips the copy. On loopback
 * and veth to a local socket it copies anyway (skb_orphan_frags_rx when the
 * packet reaches the receiving socket) and says so with
 * SO_EE_CODE_ZEROCOPY_COPIED, after pinning pages and queueing a
 * notification for nothing: a MSG_ZEROCOPY sender there is much slower than
 * a plain one. So the first COPIED notification of a zero-copy epoch
 * switches to copy for retry_after sends, then a new epoch tries again
 * (routes change; a packet may go out a NIC next time). Notifications of
 * earlier epochs do not count: they were sent before the last decision.
 */
static bool auto_wants_zerocopy(struct zc_tx *tx, size_t len)
{
	if (len < tx->threshold)
		return false;
	if (tx->auto_state == ZC__TX_AUTO_BACKOFF) {
		if (tx->auto_left) {
			tx->auto_left--;
			return false;
		}
		tx->auto_state = ZC__TX_AUTO_ZEROCOPY;
		tx->epoch++;
		tx->epoch_judged = 0;
	}
	return true;
}

void zc__tx_auto_copied(struct zc_tx *tx, uint32_t epoch)
{
	if (!tx->auto_policy || tx->auto_state != ZC__TX_AUTO_ZEROCOPY ||
	    epoch != tx->epoch)
		return;
	tx->auto_state = ZC__TX_AUTO_BACKOFF;
	tx->auto_left = tx->retry_after;
	tx->st.auto_backoffs++;
}

/* --- sending ----------------------------------------------------------- */

ZC_API ssize_t zc_tx_send(struct zc_tx *tx, const void *buf, size_t len,
			  uint64_t user_data)
{
	ssize_t n;

	if (!tx || !buf || !len || len > UINT32_MAX)
		return -EINVAL;
	/* Reap on a cadence so queued notifications do not pile up in
	 * optmem (each one is an skb charged to it) until sends fail with
	 * ENOBUFS; the kernel's selftest reaps every 32 sends. */
	if (tx->outstanding && tx->sends_since_reap >= tx->reap_every)
		drain(tx);
	if (tx->outstanding + tx->ready_count >= tx->max_outstanding)
		return -EAGAIN;

	switch (tx->backend) {
	case ZC_TX_MSG_ZEROCOPY:
		if (tx->auto_policy && !auto_wants_zerocopy(tx, len))
			return zc__tx_copy_send(tx, buf, len, user_data,
						ZC_COMPLETION_POLICY_COPY);
		n = zc__tx_msgzc_send(tx, buf, len, user_data);
		/* Auto: until a notification of this epoch says whether the
		 * kernel copies, look after every send rather than every
		 * reap_every sends. On loopback and veth the answer is there
		 * at once, and the 32 zero-copy sends an epoch used to make
		 * before it cost auto 2-7% against copy (bench/tx.sh). */
		if (n > 0 && tx->auto_policy && !tx->epoch_judged &&
		    tx->outstanding)
			drain(tx);
		return n;
	case ZC_TX_URING:
	case ZC_TX_URING_ZC:
		return zc__tx_uring_send(tx, buf, len, user_data);
	default:
		return zc__tx_copy_send(tx, buf, len, user_data,
					ZC_COMPLETION_POLICY_COPY);
	}
}

ZC_API int zc_tx_reap(struct zc_tx *tx, struct zc_completion *out,
		      unsigned int max)
{
	int ret;

	if (!tx || (!out && max))
		return -EINVAL;
	if (tx->outstanding && tx->ready_count < max) {
		ret = drain(tx);
		/* Completions already queued come first; the error (a
		 * closed socket, ...) shows on the next call. */
		if (ret < 0 && !tx->ready_count)
			return ret;
	}
	return (int)pop_ready(tx, out, max);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none), for poll(). */
static int time_left(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > 1000000 ? 1000000 : (int)left;
}

/*
 * Sleeps until the backend may have completions, at most timeout_ms.
 * Returns 1 when woken by the backend, 0 on timeout, -errno.
 * idle: the last wake-up found nothing. The socket's POLLERR also means a
 * socket error (a reset), which stays raised while the notifications of
 * the freed write queue are still on their way: poll would then return at
 * once forever, so sleep a millisecond between looks instead.
 */
static int wait_backend(struct zc_tx *tx, int timeout_ms, bool idle)
{
	struct pollfd pfd = { .fd = tx->fd, .events = POLLERR };
	int ret;

	if (tx->backend == ZC_TX_URING || tx->backend == ZC_TX_URING_ZC)
		return zc__tx_uring_wait(tx, timeout_ms);
	if (tx->backend != ZC_TX_MSG_ZEROCOPY)
		return 0;
	if (idle) {
		if (timeout_ms < 0 || timeout_ms > 1)
			timeout_ms = 1;
		ret = zc__sys.poll(NULL, 0, timeout_ms);
	} else {
		ret = zc__sys.poll(&pfd, 1, timeout_ms);
	}
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	if (ret > 0 && (pfd.revents & POLLNVAL))
		return -EBADF;
	return ret > 0;
}

ZC_API int zc_tx_wait(struct zc_tx *tx, struct zc_completion *out,
		      unsigned int max, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int n, woke = 0, left;

	if (!tx || !out || !max)
		return -EINVAL;
	for (;;) {
		n = zc_tx_reap(tx, out, max);
		if (n)
			return n;
		/* Nothing in flight: nothing can arrive. */
		if (!tx->outstanding)
			return 0;
		left = time_left(deadline);
		if (!left)
			return 0;
		woke = wait_backend(tx, left, woke > 0);
		if (woke < 0)
			return woke;
	}
}

ZC_API int zc_tx_flush(struct zc_tx *tx, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int ret, left, woke = 0;
	bool idle = false;

	if (!tx)
		return -EINVAL;
	for (;;) {
		if (tx->outstanding) {
			ret = drain(tx);
			if (ret < 0)
				return ret;
			idle = woke > 0 && ret == 0;
		}
		if (!tx->outstanding)
			return 0;
		left = time_left(deadline);
		if (!left)
			return -ETIME;
		woke = wait_backend(tx, left, idle);
		if (woke < 0)
			return woke;
	}
}

ZC_API int zc_tx_fd(const struct zc_tx *tx)
{
	if (!tx)
		return -EINVAL;
	if (tx->ring_up)
		return tx->ring.ring_fd;
	return tx->fd;
}

ZC_API int zc_tx_poll_events(const struct zc_tx *tx)
{
	if (!tx)
		return -EINVAL;
	switch (tx->backend) {
	case ZC_TX_MSG_ZEROCOPY:
		return POLLERR;
	case ZC_TX_URING_ZC:
		return POLLIN;
	default:
		return 0;
	}
}

ZC_API int zc_tx_register(struct zc_tx *tx, const struct iovec *iov,
			  unsigned int nr)
{
	if (!tx || !iov || !nr || nr > ZC__TX_MAX_REGISTERED ||
	    !(tx->flags & ZC_TX_F_FIXED_BUFFERS))
		return -EINVAL;
	if (tx->backend != ZC_TX_URING_ZC)
		return -EOPNOTSUPP;
	return zc__tx_uring_register(tx, iov, nr);
}

/* --- handle life ------------------------------------------------------- */

static int validate_opts(const struct zc_tx_opts *o)
{
	unsigned int i;

	if (o->backend > ZC_TX_URING_ZC || (o->flags & ~ZC_TX_F_ALL))
		return -EINVAL;
	if ((o->flags & ZC_TX_F_FIXED_BUFFERS) && o->backend != ZC_TX_URING_ZC)
		return -EINVAL;
	if (o->max_outstanding > ZC__TX_MAX_OUTSTANDING)
		return -EINVAL;
	for (i = 0; i < ZC__ARRAY_SIZE(o->reserved); i++)
		if (o->reserved[i])
			return -EINVAL;
	return 0;
}

/* IP + UDP header bytes in front of a datagram's payload: an IPv6 socket
 * connected to a v4-mapped address sends IPv4. Options and extension
 * headers are not counted; a datagram they push over the MTU is
 * zero-copied. */
static uint32_t udp_headers(int domain, const struct sockaddr_storage *peer)
{
	const struct sockaddr_in6 *p6 = (const struct sockaddr_in6 *)peer;

	if (domain == AF_INET6 && !(peer->ss_family == AF_INET6 &&
				    IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr)))
		return 40 + 8;
	return 20 + 8;
}

/* Connected TCP or UDP over IPv4 or IPv6; fills family and type (and for
 * UDP dgram_hdr). */
static int check_socket(struct zc_tx *tx)
{
	/* Zeroed: clang-tidy's analyser cannot see getpeername() fill it. */
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(int), slen = sizeof(ss);
	int type = 0, proto = 0, domain = 0;

	if (zc__sys.getsockopt(tx->fd, SOL_SOCKET, SO_TYPE, &type, &len))
		return errno == ENOTSOCK || errno == EBADF ? -EINVAL : -errno;
	len = sizeof(int);
	if (zc__sys.getsockopt(tx->fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len))
		return -errno;
	len = sizeof(int);
	if (zc__sys.getsockopt(tx->fd, SOL_SOCKET, SO_DOMAIN, &domain, &len))
		return -errno;
	if (domain != AF_INET && domain != AF_INET6)
		return -EINVAL;
	if (!(type == SOCK_STREAM && proto == IPPROTO_TCP) &&
	    !(type == SOCK_DGRAM && proto == IPPROTO_UDP))
		return -EINVAL;
	if (getpeername(tx->fd, (struct sockaddr *)&ss, &slen))
		return -errno;
	tx->family = domain;
	tx->type = type;
	if (type == SOCK_DGRAM)
		tx->dgram_hdr = udp_headers(domain, &ss);
	return 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 2;

	while (p < n)
		p <<= 1;
	return p;
}

/*
 * Brings up the backend asked for. With ZC_TX_F_FALLBACK a refused one
 * (io_uring disabled, missing or over RLIMIT_MEMLOCK, SO_ZEROCOPY
 * unknown) gives way to the next
 * one down, io_uring SEND_ZC -> MSG_ZEROCOPY -> copy, counted in
 * stats.fallbacks; auto always falls back.
 */
static int start_backend(struct zc_tx *tx)
{
	bool fallback = tx->auto_policy || (tx->flags & ZC_TX_F_FALLBACK);
	int ret;

	switch (tx->requested) {
	case ZC_TX_URING_ZC:
	case ZC_TX_URING:
		tx->backend = tx->requested;
		ret = zc__tx_uring_init(tx);
		/* -ENOMEM too: the ring did not fit RLIMIT_MEMLOCK. */
		if ((ret != -EOPNOTSUPP && ret != -ENOMEM) || !fallback)
			return ret;
		tx->st.fallbacks++;
		if (tx->requested == ZC_TX_URING)
			break;
		/* fall through */
	case ZC_TX_AUTO:
	case ZC_TX_MSG_ZEROCOPY:
		tx->backend = ZC_TX_MSG_ZEROCOPY;
		ret = zc__tx_msgzc_init(tx);
		if (ret != -EOPNOTSUPP || !fallback)
			return ret;
		tx->st.fallbacks++;
		break;
	default:
		break;
	}
	tx->backend = ZC_TX_COPY;
	return 0;
}

ZC_API int zc_tx_create(struct zc_tx **txp, int fd, const struct zc_tx_opts *o)
{
	struct zc_tx_opts def = { 0 };
	struct zc_tx *tx;
	int ret;

	if (!txp)
		return -EINVAL;
	*txp = NULL;
	if (!o)
		o = &def;
	ret = validate_opts(o);
	if (ret)
		return ret;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -ENOMEM;
	tx->fd = fd;
	ret = check_socket(tx);
	if (ret)
		goto out_free;
	tx->requested = o->backend;
	tx->auto_policy = o->backend == ZC_TX_AUTO;
	tx->flags = o->flags;
	tx->threshold =
		o->zc_threshold ? o->zc_threshold : ZC__TX_DEFAULT_THRESHOLD;
	tx->reap_every =
		o->reap_every ? o->reap_every : ZC__TX_DEFAULT_REAP_EVERY;
	tx->retry_after =
		o->retry_after ? o->retry_after : ZC__TX_DEFAULT_RETRY_AFTER;
	tx->max_outstanding = o->max_outstanding
				      ? o->max_outstanding
				      : ZC__TX_DEFAULT_MAX_OUTSTANDING;
	tx->cap = pow2_at_least(tx->max_outstanding);
	tx->ready = calloc(tx->cap, sizeof(*tx->ready));
	if (!tx->ready) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = start_backend(tx);
	if (ret)
		goto out_free;
	*txp = tx;
	return 0;

out_free:
	zc_tx_free(tx);
	return ret;
}

ZC_API int zc_tx_free(struct zc_tx *tx)
{
	int left;

	if (!tx)
		return 0;
	/* One last look, so the count is as small as it truly is. */
	if (tx->outstanding)
		drain(tx);
	left = (int)tx->outstanding;
	zc__tx_msgzc_fini(tx);
	zc__tx_uring_fini(tx);
	free(tx->recs);
	free(tx->ready);
	free(tx);
	return left;
}

ZC_API int zc_tx_backend(const struct zc_tx *tx)
{
	return tx ? (int)tx->backend : -EINVAL;
}

ZC_API void zc_tx_get_stats(const struct zc_tx *tx, struct zc_tx_stats *st)
{
	if (!tx || !st)
		return;
	*st = tx->st;
	st->outstanding = tx->outstanding;
	st->out_of_order = tx->ranges.out_of_order;
	st->bad_ids =
		tx->ranges.duplicates + tx->ranges.unknown + tx->st.bad_ids;
}

static const char *const backend_names[] = {
	"auto", "copy", "msg_zerocopy", "uring", "uring_zc",
};

ZC_API const char *zc_tx_backend_name(int backend)
{
	if (backend < 0 || backend >= (int)ZC__ARRAY_SIZE(backend_names))
		return NULL;
	return backend_names[backend];
}

ZC_API int zc_tx_backend_parse(const char *name)
{
	unsigned int i;

	for (i = 0; name && i < ZC__ARRAY_SIZE(backend_names); i++)
		if (!strcmp(name, backend_names[i]))
			return (int)i;
	return -EINVAL;
}
