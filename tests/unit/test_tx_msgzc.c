/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the send engine's front end (src/tx.c) and its
 * MSG_ZEROCOPY backend (src/tx_msgzc.c) against a faked kernel: option
 * validation, the completion contract, ENOBUFS fallback, COPIED back-off,
 * coalesced / out-of-order / wrapped notification ranges, failed sends,
 * deadlines.
 *
 * The fd is a real connected loopback socket (zc_tx_create asks the real
 * getpeername() whether it is connected); the fake answers sendmsg,
 * recvmsg, setsockopt and poll through the zc__sys table and never puts a
 * byte on the wire. It keeps the kernel's per-socket zero-copy counter: a
 * MSG_ZEROCOPY send that succeeds takes the next value, one that fails
 * does not (msg_zerocopy_put_abort), unless a test says the kernel took it
 * anyway (a UDP datagram dropped after it was built). Notifications are
 * queued by the tests, as sock_extended_err ranges in IP_RECVERR or
 * IPV6_RECVERR control messages, exactly as ip_recv_error() lays them out.
 */
#include <errno.h>
#include <time.h> /* before linux/errqueue.h: struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat.h"
#include "internal.h"
#include "net.h"
#include "tx.h"

#define MAXQ 64

struct notif {
	uint32_t lo, hi;
	uint8_t code;
	uint8_t origin;
};

static struct fake {
	/* errnos for the next MSG_ZEROCOPY sends, in order (0: succeed) */
	int zc_fail[8];
	unsigned int nfail, fail_pos;
	bool take_id_on_fail; /* the failed send still took an id */
	ssize_t partial;      /* accept only this many bytes */
	uint32_t counter;     /* the socket's zero-copy counter */
	bool auto_notify;     /* each zc send completes at once */
	uint8_t auto_code;
	struct notif q[MAXQ];
	unsigned int qn;
	int ipv6;	   /* notifications in IPV6_RECVERR cmsgs */
	int recv_errno;	   /* the error queue read fails */
	int sockopt_errno; /* SO_ZEROCOPY refused */
	int mtu;	   /* IP_MTU / IPV6_MTU answer; 0: the real one */
	int mtu_errno;	   /* the path MTU lookup fails */
	int gso;	   /* UDP_SEGMENT answer */
	unsigned int zc_sends, copy_sends, recv_calls, mtu_lookups;
} fk;

static int fds[2] = { -1, -1 };

static void queue(uint32_t lo, uint32_t hi, uint8_t code)
{
	assert_true(fk.qn < MAXQ);
	fk.q[fk.qn++] = (struct notif){ lo, hi, code, SO_EE_ORIGIN_ZEROCOPY };
}

static ssize_t fake_sendmsg(int fd, const struct msghdr *m, int flags)
{
	size_t len = m->msg_iov[0].iov_len;
	int err;

	assert_int_equal(fd, fds[1]);
	assert_true(flags & MSG_NOSIGNAL);
	if (!(flags & MSG_ZEROCOPY)) {
		fk.copy_sends++;
		return (ssize_t)len;
	}
	fk.zc_sends++;
	err = fk.fail_pos < fk.nfail ? fk.zc_fail[fk.fail_pos++] : 0;
	if (err) {
		if (fk.take_id_on_fail) {
			/* built, then dropped inside sendmsg: the
			 * notification is queued before it returns */
			queue(fk.counter, fk.counter, 0);
			fk.counter++;
		}
		errno = err;
		return -1;
	}
	if (fk.auto_notify)
		queue(fk.counter, fk.counter, fk.auto_code);
	fk.counter++;
	if (fk.partial && (size_t)fk.partial < len)
		return fk.partial;
	return (ssize_t)len;
}

static ssize_t fake_recvmsg(int fd, struct msghdr *m, int flags)
{
	struct sock_extended_err ee;
	struct cmsghdr *cm;
	struct notif n;

	assert_int_equal(fd, fds[1]);
	assert_true(flags & MSG_ERRQUEUE);
	assert_true(flags & MSG_DONTWAIT);
	fk.recv_calls++;
	if (fk.recv_errno) {
		errno = fk.recv_errno;
		return -1;
	}
	if (!fk.qn) {
		errno = EAGAIN;
		return -1;
	}
	n = fk.q[0];
	memmove(fk.q, fk.q + 1, --fk.qn * sizeof(fk.q[0]));
	assert_true(m->msg_controllen >=
		    CMSG_SPACE(sizeof(ee) + sizeof(struct sockaddr_in6)));
	memset(&ee, 0, sizeof(ee));
	ee.ee_origin = n.origin;
	ee.ee_code = n.code;
	ee.ee_errno = n.origin == SO_EE_ORIGIN_ZEROCOPY ? 0 : ECONNREFUSED;
	ee.ee_info = n.lo;
	ee.ee_data = n.hi;
	cm = CMSG_FIRSTHDR(m);
	cm->cmsg_level = fk.ipv6 ? SOL_IPV6 : SOL_IP;
	cm->cmsg_type = fk.ipv6 ? IPV6_RECVERR : IP_RECVERR;
	cm->cmsg_len = CMSG_LEN(sizeof(ee) + sizeof(struct sockaddr_in));
	memcpy(CMSG_DATA(cm), &ee, sizeof(ee));
	m->msg_controllen = CMSG_SPACE(sizeof(ee) + sizeof(struct sockaddr_in));
	m->msg_flags = MSG_ERRQUEUE;
	return 0;
}

static int fake_setsockopt(int fd, int level, int name, const void *val,
			   socklen_t len)
{
	if (level == SOL_SOCKET && name == SO_ZEROCOPY && fk.sockopt_errno) {
		errno = fk.sockopt_errno;
		return -1;
	}
	if (level == SOL_SOCKET && name == SO_ZEROCOPY)
		return 0;
	return setsockopt(fd, level, name, val, len);
}

/* The path MTU and UDP_SEGMENT as a test wants them; the rest (SO_TYPE,
 * ...) from the real socket. */
static int fake_getsockopt(int fd, int level, int name, void *val,
			   socklen_t *len)
{
	if ((level == IPPROTO_IP && name == IP_MTU) ||
	    (level == IPPROTO_IPV6 && name == IPV6_MTU)) {
		fk.mtu_lookups++;
		if (fk.mtu_errno) {
			errno = fk.mtu_errno;
			return -1;
		}
		if (fk.mtu) {
			assert_true(*len >= sizeof(int));
			memcpy(val, &fk.mtu, sizeof(int));
			*len = sizeof(int);
			return 0;
		}
	}
	if (level == IPPROTO_UDP && name == UDP_SEGMENT) {
		assert_true(*len >= sizeof(int));
		memcpy(val, &fk.gso, sizeof(int));
		*len = sizeof(int);
		return 0;
	}
	return getsockopt(fd, level, name, val, len);
}

/* The error queue signals POLLERR when something is queued; otherwise
 * sleep a little of the timeout, as the real poll would. */
static int fake_poll(struct pollfd *p, nfds_t n, int timeout_ms)
{
	if (n == 1 && fk.qn) {
		p[0].revents = POLLERR;
		return 1;
	}
	return poll(NULL, 0, timeout_ms < 0 || timeout_ms > 2 ? 2 : timeout_ms);
}

static int open_pair(int family, int type)
{
	int ret = type == SOCK_DGRAM ? zc__udp_pair(fds, family)
				     : zc__tcp_pair(fds, family);

	assert_int_equal(ret, 0);
	return 0;
}

static int setup_fake(void)
{
	memset(&fk, 0, sizeof(fk));
	zc__sys.sendmsg = fake_sendmsg;
	zc__sys.recvmsg = fake_recvmsg;
	zc__sys.setsockopt = fake_setsockopt;
	zc__sys.getsockopt = fake_getsockopt;
	zc__sys.poll = fake_poll;
	return 0;
}

static int setup_tcp4(void **state)
{
	open_pair(AF_INET, SOCK_STREAM);
	return setup_fake();
}

static int setup_tcp6(void **state)
{
	open_pair(AF_INET6, SOCK_STREAM);
	setup_fake();
	fk.ipv6 = 1;
	return 0;
}

static int setup_udp4(void **state)
{
	open_pair(AF_INET, SOCK_DGRAM);
	return setup_fake();
}

static int setup_udp6(void **state)
{
	open_pair(AF_INET6, SOCK_DGRAM);
	setup_fake();
	fk.ipv6 = 1;
	return 0;
}

static int setup_real(void **state)
{
	zc__sys_reset();
	return open_pair(AF_INET, SOCK_STREAM);
}

static int teardown(void **state)
{
	zc__sys_reset();
	close(fds[0]);
	close(fds[1]);
	fds[0] = fds[1] = -1;
	return 0;
}

static struct zc_tx *make(uint32_t backend, const struct zc_tx_opts *base)
{
	struct zc_tx_opts o = { 0 };
	struct zc_tx *tx;

	if (base)
		o = *base;
	o.backend = backend;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	return tx;
}

static uint8_t buf[1 << 16];

static void expect(const struct zc_completion *c, uint64_t ud, uint32_t len,
		   uint32_t flags)
{
	assert_int_equal(c->user_data, ud);
	assert_int_equal(c->len, len);
	assert_int_equal(c->flags, flags);
}

/* --- options, names ----------------------------------------------------- */

static void test_create_validation(void **state)
{
	struct zc_tx_opts o = { 0 };
	struct zc_tx *tx = (void *)1;
	int un[2], tcp;

	assert_int_equal(zc_tx_create(NULL, fds[1], NULL), -EINVAL);
	o.backend = 5;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -EINVAL);
	assert_null(tx);
	o.backend = ZC_TX_COPY;
	o.flags = 1u << 7;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -EINVAL);
	o.flags = ZC_TX_F_FIXED_BUFFERS; /* io_uring SEND_ZC only */
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -EINVAL);
	o.flags = 0;
	o.reserved[5] = 1;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -EINVAL);
	o.reserved[5] = 0;
	o.max_outstanding = 65537;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -EINVAL);
	o.max_outstanding = 0;
	assert_int_equal(zc_tx_create(&tx, -1, &o), -EINVAL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, un), 0);
	assert_int_equal(zc_tx_create(&tx, un[0], &o), -EINVAL);
	close(un[0]);
	close(un[1]);
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(zc_tx_create(&tx, tcp, &o), -ENOTCONN);
	close(tcp);
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	assert_int_equal(zc_tx_backend(tx), ZC_TX_COPY);
	assert_int_equal(zc_tx_free(tx), 0);
	assert_int_equal(zc_tx_free(NULL), 0);
}

static void test_names(void **state)
{
	int b;

	for (b = ZC_TX_AUTO; b <= ZC_TX_URING_ZC; b++)
		assert_int_equal(zc_tx_backend_parse(zc_tx_backend_name(b)), b);
	assert_string_equal(zc_tx_backend_name(ZC_TX_MSG_ZEROCOPY),
			    "msg_zerocopy");
	assert_null(zc_tx_backend_name(5));
	assert_null(zc_tx_backend_name(-1));
	assert_int_equal(zc_tx_backend_parse("zerocopy"), -EINVAL);
	assert_int_equal(zc_tx_backend_parse(NULL), -EINVAL);
}

static void test_null_handles(void **state)
{
	struct zc_completion c;
	struct zc_tx_stats st;

	assert_int_equal(zc_tx_send(NULL, buf, 1, 0), -EINVAL);
	assert_int_equal(zc_tx_reap(NULL, &c, 1), -EINVAL);
	assert_int_equal(zc_tx_wait(NULL, &c, 1, 0), -EINVAL);
	assert_int_equal(zc_tx_flush(NULL, 0), -EINVAL);
	assert_int_equal(zc_tx_fd(NULL), -EINVAL);
	assert_int_equal(zc_tx_poll_events(NULL), -EINVAL);
	assert_int_equal(zc_tx_backend(NULL), -EINVAL);
	assert_int_equal(zc_tx_register(NULL, NULL, 0), -EINVAL);
	zc_tx_get_stats(NULL, &st);
}

/* --- copy backend, real socket ----------------------------------------- */

static void test_copy_backend_real(void **state)
{
	struct zc_tx *tx = make(ZC_TX_COPY, NULL);
	struct zc_completion c[4];
	struct zc_tx_stats st;
	uint8_t got[100];
	size_t i;

	for (i = 0; i < sizeof(got); i++)
		buf[i] = (uint8_t)(i * 7);
	assert_int_equal(zc_tx_send(tx, buf, 60, 1), 60);
	assert_int_equal(zc_tx_send(tx, buf + 60, 40, 2), 40);
	assert_int_equal(zc_tx_poll_events(tx), 0);
	assert_int_equal(zc_tx_fd(tx), fds[1]);
	/* completed at once, in order */
	assert_int_equal(zc_tx_reap(tx, c, 4), 2);
	expect(&c[0], 1, 60, ZC_COMPLETION_POLICY_COPY);
	expect(&c[1], 2, 40, ZC_COMPLETION_POLICY_COPY);
	assert_int_equal(recv(fds[0], got, sizeof(got), MSG_WAITALL), 100);
	assert_memory_equal(got, buf, sizeof(got));
	/* nothing outstanding: no waiting */
	assert_int_equal(zc_tx_wait(tx, c, 4, -1), 0);
	assert_int_equal(zc_tx_flush(tx, -1), 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.sends, 2);
	assert_int_equal(st.bytes, 100);
	assert_int_equal(st.bytes_policy_copied, 100);
	assert_int_equal(st.outstanding, 0);
	assert_int_equal(zc_tx_free(tx), 0);
}

/* The real kernel: a MSG_ZEROCOPY notification raises POLLERR on the
 * socket, which poll reports whatever events were asked for. */
static void test_real_msgzc_poll(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c;
	struct pollfd pfd = { .fd = zc_tx_fd(tx), .events = 0 };
	uint8_t got[4096];

	assert_int_equal(zc_tx_poll_events(tx), POLLERR);
	assert_int_equal(pfd.fd, fds[1]);
	assert_int_equal(zc_tx_send(tx, buf, sizeof(got), 3), sizeof(got));
	assert_int_equal(recv(fds[0], got, sizeof(got), MSG_WAITALL),
			 sizeof(got));
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(pfd.revents & POLLERR);
	assert_int_equal(zc_tx_reap(tx, &c, 1), 1);
	assert_int_equal(c.user_data, 3);
	/* loopback: the kernel copied, and said so */
	assert_int_equal(c.flags, ZC_COMPLETION_COPIED);
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(zc_tx_free(tx), 0);
}

static void test_send_rejects(void **state)
{
	struct zc_tx *tx = make(ZC_TX_COPY, NULL);

	assert_int_equal(zc_tx_send(tx, buf, 0, 0), -EINVAL);
	assert_int_equal(zc_tx_send(tx, NULL, 10, 0), -EINVAL);
	assert_int_equal(zc_tx_send(tx, buf, (size_t)UINT32_MAX + 1, 0),
			 -EINVAL);
	assert_int_equal(zc_tx_register(tx, NULL, 1), -EINVAL);
	zc_tx_free(tx);
}

/* A closed peer: the send fails and produces no completion. */
static void test_copy_failed_send_real(void **state)
{
	struct zc_tx *tx = make(ZC_TX_COPY, NULL);
	struct linger lg = { 1, 0 };
	struct zc_completion c;
	ssize_t n;
	int i;

	assert_int_equal(
		setsockopt(fds[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fds[0]);
	fds[0] = -1;
	usleep(10000);
	for (i = 0; i < 4; i++) {
		n = zc_tx_send(tx, buf, 100, 9);
		assert_true(n == -ECONNRESET || n == -EPIPE);
	}
	assert_int_equal(zc_tx_reap(tx, &c, 1), 0);
	assert_int_equal(zc_tx_free(tx), 0);
}

static void test_max_outstanding(void **state)
{
	struct zc_tx_opts o = { .max_outstanding = 2 };
	struct zc_tx *tx = make(ZC_TX_COPY, &o);
	struct zc_completion c;

	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	assert_int_equal(zc_tx_send(tx, buf, 10, 2), 10);
	/* completed but not reaped: still counts */
	assert_int_equal(zc_tx_send(tx, buf, 10, 3), -EAGAIN);
	assert_int_equal(zc_tx_reap(tx, &c, 1), 1);
	expect(&c, 1, 10, ZC_COMPLETION_POLICY_COPY);
	assert_int_equal(zc_tx_send(tx, buf, 10, 3), 10);
	zc_tx_free(tx);
}

/* --- MSG_ZEROCOPY -------------------------------------------------------- */

static void test_msgzc_in_order(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[8];
	struct zc_tx_stats st;

	assert_int_equal(zc_tx_backend(tx), ZC_TX_MSG_ZEROCOPY);
	assert_int_equal(zc_tx_poll_events(tx), POLLERR);
	assert_int_equal(zc_tx_fd(tx), fds[1]);
	assert_int_equal(zc_tx_send(tx, buf, 100, 10), 100);
	assert_int_equal(zc_tx_send(tx, buf, 200, 11), 200);
	assert_int_equal(zc_tx_send(tx, buf, 300, 12), 300);
	assert_int_equal(fk.counter, 3);
	assert_int_equal(zc_tx_reap(tx, c, 8), 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.outstanding, 3);
	queue(0, 0, 0);
	queue(1, 2, 0); /* coalesced */
	assert_int_equal(zc_tx_reap(tx, c, 8), 3);
	expect(&c[0], 10, 100, 0);
	expect(&c[1], 11, 200, 0);
	expect(&c[2], 12, 300, 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.bytes_zerocopy, 600);
	assert_int_equal(st.notifications, 2);
	assert_int_equal(st.outstanding, 0);
	assert_int_equal(st.out_of_order + st.bad_ids, 0);
	assert_int_equal(zc_tx_free(tx), 0);
}

/* reap with a small max leaves the rest queued, in order. */
static void test_msgzc_reap_in_pieces(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[2];
	int i;

	for (i = 0; i < 5; i++)
		assert_int_equal(zc_tx_send(tx, buf, 10, 100 + i), 10);
	queue(0, 4, 0);
	assert_int_equal(zc_tx_reap(tx, c, 2), 2);
	expect(&c[0], 100, 10, 0);
	expect(&c[1], 101, 10, 0);
	assert_int_equal(zc_tx_reap(tx, c, 2), 2);
	expect(&c[0], 102, 10, 0);
	assert_int_equal(zc_tx_reap(tx, c, 2), 1);
	expect(&c[0], 104, 10, 0);
	assert_int_equal(zc_tx_reap(tx, c, 0), 0);
	zc_tx_free(tx);
}

/* The counter wraps past 2^32 and the two halves arrive in reverse. */
static void test_msgzc_wrap_out_of_order(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[8];
	struct zc_tx_stats st;
	int i;

	/* As if 2^32 - 2 zero-copy sends had gone before. */
	tx->ranges.head = tx->ranges.next = fk.counter = 0xfffffffeu;
	for (i = 0; i < 4; i++)
		assert_int_equal(zc_tx_send(tx, buf, 1000 + i, 20 + i),
				 1000 + i);
	assert_int_equal(fk.counter, 2);
	queue(0, 1, SO_EE_CODE_ZEROCOPY_COPIED);
	assert_int_equal(zc_tx_reap(tx, c, 8), 2);
	expect(&c[0], 22, 1002, ZC_COMPLETION_COPIED);
	expect(&c[1], 23, 1003, ZC_COMPLETION_COPIED);
	queue(0xfffffffeu, 0xffffffffu, 0);
	assert_int_equal(zc_tx_reap(tx, c, 8), 2);
	expect(&c[0], 20, 1000, 0);
	expect(&c[1], 21, 1001, 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.out_of_order, 1);
	assert_int_equal(st.bad_ids, 0);
	assert_int_equal(st.bytes_kernel_copied, 2005);
	assert_int_equal(st.bytes_zerocopy, 2001);
	assert_int_equal(st.outstanding, 0);
	zc_tx_free(tx);
}

/* One range across the wrap: hi < lo numerically. */
static void test_msgzc_wrapped_range(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[8];
	int i;

	tx->ranges.head = tx->ranges.next = fk.counter = 0xfffffffdu;
	for (i = 0; i < 6; i++)
		assert_int_equal(zc_tx_send(tx, buf, 10, i), 10);
	queue(0xfffffffdu, 2, 0);
	assert_int_equal(zc_tx_reap(tx, c, 8), 6);
	for (i = 0; i < 6; i++)
		expect(&c[i], (uint64_t)i, 10, 0);
	zc_tx_free(tx);
}

/* Duplicate and never-sent ids complete nothing and are counted. */
static void test_msgzc_bad_ranges(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[8];
	struct zc_tx_stats st;

	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	assert_int_equal(zc_tx_send(tx, buf, 10, 2), 10);
	queue(0, 0, 0);
	queue(0, 0, 0); /* again */
	queue(5, 6, 0); /* never sent */
	assert_int_equal(zc_tx_reap(tx, c, 8), 1);
	expect(&c[0], 1, 10, 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.bad_ids, 3);
	assert_int_equal(st.outstanding, 1);
	zc_tx_free(tx);
}

/* ENOBUFS twice: reap, retry once, then the same bytes go by copy. */
static void test_msgzc_enobufs_fallback(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[4];
	struct zc_tx_stats st;

	fk.zc_fail[0] = ENOBUFS;
	fk.zc_fail[1] = ENOBUFS;
	fk.nfail = 2;
	assert_int_equal(zc_tx_send(tx, buf, 5000, 7), 5000);
	assert_int_equal(fk.zc_sends, 2);
	assert_int_equal(fk.copy_sends, 1);
	assert_true(fk.recv_calls >= 1); /* reaped before the retry */
	assert_int_equal(fk.counter, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 7, 5000, ZC_COMPLETION_POLICY_COPY);
	/* the next zero-copy send gets id 0 */
	assert_int_equal(zc_tx_send(tx, buf, 3000, 8), 3000);
	queue(0, 0, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 8, 3000, 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.enobufs, 2);
	assert_int_equal(st.enobufs_copied, 1);
	assert_int_equal(st.bytes_policy_copied, 5000);
	assert_int_equal(st.bytes_zerocopy, 3000);
	assert_int_equal(st.sends, 2);
	zc_tx_free(tx);
}

/* ENOBUFS once: the retry after reaping succeeds, no fallback. */
static void test_msgzc_enobufs_retry(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_tx_stats st;

	fk.zc_fail[0] = ENOBUFS;
	fk.nfail = 1;
	assert_int_equal(zc_tx_send(tx, buf, 5000, 7), 5000);
	assert_int_equal(fk.zc_sends, 2);
	assert_int_equal(fk.copy_sends, 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.enobufs, 1);
	assert_int_equal(st.enobufs_copied, 0);
	assert_int_equal(st.outstanding, 1);
	zc_tx_free(tx);
}

/* A failed send yields no completion and takes no id. */
static void test_msgzc_failed_send(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[4];
	struct zc_tx_stats st;

	fk.zc_fail[0] = EPIPE;
	fk.zc_fail[1] = EAGAIN;
	fk.nfail = 2;
	assert_int_equal(zc_tx_send(tx, buf, 100, 1), -EPIPE);
	assert_int_equal(zc_tx_send(tx, buf, 100, 2), -EAGAIN);
	assert_int_equal(zc_tx_send(tx, buf, 100, 3), 100);
	queue(0, 0, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 3, 100, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.sends, 1);
	assert_int_equal(st.enobufs + st.bad_ids, 0);
	zc_tx_free(tx);
}

/* UDP: a datagram dropped after it was built (netfilter: EPERM) took an
 * id, and its notification is already queued when sendmsg returns. The
 * next send's id must still line up. */
static void test_msgzc_udp_failed_took_id(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[4];
	struct zc_tx_stats st;

	assert_int_equal(zc_tx_send(tx, buf, 100, 1), 100); /* id 0 */
	fk.zc_fail[0] = EPERM;
	fk.nfail = 1;
	fk.take_id_on_fail = true;
	assert_int_equal(zc_tx_send(tx, buf, 100, 2), -EPERM); /* id 1 */
	fk.take_id_on_fail = false;
	assert_int_equal(zc_tx_send(tx, buf, 100, 3), 100); /* id 2 */
	assert_int_equal(zc_tx_reap(tx, c, 4), 0);
	queue(2, 2, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 3, 100, 0);
	queue(0, 0, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 1, 100, 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.bad_ids, 0);
	assert_int_equal(st.outstanding, 0);
	zc_tx_free(tx);
}

/* UDP: a send that failed before the datagram was built took no id; the
 * check after it must not invent one. */
static void test_msgzc_udp_failed_no_id(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[4];

	fk.auto_notify = true;
	assert_int_equal(zc_tx_send(tx, buf, 100, 1), 100); /* id 0 queued */
	fk.zc_fail[0] = EMSGSIZE;
	fk.nfail = 1;
	assert_int_equal(zc_tx_send(tx, buf, 100, 2), -EMSGSIZE);
	assert_int_equal(zc_tx_send(tx, buf, 100, 3), 100); /* id 1 */
	assert_int_equal(zc_tx_reap(tx, c, 4), 2);
	expect(&c[0], 1, 100, 0);
	expect(&c[1], 3, 100, 0);
	zc_tx_free(tx);
}

/*
 * UDP: a datagram longer than the path MTU allows is fragmented; the kernel
 * copies it at send time anyway and its notification can be held back
 * until the receiver reads it (or longer, docs/KERNEL_FINDINGS.md). It goes
 * by copy, completes at once, and takes no zero-copy id: the ids of the
 * zero-copy sends around it still line up.
 */
static void test_msgzc_udp_fragmenting_copied(void **state)
{
	struct zc_tx *tx;
	struct zc_completion c[4];
	struct zc_tx_stats st;

	fk.mtu = 1500; /* 1472 bytes of payload in one IPv4 packet */
	tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	assert_int_equal(zc_tx_send(tx, buf, 1472, 1), 1472); /* id 0 */
	assert_int_equal(zc_tx_send(tx, buf, 1473, 2), 1473); /* copied */
	assert_int_equal(zc_tx_send(tx, buf, 9000, 3), 9000); /* copied */
	assert_int_equal(zc_tx_send(tx, buf, 100, 4), 100);   /* id 1 */
	assert_int_equal(fk.zc_sends, 2);
	assert_int_equal(fk.copy_sends, 2);
	assert_int_equal(fk.counter, 2);
	assert_int_equal(zc_tx_reap(tx, c, 4), 2);
	expect(&c[0], 2, 1473, ZC_COMPLETION_POLICY_COPY);
	expect(&c[1], 3, 9000, ZC_COMPLETION_POLICY_COPY);
	queue(1, 1, SO_EE_CODE_ZEROCOPY_COPIED);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 4, 100, ZC_COMPLETION_COPIED);
	queue(0, 0, 0);
	assert_int_equal(zc_tx_flush(tx, 1000), 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 1, 1472, 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.sends, 4);
	assert_int_equal(st.bytes_policy_copied, 1473 + 9000);
	assert_int_equal(st.bytes_kernel_copied, 100);
	assert_int_equal(st.bytes_zerocopy, 1472);
	assert_int_equal(st.outstanding + st.bad_ids + st.enobufs, 0);
	assert_int_equal(zc_tx_free(tx), 0);
}

/* IPv6: 48 bytes of headers. */
static void test_msgzc_udp6_fragmenting_copied(void **state)
{
	struct zc_tx *tx;
	struct zc_completion c[4];

	fk.mtu = 1500;
	tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	assert_int_equal(zc_tx_send(tx, buf, 1452, 1), 1452);
	assert_int_equal(zc_tx_send(tx, buf, 1453, 2), 1453);
	assert_int_equal(fk.zc_sends, 1);
	assert_int_equal(fk.copy_sends, 1);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 2, 1453, ZC_COMPLETION_POLICY_COPY);
	zc_tx_free(tx);
}

/* UDP_SEGMENT: the kernel segments, it does not fragment: zero-copy. */
static void test_msgzc_udp_gso_not_limited(void **state)
{
	struct zc_tx *tx;

	fk.mtu = 1500;
	fk.gso = 1400;
	tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	assert_int_equal(zc_tx_send(tx, buf, 9000, 1), 9000);
	assert_int_equal(fk.zc_sends, 1);
	assert_int_equal(fk.copy_sends, 0);
	zc_tx_free(tx);
}

/* The path MTU is looked up again every ZC__TX_DGRAM_RECHECK datagrams
 * and right after a failed send; a failed lookup keeps the last value. */
static void test_msgzc_udp_mtu_relookup(void **state)
{
	struct zc_tx *tx;
	unsigned int i;

	fk.mtu = 9000;
	fk.auto_notify = true;
	tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	assert_int_equal(fk.mtu_lookups, 1);
	fk.mtu = 1500; /* the path MTU shrank */
	for (i = 0; i < ZC__TX_DGRAM_RECHECK; i++)
		assert_int_equal(zc_tx_send(tx, buf, 4000, i), 4000);
	assert_int_equal(fk.copy_sends, 0);
	assert_int_equal(zc_tx_send(tx, buf, 4000, 100), 4000);
	assert_int_equal(fk.mtu_lookups, 2);
	assert_int_equal(fk.copy_sends, 1);
	/* a failed send: look again at once */
	fk.zc_fail[0] = EMSGSIZE;
	fk.nfail = 1;
	assert_int_equal(zc_tx_send(tx, buf, 1000, 101), -EMSGSIZE);
	fk.mtu = 9000;
	assert_int_equal(zc_tx_send(tx, buf, 4000, 102), 4000);
	assert_int_equal(fk.mtu_lookups, 3);
	assert_int_equal(fk.copy_sends, 1);
	/* the lookup fails: the last value holds */
	fk.zc_fail[1] = EPERM;
	fk.nfail = 2;
	fk.mtu = 1500;
	fk.mtu_errno = ENOTCONN;
	assert_int_equal(zc_tx_send(tx, buf, 1000, 103), -EPERM);
	assert_int_equal(zc_tx_send(tx, buf, 4000, 104), 4000);
	assert_int_equal(fk.mtu_lookups, 4);
	assert_int_equal(fk.copy_sends, 1);
	assert_int_equal(zc_tx_flush(tx, 1000), 0);
	zc_tx_free(tx);
}

/* Auto: a datagram it copies for its length looks at no error queue. */
static void test_auto_fragmenting_no_drain(void **state)
{
	struct zc_tx_opts o = { .zc_threshold = 1000 };
	struct zc_tx *tx;
	unsigned int i;

	fk.mtu = 1500;
	tx = make(ZC_TX_AUTO, &o);
	for (i = 0; i < 10; i++)
		assert_int_equal(zc_tx_send(tx, buf, 4000, i), 4000);
	assert_int_equal(fk.copy_sends, 10);
	assert_int_equal(fk.zc_sends, 0);
	assert_int_equal(fk.recv_calls, 0);
	zc_tx_free(tx);
}

/* TCP accepted part of a send: the completion covers those bytes. */
static void test_msgzc_partial(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c;

	fk.partial = 1000;
	assert_int_equal(zc_tx_send(tx, buf, 4096, 5), 1000);
	fk.partial = 0;
	assert_int_equal(zc_tx_send(tx, buf + 1000, 3096, 6), 3096);
	queue(0, 1, 0);
	assert_int_equal(zc_tx_reap(tx, &c, 1), 1);
	expect(&c, 5, 1000, 0);
	assert_int_equal(zc_tx_reap(tx, &c, 1), 1);
	expect(&c, 6, 3096, 0);
	zc_tx_free(tx);
}

static void test_msgzc_foreign_error(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c;
	struct zc_tx_stats st;

	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	fk.q[fk.qn++] = (struct notif){ 0, 0, 0, SO_EE_ORIGIN_ICMP };
	assert_int_equal(zc_tx_reap(tx, &c, 1), 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.foreign_errors, 1);
	assert_int_equal(st.outstanding, 1);
	zc_tx_free(tx);
}

/* IPv6 sockets get IPV6_RECVERR control messages. */
static void test_msgzc_ipv6(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c;

	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	queue(0, 0, SO_EE_CODE_ZEROCOPY_COPIED);
	assert_int_equal(zc_tx_reap(tx, &c, 1), 1);
	expect(&c, 1, 10, ZC_COMPLETION_COPIED);
	zc_tx_free(tx);
}

/* Notifications are read every reap_every zero-copy sends even when the
 * caller never reaps, so optmem stays bounded. */
static void test_msgzc_reap_cadence(void **state)
{
	struct zc_tx_opts o = { .reap_every = 4 };
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, &o);
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(zc_tx_send(tx, buf, 10, i), 10);
	assert_int_equal(fk.recv_calls, 0);
	queue(0, 3, 0);
	assert_int_equal(zc_tx_send(tx, buf, 10, 4), 10);
	assert_int_equal(fk.recv_calls, 2); /* one message, then EAGAIN */
	assert_int_equal(fk.qn, 0);
	assert_int_equal(tx->outstanding, 1);
	assert_int_equal(tx->ready_count, 4);
	zc_tx_free(tx);
}

/* A pending id holds the window open; with every later id completed the
 * window is full and a send must say -EAGAIN rather than reuse its slot. */
static void test_msgzc_window_full(void **state)
{
	struct zc_tx_opts o = { .max_outstanding = 2 };
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, &o);
	struct zc_completion c[4];
	int i;

	/* window of 2 * 2 ids */
	assert_int_equal(zc_tx_send(tx, buf, 10, 0), 10);
	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	for (i = 2; i < 4; i++) {
		queue((uint32_t)i - 1, (uint32_t)i - 1, 0);
		assert_int_equal(zc_tx_reap(tx, c, 4), 1);
		assert_int_equal(zc_tx_send(tx, buf, 10, (uint64_t)i), 10);
	}
	queue(3, 3, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	assert_int_equal(tx->outstanding, 1);
	assert_int_equal(zc_tx_send(tx, buf, 10, 9), -EAGAIN);
	queue(0, 0, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 0, 10, 0);
	assert_int_equal(zc_tx_send(tx, buf, 10, 9), 10);
	zc_tx_free(tx);
}

/* --- auto policy -------------------------------------------------------- */

static void test_auto_threshold(void **state)
{
	struct zc_tx_opts o = { .zc_threshold = 1000 };
	struct zc_tx *tx = make(ZC_TX_AUTO, &o);
	struct zc_completion c[4];
	struct zc_tx_stats st;

	assert_int_equal(zc_tx_backend(tx), ZC_TX_MSG_ZEROCOPY);
	assert_int_equal(zc_tx_send(tx, buf, 999, 1), 999);
	assert_int_equal(zc_tx_send(tx, buf, 1000, 2), 1000);
	assert_int_equal(fk.copy_sends, 1);
	assert_int_equal(fk.zc_sends, 1);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 1, 999, ZC_COMPLETION_POLICY_COPY);
	queue(0, 0, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	expect(&c[0], 2, 1000, 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.bytes_policy_copied, 999);
	assert_int_equal(st.bytes_zerocopy, 1000);
	assert_int_equal(st.auto_backoffs, 0);
	zc_tx_free(tx);
}

/* The kernel copied: copy for retry_after sends, then try zero-copy
 * again; a COPIED notification of an earlier epoch does not count. */
static void test_auto_backoff_and_retry(void **state)
{
	struct zc_tx_opts o = { .zc_threshold = 100, .retry_after = 2 };
	struct zc_tx *tx = make(ZC_TX_AUTO, &o);
	struct zc_completion c[8];
	struct zc_tx_stats st;

	assert_int_equal(zc_tx_send(tx, buf, 500, 0), 500); /* id 0 */
	assert_int_equal(zc_tx_send(tx, buf, 500, 1), 500); /* id 1 */
	queue(0, 0, SO_EE_CODE_ZEROCOPY_COPIED);
	assert_int_equal(zc_tx_reap(tx, c, 8), 1);
	expect(&c[0], 0, 500, ZC_COMPLETION_COPIED);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.auto_backoffs, 1);
	/* two sends by copy */
	assert_int_equal(zc_tx_send(tx, buf, 500, 2), 500);
	assert_int_equal(zc_tx_send(tx, buf, 500, 3), 500);
	assert_int_equal(fk.copy_sends, 2);
	assert_int_equal(zc_tx_reap(tx, c, 8), 2);
	expect(&c[0], 2, 500, ZC_COMPLETION_POLICY_COPY);
	/* then zero-copy again, a new epoch */
	assert_int_equal(zc_tx_send(tx, buf, 500, 4), 500); /* id 2 */
	assert_int_equal(fk.zc_sends, 3);
	/* id 1 was sent before the back-off: stale */
	queue(1, 1, SO_EE_CODE_ZEROCOPY_COPIED);
	assert_int_equal(zc_tx_reap(tx, c, 8), 1);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.auto_backoffs, 1);
	assert_int_equal(zc_tx_send(tx, buf, 500, 5), 500); /* id 3 */
	assert_int_equal(fk.zc_sends, 4);
	/* this epoch's copy counts */
	queue(2, 3, SO_EE_CODE_ZEROCOPY_COPIED);
	assert_int_equal(zc_tx_reap(tx, c, 8), 2);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.auto_backoffs, 2);
	assert_int_equal(zc_tx_send(tx, buf, 500, 6), 500);
	assert_int_equal(fk.copy_sends, 3);
	/* a forced MSG_ZEROCOPY handle never backs off: see below */
	zc_tx_free(tx);
}

static void test_forced_msgzc_ignores_copied(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c;
	struct zc_tx_stats st;

	fk.auto_notify = true;
	fk.auto_code = SO_EE_CODE_ZEROCOPY_COPIED;
	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	assert_int_equal(zc_tx_reap(tx, &c, 1), 1);
	assert_int_equal(zc_tx_send(tx, buf, 10, 2), 10);
	assert_int_equal(fk.zc_sends, 2);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.auto_backoffs, 0);
	zc_tx_free(tx);
}

/* --- fallbacks when SO_ZEROCOPY is refused ------------------------------ */

static void test_so_zerocopy_refused(void **state)
{
	struct zc_tx_opts o = { .backend = ZC_TX_MSG_ZEROCOPY };
	struct zc_tx_stats st;
	struct zc_tx *tx;

	fk.sockopt_errno = ENOPROTOOPT; /* before 4.14 */
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -EOPNOTSUPP);
	assert_null(tx);
	o.flags = ZC_TX_F_FALLBACK;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	assert_int_equal(zc_tx_backend(tx), ZC_TX_COPY);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.fallbacks, 1);
	zc_tx_free(tx);
	o.backend = ZC_TX_AUTO;
	o.flags = 0;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	assert_int_equal(zc_tx_backend(tx), ZC_TX_COPY);
	assert_int_equal(zc_tx_poll_events(tx), 0);
	assert_int_equal(zc_tx_send(tx, buf, 100000, 1), 100000);
	assert_int_equal(fk.zc_sends, 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.fallbacks, 1);
	zc_tx_free(tx);
	/* other errors are errors */
	fk.sockopt_errno = ENOMEM;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -ENOMEM);
}

/* --- waiting, deadlines, the end --------------------------------------- */

static void test_flush_deadline_and_free(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[4];

	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	assert_int_equal(zc_tx_send(tx, buf, 10, 2), 10);
	assert_int_equal(zc_tx_flush(tx, 30), -ETIME);
	assert_int_equal(zc_tx_flush(tx, 0), -ETIME);
	assert_int_equal(zc_tx_wait(tx, c, 4, 20), 0);
	queue(0, 0, 0);
	assert_int_equal(zc_tx_flush(tx, 0), -ETIME);
	/* flush leaves completions queued */
	assert_int_equal(tx->ready_count, 1);
	/* free reports what is still outstanding */
	assert_int_equal(zc_tx_free(tx), 1);
}

static void test_flush_completes(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[4];

	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	assert_int_equal(zc_tx_send(tx, buf, 10, 2), 10);
	queue(0, 1, 0);
	assert_int_equal(zc_tx_flush(tx, 1000), 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 2);
	assert_int_equal(zc_tx_free(tx), 0);
}

static void test_wait_gets_one(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[4];

	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	queue(0, 0, 0);
	assert_int_equal(zc_tx_wait(tx, c, 4, -1), 1);
	expect(&c[0], 1, 10, 0);
	assert_int_equal(zc_tx_wait(tx, c, 0, 0), -EINVAL);
	zc_tx_free(tx);
}

/* The socket was closed under the handle: the error queue read fails and
 * the caller hears it, once nothing is left to hand out. */
static void test_reap_error(void **state)
{
	struct zc_tx *tx = make(ZC_TX_MSG_ZEROCOPY, NULL);
	struct zc_completion c[4];

	assert_int_equal(zc_tx_send(tx, buf, 10, 1), 10);
	assert_int_equal(zc_tx_send(tx, buf, 10, 2), 10);
	queue(0, 0, 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	fk.recv_errno = EBADF;
	assert_int_equal(zc_tx_reap(tx, c, 4), -EBADF);
	assert_int_equal(zc_tx_flush(tx, 100), -EBADF);
	assert_int_equal(zc_tx_wait(tx, c, 4, 100), -EBADF);
	assert_int_equal(zc_tx_free(tx), 1);
}

#define T(f, s) cmocka_unit_test_setup_teardown(f, s, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_validation, setup_tcp4),
		T(test_names, setup_tcp4),
		T(test_null_handles, setup_tcp4),
		T(test_copy_backend_real, setup_real),
		T(test_real_msgzc_poll, setup_real),
		T(test_send_rejects, setup_real),
		T(test_copy_failed_send_real, setup_real),
		T(test_max_outstanding, setup_tcp4),
		T(test_msgzc_in_order, setup_tcp4),
		T(test_msgzc_reap_in_pieces, setup_tcp4),
		T(test_msgzc_wrap_out_of_order, setup_tcp4),
		T(test_msgzc_wrapped_range, setup_udp4),
		T(test_msgzc_bad_ranges, setup_tcp4),
		T(test_msgzc_enobufs_fallback, setup_tcp4),
		T(test_msgzc_enobufs_retry, setup_udp4),
		T(test_msgzc_failed_send, setup_tcp4),
		T(test_msgzc_udp_failed_took_id, setup_udp4),
		T(test_msgzc_udp_failed_no_id, setup_udp4),
		T(test_msgzc_udp_fragmenting_copied, setup_udp4),
		T(test_msgzc_udp6_fragmenting_copied, setup_udp6),
		T(test_msgzc_udp_gso_not_limited, setup_udp4),
		T(test_msgzc_udp_mtu_relookup, setup_udp4),
		T(test_auto_fragmenting_no_drain, setup_udp4),
		T(test_msgzc_partial, setup_tcp4),
		T(test_msgzc_foreign_error, setup_tcp4),
		T(test_msgzc_ipv6, setup_tcp6),
		T(test_msgzc_reap_cadence, setup_tcp4),
		T(test_msgzc_window_full, setup_tcp4),
		T(test_auto_threshold, setup_tcp4),
		T(test_auto_backoff_and_retry, setup_tcp4),
		T(test_forced_msgzc_ignores_copied, setup_tcp4),
		T(test_so_zerocopy_refused, setup_tcp4),
		T(test_flush_deadline_and_free, setup_tcp4),
		T(test_flush_completes, setup_tcp4),
		T(test_wait_gets_one, setup_tcp4),
		T(test_reap_error, setup_tcp4),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
