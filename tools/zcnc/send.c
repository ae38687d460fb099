/* SPDX-License-Identifier: MIT */
/*
 * zcnc send side: stdin -> socket through struct zc_tx.
 *
 * stdin is read into a ring of page-aligned buffers. Every send of a
 * buffer produces one completion carrying the buffer's index (zcnet's
 * contract, whichever backend ran); a buffer is refilled only once all its
 * sends have completed, because with MSG_ZEROCOPY or io_uring SEND_ZC the
 * kernel may still be reading it until then.
 *
 * At the end of stdin every completion is awaited, the sending side is
 * shut down (FIN), and zcnc waits for the peer to close, like nc -N: a
 * clean close means the peer read the whole stream; a reset means it may
 * not have.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zcnc.h"

/* The most buffers the ring holds (cfg->nbufs: 1..MAX_BUFS). */
#define MAX_BUFS 16

bool zcnc_conn_error(int err)
{
	switch (err) {
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case ENOTCONN:
		return true;
	}
	return false;
}

/*
 * Reads stdin into buf until it is full, stdin ends, or nothing more is
 * ready right now (a terminal or a slow pipe should not wait for a whole
 * buffer). Returns bytes (0 with *eof at the end), -EINTR, or -errno.
 */
static ssize_t fill(int fd, uint8_t *buf, size_t size, bool *eof)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < size) {
		n = read(fd, buf + got, size - got);
		if (n < 0) {
			if (errno == EINTR && zcnc_interrupted)
				return got ? (ssize_t)got : -EINTR;
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (got)
					break;
				poll(&pfd, 1, -1);
				continue;
			}
			return -errno;
		}
		if (n == 0) {
			*eof = true;
			break;
		}
		got += (size_t)n;
		if (got < size && poll(&pfd, 1, 0) <= 0)
			break;
	}
	return (ssize_t)got;
}

/* Bytes left in stdin when it is a regular file (for the ETA), else -1. */
static int64_t stdin_size(void)
{
	struct stat st;
	off_t pos;

	if (fstat(STDIN_FILENO, &st) || !S_ISREG(st.st_mode))
		return -1;
	pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
	if (pos < 0 || pos > st.st_size)
		return -1;
	return (int64_t)(st.st_size - pos);
}

static int send_error(struct zcnc_result *res, const char *ctx, int err)
{
	return zcnc_fail(res,
			 zcnc_conn_error(err) ? ZCNC_EXIT_INCOMPLETE
					      : ZCNC_EXIT_ERROR,
			 ctx, err);
}

/* Shuts down our side and waits for the peer's close. Bytes the peer
 * sends meanwhile are read and dropped (counted in the summary). */
static int finish(int fd, struct zcnc_result *res)
{
	static uint8_t scratch[64 << 10];
	ssize_t n;

	if (shutdown(fd, SHUT_WR))
		return send_error(res, "shutdown", errno);
	for (;;) {
		n = recv(fd, scratch, sizeof(scratch), 0);
		if (n == 0)
			return ZCNC_EXIT_OK;
		if (n > 0) {
			res->peer_ignored += (uint64_t)n;
			continue;
		}
		if (errno == EINTR && zcnc_interrupted)
			return ZCNC_EXIT_OK;
		if (errno == EINTR)
			continue;
		return send_error(res, "waiting for the peer to close", errno);
	}
}

/* --- through struct zc_tx --------------------------------------------- */

struct ring {
	uint8_t **buf;
	uint32_t *inflight; /* sends of the buffer not completed yet */
	unsigned int n;
};

/* Takes completions (waiting up to timeout_ms when wait is set) and frees
 * their buffers. Returns how many, or -errno. */
static int reap(struct zc_tx *tx, struct ring *r, bool wait, int timeout_ms)
{
	struct zc_completion c[64];
	int n, i;

	n = wait ? zc_tx_wait(tx, c, 64, timeout_ms) : zc_tx_reap(tx, c, 64);
	for (i = 0; i < n; i++) {
		/* A completion we did not ask for breaks zcnet's contract;
		 * refusing it beats reusing a buffer the kernel reads. */
		if (c[i].user_data >= r->n || !r->inflight[c[i].user_data])
			return -EPROTO;
		r->inflight[c[i].user_data]--;
	}
	return n;
}

/* Waits until buffer i may be refilled. Returns 0, -EINTR, -errno. */
static int wait_buffer(struct zc_tx *tx, struct ring *r, unsigned int i)
{
	int ret;

	while (r->inflight[i]) {
		ret = reap(tx, r, true, -1);
		if (ret == -EINTR && !zcnc_interrupted)
			continue;
		if (ret < 0)
			return ret;
		/* Waiting forever returns 0 only with nothing outstanding:
		 * our count and the library's disagree. */
		if (ret == 0)
			return -EPROTO;
	}
	return 0;
}

static void tx_account(struct zc_tx *tx, struct zcnc_result *res)
{
	zc_tx_get_stats(tx, &res->tx);
	res->mapped = res->tx.bytes_zerocopy;
	res->copied = res->bytes - res->mapped;
}

/* Sends buf[0..len) as one or more sends of buffer i. */
static int send_buffer(struct zc_tx *tx, struct ring *r, unsigned int i,
		       size_t len, struct zcnc_result *res)
{
	size_t off = 0;
	ssize_t n;
	int ret;

	while (off < len) {
		n = zc_tx_send(tx, r->buf[i] + off, len - off, i);
		if (n > 0) {
			r->inflight[i]++;
			off += (size_t)n;
			res->bytes += (uint64_t)n;
			continue;
		}
		if (n == -EINTR && zcnc_interrupted)
			return -EINTR;
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN) {
			/* Too many sends in flight, or socket buffer
			 * full: completions make room. */
			ret = reap(tx, r, true, 100);
			if (ret < 0 && ret != -EINTR)
				return ret;
			continue;
		}
		return n ? (int)n : -EIO;
	}
	return 0;
}

static int run_tx(const struct zcnc_cfg *cfg, int fd, uint8_t **bufs,
		  struct zcnc_result *res)
{
	/* A backend the kernel refuses (io_uring disabled, no SO_ZEROCOPY)
	 * steps down to the next one rather than failing the transfer; the
	 * summary shows what ran and stats.fallbacks counts it. */
	struct zc_tx_opts opts = { .backend = (uint32_t)cfg->tx_backend,
				   .flags = ZC_TX_F_FALLBACK };
	uint32_t inflight[MAX_BUFS] = { 0 };
	struct ring r = { .buf = bufs, .inflight = inflight, .n = cfg->nbufs };
	struct zc_tx *tx;
	unsigned int i = 0;
	bool eof = false;
	int ret, left;
	ssize_t n;

	ret = zc_tx_create(&tx, fd, &opts);
	if (ret) {
		char ctx[80];

		snprintf(ctx, sizeof(ctx), "--tx=%s",
			 zc_tx_backend_name(cfg->tx_backend));
		return zcnc_fail(res, ZCNC_EXIT_ERROR, ctx, -ret);
	}
	ret = ZCNC_EXIT_OK;
	while (!eof && !zcnc_interrupted) {
		ret = wait_buffer(tx, &r, i);
		if (ret == -EINTR) {
			ret = ZCNC_EXIT_OK;
			break;
		}
		if (ret) {
			ret = send_error(res, "send completion", -ret);
			break;
		}
		n = fill(STDIN_FILENO, bufs[i], cfg->buf_size, &eof);
		if (n == -EINTR)
			break;
		if (n < 0) {
			ret = zcnc_fail(res, ZCNC_EXIT_ERROR, "read stdin",
					(int)-n);
			break;
		}
		ret = send_buffer(tx, &r, i, (size_t)n, res);
		if (ret == -EINTR) {
			ret = ZCNC_EXIT_OK;
			break;
		}
		if (ret) {
			ret = send_error(res, "send", -ret);
			break;
		}
		/* Keep the error queue short (optmem) without waiting. */
		if (reap(tx, &r, false, 0) < 0) {
			ret = send_error(res, "send completion", EPROTO);
			break;
		}
		if (cfg->progress) {
			tx_account(tx, res);
			zcnc_progress(cfg, res, false);
		}
		i = (i + 1) % cfg->nbufs;
	}
	/* Every buffer must be back before we free it, even on errors:
	 * flush waits for the kernel's last notifications (for
	 * MSG_ZEROCOPY they need the peer's ACKs). */
	do {
		left = zc_tx_flush(tx, 200);
	} while ((left == -ETIME || left == -EINTR) && !zcnc_interrupted &&
		 ret == ZCNC_EXIT_OK);
	if (left && left != -ETIME && left != -EINTR && ret == ZCNC_EXIT_OK)
		ret = send_error(res, "send completion", -left);
	tx_account(tx, res);
	res->tx_backend = zc_tx_backend(tx);
	left = zc_tx_free(tx);
	if (left > 0) {
		/* The kernel may still read them: leak rather than free. */
		for (i = 0; i < cfg->nbufs; i++)
			bufs[i] = NULL;
	}
	if (ret != ZCNC_EXIT_OK || zcnc_interrupted)
		return ret;
	return finish(fd, res);
}

int zcnc_send(const struct zcnc_cfg *cfg, int fd, struct zcnc_result *res)
{
	uint8_t *bufs[MAX_BUFS] = { NULL };
	long page = sysconf(_SC_PAGESIZE);
	unsigned int i;
	int ret;

	res->have_tx = true;
	res->tx_backend_requested = cfg->tx_backend;
	res->tx_backend = cfg->tx_backend;
	res->size = stdin_size();
	if (page <= 0)
		page = 4096;
	/* run_tx() indexes the ring modulo nbufs. */
	if (cfg->nbufs == 0 || cfg->nbufs > MAX_BUFS)
		return zcnc_fail(res, ZCNC_EXIT_ERROR, "buffers", EINVAL);
	for (i = 0; i < cfg->nbufs; i++) {
		ret = posix_memalign((void **)&bufs[i], (size_t)page,
				     cfg->buf_size);
		if (ret) {
			bufs[i] = NULL;
			ret = zcnc_fail(res, ZCNC_EXIT_ERROR, "buffers", ret);
			goto out;
		}
	}
	ret = run_tx(cfg, fd, bufs, res);
out:
	for (i = 0; i < MAX_BUFS; i++)
		free(bufs[i]);
	return ret;
}
