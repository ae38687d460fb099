/* SPDX-License-Identifier: MIT */
/*
 * MSG_ZEROCOPY completion ranges: which send ids a notification completes.
 *
 * The kernel gives each zero-copy send that accepts bytes the socket's next
 * 32-bit counter value (msg_zerocopy_realloc, 4.14; a send that fails gives
 * it back in msg_zerocopy_put_abort). A notification is a
 * sock_extended_err whose [ee_info, ee_data] is an inclusive range of ids;
 * the kernel extends the range of the last queued notification when the
 * next one follows on (skb_zerocopy_notify_extend), so one message may
 * complete thousands of sends, ranges can arrive out of order (UDP, or
 * retransmitted TCP segments freed late), and hi < lo numerically when the
 * counter wrapped past 2^32.
 *
 * All arithmetic is modulo 2^32 relative to head, the oldest id not yet
 * retired. The circle splits into three arcs: the window [head, next) of
 * ids handed out, the half of the rest just ahead of next (ids never handed
 * out: a bug or a fake) and the half behind head (retired ids: duplicates).
 */
#include <errno.h>
#include <stdlib.h>

#include "tx.h"

#define CIRCLE (1ull << 32)

int zc__tx_ranges_init(struct zc__tx_ranges *r, uint32_t capacity,
		       uint32_t first)
{
	if (capacity < 2 || (capacity & (capacity - 1)))
		return -EINVAL;
	*r = (struct zc__tx_ranges){ 0 };
	r->done = calloc(capacity, 1);
	if (!r->done)
		return -ENOMEM;
	r->mask = capacity - 1;
	r->head = r->next = first;
	return 0;
}

void zc__tx_ranges_fini(struct zc__tx_ranges *r)
{
	free(r->done);
	r->done = NULL;
}

uint32_t zc__tx_ranges_span(const struct zc__tx_ranges *r)
{
	return r->next - r->head;
}

bool zc__tx_ranges_full(const struct zc__tx_ranges *r)
{
	return zc__tx_ranges_span(r) > r->mask;
}

uint32_t zc__tx_ranges_add(struct zc__tx_ranges *r)
{
	uint32_t id = r->next++;

	r->done[id & r->mask] = 0;
	r->pending++;
	return id;
}

bool zc__tx_range_has(uint32_t lo, uint32_t hi, uint32_t id)
{
	return id - lo <= hi - lo;
}

/* Length of the overlap of the circular arc [s, s + n) with the linear
 * interval [a, b), 0 <= a <= b <= 2^32, s < 2^32, n <= 2^32. The arc may
 * run past 2^32 and continue from 0. */
static uint64_t overlap(uint64_t s, uint64_t n, uint64_t a, uint64_t b)
{
	uint64_t lo, hi, total = 0;

	lo = s > a ? s : a;
	hi = s + n < b ? s + n : b;
	if (hi > lo)
		total += hi - lo;
	if (s + n > CIRCLE) {
		hi = s + n - CIRCLE < b ? s + n - CIRCLE : b;
		if (hi > a)
			total += hi - a;
	}
	return total;
}

/* Completes window positions [from, to) relative to head. */
static uint32_t mark(struct zc__tx_ranges *r, uint64_t from, uint64_t to,
		     zc__tx_range_cb cb, void *arg, uint64_t *newest)
{
	uint32_t done = 0;
	uint64_t rel;

	for (rel = from; rel < to; rel++) {
		uint32_t id = r->head + (uint32_t)rel;
		uint8_t *d = &r->done[id & r->mask];

		if (*d) {
			r->duplicates++;
			continue;
		}
		*d = 1;
		r->pending--;
		done++;
		if (rel + 1 > *newest)
			*newest = rel + 1;
		if (cb)
			cb(arg, id);
	}
	return done;
}

uint32_t zc__tx_ranges_complete(struct zc__tx_ranges *r, uint32_t lo,
				uint32_t hi, zc__tx_range_cb cb, void *arg)
{
	uint64_t span = zc__tx_ranges_span(r);
	uint64_t s = (uint32_t)(lo - r->head);
	uint64_t n = (uint64_t)(uint32_t)(hi - lo) + 1;
	uint64_t ahead_end = span + (CIRCLE - span) / 2;
	uint64_t newest = 0, retired = 0;
	uint32_t done = 0;

	/* The arc in window coordinates: [s, s + n), wrapping at 2^32.
	 * First the part that starts at s, then the wrapped part from 0, so
	 * ids are visited in the range's own order. */
	if (s < span)
		done += mark(r, s, s + n < span ? s + n : span, cb, arg,
			     &newest);
	if (s + n > CIRCLE)
		done += mark(r, 0,
			     s + n - CIRCLE < span ? s + n - CIRCLE : span, cb,
			     arg, &newest);
	r->unknown += overlap(s, n, span, ahead_end);
	r->duplicates += overlap(s, n, ahead_end, CIRCLE);

	/* Retire the completed prefix of the window. */
	while (r->head != r->next && r->done[r->head & r->mask]) {
		r->done[r->head & r->mask] = 0;
		r->head++;
		retired++;
	}
	/* Something completed beyond an id that is still pending: a gap,
	 * to be filled by a later range. */
	if (done && newest > retired)
		r->out_of_order++;
	return done;
}
