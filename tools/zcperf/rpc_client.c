/* SPDX-License-Identifier: MIT */
/*
 * zcperf -c HOST --rpc: the request/response client. It opens -P
 * connections, deals them round-robin to --threads event-loop threads and
 * keeps one request outstanding on each (closed loop) for -t seconds. Every
 * response is checked (id, size, every payload byte) and its latency, from
 * just before the request was handed to the socket to the moment the
 * message layer delivered the whole response, goes into the thread's
 * histogram. At the deadline a connection sends no more requests: after
 * its last response it shuts down its write side and waits for the server
 * to close, so both sides end with every message accounted for.
 * SIGINT moves the deadline to now: the same clean end, sooner, and the
 * summary marked as interrupted. The loop never blocks for long, so no
 * socket needs to be shut down for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc.h"

#define MAX_EVENTS    64
#define DRAIN_LIMIT_S 30.0 /* after the deadline, for the last responses */

/* Sends the connection's next request. 0 or -errno with c->error set. */
static int send_request(struct rpc_conn *c)
{
	struct zc_msg_hdr h = { 0 };
	int r;

	h.id = c->next_id;
	h.type = c->resp_size;
	h.len = c->req_size;
	c->t_sent_ns = now_ns();
	r = rpc_send_start(c, &h, rpc_seed(c->run_id, c->index, h.id, false));
	if (r == -EAGAIN)
		return 0;
	if (r)
		conn_error_set(&c->error, "send request", -r);
	return r;
}

static int check_response(struct rpc_conn *c, const struct zc_msg *m)
{
	const struct zc_msg_hdr *h = &m->hdr;

	if (h->flags == (ZC_MSG_F_REPLY | ZC_MSG_F_ERROR)) {
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "the server answered request %" PRIu64
			 " with an error",
			 h->id);
		conn_error_set(&c->error, "receive", EPROTO);
		return -EPROTO;
	}
	if (h->flags != ZC_MSG_F_REPLY || h->id != c->next_id ||
	    h->len != c->resp_size || h->type) {
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "response with id %" PRIu64 ", flags 0x%x, type %u, "
			 "%u payload bytes; expected id %" PRIu64
			 ", a reply of %u bytes",
			 h->id, h->flags, h->type, h->len, c->next_id,
			 c->resp_size);
		conn_error_set(&c->error, "receive", EPROTO);
		return -EPROTO;
	}
	return 0;
}

static void close_conn(struct rpc_thread *t, struct rpc_conn *c)
{
	rpc_conn_close(c);
	t->open--;
}

/* One response: check, account, and send the next request or stop. */
static int on_response(struct rpc_thread *t, struct rpc_conn *c,
		       struct zc_msg *m)
{
	uint64_t ns = now_ns();
	int r;

	r = check_response(c, m);
	if (!r && c->verify)
		r = rpc_check_payload(
			c, m, rpc_seed(c->run_id, c->index, m->hdr.id, true),
			"response");
	zc_msg_release(c->mrx, m);
	if (r) {
		c->verified = false;
		return r;
	}
	hist_add(&t->hist, ns - c->t_sent_ns);
	c->st.txns++;
	c->next_id++;
	t->t_last = (double)ns / 1e9;
	if ((double)ns / 1e9 < t->deadline)
		return send_request(c);
	/* Our FIN tells the server we are done; it closes in turn. */
	if (shutdown(c->fd, SHUT_WR)) {
		conn_error_set(&c->error, "shutdown", errno);
		return -errno;
	}
	c->draining = true;
	return 0;
}

static void pump(struct rpc_thread *t, struct rpc_conn *c, uint32_t events)
{
	struct zc_msg m;
	int r;

	if (events & EPOLLERR) {
		r = rpc_conn_errqueue(c);
		if (r < 0) {
			conn_error_set(&c->error, "send completions", -r);
			goto fail;
		}
	}
	if (c->sending) {
		r = rpc_send_more(c);
		if (r && r != -EAGAIN) {
			conn_error_set(&c->error, "send request", -r);
			goto fail;
		}
	}
	for (;;) {
		memset(&m, 0, sizeof(m));
		r = zc_msg_read(c->mrx, &m);
		if (r == 1) {
			if (on_response(t, c, &m))
				goto fail;
			continue;
		}
		if (r == -EAGAIN)
			break;
		if (r == -ENOBUFS) {
			c->st.rx_starved++;
			break;
		}
		if (r == 0 && c->draining) {
			close_conn(t, c);
			return;
		}
		if (r == 0) {
			snprintf(c->error.detail, sizeof(c->error.detail),
				 "the server closed the connection with "
				 "request %" PRIu64
				 " unanswered (see its output)",
				 c->next_id);
			conn_error_set(&c->error, "receive", ECONNRESET);
			goto fail;
		}
		rpc_read_error(c, r, "server");
		goto fail;
	}
	r = rpc_conn_watch(c, t->epfd, false);
	if (!r)
		return;
	conn_error_set(&c->error, "epoll_ctl", -r);
fail:
	c->verified = false;
	close_conn(t, c);
}

static void *client_thread(void *arg)
{
	struct rpc_thread *t = arg;
	struct epoll_event ev[MAX_EVENTS];
	struct rusage ru0, ru1;
	unsigned int i;
	double now;
	int n;

	pthread_barrier_wait(t->start);
	rusage_now(RUSAGE_THREAD, &ru0);
	t->t_first = now_s();
	t->deadline = t->t_first + t->cfg->seconds;
	for (i = 0; i < t->n; i++) {
		struct rpc_conn *c = t->conns[i];

		if (send_request(c) || rpc_conn_watch(c, t->epfd, true)) {
			c->verified = false;
			if (!c->error.err)
				conn_error_set(&c->error, "epoll_ctl", errno);
			close_conn(t, c);
		}
	}
	while (t->open) {
		n = epoll_wait(t->epfd, ev, MAX_EVENTS, 100);
		/* Before the events: a response read now starts no new
		 * request. */
		if (interrupted() && now_s() < t->deadline)
			t->deadline = now_s();
		if (n < 0 && errno != EINTR) {
			conn_error_set(&t->error, "epoll_wait", errno);
			break;
		}
		for (i = 0; n > 0 && i < (unsigned int)n; i++) {
			struct rpc_conn *c = ev[i].data.ptr;

			if (c->open)
				pump(t, c, ev[i].events);
		}
		now = now_s();
		if (now < t->deadline + DRAIN_LIMIT_S)
			continue;
		snprintf(t->error.detail, sizeof(t->error.detail),
			 "%u connections still open %.0f s after the end",
			 t->open, DRAIN_LIMIT_S);
		conn_error_set(&t->error, "receive", ETIMEDOUT);
		break;
	}
	for (i = 0; i < t->n; i++)
		if (t->conns[i]->open) {
			t->conns[i]->verified = false;
			close_conn(t, t->conns[i]);
		}
	rusage_now(RUSAGE_THREAD, &ru1);
	rusage_delta(&ru0, &ru1, &t->cpu);
	return NULL;
}

static int connect_one(struct rpc_session *s, struct rpc_conn *c,
		       const struct addrinfo *ai, uint64_t run_id)
{
	struct tx_conn tmp = { 0 };
	int r;

	/* The stream sender's connect: retries a refused connection for a
	 * second, sets the MSS before the SYN, sends the header. */
	tmp.hdr.run_id = run_id;
	tmp.hdr.conn_index = c->index;
	tmp.hdr.conn_count = s->n;
	tmp.hdr.flags = WIRE_F_RPC | (s->cfg->verify ? WIRE_F_PATTERN : 0);
	tmp.hdr.tx = (uint32_t)s->cfg->tx;
	tmp.hdr.chunk = s->req_size;
	tmp.hdr.planned_bytes = s->resp_size;
	tmp.fd = -1;
	r = tx_conn_connect(&tmp, ai->ai_addr, ai->ai_addrlen, s->cfg->mss);
	if (r) {
		c->error = tmp.error;
		return r;
	}
	c->fd = tmp.fd;
	s->mss = tmp.hdr.mss;
	return 0;
}

static void fail_connect(const struct cfg *cfg, const struct rpc_conn *c)
{
	char ctx[320];

	snprintf(ctx, sizeof(ctx), "%s to %s port %u", c->error.context,
		 cfg->host, cfg->port);
	fatal(ctx, c->error.err);
}

int run_rpc_client(const struct cfg *cfg)
{
	struct rpc_session s = { .cfg = cfg, .host = cfg->host };
	struct addrinfo *res, *ai, *chosen = NULL;
	unsigned int nt, i, k;
	pthread_barrier_t start;
	struct rusage ru0, ru1;
	uint64_t run_id = random_u64();
	int r, rc;

	s.n = cfg->parallel;
	s.req_size = cfg->req_size;
	s.resp_size = cfg->resp_size;
	nt = cfg->threads < s.n ? cfg->threads : s.n;
	r = rpc_raise_nofile(s.n);
	if (r)
		fatal("RLIMIT_NOFILE (raise ulimit -n)", -r);
	res = resolve(cfg);
	s.conns = calloc(s.n, sizeof(*s.conns));
	s.threads = calloc(nt, sizeof(*s.threads));
	if (!s.conns || !s.threads)
		fatal("calloc", ENOMEM);
	s.nthreads = nt;
	for (i = 0; i < s.n; i++) {
		struct rpc_conn *c = &s.conns[i];

		c->fd = -1;
		c->index = i;
		c->run_id = run_id;
		c->req_size = s.req_size;
		c->resp_size = s.resp_size;
		/* The first address that answers is used for all. */
		for (ai = chosen ? chosen : res; ai; ai = ai->ai_next) {
			memset(&c->error, 0, sizeof(c->error));
			if (!connect_one(&s, c, ai, run_id) || chosen)
				break;
		}
		if (c->fd < 0)
			fail_connect(cfg, c);
		chosen = ai;
	}
	pthread_barrier_init(&start, NULL, nt + 1);
	for (k = 0; k < nt; k++) {
		struct rpc_thread *t = &s.threads[k];

		t->cfg = cfg;
		t->index = k;
		t->start = &start;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
		t->conns = calloc(s.n / nt + 1, sizeof(*t->conns));
		t->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (!t->conns)
			fatal("calloc", ENOMEM);
		if (t->epfd < 0)
			fatal("epoll_create1", errno);
		if (cfg->rx_window == RXW_POOL) {
			r = rpc_pool_create(&t->pool, cfg, s.n / nt + 1);
			if (r)
				fatal("zc_rx_pool_create", -r);
		}
	}
	for (i = 0; i < s.n; i++) {
		struct rpc_thread *t = &s.threads[i % nt];
		struct rpc_conn *c = &s.conns[i];

		t->conns[t->n++] = c;
		r = rpc_conn_setup(c, cfg, t->pool, s.resp_size, s.req_size);
		if (r) {
			char ctx[96];

			snprintf(ctx, sizeof(ctx), "connection %u: %s", i,
				 c->error.context);
			fatal(ctx, -r);
		}
		t->open++;
	}
	if (!cfg->json) {
		char a[32], b[32];

		printf("Connecting to %s port %u: %u connections (rpc), %u "
		       "thread%s, requests %s, responses %s, tx %s, rx %s "
		       "(%s windows), mss %u, for %g s\n",
		       cfg->host, cfg->port, s.n, nt, nt > 1 ? "s" : "",
		       fmt_iec(a, sizeof(a), s.req_size),
		       fmt_iec(b, sizeof(b), s.resp_size),
		       tx_kind_name(cfg->tx), rx_kind_name(cfg->rx),
		       rx_window_name(cfg->rx_window), s.mss, cfg->seconds);
		fflush(stdout);
	}
	steal_sample(&s.steal0);
	rusage_now(RUSAGE_SELF, &ru0);
	for (k = 0; k < nt; k++) {
		if (pthread_create(&s.threads[k].thread, NULL, client_thread,
				   &s.threads[k]))
			fatal("pthread_create", EAGAIN);
		s.threads[k].started = true;
	}
	pthread_barrier_wait(&start);
	s.t0 = now_s();
	for (k = 0; k < nt; k++)
		pthread_join(s.threads[k].thread, NULL);
	s.t1 = now_s();
	s.interrupted = interrupted();
	rusage_now(RUSAGE_SELF, &ru1);
	rusage_delta(&ru0, &ru1, &s.process);
	steal_sample(&s.steal1);
	rc = rpc_report(&s);
	for (k = 0; k < nt; k++) {
		close(s.threads[k].epfd);
		zc_rx_pool_free(s.threads[k].pool);
		free(s.threads[k].conns);
	}
	free(s.threads);
	free(s.conns);
	freeaddrinfo(res);
	pthread_barrier_destroy(&start);
	return rc;
}
