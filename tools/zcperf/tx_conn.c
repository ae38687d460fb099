/* SPDX-License-Identifier: MIT */
/*
 * Send side of one connection: connect, write the header, then fill
 * buffers with the pattern at their stream offset and send them through
 * the chosen backend until the byte count or the deadline, wait for the
 * last completions, and close our direction. Then wait for the receiver to
 * close its side, so the sender ends only after the receiver saw the end.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcperf.h"

#define CONNECT_RETRY_S	      1.0 /* receiver may still be starting */
#define FINISH_TIMEOUT_MS     30000
#define PEER_CLOSE_TIMEOUT_MS 30000

int set_mss(int fd, uint32_t mss)
{
	int v = (int)mss;

	if (mss && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof(v)))
		return -errno;
	return 0;
}

int tx_conn_connect(struct tx_conn *c, const struct sockaddr *addr,
		    unsigned int addrlen, uint32_t mss)
{
	double give_up = now_s() + CONNECT_RETRY_S;
	socklen_t len = sizeof(int);
	int fd, r, v = 0;

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

static int send_stream(struct tx_conn *c, struct sender *s)
{
	bool pattern = c->hdr.flags & WIRE_F_PATTERN;
	size_t chunk = c->cfg->chunk, len;
	uint64_t off = 0;
	uint8_t *buf;
	int r;

	for (;;) {
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
		r = s->ops->get_buf(s, &buf);
		if (r) {
			conn_error_set(&c->error, "send", -r);
			goto out;
		}
		if (pattern)
			pattern_fill(buf, len, c->seed, off);
		r = s->ops->send(s, buf, len);
		if (r) {
			conn_error_set(&c->error, "send", -r);
			goto out;
		}
		off += len;
		__atomic_store_n(&c->live_bytes, off, __ATOMIC_RELAXED);
	}
	r = s->ops->finish(s, FINISH_TIMEOUT_MS);
	if (r)
		conn_error_set(&c->error,
			       "waiting for MSG_ZEROCOPY completions", -r);
out:
	c->bytes = off;
	return r;
}

void *tx_conn_thread(void *arg)
{
	struct tx_conn *c = arg;
	struct rusage ru0, ru1;
	struct sender *s = NULL;
	int r;

	c->seed = pattern_seed(c->hdr.run_id, c->hdr.conn_index);
	r = sender_create(&s, c->cfg->tx, c->fd, c->cfg->chunk);
	if (r)
		conn_error_set(&c->error,
			       c->cfg->tx == TX_MSG_ZEROCOPY ? "SO_ZEROCOPY"
							     : "sender",
			       -r);
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
	r = send_stream(c, s);
	c->t_end = now_s();
	rusage_now(RUSAGE_THREAD, &ru1);
	rusage_delta(&ru0, &ru1, &c->cpu);
	c->st = s->st;
	if (!r) {
		if (shutdown(c->fd, SHUT_WR)) {
			conn_error_set(&c->error, "shutdown", errno);
		} else {
			r = wait_peer_close(c);
			if (r)
				conn_error_set(&c->error,
					       "waiting for the receiver to "
					       "close",
					       -r);
		}
	}
	s->ops->destroy(s);
	return NULL;
}
