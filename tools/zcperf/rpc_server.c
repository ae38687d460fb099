/* SPDX-License-Identifier: MIT */
/*
 * zcperf -s --rpc: the request/response server. Like the stream receiver it
 * serves one client at a time: the first connection's header says how many
 * connections the client opens; when all are in, they are dealt round-robin
 * to --threads event-loop threads, each an epoll set of non-blocking
 * sockets (level-triggered, as redis's ae_epoll.c). A thread reads
 * requests with zc_msg_read() until -EAGAIN, checks each one's id, sizes
 * and every payload byte, releases it, and answers with a response of the
 * size the request asked for. A connection ends when the client closes it
 * between messages; the summary follows when all have ended.
 *
 * SIGINT ends the session where it is: each thread closes its connections
 * (a request half read is dropped) and the summary counts the
 * transactions served until then.
 *
 * --rx-window=pool gives each thread one zc_rx_pool that all its
 * connections take their slots from, instead of a window per connection.
 * --mmap-churn adds a thread that maps and unmaps a small anonymous region
 * in a loop, taking the process's mmap write lock all the time: before 6.5
 * that stalled every TCP_ZEROCOPY_RECEIVE in the process, since 6.5 the
 * receive path takes a per-VMA lock instead (seed 004).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc.h"

#define SIBLING_TIMEOUT_MS 10000 /* for the other -P connections */
#define MAX_EVENTS	   64
#define CHURN_LEN	   (64u << 10)
/* epoll_wait's timeout: how soon a thread sees SIGINT. Its sockets are
 * not shut down for it, as the stream receiver's are: a request half
 * read would then end early and count as a broken stream. */
#define WAKE_MS 100

struct churn {
	pthread_t thread;
	bool started;
	bool stop;
	uint64_t loops;
	int err;
	double t0, t1;
};

static void *churn_thread(void *arg)
{
	struct churn *ch = arg;
	void *p;

	ch->t0 = now_s();
	while (!__atomic_load_n(&ch->stop, __ATOMIC_RELAXED)) {
		/* Never touched: only the VMA work and its write lock. */
		p = mmap(NULL, CHURN_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			ch->err = errno;
			break;
		}
		munmap(p, CHURN_LEN);
		ch->loops++;
	}
	ch->t1 = now_s();
	return NULL;
}

/* Checks what the request header says against what the client announced
 * and the requests before it. */
static int check_request(struct rpc_conn *c, const struct zc_msg *m)
{
	const struct zc_msg_hdr *h = &m->hdr;

	if (h->flags || h->id != c->next_id || h->len != c->req_size ||
	    h->type != c->resp_size) {
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "request with id %" PRIu64 ", flags 0x%x, %u payload "
			 "bytes asking for %u; expected id %" PRIu64
			 ", flags 0, %u bytes asking for %u",
			 h->id, h->flags, h->len, h->type, c->next_id,
			 c->req_size, c->resp_size);
		conn_error_set(&c->error, "receive", EPROTO);
		c->verified = false;
		return -EPROTO;
	}
	return 0;
}

/* The socket took the whole response: one transaction served, in the time
 * from reading the request to here. */
static void response_done(struct rpc_thread *t, struct rpc_conn *c)
{
	uint64_t ns = now_ns();

	c->st.txns++;
	t->t_last = (double)ns / 1e9;
	hist_add(&t->hist, ns - c->t_sent_ns);
}

/* Answers one request. Returns 0 (the response may still wait for
 * EPOLLOUT: c->sending), or -errno with c->error set. */
static int serve_one(struct rpc_thread *t, struct rpc_conn *c, struct zc_msg *m,
		     uint64_t t_read_ns)
{
	struct zc_msg_hdr reply = { 0 };
	int r;

	r = check_request(c, m);
	if (!r && c->verify)
		r = rpc_check_payload(
			c, m, rpc_seed(c->run_id, c->index, m->hdr.id, false),
			"request");
	reply.id = m->hdr.id;
	reply.len = m->hdr.type;
	reply.flags = ZC_MSG_F_REPLY;
	/* Give the views back before answering: the next request may need
	 * them, and a pool's slots serve every connection. */
	zc_msg_release(c->mrx, m);
	if (r)
		return r;
	if (!t->t_first)
		t->t_first = (double)t_read_ns / 1e9;
	c->t_sent_ns = t_read_ns;
	c->next_id++;
	r = rpc_send_start(c, &reply,
			   rpc_seed(c->run_id, c->index, reply.id, true));
	if (r && r != -EAGAIN) {
		conn_error_set(&c->error, "send response", -r);
		return r;
	}
	/* Counted when the socket took the whole response (below) or
	 * accepted its last byte later (EPOLLOUT). */
	if (!r)
		response_done(t, c);
	return 0;
}

static void close_conn(struct rpc_thread *t, struct rpc_conn *c)
{
	rpc_conn_close(c);
	t->open--;
}

/* Everything a connection can do now: finish a response, then read and
 * answer requests until the socket has no whole one. */
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
		if (r == -EAGAIN)
			goto watch;
		if (r) {
			conn_error_set(&c->error, "send response", -r);
			goto fail;
		}
		response_done(t, c);
	}
	for (;;) {
		memset(&m, 0, sizeof(m));
		r = zc_msg_read(c->mrx, &m);
		if (r == 1) {
			if (serve_one(t, c, &m, now_ns()))
				goto fail;
			if (c->sending)
				break; /* read on once it is out */
			continue;
		}
		if (r == -EAGAIN)
			break;
		if (r == -ENOBUFS) {
			/* The pool has no free slot: other connections
			 * hold them; they give them back as they finish
			 * their requests. Level-triggered epoll calls
			 * again. */
			c->st.rx_starved++;
			break;
		}
		if (r == 0) {
			/* The client closed between messages: done. */
			close_conn(t, c);
			return;
		}
		rpc_read_error(c, r, "client");
		goto fail;
	}
watch:
	r = rpc_conn_watch(c, t->epfd, false);
	if (!r)
		return;
	conn_error_set(&c->error, "epoll_ctl", -r);
fail:
	c->verified = false;
	close_conn(t, c);
}

static void *server_thread(void *arg)
{
	struct rpc_thread *t = arg;
	struct epoll_event ev[MAX_EVENTS];
	struct rusage ru0, ru1;
	unsigned int i;
	int n;

	rusage_now(RUSAGE_THREAD, &ru0);
	while (t->open) {
		n = epoll_wait(t->epfd, ev, MAX_EVENTS, WAKE_MS);
		if (interrupted()) {
			for (i = 0; i < t->n; i++)
				if (t->conns[i]->open)
					close_conn(t, t->conns[i]);
			break;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			conn_error_set(&t->error, "epoll_wait", errno);
			for (i = 0; i < t->n; i++)
				if (t->conns[i]->open)
					close_conn(t, t->conns[i]);
			break;
		}
		for (i = 0; i < (unsigned int)n; i++) {
			struct rpc_conn *c = ev[i].data.ptr;

			if (c->open)
				pump(t, c, ev[i].events);
		}
	}
	rusage_now(RUSAGE_THREAD, &ru1);
	rusage_delta(&ru0, &ru1, &t->cpu);
	return NULL;
}

/* Deals the connections to threads and sets each one up. */
static int setup_threads(struct rpc_session *s, const struct wire_hdr *h)
{
	const struct cfg *cfg = s->cfg;
	unsigned int nt = cfg->threads < s->n ? cfg->threads : s->n, i, k;
	int r;

	/* Never 0 (--threads >= 1, wire_recv() refuses conn_count 0), but
	 * it divides below and the analyzer cannot see those files. */
	if (!nt)
		return -EINVAL;
	s->threads = calloc(nt, sizeof(*s->threads));
	if (!s->threads)
		return -ENOMEM;
	s->nthreads = nt;
	for (k = 0; k < nt; k++) {
		struct rpc_thread *t = &s->threads[k];

		t->cfg = cfg;
		t->index = k;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
		t->conns = calloc(s->n / nt + 1, sizeof(*t->conns));
		t->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (!t->conns || t->epfd < 0)
			return t->conns ? -errno : -ENOMEM;
	}
	for (i = 0; i < s->n; i++) {
		struct rpc_thread *t = &s->threads[i % nt];

		t->conns[t->n++] = &s->conns[i];
	}
	for (k = 0; k < nt; k++) {
		struct rpc_thread *t = &s->threads[k];

		if (cfg->rx_window == RXW_POOL) {
			r = rpc_pool_create(&t->pool, cfg, t->n);
			if (r) {
				conn_error_set(&s->error, "zc_rx_pool_create",
					       -r);
				return r;
			}
		}
		for (i = 0; i < t->n; i++) {
			struct rpc_conn *c = t->conns[i];

			c->run_id = h->run_id;
			c->req_size = h->chunk;
			c->resp_size = (uint32_t)h->planned_bytes;
			r = rpc_conn_setup(c, cfg, t->pool, c->req_size,
					   c->resp_size);
			if (!r)
				r = rpc_conn_watch(c, t->epfd, true);
			if (r) {
				if (!c->error.err)
					conn_error_set(&c->error, "epoll_ctl",
						       -r);
				s->error = c->error;
				return r;
			}
			t->open++;
		}
	}
	return 0;
}

static void free_session(struct rpc_session *s)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (s->conns[i].open || s->conns[i].fd >= 0)
			rpc_conn_close(&s->conns[i]);
	for (i = 0; s->threads && i < s->nthreads; i++) {
		if (s->threads[i].epfd > 0)
			close(s->threads[i].epfd);
		zc_rx_pool_free(s->threads[i].pool);
		free(s->threads[i].conns);
	}
	free(s->threads);
	free(s->conns);
}

/* Accepts the client's other connections; returns how many arrived. */
static unsigned int gather(struct rpc_session *s, int lfd,
			   const struct wire_hdr *first)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	unsigned int got = 1;
	struct wire_hdr h;
	char peer[64];
	int fd, r;

	while (got < s->n) {
		r = poll(&pfd, 1, SIBLING_TIMEOUT_MS);
		/* SIGINT: the summary shows that none ran. */
		if (interrupted())
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(s->error.detail, sizeof(s->error.detail),
				 "only %u of %u connections arrived", got,
				 s->n);
			conn_error_set(&s->error, "accept", ETIMEDOUT);
			break;
		}
		fd = accept_one(s->cfg, lfd, &h, peer, sizeof(peer));
		if (fd < 0)
			continue;
		if (h.run_id != first->run_id || h.conn_count != s->n ||
		    s->conns[h.conn_index].fd >= 0) {
			fprintf(stderr,
				"zcperf: connection from %s: busy with another "
				"client (refused)\n",
				peer);
			close(fd);
			continue;
		}
		s->conns[h.conn_index].fd = fd;
		snprintf(s->conns[h.conn_index].peer,
			 sizeof(s->conns[h.conn_index].peer), "%s", peer);
		got++;
	}
	return got;
}

static int serve_session(const struct cfg *cfg, int lfd)
{
	struct rpc_session s = { .cfg = cfg, .server = true };
	struct churn churn = { 0 };
	struct rusage ru0, ru1;
	struct wire_hdr h;
	unsigned int i;
	char peer[64];
	int fd, r, rc;

	do {
		fd = accept_one(cfg, lfd, &h, peer, sizeof(peer));
	} while (fd < 0 && !interrupted());
	if (fd < 0)
		return interrupt_idle(cfg, "rpc-server");
	s.n = h.conn_count;
	s.req_size = h.chunk;
	s.resp_size = (uint32_t)h.planned_bytes;
	s.peer_tx = (int)h.tx;
	s.peer_mss = h.mss;
	s.conns = calloc(s.n, sizeof(*s.conns));
	if (!s.conns)
		fatal("calloc", ENOMEM);
	for (i = 0; i < s.n; i++) {
		s.conns[i].fd = -1;
		s.conns[i].index = i;
	}
	s.conns[h.conn_index].fd = fd;
	snprintf(s.conns[h.conn_index].peer, sizeof(s.conns[0].peer), "%s",
		 peer);
	if (!cfg->json) {
		char a[32], b[32];

		printf("rpc client %s: %u connections, requests %s, "
		       "responses %s (client tx %s, mss %u)\n",
		       peer, s.n, fmt_iec(a, sizeof(a), s.req_size),
		       fmt_iec(b, sizeof(b), s.resp_size),
		       tx_kind_name(s.peer_tx), s.peer_mss);
		fflush(stdout);
	}
	if (h.planned_bytes > ZCPERF_RPC_MAX_SIZE ||
	    h.chunk > ZCPERF_RPC_MAX_SIZE) {
		snprintf(s.error.detail, sizeof(s.error.detail),
			 "the client asks for payloads above %u bytes",
			 ZCPERF_RPC_MAX_SIZE);
		conn_error_set(&s.error, "accept", EMSGSIZE);
	} else if (gather(&s, lfd, &h) == s.n && !interrupted()) {
		r = setup_threads(&s, &h);
		if (r && !s.error.err)
			conn_error_set(&s.error, "setup", -r);
	}
	steal_sample(&s.steal0);
	rusage_now(RUSAGE_SELF, &ru0);
	s.t0 = now_s();
	if (!s.error.err && cfg->mmap_churn) {
		s.churn = true;
		if (pthread_create(&churn.thread, NULL, churn_thread, &churn))
			fatal("pthread_create", EAGAIN);
		churn.started = true;
	}
	for (i = 0; !s.error.err && i < s.nthreads; i++) {
		if (pthread_create(&s.threads[i].thread, NULL, server_thread,
				   &s.threads[i]))
			fatal("pthread_create", EAGAIN);
		s.threads[i].started = true;
	}
	for (i = 0; i < s.nthreads; i++)
		if (s.threads[i].started)
			pthread_join(s.threads[i].thread, NULL);
	s.t1 = now_s();
	s.interrupted = interrupted();
	if (churn.started) {
		__atomic_store_n(&churn.stop, true, __ATOMIC_RELAXED);
		pthread_join(churn.thread, NULL);
		s.churn_loops = churn.loops;
		s.churn_s = churn.t1 - churn.t0;
		if (churn.err)
			conn_error_set(&s.error, "mmap churn", churn.err);
	}
	rusage_now(RUSAGE_SELF, &ru1);
	rusage_delta(&ru0, &ru1, &s.process);
	steal_sample(&s.steal1);
	/* Connections that never got going (setup failed, not all came). */
	for (i = 0; i < s.n; i++)
		if (s.conns[i].open || s.conns[i].fd >= 0)
			rpc_conn_close(&s.conns[i]);
	rc = rpc_report(&s);
	free_session(&s);
	return rc;
}

int run_rpc_server(const struct cfg *cfg)
{
	int lfd, rc, r;

	r = rpc_raise_nofile(ZCPERF_RPC_MAX_CONNS);
	if (r && r != -EMFILE)
		fatal("RLIMIT_NOFILE", -r);
	lfd = listen_socket(cfg);
	/* SIGINT shuts it down: a blocked accept returns. */
	interrupt_watch(lfd);
	if (!cfg->json) {
		char sz[32];

		printf("Server listening on port %u (rpc, rx %s, %s windows, "
		       "slot %s, tx %s, %u thread%s%s%s)\n",
		       cfg->port, rx_kind_name(cfg->rx),
		       rx_window_name(cfg->rx_window),
		       fmt_iec(sz, sizeof(sz), cfg->chunk),
		       tx_kind_name(cfg->tx), cfg->threads,
		       cfg->threads > 1 ? "s" : "",
		       cfg->mmap_churn ? ", mmap churn" : "",
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
