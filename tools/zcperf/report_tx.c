/* SPDX-License-Identifier: MIT */
/* The sender's summary: per connection bytes, time, rate and the sending
 * thread's CPU, the backend's counters, and with -J one document. */
#include <errno.h>
#include <string.h>

#include "report.h"

struct tx_total {
	uint64_t bytes;
	double seconds;
	struct cpu_use cpu;
	struct sender_stats st;
	bool failed;
};

static void stats_add(struct sender_stats *a, const struct sender_stats *b)
{
	a->sends += b->sends;
	a->bytes += b->bytes;
	a->zc_sends += b->zc_sends;
	a->notifications += b->notifications;
	a->completed += b->completed;
	a->kernel_copied += b->kernel_copied;
	a->enobufs += b->enobufs;
	a->buffer_waits += b->buffer_waits;
}

static void total_of(const struct tx_session *s, struct tx_total *t)
{
	double first = 0, end = 0;
	unsigned int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < s->n; i++) {
		const struct tx_conn *c = &s->conns[i];

		t->bytes += c->bytes;
		t->cpu.user_s += c->cpu.user_s;
		t->cpu.sys_s += c->cpu.sys_s;
		t->cpu.vcsw += c->cpu.vcsw;
		t->cpu.ivcsw += c->cpu.ivcsw;
		stats_add(&t->st, &c->st);
		if (c->error.err)
			t->failed = true;
		if (c->t_start > 0 && (!first || c->t_start < first))
			first = c->t_start;
		if (c->t_end > end)
			end = c->t_end;
	}
	t->seconds = end > first ? end - first : 0;
}

static void print_conn(const char *id, uint64_t bytes, double seconds,
		       const struct cpu_use *cpu, const struct sender_stats *st,
		       int tx)
{
	char sz[32];

	printf("[%3s] sent %s in %.3f s, %.2f Gbit/s, ", id,
	       fmt_iec(sz, sizeof(sz), (double)bytes), seconds,
	       gbit_per_s(bytes, seconds));
	print_cpu_line("\n", cpu, bytes);
	printf("      tx %s: %llu sends", tx_kind_name(tx),
	       (unsigned long long)st->sends);
	if (tx == TX_MSG_ZEROCOPY)
		printf(", %llu notifications, %llu completed, %llu copied by "
		       "the kernel, %llu ENOBUFS retries, %llu buffer waits",
		       (unsigned long long)st->notifications,
		       (unsigned long long)st->completed,
		       (unsigned long long)st->kernel_copied,
		       (unsigned long long)st->enobufs,
		       (unsigned long long)st->buffer_waits);
	printf("\n");
}

static void print_human(const struct tx_session *s, const struct tx_total *t)
{
	unsigned int i;
	char id[16];

	for (i = 0; i < s->n; i++) {
		const struct tx_conn *c = &s->conns[i];

		snprintf(id, sizeof(id), "%u", i);
		print_conn(id, c->bytes,
			   c->t_end > c->t_start ? c->t_end - c->t_start : 0,
			   &c->cpu, &c->st, s->cfg->tx);
	}
	if (s->n > 1)
		print_conn("SUM", t->bytes, t->seconds, &t->cpu, &t->st,
			   s->cfg->tx);
	printf("process: ");
	print_cpu_line(" (all threads)\n", &s->process, t->bytes);
	print_steal_line(&s->steal0, &s->steal1);
	if (s->cfg->tx == TX_MSG_ZEROCOPY && t->st.completed &&
	    t->st.kernel_copied == t->st.completed)
		printf("note: the kernel copied every MSG_ZEROCOPY send (as it "
		       "always does over loopback and veth to a local "
		       "socket): no copy was saved here, but the receiver got "
		       "pages it can map\n");
	if (t->st.enobufs)
		printf("note: %llu sends met ENOBUFS and were retried after "
		       "reaping completions: %s\n",
		       (unsigned long long)t->st.enobufs, error_hint(ENOBUFS));
	if (!s->cfg->verify)
		printf("note: --no-verify: no pattern written, the receiver "
		       "cannot check the data\n");
	fflush(stdout);
}

static void json_tx_stats(struct json *j, const struct sender_stats *st)
{
	json_obj_begin(j, "tx_stats");
	json_u64(j, "sends", st->sends);
	json_u64(j, "bytes", st->bytes);
	json_u64(j, "zerocopy_sends", st->zc_sends);
	json_u64(j, "notifications", st->notifications);
	json_u64(j, "completed", st->completed);
	json_u64(j, "kernel_copied", st->kernel_copied);
	json_u64(j, "enobufs", st->enobufs);
	json_u64(j, "buffer_waits", st->buffer_waits);
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
	json_num(&j, "seconds", t->seconds);
	json_num(&j, "bits_per_second", gbit_per_s(t->bytes, t->seconds) * 1e9);
	json_cpu(&j, &t->cpu, t->bytes);
	json_num(&j, "process_cpu_user_s", s->process.user_s);
	json_num(&j, "process_cpu_sys_s", s->process.sys_s);
	json_tx_stats(&j, &t->st);
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
		json_tx_stats(&j, &c->st);
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
	return t.failed ? 1 : 0;
}
