/* SPDX-License-Identifier: MIT */
/*
 * msg_peer: the ends of the message layer's integration tests.
 *
 *   msg_peer send --connect ADDR PORT [--rounds N] [--msg-zerocopy]
 *                 [--mss N] [--timeout SEC]
 *   msg_peer recv --listen ADDR PORT [--rounds N] [--mode M] [--hold N]
 *                 [--copybuf N] [--slots N] [--no-rcvlowat] [--mss N]
 *                 [--expect-min-mapped PCT] [--timeout SEC]
 *   msg_peer rpc --connect ADDR PORT [--conns N] [--rounds N] [--bad]
 *                [--msg-zerocopy] [--mss N] [--timeout SEC]
 *
 * send/recv: each round is one message of each size 0, 1, 4095, 4096,
 * 64 KiB and 1 MiB; message k (from 1) has id k, type its size index and
 * flags k % 4, and its payload is a deterministic pattern that depends on
 * k, so a payload delivered to the wrong message, or shifted, cannot
 * match. The sender uses zc_msg_send(), with MSG_ZEROCOPY when asked, and
 * waits for every completion before it closes. The receiver reads through
 * zc_rx + zc_msg_rx, checks every header field and payload byte when a
 * message arrives and again just before releasing it (with --hold N it
 * keeps N messages and releases a random one each time, so views go back
 * out of order; -ENOBUFS, all slots held, releases one too), expects a
 * clean end after the last message, and reports which share of the
 * payloads of a page or more arrived in mapped pages.
 *
 * rpc: a client of examples/rpc_server. --conns connections each send one
 * request per round (type 1 echo; every 5th an unknown type, which must be
 * answered with ZC_MSG_F_ERROR) and check every reply's id, flags and
 * payload. --bad then opens one more connection, sends a header with a
 * bad magic, expects the server to close it, and runs one more round on
 * the others to show they were not affected.
 *
 * Traffic goes only to the address given, which the test scripts take
 * from namespaces they created.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif

#define PAT_LEN	  1048573u /* prime, about 1 MiB */
#define NSIZES	  6
#define RPC_ECHO  1
#define RPC_OTHER 99

static const uint32_t sizes[NSIZES] = { 0, 1, 4095, 4096, 65536, 1048576 };
static const uint32_t rpc_sizes[] = { 0, 1, 100, 4095, 4096, 65536, 200000 };
#define RPC_NSIZES (sizeof(rpc_sizes) / sizeof(rpc_sizes[0]))
/* Longest payload: any of it can be read from any pattern offset. */
#define MAX_PAYLOAD (1u << 20)

static const char *role = "msg_peer";
static uint8_t *pat;

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
	fprintf(stderr, "msg_peer: %s\n", what);
	fprintf(stderr, "usage: msg_peer send|recv|rpc ADDR PORT [options] "
			"(see the comment at the top of msg_peer.c)\n");
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

	pat = malloc((size_t)PAT_LEN + MAX_PAYLOAD);
	if (!pat)
		die("out of memory");
	for (i = 0; i < PAT_LEN; i++)
		pat[i] = (uint8_t)(xorshift(&s) >> 56);
	for (; i < (size_t)PAT_LEN + MAX_PAYLOAD; i++)
		pat[i] = pat[i - PAT_LEN];
}

/* Where message id's payload starts in the pattern. */
static const uint8_t *payload_of(uint64_t id)
{
	return pat + (id * 7919u) % PAT_LEN;
}

/* Payload of message id, len bytes (at most MAX_PAYLOAD). */
static void fill_payload(uint8_t *buf, uint64_t id, size_t len)
{
	memcpy(buf, payload_of(id), len);
}

/* Checks a received message against what id's sender wrote; says which
 * byte differs. */
static void check_payload(const struct zc_msg *m, uint64_t id, const char *when)
{
	const uint8_t *want = payload_of(id);
	size_t off = 0, i;
	uint32_t k;

	if (m->nsegs > ZC_MSG_MAX_SEGS)
		die("message %llu: %u pieces", (unsigned long long)id,
		    m->nsegs);
	for (k = 0; k < m->nsegs; k++) {
		const uint8_t *p = m->seg[k].iov_base;
		size_t n = m->seg[k].iov_len;

		if (!n || off + n > m->hdr.len)
			die("message %llu: piece %u of %zu bytes at %zu, "
			    "payload %u",
			    (unsigned long long)id, k, n, off, m->hdr.len);
		if (memcmp(p, want + off, n)) {
			for (i = 0; p[i] == want[off + i]; i++)
				;
			die("message %llu payload byte %zu (%s): got 0x%02x, "
			    "want 0x%02x",
			    (unsigned long long)id, off + i, when, p[i],
			    want[off + i]);
		}
		off += n;
	}
	if (off != m->hdr.len)
		die("message %llu: pieces hold %zu bytes, header says %u",
		    (unsigned long long)id, off, m->hdr.len);
}

static uint64_t parse_num(const char *s, const char *opt)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		usage_error(opt);
	switch (*end) {
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
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (p == 0 || p > 65535)
		usage_error("bad port");
	if (strchr(addr, ':')) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			usage_error("bad IPv6 address");
		return sizeof(*s6);
	}
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

struct cfg {
	const char *addr, *port;
	unsigned int rounds, conns, hold;
	int mode, mss;
	uint32_t copybuf;
	bool msg_zerocopy, bad, no_rcvlowat;
	unsigned int slots;
	double min_mapped;
};

static int connect_to(const struct cfg *c)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, c->addr, c->port);
	int fd, tries;

	/* The other end may still be starting: retry refused connects. */
	for (tries = 0;; tries++) {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket: %s", strerror(errno));
		set_mss(fd, c->mss);
		if (!connect(fd, (struct sockaddr *)&ss, len))
			return fd;
		if (errno != ECONNREFUSED || tries >= 500)
			die("connect to %s port %s: %s", c->addr, c->port,
			    strerror(errno));
		close(fd);
		nanosleep(&pause, NULL);
	}
}

/* --- sender ------------------------------------------------------------- */

struct zc_track {
	uint64_t sent;	 /* MSG_ZEROCOPY sends: one notification id each */
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
			uint64_t n;

			if (!((cm->cmsg_level == SOL_IP &&
			       cm->cmsg_type == IP_RECVERR) ||
			      (cm->cmsg_level == SOL_IPV6 &&
			       cm->cmsg_type == IPV6_RECVERR)))
				continue;
			memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				die("error queue: %s", strerror(ee.ee_errno));
			/* [ee_info, ee_data], inclusive, may wrap. */
			n = (uint32_t)(ee.ee_data - ee.ee_info) + 1ull;
			t->done += n;
			if (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				t->copied += n;
		}
	}
}

static void wait_completions(int fd, struct zc_track *t, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = 0 };

	/* POLLERR says the error queue has something. */
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	reap(fd, t);
}

static int do_send(const struct cfg *c)
{
	unsigned int nmsgs = c->rounds * NSIZES, k;
	struct zc_track t = { 0 };
	uint64_t bytes = 0;
	uint8_t **bufs;
	int fd, one = 1, ret;

	/* Each message keeps its own buffer until the end: a MSG_ZEROCOPY
	 * buffer must stay untouched until its completion. */
	bufs = calloc(nmsgs, sizeof(*bufs));
	if (!bufs)
		die("out of memory");
	fd = connect_to(c);
	if (c->msg_zerocopy &&
	    setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY: %s", strerror(errno));
	for (k = 0; k < nmsgs; k++) {
		uint64_t id = k + 1;
		uint32_t len = sizes[k % NSIZES];
		struct iovec iov;
		struct zc_msg_out o = {
			.fd = fd,
			.flags = c->msg_zerocopy ? ZC_MSG_SEND_ZEROCOPY : 0,
			.hdr = { .id = id,
				 .type = k % NSIZES,
				 .len = len,
				 .flags = (uint32_t)(id % 4) },
			.iov = &iov,
			.iovcnt = 1,
		};

		bufs[k] = malloc(len ? len : 1);
		if (!bufs[k])
			die("out of memory");
		fill_payload(bufs[k], id, len);
		iov.iov_base = bufs[k];
		iov.iov_len = len;
		while ((ret = zc_msg_send(&o)) == -ENOBUFS) {
			/* optmem is full of notifications: reap, retry. */
			t.sent += o.zerocopy_sends;
			o.zerocopy_sends = 0;
			wait_completions(fd, &t, 100);
		}
		if (ret)
			die("zc_msg_send message %llu: %s",
			    (unsigned long long)id, strerror(-ret));
		t.sent += o.zerocopy_sends;
		bytes += len;
		reap(fd, &t);
	}
	while (t.done < t.sent)
		wait_completions(fd, &t, 1000);
	if (t.done != t.sent)
		die("%llu completions for %llu zero-copy sends",
		    (unsigned long long)t.done, (unsigned long long)t.sent);
	printf("%s: %u messages, %llu payload bytes, %llu MSG_ZEROCOPY sends "
	       "completed (%llu copied by the kernel)\n",
	       role, nmsgs, (unsigned long long)bytes,
	       (unsigned long long)t.done, (unsigned long long)t.copied);
	close(fd);
	for (k = 0; k < nmsgs; k++)
		free(bufs[k]);
	free(bufs);
	return 0;
}

/* --- receiver ----------------------------------------------------------- */

static void check_msg(const struct zc_msg *m, uint64_t id, const char *when)
{
	unsigned int k = (unsigned int)((id - 1) % NSIZES);

	if (m->hdr.id != id || m->hdr.type != k || m->hdr.len != sizes[k] ||
	    m->hdr.flags != id % 4)
		die("message %llu (%s): header id %llu type %u len %u flags "
		    "%u, want type %u len %u flags %u",
		    (unsigned long long)id, when, (unsigned long long)m->hdr.id,
		    m->hdr.type, m->hdr.len, m->hdr.flags, k, sizes[k],
		    (unsigned int)(id % 4));
	if (m->mapped_len > m->hdr.len)
		die("message %llu: %zu mapped of %u", (unsigned long long)id,
		    m->mapped_len, m->hdr.len);
	check_payload(m, id, when);
}

static void release_one(struct zc_msg_rx *mrx, struct zc_msg *held,
			unsigned int *nheld, unsigned int i)
{
	int ret;

	check_msg(&held[i], held[i].hdr.id, "before release");
	ret = zc_msg_release(mrx, &held[i]);
	if (ret)
		die("zc_msg_release: %s", strerror(-ret));
	held[i] = held[--*nheld];
}

static int listen_on(const struct cfg *c)
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

static int do_recv(const struct cfg *c)
{
	struct zc_rx_opts ro = { .mode = (uint32_t)c->mode,
				 .copybuf_size = c->copybuf,
				 .slots = c->slots };
	struct zc_msg_rx_opts mo = { .flags = c->no_rcvlowat
						      ? ZC_MSG_RX_F_NO_RCVLOWAT
						      : 0 };
	uint64_t big = 0, big_mapped = 0, all_mapped = 0,
		 by_size[NSIZES] = { 0 }, mapped_by_size[NSIZES] = { 0 },
		 seed = 1, id = 0;
	unsigned int nmsgs = c->rounds * NSIZES, nheld = 0, k;
	unsigned int hold = c->hold ? c->hold : 1, enobufs = 0;
	struct zc_msg_rx_stats st;
	struct zc_msg_rx *mrx;
	struct zc_msg *held;
	struct zc_rx *rx;
	int lfd, fd, ret;
	double pct;

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
	ret = zc_rx_create(&rx, fd, &ro);
	if (ret)
		die("zc_rx_create: %s", strerror(-ret));
	ret = zc_msg_rx_create(&mrx, rx, &mo);
	if (ret)
		die("zc_msg_rx_create: %s", strerror(-ret));

	for (;;) {
		struct zc_msg *m;

		if (nheld == hold)
			release_one(mrx, held, &nheld,
				    (unsigned int)(xorshift(&seed) % nheld));
		m = &held[nheld];
		ret = zc_msg_read(mrx, m);
		if (ret == -EINTR)
			continue;
		if (ret == -ENOBUFS && nheld) {
			/* The messages we keep hold every slot of the
			 * zc_rx: give one back, as the contract says. */
			release_one(mrx, held, &nheld,
				    (unsigned int)(xorshift(&seed) % nheld));
			enobufs++;
			continue;
		}
		if (ret < 0)
			die("zc_msg_read after %llu messages: %s (%s)",
			    (unsigned long long)id, strerror(-ret),
			    zc_msg_error_name(zc_msg_rx_error(mrx)));
		if (ret == 0)
			break;
		if (++id > nmsgs)
			die("more than the %u messages sent", nmsgs);
		check_msg(m, id, "as read");
		k = (unsigned int)((id - 1) % NSIZES);
		by_size[k] += m->hdr.len;
		mapped_by_size[k] += m->mapped_len;
		all_mapped += m->mapped_len;
		if (m->hdr.len >= (uint32_t)sysconf(_SC_PAGESIZE)) {
			big += m->hdr.len;
			big_mapped += m->mapped_len;
		}
		nheld++;
	}
	if (id != nmsgs)
		die("clean end after %llu of %u messages",
		    (unsigned long long)id, nmsgs);
	while (nheld)
		release_one(mrx, held, &nheld,
			    (unsigned int)(xorshift(&seed) % nheld));
	zc_msg_rx_get_stats(mrx, &st);
	if (st.messages != nmsgs || st.bytes_mapped != all_mapped)
		die("stats disagree: %llu messages, %llu mapped; saw %u, %llu",
		    (unsigned long long)st.messages,
		    (unsigned long long)st.bytes_mapped, nmsgs,
		    (unsigned long long)all_mapped);
	pct = big ? 100.0 * (double)big_mapped / (double)big : 0.0;
	printf("%s: %u messages verified, payloads >= 1 page %.2f%% mapped "
	       "(4 KiB %.1f%%, 64 KiB %.1f%%, 1 MiB %.1f%%), %llu partly "
	       "copied (%llu bytes), %u ENOBUFS, rx mode %s\n",
	       role, nmsgs, pct, 100.0 * mapped_by_size[3] / by_size[3],
	       100.0 * mapped_by_size[4] / by_size[4],
	       100.0 * mapped_by_size[5] / by_size[5],
	       (unsigned long long)st.assembled,
	       (unsigned long long)st.bytes_assembled, enobufs,
	       zc_rx_mode_name(zc_rx_mode(rx)));
	zc_msg_rx_free(mrx);
	zc_rx_free(rx);
	close(fd);
	free(held);
	if (pct < c->min_mapped)
		die("%.2f%% of payloads >= 1 page mapped, expected at least "
		    "%.0f%%",
		    pct, c->min_mapped);
	return 0;
}

/* --- rpc client ----------------------------------------------------------- */

struct rpc_conn {
	int fd;
	struct zc_rx *rx;
	struct zc_msg_rx *mrx;
	struct zc_track t;
};

static void rpc_open(const struct cfg *c, struct rpc_conn *rc)
{
	int ret, one = 1;

	memset(rc, 0, sizeof(*rc));
	rc->fd = connect_to(c);
	setsockopt(rc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->msg_zerocopy &&
	    setsockopt(rc->fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY: %s", strerror(errno));
	ret = zc_rx_create(&rc->rx, rc->fd, NULL);
	if (ret)
		die("zc_rx_create: %s", strerror(-ret));
	ret = zc_msg_rx_create(&rc->mrx, rc->rx, NULL);
	if (ret)
		die("zc_msg_rx_create: %s", strerror(-ret));
}

/* Waits for the completions of its zero-copy requests, then closes. */
static void rpc_close(struct rpc_conn *rc)
{
	while (rc->t.done < rc->t.sent)
		wait_completions(rc->fd, &rc->t, 1000);
	zc_msg_rx_free(rc->mrx);
	zc_rx_free(rc->rx);
	close(rc->fd);
}

static uint64_t rpc_id(unsigned int conn, unsigned int round)
{
	return (uint64_t)(conn + 1) << 32 | round;
}

/* Request payloads come straight from the pattern, which never changes:
 * a MSG_ZEROCOPY send may read it until its completion. */
static void rpc_request(const struct cfg *c, struct rpc_conn *rc, uint64_t id,
			uint32_t type, uint32_t len)
{
	struct iovec iov = { (void *)payload_of(id), len };
	struct zc_msg_out o = {
		.fd = rc->fd,
		.flags = c->msg_zerocopy ? ZC_MSG_SEND_ZEROCOPY : 0,
		.hdr = { .id = id, .type = type, .len = len },
		.iov = &iov,
		.iovcnt = 1,
	};
	int ret;

	while ((ret = zc_msg_send(&o)) == -ENOBUFS) {
		rc->t.sent += o.zerocopy_sends;
		o.zerocopy_sends = 0;
		wait_completions(rc->fd, &rc->t, 100);
	}
	if (ret)
		die("request %llx: %s", (unsigned long long)id, strerror(-ret));
	rc->t.sent += o.zerocopy_sends;
	reap(rc->fd, &rc->t);
}

/* Reads and checks one reply; returns its payload bytes. */
static uint32_t rpc_reply(struct rpc_conn *rc, uint64_t id, uint32_t type,
			  uint32_t len)
{
	uint32_t flags = ZC_MSG_F_REPLY;
	struct zc_msg m;
	int ret;

	if (type != RPC_ECHO) {
		flags |= ZC_MSG_F_ERROR;
		len = 0;
	}
	ret = zc_msg_read(rc->mrx, &m);
	if (ret != 1)
		die("reply to %llx: %s", (unsigned long long)id,
		    ret ? strerror(-ret) : "connection closed");
	if (m.hdr.id != id || m.hdr.type != type || m.hdr.flags != flags ||
	    m.hdr.len != len)
		die("reply to %llx: id %llx type %u flags %u len %u, want "
		    "type %u flags %u len %u",
		    (unsigned long long)id, (unsigned long long)m.hdr.id,
		    m.hdr.type, m.hdr.flags, m.hdr.len, type, flags, len);
	check_payload(&m, id, "reply");
	ret = zc_msg_release(rc->mrx, &m);
	if (ret)
		die("zc_msg_release: %s", strerror(-ret));
	return len;
}

/* One request on every connection, then every reply. Returns the echoed
 * payload bytes. */
static uint64_t rpc_round(const struct cfg *c, struct rpc_conn *conns,
			  unsigned int n, unsigned int round)
{
	uint64_t bytes = 0;
	unsigned int i, r;

	for (i = 0; i < n; i++) {
		r = round * n + i;
		rpc_request(c, &conns[i], rpc_id(i, round),
			    r % 5 == 4 ? RPC_OTHER : RPC_ECHO,
			    rpc_sizes[r % RPC_NSIZES]);
	}
	for (i = 0; i < n; i++) {
		r = round * n + i;
		bytes += rpc_reply(&conns[i], rpc_id(i, round),
				   r % 5 == 4 ? RPC_OTHER : RPC_ECHO,
				   rpc_sizes[r % RPC_NSIZES]);
	}
	return bytes;
}

/* A connection that sends garbage must be closed by the server. */
static void rpc_bad(const struct cfg *c)
{
	struct zc_msg_hdr h = { .id = 1, .type = RPC_ECHO, .len = 10 };
	uint8_t buf[ZC_MSG_HDR_LEN + 10] = { 0 };
	struct rpc_conn rc;
	struct zc_msg m;
	int ret;

	rpc_open(c, &rc);
	zc_msg_header_encode(buf, sizeof(buf), &h);
	buf[0] = 'X';
	if (send(rc.fd, buf, sizeof(buf), MSG_NOSIGNAL) != sizeof(buf))
		die("send garbage: %s", strerror(errno));
	ret = zc_msg_read(rc.mrx, &m);
	if (ret != 0 && ret != -ECONNRESET)
		die("server answered garbage with %s",
		    ret > 0 ? "a message" : strerror(-ret));
	rpc_close(&rc);
}

static int do_rpc(const struct cfg *c)
{
	unsigned int n = c->conns ? c->conns : 16, i, r;
	struct rpc_conn *conns = calloc(n, sizeof(*conns));
	uint64_t bytes = 0;

	if (!conns)
		die("out of memory");
	for (i = 0; i < n; i++)
		rpc_open(c, &conns[i]);
	for (r = 0; r < c->rounds; r++)
		bytes += rpc_round(c, conns, n, r);
	if (c->bad) {
		rpc_bad(c);
		bytes += rpc_round(c, conns, n, r++);
	}
	for (i = 0; i < n; i++)
		rpc_close(&conns[i]);
	printf("%s: %u connections, %u requests answered and verified, "
	       "%llu payload bytes echoed%s\n",
	       role, n, n * r, (unsigned long long)bytes,
	       c->bad ? ", bad connection closed by the server" : "");
	free(conns);
	return 0;
}

/* --- main ----------------------------------------------------------------- */

static const char *arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		usage_error("missing argument");
	return argv[++*i];
}

int main(int argc, char **argv)
{
	struct cfg c = { .rounds = 4, .mode = ZC_RX_ZEROCOPY };
	unsigned int timeout = 120;
	const char *cmd;
	int i;

	if (argc < 2)
		usage_error("missing command");
	cmd = argv[1];
	if (strcmp(cmd, "send") && strcmp(cmd, "recv") && strcmp(cmd, "rpc"))
		usage_error("unknown command");
	role = !strcmp(cmd, "send")   ? "msg_peer send"
	       : !strcmp(cmd, "recv") ? "msg_peer recv"
				      : "msg_peer rpc";
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--connect") || !strcmp(a, "--listen")) {
			c.addr = arg(argc, argv, &i);
			c.port = arg(argc, argv, &i);
		} else if (!strcmp(a, "--rounds")) {
			c.rounds =
				(unsigned int)parse_num(arg(argc, argv, &i), a);
		} else if (!strcmp(a, "--conns")) {
			c.conns =
				(unsigned int)parse_num(arg(argc, argv, &i), a);
		} else if (!strcmp(a, "--hold")) {
			c.hold =
				(unsigned int)parse_num(arg(argc, argv, &i), a);
		} else if (!strcmp(a, "--copybuf")) {
			c.copybuf = (uint32_t)parse_num(arg(argc, argv, &i), a);
		} else if (!strcmp(a, "--mss")) {
			c.mss = (int)parse_num(arg(argc, argv, &i), a);
		} else if (!strcmp(a, "--mode")) {
			c.mode = zc_rx_mode_parse(arg(argc, argv, &i));
			if (c.mode < 0)
				usage_error("bad --mode");
		} else if (!strcmp(a, "--expect-min-mapped")) {
			c.min_mapped = atof(arg(argc, argv, &i));
		} else if (!strcmp(a, "--slots")) {
			c.slots =
				(unsigned int)parse_num(arg(argc, argv, &i), a);
		} else if (!strcmp(a, "--no-rcvlowat")) {
			c.no_rcvlowat = true;
		} else if (!strcmp(a, "--msg-zerocopy")) {
			c.msg_zerocopy = true;
		} else if (!strcmp(a, "--bad")) {
			c.bad = true;
		} else if (!strcmp(a, "--timeout")) {
			timeout =
				(unsigned int)parse_num(arg(argc, argv, &i), a);
		} else {
			usage_error(a);
		}
	}
	if (!c.addr)
		usage_error("missing --connect/--listen ADDR PORT");
	signal(SIGALRM, on_alarm);
	alarm(timeout);
	pattern_init();
	if (!strcmp(cmd, "send"))
		return do_send(&c);
	if (!strcmp(cmd, "recv"))
		return do_recv(&c);
	return do_rpc(&c);
}
