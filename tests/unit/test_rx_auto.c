/* SPDX-License-Identifier: MIT */
/*
 * Auto receive mode's decisions (src/rx_auto.c), with the thread CPU clock
 * faked: each simulated read charges a cost per byte that depends on the
 * mode it ran in, and the test checks which mode auto settles on, when it
 * looks again, and that it never picks zero-copy for data that does not
 * map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "rx.h"

static unsigned long long fake_now;

static unsigned long long fake_clock(void)
{
	return fake_now;
}

struct sim {
	double ns_per_byte[3]; /* by mode */
	double mapped_share;   /* of zero-copy reads */
	uint64_t read_size;
	uint64_t zc_bytes, copy_bytes;
	uint64_t reads;
	/* Zero-copy costs this many times more over the first bytes (TCP
	 * slow start: short queues, small mappings). */
	uint64_t slow_start_bytes;
	double slow_start_factor;
	/* One read (number spike_read) costs spike_ns more (softirq work
	 * charged to the thread, a hypervisor stall). */
	uint64_t spike_read;
	double spike_ns;
	/* Copy reads take this much per read when set (larger reads). */
	uint64_t copy_read_size;
	/* Work for other connections between two reads of this one. */
	double outside_ns;
	/* The caller's work on the bytes of the read just done, by its mode
	 * (mapped pages are cold at first touch; copied bytes are not). */
	double touch_ns_per_byte[3];
};

/* An auto handle on pool, or with a window of its own (pool NULL). */
static struct zc_rx *new_pool_rx(struct zc_rx_pool *pool)
{
	struct zc_rx *rx = calloc(1, sizeof(*rx));

	assert_non_null(rx);
	rx->requested_mode = ZC_RX_AUTO;
	rx->features = ZC_PROBE_RX_ZEROCOPY;
	rx->mode = ZC_RX_ZEROCOPY;
	rx->pool = pool;
	zc__rx_auto_init(rx);
	return rx;
}

static struct zc_rx *new_auto_rx(void)
{
	return new_pool_rx(NULL);
}

/* One read as zc_rx_read() does it: ask for the mode, "read", charge the
 * caller's time until the next read to the clock, account. */
static void sim_read(struct zc_rx *rx, struct sim *s)
{
	struct zc_view v = { 0 };
	int mode = zc__rx_auto_before(rx);
	double cost;

	v.len = s->read_size;
	if (mode == ZC_RX_COPY && s->copy_read_size)
		v.len = s->copy_read_size;
	if (mode == ZC_RX_ZEROCOPY) {
		v.mapped_len = (size_t)((double)v.len * s->mapped_share);
		s->zc_bytes += v.len;
	} else {
		s->copy_bytes += v.len;
	}
	v.copied_len = v.len - v.mapped_len;
	cost = s->ns_per_byte[mode] * (double)v.len;
	if (mode == ZC_RX_ZEROCOPY &&
	    s->zc_bytes + s->copy_bytes <= s->slow_start_bytes)
		cost *= s->slow_start_factor;
	if (++s->reads == s->spike_read)
		cost += s->spike_ns;
	fake_now += (unsigned long long)cost;
	zc__rx_auto_after(rx, &v);
	fake_now += (unsigned long long)s->outside_ns;
	fake_now += (unsigned long long)(s->touch_ns_per_byte[mode] *
					 (double)v.len);
}

static void run(struct zc_rx *rx, struct sim *s, uint64_t bytes)
{
	uint64_t done;

	for (done = 0; done < bytes; done += s->read_size)
		sim_read(rx, s);
}

static int setup(void **state)
{
	zc__sys.thread_cpu_ns = fake_clock;
	fake_now = 1000;
	return 0;
}

static int teardown(void **state)
{
	zc__sys_reset();
	return 0;
}

static void test_picks_cheaper_zerocopy(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.3, 0.5 },
			 .mapped_share = 1,
			 .read_size = 512 << 10 };
	struct zc_rx *rx = new_auto_rx();

	run(rx, &s, 200ull << 20);
	assert_int_equal(rx->mode, ZC_RX_ZEROCOPY);
	/* A clear gap: three measured pairs after the warm-up, then done:
	 * 3 MiB of copy in 200. */
	assert_true(s.copy_bytes <= (3ull << 20) + s.read_size);
	assert_int_equal(rx->au->zerocopy_ns_per_mib,
			 (uint64_t)(0.3 * (1 << 20)));
	free(rx);
}

static void test_picks_cheaper_copy(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.5, 0.3 },
			 .mapped_share = 1,
			 .read_size = 512 << 10 };
	struct zc_rx *rx = new_auto_rx();

	run(rx, &s, 200ull << 20);
	assert_int_equal(rx->mode, ZC_RX_COPY);
	assert_true(rx->st.mode_switches >= 1);
	/* 2 MiB of warm-up (zero-copy, unmeasured), 3 measured epochs. */
	assert_true(s.zc_bytes <= (5ull << 20) + s.read_size);
	free(rx);
}

/* Data that does not map only goes through the copybuf in zero-copy mode:
 * copy wins even when the clock says zero-copy was a little cheaper. */
static void test_unmappable_data_means_copy(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.29, 0.3 },
			 .mapped_share = 0,
			 .read_size = 64 << 10 };
	struct zc_rx *rx = new_auto_rx();

	run(rx, &s, 64ull << 20);
	assert_int_equal(rx->mode, ZC_RX_COPY);
	free(rx);
}

/* Small reads decide by read count, not after megabytes per epoch. */
static void test_small_reads_decide(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 2.0, 1.0 },
			 .mapped_share = 1,
			 .read_size = 4096 };
	struct zc_rx *rx = new_auto_rx();

	/* 16 reads of warm-up, 3 pairs of epochs of 16 reads: 112 reads. */
	run(rx, &s, 130 * 4096);
	assert_int_equal(rx->au->exploring, 0);
	assert_int_equal(rx->mode, ZC_RX_COPY);
	free(rx);
}

/* Costs change (another sender, another path): auto notices at its next
 * exploration and switches. */
static void test_reexplores_and_follows_change(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.3, 0.5 },
			 .mapped_share = 1,
			 .read_size = 512 << 10 };
	struct zc_rx *rx = new_auto_rx();

	run(rx, &s, 100ull << 20);
	assert_int_equal(rx->mode, ZC_RX_ZEROCOPY);
	s.ns_per_byte[ZC_RX_ZEROCOPY] = 0.9;
	/* The first exploit phase is 256 MiB. */
	run(rx, &s, 300ull << 20);
	assert_int_equal(rx->mode, ZC_RX_COPY);
	free(rx);
}

/* 4 MiB reads: an epoch is one read, so exploring reads 26 MiB; the
 * exploit phase after it lasts at least 32 times that, keeping exploration
 * near 3% of the stream. */
static void test_big_reads_explore_rarely(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.1, 0.3 },
			 .mapped_share = 1,
			 .read_size = 4 << 20 };
	struct zc_rx *rx = new_auto_rx();

	/* Exploit phases of 256 and 512 MiB alone would explore three times
	 * in 1 GiB (3.5% by copy). */
	run(rx, &s, 1ull << 30);
	assert_int_equal(rx->mode, ZC_RX_ZEROCOPY);
	assert_true(s.copy_bytes * 100 <= (s.copy_bytes + s.zc_bytes) * 3);
	free(rx);
}

/* A choice that keeps winning is checked less and less often. */
static void test_exploit_grows(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.3, 0.5 },
			 .mapped_share = 1,
			 .read_size = 1 << 20 };
	struct zc_rx *rx = new_auto_rx();

	run(rx, &s, 1ull << 30);
	assert_true(rx->au->exploit_len >= (512ull << 20));
	assert_int_equal(rx->mode, ZC_RX_ZEROCOPY);
	free(rx);
}

/* Close costs: auto takes every sample it may (8 measured pairs) and
 * still picks the cheaper one, at little cost. */
static void test_close_costs_explore_longer(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.30, 0.33 },
			 .mapped_share = 1,
			 .read_size = 256 << 10 };
	struct zc_rx *rx = new_auto_rx();

	/* 2 MiB of warm-up and 3 measured pairs of 1 MiB epochs: a clear
	 * gap would have decided by now, a 10% one does not. */
	run(rx, &s, 9ull << 20);
	assert_int_equal(rx->au->exploring, 1);
	/* ... up to 8 measured pairs: 18 MiB in all. */
	run(rx, &s, 10ull << 20);
	assert_int_equal(rx->au->exploring, 0);
	assert_int_equal(rx->mode, ZC_RX_ZEROCOPY);
	free(rx);
}

/* Slow start makes zero-copy's first epochs dear; the warm-up pair is not
 * measured, so the steady state decides. */
static void test_slow_start_is_warmup(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.2, 0.5 },
			 .mapped_share = 1,
			 .read_size = 256 << 10,
			 .slow_start_bytes = 1 << 20,
			 .slow_start_factor = 10 };
	struct zc_rx *rx = new_auto_rx();

	run(rx, &s, 64ull << 20);
	assert_int_equal(rx->mode, ZC_RX_ZEROCOPY);
	free(rx);
}

/* One read that caught a 5 ms stall in a zero-copy epoch: the median
 * ignores it. Summed costs would have picked copy. */
static void test_one_spike_does_not_swing(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.2, 0.3 },
			 .mapped_share = 1,
			 .read_size = 256 << 10,
			 .spike_read = 10,
			 .spike_ns = 5e6 };
	struct zc_rx *rx = new_auto_rx();

	run(rx, &s, 64ull << 20);
	assert_int_equal(rx->mode, ZC_RX_ZEROCOPY);
	free(rx);
}

/* An event loop with many connections: between two reads of this one it
 * spends 2 ms on others. Copy reads twice as much per call; charged from
 * read to read, the others' work made copy look cheaper. */
static void test_others_work_is_not_charged(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.2, 0.3 },
			 .mapped_share = 1,
			 .read_size = 512 << 10,
			 .copy_read_size = 1 << 20,
			 .outside_ns = 2e6 };
	struct zc_rx *rx = new_auto_rx();

	run(rx, &s, 128ull << 20);
	assert_int_equal(rx->mode, ZC_RX_ZEROCOPY);
	free(rx);
}

/* A pool's auto state as zc_rx_pool_create() sets it up. */
static struct zc_rx_pool *new_pool(void)
{
	struct zc_rx_pool *pool = calloc(1, sizeof(*pool));

	assert_non_null(pool);
	zc__rx_auto_reset(&pool->au);
	pool->au.whole_thread = 1;
	return pool;
}

/*
 * A pool's handles decide together: 100 connections of 4 KiB reads, each
 * reading 40 times (160 KiB), where copy costs half of zero-copy. Alone,
 * none would get past its own warm-up and first epochs; together they
 * settle on copy, and a connection that joins later starts in copy too.
 */
static void test_pool_decides_together(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 1.0, 0.5 },
			 .mapped_share = 1,
			 .read_size = 4096 };
	struct zc_rx_pool *pool = new_pool();
	struct zc_rx *rx[101];
	unsigned int i, round;

	for (i = 0; i < 100; i++)
		rx[i] = new_pool_rx(pool);
	for (round = 0; round < 40; round++)
		for (i = 0; i < 100; i++)
			sim_read(rx[i], &s);
	assert_int_equal(pool->au.exploring, 0);
	assert_int_equal(pool->au.mode, ZC_RX_COPY);
	/* Most of the 16 MiB went by copy: warm-ups (16 reads each) ran in
	 * whatever the epoch was, and the epochs were short. */
	assert_true(s.copy_bytes > s.zc_bytes);
	rx[100] = new_pool_rx(pool);
	assert_int_equal(rx[100]->mode, ZC_RX_COPY);
	sim_read(rx[0], &s);
	assert_int_equal(rx[0]->mode, ZC_RX_COPY);

	/* Each handle alone, the same reads: still exploring at the end. */
	for (i = 0; i < 100; i++) {
		rx[i]->pool = NULL;
		zc__rx_auto_init(rx[i]);
	}
	for (round = 0; round < 40; round++)
		for (i = 0; i < 100; i++)
			sim_read(rx[i], &s);
	assert_int_equal(rx[0]->au->exploring, 1);
	for (i = 0; i <= 100; i++)
		free(rx[i]);
	free(pool);
}

/* A pool's epochs count the whole thread, so the caller's work that a
 * mode causes counts too: zero-copy is cheaper inside the library here
 * (0.3 against 0.5 ns a byte) but its cold pages cost the caller 0.6 ns a
 * byte at first touch, against 0.1 for bytes a copy just brought in. The
 * pool picks copy; a handle of its own, which sees only the library's
 * time, picks zero-copy. Releases are not timed apart on a pool. */
static void test_pool_counts_callers_work(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.3, 0.5 },
			 .mapped_share = 1,
			 .read_size = 64 << 10,
			 .touch_ns_per_byte = { 0, 0.6, 0.1 } };
	struct zc_rx_pool *pool = new_pool();
	struct zc_rx *rx[4], *own;
	unsigned long long t;
	unsigned int i, k;

	for (i = 0; i < 4; i++)
		rx[i] = new_pool_rx(pool);
	pool->win.users = 4;
	/* When an epoch ends, the next one lets 2 reads per handle settle
	 * before it counts any. */
	for (k = 0; !pool->au.nsamples[ZC_RX_ZEROCOPY]; k++)
		sim_read(rx[k % 4], &s);
	assert_int_equal(pool->au.mode, ZC_RX_COPY);
	assert_int_equal(pool->au.epoch_reads, 0);
	for (i = 1; i < 8; i++, k++) {
		sim_read(rx[k % 4], &s);
		assert_int_equal(pool->au.epoch_reads, 0);
	}
	sim_read(rx[k % 4], &s);
	assert_int_equal(pool->au.epoch_reads, 1);
	for (k = 0; k < 2048; k++)
		sim_read(rx[k % 4], &s);
	assert_int_equal(pool->au.exploring, 0);
	assert_int_equal(pool->au.mode, ZC_RX_COPY);
	assert_true(pool->au.zerocopy_ns_per_mib > pool->au.copy_ns_per_mib);
	t = zc__rx_auto_clock(rx[0]);
	assert_int_equal(t, 0);

	own = new_auto_rx();
	run(own, &s, 64ull << 20);
	assert_int_equal(own->au->exploring, 0);
	assert_int_equal(own->mode, ZC_RX_ZEROCOPY);
	for (i = 0; i < 4; i++)
		free(rx[i]);
	free(own);
	free(pool);
}

/* A kernel without receive zero-copy: auto is plain copy, never explores. */
static void test_no_kernel_support(void **state)
{
	struct sim s = { .ns_per_byte = { 0, 0.1, 0.5 },
			 .mapped_share = 1,
			 .read_size = 512 << 10 };
	struct zc_rx *rx = calloc(1, sizeof(*rx));

	rx->requested_mode = ZC_RX_AUTO;
	rx->mode = ZC_RX_COPY;
	zc__rx_auto_init(rx);
	run(rx, &s, 64ull << 20);
	assert_int_equal(rx->mode, ZC_RX_COPY);
	assert_int_equal(s.zc_bytes, 0);
	free(rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_picks_cheaper_zerocopy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_picks_cheaper_copy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unmappable_data_means_copy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_reads_decide, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_reexplores_and_follows_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exploit_grows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_kernel_support, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_costs_explore_longer,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_start_is_warmup,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_spike_does_not_swing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_reads_explore_rarely,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_others_work_is_not_charged,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_decides_together,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_counts_callers_work,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
