/* SPDX-License-Identifier: MIT */
/*
 * The receive loop on the library: zc_rx_read, check the view (mapped
 * pages, then the copied bytes that followed them in the stream),
 * zc_rx_release, until the end of the stream. The socket is blocking, so
 * zc_rx_read waits for data itself.
 */
#include <errno.h>
#include <stdio.h>

#include "zcperf.h"

int rx_lib_loop(struct rx_conn *c)
{
	const struct cfg *cfg = c->cfg;
	struct zc_rx_opts o = { 0 };
	struct rusage ru0;
	struct zc_view v = { 0 };
	struct zc_rx *rx;
	uint64_t off = 0;
	ssize_t n;
	int r;

	o.mode = (uint32_t)cfg->rx;
	o.flags = cfg->rcvlowat ? ZC_RX_F_RCVLOWAT : 0;
	o.slot_size = cfg->chunk;
	o.slots = cfg->slots;
	o.copybuf_size = cfg->copybuf;
	o.zap = (uint32_t)cfg->zap;
	r = zc_rx_create(&rx, c->fd, &o);
	if (r) {
		conn_error_set(&c->error, "zc_rx_create", -r);
		return r;
	}
	r = rx_wait_first(c, &ru0);
	if (r)
		goto out;
	for (;;) {
		/* SIGINT: stop at a view's edge; every byte counted was
		 * checked. */
		if (interrupted())
			break;
		n = zc_rx_read(rx, &v);
		if (n == -EAGAIN || n == -EINTR)
			continue;
		if (n < 0) {
			r = (int)n;
			conn_error_set(&c->error, "receive", (int)-n);
			break;
		}
		if (n == 0)
			break;
		if ((size_t)n != v.len ||
		    v.mapped_len + v.copied_len != v.len) {
			/* Never count bytes no view shows: that would hide
			 * lost data from the check. */
			snprintf(c->error.detail, sizeof(c->error.detail),
				 "zc_rx_read returned %zd but the view holds "
				 "%zu mapped + %zu copied bytes (library bug)",
				 n, v.mapped_len, v.copied_len);
			conn_error_set(&c->error, "receive", EPROTO);
			r = -EPROTO;
			break;
		}
		if (c->verified) {
			if (v.mapped_len)
				r = rx_verify(c, v.mapped, v.mapped_len, off,
					      "mapped");
			if (!r && v.copied_len)
				r = rx_verify(c, v.copied, v.copied_len,
					      off + v.mapped_len, "copied");
		}
		off += (uint64_t)n;
		c->mapped += v.mapped_len;
		__atomic_store_n(&c->live_bytes, off, __ATOMIC_RELAXED);
		__atomic_store_n(&c->live_mapped, c->mapped, __ATOMIC_RELAXED);
		zc_rx_release(rx, &v);
		if (r)
			break;
	}
	rx_finish_clock(c, &ru0);
out:
	c->bytes = off;
	zc_rx_get_stats(rx, &c->st);
	c->final_mode = zc_rx_mode(rx);
	c->copybuf = c->st.bytes_copybuf;
	c->read_bytes = c->st.bytes_read;
	zc_rx_free(rx);
	return r;
}
