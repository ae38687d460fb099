/* SPDX-License-Identifier: MIT */
/*
 * zcnc receive side: socket -> stdout through struct zc_rx.
 *
 * Each view is written with one writev(): its mapped pages first, then the
 * bytes the kernel could not map, which follow them in the stream. write()
 * only reads the mapped pages, so the read-only window is fine as a source,
 * and the view is released as soon as stdout took it, so the next read can
 * reuse (and zap) the slot.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zcnc.h"

/* Writes every byte of iov[0..cnt) to fd, counting what got out in
 * *written. Returns 0, -EINTR after SIGINT, or -errno. */
static int write_all(int fd, struct iovec *iov, int cnt, uint64_t *written)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	while (cnt > 0) {
		if (!iov->iov_len) {
			iov++;
			cnt--;
			continue;
		}
		n = writev(fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR && zcnc_interrupted)
				return -EINTR;
			if (errno == EINTR)
				continue;
			/* stdout inherited in non-blocking mode. */
			if (errno == EAGAIN) {
				if (poll(&pfd, 1, -1) < 0 && errno == EINTR &&
				    zcnc_interrupted)
					return -EINTR;
				continue;
			}
			return -errno;
		}
		*written += (uint64_t)n;
		/* writev() never returns more than it was given; the cnt
		 * bound keeps iov inside the array even if it did. */
		while (n > 0 && cnt > 0) {
			if ((size_t)n < iov->iov_len) {
				iov->iov_base = (char *)iov->iov_base + n;
				iov->iov_len -= (size_t)n;
				break;
			}
			n -= (ssize_t)iov->iov_len;
			iov->iov_len = 0;
			iov++;
			cnt--;
		}
	}
	return 0;
}

/* Splits a partial write of one view between its mapped and copied parts
 * for the summary (mapped bytes come first in the stream). */
static void account(struct zcnc_result *res, const struct zc_view *v,
		    uint64_t written)
{
	uint64_t m = written < v->mapped_len ? written : v->mapped_len;

	res->mapped += m;
	res->copied += written - m;
	res->bytes += written;
}

int zcnc_receive(const struct zcnc_cfg *cfg, int fd, struct zcnc_result *res)
{
	struct zc_rx_opts opts = { .mode = (uint32_t)cfg->rx_mode };
	struct zc_rx *rx;
	struct zc_view v;
	struct iovec iov[2];
	uint64_t written;
	ssize_t n;
	int ret;

	res->have_rx = true;
	res->rx_mode_requested = cfg->rx_mode;
	res->rx_mode = -1;
	ret = zc_rx_create(&rx, fd, &opts);
	if (ret == -ENOTCONN) {
		/* The peer reset the connection before we got to it (it can
		 * arrive with the handshake): say why, as a broken stream. */
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		return zcnc_fail(res, ZCNC_EXIT_INCOMPLETE, "recv",
				 err ? err : ENOTCONN);
	}
	if (ret) {
		if (ret == -EOPNOTSUPP)
			return zcnc_fail(res, ZCNC_EXIT_ERROR,
					 "--rx=zerocopy: receive zero-copy is "
					 "not supported here",
					 EOPNOTSUPP);
		return zcnc_fail(res, ZCNC_EXIT_ERROR, "zc_rx_create", -ret);
	}
	ret = ZCNC_EXIT_OK;
	for (;;) {
		if (zcnc_interrupted)
			break;
		n = zc_rx_read(rx, &v);
		if (n == 0)
			break;
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN) {
			/* Not on the blocking socket we made, but cheap to
			 * honour. */
			zc_rx_wait(rx, -1);
			continue;
		}
		if (n < 0) {
			ret = zcnc_fail(res,
					zcnc_conn_error((int)-n)
						? ZCNC_EXIT_INCOMPLETE
						: ZCNC_EXIT_ERROR,
					"recv", (int)-n);
			break;
		}
		iov[0].iov_base = (void *)v.mapped;
		iov[0].iov_len = v.mapped_len;
		iov[1].iov_base = (void *)v.copied;
		iov[1].iov_len = v.copied_len;
		written = 0;
		ret = write_all(STDOUT_FILENO, iov, 2, &written);
		account(res, &v, written);
		zc_rx_release(rx, &v);
		if (ret == -EINTR) {
			ret = ZCNC_EXIT_OK;
			break;
		}
		if (ret) {
			ret = zcnc_fail(res, ZCNC_EXIT_ERROR, "write stdout",
					-ret);
			break;
		}
		if (cfg->progress)
			zcnc_progress(cfg, res, false);
	}
	res->rx_mode = zc_rx_mode(rx);
	zc_rx_get_stats(rx, &res->rx);
	zc_rx_free(rx);
	return ret;
}
