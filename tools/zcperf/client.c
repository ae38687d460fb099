/* SPDX-License-Identifier: MIT */
/*
 * zcperf -c HOST: the sender. It decides how much is sent (-n in all,
 * split over the -P connections, or -t seconds); the receiver reads to
 * the end of each stream.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcperf.h"

struct addrinfo *resolve(const struct cfg *cfg)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char port[8];
	int r;

	hints.ai_family = cfg->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%u", cfg->port);
	r = getaddrinfo(cfg->host, port, &hints, &res);
	if (r) {
		char ctx[300];

		snprintf(ctx, sizeof(ctx), "resolve %s", cfg->host);
		fatal_msg(ctx,
			  r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	}
	return res;
}

static void fail_connect(const struct cfg *cfg, struct tx_conn *c)
{
	char ctx[320];

	snprintf(ctx, sizeof(ctx), "%s to %s port %u", c->error.context,
		 cfg->host, cfg->port);
	if (c->error.detail[0])
		fatal_msg(ctx, c->error.detail);
	fatal(ctx, c->error.err);
}

int run_client(const struct cfg *cfg)
{
	unsigned int n = cfg->parallel, i;
	struct tx_session s = { .cfg = cfg, .host = cfg->host, .n = n };
	struct addrinfo *res = resolve(cfg), *ai, *chosen = NULL;
	struct rusage ru0, ru1;
	pthread_barrier_t start;
	struct ticker ticker;
	uint64_t run_id = random_u64(), each, rest;
	struct tx_conn *conns;
	int rc;

	conns = calloc(n, sizeof(*conns));
	if (!conns)
		fatal("calloc", ENOMEM);
	each = cfg->bytes / n;
	rest = cfg->bytes % n;
	pthread_barrier_init(&start, NULL, n + 1);
	for (i = 0; i < n; i++) {
		struct tx_conn *c = &conns[i];

		c->fd = -1;
		c->udp_fd = -1;
		c->cfg = cfg;
		c->start = &start;
		c->planned = each + (i == 0 ? rest : 0);
		c->hdr.run_id = run_id;
		c->hdr.conn_index = i;
		c->hdr.conn_count = n;
		c->hdr.flags = cfg->verify ? WIRE_F_PATTERN : 0;
		if (cfg->udp)
			c->hdr.flags |= WIRE_F_UDP;
		c->hdr.tx = (uint32_t)cfg->tx;
		c->hdr.chunk = cfg->chunk;
		c->hdr.planned_bytes = c->planned;
		if (!c->planned && cfg->seconds > 0)
			c->hdr.planned_ms = (uint32_t)(cfg->seconds * 1000);
		/* The first address that answers is used for all. */
		for (ai = chosen ? chosen : res; ai; ai = ai->ai_next) {
			memset(&c->error, 0, sizeof(c->error));
			if (!tx_conn_connect(c, ai->ai_addr, ai->ai_addrlen,
					     cfg->mss) ||
			    chosen)
				break;
		}
		if (c->fd < 0)
			fail_connect(cfg, c);
		chosen = ai;
		/* SIGINT shuts them down, so a send blocked on a receiver
		 * that does not read returns. */
		interrupt_watch(c->fd);
		interrupt_watch(c->udp_fd);
	}

	memset(&ticker, 0, sizeof(ticker));
	if (cfg->interval > 0) {
		ticker.every = cfg->interval;
		ticker.quiet = cfg->json;
		for (i = 0; i < n; i++)
			ticker_add(&ticker, &conns[i].live_bytes, NULL);
		s.ticker = &ticker;
	}
	if (!cfg->json) {
		char a[32], b[32];

		printf("Connecting to %s port %u: %u connection%s, tx %s",
		       cfg->host, cfg->port, n, n > 1 ? "s" : "",
		       tx_kind_name(cfg->tx));
		if (cfg->reap_every)
			printf(" (reap every %u)", cfg->reap_every);
		if (cfg->zc_threshold)
			printf(" (zero-copy from %s)",
			       fmt_iec(b, sizeof(b), cfg->zc_threshold));
		if (cfg->udp)
			printf(", UDP datagrams of %u bytes, ", cfg->chunk);
		else
			printf(", mss %u, write size %s, ", conns[0].hdr.mss,
			       fmt_iec(a, sizeof(a), cfg->chunk));
		if (cfg->bytes)
			printf("%s in all\n",
			       fmt_iec(b, sizeof(b), (double)cfg->bytes));
		else
			printf("for %g s\n", cfg->seconds);
		fflush(stdout);
	}
	steal_sample(&s.steal0);
	rusage_now(RUSAGE_SELF, &ru0);
	for (i = 0; i < n; i++) {
		if (pthread_create(&conns[i].thread, NULL, tx_conn_thread,
				   &conns[i]))
			fatal("pthread_create", EAGAIN);
		conns[i].started = true;
	}
	pthread_barrier_wait(&start);
	s.t0 = now_s();
	if (s.ticker) {
		ticker.t0 = s.t0;
		ticker_start(&ticker);
	}
	for (i = 0; i < n; i++)
		pthread_join(conns[i].thread, NULL);
	s.t1 = now_s();
	s.interrupted = interrupted();
	if (s.ticker)
		ticker_stop(&ticker);
	rusage_now(RUSAGE_SELF, &ru1);
	rusage_delta(&ru0, &ru1, &s.process);
	steal_sample(&s.steal1);
	s.conns = conns;
	rc = report_tx(&s);
	for (i = 0; i < n; i++) {
		interrupt_close(conns[i].fd);
		interrupt_close(conns[i].udp_fd);
	}
	free(conns);
	free(ticker.recs);
	freeaddrinfo(res);
	pthread_barrier_destroy(&start);
	return rc;
}
