/* SPDX-License-Identifier: MIT */
/*
 * --rx=raw: TCP_ZEROCOPY_RECEIVE by hand, without the library, as simple
 * as the kernel's tcp_mmap selftest. This is the baseline the library is
 * measured against, so it does only what any user would write first:
 *
 *   mmap(PROT_READ, MAP_SHARED) one window of the chunk size on the socket
 *   (only reserves the range since 4.18's redesign); then loop:
 *   getsockopt(TCP_ZEROCOPY_RECEIVE) maps whole received pages into the
 *   window and consumes them; check them; madvise(MADV_DONTNEED) drops
 *   them again (the next call may then pass TLB_CLEAN_HINT, 5.11, so the
 *   kernel skips its own zap); recv_skip_hint bytes that cannot be mapped
 *   are read() by copy. inq (5.7) says whether to wait before the next
 *   call, err (5.7) carries a socket error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "zcperf.h"

/* How long the kernel's struct is: it writes its own size back (4.18). */
static socklen_t zc_struct_len(int fd, void *window)
{
	struct zc__tcp_zerocopy_receive zc;
	socklen_t len = sizeof(zc);

	memset(&zc, 0, sizeof(zc));
	zc.address = (uintptr_t)window;
	if (getsockopt(fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &len))
		return sizeof(zc);
	return len < sizeof(zc) ? len : sizeof(zc);
}

/* EIO from the kernel: queue empty and the stream is done, cleanly or by
 * an error that SO_ERROR still holds. */
static int end_of_stream(struct rx_conn *c)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err)
		conn_error_set(&c->error, "receive", err);
	return -err;
}

static int wait_readable(struct rx_conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	c->st.waits++;
	while (poll(&pfd, 1, -1) < 0) {
		if (errno != EINTR) {
			conn_error_set(&c->error, "poll", errno);
			return -errno;
		}
	}
	return 0;
}

int rx_raw_loop(struct rx_conn *c)
{
	size_t chunk = c->cfg->chunk;
	struct zc__tcp_zerocopy_receive zc;
	bool wait = false;
	socklen_t zc_len, len;
	uint8_t *window, *buf;
	struct rusage ru0;
	uint64_t off = 0;
	size_t want;
	ssize_t n;
	int r = 0, lowat = (int)chunk;

	window = mmap(NULL, chunk, PROT_READ, MAP_SHARED, c->fd, 0);
	if (window == MAP_FAILED) {
		/* ENODEV: this kernel cannot mmap a TCP socket. */
		r = errno == ENODEV ? EOPNOTSUPP : errno;
		conn_error_set(&c->error, "mmap on the socket", r);
		return -r;
	}
	buf = malloc(chunk);
	if (!buf) {
		conn_error_set(&c->error, "malloc", ENOMEM);
		r = -ENOMEM;
		goto out_unmap;
	}
	if (c->cfg->rcvlowat &&
	    setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat))) {
		r = -errno;
		conn_error_set(&c->error, "SO_RCVLOWAT", errno);
		goto out_free;
	}
	zc_len = zc_struct_len(c->fd, window);
	r = rx_wait_first(c, &ru0);
	if (r)
		goto out_free;
	for (;;) {
		/* SIGINT shut the socket down: the kernel then keeps
		 * answering "nothing queued" without -EIO (no FIN came), and
		 * poll keeps waking; stop here. */
		if (interrupted())
			break;
		if (wait) {
			r = wait_readable(c);
			if (r)
				break;
		}
		memset(&zc, 0, sizeof(zc));
		zc.address = (uintptr_t)window;
		zc.length = (uint32_t)chunk;
		/* The window was zapped after the last call. */
		if (zc_len >= ZC__ZCR_LEN_COPYBUF)
			zc.flags = ZC__TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT;
		len = zc_len;
		c->st.zerocopy_calls++;
		if (getsockopt(c->fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc,
			       &len)) {
			if (errno == EINTR)
				continue;
			if (errno == EIO) {
				r = end_of_stream(c);
				break;
			}
			r = -errno;
			conn_error_set(&c->error, "TCP_ZEROCOPY_RECEIVE",
				       errno);
			break;
		}
		if (zc.length) {
			if (c->verified)
				r = rx_verify(c, window, zc.length, off,
					      "mapped");
			off += zc.length;
			c->mapped += zc.length;
			c->st.views++;
			c->st.bytes_mapped += zc.length;
			madvise(window, zc.length, MADV_DONTNEED);
			c->st.zaps++;
			if (r)
				break;
		}
		if (zc.recv_skip_hint) {
			c->st.skip_hints++;
			want = zc.recv_skip_hint < chunk ? zc.recv_skip_hint
							 : chunk;
			n = read(c->fd, buf, want);
			c->st.recv_calls++;
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				r = -errno;
				conn_error_set(&c->error, "read", errno);
				break;
			}
			if (n == 0)
				break;
			if (c->verified)
				r = rx_verify(c, buf, (size_t)n, off, "copied");
			off += (uint64_t)n;
			c->st.views++;
			c->read_bytes += (uint64_t)n;
			c->st.bytes_read += (uint64_t)n;
			if (r)
				break;
		}
		__atomic_store_n(&c->live_bytes, off, __ATOMIC_RELAXED);
		__atomic_store_n(&c->live_mapped, c->mapped, __ATOMIC_RELAXED);
		/* err is sock_error(): a negative errno, and reading it
		 * cleared the socket's error, so it must be acted on now. */
		if (zc_len >= ZC__ZCR_LEN_INQ_ERR && zc.err) {
			r = zc.err < 0 ? zc.err : -zc.err;
			conn_error_set(&c->error, "receive", -r);
			break;
		}
		/* Nothing handed out: wait for more rather than spin. With
		 * SO_RCVLOWAT = chunk, also wait while less than a window is
		 * queued, so that each call maps a whole window. */
		if (zc_len >= ZC__ZCR_LEN_INQ_ERR)
			wait = c->cfg->rcvlowat ? zc.inq < chunk : !zc.inq;
		else
			wait = false;
		if (!zc.length && !zc.recv_skip_hint)
			wait = true;
	}
	rx_finish_clock(c, &ru0);
out_free:
	c->bytes = off;
	c->final_mode = RX_RAW;
	free(buf);
out_unmap:
	munmap(window, chunk);
	return r;
}
