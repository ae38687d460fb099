/* SPDX-License-Identifier: MIT */
/*
 * What every receive loop shares: the clocks (from the first byte to the
 * end of the stream, on the receiving thread, as tcp_mmap measures), the
 * integrity check, and the end-of-stream checks.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "zcperf.h"

int rx_wait_first(struct rx_conn *c, struct rusage *ru0)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int r;

	do {
		r = poll(&pfd, 1, -1);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		conn_error_set(&c->error, "poll", errno);
		return -errno;
	}
	rusage_now(RUSAGE_THREAD, ru0);
	c->t_first = now_s();
	return 0;
}

void rx_finish_clock(struct rx_conn *c, const struct rusage *ru0)
{
	struct rusage ru1;

	c->t_end = now_s();
	rusage_now(RUSAGE_THREAD, &ru1);
	rusage_delta(ru0, &ru1, &c->cpu);
}

int rx_verify(struct rx_conn *c, const uint8_t *p, size_t len, uint64_t off,
	      const char *where)
{
	size_t bad = pattern_check(p, len, c->seed, off);

	if (bad == len)
		return 0;
	snprintf(c->error.detail, sizeof(c->error.detail),
		 "mismatch at stream offset %" PRIu64
		 " in %s bytes (expected 0x%02x, got 0x%02x)",
		 off + bad, where, pattern_byte(c->seed, off + bad), p[bad]);
	conn_error_set(&c->error, "verify", EILSEQ);
	return -EILSEQ;
}

/* The stream of a timed sender ended before its announced time, with a
 * margin for the two ends' clocks starting apart: a tenth of the time,
 * and at least a second. */
static bool ended_early(const struct rx_conn *c)
{
	double planned = c->hdr.planned_ms / 1000.0;
	double margin = planned / 10 > 1 ? planned / 10 : 1;

	return c->t_end - c->t_first < planned - margin;
}

void rx_conn_run(struct rx_conn *c)
{
	const struct cfg *cfg = c->cfg;
	bool checking = cfg->verify && (c->hdr.flags & WIRE_F_PATTERN);
	int r;

	c->seed = pattern_seed(c->hdr.run_id, c->hdr.conn_index);
	c->final_mode = cfg->rx;
	/* The loops check only when c->verified is set on entry. */
	c->verified = checking;
	if (c->hdr.flags & WIRE_F_UDP)
		r = rx_udp_loop(c);
	else if (cfg->rx == RX_RAW)
		r = rx_raw_loop(c);
	else
		r = rx_lib_loop(c);
	if (interrupted()) {
		/* SIGINT: the stream did not end, so there is no length to
		 * check; what arrived was checked all the same. */
		r = interrupt_absorb(&c->error, r);
		if (r)
			c->verified = false;
		return;
	}
	if (!r && !(c->hdr.flags & WIRE_F_UDP) && c->hdr.planned_bytes &&
	    c->bytes != c->hdr.planned_bytes) {
		/* The sender announced its length: a clean end before it
		 * (or data after it) is lost or invented data. */
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "stream ended after %" PRIu64 " of %" PRIu64
			 " bytes the sender announced",
			 c->bytes, c->hdr.planned_bytes);
		conn_error_set(&c->error, "receive", EPROTO);
		r = -EPROTO;
	}
	if (!r && !(c->hdr.flags & WIRE_F_UDP) && !c->hdr.planned_bytes &&
	    c->hdr.planned_ms && ended_early(c)) {
		/* A timed sender has no length to announce; a stream that
		 * ends long before its announced time is a sender that died
		 * (kill -9 closes with a FIN like a clean end). */
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "stream ended after %.1f s of the %.1f s the sender "
			 "announced",
			 c->t_end - c->t_first, c->hdr.planned_ms / 1000.0);
		conn_error_set(&c->error, "receive", EPROTO);
		r = -EPROTO;
	}
	if (r)
		c->verified = false;
}
