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
 * 2 MiB (or 16 reads) of a connection are a warm-up, read by zero-copy and not measured:
 * a connection starts in TCP slow start with short queues, which made the
 * first epochs cost several times the steady state. Modes are compared by their median epoch, so one epoch
 * that caught softirq work or a hypervisor stall cannot swing the choice.
 * The cost of trying the worse mode grows with the gap between the two,
 * and the number of samples needed shrinks with it, so exploring stops as
 * soon as the gap is clear (MIN_PAIRS measured pairs and a 25% gap), and
 * goes on to MAX_PAIRS only when the modes are close, when trying the
 * worse one costs little.
 *
 * The cheaper mode then runs for an exploit phase (256 MiB or 4096 reads,
 * and at least 32 times what exploring read) that doubles while the choice
 * holds, after which auto measures again, so
 * a change of conditions (another sender, another path) is noticed.
 */
#include "internal.h"
#include "rx.h"

#define EPOCH_BYTES	(1ull << 20)
#define EPOCH_READS	16u
#define WARMUP_BYTES	(2ull << 20)	/* of a new connection, not measured, */
#define WARMUP_READS	16u		/* ... or its first reads */
#define MIN_PAIRS	3u	/* measured pairs before a clear gap counts */
/* An exploit phase lasts at least this many times the bytes the
 * exploration before it read, so exploring stays ~3% of the stream even
 * when a read is 4 MiB and an epoch one read. */
#define EXPLOIT_PER_EXPLORED 32u
#define CLEAR_GAP_PCT	25u
#define EXPLOIT_MIN	(256ull << 20)
#define EXPLOIT_MAX	(16ull << 30)
#define EXPLOIT_READS_PER_MIB 16u	/* EXPLOIT_MIN is 4096 reads */

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
}

void zc__rx_auto_init(struct zc_rx *rx)
{
	struct zc__rx_auto *au = &rx->au;

	au->active = rx->requested_mode == ZC_RX_AUTO &&
		     (rx->features & ZC_PROBE_RX_ZEROCOPY);
	au->exploit_len = 0;
	au->winner = -1;
	au->warmup_left = WARMUP_BYTES;
	au->warmup_reads = WARMUP_READS;
	if (au->active)
		start_exploring(au);
}

static void set_mode(struct zc_rx *rx, int mode)
{
	if ((int)rx->mode != mode) {
		rx->mode = (uint32_t)mode;
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

static void exploit(struct zc_rx *rx, int winner)
{
	struct zc__rx_auto *au = &rx->au;

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
	set_mode(rx, winner);
}

/* After each measured pair: decide when the gap is clear or samples are
 * all we will take. Returns 1 when it decided. */
static int maybe_decide(struct zc_rx *rx)
{
	struct zc__rx_auto *au = &rx->au;
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
	rx->st.auto_zerocopy_ns_per_mib = zc;
	rx->st.auto_copy_ns_per_mib = cp;
	winner = zc <= cp ? ZC_RX_ZEROCOPY : ZC_RX_COPY;
	/* Zero-copy epochs that mapped almost nothing (a plain sender, an
	 * unaligned MTU) only copied through the copybuf in smaller pieces
	 * than a copy read takes: nothing to gain, whatever the timing said. */
	if (au->mapped * 8 < au->explored)
		winner = ZC_RX_COPY;
	exploit(rx, winner);
	return 1;
}

/* Closes the epoch that just ended, whose reads are all charged now. */
static void end_epoch(struct zc_rx *rx)
{
	struct zc__rx_auto *au = &rx->au;
	int mode = (int)rx->mode;

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
	/* Epochs go zero-copy, copy, zero-copy, ...: a pair ends on copy. */
	if (mode == ZC_RX_COPY && maybe_decide(rx))
		return;
	set_mode(rx, mode == ZC_RX_ZEROCOPY ? ZC_RX_COPY : ZC_RX_ZEROCOPY);
}

int zc__rx_auto_before(struct zc_rx *rx)
{
	struct zc__rx_auto *au = &rx->au;

	if (!au->active || !au->exploring)
		return (int)rx->mode;
	if (au->epoch_bytes >= EPOCH_BYTES || au->epoch_reads >= EPOCH_READS)
		end_epoch(rx);
	au->read_start = zc__sys.thread_cpu_ns();
	return (int)rx->mode;
}

/* Time is charged to the epoch only while the library works for this
 * handle (its reads and releases): in an event loop serving many
 * connections, the time from one read of a connection to its next is
 * mostly other connections' work, which swung 1 MiB messages over 100
 * connections to copy although zero-copy cost less (bench/rpc.sh). */
static int measuring(const struct zc__rx_auto *au)
{
	return au->active && au->exploring &&
	       !(au->warmup_left && au->warmup_reads);
}

void zc__rx_auto_after(struct zc_rx *rx, int mode, const struct zc_view *v)
{
	struct zc__rx_auto *au = &rx->au;
	uint64_t n = v ? v->len : 0;
	unsigned long long now;

	if (!au->active)
		return;
	if (!au->exploring) {
		au->exploit_left = au->exploit_left > n ? au->exploit_left - n
							: 0;
		if (n && au->exploit_reads_left)
			au->exploit_reads_left--;
		if (!au->exploit_left || !au->exploit_reads_left) {
			start_exploring(au);
			set_mode(rx, ZC_RX_ZEROCOPY);
		}
		return;
	}
	if (measuring(au)) {
		/* A read that got nothing still cost its mode something. */
		now = zc__sys.thread_cpu_ns();
		if (now >= au->read_start)
			au->epoch_cost += now - au->read_start;
	}
	if (!n)
		return;
	au->explore_bytes += n;
	if (au->warmup_left && au->warmup_reads) {
		au->warmup_left = au->warmup_left > n ? au->warmup_left - n : 0;
		au->warmup_reads--;
		return;
	}
	au->epoch_bytes += n;
	au->epoch_reads++;
	au->epoch_mapped += v->mapped_len;
	(void)mode;
}

unsigned long long zc__rx_auto_clock(const struct zc_rx *rx)
{
	return measuring(&rx->au) ? zc__sys.thread_cpu_ns() : 0;
}

void zc__rx_auto_charge(struct zc_rx *rx, unsigned long long start)
{
	unsigned long long now;

	if (!start || !measuring(&rx->au))
		return;
	now = zc__sys.thread_cpu_ns();
	if (now >= start)
		rx->au.epoch_cost += now - start;
}
