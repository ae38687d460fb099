/* SPDX-License-Identifier: MIT */
/*
 * zcnc_gen BYTES [SEED]      writes BYTES of a deterministic pattern
 * zcnc_gen -c BYTES [SEED]   checks that stdin is exactly that pattern
 *
 * For the zcnc tests. Word i (8 bytes, little-endian) of the stream is
 * splitmix64(SEED + i), so every position has its own value: a lost,
 * duplicated or reordered page changes the bytes, and two runs with the
 * same arguments give the same bytes (unlike /dev/urandom). The check mode
 * verifies every byte at memory speed and names the first bad offset,
 * where sha256sum on this VM costs about 5 s per GiB.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Fills buf (CHUNK bytes) with the pattern words starting at *word. */
static void pattern(uint8_t *buf, uint64_t seed, uint64_t *word)
{
	size_t i, b;

	for (i = 0; i < CHUNK; i += 8) {
		uint64_t v = splitmix64(seed + (*word)++);

		for (b = 0; b < 8; b++)
			buf[i + b] = (uint8_t)(v >> (8 * b));
	}
}

static int generate(unsigned long long total, uint64_t seed)
{
	static uint8_t buf[CHUNK];
	uint64_t word = 0;
	size_t chunk, off;
	ssize_t n;

	while (total) {
		pattern(buf, seed, &word);
		chunk = total < CHUNK ? total : CHUNK;
		for (off = 0; off < chunk; off += (size_t)n) {
			n = write(STDOUT_FILENO, buf + off, chunk - off);
			if (n < 0 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n < 0) {
				/* EPIPE: the reader stopped; its check
				 * reports the difference. */
				if (errno != EPIPE)
					perror("zcnc_gen: write");
				return 1;
			}
		}
		total -= chunk;
	}
	return 0;
}

/* Reads exactly len bytes unless stdin ends; returns bytes read or -1. */
static ssize_t read_full(uint8_t *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(STDIN_FILENO, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int check(unsigned long long total, uint64_t seed)
{
	static uint8_t want[CHUNK], got[CHUNK];
	unsigned long long pos = 0;
	uint64_t word = 0;
	ssize_t n;
	size_t i;

	for (;;) {
		n = read_full(got, CHUNK);
		if (n < 0) {
			perror("zcnc_gen: read");
			return 1;
		}
		if (n == 0)
			break;
		pattern(want, seed, &word);
		if (pos + (size_t)n > total) {
			fprintf(stderr, "zcnc_gen: more than %llu bytes\n",
				total);
			return 1;
		}
		if (memcmp(want, got, (size_t)n)) {
			for (i = 0; want[i] == got[i]; i++)
				;
			fprintf(stderr,
				"zcnc_gen: byte %llu differs: 0x%02x, want "
				"0x%02x\n",
				pos + i, got[i], want[i]);
			return 1;
		}
		pos += (size_t)n;
	}
	if (pos != total) {
		fprintf(stderr, "zcnc_gen: %llu bytes, want %llu\n", pos,
			total);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long total, seed = 1;
	int checking = argc > 1 && !strcmp(argv[1], "-c");
	char *end;

	argv += checking;
	argc -= checking;
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: zcnc_gen [-c] BYTES [SEED]\n");
		return 2;
	}
	errno = 0;
	total = strtoull(argv[1], &end, 0);
	if (errno || *end || !*argv[1]) {
		fprintf(stderr, "zcnc_gen: bad size '%s'\n", argv[1]);
		return 2;
	}
	if (argc == 3) {
		seed = strtoull(argv[2], &end, 0);
		if (*end || !*argv[2]) {
			fprintf(stderr, "zcnc_gen: bad seed '%s'\n", argv[2]);
			return 2;
		}
	}
	return checking ? check(total, seed) : generate(total, seed);
}
