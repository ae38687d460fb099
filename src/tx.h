/* SPDX-License-Identifier: MIT */
/*
 * Send engine internals, shared by tx.c, the backends (tx_copy.c,
 * tx_msgzc.c, tx_uring.c), tx_ranges.c and unit tests.
 */
#ifndef ZC_TX_H
#define ZC_TX_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "zcnet.h"

/*
 * Auto: sends shorter than this are copied. From bench/tx_threshold.sh on
 * this project's VM (UDP into a veth whose far end drops the frames, so
 * MSG_ZEROCOPY really skips the copy): below 24-32 KiB pinning the pages
 * and handling a notification cost the sender more CPU than copying hot
 * data; from 48 KiB zero-copy was clearly cheaper. Real NICs with cold
 * data favour zero-copy earlier (the kernel says "above ~10 KB").
 */
#define ZC__TX_DEFAULT_THRESHOLD       (32u << 10)
#define ZC__TX_DEFAULT_REAP_EVERY      32u
#define ZC__TX_DEFAULT_RETRY_AFTER     1024u
#define ZC__TX_DEFAULT_MAX_OUTSTANDING 4096u
#define ZC__TX_MAX_OUTSTANDING	       65536u
#define ZC__TX_MAX_REGISTERED	       1024u
/* UDP: datagrams through the MSG_ZEROCOPY backend between two looks at
 * the path MTU. */
#define ZC__TX_DGRAM_RECHECK 64u

/*
 * MSG_ZEROCOPY completion ranges. Each zero-copy send that accepts bytes
 * takes the socket's next 32-bit counter value (sk_zckey, 4.14); the kernel
 * reports completions as inclusive ranges [lo, hi] that may be coalesced,
 * arrive out of order and wrap past 2^32. Ids in [head, next) are the ones
 * handed out and not yet retired; done[] marks those already completed, so
 * head only moves past an id once everything before it completed too.
 * Pure logic: no system calls, unit-tested on its own.
 */
struct zc__tx_ranges {
	uint32_t head;	  /* oldest id not retired */
	uint32_t next;	  /* id the next zero-copy send gets */
	uint32_t mask;	  /* capacity - 1; capacity is a power of two */
	uint32_t pending; /* ids in [head, next) not completed */
	uint8_t *done;	  /* by id & mask */
	/* Anomalies, counted per range or per id. */
	uint64_t out_of_order; /* ranges that began past a pending id */
	uint64_t duplicates;   /* ids completed before, or retired */
	uint64_t unknown;      /* ids at or past next: never handed out */
};

/* Called once per id that a range completes, oldest first within a range. */
typedef void (*zc__tx_range_cb)(void *arg, uint32_t id);

/* capacity: a power of two, at least 2. first: the counter value the
 * socket's next zero-copy send gets (0 on a fresh socket). 0 or -ENOMEM. */
int zc__tx_ranges_init(struct zc__tx_ranges *r, uint32_t capacity,
		       uint32_t first);
void zc__tx_ranges_fini(struct zc__tx_ranges *r);
/* Ids handed out and not yet retired (the span head..next). */
uint32_t zc__tx_ranges_span(const struct zc__tx_ranges *r);
/* True when another id would not fit. */
bool zc__tx_ranges_full(const struct zc__tx_ranges *r);
/* Hands out the next id (the caller checked zc__tx_ranges_full). */
uint32_t zc__tx_ranges_add(struct zc__tx_ranges *r);
/* Completes the ids of [lo, hi] (inclusive, hi < lo when it wraps) that are
 * pending, calling cb for each; counts the rest as anomalies. Returns the
 * number of ids completed. */
uint32_t zc__tx_ranges_complete(struct zc__tx_ranges *r, uint32_t lo,
				uint32_t hi, zc__tx_range_cb cb, void *arg);
/* True when id lies in the range [lo, hi] (inclusive, wrapping). */
bool zc__tx_range_has(uint32_t lo, uint32_t hi, uint32_t id);

/* A send the kernel still holds. */
struct zc__tx_rec {
	uint64_t user_data;
	uint32_t len;
	uint32_t epoch; /* auto: zero-copy epoch it was sent in */
	uint32_t gen;	/* io_uring: tells a stale CQE from this one */
	int32_t res;	/* io_uring: the result CQE's res */
	uint8_t state;	/* enum zc__tx_rec_state */
	/* io_uring: the notification came before the result CQE;
	 * 1 + whether it said the kernel copied */
	uint8_t early_notif;
};

enum zc__tx_rec_state {
	ZC__TX_REC_FREE = 0,
	/* io_uring: submitted, result CQE not seen yet */
	ZC__TX_REC_SUBMITTED,
	/* accepted; its completion (notification) has not arrived */
	ZC__TX_REC_PENDING,
	/* io_uring: the send failed but a notification still follows
	 * (F_MORE); it completes nothing and is swallowed */
	ZC__TX_REC_SWALLOW,
};

/* Auto policy state (MSG_ZEROCOPY underneath). */
enum zc__tx_auto_state {
	ZC__TX_AUTO_ZEROCOPY = 0, /* sends >= threshold go zero-copy */
	ZC__TX_AUTO_BACKOFF,	  /* kernel copied: copy for a while */
};

struct zc_tx {
	int fd;
	int family;
	int type;	    /* SOCK_STREAM or SOCK_DGRAM */
	uint32_t requested; /* enum zc_tx_backend asked for */
	uint32_t backend;   /* the one running (never ZC_TX_AUTO) */
	bool auto_policy;   /* requested == ZC_TX_AUTO */
	uint32_t flags;
	uint32_t threshold;
	uint32_t reap_every;
	uint32_t retry_after;
	uint32_t max_outstanding;

	/* Completions ready for zc_tx_reap, a ring of cap entries. Sends
	 * not reaped yet (in the kernel or here) never exceed
	 * max_outstanding <= cap, so it cannot overflow. */
	struct zc_completion *ready;
	uint32_t ready_head;
	uint32_t ready_count;
	uint32_t cap; /* power of two >= max_outstanding */

	/* Records of sends the kernel still holds: by counter id & mask
	 * for MSG_ZEROCOPY (2 * cap of them), by slot for io_uring. */
	struct zc__tx_rec *recs;
	uint32_t nrecs;
	uint32_t outstanding; /* accepted, not completed */
	uint32_t sends_since_reap;

	/* MSG_ZEROCOPY */
	struct zc__tx_ranges ranges;
	bool so_zerocopy; /* SO_ZEROCOPY is set on the socket */
	/* A UDP zero-copy send failed after the kernel may have taken a
	 * counter value for it (see tx_msgzc.c). */
	bool suspect_id;
	/* UDP: the longest payload that leaves in one IP packet (path MTU
	 * less dgram_hdr), 0 while unknown or unlimited (UDP_SEGMENT). A
	 * longer datagram is fragmented and sent by copy (tx_msgzc.c). */
	uint32_t dgram_max;
	uint32_t dgram_hdr;   /* IP and UDP header bytes (tx.c) */
	uint32_t dgram_check; /* datagrams until the next look */

	/* Auto */
	uint32_t auto_state;
	uint32_t auto_left; /* backoff: copy sends before retrying */
	uint32_t epoch;	    /* bumped each time zero-copy is retried */
	uint32_t epoch_judged; /* a notification of this epoch arrived */

	/* io_uring */
	struct io_uring ring;
	bool ring_up;
	bool report_usage;    /* IORING_SEND_ZC_REPORT_USAGE works */
	bool defer_taskrun;   /* IORING_SETUP_DEFER_TASKRUN is on */
	/* io_uring_submit or io_uring_wait_cqe failed for good: an SQE may
	 * sit in the ring whose send already returned an error, so the ring
	 * is never entered again (sends return this -errno). */
	int uring_broken;
	pthread_t owner;      /* the ring's single issuer */
	uint32_t *free_slots; /* stack of free record slots */
	uint32_t nfree;
	struct iovec *reg; /* registered buffers */
	uint32_t nreg;

	struct zc_tx_stats st;
};

/*
 * io_uring_queue_init_params, through a pointer so unit tests can make the
 * kernel refuse io_uring (-ENOSYS without it, -EPERM when the
 * io_uring_disabled sysctl or seccomp says no) without touching the system.
 * Production code never changes it.
 */
extern int (*zc__uring_init)(unsigned int entries, struct io_uring *ring,
			     struct io_uring_params *p);
void zc__uring_init_reset(void);

/* tx.c: the front end's services to the backends. */
/* Queues a completion for the caller and accounts it. */
void zc__tx_complete(struct zc_tx *tx, uint64_t user_data, uint32_t len,
		     uint32_t flags);
/* Accounts an accepted send. */
void zc__tx_accepted(struct zc_tx *tx, uint32_t len);
/* Auto: the kernel copied a send of this zero-copy epoch. */
void zc__tx_auto_copied(struct zc_tx *tx, uint32_t epoch);

/* tx_copy.c: sendmsg() without MSG_ZEROCOPY; completes at once with
 * flags (ZC_COMPLETION_POLICY_COPY). Returns bytes or -errno. */
ssize_t zc__tx_copy_send(struct zc_tx *tx, const void *buf, size_t len,
			 uint64_t user_data, uint32_t flags);

/* tx_msgzc.c */
int zc__tx_msgzc_init(struct zc_tx *tx);
void zc__tx_msgzc_fini(struct zc_tx *tx);
/* Zero-copy send; on ENOBUFS reaps, retries once, then copies (counted).
 * Returns bytes or -errno; -EAGAIN too when no counter slot is free. */
ssize_t zc__tx_msgzc_send(struct zc_tx *tx, const void *buf, size_t len,
			  uint64_t user_data);
/* Reads the error queue until empty. Returns completions or -errno. */
int zc__tx_msgzc_drain(struct zc_tx *tx);

/* tx_uring.c */
/* Sets up the ring. -EOPNOTSUPP when the kernel refuses io_uring or lacks
 * the opcode, -ENOMEM. */
int zc__tx_uring_init(struct zc_tx *tx);
void zc__tx_uring_fini(struct zc_tx *tx);
/* Submits one send and waits for its result CQE. Returns bytes or
 * -errno. */
ssize_t zc__tx_uring_send(struct zc_tx *tx, const void *buf, size_t len,
			  uint64_t user_data);
/* Processes every CQE there is. Returns completions or -errno. */
int zc__tx_uring_drain(struct zc_tx *tx);
/* Accounts one CQE (result or notification) of the record it names.
 * Returns 1 when it completed a send, else 0. */
int zc__tx_uring_cqe(struct zc_tx *tx, const struct io_uring_cqe *cqe);
/* Waits up to timeout_ms (-1 forever) for a CQE without consuming it.
 * Returns 1 when one is there, 0 on timeout, -errno. */
int zc__tx_uring_wait(struct zc_tx *tx, int timeout_ms);
int zc__tx_uring_register(struct zc_tx *tx, const struct iovec *iov,
			  unsigned int nr);

#endif /* ZC_TX_H */
