/* SPDX-License-Identifier: MIT */
/*
 * harden_leaks: connection cycles in one process; nothing may leak.
 *
 *   harden_leaks [--cycles N] [--msg-cycles N] [--warmup N] [--no-maps]
 *                [--no-rss] [--rss-slack KIB] [--timeout SEC] [--inject-leak]
 *
 * Each stream cycle makes a TCP pair over loopback (MSS 4108, so segments
 * carry whole pages), a struct zc_rx on the accepted end (auto, zerocopy or
 * copy; its own window or a zc_rx_pool made for the cycle; each zap mode)
 * and a struct zc_tx on the other (every backend this kernel has), sends
 * STREAM_LEN bytes of a pattern unique to the cycle, reads them back
 * through views held several at a time and released out of order, checks
 * every byte and every completion, and ends the connection one of four
 * ways: clean close, reset by the sender after its last byte (SO_LINGER
 * 0), half-close (the sender shuts down its side and still receives the
 * receiver's reply), or reset by the receiver halfway (the sender's next
 * send fails and completes nothing). Then everything is freed, views
 * still held included. Message cycles do the same through zc_msg_rx and
 * zc_msg_send (payloads written through a zc_tx in every other cycle).
 *
 * After --warmup cycles (allocator and kernel caches settle) the open fds,
 * the lines of /proc/self/maps and the RSS are sampled; after the last
 * cycle the fds and maps lines must be exactly the same and the RSS at
 * most --rss-slack KiB higher. The fd count is also checked after every
 * cycle, so a leak names the cycle (and so the combination) that leaked.
 * Built with ASan the maps and RSS checks are off (its allocator maps and
 * keeps memory by design) and LeakSanitizer checks the heap at exit.
 *
 * --inject-leak leaks an fd and a mapping halfway, to show the checks
 * catch them (the script expects that run to fail).
 *
 * Runs inside a namespace the test script made (harden_leaks.sh); only
 * loopback addresses are used. Exit 0 when every check passed, else 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zcnet.h"
#include "harden_util.h"

#define STREAM_LEN 40000u /* nine whole pages and a tail */
#define SLOT_SIZE  (16u << 10)
#define HOLD	   3u
#define MAX_HOLD   8u
#define NMSG	   4u

enum end_kind { END_CLOSE, END_RESET, END_HALF, END_RX_RESET, END_KINDS };

static const char *const end_names[] = { "close", "reset", "half-close",
					 "receiver reset" };

static const uint32_t msg_sizes[NMSG] = { 0, 100, 5000, 20000 };

struct cfg {
	unsigned int cycles, msg_cycles, warmup;
	bool maps, rss, inject_leak;
	long rss_slack_kib;
	unsigned int timeout;
};

struct env {
	int backends[5];
	unsigned int nbackends;
	bool rx_zerocopy;
	uint64_t bytes_mapped, bytes_copied, views, completions;
	uint64_t ends[END_KINDS];
	uint64_t reset_lost; /* queued bytes a reset swallowed */
	unsigned int cycle;  /* for the timeout message */
	const char *what;
};

static struct env env;
static uint8_t sendbuf[STREAM_LEN];

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL: timed out (a call hung)\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/* --- sending -------------------------------------------------------------- */

/* Sends len bytes of buf through tx, reaping as it goes; every accepted
 * byte must come back as exactly one completion with its user_data.
 * Returns bytes accepted, or the first error. */
static ssize_t tx_send_all(struct zc_tx *tx, const uint8_t *buf, size_t len,
			   uint64_t *next_ud, uint64_t *acked, const char *what)
{
	struct zc_completion c[16];
	size_t off = 0;
	ssize_t n;
	int k, i;

	while (off < len) {
		n = zc_tx_send(tx, buf + off, len - off, *next_ud);
		if (n == -EAGAIN) {
			k = zc_tx_wait(tx, c, 16, 1000);
			CHECK(k >= 0, "%s: zc_tx_wait: %d", what, k);
			for (i = 0; i < k; i++)
				*acked += c[i].len;
			continue;
		}
		if (n < 0)
			return n;
		(*next_ud)++;
		off += (size_t)n;
		k = zc_tx_reap(tx, c, 16);
		for (i = 0; i < k; i++)
			*acked += c[i].len;
	}
	return (ssize_t)off;
}

/* Flushes and frees tx; every accepted byte must have completed. */
static void tx_finish(struct zc_tx *tx, uint64_t accepted, uint64_t acked,
		      const char *what)
{
	struct zc_completion c[16];
	struct zc_tx_stats st;
	int k, ret;

	ret = zc_tx_flush(tx, 5000);
	CHECK_EQ(ret, 0, what);
	while ((k = zc_tx_reap(tx, c, 16)) > 0)
		for (int i = 0; i < k; i++)
			acked += c[i].len;
	CHECK(acked == accepted, "%s: %llu bytes accepted, %llu completed",
	      what, (unsigned long long)accepted, (unsigned long long)acked);
	zc_tx_get_stats(tx, &st);
	CHECK(st.bytes == accepted && st.outstanding == 0,
	      "%s: stats bytes %llu outstanding %llu, want %llu and 0", what,
	      (unsigned long long)st.bytes, (unsigned long long)st.outstanding,
	      (unsigned long long)accepted);
	env.completions += st.sends;
	ret = zc_tx_free(tx);
	CHECK_EQ(ret, 0, "zc_tx_free: sends still outstanding");
}

/* --- receiving ------------------------------------------------------------ */

struct holder {
	struct zc_view v[MAX_HOLD];
	unsigned int n;
	unsigned int seed;
};

static void release_one(struct zc_rx *rx, struct holder *h, const char *what)
{
	unsigned int k = h->seed++ % h->n;
	int ret = zc_rx_release(rx, &h->v[k]);

	CHECK_EQ(ret, 0, what);
	h->v[k] = h->v[--h->n];
}

/* Reads until `want` bytes arrived (or the stream ends), verifying every
 * byte; keeps up to hold views. Returns bytes read; *last gets the last
 * zc_rx_read result (0 at the end, -errno, or > 0 when `want` was met). */
static uint64_t rx_read_upto(struct zc_rx *rx, struct holder *h,
			     unsigned int hold, uint64_t stream, uint64_t want,
			     ssize_t *last, const char *what)
{
	uint64_t off = 0;
	struct zc_view v;
	size_t bad;
	ssize_t n = 1;

	while (off < want) {
		n = zc_rx_read(rx, &v);
		if (n == -ENOBUFS && h->n) {
			release_one(rx, h, what);
			continue;
		}
		if (n <= 0)
			break;
		CHECK(v.len == (size_t)n &&
			      v.mapped_len + v.copied_len == v.len,
		      "%s: view lengths %zu + %zu != %zd", what, v.mapped_len,
		      v.copied_len, n);
		CHECK(v.mapped_len <= SLOT_SIZE, "%s: view maps %zu > slot",
		      what, v.mapped_len);
		bad = harden_verify(v.mapped, v.mapped_len, stream, off);
		CHECK(bad == v.mapped_len, "%s: mapped byte %llu wrong", what,
		      (unsigned long long)(off + bad));
		bad = harden_verify(v.copied, v.copied_len, stream,
				    off + v.mapped_len);
		CHECK(bad == v.copied_len, "%s: copied byte %llu wrong", what,
		      (unsigned long long)(off + v.mapped_len + bad));
		env.bytes_mapped += v.mapped_len;
		env.bytes_copied += v.copied_len;
		env.views++;
		off += (uint64_t)n;
		h->v[h->n++] = v;
		while (h->n > hold)
			release_one(rx, h, what);
	}
	*last = n;
	return off;
}

static void release_all(struct zc_rx *rx, struct holder *h, const char *what)
{
	while (h->n)
		release_one(rx, h, what);
}

/* --- one stream cycle ----------------------------------------------------- */

static int rx_modes[3] = { ZC_RX_AUTO, ZC_RX_ZEROCOPY, ZC_RX_COPY };

static void stream_cycle(unsigned int i)
{
	unsigned int k = i, end, mode, use_pool, backend, zap, family;
	struct zc_rx_pool *pool = NULL;
	struct zc_rx_opts ro = { 0 };
	struct zc_tx_opts to = { 0 };
	struct holder h = { .seed = i };
	struct zc_rx *rx = NULL;
	struct zc_tx *tx = NULL;
	uint64_t got, ud = 1, acked = 0, accepted = 0;
	char what[160];
	int fds[2], ret;
	ssize_t n, last;

	end = k % END_KINDS;
	k /= END_KINDS;
	mode = (unsigned int)rx_modes[k % 3];
	k /= 3;
	use_pool = k % 2;
	k /= 2;
	backend = (unsigned int)env.backends[k % env.nbackends];
	k /= env.nbackends;
	zap = 1 + k % 3;
	k /= 3;
	family = k % 2 ? AF_INET6 : AF_INET;
	if (mode == ZC_RX_ZEROCOPY && !env.rx_zerocopy)
		mode = ZC_RX_COPY;
	snprintf(what, sizeof(what),
		 "cycle %u (rx %s, %s, zap %s, tx %s, %s, IPv%d)", i,
		 zc_rx_mode_name((int)mode), use_pool ? "pool" : "own window",
		 zc_rx_zap_name((int)zap), zc_tx_backend_name((int)backend),
		 end_names[end], family == AF_INET6 ? 6 : 4);
	env.what = what;
	env.ends[end]++;

	ret = harden_tcp_pair(fds, family, HARDEN_MSS);
	if (ret) {
		errno = -ret;
		harden_die("loopback TCP pair");
	}
	ro.mode = mode;
	if (use_pool) {
		struct zc_rx_pool_opts po = { .slot_size = SLOT_SIZE,
					      .slots = 8,
					      .zap = zap };

		ret = zc_rx_pool_create(&pool, &po);
		CHECK_EQ(ret, 0, "zc_rx_pool_create");
		if (ret)
			goto out_close;
		ro.pool = pool;
		ro.slots = HOLD + 1;
	} else {
		ro.slot_size = SLOT_SIZE;
		ro.slots = HOLD + 1;
		ro.zap = zap;
	}
	ret = zc_rx_create(&rx, fds[0], &ro);
	CHECK_EQ(ret, 0, what);
	to.backend = backend;
	ret = zc_tx_create(&tx, fds[1], &to);
	CHECK_EQ(ret, 0, what);
	if (!rx || !tx)
		goto out_free;

	harden_fill(sendbuf, STREAM_LEN, i, 0);
	n = tx_send_all(tx, sendbuf, STREAM_LEN, &ud, &acked, what);
	CHECK_EQ(n, STREAM_LEN, what);
	accepted = n > 0 ? (uint64_t)n : 0;

	switch (end) {
	case END_CLOSE:
		tx_finish(tx, accepted, acked, what);
		tx = NULL;
		close(fds[1]);
		fds[1] = -1;
		got = rx_read_upto(rx, &h, HOLD, i, UINT64_MAX, &last, what);
		CHECK(got == STREAM_LEN && last == 0,
		      "%s: %llu bytes then %zd, want %u then 0", what,
		      (unsigned long long)got, last, STREAM_LEN);
		CHECK_EQ(zc_rx_read(rx, &(struct zc_view){ 0 }), 0,
			 "read after the end");
		break;
	case END_RESET:
		tx_finish(tx, accepted, acked, what);
		tx = NULL;
		harden_close_reset(fds[1]);
		fds[1] = -1;
		/* The bytes that come are the stream's start, then the
		 * error. That every queued byte comes first (zcnet.h) is
		 * harden_faults' check; here only leaks are. */
		got = rx_read_upto(rx, &h, HOLD, i, UINT64_MAX, &last, what);
		CHECK(got <= STREAM_LEN && last == -ECONNRESET,
		      "%s: %llu bytes then %zd, want up to %u then %d", what,
		      (unsigned long long)got, last, STREAM_LEN, -ECONNRESET);
		env.reset_lost += STREAM_LEN - got;
		CHECK_EQ(zc_rx_read(rx, &(struct zc_view){ 0 }), -ECONNRESET,
			 "the error repeats");
		break;
	case END_HALF: {
		char reply[8] = { 0 };

		tx_finish(tx, accepted, acked, what);
		tx = NULL;
		if (shutdown(fds[1], SHUT_WR))
			harden_die("shutdown");
		got = rx_read_upto(rx, &h, HOLD, i, UINT64_MAX, &last, what);
		CHECK(got == STREAM_LEN && last == 0,
		      "%s: %llu bytes then %zd, want %u then 0", what,
		      (unsigned long long)got, last, STREAM_LEN);
		/* The other direction still works after the half-close. */
		CHECK_EQ(send(fds[0], "done", 4, MSG_NOSIGNAL), 4, "reply");
		shutdown(fds[0], SHUT_WR);
		CHECK_EQ(recv(fds[1], reply, sizeof(reply), MSG_WAITALL), 4,
			 "reply after half-close");
		CHECK(!memcmp(reply, "done", 4), "%s: reply bytes", what);
		break;
	}
	case END_RX_RESET: {
		uint8_t more[4096];
		int tries;

		got = rx_read_upto(rx, &h, HOLD, i, STREAM_LEN / 2, &last,
				   what);
		CHECK(got >= STREAM_LEN / 2, "%s: %llu bytes", what,
		      (unsigned long long)got);
		/* Views still held at free are given back by it. */
		if (i & 4)
			release_all(rx, &h, what);
		h.n = 0;
		zc_rx_free(rx);
		rx = NULL;
		harden_close_reset(fds[0]);
		fds[0] = -1;
		/* The sender learns of the reset on a later send: an error,
		 * and no completion for it. */
		harden_fill(more, sizeof(more), i, STREAM_LEN);
		n = 0;
		for (tries = 0; tries < 100 && n >= 0; tries++) {
			n = zc_tx_send(tx, more, sizeof(more), ud);
			if (n > 0) {
				ud++;
				accepted += (uint64_t)n;
			}
		}
		CHECK(n == -ECONNRESET || n == -EPIPE,
		      "%s: send after reset: %zd (%s)", what, n,
		      n < 0 ? strerror((int)-n) : "accepted");
		tx_finish(tx, accepted, acked, what);
		tx = NULL;
		break;
	}
	}

out_free:
	if (rx) {
		/* Views still held at free are given back by it. */
		if (i & 8)
			release_all(rx, &h, what);
		zc_rx_free(rx);
	}
	if (tx)
		zc_tx_free(tx);
	if (pool)
		CHECK_EQ(zc_rx_pool_free(pool), 0, "zc_rx_pool_free");
out_close:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

/* --- one message cycle ---------------------------------------------------- */

static ssize_t payload_via_tx(void *ctx, const void *buf, size_t len,
			      uint64_t user_data)
{
	return zc_tx_send(ctx, buf, len, user_data);
}

static void check_msg(const struct zc_msg *m, unsigned int cycle,
		      unsigned int k, const char *what)
{
	uint64_t off = 0;
	uint32_t s;
	size_t bad;

	CHECK(m->hdr.id == k + 1 && m->hdr.type == 7 &&
		      m->hdr.len == msg_sizes[k],
	      "%s: message %u: id %llu type %u len %u", what, k,
	      (unsigned long long)m->hdr.id, m->hdr.type, m->hdr.len);
	for (s = 0; s < m->nsegs; s++) {
		bad = harden_verify(m->seg[s].iov_base, m->seg[s].iov_len,
				    cycle * 16 + k, off);
		CHECK(bad == m->seg[s].iov_len,
		      "%s: message %u payload byte %llu wrong", what, k,
		      (unsigned long long)(off + bad));
		off += m->seg[s].iov_len;
	}
	CHECK(off == m->hdr.len, "%s: message %u: %llu payload bytes", what, k,
	      (unsigned long long)off);
}

static void msg_cycle(unsigned int i)
{
	static uint8_t payload[NMSG][20000];
	unsigned int end = i % END_KINDS, mode = (unsigned int)rx_modes[i % 3];
	unsigned int k, nread = 0, want;
	struct zc_rx_opts ro = { .copybuf_size = 16u << 10,
				 .slot_size = SLOT_SIZE,
				 .slots = 8 };
	struct zc_msg m[NMSG];
	struct zc_msg_rx *mrx = NULL;
	struct zc_rx *rx = NULL;
	struct zc_tx *tx = NULL;
	bool via_tx = (i / END_KINDS) % 2;
	char what[128];
	int fds[2], ret;

	if (mode == ZC_RX_ZEROCOPY && !env.rx_zerocopy)
		mode = ZC_RX_COPY;
	snprintf(what, sizeof(what), "msg cycle %u (rx %s, %s, %s)", i,
		 zc_rx_mode_name((int)mode), via_tx ? "zc_tx" : "send",
		 end_names[end]);
	env.what = what;
	memset(m, 0, sizeof(m));
	ret = harden_tcp_pair(fds, i % 2 ? AF_INET6 : AF_INET, HARDEN_MSS);
	if (ret) {
		errno = -ret;
		harden_die("loopback TCP pair");
	}
	ro.mode = mode;
	ret = zc_rx_create(&rx, fds[0], &ro);
	CHECK_EQ(ret, 0, what);
	if (!ret) {
		ret = zc_msg_rx_create(&mrx, rx, NULL);
		CHECK_EQ(ret, 0, what);
	}
	if (via_tx) {
		ret = zc_tx_create(&tx, fds[1], NULL);
		CHECK_EQ(ret, 0, what);
	}
	if (!rx || !mrx || (via_tx && !tx))
		goto out;

	for (k = 0; k < NMSG; k++) {
		struct iovec iov = { payload[k], msg_sizes[k] };
		struct zc_msg_out o = { 0 };

		harden_fill(payload[k], msg_sizes[k], i * 16 + k, 0);
		o.fd = fds[1];
		o.hdr.id = k + 1;
		o.hdr.type = 7;
		o.hdr.len = msg_sizes[k];
		o.iov = &iov;
		o.iovcnt = 1;
		if (tx) {
			o.payload_fn = payload_via_tx;
			o.payload_ctx = tx;
		}
		ret = zc_msg_send(&o);
		CHECK_EQ(ret, 0, "zc_msg_send");
	}
	if (tx) {
		/* The payloads stay put until their completions. */
		CHECK_EQ(zc_tx_flush(tx, 5000), 0, "zc_tx_flush");
		while (zc_tx_reap(tx, &(struct zc_completion){ 0 }, 1) > 0)
			;
		CHECK_EQ(zc_tx_free(tx), 0, "zc_tx_free");
		tx = NULL;
	}
	switch (end) {
	case END_CLOSE:
		close(fds[1]);
		fds[1] = -1;
		break;
	case END_RESET:
		harden_close_reset(fds[1]);
		fds[1] = -1;
		break;
	case END_HALF:
		shutdown(fds[1], SHUT_WR);
		break;
	default:
		break;
	}
	want = end == END_RX_RESET ? NMSG / 2 : NMSG;
	for (k = 0; k < want; k++) {
		ret = zc_msg_read(mrx, &m[k]);
		/* After a reset: the messages before it, then the error
		 * (that none is lost is harden_faults' check). */
		if (end == END_RESET && ret == -ECONNRESET) {
			env.reset_lost += NMSG - k;
			break;
		}
		CHECK(ret == 1, "%s: message %u: zc_msg_read %d (%s)", what, k,
		      ret, ret < 0 ? strerror(-ret) : "end");
		if (ret != 1)
			break;
		nread++;
		check_msg(&m[k], i, k, what);
	}
	if (nread == want && end != END_RX_RESET) {
		ret = zc_msg_read(mrx, &(struct zc_msg){ 0 });
		CHECK_EQ(ret, end == END_RESET ? -ECONNRESET : 0,
			 "after the last message");
	}
	/* Give back half of them; zc_msg_rx_free takes the rest. */
	for (k = 0; k < nread; k += 2) {
		check_msg(&m[k], i, k, what);
		CHECK_EQ(zc_msg_release(mrx, &m[k]), 0, "zc_msg_release");
	}
	if (end == END_HALF) {
		char reply[4];

		CHECK_EQ(send(fds[0], "done", 4, MSG_NOSIGNAL), 4, "reply");
		CHECK_EQ(recv(fds[1], reply, 4, MSG_WAITALL), 4,
			 "reply after half-close");
	}
out:
	zc_msg_rx_free(mrx);
	zc_rx_free(rx);
	if (end == END_RX_RESET) {
		harden_close_reset(fds[0]);
		fds[0] = -1;
		/* The sender's next message fails with the reset. */
		for (k = 0; k < 100; k++) {
			struct zc_msg_out o = { .fd = fds[1] };

			ret = zc_msg_send(&o);
			if (ret < 0)
				break;
		}
		CHECK(ret == -ECONNRESET || ret == -EPIPE,
		      "%s: send after reset: %d", what, ret);
	}
	if (tx)
		zc_tx_free(tx);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

/* --- main ----------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: harden_leaks [--cycles N] [--msg-cycles N] "
			"[--warmup N] [--no-maps] [--no-rss] "
			"[--rss-slack KIB] [--timeout SEC] [--inject-leak]\n");
	exit(2);
}

static void run_cycle(unsigned int c, const struct cfg *cfg)
{
	static unsigned int msgs;

	/* Message cycles are spread evenly among the stream cycles. */
	env.cycle = c;
	stream_cycle(c);
	if ((uint64_t)c * cfg->msg_cycles / cfg->cycles !=
	    (uint64_t)(c + 1) * cfg->msg_cycles / cfg->cycles)
		msg_cycle(msgs++);
}

int main(int argc, char **argv)
{
	struct cfg cfg = { .cycles = 1000,
			   .msg_cycles = 250,
			   .warmup = 40,
			   .maps = !HARDEN_ASAN,
			   .rss = !HARDEN_ASAN,
			   .rss_slack_kib = 1024,
			   .timeout = 240 };
	struct harden_usage u0, u1, u;
	struct zc_probe p;
	unsigned int c, first_maps_change = 0;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--no-maps"))
			cfg.maps = false;
		else if (!strcmp(a, "--no-rss"))
			cfg.rss = false;
		else if (!strcmp(a, "--inject-leak"))
			cfg.inject_leak = true;
		else if (!v)
			usage();
		else if (!strcmp(a, "--cycles"))
			cfg.cycles = (unsigned int)atoi(v), i++;
		else if (!strcmp(a, "--msg-cycles"))
			cfg.msg_cycles = (unsigned int)atoi(v), i++;
		else if (!strcmp(a, "--warmup"))
			cfg.warmup = (unsigned int)atoi(v), i++;
		else if (!strcmp(a, "--rss-slack"))
			cfg.rss_slack_kib = atol(v), i++;
		else if (!strcmp(a, "--timeout"))
			cfg.timeout = (unsigned int)atoi(v), i++;
		else
			usage();
	}
	if (!cfg.cycles)
		usage();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(cfg.timeout);

	if (zc_probe(&p))
		harden_die("zc_probe");
	env.rx_zerocopy = p.features & ZC_PROBE_RX_ZEROCOPY;
	env.backends[env.nbackends++] = ZC_TX_COPY;
	env.backends[env.nbackends++] = ZC_TX_AUTO;
	if (p.features & ZC_PROBE_TX_TCP_ZEROCOPY)
		env.backends[env.nbackends++] = ZC_TX_MSG_ZEROCOPY;
	if (p.features & ZC_PROBE_URING)
		env.backends[env.nbackends++] = ZC_TX_URING;
	if (p.features & ZC_PROBE_URING_SEND_ZC)
		env.backends[env.nbackends++] = ZC_TX_URING_ZC;

	/* Warm-up: the same cycles, not counted against the baseline. */
	for (c = 0; c < cfg.warmup; c++)
		run_cycle(c, &cfg);
	harden_usage_now(&u0);
	printf("after %u warm-up cycles: %ld fds, %ld maps lines, %ld KiB "
	       "RSS\n",
	       cfg.warmup, u0.fds, u0.maps, u0.rss_kib);
	for (c = 0; c < cfg.cycles; c++) {
		run_cycle(c, &cfg);
		if (cfg.inject_leak && c == cfg.cycles / 2) {
			if (socket(AF_INET, SOCK_STREAM, 0) < 0 ||
			    mmap(NULL, 4096, PROT_READ,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1,
				 0) == MAP_FAILED)
				harden_die("inject-leak");
		}
		harden_usage_now(&u);
		CHECK(u.fds == u0.fds, "after %s: %ld fds open, %ld before",
		      env.what, u.fds, u0.fds);
		if (u.fds != u0.fds)
			u0.fds = u.fds; /* report each leaking cycle once */
		if (!first_maps_change && u.maps != u0.maps)
			first_maps_change = c + 1;
		if ((c + 1) % 200 == 0 || c + 1 == cfg.cycles)
			printf("after %u cycles: %ld fds, %ld maps lines, %ld "
			       "KiB RSS\n",
			       c + 1, u.fds, u.maps, u.rss_kib);
		if (harden_failures > 20) {
			printf("too many failures, stopping\n");
			break;
		}
	}
	harden_usage_now(&u1);
	if (cfg.maps) {
		CHECK(u1.maps == u0.maps,
		      "/proc/self/maps: %ld lines after the cycles, %ld before "
		      "(first different after cycle %u)",
		      u1.maps, u0.maps, first_maps_change);
	}
	if (cfg.rss) {
		CHECK(u1.rss_kib <= u0.rss_kib + cfg.rss_slack_kib,
		      "RSS grew from %ld to %ld KiB (slack %ld KiB)",
		      u0.rss_kib, u1.rss_kib, cfg.rss_slack_kib);
	}
	printf("harden_leaks: %u stream cycles (%llu close, %llu reset, %llu "
	       "half-close, %llu receiver reset), %u message cycles, "
	       "%u tx backends; %llu views: %llu bytes mapped, %llu copied; "
	       "%llu sends completed; %llu bytes or messages queued "
	       "before a reset never delivered; %d checks, %d failed%s\n",
	       cfg.cycles, (unsigned long long)env.ends[END_CLOSE],
	       (unsigned long long)env.ends[END_RESET],
	       (unsigned long long)env.ends[END_HALF],
	       (unsigned long long)env.ends[END_RX_RESET], cfg.msg_cycles,
	       env.nbackends, (unsigned long long)env.views,
	       (unsigned long long)env.bytes_mapped,
	       (unsigned long long)env.bytes_copied,
	       (unsigned long long)env.completions,
	       (unsigned long long)env.reset_lost, harden_checks,
	       harden_failures, cfg.maps ? "" : " (maps and RSS not compared)");
	if (env.rx_zerocopy && (p.features & ZC_PROBE_TX_TCP_ZEROCOPY))
		CHECK(env.bytes_mapped > 0,
		      "no byte was ever mapped: the zero-copy path was not "
		      "exercised");
	return harden_failures ? 1 : 0;
}
