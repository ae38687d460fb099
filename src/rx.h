/* SPDX-License-Identifier: MIT */
/* Receive engine internals, shared by rx.c, rx_auto.c and unit tests. */
#ifndef ZC_RX_H
#define ZC_RX_H

#include <stdint.h>

#include "zcnet.h"

/* Chosen by bench/rx.sh's zap comparison (docs/BENCHMARKS.md). */
#define ZC__RX_DEFAULT_ZAP		ZC_RX_ZAP_EACH
#define ZC__RX_DEFAULT_SLOT_SIZE	(512u << 10)
#define ZC__RX_DEFAULT_SLOTS		8u
#define ZC__RX_MAX_SLOTS		1024u
#define ZC__RX_DEFAULT_POOL_SLOTS	64u
#define ZC__RX_MAX_POOL_SLOTS		65536u
#define ZC__RX_MAX_SLOT_SIZE		(256u << 20)
#define ZC__RX_DEFAULT_COPYBUF		(64u << 10)
#define ZC__RX_MAX_COPYBUF		(16u << 20)

struct zc__rx_slot {
	uint32_t held;		/* a view of this slot is out */
	uint32_t generation;	/* tells a stale view from the current one */
	uint32_t mapped;	/* bytes from the slot start that may still
				 * have pages mapped: zap before reuse */
	const struct zc_rx *owner; /* handle holding it (pools) */
};

/* A window and its slots: one handle's own, or a pool's (rx_window.c). */
struct zc__rx_window {
	uint8_t *base;		/* 2 MiB aligned; NULL: copy reads only */
	size_t len;
	uint32_t slot_size;
	uint32_t nslots;
	uint32_t next_slot;
	uint32_t zap;		/* enum zc_rx_zap */
	struct zc__rx_slot *slots;
	uint8_t *copy_area;	/* nslots * copy_size */
	uint32_t copy_size;	/* per slot: stragglers, or copy reads */
	uint32_t users;		/* handles on a pool */
};

/* Auto mode (rx_auto.c): alternate short epochs of each mode, keep one
 * CPU cost per byte per epoch, compare medians, then run the cheaper mode
 * for a while and measure again. The state of that choice is a handle's
 * own, or its pool's: the connections one thread serves share a machine
 * and a path, and one of them alone may never read enough to decide. */
#define ZC__RX_AUTO_MAX_PAIRS 8u

struct zc__rx_auto {
	uint32_t mode;		/* ZC_RX_ZEROCOPY or ZC_RX_COPY: the choice */
	uint32_t exploring;
	uint64_t explore_bytes;	/* read while exploring, this time */
	uint32_t nsamples[3];	/* by mode */
	uint64_t sample[3][ZC__RX_AUTO_MAX_PAIRS]; /* ns per MiB */
	uint64_t epoch_bytes;	/* this epoch */
	uint32_t epoch_reads;	/* reads that got bytes, this epoch */
	uint64_t epoch_cost;	/* ns charged to this epoch */
	uint64_t epoch_mapped;
	uint64_t mapped;	/* measured zero-copy epochs: bytes mapped */
	uint64_t explored;	/* ... and bytes read */
	uint64_t exploit_left;	/* bytes before exploring again */
	uint32_t exploit_reads_left;
	uint64_t exploit_len;	/* length of the last exploit phase */
	int winner;
	/* A pool's: an epoch costs all the thread's CPU time from its first
	 * measured read to its end, the caller's work on the data included
	 * (rx_auto.c says why); else only the library's time per read. */
	uint32_t whole_thread;
	unsigned long long epoch_t0;	/* thread CPU time, 0 = not started */
	uint32_t settle_left;	/* reads before measuring starts */
	uint64_t zerocopy_ns_per_mib;	/* medians of the last decision */
	uint64_t copy_ns_per_mib;
};

struct zc_rx_pool {
	struct zc__rx_window win;
	uint32_t copybuf_size;
	struct zc__rx_auto au;	/* shared by its auto handles */
};

struct zc_rx {
	int fd;
	uint32_t page_size;
	uint32_t requested_mode;
	uint32_t mode;		/* ZC_RX_ZEROCOPY or ZC_RX_COPY now */
	uint32_t features;	/* ZC_PROBE_RX_* that this socket showed */
	socklen_t zc_len;	/* bytes of the struct to pass the kernel */

	struct zc__rx_window *win;	/* &own, or the pool's */
	struct zc__rx_window own;
	struct zc_rx_pool *pool;
	uint32_t slot_size;	/* the window's */
	uint32_t nslots;	/* most views this handle may hold */
	uint32_t held;		/* views it holds now */
	uint32_t copybuf_size;	/* what the kernel may copy per call */

	uint32_t inq;		/* kernel's inq after the last call */
	uint32_t inq_known;
	uint32_t blocking;	/* fd had no O_NONBLOCK at create */
	uint32_t wait_below;	/* blocking: poll first while inq < this */
	uint32_t skip_next;	/* unmappable bytes the kernel saw at the
				 * head of the queue, not yet copied */
	int pending_err;	/* socket error to return after the bytes */
	int eof;

	/* Auto mode: the choice (own_au, or the pool's), and what is this
	 * handle's alone: TCP slow start is per connection. */
	struct zc__rx_auto *au;
	struct zc__rx_auto own_au;
	uint32_t au_active;	/* requested auto, and zero-copy works */
	uint32_t au_warmup_reads;
	uint64_t au_warmup_left; /* bytes of the connection's start not
				  * measured (TCP slow start) */
	unsigned long long au_read_start; /* thread CPU time at read entry */
	struct zc_rx_stats st;
};

int zc__rx_validate_opts(const struct zc_rx_opts *o, size_t page_size);
int zc__rx_pool_validate_opts(const struct zc_rx_pool_opts *o,
			      size_t page_size);

int zc__rx_window_init(struct zc__rx_window *w, int fd, uint32_t slot_size,
		       uint32_t nslots, uint32_t copy_size, uint32_t zap);
void zc__rx_window_unmap(struct zc__rx_window *w);
void zc__rx_window_fini(struct zc__rx_window *w);
int zc__rx_window_get_slot(struct zc__rx_window *w, uint32_t *slotp,
			   uint64_t *zaps);
uint8_t *zc__rx_slot_window(const struct zc__rx_window *w, uint32_t i);
uint8_t *zc__rx_slot_copy(const struct zc__rx_window *w, uint32_t i);
void zc__rx_zap(struct zc__rx_window *w, uint8_t *addr, size_t len,
		uint64_t *zaps);
ssize_t zc__rx_zerocopy_once(struct zc_rx *rx, uint32_t slot,
			     struct zc_view *v);

/* A fresh choice: zero-copy first, exploring. */
void zc__rx_auto_reset(struct zc__rx_auto *au);
/* Joins rx to its pool's choice, or gives it its own. */
void zc__rx_auto_init(struct zc_rx *rx);
/* Returns the mode for the next read. */
int zc__rx_auto_before(struct zc_rx *rx);
/* Accounts the read just done (v NULL when it returned no bytes). */
void zc__rx_auto_after(struct zc_rx *rx, const struct zc_view *v);
/* Around work done for the handle outside a read (zapping on release):
 * start = zc__rx_auto_clock(), then zc__rx_auto_charge(rx, start). */
unsigned long long zc__rx_auto_clock(const struct zc_rx *rx);
void zc__rx_auto_charge(struct zc_rx *rx, unsigned long long start);

#endif /* ZC_RX_H */
