/* SPDX-License-Identifier: MIT */
/*
 * A latency histogram with log-linear buckets, as HdrHistogram keeps them:
 * values below 2^(SUB+1) ns have a bucket each, and every power of two
 * above is cut into 2^SUB equal buckets. With SUB = 6 a bucket is at most
 * 1/64 of its value wide, and reporting its middle is within 0.8 % of any
 * value in it, which is exact enough for p99.9 of microsecond latencies;
 * the whole table is 30 KiB, cheap to keep per thread and merge.
 */

#include "zcperf.h"

#define SUB_COUNT (1u << HIST_SUB_BITS)

static unsigned int bucket_of(uint64_t v)
{
	unsigned int msb, shift;

	if (v < 2ull * SUB_COUNT)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	/* v >> shift lies in [SUB_COUNT, 2 * SUB_COUNT). */
	return shift * SUB_COUNT + (unsigned int)(v >> shift);
}

/* The middle of bucket i: the value a percentile in it reports. */
static uint64_t bucket_mid(unsigned int i)
{
	unsigned int shift;
	uint64_t m;

	if (i < 2 * SUB_COUNT)
		return i;
	shift = i / SUB_COUNT - 1;
	m = i % SUB_COUNT + SUB_COUNT;
	return (m << shift) + ((1ull << shift) - 1) / 2;
}

void hist_add(struct hist *h, uint64_t ns)
{
	unsigned int i = bucket_of(ns);

	if (i >= HIST_BUCKETS)
		i = HIST_BUCKETS - 1;
	h->b[i]++;
	if (!h->count || ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->count++;
	h->sum_ns += ns;
}

void hist_merge(struct hist *into, const struct hist *h)
{
	unsigned int i;

	if (!h->count)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		into->b[i] += h->b[i];
	if (!into->count || h->min_ns < into->min_ns)
		into->min_ns = h->min_ns;
	if (h->max_ns > into->max_ns)
		into->max_ns = h->max_ns;
	into->count += h->count;
	into->sum_ns += h->sum_ns;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0, v;
	unsigned int i;

	if (!h->count)
		return 0;
	/* The smallest value with at least p of all at or below it. */
	rank = (uint64_t)(p * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	v = bucket_mid(i);
	/* Never report outside what was seen. */
	if (v < h->min_ns)
		v = h->min_ns;
	if (v > h->max_ns)
		v = h->max_ns;
	return v;
}
