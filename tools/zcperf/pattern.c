/* SPDX-License-Identifier: MIT */
/*
 * The integrity pattern. The stream is a sequence of little-endian 64-bit
 * words; word i (covering stream offsets 8i..8i+7) is i * K ^ seed, with K
 * odd so that no two words of one stream are equal, and the seed drawn from
 * the sender's run id and the connection index so that two connections'
 * streams differ. A lost, repeated, reordered or misplaced piece of the
 * stream therefore never matches, whatever its length and alignment, and
 * both sides compute any word from its offset alone: the receiver can check
 * views that start anywhere (mapped pages, then copied stragglers).
 *
 * Filling and checking run word-wise at memory speed; only the ragged ends
 * of a piece go byte by byte.
 */
#include <endian.h>
#include <string.h>

#include "zcperf.h"

#define PATTERN_K 0x9e3779b97f4a7c15ull

/* splitmix64's finaliser: spreads run id and index over all bits. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t pattern_seed(uint64_t run_id, uint32_t conn_index)
{
	return mix64(run_id + PATTERN_K * ((uint64_t)conn_index + 1));
}

static inline uint64_t word_at(uint64_t seed, uint64_t idx)
{
	return idx * PATTERN_K ^ seed;
}

uint8_t pattern_byte(uint64_t seed, uint64_t off)
{
	return (uint8_t)(word_at(seed, off >> 3) >> ((off & 7) * 8));
}

void pattern_fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t off)
{
	uint64_t acc, w;
	size_t i = 0;

	for (; i < len && ((off + i) & 7); i++)
		buf[i] = pattern_byte(seed, off + i);
	acc = ((off + i) >> 3) * PATTERN_K;
	for (; i + 8 <= len; i += 8) {
		w = htole64(acc ^ seed);
		memcpy(buf + i, &w, 8);
		acc += PATTERN_K;
	}
	for (; i < len; i++)
		buf[i] = pattern_byte(seed, off + i);
}

/* Blocks of words are compared with their differences OR-ed together, so
 * the loop has no branch per word; a block that differs is searched byte
 * by byte for the first bad offset. */
#define CHECK_BLOCK 64u /* words */

static size_t first_bad_byte(const uint8_t *buf, size_t from, size_t to,
			     uint64_t seed, uint64_t off)
{
	size_t i;

	for (i = from; i < to; i++)
		if (buf[i] != pattern_byte(seed, off + i))
			return i;
	return to;
}

size_t pattern_check(const uint8_t *buf, size_t len, uint64_t seed,
		     uint64_t off)
{
	uint64_t acc, w, diff;
	size_t i = 0, start, j;

	while (i < len && ((off + i) & 7)) {
		if (buf[i] != pattern_byte(seed, off + i))
			return i;
		i++;
	}
	acc = ((off + i) >> 3) * PATTERN_K;
	while (i + sizeof(w) * CHECK_BLOCK <= len) {
		start = i;
		diff = 0;
		for (j = 0; j < CHECK_BLOCK; j++, i += 8) {
			memcpy(&w, buf + i, 8);
			diff |= le64toh(w) ^ (acc ^ seed);
			acc += PATTERN_K;
		}
		if (diff)
			return first_bad_byte(buf, start, i, seed, off);
	}
	return first_bad_byte(buf, i, len, seed, off);
}
