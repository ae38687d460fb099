/* SPDX-License-Identifier: MIT */
/*
 * zcperf -s: the receiver. It serves one client at a time, as iperf3 does:
 * the first connection's header says how many connections the client
 * opens (-P); each gets its own receiving thread as soon as it arrives,
 * and the summary follows when every stream has ended. Connections of
 * another client meanwhile are refused (closed). With -1 the process
 * exits after that client with 0 when every stream ended cleanly and
 * verified, else 1. SIGINT ends the session where it is: the summary
 * shows what arrived until then, and the process exits with 130.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcperf.h"

#define HEADER_TIMEOUT_MS  5000
#define SIBLING_TIMEOUT_MS 10000 /* for the other -P connections */

int listen_socket(const struct cfg *cfg)
{
	struct sockaddr_storage ss = { 0 };
	int family = cfg->family == AF_INET ? AF_INET : AF_INET6;
	int fd, one = 1, v6only = cfg->family == AF_INET6, r;
	char ctx[64];
	socklen_t len;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && errno == EAFNOSUPPORT && cfg->family == AF_UNSPEC) {
		/* No IPv6 here: serve IPv4 only. */
		family = AF_INET;
		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		fatal("socket", errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)))
		fatal("IPV6_V6ONLY", errno);
	/* Accepted sockets inherit it: it caps the MSS we advertise, so
	 * the sender's segments carry at most that much payload. */
	r = set_mss(fd, cfg->mss);
	if (r)
		fatal("TCP_MAXSEG", -r);
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons(cfg->port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons(cfg->port);
		len = sizeof(*s4);
	}
	snprintf(ctx, sizeof(ctx), "bind to port %u", cfg->port);
	if (bind(fd, (struct sockaddr *)&ss, len))
		fatal(ctx, errno);
	if (listen(fd, 128))
		fatal("listen", errno);
	return fd;
}

void peer_name(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, len, "%s port %u", a, port);
}

/* Accepts one connection and reads its header. Returns the fd, or -1 after
 * telling why the connection was dropped: also when the client runs the
 * other mode (stream or --rpc) than this server. */
int accept_one(const struct cfg *cfg, int lfd, struct wire_hdr *h, char *peer,
	       size_t peer_len)
{
	/* Zeroed: clang-analyzer does not see accept4() fill it. */
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	int fd, r;

	fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0) {
		/* After SIGINT: EINVAL, the listening socket is shut down. */
		if (errno == EINTR || errno == ECONNABORTED || interrupted())
			return -1;
		fatal("accept", errno);
	}
	peer_name(&ss, peer, peer_len);
	r = wire_recv(fd, h, HEADER_TIMEOUT_MS);
	if (r) {
		fprintf(stderr, "zcperf: connection from %s: %s (dropped)\n",
			peer,
			r == -EPROTO ? "not a zcperf sender (bad header)"
				     : strerror(-r));
		close(fd);
		return -1;
	}
	if (!cfg->rpc && !(h->flags & WIRE_F_RPC) &&
	    !(h->flags & WIRE_F_UDP) != !cfg->udp) {
		fprintf(stderr, "zcperf: connection from %s: %s (dropped)\n",
			peer,
			cfg->udp
				? "a TCP stream sender, but this server runs "
				  "-u"
				: "a UDP sender (-u), but this server runs TCP "
				  "(start it with -s -u)");
		close(fd);
		return -1;
	}
	if (!(h->flags & WIRE_F_RPC) != !cfg->rpc) {
		fprintf(stderr, "zcperf: connection from %s: %s (dropped)\n",
			peer,
			cfg->rpc ? "a stream sender, but this server runs "
				   "--rpc"
				 : "an --rpc client, but this server runs "
				   "stream mode (start it with -s --rpc)");
		close(fd);
		return -1;
	}
	return fd;
}

static void *rx_thread(void *arg)
{
	struct rx_conn *c = arg;

	rx_conn_run(c);
	/* Close at once: after the end this lets the sender finish; after
	 * an error, closing with unread data resets the connection, which
	 * stops the sender. */
	interrupt_close(c->fd);
	c->fd = -1;
	if (c->udp_fd >= 0)
		close(c->udp_fd);
	c->udp_fd = -1;
	return NULL;
}

static void start_conn(struct rx_session *s, int fd, const struct wire_hdr *h,
		       const char *peer)
{
	struct rx_conn *c = &s->conns[h->conn_index];
	char sz[32];

	c->fd = fd;
	c->udp_fd = -1;
	c->cfg = s->cfg;
	/* SIGINT shuts it down, so a receive blocked on it returns (with
	 * -u it is the control connection the receive loop polls too). */
	interrupt_watch(fd);
	c->hdr = *h;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if (h->flags & WIRE_F_UDP) {
		if (rx_udp_setup(c)) {
			/* The sender learns of it from the closed control
			 * connection; the summary says why. */
			interrupt_close(fd);
			c->fd = -1;
			return;
		}
	}
	if (!s->cfg->json && (h->flags & WIRE_F_UDP))
		printf("[%3u] accepted %s (sender: %s, UDP datagrams of %u "
		       "bytes%s)\n",
		       h->conn_index, peer, tx_kind_name((int)h->tx), h->chunk,
		       h->flags & WIRE_F_PATTERN ? "" : ", no pattern");
	else if (!s->cfg->json)
		printf("[%3u] accepted %s (sender: %s, mss %u, write size "
		       "%s%s)\n",
		       h->conn_index, peer, tx_kind_name((int)h->tx), h->mss,
		       fmt_iec(sz, sizeof(sz), h->chunk),
		       h->flags & WIRE_F_PATTERN ? "" : ", no pattern");
	fflush(stdout);
	if (pthread_create(&c->thread, NULL, rx_thread, c))
		fatal("pthread_create", EAGAIN);
	c->started = true;
}

static int serve_session(const struct cfg *cfg, int lfd)
{
	struct rx_session s = { .cfg = cfg };
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	struct rusage ru0, ru1;
	struct ticker ticker;
	struct wire_hdr h;
	unsigned int got = 1, i;
	char peer[64];
	int fd, r, rc;

	do {
		fd = accept_one(cfg, lfd, &h, peer, sizeof(peer));
	} while (fd < 0 && !interrupted());
	if (fd < 0)
		return interrupt_idle(cfg, "receiver");
	s.n = h.conn_count;
	s.conns = calloc(s.n, sizeof(*s.conns));
	if (!s.conns)
		fatal("calloc", ENOMEM);
	for (i = 0; i < s.n; i++) {
		s.conns[i].fd = -1;
		s.conns[i].udp_fd = -1;
	}
	steal_sample(&s.steal0);
	rusage_now(RUSAGE_SELF, &ru0);
	s.t0 = now_s();
	memset(&ticker, 0, sizeof(ticker));
	if (cfg->interval > 0) {
		ticker.every = cfg->interval;
		ticker.quiet = cfg->json;
		ticker.rx = true;
		ticker.t0 = s.t0;
		for (i = 0; i < s.n; i++)
			ticker_add(&ticker, &s.conns[i].live_bytes,
				   &s.conns[i].live_mapped);
		s.ticker = &ticker;
		ticker_start(&ticker);
	}
	start_conn(&s, fd, &h, peer);
	while (got < s.n) {
		uint64_t run_id = h.run_id;

		r = poll(&pfd, 1, SIBLING_TIMEOUT_MS);
		/* SIGINT: the summary shows the connections that came. */
		if (interrupted())
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(s.error.detail, sizeof(s.error.detail),
				 "only %u of %u connections arrived", got, s.n);
			conn_error_set(&s.error, "accept", ETIMEDOUT);
			break;
		}
		fd = accept_one(cfg, lfd, &h, peer, sizeof(peer));
		if (fd < 0)
			continue;
		if (h.run_id != run_id || h.conn_count != s.n ||
		    s.conns[h.conn_index].started) {
			fprintf(stderr,
				"zcperf: connection from %s: busy with another "
				"client (refused)\n",
				peer);
			close(fd);
			h.run_id = run_id;
			continue;
		}
		start_conn(&s, fd, &h, peer);
		got++;
	}
	for (i = 0; i < s.n; i++)
		if (s.conns[i].started)
			pthread_join(s.conns[i].thread, NULL);
	s.t1 = now_s();
	s.interrupted = interrupted();
	if (s.ticker)
		ticker_stop(&ticker);
	rusage_now(RUSAGE_SELF, &ru1);
	rusage_delta(&ru0, &ru1, &s.process);
	steal_sample(&s.steal1);
	rc = report_rx(&s);
	free(s.conns);
	free(ticker.recs);
	return rc;
}

int run_server(const struct cfg *cfg)
{
	int lfd = listen_socket(cfg), rc;
	char sz[32];

	/* SIGINT shuts it down: a blocked accept returns. */
	interrupt_watch(lfd);
	if (!cfg->json) {
		if (cfg->udp)
			printf("Server listening on port %u (UDP senders: "
			       "control on TCP, datagrams to a port per "
			       "connection%s)\n",
			       cfg->port, cfg->one_off ? ", one client" : "");
		else
			printf("Server listening on port %u (rx %s, slot "
			       "%s%s)\n",
			       cfg->port, rx_kind_name(cfg->rx),
			       fmt_iec(sz, sizeof(sz), cfg->chunk),
			       cfg->one_off ? ", one client" : "");
		fflush(stdout);
	}
	do {
		rc = serve_session(cfg, lfd);
		fflush(stdout);
	} while (!cfg->one_off && !interrupted());
	interrupt_close(lfd);
	return rc;
}
