/* SPDX-License-Identifier: MIT */
/*
 * rx_peer: both ends of the receive engine's integration tests.
 *
 *   rx_peer recv --listen ADDR PORT [--mode auto|zerocopy|copy] [--bytes N]
 *                [--expect-min-mapped PCT] [--expect-max-mapped PCT]
 *                [--expect-error ENAME] [--hold N] [--seed S] [--zap Z]
 *                [--slots N] [--slot-size N] [--copybuf N] [--rcvlowat]
 *                [--nonblock] [--mss N] [--timeout SEC]
 *   rx_peer send --connect ADDR PORT --bytes N [--msg-zerocopy] [--mss N]
 *                [--write-sizes odd|1|fixed:N] [--oob-at OFFSET]...
 *                [--reset-at OFFSET] [--nodelay] [--seed S] [--timeout SEC]
 *
 * The sender writes a deterministic pattern (a pseudo-random table whose
 * length is a prime, so no page or copy that lands in the wrong place of
 * the stream can match); --oob-at sends the byte at OFFSET alone with
 * MSG_OOB, and zc_rx_create() keeps urgent data in line, so the receiver
 * must still see exactly the pattern. --reset-at closes with SO_LINGER 0
 * after OFFSET bytes: the peer gets a reset mid-stream.
 *
 * The receiver reads through zc_rx and checks every byte of every view,
 * mapped and copied, when it is read and again just before it is released;
 * with --hold N it keeps N views at once and releases a random one (seeded)
 * each time, so views go back out of order. It prints one result line and
 * exits non-zero on any wrong byte, a short or long stream, a mapped share
 * outside the expected range, an unexpected error, or stats that disagree
 * with what the views showed.
 *
 * Sizes take K, M, G suffixes (powers of 1024). Traffic goes only to the
 * address given, which the test scripts take from topologies they created.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zcnet.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif

#define PAT_LEN	   1048573u /* prime, about 1 MiB */
#define MAX_OOB	   16
#define REAP_EVERY 32

static const char *role = "rx_peer";
static uint8_t *pat; /* 2 * PAT_LEN: any PAT_LEN bytes from any offset */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: FAIL: ", role);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage_error(const char *what)
{
	fprintf(stderr, "rx_peer: %s\n", what);
	fprintf(stderr,
		"usage: rx_peer recv --listen ADDR PORT [options] | "
		"rx_peer send --connect ADDR PORT --bytes N [options]\n");
	exit(2);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void pattern_init(void)
{
	uint64_t s = 0x9e3779b97f4a7c15ull;
	size_t i;

	pat = malloc(2 * (size_t)PAT_LEN);
	if (!pat)
		die("out of memory");
	for (i = 0; i < PAT_LEN; i++)
		pat[i] = (uint8_t)(xorshift(&s) >> 56);
	memcpy(pat + PAT_LEN, pat, PAT_LEN);
}

static const uint8_t *pattern_at(uint64_t off)
{
	return pat + off % PAT_LEN;
}

/* Index of the first byte of buf that differs from the stream at off, or
 * len when all match. */
static size_t pattern_check(const uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0, n, i;

	while (done < len) {
		n = len - done < PAT_LEN ? len - done : PAT_LEN;
		if (memcmp(buf + done, pattern_at(off + done), n)) {
			for (i = 0; buf[done + i] == pattern_at(off + done)[i];
			     i++)
				;
			return done + i;
		}
		done += n;
	}
	return len;
}

static uint64_t parse_size(const char *s, const char *opt)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		usage_error(opt);
	switch (*end) {
	case 'G':
		v <<= 10;
		/* fall through */
	case 'M':
		v <<= 10;
		/* fall through */
	case 'K':
		v <<= 10;
		end++;
		break;
	}
	if (*end)
		usage_error(opt);
	return v;
}

static void on_alarm(int sig)
{
	static const char msg[] = ": FAIL: timed out\n";

	(void)sig;
	if (write(2, role, strlen(role)) < 0 || write(2, msg, sizeof(msg) - 1))
		_exit(1);
	_exit(1);
}

static socklen_t make_addr(struct sockaddr_storage *ss, const char *addr,
			   const char *port)
{
	unsigned long p = strtoul(port, NULL, 10);

	memset(ss, 0, sizeof(*ss));
	if (p == 0 || p > 65535)
		usage_error("bad port");
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			usage_error("bad IPv6 address");
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
		usage_error("bad IPv4 address");
	return sizeof(*s4);
}

static void set_mss(int fd, int mss)
{
	if (mss && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)))
		die("TCP_MAXSEG %d: %s", mss, strerror(errno));
}

/* --- receiver ------------------------------------------------------------- */

struct recv_cfg {
	const char *addr, *port;
	int mode, zap, mss;
	uint64_t bytes;
	bool bytes_set, rcvlowat, nonblock;
	double min_mapped, max_mapped;
	const char *expect_error;
	unsigned int hold, slots;
	uint32_t slot_size, copybuf;
	uint64_t seed;
};

struct held {
	struct zc_view v;
	uint64_t off;
	uint64_t index;
};

static void check_view(const struct held *h, const char *when)
{
	const struct zc_view *v = &h->v;
	long page = sysconf(_SC_PAGESIZE);
	size_t bad;

	if (v->len != v->mapped_len + v->copied_len || !v->len)
		die("view %llu: len %zu != mapped %zu + copied %zu",
		    (unsigned long long)h->index, v->len, v->mapped_len,
		    v->copied_len);
	if (v->mapped_len &&
	    (!v->mapped || (uintptr_t)v->mapped % page || v->mapped_len % page))
		die("view %llu: mapped part %p+%zu not whole pages",
		    (unsigned long long)h->index, (const void *)v->mapped,
		    v->mapped_len);
	if (v->mapped_len) {
		bad = pattern_check(v->mapped, v->mapped_len, h->off);
		if (bad < v->mapped_len)
			die("stream byte %llu (mapped byte %zu of view %llu, "
			    "%s): got 0x%02x, want 0x%02x",
			    (unsigned long long)(h->off + bad), bad,
			    (unsigned long long)h->index, when, v->mapped[bad],
			    *pattern_at(h->off + bad));
	}
	if (v->copied_len) {
		uint64_t off = h->off + v->mapped_len;

		if (!v->copied)
			die("view %llu: copied part NULL",
			    (unsigned long long)h->index);
		bad = pattern_check(v->copied, v->copied_len, off);
		if (bad < v->copied_len)
			die("stream byte %llu (copied byte %zu of view %llu, "
			    "%s): got 0x%02x, want 0x%02x",
			    (unsigned long long)(off + bad), bad,
			    (unsigned long long)h->index, when, v->copied[bad],
			    *pattern_at(off + bad));
	}
}

static void release_one(struct zc_rx *rx, struct held *held,
			unsigned int *nheld, unsigned int i)
{
	int ret;

	check_view(&held[i], "before release");
	ret = zc_rx_release(rx, &held[i].v);
	if (ret)
		die("zc_rx_release view %llu: %s",
		    (unsigned long long)held[i].index, strerror(-ret));
	held[i] = held[--*nheld];
}

static int listen_on(const struct recv_cfg *c)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, c->addr, c->port);
	int fd, one = 1;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	set_mss(fd, c->mss);
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1))
		die("listen on %s port %s: %s", c->addr, c->port,
		    strerror(errno));
	return fd;
}

static int do_recv(const struct recv_cfg *c)
{
	struct zc_rx_opts o = {.mode = (uint32_t)c->mode,
			       .zap = (uint32_t)c->zap,
			       .slot_size = c->slot_size,
			       .copybuf_size = c->copybuf,
			       .flags = c->rcvlowat ? ZC_RX_F_RCVLOWAT : 0};
	uint64_t off = 0, mapped = 0, copied = 0, views = 0, seed = c->seed;
	unsigned int nheld = 0, hold = c->hold ? c->hold : 1;
	struct zc_rx_stats st;
	struct held *held;
	struct zc_rx *rx;
	int lfd, fd, ret, err = 0;
	double pct;
	ssize_t n;

	o.slots = c->slots ? c->slots : (hold > 8 ? hold : 0);
	held = calloc(hold, sizeof(*held));
	if (!held)
		die("out of memory");
	lfd = listen_on(c);
	printf("%s: listening on %s port %s\n", role, c->addr, c->port);
	fflush(stdout);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	close(lfd);
	if (c->nonblock && fcntl(fd, F_SETFL, O_NONBLOCK))
		die("O_NONBLOCK: %s", strerror(errno));
	ret = zc_rx_create(&rx, fd, &o);
	if (ret)
		die("zc_rx_create: %s", strerror(-ret));

	for (;;) {
		struct held *h;

		if (nheld == hold)
			release_one(rx, held, &nheld,
				    (unsigned int)(xorshift(&seed) % nheld));
		h = &held[nheld];
		n = zc_rx_read(rx, &h->v);
		if (n == -EAGAIN && c->nonblock) {
			ret = zc_rx_wait(rx, 1000);
			if (ret < 0)
				die("zc_rx_wait: %s", strerror(-ret));
			continue;
		}
		if (n == -EINTR)
			continue;
		if (n < 0) {
			err = (int)-n;
			break;
		}
		if (n == 0)
			break;
		if ((size_t)n != h->v.len)
			die("zc_rx_read returned %zd, view len %zu", n,
			    h->v.len);
		h->off = off;
		h->index = views++;
		check_view(h, "as read");
		off += (uint64_t)n;
		mapped += h->v.mapped_len;
		copied += h->v.copied_len;
		nheld++;
		if (c->bytes_set && off > c->bytes)
			die("received %llu bytes, more than the %llu sent",
			    (unsigned long long)off,
			    (unsigned long long)c->bytes);
	}
	while (nheld)
		release_one(rx, held, &nheld,
			    (unsigned int)(xorshift(&seed) % nheld));
	zc_rx_get_stats(rx, &st);

	pct = off ? 100.0 * (double)mapped / (double)off : 0.0;
	printf("%s: %llu bytes verified, %.2f%% mapped, mode %s (asked %s, "
	       "%llu switches), %llu views, %llu zerocopy calls, %llu recv "
	       "calls, %llu zaps, %llu skip hints, %llu small queue, ended "
	       "with %s\n",
	       role, (unsigned long long)off, pct,
	       zc_rx_mode_name(zc_rx_mode(rx)), zc_rx_mode_name(c->mode),
	       (unsigned long long)st.mode_switches, (unsigned long long)views,
	       (unsigned long long)st.zerocopy_calls,
	       (unsigned long long)st.recv_calls, (unsigned long long)st.zaps,
	       (unsigned long long)st.skip_hints,
	       (unsigned long long)st.small_queue,
	       err ? strerrorname_np(err) : "end of stream");
	fflush(stdout);
	zc_rx_free(rx);
	close(fd);

	/* The library's own accounting must match what the views showed. */
	if (st.bytes_mapped != mapped ||
	    st.bytes_copybuf + st.bytes_read != copied || st.views != views)
		die("stats disagree with the views: mapped %llu/%llu, copied "
		    "%llu+%llu/%llu, views %llu/%llu",
		    (unsigned long long)st.bytes_mapped,
		    (unsigned long long)mapped,
		    (unsigned long long)st.bytes_copybuf,
		    (unsigned long long)st.bytes_read,
		    (unsigned long long)copied, (unsigned long long)st.views,
		    (unsigned long long)views);
	if (c->expect_error) {
		if (!err)
			die("stream ended cleanly, expected %s",
			    c->expect_error);
		if (strcmp(strerrorname_np(err), c->expect_error))
			die("zc_rx_read: %s (%s), expected %s",
			    strerrorname_np(err), strerror(err),
			    c->expect_error);
	} else if (err) {
		die("zc_rx_read after %llu bytes: %s", (unsigned long long)off,
		    strerror(err));
	} else if (c->bytes_set && off != c->bytes) {
		die("stream ended after %llu of %llu bytes",
		    (unsigned long long)off, (unsigned long long)c->bytes);
	}
	if (!off && !c->expect_error)
		die("no bytes received");
	if (pct < c->min_mapped)
		die("%.2f%% of bytes mapped, expected at least %g%%", pct,
		    c->min_mapped);
	if (pct > c->max_mapped)
		die("%.2f%% of bytes mapped, expected at most %g%%", pct,
		    c->max_mapped);
	printf("%s: OK\n", role);
	free(held);
	return 0;
}

/* --- sender --------------------------------------------------------------- */

struct send_cfg {
	const char *addr, *port;
	uint64_t bytes, reset_at;
	bool msg_zerocopy, nodelay, reset;
	int mss;
	enum { SIZES_FIXED, SIZES_ODD } sizes;
	uint32_t fixed;
	uint64_t oob[MAX_OOB];
	unsigned int noob;
	uint64_t seed;
};

struct zc_track {
	uint64_t sent;	 /* MSG_ZEROCOPY sends, each one notification id */
	uint64_t done;	 /* ids completed */
	uint64_t copied; /* ids the kernel reported as copied */
};

/* Reads every zero-copy completion queued on the error queue. */
static void reap(int fd, struct zc_track *t)
{
	char control[128];
	struct msghdr msg;
	struct cmsghdr *cm;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			die("recvmsg(MSG_ERRQUEUE): %s", strerror(errno));
		}
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct sock_extended_err ee;

			if (!((cm->cmsg_level == SOL_IP &&
			       cm->cmsg_type == IP_RECVERR) ||
			      (cm->cmsg_level == SOL_IPV6 &&
			       cm->cmsg_type == IPV6_RECVERR)))
				continue;
			memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				die("error queue: %s", strerror(ee.ee_errno));
			/* [ee_info, ee_data], inclusive, may wrap. */
			uint64_t n = (uint32_t)(ee.ee_data - ee.ee_info) + 1ull;

			t->done += n;
			if (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				t->copied += n;
		}
	}
}

static void wait_completions(int fd, struct zc_track *t, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = 0};

	/* POLLERR says the error queue has something. */
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	reap(fd, t);
}

static int connect_to(const struct send_cfg *c)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, c->addr, c->port);
	struct timespec pause = {0, 20 * 1000 * 1000};
	int fd, one = 1, tries;

	/* The receiver may still be starting: retry refused connects. */
	for (tries = 0;; tries++) {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket: %s", strerror(errno));
		set_mss(fd, c->mss);
		if (c->nodelay &&
		    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
			die("TCP_NODELAY: %s", strerror(errno));
		if (!connect(fd, (struct sockaddr *)&ss, len))
			return fd;
		if (errno != ECONNREFUSED || tries >= 500)
			die("connect to %s port %s: %s", c->addr, c->port,
			    strerror(errno));
		close(fd);
		nanosleep(&pause, NULL);
	}
}

static size_t next_size(const struct send_cfg *c, uint64_t *seed)
{
	static const uint32_t classes[] = {17, 4099, 65537, 262147};
	uint64_t r;

	if (c->sizes == SIZES_FIXED)
		return c->fixed;
	r = xorshift(seed);
	/* Odd sizes from a byte to 256 KiB: no write is page-sized. */
	return (size_t)((r >> 8) % classes[r & 3]) | 1;
}

static int do_send(const struct send_cfg *c)
{
	uint64_t off = 0, writes = 0, seed = c->seed, end = c->bytes;
	struct zc_track t = {0};
	unsigned int next_oob = 0;
	int fd, one = 1, flags;
	char buf[4096];
	size_t len;
	ssize_t n;

	fd = connect_to(c);
	if (c->msg_zerocopy &&
	    setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY: %s", strerror(errno));
	if (c->reset && c->reset_at < end)
		end = c->reset_at;
	while (off < end) {
		if (next_oob < c->noob && off == c->oob[next_oob]) {
			/* The urgent byte alone: it is the pattern's byte,
			 * and must arrive in line at exactly this offset. */
			n = send(fd, pattern_at(off), 1,
				 MSG_OOB | MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n != 1)
				die("send(MSG_OOB) at %llu: %s",
				    (unsigned long long)off, strerror(errno));
			off++;
			writes++;
			next_oob++;
			continue;
		}
		len = next_size(c, &seed);
		if (len > end - off)
			len = (size_t)(end - off);
		if (next_oob < c->noob && len > c->oob[next_oob] - off)
			len = (size_t)(c->oob[next_oob] - off);
		flags = MSG_NOSIGNAL | (c->msg_zerocopy ? MSG_ZEROCOPY : 0);
		n = send(fd, pattern_at(off), len, flags);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* optmem full of unreaped notifications: reap and
			 * retry by zero-copy, so the receiver still gets
			 * mappable pages. */
			if (errno == ENOBUFS && c->msg_zerocopy) {
				wait_completions(fd, &t, 100);
				continue;
			}
			die("send at %llu: %s", (unsigned long long)off,
			    strerror(errno));
		}
		off += (uint64_t)n;
		writes++;
		if (c->msg_zerocopy) {
			t.sent++;
			if (t.sent % REAP_EVERY == 0)
				reap(fd, &t);
		}
	}
	if (c->reset) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
			die("SO_LINGER: %s", strerror(errno));
		close(fd);
		printf("%s: reset the connection after %llu bytes in %llu "
		       "writes\n",
		       role, (unsigned long long)off,
		       (unsigned long long)writes);
		return 0;
	}
	/* Let every zero-copy send complete before closing (completions
	 * need the peer's ACKs); a missing one is reported, not fatal: the
	 * receiver judges the data. */
	for (int i = 0; c->msg_zerocopy && t.done < t.sent && i < 100; i++)
		wait_completions(fd, &t, 100);
	if (shutdown(fd, SHUT_WR))
		die("shutdown: %s", strerror(errno));
	/* Wait for the receiver to close: it has then read everything. */
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0 ||
	       (n < 0 && errno == EINTR))
		;
	close(fd);
	printf("%s: sent %llu bytes in %llu writes", role,
	       (unsigned long long)off, (unsigned long long)writes);
	if (c->msg_zerocopy)
		printf(", %llu MSG_ZEROCOPY sends, %llu completed, kernel "
		       "copied %llu",
		       (unsigned long long)t.sent, (unsigned long long)t.done,
		       (unsigned long long)t.copied);
	printf("\n");
	return 0;
}

/* --- command line ----------------------------------------------------------
 */

static const char *arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		usage_error("missing value");
	return argv[++*i];
}

int main(int argc, char **argv)
{
	struct recv_cfg rc = {.max_mapped = 100.0, .seed = 1};
	struct send_cfg sc = {.fixed = 256u << 10, .seed = 1};
	unsigned int timeout = 120;
	bool recv_side;
	int i;

	if (argc < 2)
		usage_error("missing recv or send");
	if (!strcmp(argv[1], "--help")) {
		printf("usage: rx_peer recv --listen ADDR PORT [options]\n"
		       "       rx_peer send --connect ADDR PORT --bytes N "
		       "[options]\n(see the comment at the top of "
		       "tests/integration/rx_peer.c)\n");
		return 0;
	}
	recv_side = !strcmp(argv[1], "recv");
	if (!recv_side && strcmp(argv[1], "send"))
		usage_error("first argument must be recv or send");
	role = recv_side ? "rx_peer recv" : "rx_peer send";

	for (i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--listen") && recv_side) {
			rc.addr = arg(argc, argv, &i);
			rc.port = arg(argc, argv, &i);
		} else if (!strcmp(a, "--connect") && !recv_side) {
			sc.addr = arg(argc, argv, &i);
			sc.port = arg(argc, argv, &i);
		} else if (!strcmp(a, "--bytes")) {
			rc.bytes = sc.bytes =
				parse_size(arg(argc, argv, &i), a);
			rc.bytes_set = true;
		} else if (!strcmp(a, "--mss")) {
			rc.mss = sc.mss =
				(int)parse_size(arg(argc, argv, &i), a);
		} else if (!strcmp(a, "--seed")) {
			rc.seed = sc.seed =
				parse_size(arg(argc, argv, &i), a) | 1;
		} else if (!strcmp(a, "--timeout")) {
			timeout = (unsigned int)parse_size(arg(argc, argv, &i),
							   a);
		} else if (!strcmp(a, "--mode") && recv_side) {
			rc.mode = zc_rx_mode_parse(arg(argc, argv, &i));
			if (rc.mode < 0)
				usage_error("bad --mode");
		} else if (!strcmp(a, "--zap") && recv_side) {
			rc.zap = zc_rx_zap_parse(arg(argc, argv, &i));
			if (rc.zap < 0)
				usage_error("bad --zap");
		} else if (!strcmp(a, "--expect-min-mapped") && recv_side) {
			rc.min_mapped = atof(arg(argc, argv, &i));
		} else if (!strcmp(a, "--expect-max-mapped") && recv_side) {
			rc.max_mapped = atof(arg(argc, argv, &i));
		} else if (!strcmp(a, "--expect-error") && recv_side) {
			rc.expect_error = arg(argc, argv, &i);
		} else if (!strcmp(a, "--hold") && recv_side) {
			rc.hold = (unsigned int)parse_size(arg(argc, argv, &i),
							   a);
		} else if (!strcmp(a, "--slots") && recv_side) {
			rc.slots = (unsigned int)parse_size(arg(argc, argv, &i),
							    a);
		} else if (!strcmp(a, "--slot-size") && recv_side) {
			rc.slot_size =
				(uint32_t)parse_size(arg(argc, argv, &i), a);
		} else if (!strcmp(a, "--copybuf") && recv_side) {
			rc.copybuf =
				(uint32_t)parse_size(arg(argc, argv, &i), a);
		} else if (!strcmp(a, "--rcvlowat") && recv_side) {
			rc.rcvlowat = true;
		} else if (!strcmp(a, "--nonblock") && recv_side) {
			rc.nonblock = true;
		} else if (!strcmp(a, "--msg-zerocopy") && !recv_side) {
			sc.msg_zerocopy = true;
		} else if (!strcmp(a, "--nodelay") && !recv_side) {
			sc.nodelay = true;
		} else if (!strcmp(a, "--write-sizes") && !recv_side) {
			const char *w = arg(argc, argv, &i);

			if (!strcmp(w, "odd")) {
				sc.sizes = SIZES_ODD;
			} else if (!strcmp(w, "1")) {
				sc.fixed = 1;
			} else if (!strncmp(w, "fixed:", 6)) {
				sc.fixed = (uint32_t)parse_size(w + 6, a);
				if (!sc.fixed)
					usage_error("bad --write-sizes");
			} else {
				usage_error("bad --write-sizes");
			}
		} else if (!strcmp(a, "--oob-at") && !recv_side) {
			if (sc.noob == MAX_OOB)
				usage_error("too many --oob-at");
			sc.oob[sc.noob] = parse_size(arg(argc, argv, &i), a);
			if (sc.noob && sc.oob[sc.noob] <= sc.oob[sc.noob - 1])
				usage_error("--oob-at offsets must increase");
			sc.noob++;
		} else if (!strcmp(a, "--reset-at") && !recv_side) {
			sc.reset = true;
			sc.reset_at = parse_size(arg(argc, argv, &i), a);
		} else {
			fprintf(stderr, "rx_peer: unknown option %s\n", a);
			usage_error("try rx_peer --help");
		}
	}
	if (recv_side ? !rc.addr : !sc.addr)
		usage_error(recv_side ? "--listen ADDR PORT is required"
				      : "--connect ADDR PORT is required");
	if (!recv_side && !sc.bytes)
		usage_error("--bytes is required");

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(timeout);
	pattern_init();
	return recv_side ? do_recv(&rc) : do_send(&sc);
}
