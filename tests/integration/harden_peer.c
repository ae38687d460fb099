/* SPDX-License-Identifier: MIT */
/*
 * harden_peer: a library-level end for the fault tests (harden_faults.sh),
 * the survivor whose peer is killed, reset or half-closed.
 *
 *   harden_peer send --connect ADDR PORT --bytes N [--backend B]
 *   harden_peer recv --listen ADDR PORT --bytes N [--mode M] [--pool]
 *                    [--half-close]
 *   harden_peer sink --listen ADDR PORT [--half-close]
 *   harden_peer queued-reset
 *
 * send: streams N bytes of a pattern through a struct zc_tx (backend B,
 * default auto) from eight 256 KiB buffers, each refilled only after its
 * completion came. recv: reads through a struct zc_rx (mode M, its own
 * window or a pool) and checks every byte; --half-close shuts down its
 * sending side first (the peer then reads end of stream but must go on
 * sending). sink: accepts one connection and reads until it ends,
 * discarding the bytes (a stand-in receiver for the tools), after
 * shutting down its side with --half-close.
 *
 * queued-reset: in this process, over loopback (MSS 4108): a sender
 * writes QR_BYTES (several slots) or QR_MSGS messages and resets the
 * connection (SO_LINGER 0) before the receiver reads anything; in every
 * receive mode, with its own window and with a pool, with a plain and a
 * MSG_ZEROCOPY sender, the receiver must get every byte (every message)
 * that arrived before the reset and only then -ECONNRESET (zcnet.h,
 * zc_rx_read: "the socket's error ... once the bytes received before it
 * were returned"). Exit 0, or 4 naming each case that lost bytes.
 *
 * send and recv check the library on the way out, whatever happened to
 * the connection: every accepted send completed exactly once, zc_tx_free
 * reports nothing outstanding, and after the handle is freed and the
 * socket closed the process has exactly the fds and /proc/self/maps lines
 * it had before the connection.
 *
 * Exit 0: all N bytes went through and the stream ended cleanly.
 * Exit 1: a runtime error, said on stderr as "harden_peer: context:
 *         reason" (what a killed or reset peer must cause).
 * Exit 4: a broken promise: a wrong byte, a missing or extra completion,
 *         a leak, a hang (alarm). Never expected.
 * Only the numeric address given is used; the script's namespace holds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zcnet.h"
#include "harden_util.h"

#define NBUF	8u
#define BUF_LEN (256u << 10)
#define STREAM	7u

struct peer_opts {
	const char *role, *addr;
	int port;
	uint64_t bytes;
	int backend, mode;
	bool pool, half_close;
};

static struct harden_usage before;

static void broken(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void broken(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "harden_peer: BROKEN: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(4);
}

static void on_alarm(int sig)
{
	static const char msg[] = "harden_peer: BROKEN: hung (alarm)\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(4);
	_exit(4);
}

static void usage(const char *why) __attribute__((noreturn));

static void usage(const char *why)
{
	fprintf(stderr, "harden_peer: %s\n", why);
	fprintf(stderr, "usage: harden_peer send --connect ADDR PORT --bytes N "
			"[--backend B] | recv --listen ADDR PORT --bytes N "
			"[--mode M] [--pool] [--half-close] | sink --listen "
			"ADDR PORT [--half-close]\n");
	exit(2);
}

static socklen_t make_addr(const char *addr, int port,
			   struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return sizeof(*s6);
	}
	usage("numeric addresses only");
}

/* The process's fds and maps lines must be back where they were before
 * the connection. */
static void check_no_leak(const char *role)
{
	struct harden_usage now;

	harden_usage_now(&now);
	if (!HARDEN_SAME_USAGE(before, now))
		broken("%s: after free and close: %ld fds and %ld maps lines, "
		       "%ld and %ld before the connection",
		       role, now.fds, now.maps, before.fds, before.maps);
}

/* --- send ----------------------------------------------------------------- */

static int do_send(const struct peer_opts *o)
{
	static uint8_t bufs[NBUF][BUF_LEN];
	struct zc_tx_opts to = { .backend = (uint32_t)o->backend };
	uint64_t off = 0, accepted = 0, completed = 0, sends = 0;
	bool busy[NBUF] = { false };
	struct zc_completion c[NBUF];
	struct sockaddr_storage ss;
	struct zc_tx *tx = NULL;
	socklen_t alen = make_addr(o->addr, o->port, &ss);
	int fd, ret, err = 0, k, i;
	const char *context = "send";
	size_t len;
	ssize_t n;

	harden_usage_now(&before);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, alen)) {
		fprintf(stderr, "harden_peer: connect: %s\n", strerror(errno));
		return 1;
	}
	ret = zc_tx_create(&tx, fd, &to);
	if (ret) {
		fprintf(stderr, "harden_peer: zc_tx_create: %s\n",
			strerror(-ret));
		close(fd);
		return 1;
	}
	while (off < o->bytes && !err) {
		/* A free buffer, or wait for a completion to free one. */
		for (i = 0; i < (int)NBUF && busy[i]; i++)
			;
		if (i == (int)NBUF) {
			k = zc_tx_wait(tx, c, NBUF, 5000);
			if (k < 0) {
				err = -k;
				context = "wait";
				break;
			}
			for (int j = 0; j < k; j++) {
				busy[c[j].user_data] = false;
				completed += c[j].len;
			}
			continue;
		}
		len = o->bytes - off < BUF_LEN ? (size_t)(o->bytes - off)
					       : BUF_LEN;
		harden_fill(bufs[i], len, STREAM, off);
		n = zc_tx_send(tx, bufs[i], len, (uint64_t)i);
		if (n == -EAGAIN)
			continue;
		if (n < 0) {
			err = (int)-n;
			break;
		}
		busy[i] = true;
		accepted += (uint64_t)n;
		sends++;
		off += (uint64_t)n;
		k = zc_tx_reap(tx, c, NBUF);
		for (int j = 0; j < k; j++) {
			busy[c[j].user_data] = false;
			completed += c[j].len;
		}
	}
	/* Whatever happened, every accepted send completes once. */
	ret = zc_tx_flush(tx, 10000);
	if (ret && ret != -ETIME && !err) {
		err = -ret;
		context = "flush";
	}
	while ((k = zc_tx_reap(tx, c, NBUF)) > 0)
		for (i = 0; i < k; i++)
			completed += c[i].len;
	if (ret == 0 && completed != accepted)
		broken("send: %" PRIu64 " bytes accepted, %" PRIu64
		       " completed",
		       accepted, completed);
	ret = zc_tx_free(tx);
	if (ret)
		broken("send: zc_tx_free: %d sends still outstanding", ret);
	if (!err) {
		/* The end: our FIN, then the peer's close. */
		char b;

		shutdown(fd, SHUT_WR);
		n = recv(fd, &b, 1, 0);
		if (n < 0) {
			err = errno;
			context = "waiting for the peer to close";
		}
	}
	close(fd);
	check_no_leak("send");
	if (err) {
		fprintf(stderr,
			"harden_peer: %s: %s (after %" PRIu64 " of %" PRIu64
			" bytes)\n",
			context, strerror(err), accepted, o->bytes);
		return 1;
	}
	printf("harden_peer: sent %" PRIu64 " bytes in %" PRIu64
	       " sends (%s)\n",
	       accepted, sends, zc_tx_backend_name(o->backend));
	return 0;
}

/* --- recv ----------------------------------------------------------------- */

static int listen_accept(const struct peer_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(o->addr, o->port, &ss);
	int l, fd, one = 1;

	l = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		broken("socket: %s", strerror(errno));
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&ss, len) || listen(l, 1))
		broken("listen: %s", strerror(errno));
	printf("listening\n");
	fflush(stdout);
	fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		broken("accept: %s", strerror(errno));
	close(l);
	return fd;
}

static int do_recv(const struct peer_opts *o)
{
	struct zc_rx_pool_opts po = { 0 };
	struct zc_rx_opts ro = { .mode = (uint32_t)o->mode };
	struct zc_rx_pool *pool = NULL;
	struct zc_rx *rx = NULL;
	struct zc_rx_stats st;
	struct zc_view v;
	uint64_t off = 0;
	ssize_t n;
	size_t bad;
	int fd, ret;

	harden_usage_now(&before);
	fd = listen_accept(o);
	if (o->half_close && shutdown(fd, SHUT_WR))
		broken("shutdown: %s", strerror(errno));
	if (o->pool) {
		ret = zc_rx_pool_create(&pool, &po);
		if (ret)
			broken("zc_rx_pool_create: %s", strerror(-ret));
		ro.pool = pool;
	}
	ret = zc_rx_create(&rx, fd, &ro);
	if (ret) {
		fprintf(stderr, "harden_peer: zc_rx_create: %s\n",
			strerror(-ret));
		return 1;
	}
	for (;;) {
		n = zc_rx_read(rx, &v);
		if (n <= 0)
			break;
		bad = harden_verify(v.mapped, v.mapped_len, STREAM, off);
		if (bad == v.mapped_len)
			bad = v.mapped_len + harden_verify(v.copied,
							   v.copied_len, STREAM,
							   off + v.mapped_len);
		if (bad != v.len)
			broken("recv: wrong byte at stream offset %" PRIu64,
			       off + bad);
		off += (uint64_t)n;
		if (zc_rx_release(rx, &v))
			broken("recv: zc_rx_release refused a held view");
	}
	zc_rx_get_stats(rx, &st);
	zc_rx_free(rx);
	if (pool && zc_rx_pool_free(pool))
		broken("recv: zc_rx_pool_free refused after the last handle");
	close(fd);
	check_no_leak("recv");
	if (n < 0) {
		fprintf(stderr,
			"harden_peer: receive: %s (after %" PRIu64
			" of %" PRIu64 " bytes)\n",
			strerror((int)-n), off, o->bytes);
		return 1;
	}
	if (off != o->bytes) {
		fprintf(stderr,
			"harden_peer: receive: stream ended after %" PRIu64
			" of %" PRIu64 " bytes\n",
			off, o->bytes);
		return 1;
	}
	printf("harden_peer: received %" PRIu64 " bytes (%" PRIu64
	       " mapped), every byte verified\n",
	       off, st.bytes_mapped);
	return 0;
}

static int do_sink(const struct peer_opts *o)
{
	static uint8_t buf[1u << 16];
	uint64_t total = 0;
	ssize_t n;
	int fd = listen_accept(o);

	if (o->half_close && shutdown(fd, SHUT_WR))
		broken("shutdown: %s", strerror(errno));
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		total += (uint64_t)n;
	close(fd);
	if (n < 0) {
		fprintf(stderr,
			"harden_peer: sink: %s after %" PRIu64 " bytes\n",
			strerror(errno), total);
		return 1;
	}
	printf("harden_peer: sink read %" PRIu64 " bytes\n", total);
	return 0;
}

/* --- queued-reset ------------------------------------------------------- */

#define QR_BYTES (100u * 1000u)
#define QR_SLOT	 (32u << 10)
#define QR_MSGS	 3u
#define QR_MSG	 30000u

static uint8_t qr_buf[QR_BYTES];

static void qr_send(int fd, bool zerocopy, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, buf + off, len - off, zerocopy ? MSG_ZEROCOPY : 0);
		if (n < 0 && errno == ENOBUFS)
			n = send(fd, buf + off, len - off, 0);
		if (n < 0)
			broken("queued-reset: send: %s", strerror(errno));
		off += (size_t)n;
	}
}

/* Waits until the peer acknowledged every byte fd sent (SIOCOUTQ 0), so
 * they are all in the receiver's queue before the reset. */
static void qr_wait_acked(int fd)
{
	int i, outq = -1;

	for (i = 0; i < 2000; i++) {
		if (ioctl(fd, SIOCOUTQ, &outq))
			broken("queued-reset: SIOCOUTQ: %s", strerror(errno));
		if (outq == 0)
			return;
		usleep(1000);
	}
	broken("queued-reset: %d bytes never left the sender", outq);
}

/* Returns true when every byte came, then -ECONNRESET. */
static bool qr_stream(int mode, bool use_pool, bool zerocopy)
{
	struct zc_rx_pool_opts po = { .slot_size = QR_SLOT, .slots = 8 };
	struct zc_rx_opts ro = { .mode = (uint32_t)mode };
	struct zc_rx_pool *pool = NULL;
	struct zc_rx *rx = NULL;
	struct zc_view v;
	uint64_t off = 0;
	ssize_t n;
	int fds[2], one = 1, ret;

	if (harden_tcp_pair(fds, AF_INET, HARDEN_MSS))
		broken("queued-reset: pair: %s", strerror(errno));
	if (zerocopy)
		setsockopt(fds[1], SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	if (use_pool) {
		if (zc_rx_pool_create(&pool, &po))
			broken("queued-reset: zc_rx_pool_create");
		ro.pool = pool;
	} else {
		ro.slot_size = QR_SLOT;
	}
	ret = zc_rx_create(&rx, fds[0], &ro);
	if (ret)
		broken("queued-reset: zc_rx_create: %s", strerror(-ret));
	qr_send(fds[1], zerocopy, qr_buf, sizeof(qr_buf));
	/* Every byte in the receiver's queue, then the reset. */
	qr_wait_acked(fds[1]);
	harden_close_reset(fds[1]);
	while ((n = zc_rx_read(rx, &v)) > 0) {
		if (harden_verify(v.mapped, v.mapped_len, STREAM, off) !=
			    v.mapped_len ||
		    harden_verify(v.copied, v.copied_len, STREAM,
				  off + v.mapped_len) != v.copied_len)
			broken("queued-reset: wrong byte near %" PRIu64, off);
		off += (uint64_t)n;
		zc_rx_release(rx, &v);
	}
	printf("%s rx %-8s %-10s %-12s sender: %6" PRIu64 " of %u bytes, "
	       "then %s\n",
	       off == QR_BYTES && n == -ECONNRESET ? "ok  " : "FAIL",
	       zc_rx_mode_name(mode), use_pool ? "pool" : "own window",
	       zerocopy ? "MSG_ZEROCOPY" : "plain", off, QR_BYTES,
	       n < 0 ? strerror((int)-n) : "end of stream");
	zc_rx_free(rx);
	zc_rx_pool_free(pool);
	close(fds[0]);
	return off == QR_BYTES && n == -ECONNRESET;
}

static bool qr_messages(int mode)
{
	struct zc_rx_opts ro = { .mode = (uint32_t)mode,
				 .copybuf_size = 16u << 10 };
	struct zc_msg_rx *mrx = NULL;
	struct zc_rx *rx = NULL;
	struct zc_msg m;
	unsigned int k, got = 0;
	int fds[2], ret = 0;

	if (harden_tcp_pair(fds, AF_INET6, HARDEN_MSS))
		broken("queued-reset: pair: %s", strerror(errno));
	if (zc_rx_create(&rx, fds[0], &ro) || zc_msg_rx_create(&mrx, rx, NULL))
		broken("queued-reset: message reader");
	for (k = 0; k < QR_MSGS; k++) {
		struct iovec iov = { qr_buf + k * QR_MSG, QR_MSG };
		struct zc_msg_out o = { .fd = fds[1],
					.iov = &iov,
					.iovcnt = 1 };

		o.hdr.id = k + 1;
		o.hdr.len = QR_MSG;
		if (zc_msg_send(&o))
			broken("queued-reset: zc_msg_send");
	}
	qr_wait_acked(fds[1]);
	harden_close_reset(fds[1]);
	while ((ret = zc_msg_read(mrx, &m)) == 1) {
		uint64_t off = (uint64_t)got * QR_MSG;
		uint32_t s;

		for (s = 0; s < m.nsegs; s++) {
			if (harden_verify(m.seg[s].iov_base, m.seg[s].iov_len,
					  STREAM, off) != m.seg[s].iov_len)
				broken("queued-reset: message %u payload", got);
			off += m.seg[s].iov_len;
		}
		got++;
		zc_msg_release(mrx, &m);
	}
	printf("%s rx %-8s zc_msg_rx: %u of %u messages, then %s\n",
	       got == QR_MSGS && ret == -ECONNRESET ? "ok  " : "FAIL",
	       zc_rx_mode_name(mode), got, QR_MSGS,
	       ret < 0 ? strerror(-ret) : "end of stream");
	zc_msg_rx_free(mrx);
	zc_rx_free(rx);
	close(fds[0]);
	return got == QR_MSGS && ret == -ECONNRESET;
}

static int do_queued_reset(void)
{
	static const int modes[] = { ZC_RX_AUTO, ZC_RX_ZEROCOPY, ZC_RX_COPY };
	unsigned int m, failed = 0, cases = 0;
	struct zc_probe p;

	if (zc_probe(&p))
		broken("zc_probe");
	harden_fill(qr_buf, sizeof(qr_buf), STREAM, 0);
	for (m = 0; m < 3; m++) {
		if (modes[m] == ZC_RX_ZEROCOPY &&
		    !(p.features & ZC_PROBE_RX_ZEROCOPY))
			continue;
		for (int pool = 0; pool < 2; pool++)
			for (int zc = 0; zc < 2; zc++, cases++)
				failed += !qr_stream(modes[m], pool, zc);
		failed += !qr_messages(modes[m]);
		cases++;
	}
	if (failed)
		broken("queued-reset: %u of %u cases lost bytes queued before "
		       "the reset",
		       failed, cases);
	printf("harden_peer: queued-reset: %u cases passed\n", cases);
	return 0;
}

int main(int argc, char **argv)
{
	struct peer_opts o = { .backend = ZC_TX_AUTO, .mode = ZC_RX_AUTO };
	int i;

	if (argc < 2)
		usage("missing role");
	o.role = argv[1];
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(o.role, "queued-reset"))
		return do_queued_reset();
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "--connect") || !strcmp(a, "--listen")) &&
		    i + 2 < argc) {
			o.addr = argv[++i];
			o.port = atoi(argv[++i]);
		} else if (!strcmp(a, "--bytes") && i + 1 < argc) {
			o.bytes = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--backend") && i + 1 < argc) {
			o.backend = zc_tx_backend_parse(argv[++i]);
			if (o.backend < 0)
				usage("unknown backend");
		} else if (!strcmp(a, "--mode") && i + 1 < argc) {
			o.mode = zc_rx_mode_parse(argv[++i]);
			if (o.mode < 0)
				usage("unknown mode");
		} else if (!strcmp(a, "--pool")) {
			o.pool = true;
		} else if (!strcmp(a, "--half-close")) {
			o.half_close = true;
		} else {
			usage("unknown option");
		}
	}
	if (!o.addr)
		usage("missing address");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(60);
	if (!strcmp(o.role, "send") && o.bytes)
		return do_send(&o);
	if (!strcmp(o.role, "recv") && o.bytes)
		return do_recv(&o);
	if (!strcmp(o.role, "sink"))
		return do_sink(&o);
	usage("unknown role or missing --bytes");
}
