/* SPDX-License-Identifier: MIT */
/*
 * Auto receive mode: pick zero-copy or copy by what each costs here.
 *
 * Which is cheaper depends on the machine, not on the kernel's features: on
 * a real NIC with cold data and header split, mapping saved 2.7x CPU per MB
 * (seed 002); in a VM on loopback or veth, where data is hot in cache and
 * page-table work is dear, mapping costs 12-40% more (KERNEL_NOTES). So we
 * measure. Exploration runs short epochs of each mode in turn (4 MiB or 64
 * reads) and times
 * the receiving thread's CPU (CLOCK_THREAD_CPUTIME_ID) from one read to the
 * next, which charges each mode with its syscalls, zaps, TLB misses when
 * the caller touches the data, and stragglers. The cheaper mode then runs
 * for an exploit phase that doubles while the choice holds, so the cost of
 * trying the worse mode shrinks on long streams, and conditions that change
 * (another sender, another path) are noticed.
 */
#include "internal.h"
#include "rx.h"

/* An epoch ends after EPOCH_BYTES or EPOCH_READS reads, whichever comes
 * first, so a connection carrying small messages decides as soon as one
 * carrying a bulk stream (100 connections of 4 KiB requests never got
 * through 4 MiB epochs in a benchmark's run). Exploit phases likewise. */
#define EPOCH_BYTES	(4ull << 20)	/* per mode per round */
#define EPOCH_READS	64u
#define EXPLORE_EPOCHS	6u		/* Z C Z C Z C */
#define EXPLOIT_MIN	(256ull << 20)
#define EXPLOIT_MAX	(16ull << 30)
#define EXPLOIT_READS_PER_MIB 16u	/* EXPLOIT_MIN is 4096 reads */

static void start_exploring(struct zc__rx_auto *au)
{
	au->exploring = 1;
	au->epochs_left = EXPLORE_EPOCHS;
	au->epoch_bytes = 0;
	au->epoch_reads = 0;
	au->cost_ns[ZC_RX_ZEROCOPY] = au->cost_ns[ZC_RX_COPY] = 0;
	au->bytes[ZC_RX_ZEROCOPY] = au->bytes[ZC_RX_COPY] = 0;
	au->mapped = 0;
	au->last_mode = -1;
}

void zc__rx_auto_init(struct zc_rx *rx)
{
	struct zc__rx_auto *au = &rx->au;

	au->active = rx->requested_mode == ZC_RX_AUTO &&
		     (rx->features & ZC_PROBE_RX_ZEROCOPY);
	au->exploit_len = 0;
	au->winner = -1;
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

static void decide(struct zc_rx *rx)
{
	struct zc__rx_auto *au = &rx->au;
	/* Compare cost per byte without division: a/b < c/d. */
	unsigned __int128 zc = (unsigned __int128)au->cost_ns[ZC_RX_ZEROCOPY] *
			       au->bytes[ZC_RX_COPY];
	unsigned __int128 cp = (unsigned __int128)au->cost_ns[ZC_RX_COPY] *
			       au->bytes[ZC_RX_ZEROCOPY];
	int winner = zc <= cp ? ZC_RX_ZEROCOPY : ZC_RX_COPY;

	/* Zero-copy epochs that mapped almost nothing (a plain sender, an
	 * unaligned MTU) only copied through the copybuf in smaller pieces
	 * than a copy read takes: nothing to gain, whatever the timing said. */
	if (au->mapped * 8 < au->bytes[ZC_RX_ZEROCOPY])
		winner = ZC_RX_COPY;

	if (winner == au->winner && au->exploit_len)
		au->exploit_len = au->exploit_len * 2 > EXPLOIT_MAX
					  ? EXPLOIT_MAX
					  : au->exploit_len * 2;
	else
		au->exploit_len = EXPLOIT_MIN;
	au->winner = winner;
	au->exploit_left = au->exploit_len;
	au->exploit_reads_left = (au->exploit_len >> 20) * EXPLOIT_READS_PER_MIB;
	au->exploring = 0;
	set_mode(rx, winner);
}

int zc__rx_auto_before(struct zc_rx *rx)
{
	struct zc__rx_auto *au = &rx->au;
	unsigned long long now;

	if (!au->active || !au->exploring)
		return (int)rx->mode;
	now = zc__sys.thread_cpu_ns();
	if (au->last_mode >= 0 && now >= au->last_cpu) {
		au->cost_ns[au->last_mode] += now - au->last_cpu;
		au->bytes[au->last_mode] += au->last_bytes;
	}
	au->last_cpu = now;
	au->last_mode = -1;
	return (int)rx->mode;
}

void zc__rx_auto_after(struct zc_rx *rx, int mode, const struct zc_view *v)
{
	struct zc__rx_auto *au = &rx->au;
	uint64_t n = v ? v->len : 0;

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
	/* Time this read (and what the caller does with it) up to the next
	 * read; reads that got nothing are not charged to either mode. */
	if (n) {
		au->mapped += v->mapped_len;
		au->last_mode = mode;
		au->last_bytes = n;
	}
	au->epoch_bytes += n;
	au->epoch_reads += !!n;
	if (au->epoch_bytes < EPOCH_BYTES && au->epoch_reads < EPOCH_READS)
		return;
	au->epoch_bytes = 0;
	au->epoch_reads = 0;
	if (--au->epochs_left) {
		set_mode(rx, mode == ZC_RX_ZEROCOPY ? ZC_RX_COPY
						    : ZC_RX_ZEROCOPY);
		return;
	}
	/* The last epoch's final read is still untimed: it counts next
	 * round. Decide on what was measured. */
	au->last_mode = -1;
	decide(rx);
}
