/* SPDX-License-Identifier: MIT */
/* The sender's summary: per connection bytes, time, rate and the sending
 * thread's CPU, the backend's counters, and with -J one document. */
#include <errno.h>
#include <string.h>

#include "report.h"

struct tx_total {
	uint64_t bytes;
	uint64_t datagrams;
	double seconds;
	struct cpu_use cpu;
	struct send_stats st;
	struct udp_result udp; /* summed answers of the receiver */
	bool udp_answered;     /* every connection got one */
	bool failed;
};

static double share(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0;
}

static void udp_add(struct udp_result *a, const struct udp_result *b)
{
	a->datagrams += b->datagrams;
	a->lost += b->lost;
	a->duplicates += b->duplicates;
	a->out_of_order += b->out_of_order;
	a->corrupt += b->corrupt;
	a->bytes += b->bytes;
}

static void total_of(const struct tx_session *s, struct tx_total *t)
{
	double first = 0, end = 0;
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->st.backend = -1;
	t->udp_answered = s->n > 0;
	t->udp.verified = s->n > 0;
	for (i = 0; i < s->n; i++) {
		const struct tx_conn *c = &s->conns[i];

		t->bytes += c->bytes;
		t->datagrams += c->datagrams;
		t->cpu.user_s += c->cpu.user_s;
		t->cpu.sys_s += c->cpu.sys_s;
		t->cpu.vcsw += c->cpu.vcsw;
		t->cpu.ivcsw += c->cpu.ivcsw;
		send_stats_add(&t->st, &c->st);
		udp_add(&t->udp, &c->udp);
		if (!c->udp_answered)
			t->udp_answered = false;
		if (!c->udp.verified)
			t->udp.verified = false;
		if (c->error.err)
			t->failed = true;
		if (c->t_start > 0 && (!first || c->t_start < first))
			first = c->t_start;
		if (c->t_end > end)
			end = c->t_end;
	}
	t->seconds = end > first ? end - first : 0;
}

/* "msg_zerocopy", or "auto (runs copy)" when another backend ran. */
static const char *backend_text(char *buf, size_t len, int asked,
				const struct send_stats *st)
{
	if (st->backend < 0 || st->backend == asked)
		snprintf(buf, len, "%s", tx_kind_name(asked));
	else
		snprintf(buf, len, "%s (runs %s)", tx_kind_name(asked),
			 tx_kind_name(st->backend));
	return buf;
}

static void print_tx_stats(const struct send_stats *st, int asked)
{
	const struct zc_tx_stats *z = &st->zc;
	char b[64], x[32], y[32], w[32];

	printf("      tx %s: %llu sends, %llu completions (%llu copied by "
	       "the kernel, %.1f %%; %llu by policy), %llu notifications, "
	       "%llu ENOBUFS (%llu sent by copy), %llu fallbacks, %llu auto "
	       "back-offs, %llu buffer waits\n",
	       backend_text(b, sizeof(b), asked, st),
	       (unsigned long long)z->sends,
	       (unsigned long long)st->completions,
	       (unsigned long long)st->completions_copied,
	       100 * share(st->completions_copied, st->completions),
	       (unsigned long long)st->completions_policy,
	       (unsigned long long)z->notifications,
	       (unsigned long long)z->enobufs,
	       (unsigned long long)z->enobufs_copied,
	       (unsigned long long)z->fallbacks,
	       (unsigned long long)z->auto_backoffs,
	       (unsigned long long)st->buffer_waits);
	printf("      bytes: %s zero-copy, %s copied by the kernel, %s "
	       "copied by policy\n",
	       fmt_iec(x, sizeof(x), (double)z->bytes_zerocopy),
	       fmt_iec(y, sizeof(y), (double)z->bytes_kernel_copied),
	       fmt_iec(w, sizeof(w), (double)z->bytes_policy_copied));
}

static void print_udp_result(const struct udp_result *u, bool answered,
			     uint64_t sent, bool pattern, bool interrupted)
{
	if (!answered) {
		printf("      receiver: no answer (%s)\n",
		       interrupted ? "interrupted before it was due"
				   : "see the error below");
		return;
	}
	printf("      receiver: %llu of %llu datagrams arrived (%llu lost, "
	       "%.2f %%), %llu out of order, %llu duplicates, %llu "
	       "corrupt; %s\n",
	       (unsigned long long)u->datagrams, (unsigned long long)sent,
	       (unsigned long long)u->lost, 100 * share(u->lost, sent),
	       (unsigned long long)u->out_of_order,
	       (unsigned long long)u->duplicates,
	       (unsigned long long)u->corrupt,
	       !pattern	     ? "not checked"
	       : u->verified ? "verified"
			     : "NOT verified");
}

static void print_conn(const char *id, const struct tx_session *s,
		       uint64_t bytes, uint64_t datagrams, double seconds,
		       const struct cpu_use *cpu, const struct send_stats *st)
{
	char sz[32];

	printf("[%3s] sent %s", id, fmt_iec(sz, sizeof(sz), (double)bytes));
	if (s->cfg->udp)
		printf(" in %llu datagrams", (unsigned long long)datagrams);
	printf(" in %.3f s, %.2f Gbit/s, ", seconds,
	       gbit_per_s(bytes, seconds));
	print_cpu_line("\n", cpu, bytes);
	print_tx_stats(st, s->cfg->tx);
}

/* Loud: what the user ran measures nothing zero-copy could save. */
static void print_warnings(const struct tx_session *s, const struct tx_total *t)
{
	const struct send_stats *st = &t->st;
	uint64_t tries = send_stats_attempts(st);
	int tx = s->cfg->tx;

	if ((tx == ZC_TX_MSG_ZEROCOPY || tx == ZC_TX_URING_ZC) && tries &&
	    st->completions_copied == tries) {
		printf("!!\n!! WARNING: the kernel copied every zero-copy "
		       "send (%llu of %llu completions): loopback and veth "
		       "to a local socket always copy: %s only adds "
		       "notification overhead here\n",
		       (unsigned long long)st->completions_copied,
		       (unsigned long long)st->completions,
		       tx == ZC_TX_MSG_ZEROCOPY ? "MSG_ZEROCOPY"
						: "io_uring SEND_ZC");
		if (!s->cfg->udp)
			printf("!!   (a TCP receiver still gets pages it can "
			       "map, which zero-copy receive needs on these "
			       "paths)\n");
		printf("!!\n");
	} else if (tx == ZC_TX_AUTO && st->zc.auto_backoffs &&
		   !st->zc.bytes_zerocopy) {
		printf("note: auto found the kernel copying every zero-copy "
		       "try (%llu back-offs) and sent %.1f %% of the bytes "
		       "by plain copy, as loopback and veth to a local socket "
		       "call for\n",
		       (unsigned long long)st->zc.auto_backoffs,
		       100 * share(st->zc.bytes_policy_copied, st->zc.bytes));
	}
	if (st->zc.enobufs)
		printf("note: %llu zero-copy sends met ENOBUFS; %llu of them "
		       "went by copy: %s\n",
		       (unsigned long long)st->zc.enobufs,
		       (unsigned long long)st->zc.enobufs_copied,
		       error_hint(ENOBUFS));
	if (st->zc.bad_ids)
		printf("note: %llu completion ids the library did not expect "
		       "(zcnet bug?)\n",
		       (unsigned long long)st->zc.bad_ids);
}

static void print_human(const struct tx_session *s, const struct tx_total *t)
{
	unsigned int i;
	char id[16];

	for (i = 0; i < s->n; i++) {
		const struct tx_conn *c = &s->conns[i];

		snprintf(id, sizeof(id), "%u", i);
		print_conn(id, s, c->bytes, c->datagrams,
			   c->t_end > c->t_start ? c->t_end - c->t_start : 0,
			   &c->cpu, &c->st);
		if (s->cfg->udp)
			print_udp_result(&c->udp, c->udp_answered, c->datagrams,
					 s->cfg->verify, s->interrupted);
	}
	if (s->n > 1) {
		print_conn("SUM", s, t->bytes, t->datagrams, t->seconds,
			   &t->cpu, &t->st);
		if (s->cfg->udp)
			print_udp_result(&t->udp, t->udp_answered, t->datagrams,
					 s->cfg->verify, s->interrupted);
	}
	if (s->interrupted)
		printf("interrupted (SIGINT): stopped before the end; the "
		       "numbers cover what was sent until then\n");
	printf("process: ");
	print_cpu_line(" (all threads)\n", &s->process, t->bytes);
	print_steal_line(&s->steal0, &s->steal1);
	print_warnings(s, t);
	if (!s->cfg->verify)
		printf("note: --no-verify: no pattern written, the receiver "
		       "cannot check the data\n");
	fflush(stdout);
}

static void json_tx_stats(struct json *j, int asked,
			  const struct send_stats *st)
{
	const struct zc_tx_stats *z = &st->zc;

	json_obj_begin(j, "tx_stats");
	json_str(j, "backend_requested", tx_kind_name(asked));
	json_str(j, "backend",
		 st->backend < 0 ? NULL : tx_kind_name(st->backend));
	json_u64(j, "sends", z->sends);
	json_u64(j, "bytes", z->bytes);
	json_u64(j, "bytes_zerocopy", z->bytes_zerocopy);
	json_u64(j, "bytes_kernel_copied", z->bytes_kernel_copied);
	json_u64(j, "bytes_policy_copied", z->bytes_policy_copied);
	json_u64(j, "completions", st->completions);
	json_u64(j, "completions_kernel_copied", st->completions_copied);
	json_u64(j, "completions_policy_copied", st->completions_policy);
	json_num(j, "kernel_copied_fraction",
		 share(st->completions_copied, st->completions));
	json_u64(j, "notifications", z->notifications);
	json_u64(j, "enobufs", z->enobufs);
	json_u64(j, "enobufs_copied", z->enobufs_copied);
	json_u64(j, "fallbacks", z->fallbacks);
	json_u64(j, "auto_backoffs", z->auto_backoffs);
	json_u64(j, "outstanding", z->outstanding);
	json_u64(j, "out_of_order", z->out_of_order);
	json_u64(j, "bad_ids", z->bad_ids);
	json_u64(j, "foreign_errors", z->foreign_errors);
	json_u64(j, "buffer_waits", st->buffer_waits);
	json_obj_end(j);
}

static void json_udp(struct json *j, uint64_t sent, const struct udp_result *u,
		     bool answered)
{
	json_obj_begin(j, "udp");
	json_u64(j, "datagrams", sent);
	json_bool(j, "receiver_answered", answered);
	json_u64(j, "received", u->datagrams);
	json_u64(j, "received_bytes", u->bytes);
	json_u64(j, "lost", u->lost);
	json_num(j, "lost_fraction", share(u->lost, sent));
	json_u64(j, "out_of_order", u->out_of_order);
	json_u64(j, "duplicates", u->duplicates);
	json_u64(j, "corrupt", u->corrupt);
	json_bool(j, "verified", answered && u->verified);
	json_obj_end(j);
}

static void print_json(const struct tx_session *s, const struct tx_total *t)
{
	const struct cfg *cfg = s->cfg;
	const char *first_error = NULL;
	char err[256];
	struct json j;
	unsigned int i;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_version(&j);
	json_str(&j, "role", "sender");
	json_obj_begin(&j, "start");
	json_str(&j, "host", s->host);
	json_u64(&j, "port", cfg->port);
	json_str(&j, "tx_mode", tx_kind_name(cfg->tx));
	json_str(&j, "protocol", cfg->udp ? "udp" : "tcp");
	json_u64(&j, "reap_every", cfg->reap_every);
	json_u64(&j, "zc_threshold", cfg->zc_threshold);
	json_u64(&j, "mss_requested", cfg->mss);
	json_u64(&j, "mss", s->n ? s->conns[0].hdr.mss : 0);
	json_u64(&j, "chunk", cfg->chunk);
	json_u64(&j, "connections", s->n);
	json_u64(&j, "bytes_planned", cfg->bytes);
	json_num(&j, "seconds_planned", cfg->bytes ? 0 : cfg->seconds);
	json_bool(&j, "pattern", cfg->verify);
	json_obj_end(&j);
	json_intervals(&j, s->ticker, false);
	json_obj_begin(&j, "end");
	json_u64(&j, "bytes", t->bytes);
	json_bool(&j, "interrupted", s->interrupted);
	json_num(&j, "seconds", t->seconds);
	json_num(&j, "bits_per_second", gbit_per_s(t->bytes, t->seconds) * 1e9);
	json_cpu(&j, &t->cpu, t->bytes);
	json_num(&j, "process_cpu_user_s", s->process.user_s);
	json_num(&j, "process_cpu_sys_s", s->process.sys_s);
	json_num(&j, "steal_percent", steal_percent(&s->steal0, &s->steal1));
	json_tx_stats(&j, cfg->tx, &t->st);
	if (cfg->udp)
		json_udp(&j, t->datagrams, &t->udp, t->udp_answered);
	json_arr_begin(&j, "connections");
	for (i = 0; i < s->n; i++) {
		const struct tx_conn *c = &s->conns[i];
		double secs = c->t_end > c->t_start ? c->t_end - c->t_start : 0;

		json_obj_begin(&j, NULL);
		json_u64(&j, "index", i);
		json_u64(&j, "bytes", c->bytes);
		json_num(&j, "seconds", secs);
		json_num(&j, "bits_per_second",
			 gbit_per_s(c->bytes, secs) * 1e9);
		json_cpu(&j, &c->cpu, c->bytes);
		if (c->error.err) {
			conn_error_text(&c->error, err, sizeof(err));
			json_str(&j, "error", err);
			if (!first_error)
				first_error = err;
		} else {
			json_str(&j, "error", NULL);
		}
		json_tx_stats(&j, cfg->tx, &c->st);
		if (cfg->udp)
			json_udp(&j, c->datagrams, &c->udp, c->udp_answered);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_str(&j, "error", first_error);
	json_obj_end(&j);
	json_done(&j);
}

int report_tx(const struct tx_session *s)
{
	struct tx_total t;
	unsigned int i;

	total_of(s, &t);
	if (s->cfg->json)
		print_json(s, &t);
	else
		print_human(s, &t);
	for (i = 0; i < s->n; i++)
		report_conn_error(&s->conns[i].error, i, s->n);
	/* A receiver that found damaged datagrams fails the run here too,
	 * as a TCP receiver's reset does. Loss alone does not. */
	if (s->cfg->udp && s->cfg->verify && t.udp_answered &&
	    !t.udp.verified) {
		fprintf(stderr,
			"zcperf: the receiver found %llu damaged "
			"datagrams (see its output)\n",
			(unsigned long long)t.udp.corrupt);
		return 1;
	}
	return t.failed ? 1 : 0;
}
