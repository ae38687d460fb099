/* SPDX-License-Identifier: MIT */
/*
 * The rpc summary, either side: transactions and their rate, latency
 * percentiles (client: request sent to response read; server: request read
 * to response accepted by the socket), CPU per transaction of the
 * event-loop threads (RUSAGE_THREAD, so an --mmap-churn thread is not
 * counted; the process line counts everything), the share of received
 * payload bytes that arrived in mapped pages, the library's counters, the
 * steal line and whether every payload byte was verified. With -J the same
 * as one document.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "rpc.h"

#define WARN_BELOW 0.90 /* mapped share that warns */

struct rpc_total {
	struct rpc_stats st;
	struct hist hist;
	struct cpu_use cpu; /* event-loop threads */
	double seconds;
	bool verified;
	bool failed;
	const struct conn_error *first_error;
	unsigned int first_error_index;
};

static void cpu_add(struct cpu_use *a, const struct cpu_use *b)
{
	a->user_s += b->user_s;
	a->sys_s += b->sys_s;
	a->vcsw += b->vcsw;
	a->ivcsw += b->ivcsw;
}

static double per_txn_us(const struct cpu_use *u, uint64_t txns)
{
	return txns ? (u->user_s + u->sys_s) * 1e6 / (double)txns : 0;
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0;
}

static void total_of(const struct rpc_session *s, struct rpc_total *t)
{
	double first = 0, last = 0;
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->st.tx.backend = -1;
	t->verified = s->cfg->verify && s->nthreads > 0 && !s->error.err;
	t->failed = s->error.err != 0;
	if (s->error.err)
		t->first_error = &s->error;
	for (i = 0; i < s->nthreads; i++) {
		const struct rpc_thread *th = &s->threads[i];

		hist_merge(&t->hist, &th->hist);
		cpu_add(&t->cpu, &th->cpu);
		if (th->error.err) {
			t->failed = true;
			t->verified = false;
			if (!t->first_error)
				t->first_error = &th->error;
		}
		if (th->t_first > 0 && (!first || th->t_first < first))
			first = th->t_first;
		if (th->t_last > last)
			last = th->t_last;
	}
	for (i = 0; i < s->n; i++) {
		const struct rpc_conn *c = &s->conns[i];

		rpc_stats_add(&t->st, &c->st);
		if (!c->verified)
			t->verified = false;
		if (c->error.err) {
			t->failed = true;
			if (!t->first_error) {
				t->first_error = &c->error;
				t->first_error_index = i;
			}
		}
	}
	t->seconds = last > first ? last - first : 0;
}

/* Why little was mapped, from what this side knows. */
static unsigned int collect_warnings(const struct rpc_session *s,
				     const struct rpc_total *t, char w[][320])
{
	const struct cfg *cfg = s->cfg;
	uint32_t in_size = s->server ? s->req_size : s->resp_size;
	uint32_t mss = s->server ? s->peer_mss : s->mss;
	long page = sysconf(_SC_PAGESIZE);
	unsigned int n = 0;

	if (page <= 0)
		page = 4096;
	if (cfg->rx == RX_COPY || !t->st.payload_bytes ||
	    share(t->st.mapped_bytes, t->st.payload_bytes) >= WARN_BELOW)
		return 0;
	snprintf(w[n++], 320,
		 "only %.1f %% of the %s payload bytes were mapped "
		 "(zero-copy); the rest was copied",
		 100 * share(t->st.mapped_bytes, t->st.payload_bytes),
		 s->server ? "request" : "response");
	if (in_size < page)
		snprintf(w[n++], 320,
			 "%s payloads of %u bytes are below one page: the "
			 "kernel maps only whole pages",
			 s->server ? "request" : "response", in_size);
	if (cfg->rx == RX_AUTO && t->st.rx.bytes_read)
		snprintf(w[n++], 320,
			 "auto mode read by copy on its own choice, while it "
			 "measured or after it measured copy as cheaper "
			 "(%llu mode switches)",
			 (unsigned long long)t->st.rx.mode_switches);
	if (s->server && s->peer_tx != ZC_TX_MSG_ZEROCOPY &&
	    s->peer_tx != ZC_TX_URING_ZC)
		snprintf(w[n++], 320,
			 "the client sent with --tx=%s: over loopback and veth "
			 "only zero-copy sends give pages that can be mapped "
			 "(client: --tx=msg_zerocopy)",
			 tx_kind_name(s->peer_tx));
	if (mss % (uint32_t)page)
		snprintf(w[n++], 320,
			 "segments carry %u bytes, not a multiple of the page "
			 "size: use --mss 4108 on both sides or a veth MTU of "
			 "4168 over IPv6",
			 mss);
	return n;
}

static void print_pcts(const char *what, const struct hist *h)
{
	printf("      %s usec: p50 %.1f, p90 %.1f, p99 %.1f, p99.9 %.1f "
	       "(min %.1f, max %.1f, mean %.1f)\n",
	       what, hist_percentile(h, 0.50) / 1e3,
	       hist_percentile(h, 0.90) / 1e3, hist_percentile(h, 0.99) / 1e3,
	       hist_percentile(h, 0.999) / 1e3, h->min_ns / 1e3,
	       h->max_ns / 1e3, h->count ? h->sum_ns / 1e3 / h->count : 0);
}

static void print_tx_line(const struct rpc_session *s,
			  const struct rpc_stats *st)
{
	const struct send_stats *tx = &st->tx;

	printf("      tx %s", tx_kind_name(s->cfg->tx));
	if (tx->backend >= 0 && tx->backend != s->cfg->tx)
		printf(" (runs %s)", tx_kind_name(tx->backend));
	printf(": %llu messages", (unsigned long long)st->messages_sent);
	if (s->cfg->tx != ZC_TX_COPY)
		printf(", %llu payload sends, %llu completions (%llu copied "
		       "by the kernel, %llu by policy), %llu notifications, "
		       "%llu ENOBUFS (%llu sent by copy), %llu buffer waits",
		       (unsigned long long)tx->zc.sends,
		       (unsigned long long)tx->completions,
		       (unsigned long long)tx->completions_copied,
		       (unsigned long long)tx->completions_policy,
		       (unsigned long long)tx->zc.notifications,
		       (unsigned long long)tx->zc.enobufs,
		       (unsigned long long)tx->zc.enobufs_copied,
		       (unsigned long long)tx->buffer_waits);
	printf(", %llu waited for the socket\n",
	       (unsigned long long)st->send_waits);
}

static void print_human(const struct rpc_session *s, const struct rpc_total *t,
			char w[][320], unsigned int nw)
{
	const struct rpc_stats *st = &t->st;
	char a[32], b[32];
	unsigned int i;

	if (s->nthreads > 1)
		for (i = 0; i < s->nthreads; i++) {
			const struct rpc_thread *th = &s->threads[i];
			uint64_t n = th->hist.count;

			printf("[T%u] %llu transactions, %u connections, cpu "
			       "user:%.3f sys:%.3f, %.1f usec per "
			       "transaction\n",
			       i, (unsigned long long)n, th->n, th->cpu.user_s,
			       th->cpu.sys_s, per_txn_us(&th->cpu, n));
		}
	printf("[SUM] %llu transactions in %.3f s, %.0f per s; requests %s, "
	       "responses %s, %u connections\n",
	       (unsigned long long)st->txns, t->seconds,
	       t->seconds > 0 ? st->txns / t->seconds : 0,
	       fmt_iec(a, sizeof(a), s->req_size),
	       fmt_iec(b, sizeof(b), s->resp_size), s->n);
	print_pcts(s->server ? "service time" : "latency", &t->hist);
	printf("      %s threads: cpu usage user:%.3f sys:%.3f, %.1f usec "
	       "per transaction, %llu c-switches\n",
	       s->server ? "server" : "client", t->cpu.user_s, t->cpu.sys_s,
	       per_txn_us(&t->cpu, st->txns),
	       (unsigned long long)t->cpu.vcsw + t->cpu.ivcsw);
	printf("      %s received: %s (%.1f %% mmap'ed), rx %s, %s "
	       "windows\n",
	       s->server ? "requests" : "responses",
	       fmt_iec(a, sizeof(a), (double)st->payload_bytes),
	       100 * share(st->mapped_bytes, st->payload_bytes),
	       rx_kind_name(s->cfg->rx), rx_window_name(s->cfg->rx_window));
	printf("      zc_rx: %llu zerocopy calls, %llu recv, %llu zaps, %llu "
	       "views, %llu skip hints, %llu small queue, %llu mode "
	       "switches; zc_msg: %llu messages, %llu assembled, %llu "
	       "SO_RCVLOWAT changes, %llu starved of views\n",
	       (unsigned long long)st->rx.zerocopy_calls,
	       (unsigned long long)st->rx.recv_calls,
	       (unsigned long long)st->rx.zaps,
	       (unsigned long long)st->rx.views,
	       (unsigned long long)st->rx.skip_hints,
	       (unsigned long long)st->rx.small_queue,
	       (unsigned long long)st->rx.mode_switches,
	       (unsigned long long)st->msg.messages,
	       (unsigned long long)st->msg.assembled,
	       (unsigned long long)st->msg.rcvlowat_sets,
	       (unsigned long long)st->rx_starved);
	print_tx_line(s, st);
	if (s->interrupted)
		printf("interrupted (SIGINT): the numbers cover the "
		       "transactions %s until then\n",
		       s->server ? "served" : "completed");
	printf("process: cpu usage user:%.3f sys:%.3f, %.1f usec per "
	       "transaction, %llu c-switches (all threads, whole session)\n",
	       s->process.user_s, s->process.sys_s,
	       per_txn_us(&s->process, st->txns),
	       (unsigned long long)s->process.vcsw + s->process.ivcsw);
	if (s->churn)
		printf("mmap churn: %llu mmap/munmap pairs in %.3f s, %.0f "
		       "per s\n",
		       (unsigned long long)s->churn_loops, s->churn_s,
		       s->churn_s > 0 ? s->churn_loops / s->churn_s : 0);
	print_steal_line(&s->steal0, &s->steal1);
	if (!s->cfg->verify)
		printf("integrity: not checked (--no-verify)\n");
	else if (t->verified)
		printf("integrity: every %s byte verified\n",
		       s->server ? "request" : "response");
	else if (s->interrupted && !t->failed)
		printf("integrity: nothing checked (interrupted before the "
		       "connections started)\n");
	else
		printf("integrity: NOT verified (see the error below)\n");
	if (nw) {
		printf("!!\n!! WARNING: %s\n", w[0]);
		for (i = 1; i < nw; i++)
			printf("!!   likely: %s\n", w[i]);
		printf("!!\n");
	}
	fflush(stdout);
}

static void json_pcts(struct json *j, const char *key, const struct hist *h)
{
	json_obj_begin(j, key);
	json_num(j, "p50", hist_percentile(h, 0.50) / 1e3);
	json_num(j, "p90", hist_percentile(h, 0.90) / 1e3);
	json_num(j, "p99", hist_percentile(h, 0.99) / 1e3);
	json_num(j, "p999", hist_percentile(h, 0.999) / 1e3);
	json_num(j, "min", h->min_ns / 1e3);
	json_num(j, "max", h->max_ns / 1e3);
	json_num(j, "mean", h->count ? h->sum_ns / 1e3 / h->count : 0);
	json_obj_end(j);
}

static void json_stats(struct json *j, const struct rpc_stats *st)
{
	json_obj_begin(j, "rx_stats");
	json_u64(j, "bytes_mapped", st->rx.bytes_mapped);
	json_u64(j, "bytes_copybuf", st->rx.bytes_copybuf);
	json_u64(j, "bytes_read", st->rx.bytes_read);
	json_u64(j, "zerocopy_calls", st->rx.zerocopy_calls);
	json_u64(j, "recv_calls", st->rx.recv_calls);
	json_u64(j, "zaps", st->rx.zaps);
	json_u64(j, "views", st->rx.views);
	json_u64(j, "mode_switches", st->rx.mode_switches);
	json_u64(j, "skip_hints", st->rx.skip_hints);
	json_u64(j, "small_queue", st->rx.small_queue);
	json_u64(j, "auto_zerocopy_ns_per_mib",
		 st->rx.auto_zerocopy_ns_per_mib);
	json_u64(j, "auto_copy_ns_per_mib", st->rx.auto_copy_ns_per_mib);
	json_obj_end(j);
	json_obj_begin(j, "msg_stats");
	json_u64(j, "messages", st->msg.messages);
	json_u64(j, "payload_bytes", st->msg.payload_bytes);
	json_u64(j, "bytes_mapped", st->msg.bytes_mapped);
	json_u64(j, "bytes_assembled", st->msg.bytes_assembled);
	json_u64(j, "assembled", st->msg.assembled);
	json_u64(j, "views", st->msg.views);
	json_u64(j, "rcvlowat_sets", st->msg.rcvlowat_sets);
	json_u64(j, "starved", st->rx_starved);
	json_obj_end(j);
	json_obj_begin(j, "tx_stats");
	json_str(j, "backend",
		 st->tx.backend >= 0 ? tx_kind_name(st->tx.backend) : NULL);
	json_u64(j, "messages", st->messages_sent);
	json_u64(j, "bytes", st->bytes_sent);
	json_u64(j, "payload_sends", st->tx.zc.sends);
	json_u64(j, "bytes_zerocopy", st->tx.zc.bytes_zerocopy);
	json_u64(j, "bytes_kernel_copied", st->tx.zc.bytes_kernel_copied);
	json_u64(j, "bytes_policy_copied", st->tx.zc.bytes_policy_copied);
	json_u64(j, "completions", st->tx.completions);
	json_u64(j, "completions_kernel_copied", st->tx.completions_copied);
	json_u64(j, "completions_policy_copied", st->tx.completions_policy);
	json_u64(j, "notifications", st->tx.zc.notifications);
	json_u64(j, "enobufs", st->tx.zc.enobufs);
	json_u64(j, "enobufs_copied", st->tx.zc.enobufs_copied);
	json_u64(j, "buffer_waits", st->tx.buffer_waits);
	json_u64(j, "send_waits", st->send_waits);
	json_obj_end(j);
}

static void print_json(const struct rpc_session *s, const struct rpc_total *t,
		       char w[][320], unsigned int nw)
{
	const struct cfg *cfg = s->cfg;
	const struct rpc_stats *st = &t->st;
	char err[256];
	struct json j;
	unsigned int i;
	double steal = steal_percent(&s->steal0, &s->steal1);

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_version(&j);
	json_str(&j, "role", s->server ? "rpc-server" : "rpc-client");
	json_obj_begin(&j, "start");
	if (!s->server)
		json_str(&j, "host", s->host);
	json_u64(&j, "port", cfg->port);
	json_u64(&j, "connections", s->n);
	json_u64(&j, "threads", s->nthreads);
	json_u64(&j, "request_size", s->req_size);
	json_u64(&j, "response_size", s->resp_size);
	json_str(&j, "rx_mode", rx_kind_name(cfg->rx));
	json_str(&j, "rx_window", rx_window_name(cfg->rx_window));
	json_str(&j, "tx_mode", tx_kind_name(cfg->tx));
	json_str(&j, "zap", zc_rx_zap_name(cfg->zap));
	json_u64(&j, "slot_size", cfg->chunk);
	json_u64(&j, "slots", cfg->slots);
	json_u64(&j, "pool_slots", cfg->pool_slots);
	json_u64(&j, "copybuf", cfg->copybuf);
	json_bool(&j, "rcvlowat", cfg->rcvlowat);
	json_u64(&j, "mss", s->server ? cfg->mss : s->mss);
	json_bool(&j, "verify", cfg->verify);
	if (s->server) {
		json_str(&j, "client_tx", tx_kind_name(s->peer_tx));
		json_u64(&j, "client_mss", s->peer_mss);
		json_bool(&j, "mmap_churn", cfg->mmap_churn);
	} else {
		json_num(&j, "seconds", cfg->seconds);
	}
	json_obj_end(&j);
	json_obj_begin(&j, "end");
	json_u64(&j, "transactions", st->txns);
	json_bool(&j, "interrupted", s->interrupted);
	json_num(&j, "seconds", t->seconds);
	json_num(&j, "tps", t->seconds > 0 ? st->txns / t->seconds : 0);
	json_pcts(&j, s->server ? "service_us" : "latency_us", &t->hist);
	json_num(&j, "cpu_user_s", t->cpu.user_s);
	json_num(&j, "cpu_sys_s", t->cpu.sys_s);
	json_num(&j, "cpu_per_txn_us", per_txn_us(&t->cpu, st->txns));
	json_u64(&j, "ctx_switches", t->cpu.vcsw + t->cpu.ivcsw);
	json_num(&j, "process_cpu_user_s", s->process.user_s);
	json_num(&j, "process_cpu_sys_s", s->process.sys_s);
	json_num(&j, "process_cpu_per_txn_us",
		 per_txn_us(&s->process, st->txns));
	json_u64(&j, "payload_bytes", st->payload_bytes);
	json_u64(&j, "mapped_bytes", st->mapped_bytes);
	json_num(&j, "mapped_fraction",
		 share(st->mapped_bytes, st->payload_bytes));
	json_bool(&j, "verified", t->verified);
	if (steal >= 0)
		json_num(&j, "steal_percent", steal);
	else
		json_str(&j, "steal_percent", NULL);
	json_stats(&j, st);
	if (s->server && s->churn) {
		json_obj_begin(&j, "mmap_churn");
		json_u64(&j, "loops", s->churn_loops);
		json_num(&j, "seconds", s->churn_s);
		json_num(&j, "per_second",
			 s->churn_s > 0 ? s->churn_loops / s->churn_s : 0);
		json_obj_end(&j);
	}
	json_arr_begin(&j, "threads");
	for (i = 0; i < s->nthreads; i++) {
		const struct rpc_thread *th = &s->threads[i];

		json_obj_begin(&j, NULL);
		json_u64(&j, "index", i);
		json_u64(&j, "connections", th->n);
		json_u64(&j, "transactions", th->hist.count);
		json_num(&j, "cpu_user_s", th->cpu.user_s);
		json_num(&j, "cpu_sys_s", th->cpu.sys_s);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_arr_begin(&j, "connections");
	for (i = 0; i < s->n; i++) {
		const struct rpc_conn *c = &s->conns[i];

		json_obj_begin(&j, NULL);
		json_u64(&j, "index", i);
		json_u64(&j, "transactions", c->st.txns);
		json_u64(&j, "payload_bytes", c->st.payload_bytes);
		json_u64(&j, "mapped_bytes", c->st.mapped_bytes);
		json_bool(&j, "verified", c->verified);
		if (c->error.err) {
			conn_error_text(&c->error, err, sizeof(err));
			json_str(&j, "error", err);
		} else {
			json_str(&j, "error", NULL);
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_arr_begin(&j, "warnings");
	for (i = 0; i < nw; i++)
		json_str(&j, NULL, w[i]);
	json_arr_end(&j);
	if (t->first_error) {
		conn_error_text(t->first_error, err, sizeof(err));
		json_str(&j, "error", err);
	} else {
		json_str(&j, "error", NULL);
	}
	json_obj_end(&j);
	json_done(&j);
}

int rpc_report(const struct rpc_session *s)
{
	char w[6][320];
	struct rpc_total *t;
	unsigned int nw, i, shown = 0;
	int rc;

	/* The histogram is 30 KiB: not on the stack. */
	t = calloc(1, sizeof(*t));
	if (!t)
		fatal("calloc", ENOMEM);
	total_of(s, t);
	nw = collect_warnings(s, t, w);
	if (s->cfg->json)
		print_json(s, t, w, nw);
	else
		print_human(s, t, w, nw);
	/* Errors of a hundred connections would drown the first: show a
	 * few and count the rest. */
	for (i = 0; i < s->n; i++) {
		if (!s->conns[i].error.err)
			continue;
		if (shown++ < 5)
			report_conn_error(&s->conns[i].error, i, s->n);
	}
	if (shown > 5)
		fprintf(stderr, "zcperf: %u more connections failed\n",
			shown - 5);
	for (i = 0; i < s->nthreads; i++)
		report_conn_error(&s->threads[i].error, 0, 1);
	report_conn_error(&s->error, 0, 1);
	rc = t->failed ? 1 : 0;
	free(t);
	return rc;
}
