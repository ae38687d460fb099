/* SPDX-License-Identifier: MIT */
/*
 * Copy backend: a plain sendmsg(). The kernel copies the bytes into its own
 * buffers before returning, so the caller's buffer is free at once and the
 * completion is queued right away. Also the fallback of every other
 * backend (threshold, COPIED back-off, ENOBUFS, refused io_uring).
 */
#include <errno.h>
#include <sys/socket.h>

#include "internal.h"
#include "tx.h"

ssize_t zc__tx_copy_send(struct zc_tx *tx, const void *buf, size_t len,
			 uint64_t user_data, uint32_t flags)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	/* MSG_NOSIGNAL: a reset peer gives -EPIPE, never a SIGPIPE that
	 * would kill the caller (the library installs no handlers). */
	n = zc__sys.sendmsg(tx->fd, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	zc__tx_accepted(tx, (uint32_t)n);
	zc__tx_complete(tx, user_data, (uint32_t)n, flags);
	return n;
}
