/* SPDX-License-Identifier: MIT */
/*
 * Auto receive mode: pick zero-copy or copy by what each costs here.
 *
 * Which is cheaper depends on the machine, not on the kernel's features: on
 * a real NIC with cold data and header split, mapping saved 2.7x CPU per MB
 * (seed 002); in a VM on loopback or veth, where data is hot in cache and
 * page-table work is dear, it can cost more (KERNEL_NOTES), and which wins
 * changes with the read size. So we measure: the receiving thread's CPU
 * time (CLOCK_THREAD_CPUTIME_ID) inside zc_rx_read() and zc_rx_release(),
 * which charges each mode with its system calls, waits, stragglers and
 * zaps. (Not with the TLB misses when the caller first touches freshly
 * mapped pages: a few microseconds per MB, against hundreds for the
 * rest.)
 *
 * Exploring runs short epochs of each mode in turn (1 MiB or 16 reads,
 * whichever comes first) and keeps one cost per byte per epoch. The first
 * 2 MiB (or 16 reads) of a connection are a warm-up, read by zero-copy and not
 * measured: a connection starts in TCP slow start with short queues, which made
 * the first epochs cost several times the steady state. Modes are compared by
 * their median epoch, so one epoch that caught softirq work or a hypervisor
 * stall cannot swing the choice. The cost of trying the worse mode grows with
 * the gap between the two, and the number of samples needed shrinks with it, so
 * exploring stops as soon as the gap is clear (MIN_PAIRS measured pairs and a
 * 25% gap), and goes on to MAX_PAIRS only when the modes are close, when trying
 * the worse one costs little.
 *
 * The cheaper mode then runs for an exploit phase (256 MiB or 4096 reads,
 * and at least 32 times what exploring read) that doubles while the choice
 * holds, after which auto measures again, so
 * a change of conditions (another sender, another path) is noticed.
 *
 * Handles on a pool share one choice (the pool's struct zc__rx_auto): a
 * pool serves the connections of one thread, on one machine and usually
 * one path, and with a hundred connections of 4 KiB messages no single
 * connection reads the 16 epochs' worth that a decision takes before its
 * run is over (bench/rpc.sh: auto stayed 10-15% behind the better mode
 * while each connection decided alone). Epochs then count every handle's
 * reads; only the warm-up stays per connection, since slow start is.
 *
 * A pool's epochs also measure more: all the thread's CPU time from the
 * epoch's first measured read to its end, not only the library's. What
 * the library's own time leaves out is not small: a copy pays the cache
 * misses of bringing the payload in, inside recv(), while mapped pages
 * are cold until the caller first reads them, outside the library. With
 * 64 KiB messages whose payload the server reads (zcperf --rpc, loopback)
 * the library's time said zero-copy cost 0.55x of copy per MiB, while the
 * thread's whole CPU per transaction was equal or a few percent higher
 * than copy's. A pool's mode is the thread's mode, so the costs in an
 * epoch belong to that mode, but for the work on views read just before a
 * switch (their release, the zap, the caller's processing) that spills
 * into the next epoch: with 100 connections each holding part of a
 * message, it made copy epochs pay for zero-copy's zaps. So a whole-thread
 * epoch first lets two reads per handle go by unmeasured (the settle),
 * then measures at least 4 reads per handle. A handle with a window of
 * its own cannot do this: in an event loop, the time between its reads
 * is mostly other connections' work.
 */
#include <string.h>

#include "internal.h"
#include "rx.h"

#define EPOCH_BYTES		(1ull << 20)
#define EPOCH_READS		16u
#define EPOCH_READS_THREAD	64u /* whole-thread epochs: at least, ... */
#define THREAD_READS_PER_HANDLE 4u  /* ... or this many per handle, */
#define SETTLE_READS_PER_HANDLE 2u  /* after these, not measured */
#define WARMUP_BYTES		(2ull << 20) /* of a new connection, not measured, */
#define WARMUP_READS		16u	     /* ... or its first reads */
#define MIN_PAIRS		3u /* measured pairs before a clear gap counts */
/* An exploit phase lasts at least this many times the bytes the
 * exploration before it read, so exploring stays ~3% of the stream even
 * when a read is 4 MiB and an epoch one read. */
#define EXPLOIT_PER_EXPLORED  32u
#define CLEAR_GAP_PCT	      25u
#define EXPLOIT_MIN	      (256ull << 20)
#define EXPLOIT_MAX	      (16ull << 30)
#define EXPLOIT_READS_PER_MIB 16u /* EXPLOIT_MIN is 4096 reads */

void zc__rx_auto_reset(struct zc__rx_auto *au)
{
	memset(au, 0, sizeof(*au));
	au->mode = ZC_RX_ZEROCOPY;
	au->winner = -1;
	au->exploring = 1;
}

static void start_exploring(struct zc__rx_auto *au)
{
	au->exploring = 1;
	au->explore_bytes = 0;
	au->nsamples[ZC_RX_ZEROCOPY] = au->nsamples[ZC_RX_COPY] = 0;
	au->epoch_bytes = 0;
	au->epoch_reads = 0;
	au->epoch_cost = 0;
	au->epoch_mapped = 0;
	au->mapped = au->explored = 0;
	au->epoch_t0 = 0;
	au->mode = ZC_RX_ZEROCOPY;
}

/* Reads a new whole-thread epoch lets go by unmeasured, for the work on
 * views read in the mode before it. */
static uint32_t settle_reads(const struct zc_rx *rx)
{
	return rx->au->whole_thread && rx->pool
		       ? SETTLE_READS_PER_HANDLE * rx->pool->win.users
		       : 0;
}

void zc__rx_auto_init(struct zc_rx *rx)
{
	rx->au_active = rx->requested_mode == ZC_RX_AUTO &&
			(rx->features & ZC_PROBE_RX_ZEROCOPY);
	rx->au_warmup_left = WARMUP_BYTES;
	rx->au_warmup_reads = WARMUP_READS;
	if (rx->pool) {
		rx->au = &rx->pool->au;
	} else {
		rx->au = &rx->own_au;
		zc__rx_auto_reset(rx->au);
	}
	if (rx->au_active)
		rx->mode = rx->au->mode;
}

/* Follows the choice, which another handle of the pool may have made. */
static void follow(struct zc_rx *rx)
{
	if (rx->mode != rx->au->mode) {
		rx->mode = rx->au->mode;
		rx->st.mode_switches++;
	}
}

static uint64_t median(const uint64_t *v, unsigned int n)
{
	uint64_t s[ZC__RX_AUTO_MAX_PAIRS], t;
	unsigned int i, j;

	/* Callers pass MIN_PAIRS..ZC__RX_AUTO_MAX_PAIRS samples. */
	if (n == 0 || n > ZC__RX_AUTO_MAX_PAIRS)
		return 0;
	for (i = 0; i < n; i++)
		s[i] = v[i];
	for (i = 1; i < n; i++)
		for (j = i; j && s[j - 1] > s[j]; j--) {
			t = s[j];
			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void exploit(struct zc__rx_auto *au, int winner)
{
	if (winner == au->winner && au->exploit_len)
		au->exploit_len = au->exploit_len * 2 > EXPLOIT_MAX
					  ? EXPLOIT_MAX
					  : au->exploit_len * 2;
	else
		au->exploit_len = EXPLOIT_MIN;
	if (au->exploit_len < EXPLOIT_PER_EXPLORED * au->explore_bytes)
		au->exploit_len = EXPLOIT_PER_EXPLORED * au->explore_bytes;
	au->winner = winner;
	au->exploit_left = au->exploit_len;
	au->exploit_reads_left =
		(uint32_t)((au->exploit_len >> 20) * EXPLOIT_READS_PER_MIB);
	au->exploring = 0;
	au->mode = (uint32_t)winner;
}

/* After each measured pair: decide when the gap is clear or samples are
 * all we will take. Returns 1 when it decided. */
static int maybe_decide(struct zc__rx_auto *au)
{
	unsigned int n = au->nsamples[ZC_RX_COPY];
	uint64_t zc, cp, lo, hi;
	int winner;

	if (n < MIN_PAIRS)
		return 0;
	zc = median(au->sample[ZC_RX_ZEROCOPY], n);
	cp = median(au->sample[ZC_RX_COPY], n);
	lo = zc < cp ? zc : cp;
	hi = zc < cp ? cp : zc;
	if (n < ZC__RX_AUTO_MAX_PAIRS && hi * 100 < lo * (100 + CLEAR_GAP_PCT))
		return 0;
	au->zerocopy_ns_per_mib = zc;
	au->copy_ns_per_mib = cp;
	winner = zc <= cp ? ZC_RX_ZEROCOPY : ZC_RX_COPY;
	/* Zero-copy epochs that mapped almost nothing (a plain sender, an
	 * unaligned MTU) only copied through the copybuf in smaller pieces
	 * than a copy read takes: nothing to gain, whatever the timing said. */
	if (au->mapped * 8 < au->explored)
		winner = ZC_RX_COPY;
	exploit(au, winner);
	return 1;
}

/* Closes the epoch that just ended, whose reads are all charged now. */
static void end_epoch(struct zc__rx_auto *au)
{
	int mode = (int)au->mode;

	if (au->epoch_bytes) {
		au->sample[mode][au->nsamples[mode]++] =
			(uint64_t)((unsigned __int128)au->epoch_cost *
				   (1u << 20) / au->epoch_bytes);
		if (mode == ZC_RX_ZEROCOPY) {
			au->mapped += au->epoch_mapped;
			au->explored += au->epoch_bytes;
		}
	}
	au->epoch_bytes = 0;
	au->epoch_reads = 0;
	au->epoch_cost = 0;
	au->epoch_mapped = 0;
	au->epoch_t0 = 0;
	/* Epochs go zero-copy, copy, zero-copy, ...: a pair ends on copy. */
	if (mode == ZC_RX_COPY && maybe_decide(au))
		return;
	au->mode = mode == ZC_RX_ZEROCOPY ? ZC_RX_COPY : ZC_RX_ZEROCOPY;
}

static int measuring(const struct zc_rx *rx);

int zc__rx_auto_before(struct zc_rx *rx)
{
	struct zc__rx_auto *au = rx->au;
	uint64_t bytes = EPOCH_BYTES;
	uint32_t reads = EPOCH_READS;
	unsigned long long now;

	if (!rx->au_active)
		return (int)rx->mode;
	if (au->whole_thread && rx->pool) {
		reads = ZC__MAX(EPOCH_READS_THREAD,
				THREAD_READS_PER_HANDLE * rx->pool->win.users);
		bytes = ZC__MAX(EPOCH_BYTES,
				(uint64_t)rx->pool->win.users << 16);
	}
	if (au->exploring &&
	    (au->epoch_bytes >= bytes || au->epoch_reads >= reads)) {
		if (au->whole_thread) {
			now = zc__sys.thread_cpu_ns();
			if (au->epoch_t0 && now >= au->epoch_t0)
				au->epoch_cost = now - au->epoch_t0;
		}
		end_epoch(au);
		au->settle_left = settle_reads(rx);
	}
	follow(rx);
	if (!au->exploring)
		return (int)rx->mode;
	if (!au->whole_thread)
		rx->au_read_start = zc__sys.thread_cpu_ns();
	else if (!au->epoch_t0 && measuring(rx))
		au->epoch_t0 = zc__sys.thread_cpu_ns();
	return (int)rx->mode;
}

/* A handle of its own is charged only while the library works for it (its
 * reads and releases): in an event loop serving many connections, the
 * time from one read of a connection to its next is mostly other
 * connections' work, which swung 1 MiB messages over 100 connections to
 * copy although zero-copy cost less (bench/rpc.sh). */
static int measuring(const struct zc_rx *rx)
{
	return rx->au_active && rx->au->exploring && !rx->au->settle_left &&
	       !(rx->au_warmup_left && rx->au_warmup_reads);
}

void zc__rx_auto_after(struct zc_rx *rx, const struct zc_view *v)
{
	struct zc__rx_auto *au = rx->au;
	uint64_t n = v ? v->len : 0;
	unsigned long long now;

	if (!rx->au_active)
		return;
	if (!au->exploring) {
		au->exploit_left =
			au->exploit_left > n ? au->exploit_left - n : 0;
		if (n && au->exploit_reads_left)
			au->exploit_reads_left--;
		if (!au->exploit_left || !au->exploit_reads_left) {
			start_exploring(au);
			au->settle_left = settle_reads(rx);
		}
		return;
	}
	if (measuring(rx) && !au->whole_thread) {
		/* A read that got nothing still cost its mode something. */
		now = zc__sys.thread_cpu_ns();
		if (now >= rx->au_read_start)
			au->epoch_cost += now - rx->au_read_start;
	}
	if (!n)
		return;
	au->explore_bytes += n;
	if (au->settle_left) {
		au->settle_left--;
		return;
	}
	if (rx->au_warmup_left && rx->au_warmup_reads) {
		rx->au_warmup_left =
			rx->au_warmup_left > n ? rx->au_warmup_left - n : 0;
		rx->au_warmup_reads--;
		return;
	}
	au->epoch_bytes += n;
	au->epoch_reads++;
	au->epoch_mapped += v->mapped_len;
}

/* Work outside a read (a release's zap, the message layer's calls) is
 * charged to a handle's own epoch only when its last read ran in the
 * epoch's mode; a pool's whole-thread epochs count it already. */
unsigned long long zc__rx_auto_clock(const struct zc_rx *rx)
{
	return measuring(rx) && !rx->au->whole_thread &&
			       rx->mode == rx->au->mode
		       ? zc__sys.thread_cpu_ns()
		       : 0;
}

void zc__rx_auto_charge(struct zc_rx *rx, unsigned long long start)
{
	unsigned long long now;

	if (!start || !measuring(rx) || rx->mode != rx->au->mode)
		return;
	now = zc__sys.thread_cpu_ns();
	if (now >= start)
		rx->au->epoch_cost += now - start;
}
