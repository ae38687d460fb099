/* SPDX-License-Identifier: MIT */
/*
 * Send backends behind struct sender_ops. The stream loop asks for a
 * buffer that may be written (get_buf), fills it and sends it (send), and
 * at the end waits for every completion (finish). A copy send completes
 * when send() returns, so the copy backend needs one buffer; the
 * MSG_ZEROCOPY backend (sender_msgzc.c) keeps a ring and hands out a buffer
 * only after the kernel said it is done with it. The library's struct zc_tx
 * fits the same three calls (user_data = buffer index) and can become a
 * third backend.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "zcperf.h"

uint8_t *sender_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void sender_release(uint8_t *mem, size_t len)
{
	if (mem)
		munmap(mem, len);
}

struct copy_sender {
	struct sender base;
	uint8_t *buf;
};

static int copy_get_buf(struct sender *s, uint8_t **buf)
{
	*buf = ((struct copy_sender *)s)->buf;
	return 0;
}

static int copy_send(struct sender *s, uint8_t *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(s->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
		s->st.sends++;
		s->st.bytes += (uint64_t)n;
	}
	return 0;
}

static int copy_finish(struct sender *s, int timeout_ms)
{
	return 0;
}

static void copy_destroy(struct sender *s)
{
	struct copy_sender *c = (struct copy_sender *)s;

	sender_release(c->buf, s->chunk);
	free(c);
}

static const struct sender_ops copy_ops = {
	.get_buf = copy_get_buf,
	.send = copy_send,
	.finish = copy_finish,
	.destroy = copy_destroy,
};

int sender_create(struct sender **sp, int kind, int fd, size_t chunk)
{
	struct copy_sender *c;

	if (kind == TX_MSG_ZEROCOPY)
		return sender_msgzc_create(sp, fd, chunk);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->buf = sender_alloc(chunk);
	if (!c->buf) {
		free(c);
		return -ENOMEM;
	}
	c->base.ops = &copy_ops;
	c->base.fd = fd;
	c->base.chunk = chunk;
	*sp = &c->base;
	return 0;
}
