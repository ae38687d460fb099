/* SPDX-License-Identifier: MIT */
/* Receive engine internals, shared by rx.c, rx_auto.c and unit tests. */
#ifndef ZC_RX_H
#define ZC_RX_H

#include <stdint.h>

#include "zcnet.h"

/* Chosen by bench/rx.sh's zap comparison (docs/BENCHMARKS.md). */
#define ZC__RX_DEFAULT_ZAP ZC_RX_ZAP_BATCH

struct zc__rx_slot {
	uint32_t held;		/* a view of this slot is out */
	uint32_t generation;	/* tells a stale view from the current one */
	uint32_t mapped;	/* bytes from the slot start that may still
				 * have pages mapped: zap before reuse */
};

/* Auto mode: alternate short epochs of each mode, measure the receiving
 * thread's CPU per byte, then use the cheaper one for a while and measure
 * again (see rx_auto.c). */
struct zc__rx_auto {
	uint32_t active;
	uint32_t exploring;
	uint32_t epochs_left;	/* explore epochs still to run */
	uint64_t epoch_bytes;	/* bytes in the current epoch */
	uint64_t exploit_left;	/* bytes before exploring again */
	uint64_t exploit_len;	/* length of the last exploit phase */
	uint64_t cost_ns[3];	/* by mode, this exploration */
	uint64_t bytes[3];
	uint64_t mapped;	/* bytes mapped, this exploration */
	unsigned long long last_cpu;
	int last_mode;		/* mode of the read being timed, or -1 */
	uint64_t last_bytes;
	int winner;
};

struct zc_rx {
	int fd;
	uint32_t page_size;
	uint32_t requested_mode;
	uint32_t mode;		/* ZC_RX_ZEROCOPY or ZC_RX_COPY now */
	uint32_t zap;
	uint32_t features;	/* ZC_PROBE_RX_* that this socket showed */
	socklen_t zc_len;	/* bytes of the struct to pass the kernel */

	uint8_t *window;	/* nslots * slot_size, 2 MiB aligned */
	size_t window_len;
	uint32_t slot_size;
	uint32_t nslots;
	uint32_t next_slot;
	struct zc__rx_slot *slots;

	uint8_t *copy_area;	/* nslots * copy_size */
	uint32_t copy_size;	/* per slot: stragglers, or copy reads */
	uint32_t copybuf_size;	/* what the kernel may copy per call */

	uint32_t inq;		/* kernel's inq after the last call */
	uint32_t inq_known;
	uint32_t copybuf_next;	/* last call saw unmappable bytes */
	int pending_err;	/* socket error to return after the bytes */
	int eof;

	struct zc__rx_auto au;
	struct zc_rx_stats st;
};

int zc__rx_validate_opts(const struct zc_rx_opts *o, size_t page_size);
ssize_t zc__rx_zerocopy_once(struct zc_rx *rx, uint32_t slot,
			     struct zc_view *v);

void zc__rx_auto_init(struct zc_rx *rx);
/* Returns the mode for the next read. */
int zc__rx_auto_before(struct zc_rx *rx);
/* Accounts the read just done (v NULL when it returned no bytes). */
void zc__rx_auto_after(struct zc_rx *rx, int mode, const struct zc_view *v);

#endif /* ZC_RX_H */
