/* SPDX-License-Identifier: MIT */
/*
 * Request/response mode (--rpc): what one connection does on either side
 * (rpc_conn.c), the event-loop threads of both roles, and the session the
 * report (rpc_report.c) is made from.
 *
 * On the wire, after the 64-byte zcperf header (wire.c, WIRE_F_RPC: chunk
 * is the request size, planned_bytes the response size), each direction is
 * a stream of zc_msg messages (include/zcnet.h "Messages"):
 *   request:  id = 0, 1, 2, ... per connection, flags 0,
 *             type = the response payload length wanted, len = request
 *             payload length;
 *   response: the request's id, flags ZC_MSG_F_REPLY, type 0, len = the
 *             length the request asked for.
 * Every payload is the integrity pattern (pattern.c) from offset 0 with a
 * seed of its own, drawn from the run, the connection, the id and the
 * direction, so a payload that is stale, misrouted, shifted or answers
 * another request never matches.
 * The client keeps one request outstanding per connection (closed loop).
 */
#ifndef ZCPERF_RPC_H
#define ZCPERF_RPC_H

#include <sys/uio.h>

#include "zcperf.h"

/* Zero-copy --tx modes: most send buffers per connection. A buffer is
 * reused once the kernel's completions for it came back, which needs the
 * peer's ACK: in a closed loop that is normally before the next message
 * is due. */
#define RPC_TX_BUFS 4u

struct rpc_stats {
	uint64_t txns;
	uint64_t payload_bytes; /* received payloads */
	uint64_t mapped_bytes;	/* of which mapped */
	struct zc_rx_stats rx;
	struct zc_msg_rx_stats msg;
	uint64_t messages_sent;
	uint64_t bytes_sent;  /* headers and payloads accepted */
	struct send_stats tx; /* the zc_tx's; zero for --tx=copy */
	uint64_t send_waits;  /* a send had to wait for EPOLLOUT */
	uint64_t rx_starved;  /* zc_msg_read: no free view (-ENOBUFS) */
};

struct rpc_conn {
	int fd;
	uint32_t index;
	uint64_t run_id;
	uint32_t req_size, resp_size;
	bool verify;
	char peer[64];
	struct zc_rx *rx;
	struct zc_msg_rx *mrx;
	/* sending: one message at a time. --tx=copy: zc_msg_send's own
	 * send() from bufs[0]; other modes: payloads through ztx, the
	 * buffer index as user_data. */
	int tx; /* enum zc_tx_backend */
	struct zc_tx_opts tx_opts;
	struct zc_tx *ztx; /* made by the loop thread at its first send */
	uint8_t *bufs[RPC_TX_BUFS];
	uint32_t inflight[RPC_TX_BUFS]; /* payload sends not completed */
	unsigned int nbufs;
	size_t buf_len; /* each buffer's length, page multiple */
	int cur;	/* buffer of the message being sent, -1 none */
	struct zc_msg_out out;
	struct iovec iov;
	bool sending;  /* out holds a message not yet all accepted */
	bool want_out; /* EPOLLOUT is registered */
	/* the next request's id: sent (client) or expected (server) */
	uint64_t next_id;
	uint64_t t_sent_ns; /* client: when the outstanding request left */
	bool draining;	    /* client: no more requests, write side shut */
	bool open;
	/* results */
	struct rpc_stats st;
	bool verified; /* every payload byte checked and right */
	struct conn_error error;
};

/* One event-loop thread: an epoll set of connections. */
struct rpc_thread {
	const struct cfg *cfg;
	unsigned int index;
	int epfd;
	struct rpc_conn **conns;
	unsigned int n;
	unsigned int open;
	struct zc_rx_pool *pool; /* --rx-window=pool */
	pthread_t thread;
	bool started;
	pthread_barrier_t *start;
	/* client: latency (request sent to response read); server: service
	 * time (request read to response accepted by the socket) */
	struct hist hist;
	struct cpu_use cpu;	/* this thread, start to end */
	double t_first, t_last; /* first request, last response */
	double deadline;	/* client */
	struct conn_error error;
};

struct rpc_session {
	const struct cfg *cfg;
	bool server;
	const char *host; /* client */
	struct rpc_conn *conns;
	unsigned int n;
	struct rpc_thread *threads;
	unsigned int nthreads;
	uint32_t req_size, resp_size;
	int peer_tx;	   /* server: the client's --tx */
	uint32_t mss;	   /* client: TCP_MAXSEG after connect */
	uint32_t peer_mss; /* server: the client's */
	double t0, t1;
	struct cpu_use process;
	struct steal_sample steal0, steal1;
	/* server --mmap-churn */
	bool churn;
	uint64_t churn_loops;
	double churn_s;
	struct conn_error error; /* session-level */
	bool interrupted;	 /* SIGINT */
};

/* rpc_conn.c */
uint64_t rpc_seed(uint64_t run_id, uint32_t index, uint64_t id, bool reply);
/* One thread's pool for conns connections (--rx-window=pool). */
int rpc_pool_create(struct zc_rx_pool **poolp, const struct cfg *cfg,
		    unsigned int conns);
/* Makes fd non-blocking and sets up receive (zc_rx on the thread's pool
 * or a window of its own, zc_msg_rx accepting payloads up to
 * max_payload) and send buffers for payloads of up to out_len bytes.
 * 0 or -errno with c->error set. */
int rpc_conn_setup(struct rpc_conn *c, const struct cfg *cfg,
		   struct zc_rx_pool *pool, uint32_t max_payload,
		   uint32_t out_len);
/* Starts sending a message whose payload is the pattern for seed, and
 * sends as much as the socket takes. 0 when all was accepted, -EAGAIN
 * when the rest waits for EPOLLOUT (rpc_send_more), -errno. */
int rpc_send_start(struct rpc_conn *c, const struct zc_msg_hdr *hdr,
		   uint64_t seed);
int rpc_send_more(struct rpc_conn *c);
/* Checks every payload byte of m against the pattern for seed; sets
 * c->error (EILSEQ) on a mismatch. */
int rpc_check_payload(struct rpc_conn *c, const struct zc_msg *m, uint64_t seed,
		      const char *what);
/* EPOLLERR with MSG_ZEROCOPY (also under auto): take the completions.
 * 0 or -errno. */
int rpc_conn_errqueue(struct rpc_conn *c);
/* Registers (add) or updates the events: EPOLLIN, and EPOLLOUT while a
 * message waits to be sent. 0 or -errno. */
int rpc_conn_watch(struct rpc_conn *c, int epfd, bool add);
/* Collects the stats and frees everything; closes fd. */
void rpc_conn_close(struct rpc_conn *c);
/* "zc_msg_read" error text for c->error: the message layer's reason when
 * the stream was malformed. */
void rpc_read_error(struct rpc_conn *c, int err, const char *side);
void rpc_stats_add(struct rpc_stats *a, const struct rpc_stats *b);
/* Raises RLIMIT_NOFILE's soft limit for n connections; 0 or -errno. */
int rpc_raise_nofile(unsigned int n);
uint64_t now_ns(void);

/* rpc_report.c: prints the summary; returns the exit status. */
int rpc_report(const struct rpc_session *s);

#endif /* ZCPERF_RPC_H */
