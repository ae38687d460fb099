/* SPDX-License-Identifier: MIT */
/*
 * rpc_server: a small epoll echo server on zcnet's message layer.
 *
 *   build/examples/rpc_server [-p PORT] [-m auto|zerocopy|copy]
 *                             [-c MAX_CONNS] [-q]
 *
 * Listens on 127.0.0.1 only. A request of type 1 (echo) is answered with
 * its own payload and id, flags ZC_MSG_F_REPLY; any other type gets
 * ZC_MSG_F_REPLY | ZC_MSG_F_ERROR and an empty payload. A connection that
 * sends a malformed stream is closed with one line on stderr that says
 * why. SIGINT or SIGTERM prints a summary and exits 0.
 *
 * Try it with the integration test's client, in a namespace of its own
 * (ip netns add rpc; ip -n rpc link set lo up; run both with
 * ip netns exec rpc ...):
 *   build/examples/rpc_server -p 7300 -m zerocopy &
 *   build/tests/msg_peer rpc --connect 127.0.0.1 7300 --conns 16 \
 *       --rounds 20 --bad --msg-zerocopy --mss 4108
 *   kill %1
 * which printed on this project's VM (kernel 6.18):
 *   rpc_server: listening on 127.0.0.1 port 7300, rx mode zerocopy
 *   msg_peer rpc: 16 connections, 336 requests answered and verified,
 *     10609560 payload bytes echoed, bad connection closed by the server
 *   rpc_server: connection 17: bad magic (Bad message)
 *   rpc_server: 17 connections, 336 requests with 13143744 payload bytes
 *     (96.6% mapped, 2 requests partly copied), 10609560 bytes echoed,
 *     1 connections closed for bad input
 * (Mapped needs a MSG_ZEROCOPY sender and page-sized segments, here
 * TCP_MAXSEG 4108; plain sends arrive 0% mapped on loopback.)
 *
 * How it uses the library: one zc_rx_pool for the whole server (one
 * thread: one pool; its window serves every connection, and auto mode
 * decides once for all of them), and per connection a non-blocking
 * socket, a zc_rx on the pool and a zc_msg_rx on that. A request's payload is echoed straight
 * from the views it arrived in (struct zc_msg.seg is an iovec array that
 * zc_msg_send() takes as it is) and the request is released only once
 * its reply is fully written. While a reply waits for a full socket, the
 * connection stops reading (backpressure) and waits for EPOLLOUT. The
 * message layer may hold bytes already read from the socket, so every
 * wakeup reads until -EAGAIN rather than waiting for the next EPOLLIN.
 *
 * A real server would also bound the work done per wakeup and time out
 * idle connections; this one stays short.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcnet.h"

#define RPC_ECHO   1
#define MAX_EVENTS 64

struct conn {
	struct conn *next, *prev; /* all open connections */
	int fd;
	unsigned long long number;
	struct zc_rx *rx;
	struct zc_msg_rx *mrx;
	bool replying; /* req is held until out is written */
	bool want_out; /* registered for EPOLLOUT, not EPOLLIN */
	struct zc_msg req;
	struct zc_msg_out out;
};

struct server {
	int epfd, lfd, sigfd;
	int rx_mode;
	struct zc_rx_pool *pool;
	struct conn list; /* head of the open connections */
	unsigned int conns, max_conns;
	bool quiet;
	/* Totals, for the summary. */ unsigned long long accepted, requests,
		req_bytes, mapped, partly_copied, echoed, bad_input;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: rpc_server [-p PORT] [-m auto|zerocopy|copy] "
		   "[-c MAX_CONNS] [-q]\n"
		   "  Echo server for zcnet messages on 127.0.0.1 "
		   "(default port 7300).\n");
}

static int set_events(struct server *s, struct conn *c, bool want_out)
{
	struct epoll_event ev = {
		.events = want_out ? EPOLLOUT : EPOLLIN,
		.data.ptr = c,
	};

	if (c->want_out == want_out)
		return 0;
	c->want_out = want_out;
	return epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) ? -errno : 0;
}

static void conn_close(struct server *s, struct conn *c)
{
	struct zc_msg_rx_stats st;

	zc_msg_rx_get_stats(c->mrx, &st);
	s->mapped += st.bytes_mapped;
	s->partly_copied += st.assembled;
	if (c->replying)
		zc_msg_release(c->mrx, &c->req);
	zc_msg_rx_free(c->mrx);
	zc_rx_free(c->rx);
	close(c->fd);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	free(c);
	s->conns--;
}

/* The reply to c->req: echo, or an error for a type we do not serve. */
static void start_reply(struct conn *c)
{
	bool echo = c->req.hdr.type == RPC_ECHO;

	memset(&c->out, 0, sizeof(c->out));
	c->out.fd = c->fd;
	c->out.hdr.id = c->req.hdr.id;
	c->out.hdr.type = c->req.hdr.type;
	c->out.hdr.flags = ZC_MSG_F_REPLY | (echo ? 0 : ZC_MSG_F_ERROR);
	if (echo) {
		c->out.hdr.len = c->req.hdr.len;
		c->out.iov = c->req.seg;
		c->out.iovcnt = c->req.nsegs;
	}
	c->replying = true;
}

/*
 * Does all the work a connection has: finishes the reply in progress,
 * then answers requests until the socket has nothing more to read or
 * cannot take more output. Returns 0 to keep the connection, 1 when the
 * peer closed, or -errno.
 */
static int serve(struct server *s, struct conn *c)
{
	int ret;

	for (;;) {
		if (c->replying) {
			ret = zc_msg_send(&c->out);
			if (ret == -EAGAIN)
				return set_events(s, c, true);
			if (ret)
				return ret;
			s->echoed += c->out.hdr.len;
			zc_msg_release(c->mrx, &c->req);
			c->replying = false;
		}
		ret = zc_msg_read(c->mrx, &c->req);
		if (ret == -EAGAIN)
			return set_events(s, c, false);
		if (ret <= 0)
			return ret == 0 ? 1 : ret;
		s->requests++;
		s->req_bytes += c->req.hdr.len;
		start_reply(c);
	}
}

static void accept_all(struct server *s)
{
	struct zc_rx_opts ro = { .mode = (uint32_t)s->rx_mode,
				 .pool = s->pool };
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c;
	int fd, one = 1, ret;

	for (;;) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fprintf(stderr, "rpc_server: accept: %s\n",
					strerror(errno));
			return;
		}
		if (s->conns == s->max_conns) {
			close(fd);
			continue;
		}
		/* Replies are whole messages: do not let Nagle hold the
		 * last segment of one for the peer's delayed ACK. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->number = ++s->accepted;
		ret = zc_rx_create(&c->rx, fd, &ro);
		if (!ret)
			ret = zc_msg_rx_create(&c->mrx, c->rx, NULL);
		ev.data.ptr = c;
		if (!ret && epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev))
			ret = -errno;
		if (ret) {
			fprintf(stderr, "rpc_server: connection %llu: %s\n",
				c->number, strerror(-ret));
			zc_msg_rx_free(c->mrx);
			zc_rx_free(c->rx);
			close(fd);
			free(c);
			continue;
		}
		c->next = s->list.next;
		c->prev = &s->list;
		c->next->prev = c;
		s->list.next = c;
		s->conns++;
	}
}

static void on_conn_event(struct server *s, struct conn *c)
{
	int ret = serve(s, c);
	int why;

	if (ret == 0)
		return;
	if (ret < 0) {
		why = zc_msg_rx_error(c->mrx);
		if (why != ZC_MSG_ERR_NONE) {
			s->bad_input++;
			fprintf(stderr,
				"rpc_server: connection %llu: %s (%s)\n",
				c->number, zc_msg_error_name(why),
				strerror(-ret));
		} else if (!s->quiet) {
			fprintf(stderr, "rpc_server: connection %llu: %s\n",
				c->number, strerror(-ret));
		}
	}
	conn_close(s, c);
}

static int listen_on(int port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 128)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

static int setup(struct server *s, int port)
{
	/* Eight slots a connection, as a window of its own would have: a
	 * 1 MiB request in 512 KiB slots holds three views. A copybuf below
	 * the payload sizes: the kernel copies a queue that fits the copybuf
	 * whole rather than map it (5.11). */
	struct zc_rx_pool_opts po = {
		.slots = s->max_conns > 8192 ? 65536 : s->max_conns * 8,
		.copybuf_size = 16 << 10,
	};
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t mask;
	int ret;

	ret = zc_rx_pool_create(&s->pool, &po);
	if (ret)
		return ret;

	s->list.next = s->list.prev = &s->list;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* Signals arrive as events of the loop, not as handlers. */
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->sigfd < 0 || s->epfd < 0)
		return -errno;
	s->lfd = listen_on(port);
	if (s->lfd < 0)
		return s->lfd;
	ev.data.ptr = &s->lfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev))
		return -errno;
	ev.data.ptr = &s->sigfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &ev))
		return -errno;
	return 0;
}

static int run(struct server *s)
{
	struct epoll_event ev[MAX_EVENTS];
	int n, i;

	for (;;) {
		n = epoll_wait(s->epfd, ev, MAX_EVENTS, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &s->sigfd)
				return 0;
			if (ev[i].data.ptr == &s->lfd)
				accept_all(s);
			else
				on_conn_event(s, ev[i].data.ptr);
		}
	}
}

int main(int argc, char **argv)
{
	struct server s = { .max_conns = 1024, .rx_mode = ZC_RX_AUTO };
	struct conn *c, *next;
	int opt, port = 7300, ret;
	char *end;

	if (argc > 1 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	opterr = 0; /* one line of our own on a usage error */
	while ((opt = getopt(argc, argv, "p:m:c:qh")) != -1) {
		switch (opt) {
		case 'p':
			port = (int)strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535)
				goto usage_error;
			break;
		case 'm':
			s.rx_mode = zc_rx_mode_parse(optarg);
			if (s.rx_mode < 0)
				goto usage_error;
			break;
		case 'c':
			s.max_conns = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !s.max_conns)
				goto usage_error;
			break;
		case 'q':
			s.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto usage_error;
		}
	}
	if (optind != argc)
		goto usage_error;

	ret = setup(&s, port);
	if (ret) {
		fprintf(stderr, "rpc_server: start on 127.0.0.1 port %d: %s\n",
			port, strerror(-ret));
		return 1;
	}
	printf("rpc_server: listening on 127.0.0.1 port %d, rx mode %s\n", port,
	       zc_rx_mode_name(s.rx_mode));
	fflush(stdout);
	ret = run(&s);
	if (ret) {
		fprintf(stderr, "rpc_server: epoll_wait: %s\n", strerror(-ret));
		return 1;
	}
	for (c = s.list.next; c != &s.list; c = next) {
		next = c->next;
		conn_close(&s, c);
	}
	zc_rx_pool_free(s.pool);
	printf("rpc_server: %llu connections, %llu requests with %llu payload "
	       "bytes (%.1f%% mapped, %llu requests partly copied), %llu bytes "
	       "echoed, %llu connections closed for bad input\n",
	       s.accepted, s.requests, s.req_bytes,
	       s.req_bytes ? 100.0 * (double)s.mapped / (double)s.req_bytes
			   : 0.0,
	       s.partly_copied, s.echoed, s.bad_input);
	return 0;

usage_error:
	fprintf(stderr, "rpc_server: bad arguments\n"
			"Try 'rpc_server --help' for more information.\n");
	return 2;
}
