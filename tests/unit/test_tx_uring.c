/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the io_uring send backends (src/tx_uring.c):
 *  - io_uring refused (-ENOSYS: not built, -EPERM: io_uring_disabled or
 *    seccomp) through the zc__uring_init hook: -EOPNOTSUPP, or with
 *    ZC_TX_F_FALLBACK the next backend down, counted;
 *  - the CQE state machine with made-up CQEs: a failed SEND_ZC whose
 *    notification still follows (F_MORE) completes nothing, a notification
 *    before its result, COPIED usage bits, stale CQEs;
 *  - the real thing over a loopback pair where the kernel has SEND_ZC
 *    (skipped otherwise): bytes arrive, completions carry COPIED (loopback
 *    always copies), registered buffers, a reset peer, non-blocking
 *    sockets, UDP.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat.h"
#include "internal.h"
#include "net.h"
#include "tx.h"

static int fds[2] = { -1, -1 };
static int refuse_with;
static int sockopt_errno;
static struct zc_probe probe;
static uint8_t buf[1 << 20];

static int fake_uring_init(unsigned int entries, struct io_uring *ring,
			   struct io_uring_params *p)
{
	return -refuse_with;
}

static int fake_setsockopt(int fd, int level, int name, const void *val,
			   socklen_t len)
{
	if (level == SOL_SOCKET && name == SO_ZEROCOPY && sockopt_errno) {
		errno = sockopt_errno;
		return -1;
	}
	return setsockopt(fd, level, name, val, len);
}

static int setup_family(int family, int type)
{
	refuse_with = 0;
	sockopt_errno = 0;
	zc__sys_reset();
	zc__uring_init_reset();
	if (type == SOCK_DGRAM)
		assert_int_equal(zc__udp_pair(fds, family), 0);
	else
		assert_int_equal(zc__tcp_pair(fds, family), 0);
	return 0;
}

static int setup(void **state)
{
	return setup_family(AF_INET, SOCK_STREAM);
}

static int setup6(void **state)
{
	return setup_family(AF_INET6, SOCK_STREAM);
}

static int setup_udp(void **state)
{
	return setup_family(AF_INET, SOCK_DGRAM);
}

static int teardown(void **state)
{
	zc__sys_reset();
	zc__uring_init_reset();
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	fds[0] = fds[1] = -1;
	alarm(0);
	return 0;
}

static bool have_send_zc(void)
{
	return (probe.features & ZC_PROBE_URING_SEND_ZC) != 0;
}

#define NEED_SEND_ZC()                                                         \
	do {                                                                   \
		if (!have_send_zc())                                           \
			skip(); /* io_uring SEND_ZC missing here */            \
	} while (0)

static struct zc_tx *make(uint32_t backend, uint32_t flags)
{
	struct zc_tx_opts o = { .backend = backend, .flags = flags };
	struct zc_tx *tx;

	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	return tx;
}

/* --- io_uring refused --------------------------------------------------- */

static void refused(int err)
{
	struct zc_tx_opts o = { .backend = ZC_TX_URING_ZC };
	struct zc_tx_stats st;
	struct zc_completion c;
	struct iovec iov = { buf, 4096 };
	struct zc_tx *tx;
	uint8_t got[64];

	zc__uring_init = fake_uring_init;
	refuse_with = err;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -EOPNOTSUPP);
	o.backend = ZC_TX_URING;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -EOPNOTSUPP);

	/* SEND_ZC falls back to MSG_ZEROCOPY */
	o.backend = ZC_TX_URING_ZC;
	o.flags = ZC_TX_F_FALLBACK | ZC_TX_F_FIXED_BUFFERS;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	assert_int_equal(zc_tx_backend(tx), ZC_TX_MSG_ZEROCOPY);
	assert_int_equal(zc_tx_poll_events(tx), POLLERR);
	assert_int_equal(zc_tx_register(tx, &iov, 1), -EOPNOTSUPP);
	memset(buf, 'z', 64);
	assert_int_equal(zc_tx_send(tx, buf, 64, 5), 64);
	assert_int_equal(zc_tx_flush(tx, 5000), 0);
	assert_int_equal(zc_tx_reap(tx, &c, 1), 1);
	assert_int_equal(c.user_data, 5);
	assert_int_equal(recv(fds[0], got, 64, MSG_WAITALL), 64);
	assert_memory_equal(got, buf, 64);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.fallbacks, 1);
	assert_int_equal(zc_tx_free(tx), 0);

	/* ... and to copy when SO_ZEROCOPY is refused too */
	zc__sys.setsockopt = fake_setsockopt;
	sockopt_errno = ENOPROTOOPT;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	assert_int_equal(zc_tx_backend(tx), ZC_TX_COPY);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.fallbacks, 2);
	assert_int_equal(zc_tx_send(tx, buf, 64, 6), 64);
	assert_int_equal(zc_tx_reap(tx, &c, 1), 1);
	assert_int_equal(c.flags, ZC_COMPLETION_POLICY_COPY);
	assert_int_equal(recv(fds[0], got, 64, MSG_WAITALL), 64);
	zc_tx_free(tx);
	sockopt_errno = 0;

	/* plain io_uring SEND falls back to copy */
	o.backend = ZC_TX_URING;
	o.flags = ZC_TX_F_FALLBACK;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	assert_int_equal(zc_tx_backend(tx), ZC_TX_COPY);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.fallbacks, 1);
	zc_tx_free(tx);
}

static void test_refused_enosys(void **state)
{
	refused(ENOSYS);
}

static void test_refused_eperm(void **state)
{
	refused(EPERM);
}

/* -ENOMEM: the ring's pages did not fit RLIMIT_MEMLOCK. Said as is, or
 * with ZC_TX_F_FALLBACK the next backend runs. */
static void test_init_enomem(void **state)
{
	struct zc_tx_opts o = { .backend = ZC_TX_URING_ZC };
	struct zc_tx_stats st;
	struct zc_tx *tx;

	zc__uring_init = fake_uring_init;
	refuse_with = ENOMEM;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -ENOMEM);
	o.flags = ZC_TX_F_FALLBACK;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	assert_int_equal(zc_tx_backend(tx), ZC_TX_MSG_ZEROCOPY);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.fallbacks, 1);
	zc_tx_free(tx);
	/* other errors are not hidden */
	refuse_with = EFAULT;
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), -EFAULT);
}

/* --- CQE state machine, made-up CQEs ------------------------------------ */

/* Takes a free slot by hand, as submit_one does, without submitting. */
static uint64_t fake_submit(struct zc_tx *tx, uint64_t user_data)
{
	uint32_t slot = tx->free_slots[--tx->nfree];
	struct zc__tx_rec *rec = &tx->recs[slot];

	rec->gen++;
	rec->user_data = user_data;
	rec->len = 0;
	rec->res = 0;
	rec->early_notif = 0;
	rec->state = ZC__TX_REC_SUBMITTED;
	return (uint64_t)rec->gen << 32 | slot;
}

static int cqe(struct zc_tx *tx, uint64_t data, int32_t res, uint32_t flags)
{
	struct io_uring_cqe c = { .user_data = data,
				  .res = res,
				  .flags = flags };

	return zc__tx_uring_cqe(tx, &c);
}

static void test_cqe_machine(void **state)
{
	struct zc_tx *tx;
	struct zc_completion c[4];
	struct zc_tx_stats st;
	uint32_t nfree;
	uint64_t a, b, d;

	NEED_SEND_ZC();
	tx = make(ZC_TX_URING_ZC, 0);
	tx->report_usage = true;
	nfree = tx->nfree;

	/* result then notification, copied */
	a = fake_submit(tx, 100);
	assert_int_equal(cqe(tx, a, 500, IORING_CQE_F_MORE), 0);
	assert_int_equal(tx->outstanding, 1);
	assert_int_equal(cqe(tx, a, (int32_t)IORING_NOTIF_USAGE_ZC_COPIED,
			     IORING_CQE_F_NOTIF),
			 1);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	assert_int_equal(c[0].user_data, 100);
	assert_int_equal(c[0].len, 500);
	assert_int_equal(c[0].flags, ZC_COMPLETION_COPIED);

	/* failed with F_MORE: the notification is swallowed */
	b = fake_submit(tx, 200);
	assert_int_equal(cqe(tx, b, -ECONNRESET, IORING_CQE_F_MORE), 0);
	assert_int_equal(tx->outstanding, 0);
	assert_int_equal(cqe(tx, b, 0, IORING_CQE_F_NOTIF), 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 0);

	/* notification before the result; not copied */
	d = fake_submit(tx, 300);
	assert_int_equal(cqe(tx, d, 0, IORING_CQE_F_NOTIF), 0);
	assert_int_equal(cqe(tx, d, 700, IORING_CQE_F_MORE), 1);
	assert_int_equal(zc_tx_reap(tx, c, 4), 1);
	assert_int_equal(c[0].user_data, 300);
	assert_int_equal(c[0].flags, 0);

	/* failed without a notification to come */
	d = fake_submit(tx, 400);
	assert_int_equal(cqe(tx, d, -EINVAL, 0), 0);
	/* stale: that slot's generation moved on */
	assert_int_equal(cqe(tx, a, 1, IORING_CQE_F_NOTIF), 0);
	assert_int_equal(cqe(tx, (uint64_t)1 << 32 | 999999, 1, 0), 0);

	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.sends, 2);
	assert_int_equal(st.bytes, 1200);
	assert_int_equal(st.bytes_kernel_copied, 500);
	assert_int_equal(st.bytes_zerocopy, 700);
	assert_int_equal(st.notifications, 3);
	assert_int_equal(st.bad_ids, 2);
	assert_int_equal(st.outstanding, 0);
	assert_int_equal(tx->nfree, nfree);
	assert_int_equal(zc_tx_free(tx), 0);
}

/* --- the real kernel ---------------------------------------------------- */

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

static void recv_all(int fd, const uint8_t *want, size_t len)
{
	static uint8_t got[1 << 20];

	assert_true(len <= sizeof(got));
	assert_int_equal(recv(fd, got, len, MSG_WAITALL), (ssize_t)len);
	assert_memory_equal(got, want, len);
}

static void test_real_send_zc(void **state)
{
	struct zc_completion c[8];
	struct zc_tx_stats st;
	struct zc_tx *tx;
	int i, n = 0, got;

	NEED_SEND_ZC();
	tx = make(ZC_TX_URING_ZC, 0);
	assert_int_equal(zc_tx_backend(tx), ZC_TX_URING_ZC);
	assert_int_equal(zc_tx_poll_events(tx), POLLIN);
	assert_true(zc_tx_fd(tx) >= 0);
	assert_int_not_equal(zc_tx_fd(tx), fds[1]);
	fill(buf, 3 * 65536, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(zc_tx_send(tx, buf + i * 65536, 65536, i),
				 65536);
	recv_all(fds[0], buf, 3 * 65536);
	while (n < 3) {
		got = zc_tx_wait(tx, c + n, 8 - n, 5000);
		assert_true(got > 0);
		n += got;
	}
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.sends, 3);
	assert_int_equal(st.outstanding, 0);
	assert_int_equal(st.notifications, 3);
	/* Loopback copies at delivery; with REPORT_USAGE (6.2) the kernel
	 * says so. */
	if (probe.features & ZC_PROBE_URING_REPORT_USAGE) {
		for (i = 0; i < 3; i++)
			assert_int_equal(c[i].flags, ZC_COMPLETION_COPIED);
		assert_int_equal(st.bytes_kernel_copied, 3 * 65536);
	}
	assert_int_equal(zc_tx_free(tx), 0);
}

/* The caller's event loop: the ring fd polls POLLIN once a notification
 * can be reaped (with DEFER_TASKRUN the kernel counts deferred work as
 * readable, io_uring_poll), and reaping then finds it. */
static void test_real_poll_fd(void **state)
{
	struct zc_completion c[4];
	struct pollfd pfd;
	struct zc_tx *tx;
	int n = 0, i;

	NEED_SEND_ZC();
	tx = make(ZC_TX_URING_ZC, 0);
	fill(buf, 4096, 5);
	assert_int_equal(zc_tx_send(tx, buf, 4096, 1), 4096);
	recv_all(fds[0], buf, 4096);
	for (i = 0; i < 50 && !n; i++) {
		pfd.fd = zc_tx_fd(tx);
		pfd.events = (short)zc_tx_poll_events(tx);
		pfd.revents = 0;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		assert_true(pfd.revents & POLLIN);
		n = zc_tx_reap(tx, c, 4);
	}
	assert_int_equal(n, 1);
	assert_int_equal(c[0].user_data, 1);
	assert_int_equal(zc_tx_free(tx), 0);
}

struct other_thread {
	struct zc_tx *tx;
	ssize_t ret;
};

static void *send_from_other_thread(void *arg)
{
	struct other_thread *o = arg;

	o->ret = zc_tx_send(o->tx, "x", 1, 99);
	return NULL;
}

/* With DEFER_TASKRUN the ring belongs to the thread that created it:
 * another thread's send says -EEXIST and must not leave a request behind
 * that the owner's next submission would send. */
static void test_real_other_thread(void **state)
{
	struct other_thread o = { 0 };
	struct zc_completion c[4];
	uint8_t got[16];
	pthread_t t;
	int i, n = 0;

	NEED_SEND_ZC();
	o.tx = make(ZC_TX_URING_ZC, 0);
	if (!o.tx->defer_taskrun) {
		zc_tx_free(o.tx);
		skip(); /* before 6.1: any thread may submit */
	}
	assert_int_equal(pthread_create(&t, NULL, send_from_other_thread, &o),
			 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(o.ret, -EEXIST);
	fill(buf, 8, 6);
	assert_int_equal(zc_tx_send(o.tx, buf, 8, 1), 8);
	assert_int_equal(zc_tx_flush(o.tx, 5000), 0);
	while (n < 1)
		n += zc_tx_reap(o.tx, c + n, 4);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].user_data, 1);
	/* exactly the owner's 8 bytes arrived, no stray "x" */
	fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	usleep(10000);
	i = (int)recv(fds[0], got, sizeof(got), 0);
	assert_int_equal(i, 8);
	assert_memory_equal(got, buf, 8);
	assert_int_equal(zc_tx_free(o.tx), 0);
}

static void test_real_uring_copy(void **state)
{
	struct zc_completion c;
	struct zc_tx *tx;

	if (!(probe.features & ZC_PROBE_URING))
		skip();
	tx = make(ZC_TX_URING, 0);
	assert_int_equal(zc_tx_poll_events(tx), 0);
	fill(buf, 1000, 2);
	assert_int_equal(zc_tx_send(tx, buf, 1000, 77), 1000);
	assert_int_equal(zc_tx_reap(tx, &c, 1), 1);
	assert_int_equal(c.user_data, 77);
	assert_int_equal(c.len, 1000);
	assert_int_equal(c.flags, ZC_COMPLETION_POLICY_COPY);
	recv_all(fds[0], buf, 1000);
	assert_int_equal(zc_tx_free(tx), 0);
}

static void test_real_registered(void **state)
{
	struct iovec iov = { buf, sizeof(buf) };
	struct zc_completion c[4];
	struct zc_tx *tx;

	NEED_SEND_ZC();
	tx = make(ZC_TX_URING_ZC, 0);
	assert_int_equal(zc_tx_register(tx, &iov, 1), -EINVAL);
	zc_tx_free(tx);
	tx = make(ZC_TX_URING_ZC, ZC_TX_F_FIXED_BUFFERS);
	assert_int_equal(zc_tx_register(tx, &iov, 0), -EINVAL);
	assert_int_equal(zc_tx_register(tx, &iov, 1), 0);
	assert_int_equal(zc_tx_register(tx, &iov, 1), -EBUSY);
	fill(buf, 8192, 3);
	/* inside the registered buffer, and outside it */
	assert_int_equal(zc_tx_send(tx, buf + 100, 8000, 1), 8000);
	assert_int_equal(zc_tx_send(tx, c, sizeof(c), 2), sizeof(c));
	recv_all(fds[0], buf + 100, 8000);
	assert_int_equal(zc_tx_flush(tx, 5000), 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 2);
	assert_int_equal(zc_tx_free(tx), 0);
}

/* A reset peer: SEND_ZC fails (its notification still comes and must be
 * swallowed); sends accepted before complete once each. */
static void test_real_reset(void **state)
{
	struct linger lg = { 1, 0 };
	struct zc_completion c[8];
	struct zc_tx_stats st;
	struct zc_tx *tx;
	ssize_t r;
	int i, n = 0;
	struct zc_tx_opts o = { .backend = ZC_TX_URING_ZC,
				.max_outstanding = 2 };

	NEED_SEND_ZC();
	/* Four records: failed sends waiting for their notification to be
	 * swallowed must not use them up. */
	assert_int_equal(zc_tx_create(&tx, fds[1], &o), 0);
	assert_int_equal(tx->nrecs, 4);
	assert_int_equal(zc_tx_send(tx, buf, 4096, 1), 4096);
	assert_int_equal(
		setsockopt(fds[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fds[0]);
	fds[0] = -1;
	usleep(10000);
	for (i = 0; i < 20; i++) {
		r = zc_tx_send(tx, buf, 4096, 10 + i);
		assert_true(r == -ECONNRESET || r == -EPIPE);
	}
	assert_int_equal(zc_tx_flush(tx, 5000), 0);
	n = zc_tx_reap(tx, c, 8);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].user_data, 1);
	/* the failed sends' notifications, if any, come and go unseen */
	usleep(10000);
	assert_int_equal(zc_tx_reap(tx, c, 8), 0);
	zc_tx_get_stats(tx, &st);
	assert_int_equal(st.sends, 1);
	assert_int_equal(st.bad_ids, 0);
	assert_int_equal(zc_tx_free(tx), 0);
}

/* On a non-blocking socket with a full send buffer, io_uring answers
 * -EAGAIN (the file is O_NONBLOCK) rather than waiting: no completion. */
static void test_real_nonblocking_full(void **state)
{
	struct zc_completion c[64];
	struct zc_tx_stats st;
	struct zc_tx *tx;
	uint64_t accepted = 0, completed = 0;
	int i, sndbuf = 16384, n;
	ssize_t r = 0;

	NEED_SEND_ZC();
	alarm(20); /* a hang here is the bug this test looks for */
	assert_int_equal(setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf,
				    sizeof(sndbuf)),
			 0);
	fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
	tx = make(ZC_TX_URING_ZC, 0);
	for (i = 0; i < 10000; i++) {
		r = zc_tx_send(tx, buf, 65536, (uint64_t)i);
		if (r < 0)
			break;
		accepted++;
		while ((n = zc_tx_reap(tx, c, 64)) > 0)
			completed += (uint64_t)n;
	}
	assert_int_equal(r, -EAGAIN);
	/* The peer reads; everything accepted completes. */
	fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	zc_tx_get_stats(tx, &st);
	while (completed < accepted) {
		while (recv(fds[0], buf + 65536, 65536, 0) > 0)
			;
		n = zc_tx_wait(tx, c, 64, 10);
		assert_true(n >= 0);
		completed += (uint64_t)n;
	}
	assert_int_equal(completed, st.sends);
	assert_int_equal(zc_tx_free(tx), 0);
}

static void test_real_udp(void **state)
{
	struct zc_completion c[4];
	struct zc_tx *tx;
	uint8_t got[2000];

	NEED_SEND_ZC();
	tx = make(ZC_TX_URING_ZC, 0);
	fill(buf, 1500, 4);
	assert_int_equal(zc_tx_send(tx, buf, 1500, 1), 1500);
	assert_int_equal(zc_tx_send(tx, buf, 700, 2), 700);
	assert_int_equal(recv(fds[0], got, sizeof(got), 0), 1500);
	assert_memory_equal(got, buf, 1500);
	assert_int_equal(recv(fds[0], got, sizeof(got), 0), 700);
	assert_int_equal(zc_tx_flush(tx, 5000), 0);
	assert_int_equal(zc_tx_reap(tx, c, 4), 2);
	assert_int_equal(zc_tx_free(tx), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_refused_enosys),
		T(test_refused_eperm),
		T(test_init_enomem),
		T(test_cqe_machine),
		T(test_real_send_zc),
		cmocka_unit_test_setup_teardown(test_real_send_zc, setup6,
						teardown),
		T(test_real_poll_fd),
		T(test_real_other_thread),
		T(test_real_uring_copy),
		T(test_real_registered),
		T(test_real_reset),
		T(test_real_nonblocking_full),
		cmocka_unit_test_setup_teardown(test_real_udp, setup_udp,
						teardown),
	};

	zc_probe(&probe);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
