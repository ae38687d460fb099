/* SPDX-License-Identifier: MIT */
/*
 * harden_limits: zcnet at the edges of what the kernel and the process
 * allow. Every case ends in a clear -errno or a counted fallback; none
 * loses a byte, crashes or leaks (fds and /proc/self/maps lines are
 * compared before and after each failing call).
 *
 *   harden_limits optmem    run where net.core.optmem_max is tiny (the
 *                           script sets it in its namespace): zc_tx
 *                           MSG_ZEROCOPY and auto, and zc_msg_send with
 *                           ZC_MSG_SEND_ZEROCOPY, deliver every byte;
 *                           zc_tx counts ENOBUFS and the copies it made
 *   harden_limits memlock   RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK:
 *                           io_uring backends fail with -ENOMEM, or fall
 *                           back (ZC_TX_F_FALLBACK, counted); MSG_ZEROCOPY
 *                           copies after ENOBUFS; every byte arrives,
 *                           zc_msg_send with ZC_MSG_SEND_ZEROCOPY too
 *   harden_limits nofile    RLIMIT_NOFILE at the fds already open:
 *                           zc_probe, zc_rx_pool_create, io_uring
 *                           zc_tx_create give -EMFILE
 *   harden_limits rcvbuf    SO_RCVBUF 8 KiB on the receiver:
 *                           every receive mode (own window, pool,
 *                           ZC_RX_F_RCVLOWAT, zc_msg_rx with its
 *                           SO_RCVLOWAT) gets every byte, and none hangs
 *   harden_limits window    windows past the limits: -EINVAL above the
 *                           documented maxima, and the largest allowed
 *                           ones either work or give -ENOMEM
 *   harden_limits as        RLIMIT_AS a little above what is mapped now:
 *                           large windows, pools and send handles give
 *                           -ENOMEM, small ones still work
 *
 * Traffic: loopback pairs this program makes, inside the namespace the
 * script runs it in (MSS 4108, so pages can be mapped). Exit 0 when every
 * check passed, 1 otherwise; 77 (with a reason) when a case cannot run.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zcnet.h"
#include "harden_util.h"

#define STREAM 11u

static struct zc_probe probe;

/* --- a verified transfer ------------------------------------------------- */

enum sender_kind { SEND_PLAIN, SEND_MSG_ZEROCOPY, SEND_ZC_TX };

struct sender {
	int fd;
	enum sender_kind kind;
	struct zc_tx_opts tx_opts;
	uint64_t bytes;
	/* out */
	int err;
	int create_err;
	int backend;
	struct zc_tx_stats st;
	pthread_t thread;
};

#define SEND_CHUNK (128u << 10)
#define SEND_NBUF  8u

/* Waits until the peer acknowledged everything fd sent: over loopback the
 * receiving socket has its own copy by then (skb_orphan_frags_rx), so a
 * MSG_ZEROCOPY buffer is no longer read and may be refilled. */
static void wait_sent(int fd)
{
	int outq, k;

	for (k = 0; k < 100000; k++) {
		if (ioctl(fd, SIOCOUTQ, &outq) || outq == 0)
			return;
		usleep(100);
	}
}

static void drain_errqueue(int fd)
{
	char control[128];
	struct msghdr msg = { .msg_control = control };

	do
		msg.msg_controllen = sizeof(control);
	while (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0);
}

/* Streams the pattern. zc_tx: a buffer is refilled only after its
 * completion. Raw sends: one buffer, refilled once the peer acknowledged
 * the last chunk (MSG_ZEROCOPY pages are then no longer read). */
static void *sender_main(void *arg)
{
	struct sender *s = arg;
	uint8_t *bufs = malloc((size_t)SEND_NBUF * SEND_CHUNK);
	bool busy[SEND_NBUF] = { false };
	struct zc_completion c[SEND_NBUF];
	struct zc_tx *tx = NULL;
	uint64_t off = 0;
	int one = 1, i, k;
	ssize_t n;

	if (!bufs) {
		s->err = ENOMEM;
		return NULL;
	}
	if (s->kind == SEND_MSG_ZEROCOPY)
		setsockopt(s->fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	if (s->kind == SEND_ZC_TX) {
		s->create_err = zc_tx_create(&tx, s->fd, &s->tx_opts);
		if (s->create_err)
			goto out;
		s->backend = zc_tx_backend(tx);
	}
	while (off < s->bytes) {
		size_t len = s->bytes - off < SEND_CHUNK
				     ? (size_t)(s->bytes - off)
				     : SEND_CHUNK;

		if (!tx) {
			if (s->kind == SEND_MSG_ZEROCOPY) {
				wait_sent(s->fd);
				drain_errqueue(s->fd);
			}
			harden_fill(bufs, len, STREAM, off);
			n = send(s->fd, bufs, len,
				 s->kind == SEND_MSG_ZEROCOPY ? MSG_ZEROCOPY
							      : 0);
			if (n < 0 && errno == ENOBUFS)
				n = send(s->fd, bufs, len, 0);
			if (n < 0) {
				s->err = errno;
				break;
			}
			off += (uint64_t)n;
			continue;
		}
		for (i = 0; i < (int)SEND_NBUF && busy[i]; i++)
			;
		if (i == (int)SEND_NBUF) {
			k = zc_tx_wait(tx, c, SEND_NBUF, 10000);
			if (k <= 0) {
				s->err = k < 0 ? -k : ETIME;
				break;
			}
			while (k--)
				busy[c[k].user_data] = false;
			continue;
		}
		harden_fill(bufs + (size_t)i * SEND_CHUNK, len, STREAM, off);
		n = zc_tx_send(tx, bufs + (size_t)i * SEND_CHUNK, len,
			       (uint64_t)i);
		if (n == -EAGAIN)
			continue;
		if (n < 0) {
			s->err = (int)-n;
			break;
		}
		busy[i] = true;
		off += (uint64_t)n;
		k = zc_tx_reap(tx, c, SEND_NBUF);
		while (k-- > 0)
			busy[c[k].user_data] = false;
	}
	if (tx) {
		if (zc_tx_flush(tx, 10000) && !s->err)
			s->err = ETIME;
		while (zc_tx_reap(tx, c, SEND_NBUF) > 0)
			;
		zc_tx_get_stats(tx, &s->st);
		if (zc_tx_free(tx) && !s->err)
			s->err = EBUSY;
	}
out:
	shutdown(s->fd, SHUT_WR);
	free(bufs);
	return NULL;
}

struct rx_setup {
	struct zc_rx_opts opts;
	bool pool;
	bool messages; /* receive zc_msg messages of MSG_LEN */
	int rcvbuf;    /* > 0: SO_RCVBUF on the receiver */
};

/* Receives a stream through zc_rx and checks every byte; returns bytes,
 * or -errno. */
static int64_t rx_stream(struct zc_rx *rx)
{
	struct zc_view v;
	uint64_t off = 0;
	ssize_t n;

	while ((n = zc_rx_read(rx, &v)) > 0) {
		if (harden_verify(v.mapped, v.mapped_len, STREAM, off) !=
			    v.mapped_len ||
		    harden_verify(v.copied, v.copied_len, STREAM,
				  off + v.mapped_len) != v.copied_len)
			return -EILSEQ;
		off += (uint64_t)n;
		zc_rx_release(rx, &v);
	}
	return n < 0 ? n : (int64_t)off;
}

#define MSG_LEN (1u << 20)

/* Sends nmsg messages of MSG_LEN (pattern at their stream offsets). */
struct msg_sender {
	int fd;
	unsigned int nmsg;
	bool zerocopy;
	int err;
	uint64_t enobufs;
	bool gave_up; /* ENOBUFS forever: the rest went by copy */
	pthread_t thread;
};

static void *msg_sender_main(void *arg)
{
	struct msg_sender *s = arg;
	uint8_t *buf = malloc(MSG_LEN);
	unsigned int k;
	int ret, one = 1;

	if (!buf) {
		s->err = ENOMEM;
		return NULL;
	}
	if (s->zerocopy)
		setsockopt(s->fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	for (k = 0; k < s->nmsg && !s->err; k++) {
		struct iovec iov = { buf, MSG_LEN };
		struct zc_msg_out o = { .fd = s->fd, .iov = &iov, .iovcnt = 1 };

		/* A zero-copy payload may still be read by the kernel:
		 * wait until the peer has it all before refilling. */
		wait_sent(s->fd);
		harden_fill(buf, MSG_LEN, STREAM, (uint64_t)k * MSG_LEN);
		o.hdr.id = k + 1;
		o.hdr.len = MSG_LEN;
		o.flags = s->zerocopy && !s->gave_up ? ZC_MSG_SEND_ZEROCOPY : 0;
		for (int tries = 0; (ret = zc_msg_send(&o)) != 0; tries++) {
			if (ret != -ENOBUFS && ret != -EAGAIN) {
				s->err = -ret;
				break;
			}
			/* zcnet.h: reap completions, then call again. With
			 * nothing left to reap that can never succeed: after
			 * a second of it, finish the message by copy (the
			 * flag may change mid-message) and report it. */
			s->enobufs++;
			drain_errqueue(s->fd);
			if (tries == 2000 && o.flags) {
				o.flags = 0;
				s->gave_up = true;
			}
			usleep(100);
		}
	}
	shutdown(s->fd, SHUT_WR);
	free(buf);
	return NULL;
}

static int64_t rx_messages(struct zc_msg_rx *mrx, unsigned int *count)
{
	uint64_t off = 0;
	struct zc_msg m;
	uint32_t s;
	int ret;

	*count = 0;
	while ((ret = zc_msg_read(mrx, &m)) == 1) {
		if (m.hdr.id != *count + 1 || m.hdr.len != MSG_LEN)
			return -EBADMSG;
		for (s = 0; s < m.nsegs; s++) {
			if (harden_verify(m.seg[s].iov_base, m.seg[s].iov_len,
					  STREAM, off) != m.seg[s].iov_len)
				return -EILSEQ;
			off += m.seg[s].iov_len;
		}
		(*count)++;
		zc_msg_release(mrx, &m);
	}
	return ret < 0 ? ret : (int64_t)off;
}

/* One transfer of `bytes` (or nmsg messages) through a fresh pair; checks
 * every byte arrived. Returns true when it did. */
static bool transfer(const char *what, const struct rx_setup *r,
		     struct sender *s, unsigned int nmsg, bool msg_zerocopy)
{
	struct zc_rx_pool *pool = NULL;
	struct zc_rx_opts ro = r->opts;
	struct zc_msg_rx *mrx = NULL;
	struct zc_rx *rx = NULL;
	struct msg_sender ms = { .nmsg = nmsg, .zerocopy = msg_zerocopy };
	unsigned int count = 0;
	int fds[2], ret;
	int64_t got = -1;
	bool ok;

	if (harden_tcp_pair(fds, AF_INET6, HARDEN_MSS))
		harden_die("pair");
	if (r->rcvbuf > 0)
		setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &r->rcvbuf,
			   sizeof(r->rcvbuf));
	if (r->pool) {
		CHECK_EQ(zc_rx_pool_create(&pool, NULL), 0, what);
		ro.pool = pool;
	}
	ret = zc_rx_create(&rx, fds[0], &ro);
	CHECK_EQ(ret, 0, what);
	if (ret)
		goto out;
	if (r->messages) {
		ret = zc_msg_rx_create(&mrx, rx, NULL);
		CHECK_EQ(ret, 0, what);
		if (ret)
			goto out;
		ms.fd = fds[1];
		pthread_create(&ms.thread, NULL, msg_sender_main, &ms);
		got = rx_messages(mrx, &count);
		pthread_join(ms.thread, NULL);
	} else {
		s->fd = fds[1];
		pthread_create(&s->thread, NULL, sender_main, s);
		got = rx_stream(rx);
		pthread_join(s->thread, NULL);
	}
out:
	if (r->messages) {
		ok = got == (int64_t)nmsg * MSG_LEN && count == nmsg && !ms.err;
		CHECK(ok, "%s: %u of %u messages (%lld bytes), sender error %d",
		      what, count, nmsg, (long long)got, ms.err);
		CHECK(!ms.gave_up,
		      "%s: zc_msg_send returned -ENOBUFS 2000 times in a row "
		      "with nothing left to reap: the documented \"reap, then "
		      "call again\" never ends (the test then sent the rest "
		      "by copy)",
		      what);
	} else {
		ok = got == (int64_t)s->bytes && !s->err && !s->create_err;
		CHECK(ok,
		      "%s: %lld of %llu bytes arrived, sender error %d (%s)",
		      what, (long long)got, (unsigned long long)s->bytes,
		      s->err ? s->err : -s->create_err,
		      strerror(s->err ? s->err : -s->create_err));
	}
	zc_msg_rx_free(mrx);
	zc_rx_free(rx);
	zc_rx_pool_free(pool);
	close(fds[0]);
	close(fds[1]);
	return ok;
}

/* --- optmem --------------------------------------------------------------- */

static int do_optmem(void)
{
	struct rx_setup r = { .opts = { .mode = ZC_RX_AUTO } };
	int backends[] = { ZC_TX_MSG_ZEROCOPY, ZC_TX_AUTO };
	unsigned int b;

	for (b = 0; b < 2; b++) {
		struct sender s = { .kind = SEND_ZC_TX, .bytes = 32u << 20 };
		int before = harden_failures;
		char what[64];

		s.tx_opts.backend = (uint32_t)backends[b];
		/* Never reap on the library's cadence: notifications pile
		 * up in optmem as in a careless caller. Auto: try zero-copy
		 * again after every send the kernel copied. */
		s.tx_opts.reap_every = 1u << 30;
		s.tx_opts.retry_after = 1;
		snprintf(what, sizeof(what), "tiny optmem, zc_tx %s",
			 zc_tx_backend_name(backends[b]));
		if (!transfer(what, &r, &s, 0, false))
			continue;
		/* Every ENOBUFS is counted; a send copied after one is a
		 * policy copy; msg_zerocopy must meet ENOBUFS here. */
		CHECK(s.st.enobufs_copied <= s.st.enobufs &&
			      (backends[b] != ZC_TX_MSG_ZEROCOPY ||
			       (s.st.enobufs > 0 && s.st.enobufs_copied > 0)),
		      "%s: ENOBUFS %llu, copied after it %llu", what,
		      (unsigned long long)s.st.enobufs,
		      (unsigned long long)s.st.enobufs_copied);
		CHECK(s.st.bytes_zerocopy + s.st.bytes_kernel_copied +
				      s.st.bytes_policy_copied ==
			      s.st.bytes,
		      "%s: completed bytes do not add up", what);
		if (harden_failures == before)
			printf("ok   %s: 32 MiB verified, %llu ENOBUFS, %llu "
			       "sends copied after it\n",
			       what, (unsigned long long)s.st.enobufs,
			       (unsigned long long)s.st.enobufs_copied);
	}
	r.messages = true;
	r.opts.copybuf_size = 16u << 10;
	{
		struct sender unused = { 0 };
		int before = harden_failures;

		transfer("tiny optmem, zc_msg_send ZC_MSG_SEND_ZEROCOPY", &r,
			 &unused, 16, true);
		if (harden_failures == before)
			printf("ok   tiny optmem, zc_msg_send zero-copy: 16 "
			       "messages of 1 MiB\n");
	}
	return harden_failures ? 1 : 0;
}

/* --- memlock -------------------------------------------------------------- */

/* Root's CAP_IPC_LOCK would lift the limit (mm_account_pinned_pages,
 * io_uring's accounting): drop it from this process. */
static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		harden_die("capget");
	d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	if (syscall(SYS_capset, &h, d))
		harden_die("capset");
}

static int do_memlock(void)
{
	struct rlimit rl = { 0, 0 };
	struct rx_setup r = { .opts = { .mode = ZC_RX_ZEROCOPY } };
	struct harden_usage u0, u1;
	struct zc_tx_opts o = { 0 };
	struct zc_tx *tx = NULL;
	int fds[2], ret;

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		harden_die("setrlimit");
	drop_ipc_lock();
	if (!(probe.features & ZC_PROBE_RX_ZEROCOPY))
		r.opts.mode = ZC_RX_AUTO;

	if (probe.features & ZC_PROBE_URING) {
		int backs[] = { ZC_TX_URING, ZC_TX_URING_ZC };

		for (int b = 0; b < 2; b++) {
			if (backs[b] == ZC_TX_URING_ZC &&
			    !(probe.features & ZC_PROBE_URING_SEND_ZC))
				continue;
			if (harden_tcp_pair(fds, AF_INET, 0))
				harden_die("pair");
			harden_usage_now(&u0);
			o.backend = (uint32_t)backs[b];
			o.flags = 0;
			ret = zc_tx_create(&tx, fds[1], &o);
			harden_usage_now(&u1);
			/* The ring over RLIMIT_MEMLOCK (6.18 charges it
			 * without CAP_IPC_LOCK): -ENOMEM, or it fits. */
			CHECK(ret == -ENOMEM || ret == 0,
			      "memlock 0: zc_tx_create %s: %d (%s), want "
			      "-ENOMEM or success",
			      zc_tx_backend_name(backs[b]), ret,
			      strerror(-ret));
			if (ret) {
				CHECK(HARDEN_SAME_USAGE(u0, u1),
				      "memlock 0: failed zc_tx_create left "
				      "%ld fds/%ld maps, had %ld/%ld",
				      u1.fds, u1.maps, u0.fds, u0.maps);
				printf("ok   memlock 0, %s: zc_tx_create: %s\n",
				       zc_tx_backend_name(backs[b]),
				       strerror(-ret));
			}
			zc_tx_free(tx);
			tx = NULL;
			close(fds[0]);
			close(fds[1]);
		}
		for (int b = 0; b < 2; b++) {
			struct sender s = { .kind = SEND_ZC_TX,
					    .bytes = 32u << 20 };
			char what[80];

			if (backs[b] == ZC_TX_URING_ZC &&
			    !(probe.features & ZC_PROBE_URING_SEND_ZC))
				continue;
			s.tx_opts.backend = (uint32_t)backs[b];
			s.tx_opts.flags = ZC_TX_F_FALLBACK;
			snprintf(what, sizeof(what),
				 "memlock 0, %s with ZC_TX_F_FALLBACK",
				 zc_tx_backend_name(backs[b]));
			if (!transfer(what, &r, &s, 0, false))
				continue;
			CHECK(s.backend == backs[b] || s.st.fallbacks > 0,
			      "%s: runs %s, but no fallback counted", what,
			      zc_tx_backend_name(s.backend));
			printf("ok   %s: runs %s, %llu fallbacks, %llu ENOBUFS "
			       "copied, 32 MiB verified\n",
			       what, zc_tx_backend_name(s.backend),
			       (unsigned long long)s.st.fallbacks,
			       (unsigned long long)s.st.enobufs_copied);
		}
	}
	{
		struct sender s = { .kind = SEND_ZC_TX, .bytes = 32u << 20 };

		s.tx_opts.backend = ZC_TX_MSG_ZEROCOPY;
		if (transfer("memlock 0, msg_zerocopy", &r, &s, 0, false)) {
			CHECK(s.st.enobufs_copied > 0,
			      "memlock 0, msg_zerocopy: no ENOBUFS copy "
			      "counted");
			printf("ok   memlock 0, msg_zerocopy: %llu sends "
			       "copied after ENOBUFS, 32 MiB verified\n",
			       (unsigned long long)s.st.enobufs_copied);
		}
	}
	{
		/* Pinning any payload page passes the limit: ENOBUFS on
		 * every zero-copy send, whatever is reaped. */
		struct rx_setup rm = { .opts = { .mode = r.opts.mode,
						 .copybuf_size = 16u << 10 },
				       .messages = true };
		struct sender unused = { 0 };
		int before = harden_failures;

		transfer("memlock 0, zc_msg_send ZC_MSG_SEND_ZEROCOPY", &rm,
			 &unused, 4, true);
		if (harden_failures == before)
			printf("ok   memlock 0, zc_msg_send zero-copy: 4 "
			       "messages of 1 MiB\n");
	}
	return harden_failures ? 1 : 0;
}

/* --- nofile --------------------------------------------------------------- */

static int do_nofile(void)
{
	struct harden_usage u0, u1;
	struct zc_rx_pool *pool = NULL;
	struct zc_tx_opts o = { .backend = ZC_TX_URING };
	struct zc_tx *tx = NULL;
	struct zc_probe p;
	struct rlimit old, rl;
	int fds[2], ret, maxfd = 0, fd, fill[4096], nfill = 0, i;

	if (harden_tcp_pair(fds, AF_INET, 0))
		harden_die("pair");
	if (getrlimit(RLIMIT_NOFILE, &old))
		harden_die("getrlimit");
	harden_usage_now(&u0);
	/* The limit bounds fd numbers: set it just above the highest fd
	 * open now, then take every free number below it. */
	for (fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			maxfd = fd;
	rl.rlim_cur = (rlim_t)maxfd + 1;
	rl.rlim_max = old.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		harden_die("setrlimit");
	while ((fd = dup(0)) >= 0)
		if (nfill < (int)(sizeof(fill) / sizeof(fill[0])))
			fill[nfill++] = fd;
	CHECK(errno == EMFILE, "filling the fd table: %s", strerror(errno));

	ret = zc_probe(&p);
	CHECK_EQ(ret, -EMFILE, "zc_probe with no fd left");
	ret = zc_rx_pool_create(&pool, NULL);
	CHECK_EQ(ret, -EMFILE, "zc_rx_pool_create with no fd left");
	CHECK(pool == NULL, "pool set after a failed create");
	zc_rx_pool_free(pool);
	if (probe.features & ZC_PROBE_URING) {
		ret = zc_tx_create(&tx, fds[1], &o);
		CHECK_EQ(ret, -EMFILE, "zc_tx_create uring with no fd left");
		o.flags = ZC_TX_F_FALLBACK;
		ret = zc_tx_create(&tx, fds[1], &o);
		CHECK(ret == -EMFILE || ret == 0,
		      "zc_tx_create uring, fallback, no fd left: %d", ret);
		zc_tx_free(tx);
		tx = NULL;
	}
	/* Handles that need no fd of their own still work. */
	{
		struct zc_rx *rx = NULL;

		CHECK_EQ(zc_rx_create(&rx, fds[0], NULL), 0,
			 "zc_rx_create needs no new fd");
		zc_rx_free(rx);
		CHECK_EQ(zc_tx_create(&tx, fds[1], NULL), 0,
			 "zc_tx_create auto needs no new fd");
		zc_tx_free(tx);
	}
	for (i = 0; i < nfill; i++)
		close(fill[i]);
	if (setrlimit(RLIMIT_NOFILE, &old))
		harden_die("setrlimit");
	harden_usage_now(&u1);
	CHECK(HARDEN_SAME_USAGE(u0, u1),
	      "after the EMFILE failures: %ld fds/%ld maps, had %ld/%ld",
	      u1.fds, u1.maps, u0.fds, u0.maps);
	CHECK_EQ(zc_probe(&p), 0, "zc_probe once fds are allowed again");
	close(fds[0]);
	close(fds[1]);
	if (!harden_failures)
		printf("ok   RLIMIT_NOFILE at the open fds: -EMFILE from "
		       "zc_probe, zc_rx_pool_create%s; no leak\n",
		       probe.features & ZC_PROBE_URING ? ", zc_tx_create uring"
						       : "");
	return harden_failures ? 1 : 0;
}

/* --- rcvbuf --------------------------------------------------------------- */

/* SO_RCVBUF 8 KiB (the kernel doubles it): a few segments fit, far less
 * than one slot, so SO_RCVLOWAT (ZC_RX_F_RCVLOWAT, zc_msg_rx) asks for
 * more than the socket can ever queue (tcp_set_rcvlowat caps it at half
 * the buffer when SO_RCVBUF is set). At the minimum (2304 bytes) a
 * loopback segment's truesize no longer fits and TCP crawls through
 * drops and retransmits: a kernel matter, not tested. */
#define RCVBUF	     8192
#define RCVBUF_BYTES (4u << 20)

static int do_rcvbuf(void)
{
	static const int modes[] = { ZC_RX_AUTO, ZC_RX_ZEROCOPY, ZC_RX_COPY };
	unsigned int m, variant;
	char what[128];

	for (m = 0; m < 3; m++) {
		if (modes[m] == ZC_RX_ZEROCOPY &&
		    !(probe.features & ZC_PROBE_RX_ZEROCOPY))
			continue;
		for (variant = 0; variant < 6; variant++) {
			struct rx_setup r = {
				.opts = { .mode = (uint32_t)modes[m] },
				.rcvbuf = RCVBUF
			};
			struct sender s = { .bytes = RCVBUF_BYTES };
			const char *vname = "own window";

			s.kind = variant & 1 ? SEND_PLAIN : SEND_MSG_ZEROCOPY;
			if (variant / 2 == 1) {
				r.pool = true;
				vname = "pool";
			} else if (variant / 2 == 2) {
				r.opts.flags = ZC_RX_F_RCVLOWAT;
				vname = "ZC_RX_F_RCVLOWAT";
			}
			snprintf(what, sizeof(what),
				 "SO_RCVBUF 8 KiB, rx %s, %s, %s sender",
				 zc_rx_mode_name(modes[m]), vname,
				 s.kind == SEND_PLAIN ? "plain"
						      : "MSG_ZEROCOPY");
			if (transfer(what, &r, &s, 0, false))
				printf("ok   %s: %u KiB verified\n", what,
				       RCVBUF_BYTES >> 10);
		}
		{
			struct rx_setup r = {
				.opts = { .mode = (uint32_t)modes[m],
					  .copybuf_size = 16u << 10 },
				.rcvbuf = RCVBUF,
				.messages = true,
			};
			struct sender unused = { 0 };

			snprintf(what, sizeof(what),
				 "SO_RCVBUF 8 KiB, rx %s, zc_msg_rx "
				 "(SO_RCVLOWAT per payload)",
				 zc_rx_mode_name(modes[m]));
			if (transfer(what, &r, &unused, 4, false))
				printf("ok   %s: 4 messages of 1 MiB\n", what);
		}
	}
	return harden_failures ? 1 : 0;
}

/* --- window --------------------------------------------------------------- */

/* Creates with o (own window) and, if it worked, reads 64 KiB through it.
 * Returns the create result. */
static int try_window(const struct zc_rx_opts *o, const char *what)
{
	static uint8_t buf[64u << 10];
	struct harden_usage u0, u1;
	struct zc_rx *rx = NULL;
	int fds[2], ret;
	int64_t got;

	if (harden_tcp_pair(fds, AF_INET, HARDEN_MSS))
		harden_die("pair");
	harden_usage_now(&u0);
	ret = zc_rx_create(&rx, fds[0], o);
	if (ret == 0) {
		harden_fill(buf, sizeof(buf), STREAM, 0);
		if (send(fds[1], buf, sizeof(buf), 0) != sizeof(buf))
			harden_die("send");
		shutdown(fds[1], SHUT_WR);
		got = rx_stream(rx);
		CHECK(got == sizeof(buf), "%s: created, but read %lld", what,
		      (long long)got);
		zc_rx_free(rx);
	}
	harden_usage_now(&u1);
	CHECK(HARDEN_SAME_USAGE(u0, u1),
	      "%s: %ld fds/%ld maps after, %ld/%ld before", what, u1.fds,
	      u1.maps, u0.fds, u0.maps);
	close(fds[0]);
	close(fds[1]);
	return ret;
}

static int do_window(void)
{
	struct zc_rx_pool_opts po;
	struct zc_rx_pool *pool = NULL;
	struct zc_rx_opts o;
	int ret, mode;

	for (mode = ZC_RX_AUTO; mode <= ZC_RX_COPY; mode++) {
		if (mode == ZC_RX_ZEROCOPY &&
		    !(probe.features & ZC_PROBE_RX_ZEROCOPY))
			continue;
		memset(&o, 0, sizeof(o));
		o.mode = (uint32_t)mode;
		o.slot_size = (256u << 20) + 4096;
		CHECK_EQ(try_window(&o, "slot_size above 256 MiB"), -EINVAL,
			 "slot_size above 256 MiB");
		o.slot_size = 1u << 31;
		CHECK_EQ(try_window(&o, "slot_size 2 GiB"), -EINVAL,
			 "slot_size 2 GiB");
		o.slot_size = 0;
		o.slots = 1025;
		CHECK_EQ(try_window(&o, "1025 slots"), -EINVAL, "1025 slots");
		/* The largest allowed: 256 MiB x 1024 = 256 GiB of window
		 * (address space only), copy areas of 64 KiB (zero-copy)
		 * or whole slots (copy, auto: 256 GiB of memory). */
		o.slot_size = 256u << 20;
		o.slots = 1024;
		o.copybuf_size = 16u << 20;
		ret = try_window(&o, "256 MiB x 1024 slots");
		CHECK(ret == 0 || ret == -ENOMEM,
		      "rx %s, 256 MiB x 1024 slots: %d (%s), want 0 or -ENOMEM",
		      zc_rx_mode_name(mode), ret, strerror(-ret));
		printf("ok   rx %s, window of 256 MiB x 1024 slots: %s\n",
		       zc_rx_mode_name(mode),
		       ret ? strerror(-ret) : "works (address space only)");
	}
	memset(&po, 0, sizeof(po));
	po.slot_size = 256u << 20;
	po.slots = 65536;
	ret = zc_rx_pool_create(&pool, &po);
	CHECK(ret == -ENOMEM || ret == 0,
	      "pool of 256 MiB x 65536 slots (16 TiB): %d (%s)", ret,
	      strerror(-ret));
	printf("ok   pool of 256 MiB x 65536 slots: %s\n",
	       ret ? strerror(-ret) : "created");
	zc_rx_pool_free(pool);
	po.slots = 65537;
	CHECK_EQ(zc_rx_pool_create(&pool, &po), -EINVAL, "pool 65537 slots");
	return harden_failures ? 1 : 0;
}

/* --- RLIMIT_AS ------------------------------------------------------------ */

static long mapped_kib(void)
{
	char buf[256];
	long size = 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (sscanf(buf, "%ld", &size) != 1)
		return -1;
	return size * (sysconf(_SC_PAGESIZE) / 1024);
}

static int do_as(void)
{
	struct zc_rx_opts big = { .slot_size = 64u << 20, .slots = 16 };
	struct zc_rx_pool_opts pbig = { .slot_size = 64u << 20, .slots = 64 };
	struct zc_tx_opts tbig = { .max_outstanding = 65536 };
	struct zc_rx_pool *pool = NULL;
	struct harden_usage u0, u1;
	struct zc_rx *rx = NULL;
	struct zc_tx *tx = NULL;
	struct rlimit rl;
	int fds[2], mode, ret;
	long vm;

	if (HARDEN_ASAN) {
		printf("skipped: RLIMIT_AS cannot be tested under ASan (it "
		       "reserves terabytes of shadow memory)\n");
		return 77;
	}
	if (harden_tcp_pair(fds, AF_INET, HARDEN_MSS))
		harden_die("pair");
	/* Room for small handles (a default window is 4 MiB of address
	 * space plus copy areas) but not for 1 GiB ones. */
	vm = mapped_kib();
	rl.rlim_cur = rl.rlim_max = (rlim_t)(vm + (96 << 10)) * 1024;
	harden_usage_now(&u0);
	if (setrlimit(RLIMIT_AS, &rl))
		harden_die("setrlimit");
	for (mode = ZC_RX_AUTO; mode <= ZC_RX_COPY; mode++) {
		if (mode == ZC_RX_ZEROCOPY &&
		    !(probe.features & ZC_PROBE_RX_ZEROCOPY))
			continue;
		big.mode = (uint32_t)mode;
		ret = zc_rx_create(&rx, fds[0], &big);
		CHECK_EQ(ret, -ENOMEM,
			 mode == ZC_RX_AUTO   ? "RLIMIT_AS: 1 GiB "
						"window, auto"
			 : mode == ZC_RX_COPY ? "RLIMIT_AS: 1 GiB "
						"window, copy"
					      : "RLIMIT_AS: 1 GiB "
						"window, zerocopy");
		zc_rx_free(rx);
		rx = NULL;
	}
	ret = zc_rx_pool_create(&pool, &pbig);
	CHECK_EQ(ret, -ENOMEM, "RLIMIT_AS: 4 GiB pool");
	zc_rx_pool_free(pool);
	pool = NULL;
	tbig.backend = ZC_TX_COPY;
	/* 65536 outstanding completions are 1 MiB: that fits; the limit
	 * is for the window. Both must simply not crash. */
	ret = zc_tx_create(&tx, fds[1], &tbig);
	CHECK(ret == 0 || ret == -ENOMEM, "RLIMIT_AS: zc_tx_create: %d", ret);
	zc_tx_free(tx);
	tx = NULL;
	/* Small handles still work under the limit. */
	ret = zc_rx_create(&rx, fds[0], NULL);
	CHECK_EQ(ret, 0, "RLIMIT_AS: default zc_rx");
	zc_rx_free(rx);
	ret = zc_rx_pool_create(&pool, NULL);
	CHECK_EQ(ret, 0, "RLIMIT_AS: default pool");
	zc_rx_pool_free(pool);
	rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
	setrlimit(RLIMIT_AS, &rl);
	harden_usage_now(&u1);
	CHECK(HARDEN_SAME_USAGE(u0, u1),
	      "after the ENOMEM failures: %ld fds/%ld maps, had %ld/%ld",
	      u1.fds, u1.maps, u0.fds, u0.maps);
	close(fds[0]);
	close(fds[1]);
	if (!harden_failures)
		printf("ok   RLIMIT_AS: 1 GiB windows and a 4 GiB pool give "
		       "-ENOMEM, default handles work; no leak\n");
	return harden_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: harden_limits optmem|memlock|nofile|"
				"rcvbuf|window|as\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm(120);
	if (zc_probe(&probe))
		harden_die("zc_probe");
	if (!strcmp(argv[1], "optmem"))
		ret = do_optmem();
	else if (!strcmp(argv[1], "memlock"))
		ret = do_memlock();
	else if (!strcmp(argv[1], "nofile"))
		ret = do_nofile();
	else if (!strcmp(argv[1], "rcvbuf"))
		ret = do_rcvbuf();
	else if (!strcmp(argv[1], "window"))
		ret = do_window();
	else if (!strcmp(argv[1], "as"))
		ret = do_as();
	else
		ret = 2;
	printf("harden_limits %s: %d checks, %d failed\n", argv[1],
	       harden_checks, harden_failures);
	return ret;
}
