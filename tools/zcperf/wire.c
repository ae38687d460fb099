/* SPDX-License-Identifier: MIT */
/*
 * The 64-byte header a zcperf sender writes at the start of each
 * connection: which run and connection this is (the pattern's seed, and how
 * many connections the receiver should wait for), and how the sender sends
 * (its backend and MSS), so the receiver can explain a low mapped share.
 *
 * The header goes out with MSG_EOR: the kernel then appends no payload to
 * its skb (TCP_SKB_CB(skb)->eor, 4.7), so the payload starts in a fresh
 * segment and stays page-aligned (seed 001). The receiver reads it with a
 * plain recv() before it starts receiving by zero-copy. Fields are
 * big-endian. The tx field is the sender's enum zc_tx_backend.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "zcperf.h"

#define WIRE_MAGIC   0x5a435046u /* "ZCPF" */
#define WIRE_VERSION 1u

void put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

void put64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

int wire_write(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, p + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

int wire_read(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t *p = buf;
	size_t off = 0;
	ssize_t n;
	int r;

	while (off < len) {
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(fd, p + off, len - off, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPROTO; /* closed before a whole record */
		off += (size_t)n;
	}
	return 0;
}

int wire_send(int fd, const struct wire_hdr *h)
{
	uint8_t b[WIRE_HDR_LEN] = { 0 };
	size_t off = 0;
	ssize_t n;

	put32(b + 0, WIRE_MAGIC);
	put32(b + 4, WIRE_VERSION);
	put64(b + 8, h->run_id);
	put32(b + 16, h->conn_index);
	put32(b + 20, h->conn_count);
	put32(b + 24, h->flags);
	put32(b + 28, h->tx);
	put32(b + 32, h->mss);
	put32(b + 36, h->chunk);
	put64(b + 40, h->planned_bytes);
	put32(b + 48, h->planned_ms);
	while (off < sizeof(b)) {
		n = send(fd, b + off, sizeof(b) - off, MSG_EOR | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

int wire_recv(int fd, struct wire_hdr *h, int timeout_ms)
{
	uint8_t b[WIRE_HDR_LEN];
	int r;

	r = wire_read(fd, b, sizeof(b), timeout_ms);
	if (r)
		return r;
	if (get32(b) != WIRE_MAGIC || get32(b + 4) != WIRE_VERSION)
		return -EPROTO;
	h->run_id = get64(b + 8);
	h->conn_index = get32(b + 16);
	h->conn_count = get32(b + 20);
	h->flags = get32(b + 24);
	h->tx = get32(b + 28);
	h->mss = get32(b + 32);
	h->chunk = get32(b + 36);
	h->planned_bytes = get64(b + 40);
	h->planned_ms = get32(b + 48);
	if (!h->conn_count ||
	    h->conn_count > (h->flags & WIRE_F_RPC ? ZCPERF_RPC_MAX_CONNS
						   : ZCPERF_MAX_PARALLEL) ||
	    h->conn_index >= h->conn_count)
		return -EPROTO;
	return 0;
}
