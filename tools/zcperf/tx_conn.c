/* SPDX-License-Identifier: MIT */
/*
 * Send side of one connection: connect, write the header, then fill
 * buffers with the pattern at their stream offset and send them through
 * the library's send engine (sender.c) until the byte count or the
 * deadline, wait for the last completions, and close our direction. Then
 * wait for the receiver to close its side, so the sender ends only after
 * the receiver saw the end.
 *
 * With -u the TCP connection is the control connection (udp.c): the
 * receiver names a UDP port, the datagrams go there, and the sender's
 * count follows on TCP once the last one completed; the receiver answers
 * with what arrived.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcperf.h"

#define CONNECT_RETRY_S 1.0 /* receiver may still be starting */
/* Every completion should be back long before: TCP's need the peer's
 * ACKs, that is all. */
#define FINISH_TIMEOUT_MS 10000
/* After SIGINT the peer may be gone or stalled; completions still missing
 * then only change the counters (sender_destroy keeps buffers the kernel
 * may still read), not worth a long wait. */
#define INTERRUPT_FINISH_MS   1000
#define PEER_CLOSE_TIMEOUT_MS 30000
#define UDP_PORT_TIMEOUT_MS   5000
/* Datagrams queue in the socket while the receiver is busy; seed 003's
 * msg_zerocopy.c also gives its sender a 2 MiB send buffer. */
#define UDP_SNDBUF (4 << 20)

int set_mss(int fd, uint32_t mss)
{
	int v = (int)mss;

	if (mss && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof(v)))
		return -errno;
	return 0;
}

/* -u: the receiver's UDP port for this connection, then a UDP socket
 * connected to it at the address the control connection reached. */
static int udp_connect(struct tx_conn *c)
{
	/* Zeroed: clang-analyzer does not see getpeername() fill it. */
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	int fd, r, v = UDP_SNDBUF;
	uint16_t port;

	r = udp_port_recv(c->fd, &port, UDP_PORT_TIMEOUT_MS);
	if (r) {
		if (r == -EPROTO)
			snprintf(c->error.detail, sizeof(c->error.detail),
				 "the receiver closed the connection instead "
				 "of naming a UDP port (is it 'zcperf -s -u'? "
				 "see its output)");
		conn_error_set(&c->error, "UDP port from the receiver", -r);
		return r;
	}
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len)) {
		conn_error_set(&c->error, "getpeername", errno);
		return -errno;
	}
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_error_set(&c->error, "socket (UDP)", errno);
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		r = -errno;
		conn_error_set(&c->error, "connect (UDP)", -r);
		close(fd);
		return r;
	}
	c->udp_fd = fd;
	return 0;
}

int tx_conn_connect(struct tx_conn *c, const struct sockaddr *addr,
		    unsigned int addrlen, uint32_t mss)
{
	double give_up = now_s() + CONNECT_RETRY_S;
	socklen_t len = sizeof(int);
	int fd, r, v = 0;

	c->udp_fd = -1;

	for (;;) {
		fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			conn_error_set(&c->error, "socket", errno);
			return -errno;
		}
		/* Before connect, so the SYN already carries it. */
		r = set_mss(fd, mss);
		if (r) {
			conn_error_set(&c->error, "TCP_MAXSEG", -r);
			close(fd);
			return r;
		}
		if (!connect(fd, addr, addrlen))
			break;
		r = -errno;
		close(fd);
		if (r != -ECONNREFUSED || now_s() > give_up) {
			conn_error_set(&c->error, "connect", -r);
			return r;
		}
		sleep_s(0.05);
	}
	/* The MSS in use now (payload per segment, TCP options taken off),
	 * for the receiver's explanation of what it could map. */
	if (!getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, &len))
		c->hdr.mss = (uint32_t)v;
	r = wire_send(fd, &c->hdr);
	if (r) {
		conn_error_set(&c->error, "send header", -r);
		close(fd);
		return r;
	}
	c->fd = fd;
	if (c->hdr.flags & WIRE_F_UDP) {
		r = udp_connect(c);
		if (r) {
			close(fd);
			c->fd = -1;
			return r;
		}
	}
	return 0;
}

/* After our FIN: read until the receiver closes (it does so at the end of
 * the stream, or at once with a reset when it found bad data). */
static int wait_peer_close(struct tx_conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char b[256];
	ssize_t n;
	int r;

	for (;;) {
		r = poll(&pfd, 1, PEER_CLOSE_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

/* The last completions did not come: say how many are missing. */
static void finish_error(struct tx_conn *c, struct sender *s, int err)
{
	struct send_stats st;

	sender_get_stats(s, &st);
	if (err == -ETIME)
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "%llu of %llu sends still had no completion after "
			 "%d s: the kernel never reported them done",
			 (unsigned long long)st.zc.outstanding,
			 (unsigned long long)st.zc.sends,
			 FINISH_TIMEOUT_MS / 1000);
	conn_error_set(&c->error,
		       c->cfg->tx == ZC_TX_COPY || c->cfg->tx == ZC_TX_URING
			       ? "waiting for send completions"
			       : "waiting for zero-copy completions",
		       -err);
}

/* The last completions: a shorter wait after SIGINT. */
static int finish(struct tx_conn *c, struct sender *s)
{
	int r;

	r = sender_finish(s, interrupted() ? INTERRUPT_FINISH_MS
					   : FINISH_TIMEOUT_MS);
	if (r)
		finish_error(c, s, r);
	return r;
}

static int send_stream(struct tx_conn *c, struct sender *s)
{
	bool pattern = c->hdr.flags & WIRE_F_PATTERN;
	size_t chunk = c->cfg->chunk, len, sent;
	uint64_t off = 0;
	uint8_t *buf;
	int r;

	for (;;) {
		if (interrupted())
			break;
		if (c->planned) {
			if (off >= c->planned)
				break;
			len = c->planned - off < chunk ? c->planned - off
						       : chunk;
		} else {
			if (now_s() >= c->deadline)
				break;
			len = chunk;
		}
		r = sender_get_buf(s, &buf);
		if (r) {
			conn_error_set(&c->error, "send", -r);
			goto out;
		}
		if (pattern)
			pattern_fill(buf, len, c->seed, off);
		r = sender_send(s, buf, len, &sent);
		/* What the kernel accepted reaches the peer, also the start
		 * of a send that failed part way (SIGINT's shutdown). */
		off += sent;
		if (r) {
			conn_error_set(&c->error, "send", -r);
			goto out;
		}
		__atomic_store_n(&c->live_bytes, off, __ATOMIC_RELAXED);
	}
	r = finish(c, s);
out:
	/* A send that failed on SIGINT's shutdown still has completions
	 * due, so the counters add up: take them (briefly). */
	if (r && interrupted())
		finish(c, s);
	c->bytes = off;
	return r;
}

/* -u: datagrams of -l bytes, each naming its sequence number, until the
 * count (-n, rounded up to whole datagrams) or the deadline; then, once
 * every one completed, the count on the control connection. */
static int send_datagrams(struct tx_conn *c, struct sender *s)
{
	struct udp_dgram d = { 0 };
	uint64_t off = 0;
	uint8_t *buf;
	size_t sent;
	int r;

	d.conn_index = c->hdr.conn_index;
	d.run_id = c->hdr.run_id;
	d.len = c->cfg->chunk;
	d.flags = c->hdr.flags & WIRE_F_PATTERN;
	for (;;) {
		if (interrupted() ||
		    (c->planned ? off >= c->planned : now_s() >= c->deadline))
			break;
		r = sender_get_buf(s, &buf);
		if (r) {
			conn_error_set(&c->error, "send", -r);
			goto out;
		}
		udp_dgram_fill(buf, &d, c->seed);
		r = sender_send(s, buf, d.len, &sent);
		if (r) {
			conn_error_set(&c->error, "send", -r);
			goto out;
		}
		d.seq++;
		off += d.len;
		__atomic_store_n(&c->live_bytes, off, __ATOMIC_RELAXED);
	}
	r = finish(c, s);
	/* The datagrams left even when a completion is missing: the
	 * receiver still gets the count and reports what arrived. After
	 * SIGINT the control connection is shut down: no count. */
	if (!interrupted() && (!r || r == -ETIME)) {
		int e = udp_end_send(c->fd, d.seq, off);

		if (e) {
			conn_error_set(&c->error, "send the datagram count",
				       -e);
			r = e;
		}
	}
out:
	if (r && interrupted())
		finish(c, s);
	c->bytes = off;
	c->datagrams = d.seq;
	return r;
}

/* -u: after our FIN, the receiver's account of what arrived, then its
 * close. */
static int wait_udp_result(struct tx_conn *c)
{
	int r;

	r = udp_result_recv(c->fd, &c->udp, PEER_CLOSE_TIMEOUT_MS);
	if (r == -EPROTO)
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "the receiver closed the control connection without "
			 "saying what arrived (see its output)");
	if (r)
		return r;
	c->udp_answered = true;
	return wait_peer_close(c);
}

static void create_error(struct tx_conn *c, int err)
{
	snprintf(c->error.detail, sizeof(c->error.detail), "--tx=%s: %s%s",
		 tx_kind_name(c->cfg->tx), strerror(err),
		 err == EOPNOTSUPP
			 ? " (the kernel refuses this backend: io_uring "
			   "disabled or too old, or no SO_ZEROCOPY; "
			   "--tx=auto always works)"
		 : err == ENOMEM && (c->cfg->tx == ZC_TX_URING ||
				     c->cfg->tx == ZC_TX_URING_ZC)
			 ? " (an io_uring ring counts against "
			   "RLIMIT_MEMLOCK: ulimit -l)"
			 : "");
	conn_error_set(&c->error, "zc_tx_create", err);
}

void *tx_conn_thread(void *arg)
{
	struct tx_conn *c = arg;
	bool udp = c->hdr.flags & WIRE_F_UDP;
	struct zc_tx_opts opts;
	struct rusage ru0, ru1;
	struct sender *s = NULL;
	int r;

	c->seed = pattern_seed(c->hdr.run_id, c->hdr.conn_index);
	c->st.backend = -1;
	tx_opts_from_cfg(&opts, c->cfg);
	/* Here, in the thread that sends: an io_uring handle belongs to the
	 * thread that created it. */
	r = sender_create(&s, udp ? c->udp_fd : c->fd, c->cfg->chunk, &opts);
	if (r)
		create_error(c, -r);
	/* Every connection starts together, also when one failed, so that
	 * nobody waits at the barrier forever. */
	if (c->start)
		pthread_barrier_wait(c->start);
	if (r)
		return NULL;
	rusage_now(RUSAGE_THREAD, &ru0);
	c->t_start = now_s();
	if (c->planned == 0 && c->cfg->seconds > 0 && !c->deadline)
		c->deadline = c->t_start + c->cfg->seconds;
	r = udp ? send_datagrams(c, s) : send_stream(c, s);
	c->t_end = now_s();
	rusage_now(RUSAGE_THREAD, &ru1);
	rusage_delta(&ru0, &ru1, &c->cpu);
	sender_get_stats(s, &c->st);
	/* After SIGINT nobody waits for the receiver: the summary is due. */
	if (!interrupted() && (!r || (udp && r == -ETIME))) {
		if (shutdown(c->fd, SHUT_WR)) {
			conn_error_set(&c->error, "shutdown", errno);
		} else {
			r = udp ? wait_udp_result(c) : wait_peer_close(c);
			if (r)
				conn_error_set(&c->error,
					       "waiting for the receiver to "
					       "close",
					       -r);
		}
	}
	interrupt_absorb(&c->error, 0);
	sender_destroy(s);
	return NULL;
}
