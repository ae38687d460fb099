/* SPDX-License-Identifier: MIT */
/*
 * The receiver's summary: per connection the tcp_mmap line (bytes, share
 * mapped, time, rate, the receiving thread's CPU from first byte to end),
 * a line of copy and zc_rx counters, the whole process's CPU and the
 * steal line; then, when zero-copy was asked for but little was mapped, a
 * loud warning with the likely reasons. With -J the same as one document.
 */
#include <string.h>
#include <unistd.h>

#include "report.h"

#define WARN_BELOW     0.90	  /* mapped share that warns */
#define WARN_MIN_BYTES (1u << 20) /* too little data says nothing */
#define MAX_WARNINGS   6

struct rx_total {
	uint64_t bytes, mapped, copybuf, read_bytes;
	struct udp_result udp;
	uint64_t udp_sent, udp_late;
	bool udp_counted; /* every sender's count arrived */
	double seconds;
	struct cpu_use cpu;
	struct zc_rx_stats st;
	bool verified;
	bool failed;
};

void rx_stats_add(struct zc_rx_stats *sum, const struct zc_rx_stats *st)
{
	sum->bytes_mapped += st->bytes_mapped;
	sum->bytes_copybuf += st->bytes_copybuf;
	sum->bytes_read += st->bytes_read;
	sum->zerocopy_calls += st->zerocopy_calls;
	sum->recv_calls += st->recv_calls;
	sum->zaps += st->zaps;
	sum->views += st->views;
	sum->waits += st->waits;
	sum->mode_switches += st->mode_switches;
	sum->skip_hints += st->skip_hints;
	sum->small_queue += st->small_queue;
	/* Auto's last measurement is not a count: keep one. Handles on a
	 * pool all report the pool's. */
	if (st->auto_zerocopy_ns_per_mib || st->auto_copy_ns_per_mib) {
		sum->auto_zerocopy_ns_per_mib = st->auto_zerocopy_ns_per_mib;
		sum->auto_copy_ns_per_mib = st->auto_copy_ns_per_mib;
	}
}

static void total_of(const struct rx_session *s, struct rx_total *t)
{
	double first = 0, end = 0;
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->verified = s->n > 0 && !s->error.err;
	t->failed = s->error.err != 0;
	t->udp_counted = true;
	for (i = 0; i < s->n; i++) {
		const struct rx_conn *c = &s->conns[i];

		if (!c->started) {
			/* Missing data is unverified data; after SIGINT the
			 * client's other connections simply never came. */
			if (!s->interrupted)
				t->verified = false;
			if (c->error.err)
				t->failed = true;
			continue;
		}
		t->bytes += c->bytes;
		t->mapped += c->mapped;
		t->copybuf += c->copybuf;
		t->read_bytes += c->read_bytes;
		t->cpu.user_s += c->cpu.user_s;
		t->cpu.sys_s += c->cpu.sys_s;
		t->cpu.vcsw += c->cpu.vcsw;
		t->cpu.ivcsw += c->cpu.ivcsw;
		rx_stats_add(&t->st, &c->st);
		t->udp.datagrams += c->udp.datagrams;
		t->udp.lost += c->udp.lost;
		t->udp.duplicates += c->udp.duplicates;
		t->udp.out_of_order += c->udp.out_of_order;
		t->udp.corrupt += c->udp.corrupt;
		t->udp.bytes += c->udp.bytes;
		t->udp_sent += c->udp_sent;
		t->udp_late += c->udp_late;
		if (!c->udp_end)
			t->udp_counted = false;
		if (!c->verified)
			t->verified = false;
		if (c->error.err)
			t->failed = true;
		if (c->t_first > 0 && (!first || c->t_first < first))
			first = c->t_first;
		if (c->t_end > end)
			end = c->t_end;
	}
	t->seconds = end > first ? end - first : 0;
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0;
}

/* Why little was mapped: what the receiver can tell from its own settings
 * and from what the sender's header said. */
static unsigned int collect_warnings(const struct rx_session *s,
				     const struct rx_total *t, char w[][320])
{
	const struct cfg *cfg = s->cfg;
	long page = sysconf(_SC_PAGESIZE);
	bool unaligned = false;
	int plain = -1; /* a sender's --tx that sends no zero-copy */
	uint32_t mss = 0;
	unsigned int n = 0, i;
	char sz[32];

	if (cfg->udp || cfg->rx == RX_COPY || t->bytes < WARN_MIN_BYTES ||
	    share(t->mapped, t->bytes) >= WARN_BELOW)
		return 0;
	if (page <= 0)
		page = 4096;
	for (i = 0; i < s->n; i++) {
		const struct rx_conn *c = &s->conns[i];

		if (!c->started)
			continue;
		if (c->hdr.tx != ZC_TX_MSG_ZEROCOPY &&
		    c->hdr.tx != ZC_TX_URING_ZC)
			plain = (int)c->hdr.tx;
		if (c->hdr.mss % (uint32_t)page) {
			unaligned = true;
			mss = c->hdr.mss;
		}
	}
	snprintf(w[n++], 320,
		 "only %.1f %% of %s was mapped (zero-copy); the rest was "
		 "copied",
		 100 * share(t->mapped, t->bytes),
		 fmt_iec(sz, sizeof(sz), (double)t->bytes));
	/* Auto reads by recv() on purpose: while it measures both modes,
	 * and afterwards when copying measured cheaper. */
	if (cfg->rx == RX_AUTO && t->st.bytes_read * 2 >= t->bytes - t->mapped)
		snprintf(w[n++], 320,
			 "auto mode copied %s by its own choice (%llu mode "
			 "switches): it %s; --rx=zerocopy forces mapping",
			 fmt_iec(sz, sizeof(sz), (double)t->st.bytes_read),
			 (unsigned long long)t->st.mode_switches,
			 t->st.bytes_read > t->st.bytes_mapped
				 ? "measured copying as cheaper on this "
				   "machine and chose it"
				 : "runs copy epochs while it measures which "
				   "mode is cheaper");
	if (plain == ZC_TX_AUTO)
		snprintf(w[n++], 320,
			 "the sender ran --tx=auto, which sends by plain copy "
			 "where the kernel copies zero-copy sends anyway (as "
			 "over loopback and veth): such pages cannot be mapped "
			 "(sender: --tx=msg_zerocopy)");
	else if (plain >= 0)
		snprintf(w[n++], 320,
			 "the sender used --tx=%s: over loopback and veth the "
			 "kernel hands over mappable (order-0) pages only when "
			 "the sender sent zero-copy (sender: --tx=msg_zerocopy "
			 "or uring_zc)",
			 tx_kind_name(plain));
	if (unaligned)
		snprintf(
			w[n++], 320,
			"the sender's segments carry %u bytes, not a multiple "
			"of the page size (%ld), so each segment's tail cannot "
			"be mapped: use --mss 4108 on both sides (4096 + 12 "
			"bytes of TCP timestamps) or a veth MTU of 4168",
			mss, page);
	if (cfg->rx != RX_RAW && cfg->copybuf >= cfg->chunk)
		snprintf(w[n++], 320,
			 "--copybuf is not smaller than the slot: the kernel "
			 "copies the whole queue when it fits the copybuf "
			 "(5.11)");
	if (n == 1)
		snprintf(w[n++], 320,
			 "the kernel maps only whole, page-aligned, order-0 "
			 "pages that are not page cache: a NIC without header "
			 "split or small writes give none");
	return n;
}

static void print_warnings(char w[][320], unsigned int n)
{
	unsigned int i;

	if (!n)
		return;
	printf("!!\n!! WARNING: %s\n", w[0]);
	for (i = 1; i < n; i++)
		printf("!!   likely: %s\n", w[i]);
	printf("!!\n");
}

static void print_stats_line(const struct rx_session *s,
			     const struct zc_rx_stats *st, uint64_t copybuf,
			     uint64_t read_bytes, int final_mode, bool verified,
			     bool checking)
{
	char a[32], b[32];

	printf("      copybuf %s, read %s; ",
	       fmt_iec(a, sizeof(a), (double)copybuf),
	       fmt_iec(b, sizeof(b), (double)read_bytes));
	if (s->cfg->rx == RX_RAW)
		printf("raw: %llu TCP_ZEROCOPY_RECEIVE, %llu read, %llu zaps, "
		       "%llu waits, %llu skip hints",
		       (unsigned long long)st->zerocopy_calls,
		       (unsigned long long)st->recv_calls,
		       (unsigned long long)st->zaps,
		       (unsigned long long)st->waits,
		       (unsigned long long)st->skip_hints);
	else
		printf("zc_rx: %llu zerocopy calls, %llu recv, %llu zaps, "
		       "%llu views, %llu waits, %llu skip hints, %llu small "
		       "queue, %llu mode switches, ends in %s",
		       (unsigned long long)st->zerocopy_calls,
		       (unsigned long long)st->recv_calls,
		       (unsigned long long)st->zaps,
		       (unsigned long long)st->views,
		       (unsigned long long)st->waits,
		       (unsigned long long)st->skip_hints,
		       (unsigned long long)st->small_queue,
		       (unsigned long long)st->mode_switches,
		       final_mode < 0 ? "-" : rx_kind_name(final_mode));
	printf("; %s\n", verified   ? "verified"
			 : checking ? "NOT verified"
				    : "not checked");
}

static void print_main_line(const char *id, uint64_t bytes, uint64_t mapped,
			    double seconds, const struct cpu_use *cpu)
{
	char sz[32];

	printf("[%3s] received %s (%.1f %% mmap'ed) in %.3f s, %.2f Gbit/s, ",
	       id, fmt_iec(sz, sizeof(sz), (double)bytes),
	       100 * share(mapped, bytes), seconds, gbit_per_s(bytes, seconds));
	print_cpu_line("\n", cpu, bytes);
}

/* -u: datagrams instead of mapped pages. */
static void print_udp_lines(const char *id, uint64_t bytes, double seconds,
			    const struct cpu_use *cpu,
			    const struct udp_result *u, uint64_t sent,
			    bool counted, uint64_t late, bool verified,
			    bool checking)
{
	char sz[32], arrived[128];

	printf("[%3s] received %s in %llu datagrams in %.3f s, %.2f Gbit/s, ",
	       id, fmt_iec(sz, sizeof(sz), (double)bytes),
	       (unsigned long long)u->datagrams, seconds,
	       gbit_per_s(bytes, seconds));
	print_cpu_line("\n", cpu, bytes);
	/* Interrupted before the sender's count came: loss is unknown. */
	if (counted)
		snprintf(arrived, sizeof(arrived),
			 "%llu of %llu sent arrived, %llu lost (%.2f %%)",
			 (unsigned long long)u->datagrams,
			 (unsigned long long)sent, (unsigned long long)u->lost,
			 100 * share(u->lost, sent));
	else
		snprintf(arrived, sizeof(arrived),
			 "%llu arrived (the sender's count never came: loss "
			 "unknown)",
			 (unsigned long long)u->datagrams);
	printf("      udp: %s, %llu out of order, %llu duplicates, %llu late, "
	       "%llu corrupt; %s\n",
	       arrived, (unsigned long long)u->out_of_order,
	       (unsigned long long)u->duplicates, (unsigned long long)late,
	       (unsigned long long)u->corrupt,
	       verified	  ? "verified"
	       : checking ? "NOT verified"
			  : "not checked");
}

static void print_human(const struct rx_session *s, const struct rx_total *t,
			char w[][320], unsigned int nw)
{
	bool checking = s->cfg->verify;
	const char *why = NULL;
	unsigned int i;
	char id[16], sz[32];

	for (i = 0; i < s->n; i++) {
		const struct rx_conn *c = &s->conns[i];

		if (!c->started)
			continue;
		if (!(c->hdr.flags & WIRE_F_PATTERN))
			why = "the sender ran with --no-verify and wrote no "
			      "pattern";
		snprintf(id, sizeof(id), "%u", i);
		if (s->cfg->udp) {
			print_udp_lines(
				id, c->bytes,
				c->t_end > c->t_first ? c->t_end - c->t_first
						      : 0,
				&c->cpu, &c->udp, c->udp_sent, c->udp_end,
				c->udp_late, c->verified,
				checking && (c->hdr.flags & WIRE_F_PATTERN));
			continue;
		}
		print_main_line(id, c->bytes, c->mapped,
				c->t_end > c->t_first ? c->t_end - c->t_first
						      : 0,
				&c->cpu);
		print_stats_line(s, &c->st, c->copybuf, c->read_bytes,
				 c->final_mode, c->verified,
				 checking && (c->hdr.flags & WIRE_F_PATTERN));
	}
	if (s->n > 1 && s->cfg->udp) {
		print_udp_lines("SUM", t->bytes, t->seconds, &t->cpu, &t->udp,
				t->udp_sent, t->udp_counted, t->udp_late,
				t->verified, checking && !why);
	} else if (s->n > 1) {
		print_main_line("SUM", t->bytes, t->mapped, t->seconds,
				&t->cpu);
		print_stats_line(s, &t->st, t->copybuf, t->read_bytes, -1,
				 t->verified, checking && !why);
	}
	if (s->interrupted)
		printf("interrupted (SIGINT): the streams did not end; the "
		       "numbers cover what arrived until then\n");
	printf("process: ");
	print_cpu_line(" (all threads, whole session)\n", &s->process,
		       t->bytes);
	print_steal_line(&s->steal0, &s->steal1);
	if (!checking)
		printf("integrity: not checked (--no-verify)\n");
	else if (why)
		printf("integrity: not checked (%s)\n", why);
	else if (t->verified && s->cfg->udp && !t->udp_counted)
		printf("integrity: every datagram that arrived verified (the "
		       "sender's count never came: loss unknown)\n");
	else if (t->verified && s->cfg->udp)
		printf("integrity: every datagram that arrived verified (UDP "
		       "may drop datagrams: %llu of %llu lost, reported, not "
		       "an error)\n",
		       (unsigned long long)t->udp.lost,
		       (unsigned long long)t->udp_sent);
	else if (t->verified && s->interrupted)
		printf("integrity: every byte that arrived verified (%s, "
		       "interrupted before the end)\n",
		       fmt_iec(sz, sizeof(sz), (double)t->bytes));
	else if (t->verified)
		printf("integrity: every byte verified\n");
	else
		printf("integrity: NOT verified (see the error below)\n");
	print_warnings(w, nw);
	fflush(stdout);
}

static void json_rx_stats(struct json *j, const struct zc_rx_stats *st)
{
	json_obj_begin(j, "rx_stats");
	json_u64(j, "bytes_mapped", st->bytes_mapped);
	json_u64(j, "bytes_copybuf", st->bytes_copybuf);
	json_u64(j, "bytes_read", st->bytes_read);
	json_u64(j, "zerocopy_calls", st->zerocopy_calls);
	json_u64(j, "recv_calls", st->recv_calls);
	json_u64(j, "zaps", st->zaps);
	json_u64(j, "views", st->views);
	json_u64(j, "waits", st->waits);
	json_u64(j, "mode_switches", st->mode_switches);
	json_u64(j, "skip_hints", st->skip_hints);
	json_u64(j, "small_queue", st->small_queue);
	json_obj_end(j);
}

static void json_udp(struct json *j, const struct udp_result *u, uint64_t sent,
		     uint64_t late)
{
	json_obj_begin(j, "udp");
	json_u64(j, "sender_datagrams", sent);
	json_u64(j, "datagrams", u->datagrams);
	json_u64(j, "bytes", u->bytes);
	json_u64(j, "lost", u->lost);
	json_num(j, "lost_fraction", share(u->lost, sent));
	json_u64(j, "out_of_order", u->out_of_order);
	json_u64(j, "duplicates", u->duplicates);
	json_u64(j, "late", late);
	json_u64(j, "corrupt", u->corrupt);
	json_obj_end(j);
}

static void json_conn(struct json *j, const struct rx_conn *c, unsigned int i)
{
	double secs = c->t_end > c->t_first ? c->t_end - c->t_first : 0;
	char err[256];

	json_obj_begin(j, NULL);
	json_u64(j, "index", i);
	json_str(j, "peer", c->peer);
	json_u64(j, "bytes", c->bytes);
	json_u64(j, "mapped_bytes", c->mapped);
	json_u64(j, "copied_bytes", c->bytes - c->mapped);
	json_u64(j, "copybuf_bytes", c->copybuf);
	json_u64(j, "read_bytes", c->read_bytes);
	json_bool(j, "verified", c->verified);
	json_num(j, "seconds", secs);
	json_num(j, "bits_per_second", gbit_per_s(c->bytes, secs) * 1e9);
	json_cpu(j, &c->cpu, c->bytes);
	json_str(j, "rx_mode", rx_kind_name(c->final_mode));
	json_str(j, "sender_tx", tx_kind_name((int)c->hdr.tx));
	json_u64(j, "sender_mss", c->hdr.mss);
	json_bool(j, "sender_pattern", c->hdr.flags & WIRE_F_PATTERN);
	json_u64(j, "planned_bytes", c->hdr.planned_bytes);
	if (c->error.err) {
		conn_error_text(&c->error, err, sizeof(err));
		json_str(j, "error", err);
	} else {
		json_str(j, "error", NULL);
	}
	json_rx_stats(j, &c->st);
	if (c->hdr.flags & WIRE_F_UDP)
		json_udp(j, &c->udp, c->udp_sent, c->udp_late);
	json_obj_end(j);
}

static void print_json(const struct rx_session *s, const struct rx_total *t,
		       char w[][320], unsigned int nw)
{
	const struct cfg *cfg = s->cfg;
	const char *first_error = NULL;
	char err[256];
	struct json j;
	unsigned int i;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_version(&j);
	json_str(&j, "role", "receiver");
	json_obj_begin(&j, "start");
	json_u64(&j, "port", cfg->port);
	json_str(&j, "protocol", cfg->udp ? "udp" : "tcp");
	json_str(&j, "rx_mode", rx_kind_name(cfg->rx));
	json_str(&j, "zap", zc_rx_zap_name(cfg->zap));
	json_u64(&j, "slot_size", cfg->chunk);
	json_u64(&j, "slots", cfg->slots);
	json_u64(&j, "copybuf", cfg->copybuf);
	json_bool(&j, "rcvlowat", cfg->rcvlowat);
	json_u64(&j, "mss", cfg->mss);
	json_bool(&j, "verify", cfg->verify);
	json_u64(&j, "connections", s->n);
	json_obj_end(&j);
	json_intervals(&j, s->ticker, true);
	json_obj_begin(&j, "end");
	json_u64(&j, "bytes", t->bytes);
	json_u64(&j, "mapped_bytes", t->mapped);
	json_u64(&j, "copied_bytes", t->bytes - t->mapped);
	json_u64(&j, "copybuf_bytes", t->copybuf);
	json_u64(&j, "read_bytes", t->read_bytes);
	json_num(&j, "mapped_fraction", share(t->mapped, t->bytes));
	json_bool(&j, "verified", t->verified);
	json_bool(&j, "interrupted", s->interrupted);
	json_num(&j, "seconds", t->seconds);
	json_num(&j, "bits_per_second", gbit_per_s(t->bytes, t->seconds) * 1e9);
	json_cpu(&j, &t->cpu, t->bytes);
	json_num(&j, "process_cpu_user_s", s->process.user_s);
	json_num(&j, "process_cpu_sys_s", s->process.sys_s);
	json_rx_stats(&j, &t->st);
	if (cfg->udp)
		json_udp(&j, &t->udp, t->udp_sent, t->udp_late);
	json_num(&j, "steal_percent", steal_percent(&s->steal0, &s->steal1));
	json_arr_begin(&j, "connections");
	for (i = 0; i < s->n; i++) {
		if (!s->conns[i].started)
			continue;
		json_conn(&j, &s->conns[i], i);
		if (s->conns[i].error.err && !first_error) {
			conn_error_text(&s->conns[i].error, err, sizeof(err));
			first_error = err;
		}
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_arr_begin(&j, "warnings");
	for (i = 0; i < nw; i++)
		json_str(&j, NULL, w[i]);
	json_arr_end(&j);
	if (s->error.err && !first_error) {
		conn_error_text(&s->error, err, sizeof(err));
		first_error = err;
	}
	json_str(&j, "error", first_error);
	json_obj_end(&j);
	json_done(&j);
}

int report_rx(const struct rx_session *s)
{
	char w[MAX_WARNINGS][320];
	struct rx_total t;
	unsigned int nw, i;

	total_of(s, &t);
	nw = collect_warnings(s, &t, w);
	if (s->cfg->json)
		print_json(s, &t, w, nw);
	else
		print_human(s, &t, w, nw);
	for (i = 0; i < s->n; i++)
		report_conn_error(&s->conns[i].error, i, s->n);
	report_conn_error(&s->error, 0, 1);
	return t.failed ? 1 : 0;
}
