/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of MSG_ZEROCOPY completion ranges (src/tx_ranges.c): which
 * send ids a notification [lo, hi] completes when ranges are coalesced,
 * out of order, duplicated, bogus, or wrap past 2^32.
 *
 * Every test records the ids the callback saw, in order, and checks them
 * and the anomaly counters against what the kernel's behaviour implies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tx.h"

#define MAX_SEEN 4096

static struct {
	uint32_t ids[MAX_SEEN];
	unsigned int n;
} seen;

static void record(void *arg, uint32_t id)
{
	(void)arg;
	assert_true(seen.n < MAX_SEEN);
	seen.ids[seen.n++] = id;
}

static int setup(void **state)
{
	memset(&seen, 0, sizeof(seen));
	return 0;
}

/* Hands out n ids and checks they are consecutive from the current next. */
static void add(struct zc__tx_ranges *r, uint32_t n)
{
	uint32_t i, want = r->next;

	for (i = 0; i < n; i++) {
		assert_false(zc__tx_ranges_full(r));
		assert_int_equal(zc__tx_ranges_add(r), (uint32_t)(want + i));
	}
}

static uint32_t complete(struct zc__tx_ranges *r, uint32_t lo, uint32_t hi)
{
	return zc__tx_ranges_complete(r, lo, hi, record, NULL);
}

static void assert_seen(const uint32_t *ids, unsigned int n)
{
	unsigned int i;

	assert_int_equal(seen.n, n);
	for (i = 0; i < n; i++)
		assert_int_equal(seen.ids[i], ids[i]);
	seen.n = 0;
}

static void test_init_rejects(void **state)
{
	struct zc__tx_ranges r;

	assert_int_equal(zc__tx_ranges_init(&r, 0, 0), -22);
	assert_int_equal(zc__tx_ranges_init(&r, 1, 0), -22);
	assert_int_equal(zc__tx_ranges_init(&r, 48, 0), -22);
	assert_int_equal(zc__tx_ranges_init(&r, 64, 0), 0);
	zc__tx_ranges_fini(&r);
}

static void test_in_order_singles(void **state)
{
	struct zc__tx_ranges r;
	const uint32_t want[] = { 0, 1, 2 };

	assert_int_equal(zc__tx_ranges_init(&r, 8, 0), 0);
	add(&r, 3);
	assert_int_equal(r.pending, 3);
	assert_int_equal(complete(&r, 0, 0), 1);
	assert_int_equal(complete(&r, 1, 1), 1);
	assert_int_equal(complete(&r, 2, 2), 1);
	assert_seen(want, 3);
	assert_int_equal(r.head, 3);
	assert_int_equal(r.pending, 0);
	assert_int_equal(zc__tx_ranges_span(&r), 0);
	assert_int_equal(r.out_of_order + r.duplicates + r.unknown, 0);
	zc__tx_ranges_fini(&r);
}

/* skb_zerocopy_notify_extend() merges consecutive notifications into one
 * range: one message completes many sends. */
static void test_coalesced(void **state)
{
	struct zc__tx_ranges r;
	uint32_t want[6] = { 0, 1, 2, 3, 4, 5 };

	assert_int_equal(zc__tx_ranges_init(&r, 8, 0), 0);
	add(&r, 6);
	assert_int_equal(complete(&r, 0, 5), 6);
	assert_seen(want, 6);
	assert_int_equal(r.head, 6);
	assert_int_equal(r.pending, 0);
	zc__tx_ranges_fini(&r);
}

/* A later range arrives first (UDP, or a TCP segment freed late): its ids
 * complete at once, head waits at the gap until the earlier range fills
 * it, and the gap is counted. */
static void test_out_of_order_gap(void **state)
{
	struct zc__tx_ranges r;
	const uint32_t first[] = { 3, 4 }, second[] = { 0, 1, 2 };
	const uint32_t third[] = { 5 };

	assert_int_equal(zc__tx_ranges_init(&r, 8, 0), 0);
	add(&r, 6);
	assert_int_equal(complete(&r, 3, 4), 2);
	assert_seen(first, 2);
	assert_int_equal(r.head, 0);
	assert_int_equal(r.pending, 4);
	assert_int_equal(r.out_of_order, 1);
	/* Still six ids in the window: the gap holds it open. */
	assert_int_equal(zc__tx_ranges_span(&r), 6);
	assert_int_equal(complete(&r, 0, 2), 3);
	assert_seen(second, 3);
	assert_int_equal(r.head, 5);
	assert_int_equal(r.out_of_order, 1);
	assert_int_equal(complete(&r, 5, 5), 1);
	assert_seen(third, 1);
	assert_int_equal(r.head, 6);
	assert_int_equal(r.pending, 0);
	assert_int_equal(r.duplicates + r.unknown, 0);
	zc__tx_ranges_fini(&r);
}

/* Several holes filled in reverse order. */
static void test_reverse_order(void **state)
{
	struct zc__tx_ranges r;
	uint32_t id;

	assert_int_equal(zc__tx_ranges_init(&r, 16, 0), 0);
	add(&r, 10);
	for (id = 10; id-- > 0;) {
		assert_int_equal(complete(&r, id, id), 1);
		assert_int_equal(seen.ids[seen.n - 1], id);
		assert_int_equal(r.head, id ? 0 : 10);
	}
	assert_int_equal(r.out_of_order, 9);
	assert_int_equal(r.pending, 0);
	zc__tx_ranges_fini(&r);
}

/* The 32-bit counter wraps: ids ...fffe, ...ffff, 0, 1; the kernel's range
 * then has hi < lo numerically. */
static void test_wrap(void **state)
{
	struct zc__tx_ranges r;
	const uint32_t want[] = { 0xfffffffeu, 0xffffffffu, 0, 1 };

	assert_int_equal(zc__tx_ranges_init(&r, 8, 0xfffffffeu), 0);
	add(&r, 4);
	assert_int_equal(r.next, 2);
	assert_int_equal(zc__tx_ranges_span(&r), 4);
	assert_int_equal(complete(&r, 0xfffffffeu, 1), 4);
	assert_seen(want, 4);
	assert_int_equal(r.head, 2);
	assert_int_equal(r.pending, 0);
	assert_int_equal(r.out_of_order + r.duplicates + r.unknown, 0);
	zc__tx_ranges_fini(&r);
}

/* Wrap with the pieces out of order: [0, 1] before [fffffffe, ffffffff]. */
static void test_wrap_out_of_order(void **state)
{
	struct zc__tx_ranges r;
	const uint32_t a[] = { 0, 1 }, b[] = { 0xfffffffeu, 0xffffffffu };

	assert_int_equal(zc__tx_ranges_init(&r, 8, 0xfffffffeu), 0);
	add(&r, 4);
	assert_int_equal(complete(&r, 0, 1), 2);
	assert_seen(a, 2);
	assert_int_equal(r.head, 0xfffffffeu);
	assert_int_equal(r.out_of_order, 1);
	assert_int_equal(complete(&r, 0xfffffffeu, 0xffffffffu), 2);
	assert_seen(b, 2);
	assert_int_equal(r.head, 2);
	assert_int_equal(r.pending, 0);
	zc__tx_ranges_fini(&r);
}

/* Many wraps: a long run of sends with batches completing, slot reuse
 * across the array many times, head never lost. */
static void test_long_run_across_wrap(void **state)
{
	struct zc__tx_ranges r;
	uint32_t start = 0xffffff00u, i, lo;

	assert_int_equal(zc__tx_ranges_init(&r, 32, start), 0);
	for (i = 0; i < 1000; i++) {
		add(&r, 7);
		lo = r.next - 7;
		/* complete the batch in two pieces, newest first */
		assert_int_equal(complete(&r, lo + 4, lo + 6), 3);
		assert_int_equal(complete(&r, lo, lo + 3), 4);
		assert_int_equal(r.head, r.next);
		seen.n = 0;
	}
	assert_int_equal(r.next, (uint32_t)(start + 7000));
	assert_int_equal(r.duplicates + r.unknown, 0);
	assert_int_equal(r.out_of_order, 1000);
	zc__tx_ranges_fini(&r);
}

/* An id completed twice: once while a gap keeps it in the window, once
 * after it retired. Neither completes anything again. */
static void test_duplicates(void **state)
{
	struct zc__tx_ranges r;
	const uint32_t one[] = { 1 }, zero[] = { 0 };

	assert_int_equal(zc__tx_ranges_init(&r, 8, 0), 0);
	add(&r, 3);
	assert_int_equal(complete(&r, 1, 1), 1);
	assert_seen(one, 1);
	assert_int_equal(complete(&r, 1, 1), 0);
	assert_int_equal(r.duplicates, 1);
	assert_int_equal(complete(&r, 0, 0), 1);
	assert_seen(zero, 1);
	assert_int_equal(r.head, 2);
	/* retired ids, behind head */
	assert_int_equal(complete(&r, 0, 1), 0);
	assert_int_equal(r.duplicates, 3);
	assert_int_equal(seen.n, 0);
	assert_int_equal(r.pending, 1);
	assert_int_equal(r.unknown, 0);
	zc__tx_ranges_fini(&r);
}

/* A range that overlaps the window partly: only the pending ids complete,
 * the rest are counted as never sent. */
static void test_unknown_ids(void **state)
{
	struct zc__tx_ranges r;
	const uint32_t want[] = { 2, 3 };

	assert_int_equal(zc__tx_ranges_init(&r, 8, 0), 0);
	add(&r, 4);
	assert_int_equal(complete(&r, 0, 1), 2);
	seen.n = 0;
	assert_int_equal(complete(&r, 2, 9), 2);
	assert_seen(want, 2);
	assert_int_equal(r.unknown, 6);
	assert_int_equal(r.head, 4);
	/* wholly ahead */
	assert_int_equal(complete(&r, 100, 101), 0);
	assert_int_equal(r.unknown, 8);
	assert_int_equal(r.pending, 0);
	zc__tx_ranges_fini(&r);
}

/* Nonsense from a broken kernel or a fake: the whole 2^32 circle in one
 * range (hi = lo - 1) must finish at once and complete only what is
 * pending. */
static void test_whole_circle(void **state)
{
	struct zc__tx_ranges r;

	assert_int_equal(zc__tx_ranges_init(&r, 8, 5), 0);
	add(&r, 3);
	assert_int_equal(complete(&r, 7, 6), 3);
	assert_int_equal(seen.n, 3);
	/* visited in the range's order: 7, then wrapped 5, 6 */
	assert_int_equal(seen.ids[0], 7);
	assert_int_equal(seen.ids[1], 5);
	assert_int_equal(seen.ids[2], 6);
	assert_int_equal(r.unknown + r.duplicates, (1ull << 32) - 3);
	assert_int_equal(r.pending, 0);
	assert_int_equal(r.head, 8);
	zc__tx_ranges_fini(&r);
}

/* The window is full at capacity ids; one more id needs head to move. */
static void test_full(void **state)
{
	struct zc__tx_ranges r;

	assert_int_equal(zc__tx_ranges_init(&r, 4, 0), 0);
	add(&r, 4);
	assert_true(zc__tx_ranges_full(&r));
	/* completing a later id does not free a slot: head is stuck */
	assert_int_equal(complete(&r, 3, 3), 1);
	assert_true(zc__tx_ranges_full(&r));
	assert_int_equal(complete(&r, 0, 0), 1);
	assert_false(zc__tx_ranges_full(&r));
	add(&r, 1);
	assert_true(zc__tx_ranges_full(&r));
	/* the reused slot of id 4 (was id 0) starts pending */
	assert_int_equal(complete(&r, 1, 4), 3);
	assert_int_equal(r.duplicates, 1); /* id 3 again */
	assert_int_equal(r.pending, 0);
	assert_int_equal(r.head, 5);
	zc__tx_ranges_fini(&r);
}

static void test_range_has(void **state)
{
	assert_true(zc__tx_range_has(3, 5, 3));
	assert_true(zc__tx_range_has(3, 5, 5));
	assert_false(zc__tx_range_has(3, 5, 6));
	assert_false(zc__tx_range_has(3, 5, 2));
	assert_true(zc__tx_range_has(0xfffffffeu, 1, 0xffffffffu));
	assert_true(zc__tx_range_has(0xfffffffeu, 1, 0));
	assert_false(zc__tx_range_has(0xfffffffeu, 1, 2));
	assert_false(zc__tx_range_has(0xfffffffeu, 1, 0xfffffffdu));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_init_rejects, setup),
		cmocka_unit_test_setup(test_in_order_singles, setup),
		cmocka_unit_test_setup(test_coalesced, setup),
		cmocka_unit_test_setup(test_out_of_order_gap, setup),
		cmocka_unit_test_setup(test_reverse_order, setup),
		cmocka_unit_test_setup(test_wrap, setup),
		cmocka_unit_test_setup(test_wrap_out_of_order, setup),
		cmocka_unit_test_setup(test_long_run_across_wrap, setup),
		cmocka_unit_test_setup(test_duplicates, setup),
		cmocka_unit_test_setup(test_unknown_ids, setup),
		cmocka_unit_test_setup(test_whole_circle, setup),
		cmocka_unit_test_setup(test_full, setup),
		cmocka_unit_test_setup(test_range_has, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
