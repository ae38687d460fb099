/* SPDX-License-Identifier: MIT */
/*
 * Message framing internals, shared by msg.c, its unit tests and the fuzz
 * target (tests/fuzz/). Never installed.
 */
#ifndef ZC_MSG_H
#define ZC_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zcnet.h"

/* "ZCM1" in stream order. */
#define ZC__MSG_MAGIC0 'Z'
#define ZC__MSG_MAGIC1 'C'
#define ZC__MSG_MAGIC2 'M'
#define ZC__MSG_MAGIC3 '1'

/* Wire offsets, little-endian (see the layout in zcnet.h). */
#define ZC__MSG_OFF_MAGIC    0
#define ZC__MSG_OFF_VERSION  4
#define ZC__MSG_OFF_FLAGS    6
#define ZC__MSG_OFF_TYPE     8
#define ZC__MSG_OFF_LEN	     12
#define ZC__MSG_OFF_ID	     16
#define ZC__MSG_OFF_RESERVED 24

/* Most views one zc_msg_rx tracks: indices are 16 bits in struct zc_msg. */
#define ZC__MSG_MAX_VIEWS 65535u

/*
 * Where a zc_msg_rx gets its bytes: in production a struct zc_rx, in unit
 * tests and the fuzz target a fake that cuts a buffer into views, so that
 * the whole reassembly path runs without a socket.
 *
 * read: zc_rx_read()'s contract: bytes (> 0) with *view filled, 0 at the
 * end, -EAGAIN, -ENOBUFS (every view held) or another -errno.
 * release: zc_rx_release()'s contract.
 * set_lowat: optional; wake readers only once this many bytes are queued
 * (SO_RCVLOWAT), 0 to restore the socket's own value. Returns 1 when it
 * changed the socket, 0 when the socket already had that value, -errno.
 * max_views: the most views the source hands out at once.
 * max_lowat: the most bytes one view holds (a zc_rx slot).
 */
struct zc__msg_source {
	ssize_t (*read)(void *ctx, struct zc_view *view);
	int (*release)(void *ctx, struct zc_view *view);
	int (*set_lowat)(void *ctx, uint32_t bytes);
	void *ctx;
	uint32_t max_views;
	uint32_t max_lowat;
};

/*
 * The pure header decoder. Reads at most ZC_MSG_HDR_LEN bytes of buf.
 * Returns 0 with *hdr filled, -EAGAIN when len < ZC_MSG_HDR_LEN (more
 * bytes needed; nothing is read past len), or the error of the first check
 * that failed, in this order: magic (-EBADMSG), version
 * (-EPROTONOSUPPORT), flags (-EBADMSG), reserved (-EBADMSG), length over
 * max_payload (-EMSGSIZE). *reason (may be NULL) gets the ZC_MSG_ERR_*.
 */
int zc__msg_parse_header(const uint8_t *buf, size_t len, struct zc_msg_hdr *hdr,
			 uint32_t max_payload, int *reason);

/* zc_msg_rx_create() on any source. Returns 0 or -EINVAL, -ENOMEM. */
int zc__msg_rx_create_source(struct zc_msg_rx **mrxp,
			     const struct zc__msg_source *src,
			     const struct zc_msg_rx_opts *opts);

/* Views the handle holds now (by messages or by the parser), for tests. */
uint32_t zc__msg_rx_views_held(const struct zc_msg_rx *mrx);

#endif /* ZC_MSG_H */
