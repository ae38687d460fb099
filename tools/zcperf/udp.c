/* SPDX-License-Identifier: MIT */
/*
 * -u: the datagram format and the records of the control connection.
 *
 * UDP gives no end of stream and may lose, repeat or reorder datagrams, so
 * each datagram names itself: a 32-byte header (magic "ZCPD", connection
 * index, run id, sequence number, length, flags; big-endian) and then the
 * connection's integrity pattern at stream offset seq * size + 32. A
 * datagram's whole content follows from its sequence number, so one that
 * is damaged, shifted or from another run never matches, and loss shows
 * as sequence numbers that never arrived.
 *
 * The sender's TCP connection, which carried the 64-byte wire header,
 * stays open beside the datagrams as their control connection:
 *   receiver -> sender  "ZCPU" port: where this connection's datagrams go
 *   sender -> receiver  "ZCPE" datagrams, bytes: sent in all (after the
 *                       last datagram left and its completion came back)
 *   receiver -> sender  "ZCPR" what arrived: the receiver counts loss
 *                       against the sender's count and reports it rather
 *                       than failing; only damaged datagrams fail.
 * A TCP record cannot be lost, so the end never depends on a datagram.
 */
#include <errno.h>
#include <string.h>

#include "zcperf.h"

#define DGRAM_MAGIC	  0x5a435044u /* "ZCPD" */
#define PORT_MAGIC	  0x5a435055u /* "ZCPU" */
#define END_MAGIC	  0x5a435045u /* "ZCPE" */
#define RESULT_MAGIC	  0x5a435052u /* "ZCPR" */
#define PORT_LEN	  16
#define END_LEN		  32
#define RESULT_LEN	  64
#define RESULT_F_VERIFIED (1u << 0)

uint64_t udp_pattern_off(uint64_t seq, uint32_t size)
{
	return seq * size + UDP_HDR_LEN;
}

void udp_dgram_fill(uint8_t *buf, const struct udp_dgram *d, uint64_t seed)
{
	put32(buf + 0, DGRAM_MAGIC);
	put32(buf + 4, d->conn_index);
	put64(buf + 8, d->run_id);
	put64(buf + 16, d->seq);
	put32(buf + 24, d->len);
	put32(buf + 28, d->flags);
	if (d->flags & WIRE_F_PATTERN)
		pattern_fill(buf + UDP_HDR_LEN, d->len - UDP_HDR_LEN, seed,
			     udp_pattern_off(d->seq, d->len));
}

int udp_dgram_parse(const uint8_t *buf, size_t len, struct udp_dgram *d)
{
	if (len < UDP_HDR_LEN || get32(buf) != DGRAM_MAGIC)
		return -EPROTO;
	d->conn_index = get32(buf + 4);
	d->run_id = get64(buf + 8);
	d->seq = get64(buf + 16);
	d->len = get32(buf + 24);
	d->flags = get32(buf + 28);
	return 0;
}

int udp_port_send(int fd, uint16_t port)
{
	uint8_t b[PORT_LEN] = { 0 };

	put32(b, PORT_MAGIC);
	put32(b + 4, port);
	return wire_write(fd, b, sizeof(b));
}

int udp_port_recv(int fd, uint16_t *port, int timeout_ms)
{
	uint8_t b[PORT_LEN];
	int r;

	r = wire_read(fd, b, sizeof(b), timeout_ms);
	if (r)
		return r;
	if (get32(b) != PORT_MAGIC || !get32(b + 4) || get32(b + 4) > 65535)
		return -EPROTO;
	*port = (uint16_t)get32(b + 4);
	return 0;
}

int udp_end_send(int fd, uint64_t datagrams, uint64_t bytes)
{
	uint8_t b[END_LEN] = { 0 };

	put32(b, END_MAGIC);
	put64(b + 8, datagrams);
	put64(b + 16, bytes);
	return wire_write(fd, b, sizeof(b));
}

int udp_end_recv(int fd, uint64_t *datagrams, uint64_t *bytes, int timeout_ms)
{
	uint8_t b[END_LEN];
	int r;

	r = wire_read(fd, b, sizeof(b), timeout_ms);
	if (r)
		return r;
	if (get32(b) != END_MAGIC)
		return -EPROTO;
	*datagrams = get64(b + 8);
	*bytes = get64(b + 16);
	return 0;
}

int udp_result_send(int fd, const struct udp_result *r)
{
	uint8_t b[RESULT_LEN] = { 0 };

	put32(b, RESULT_MAGIC);
	put32(b + 4, r->verified ? RESULT_F_VERIFIED : 0);
	put64(b + 8, r->datagrams);
	put64(b + 16, r->lost);
	put64(b + 24, r->duplicates);
	put64(b + 32, r->out_of_order);
	put64(b + 40, r->corrupt);
	put64(b + 48, r->bytes);
	return wire_write(fd, b, sizeof(b));
}

int udp_result_recv(int fd, struct udp_result *r, int timeout_ms)
{
	uint8_t b[RESULT_LEN];
	int ret;

	ret = wire_read(fd, b, sizeof(b), timeout_ms);
	if (ret)
		return ret;
	if (get32(b) != RESULT_MAGIC)
		return -EPROTO;
	memset(r, 0, sizeof(*r));
	r->verified = get32(b + 4) & RESULT_F_VERIFIED;
	r->datagrams = get64(b + 8);
	r->lost = get64(b + 16);
	r->duplicates = get64(b + 24);
	r->out_of_order = get64(b + 32);
	r->corrupt = get64(b + 40);
	r->bytes = get64(b + 48);
	return 0;
}
