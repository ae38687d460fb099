/* SPDX-License-Identifier: MIT */
/*
 * rx_api: the receive API's contract on real sockets, public API only.
 * Bad options and fds that are not connected TCP sockets give -EINVAL
 * (-ENOTCONN for an unconnected or listening TCP socket) and leave *rxp
 * NULL; views released twice, stale or out of range give -EINVAL; every slot
 * held gives -ENOBUFS; a non-blocking empty socket gives -EAGAIN and
 * zc_rx_wait() times out; the peer's close reads as 0, twice; zc_rx_free()
 * leaves the fd open. Run in each mode this kernel supports.
 * A blocking read under a raised SO_RCVLOWAT returns what is queued and
 * wakes for the rest (the kernel's recv() would sleep for good there).
 *
 * Traffic: a few bytes over a 127.0.0.1 pair this program makes.
 * Exit 0 when every check passed, 1 otherwise (each failure is printed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcnet.h"

static int checks, failures;

#define CHECK_EQ(got, want, what)                                              \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		checks++;                                                      \
		if (g_ != w_) {                                                \
			failures++;                                            \
			printf("FAIL %s:%d: %s: got %lld, want %lld\n",        \
			       __FILE__, __LINE__, what, g_, w_);              \
		}                                                              \
	} while (0)

static void die(const char *what)
{
	printf("FAIL setup: %s: %s\n", what, strerror(errno));
	_exit(1);
}

/* Connected TCP pair over 127.0.0.1: fds[0] accepted, fds[1] connected. */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, len) ||
	    getsockname(l, (struct sockaddr *)&a, &len) || listen(l, 1))
		die("listen");
	fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[1] < 0 || connect(fds[1], (struct sockaddr *)&a, len))
		die("connect");
	fds[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fds[0] < 0)
		die("accept");
	close(l);
}

static int create(int fd, const struct zc_rx_opts *o)
{
	struct zc_rx *rx = (struct zc_rx *)&checks; /* must become NULL */
	int ret = zc_rx_create(&rx, fd, o);

	if (ret)
		CHECK_EQ(rx == NULL, 1, "*rxp NULL after a failed create");
	else
		zc_rx_free(rx);
	return ret;
}

static void bad_options(int fd)
{
	struct zc_rx_opts o;
	unsigned int i;

	for (i = 0; i < 32; i++) {
		if ((1u << i) & ZC_RX_F_ALL)
			continue;
		memset(&o, 0, sizeof(o));
		o.flags = 1u << i;
		CHECK_EQ(create(fd, &o), -EINVAL, "unknown flag");
	}
	for (i = 0; i < sizeof(o.reserved) / sizeof(o.reserved[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.reserved[i] = 1;
		CHECK_EQ(create(fd, &o), -EINVAL, "reserved field set");
	}
	memset(&o, 0, sizeof(o));
	o.mode = ZC_RX_COPY + 1;
	CHECK_EQ(create(fd, &o), -EINVAL, "mode out of range");
	memset(&o, 0, sizeof(o));
	o.zap = ZC_RX_ZAP_KERNEL + 1;
	CHECK_EQ(create(fd, &o), -EINVAL, "zap out of range");
	memset(&o, 0, sizeof(o));
	o.slot_size = 4095;
	CHECK_EQ(create(fd, &o), -EINVAL, "slot_size 4095");
	o.slot_size = (uint32_t)sysconf(_SC_PAGESIZE) + 1;
	CHECK_EQ(create(fd, &o), -EINVAL, "slot_size page + 1");
	o.slot_size = 1u << 31;
	CHECK_EQ(create(fd, &o), -EINVAL, "slot_size 2 GiB");
	memset(&o, 0, sizeof(o));
	o.slots = 1025;
	CHECK_EQ(create(fd, &o), -EINVAL, "1025 slots");
	memset(&o, 0, sizeof(o));
	o.copybuf_size = (16u << 20) + 1;
	CHECK_EQ(create(fd, &o), -EINVAL, "copybuf above 16 MiB");
	CHECK_EQ(zc_rx_create(NULL, fd, NULL), -EINVAL, "NULL rxp");
	/* Defaults, and options NULL, work. */
	memset(&o, 0, sizeof(o));
	CHECK_EQ(create(fd, &o), 0, "all-zero options");
	CHECK_EQ(create(fd, NULL), 0, "NULL options");
}

static void bad_fds(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int p[2], u[2], l, t, udp, devnull;

	if (pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, u))
		die("pipe");
	devnull = open("/dev/null", O_RDONLY);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	l = socket(AF_INET, SOCK_STREAM, 0);
	t = socket(AF_INET6, SOCK_STREAM, 0);
	if (devnull < 0 || udp < 0 || l < 0 || t < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    connect(udp, (struct sockaddr *)&a, sizeof(a)))
		die("sockets");
	CHECK_EQ(create(-1, NULL), -EINVAL, "fd -1");
	CHECK_EQ(create(1000000, NULL), -EINVAL, "fd not open");
	CHECK_EQ(create(p[0], NULL), -EINVAL, "pipe");
	CHECK_EQ(create(devnull, NULL), -EINVAL, "/dev/null");
	CHECK_EQ(create(u[0], NULL), -EINVAL, "AF_UNIX stream socket");
	CHECK_EQ(create(udp, NULL), -EINVAL, "connected UDP socket");
	CHECK_EQ(create(l, NULL), -ENOTCONN, "listening TCP socket");
	CHECK_EQ(create(t, NULL), -ENOTCONN, "unconnected TCP socket");
	close(p[0]);
	close(p[1]);
	close(u[0]);
	close(u[1]);
	close(devnull);
	close(udp);
	close(l);
	close(t);
}

static void null_args(void)
{
	struct zc_view v = { 0 };
	struct zc_rx_stats st;

	CHECK_EQ(zc_rx_read(NULL, &v), -EINVAL, "read on NULL");
	CHECK_EQ(zc_rx_release(NULL, &v), -EINVAL, "release on NULL");
	CHECK_EQ(zc_rx_wait(NULL, 0), -EINVAL, "wait on NULL");
	CHECK_EQ(zc_rx_mode(NULL), -EINVAL, "mode of NULL");
	zc_rx_get_stats(NULL, &st);
	zc_rx_free(NULL);
	CHECK_EQ(zc_rx_mode_parse("fast"), -EINVAL, "mode name");
	CHECK_EQ(zc_rx_zap_parse("never"), -EINVAL, "zap name");
	CHECK_EQ(zc_rx_mode_name(7) == NULL, 1, "mode 7 has no name");
}

static void put(int fd, const char *s)
{
	if (send(fd, s, strlen(s), 0) != (ssize_t)strlen(s))
		die("send");
}

/* Reads one view once the bytes are queued (the socket is non-blocking). */
static ssize_t read_view(struct zc_rx *rx, struct zc_view *v)
{
	ssize_t n;
	int i;

	for (i = 0; i < 100; i++) {
		n = zc_rx_read(rx, v);
		if (n != -EAGAIN)
			return n;
		zc_rx_wait(rx, 100);
	}
	return n;
}

static void views(int mode)
{
	struct zc_rx_opts o = { .mode = (uint32_t)mode, .slots = 2 };
	struct zc_view a, b, c, saved;
	struct zc_rx *rx;
	int fds[2];
	char what[64];

	snprintf(what, sizeof(what), "%s: create", zc_rx_mode_name(mode));
	tcp_pair(fds);
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK))
		die("O_NONBLOCK");
	CHECK_EQ(zc_rx_create(&rx, fds[0], &o), 0, what);
	if (failures)
		return;

	CHECK_EQ(zc_rx_read(rx, &a), -EAGAIN, "empty non-blocking read");
	CHECK_EQ(zc_rx_wait(rx, 20), 0, "wait times out");

	put(fds[1], "first");
	CHECK_EQ(read_view(rx, &a), 5, "first view");
	CHECK_EQ(a.copied_len == 5 && !memcmp(a.copied, "first", 5), 1,
		 "first view's bytes");
	put(fds[1], "second!");
	CHECK_EQ(read_view(rx, &b), 7, "second view");
	CHECK_EQ(b.copied_len == 7 && !memcmp(b.copied, "second!", 7), 1,
		 "second view's bytes");
	put(fds[1], "third");
	CHECK_EQ(zc_rx_read(rx, &c), -ENOBUFS, "every slot held");

	saved = a;
	CHECK_EQ(zc_rx_release(rx, &b), 0, "release out of order");
	CHECK_EQ(zc_rx_release(rx, &a), 0, "release first");
	CHECK_EQ(zc_rx_release(rx, &a), -EINVAL, "release twice");
	CHECK_EQ(zc_rx_release(rx, &saved), -EINVAL, "release a copy");
	CHECK_EQ(read_view(rx, &c), 5, "third view");
	CHECK_EQ(c.copied_len == 5 && !memcmp(c.copied, "third", 5), 1,
		 "third view's bytes");
	CHECK_EQ(zc_rx_release(rx, &saved), -EINVAL, "release stale view");
	saved.slot = 1000;
	CHECK_EQ(zc_rx_release(rx, &saved), -EINVAL, "slot out of range");
	CHECK_EQ(zc_rx_release(rx, &c), 0, "release third");

	close(fds[1]);
	CHECK_EQ(read_view(rx, &a), 0, "end of stream");
	CHECK_EQ(zc_rx_read(rx, &a), 0, "end of stream again");
	CHECK_EQ(zc_rx_wait(rx, 0), 1, "end is readable");
	zc_rx_free(rx);
	CHECK_EQ(fcntl(fds[0], F_GETFD) >= 0, 1, "fd still open after free");
	close(fds[0]);
}

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL rcvlowat: a blocking read still "
				  "waits 10 s after its bytes arrived\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

struct later {
	int fd;
	char buf[4000];
};

/* Sends the second half once the reader has had time to block. */
static void *send_later(void *arg)
{
	struct later *l = arg;

	usleep(200 * 1000);
	if (send(l->fd, l->buf, sizeof(l->buf), 0) != sizeof(l->buf))
		die("send later");
	return NULL;
}

/*
 * What the message layer does on a blocking socket: SO_RCVLOWAT raised to
 * the 8000 bytes of a payload while 4000 are queued, then lowered to the
 * 4000 still to come. A blocking recv() of 64 KiB would copy the first
 * 4000, sleep, and never be woken by the rest: the kernel wakes a reader
 * only when the bytes still queued reach SO_RCVLOWAT, and the 4000 it
 * copied do not count. The read must return the queued bytes instead,
 * and the next one must wake when the rest arrives.
 */
static void rcvlowat_wakes(int mode)
{
	struct zc_rx_opts o = { .mode = (uint32_t)mode };
	struct later l;
	struct zc_view v;
	struct zc_rx *rx;
	pthread_t t;
	int fds[2], lowat = 8000, i, ok;
	char what[64];

	snprintf(what, sizeof(what), "%s: rcvlowat create",
		 zc_rx_mode_name(mode));
	tcp_pair(fds);
	CHECK_EQ(zc_rx_create(&rx, fds[0], &o), 0, what);
	if (failures)
		return;
	for (i = 0; i < 4000; i++)
		l.buf[i] = (char)(i * 7 + 1);
	l.fd = fds[1];
	if (setsockopt(fds[0], SOL_SOCKET, SO_RCVLOWAT, &lowat,
		       sizeof(lowat)) ||
	    send(fds[1], l.buf, sizeof(l.buf), 0) != sizeof(l.buf))
		die("rcvlowat setup");
	usleep(50 * 1000);
	signal(SIGALRM, on_alarm);
	alarm(10);
	CHECK_EQ(zc_rx_read(rx, &v), 4000, "read under SO_RCVLOWAT");
	ok = v.len == 4000 &&
	     !memcmp(v.copied_len ? v.copied : v.mapped, l.buf, 4000);
	CHECK_EQ(ok, 1, "first half's bytes");
	zc_rx_release(rx, &v);
	lowat = 4000;
	if (setsockopt(fds[0], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)))
		die("SO_RCVLOWAT");
	if (pthread_create(&t, NULL, send_later, &l))
		die("pthread_create");
	CHECK_EQ(zc_rx_read(rx, &v), 4000, "read woken by the rest");
	ok = v.len == 4000 &&
	     !memcmp(v.copied_len ? v.copied : v.mapped, l.buf, 4000);
	CHECK_EQ(ok, 1, "second half's bytes");
	alarm(0);
	pthread_join(t, NULL);
	zc_rx_release(rx, &v);
	zc_rx_free(rx);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	struct zc_rx_opts o = { .mode = ZC_RX_ZEROCOPY };
	struct zc_probe p;
	int fds[2], zerocopy;

	tcp_pair(fds);
	bad_options(fds[0]);
	/* The probe's answer decides whether zero-copy mode is expected. */
	CHECK_EQ(zc_probe(&p), 0, "zc_probe");
	zerocopy = !!(p.features & ZC_PROBE_RX_ZEROCOPY);
	CHECK_EQ(create(fds[0], &o), zerocopy ? 0 : -EOPNOTSUPP,
		 "zerocopy mode as the probe says");
	close(fds[0]);
	close(fds[1]);
	bad_fds();
	null_args();
	views(ZC_RX_COPY);
	views(ZC_RX_AUTO);
	if (zerocopy)
		views(ZC_RX_ZEROCOPY);
	rcvlowat_wakes(ZC_RX_COPY);
	rcvlowat_wakes(ZC_RX_AUTO);
	if (zerocopy)
		rcvlowat_wakes(ZC_RX_ZEROCOPY);
	printf("rx_api: %d checks, %d failed%s\n", checks, failures,
	       zerocopy ? ""
			: " (no receive zero-copy here: copy and auto "
			  "only)");
	return failures ? 1 : 0;
}
