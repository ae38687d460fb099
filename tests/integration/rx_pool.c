/* SPDX-License-Identifier: MIT */
/*
 * rx_pool: receive handles sharing one window pool, on loopback.
 *
 *   rx_pool MODE     (auto | zerocopy | copy)
 *
 * Opens CONNS connections to itself over 127.0.0.1 (the test script runs it
 * inside a private namespace with MSS 4108, so segments are page-aligned),
 * sender threads write a per-connection pattern with MSG_ZEROCOPY, and one
 * thread receives them all through a pool shared by every handle, holding
 * up to HOLD views per connection and releasing them in a seeded random
 * order, so released slots of one connection are reused by others. Every
 * byte of every view is checked against its own connection's pattern: a
 * view showing another connection's data, a lost or repeated byte, fails.
 * Also checks the pool's API contracts: option validation, -EINVAL for a
 * view released through another handle, -ENOBUFS when the pool has no free
 * slot, -EBUSY when freeing a pool still in use.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcnet.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

#define CONNS 16
#define HOLD 3
#define BYTES (8u << 20)
#define MSS 4108
#define CHUNK (256u << 10)

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                            \
	} while (0)

/* Byte at offset off of connection c's stream: no two connections share a
 * pattern, so a view of another connection's pages cannot pass. */
static uint8_t pattern(unsigned int c, uint64_t off)
{
	uint64_t x = (off / 8 + 1) * 0x9e3779b97f4a7c15ull ^ (c + 1) * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	return (uint8_t)(x >> (8 * (off % 8)));
}

struct sender {
	struct sockaddr_in addr;
	unsigned int conn;
	pthread_t thread;
	int err;
};

static void drain_errqueue(int fd)
{
	char control[128];
	struct msghdr msg = { .msg_control = control };

	do
		msg.msg_controllen = sizeof(control);
	while (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0);
}

/* Writes the whole stream from one buffer that is never modified, so no
 * completion tracking is needed for the test to be correct. */
static void *send_stream(void *arg)
{
	struct sender *s = arg;
	int fd, one = 1, mss = MSS;
	uint8_t *buf;
	size_t off = 0, i;
	ssize_t n;

	buf = aligned_alloc(4096, BYTES);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (!buf || fd < 0) {
		s->err = ENOMEM;
		return NULL;
	}
	for (i = 0; i < BYTES; i++)
		buf[i] = pattern(s->conn, i);
	setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&s->addr, sizeof(s->addr))) {
		s->err = errno;
		goto out;
	}
	/* First byte: which connection this is (sent alone, then the
	 * stream proper starts on a fresh segment). */
	if (send(fd, &(uint8_t){ (uint8_t)s->conn }, 1, MSG_EOR) != 1) {
		s->err = errno;
		goto out;
	}
	while (off < BYTES) {
		n = send(fd, buf + off, BYTES - off < CHUNK ? BYTES - off : CHUNK,
			 MSG_ZEROCOPY);
		if (n < 0 && errno == ENOBUFS) {
			drain_errqueue(fd);
			usleep(100);
			continue;
		}
		if (n < 0) {
			s->err = errno;
			goto out;
		}
		off += (size_t)n;
		drain_errqueue(fd);
	}
	shutdown(fd, SHUT_WR);
	/* Keep buf alive until the peer has read everything: wait for its
	 * close. */
	while (recv(fd, &one, sizeof(one), 0) > 0)
		;
out:
	close(fd);
	free(buf);
	return NULL;
}

struct conn {
	int fd;
	unsigned int id;
	struct zc_rx *rx;
	struct zc_view held[HOLD];
	unsigned int nheld;
	uint64_t got;
	int done;
};

static unsigned int rnd(void)
{
	static uint64_t s = 0x2545f4914f6cdd1dull;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (unsigned int)s;
}

static void check_view(struct conn *c, const struct zc_view *v)
{
	size_t i;

	for (i = 0; i < v->mapped_len; i++)
		if (v->mapped[i] != pattern(c->id, c->got + i))
			break;
	CHECK(i == v->mapped_len, "conn %u: mapped byte at %llu wrong",
	      c->id, (unsigned long long)(c->got + i));
	c->got += v->mapped_len;
	for (i = 0; i < v->copied_len; i++)
		if (v->copied[i] != pattern(c->id, c->got + i))
			break;
	CHECK(i == v->copied_len, "conn %u: copied byte at %llu wrong",
	      c->id, (unsigned long long)(c->got + i));
	c->got += v->copied_len;
}

static void release_one(struct conn *c)
{
	unsigned int k = rnd() % c->nheld;

	CHECK(zc_rx_release(c->rx, &c->held[k]) == 0, "release");
	c->held[k] = c->held[--c->nheld];
}

static void check_api(struct zc_rx_pool *pool, struct conn *a, struct conn *b)
{
	struct zc_rx_pool_opts bad = { .reserved[3] = 1 };
	struct zc_rx_pool *p2;
	struct zc_rx_opts o = { .pool = pool, .slot_size = 65536 };
	struct zc_rx *rx;

	CHECK(zc_rx_pool_create(&p2, &bad) == -EINVAL, "reserved accepted");
	bad = (struct zc_rx_pool_opts){ .slot_size = 1000 };
	CHECK(zc_rx_pool_create(&p2, &bad) == -EINVAL, "odd slot accepted");
	CHECK(zc_rx_pool_create(NULL, NULL) == -EINVAL, "NULL accepted");
	CHECK(zc_rx_pool_free(NULL) == 0, "free(NULL)");
	CHECK(zc_rx_create(&rx, a->fd, &o) == -EINVAL,
	      "slot_size with a pool accepted");
	CHECK(zc_rx_pool_free(pool) == -EBUSY, "free of a pool in use");
	(void)b;
}

/* A view of a's released through b must be refused, then go back
 * through a. */
static void check_cross_release(struct conn *a, struct conn *b)
{
	if (!a->nheld)
		return;
	CHECK(zc_rx_release(b->rx, &a->held[0]) == -EINVAL,
	      "view released through another handle");
}

static int run(int mode, struct sockaddr_in *addr, int lfd)
{
	struct zc_rx_pool_opts po = { .slot_size = 64 << 10, .slots = 32 };
	struct sender snd[CONNS];
	struct conn conns[CONNS] = { 0 };
	struct pollfd pfd[CONNS];
	struct zc_rx_pool *pool;
	struct zc_rx_stats st;
	uint64_t mapped = 0, total = 0, zaps = 0;
	unsigned int i, done = 0;
	int ret;

	ret = zc_rx_pool_create(&pool, &po);
	CHECK(ret == 0, "pool: %s", strerror(-ret));
	if (ret)
		return 1;
	for (i = 0; i < CONNS; i++) {
		snd[i] = (struct sender){ .addr = *addr, .conn = i };
		pthread_create(&snd[i].thread, NULL, send_stream, &snd[i]);
	}
	for (i = 0; i < CONNS; i++) {
		struct zc_rx_opts o = { .mode = (uint32_t)mode, .pool = pool,
					.slots = HOLD + 1 };
		struct conn *c = &conns[i];
		uint8_t id;

		c->fd = accept(lfd, NULL, NULL);
		CHECK(c->fd >= 0 && recv(c->fd, &id, 1, MSG_WAITALL) == 1,
		      "accept");
		c->id = id;
		fcntl(c->fd, F_SETFL, O_NONBLOCK);
		ret = zc_rx_create(&c->rx, c->fd, &o);
		CHECK(ret == 0, "zc_rx_create: %s", strerror(-ret));
		if (ret)
			return 1;
		pfd[i] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	}
	check_api(pool, &conns[0], &conns[1]);

	while (done < CONNS && !failures) {
		poll(pfd, CONNS, 5000);
		for (i = 0; i < CONNS; i++) {
			struct conn *c = &conns[i];
			struct zc_view v;
			ssize_t n;

			if (c->done)
				continue;
			if (c->nheld == HOLD || (c->nheld && rnd() % 2))
				release_one(c);
			n = zc_rx_read(c->rx, &v);
			if (n == -EAGAIN)
				continue;
			if (n == -ENOBUFS) {
				/* The shared pool ran dry: others hold its
				 * slots. Give one back and go on. */
				if (c->nheld)
					release_one(c);
				continue;
			}
			CHECK(n >= 0, "conn %u: read: %s", c->id,
			      strerror((int)-n));
			if (n <= 0) {
				c->done = 1;
				pfd[i].fd = -1;
				done++;
				shutdown(c->fd, SHUT_RDWR);
				continue;
			}
			CHECK((size_t)n == v.len, "count != view");
			check_view(c, &v);
			c->held[c->nheld++] = v;
			check_cross_release(c, &conns[(i + 1) % CONNS]);
		}
	}
	for (i = 0; i < CONNS; i++) {
		struct conn *c = &conns[i];

		while (c->nheld)
			release_one(c);
		CHECK(c->got == BYTES, "conn %u: %llu of %u bytes", c->id,
		      (unsigned long long)c->got, BYTES);
		zc_rx_get_stats(c->rx, &st);
		mapped += st.bytes_mapped;
		zaps += st.zaps;
		total += c->got;
		zc_rx_free(c->rx);
	}
	CHECK(zc_rx_pool_free(pool) == 0, "pool free after handles");
	/* Senders wait for our close: after a failure streams are cut short. */
	for (i = 0; i < CONNS; i++)
		shutdown(conns[i].fd, SHUT_RDWR);
	for (i = 0; i < CONNS; i++) {
		pthread_join(snd[i].thread, NULL);
		CHECK(!snd[i].err, "sender %u: %s", i, strerror(snd[i].err));
		close(conns[i].fd);
	}
	printf("rx_pool %s: %u connections, %llu bytes verified, %.2f%% mapped, %llu zaps\n",
	       zc_rx_mode_name(mode), CONNS, (unsigned long long)total,
	       total ? 100.0 * (double)mapped / (double)total : 0.0,
	       (unsigned long long)zaps);
	CHECK(mode != ZC_RX_COPY || mapped == 0, "copy mode mapped pages");
	/* MSG_ZEROCOPY + MSS 4108: most pages map (96% seen); a bound well
	 * below that still proves the pool's window is used. */
	CHECK(mode != ZC_RX_ZEROCOPY || mapped * 2 > total,
	      "zerocopy mode mapped under half");
	return failures ? 1 : 0;
}

/* A pool of two slots: a third view is refused while two are held. */
static void check_exhaustion(struct sockaddr_in *addr, int lfd)
{
	struct zc_rx_pool_opts po = { .slot_size = 4096, .slots = 2 };
	struct zc_rx_opts o = { .mode = ZC_RX_COPY, .slots = 4 };
	struct zc_view v[3];
	struct zc_rx_pool *pool;
	struct zc_rx *rx;
	int c, s;

	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(!connect(c, (struct sockaddr *)addr, sizeof(*addr)), "connect");
	s = accept(lfd, NULL, NULL);
	CHECK(zc_rx_pool_create(&pool, &po) == 0, "small pool");
	o.pool = pool;
	CHECK(zc_rx_create(&rx, s, &o) == 0, "create on small pool");
	/* A write before each read, so each read finds bytes. */
	CHECK(send(c, "abc", 3, 0) == 3, "send");
	CHECK(zc_rx_read(rx, &v[0]) > 0, "first read");
	CHECK(send(c, "def", 3, 0) == 3, "send");
	CHECK(zc_rx_read(rx, &v[1]) > 0, "second read");
	CHECK(send(c, "ghi", 3, 0) == 3, "send");
	CHECK(zc_rx_read(rx, &v[2]) == -ENOBUFS,
	      "third view from a two-slot pool");
	CHECK(zc_rx_release(rx, &v[0]) == 0, "release");
	CHECK(zc_rx_read(rx, &v[0]) > 0, "read after release");
	zc_rx_release(rx, &v[0]);
	zc_rx_release(rx, &v[1]);
	zc_rx_free(rx);
	CHECK(zc_rx_pool_free(pool) == 0, "free small pool");
	close(c);
	close(s);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int lfd, mss = MSS, mode;

	mode = argc == 2 ? zc_rx_mode_parse(argv[1]) : -1;
	if (mode < 0) {
		fprintf(stderr, "usage: rx_pool auto|zerocopy|copy\n");
		return 2;
	}
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(lfd, CONNS) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len)) {
		perror("rx_pool: listen");
		return 1;
	}
	check_exhaustion(&addr, lfd);
	run(mode, &addr, lfd);
	close(lfd);
	return failures ? 1 : 0;
}
