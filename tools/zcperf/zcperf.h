/* SPDX-License-Identifier: MIT */
/*
 * zcperf: types and functions shared by the tool's source files.
 *
 * One concern per file: options.c parses the command line, util.c holds
 * errors, clocks and CPU accounting, pattern.c the integrity pattern,
 * wire.c the per-connection header, sender*.c the send backends,
 * rx_lib.c and rx_raw.c the two receive loops, server.c and client.c the
 * stream roles, interval.c the -i reporter, report.c and json.c the
 * output, probe.c --probe and demo.c the no-argument demo.
 * Request/response mode (--rpc): rpc_conn.c holds what one connection
 * does on either side, rpc_server.c and rpc_client.c the roles,
 * rpc_report.c their output, hist.c the latency histogram and
 * msgzc_ring.c the MSG_ZEROCOPY completions both modes share.
 */
#ifndef ZCPERF_H
#define ZCPERF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#include "zcnet.h"

#define ZCPERF_DEFAULT_PORT    5301
#define ZCPERF_DEFAULT_CHUNK   (512u << 10)
#define ZCPERF_DEFAULT_SECONDS 10.0
#define ZCPERF_MAX_PARALLEL    128u
#define ZCPERF_MAX_CHUNK       (256u << 20)
/* rpc mode */
#define ZCPERF_RPC_DEFAULT_CONNS 100u
#define ZCPERF_RPC_MAX_CONNS	 1024u
#define ZCPERF_RPC_DEFAULT_SIZE	 4096u
#define ZCPERF_RPC_MAX_SIZE	 (64u << 20)
#define ZCPERF_RPC_MAX_THREADS	 64u

enum command {
	CMD_DEMO,
	CMD_SERVER,
	CMD_CLIENT,
	CMD_PROBE,
	CMD_HELP,
	CMD_VERSION,
};

/* Receive loops: the first three are zc_rx modes (same values). */
enum rx_kind {
	RX_AUTO = ZC_RX_AUTO,
	RX_ZEROCOPY = ZC_RX_ZEROCOPY,
	RX_COPY = ZC_RX_COPY,
	RX_RAW = 3, /* hand-written TCP_ZEROCOPY_RECEIVE, no library */
};

enum tx_kind {
	TX_COPY = 0,	     /* send() */
	TX_MSG_ZEROCOPY = 1, /* send(MSG_ZEROCOPY) + error queue */
};

/* rpc mode: where a connection's receive handle takes its window. */
enum rx_window {
	RXW_PER_CONN = 0, /* one window per connection (zc_rx's own) */
	RXW_POOL = 1,	  /* one zc_rx_pool per thread, shared */
};

struct cfg {
	int cmd;
	const char *host;
	uint16_t port;
	int family;	   /* AF_UNSPEC, AF_INET, AF_INET6 */
	bool one_off;	   /* -1 */
	int rx;		   /* enum rx_kind */
	int tx;		   /* enum tx_kind */
	uint32_t mss;	   /* 0: leave the kernel's */
	uint32_t chunk;	   /* -l */
	uint64_t bytes;	   /* -n, 0: use seconds */
	double seconds;	   /* -t */
	uint32_t parallel; /* -P */
	double interval;   /* -i, 0: off */
	bool verify;
	bool json;
	int zap; /* enum zc_rx_zap */
	uint32_t copybuf;
	uint32_t slots;
	bool rcvlowat;
	uint32_t rounds; /* demo */
	/* rpc mode */
	bool rpc;
	uint32_t req_size;   /* client: request payload bytes */
	uint32_t resp_size;  /* client: response payload bytes */
	uint32_t threads;    /* event-loop threads */
	int rx_window;	     /* enum rx_window */
	uint32_t pool_slots; /* --rx-window=pool: slots per pool, 0 = auto */
	bool mmap_churn;     /* server: a thread looping mmap/munmap */
};

/* options.c */
void parse_options(struct cfg *cfg, int argc, char **argv);
void print_help(FILE *f);
const char *rx_kind_name(int rx);
const char *tx_kind_name(int tx);
const char *rx_window_name(int w);

/* util.c: errors. usage_error exits 2, fatal exits 1. */
void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatal(const char *context, int err) __attribute__((noreturn));
void fatal_msg(const char *context, const char *reason)
	__attribute__((noreturn));
/* With -J, fatal errors also print {"role": ROLE, "error": ...}. */
void json_errors_for(const char *role);
void json_error_doc(const char *role, const char *msg);
void print_error(const char *context, int err);
const char *error_hint(int err);

/* util.c: clocks, CPU, sizes */
double now_s(void);
void sleep_s(double s);
struct cpu_use {
	double user_s;
	double sys_s;
	uint64_t vcsw;	/* voluntary context switches */
	uint64_t ivcsw; /* involuntary */
};
void rusage_now(int who, struct rusage *ru);
void rusage_delta(const struct rusage *a, const struct rusage *b,
		  struct cpu_use *out);
/* Receiving CPU (user+sys) per MiB of data, as tcp_mmap prints it. */
double usec_per_mib(const struct cpu_use *u, uint64_t bytes);
double gbit_per_s(uint64_t bytes, double seconds);
/* "256.0 MiB" into buf (at least 32 bytes). */
const char *fmt_iec(char *buf, size_t len, double bytes);

/* /proc/stat jiffies: total and steal, for the noise line. */
struct steal_sample {
	uint64_t total;
	uint64_t steal;
	bool ok;
};
void steal_sample(struct steal_sample *s);
/* Percent of CPU time stolen by the hypervisor between a and b, or -1. */
double steal_percent(const struct steal_sample *a,
		     const struct steal_sample *b);
const char *kernel_release(void);
uint64_t random_u64(void);

/* pattern.c: byte at stream offset o of a connection depends on o and
 * the connection's seed, so shifted, lost or repeated data never
 * matches. */
uint64_t pattern_seed(uint64_t run_id, uint32_t conn_index);
void pattern_fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t off);
/* Returns len when every byte matches, else the index of the first bad
 * byte. */
size_t pattern_check(const uint8_t *buf, size_t len, uint64_t seed,
		     uint64_t off);
uint8_t pattern_byte(uint64_t seed, uint64_t off);

/* wire.c: the header a sender writes before the stream. */
#define WIRE_HDR_LEN   64
#define WIRE_F_PATTERN (1u << 0) /* payload carries the pattern */
/* An rpc client: chunk is the request size, planned_bytes the response
 * size, and zc_msg messages follow the header (rpc_conn.c). */
#define WIRE_F_RPC (1u << 1)
struct wire_hdr {
	uint64_t run_id; /* same for every connection of one client */
	uint32_t conn_index;
	uint32_t conn_count;
	uint32_t flags;		/* WIRE_F_* */
	uint32_t tx;		/* enum tx_kind */
	uint32_t mss;		/* sender's TCP_MAXSEG after connect */
	uint32_t chunk;		/* sender's write size */
	uint64_t planned_bytes; /* 0 when the sender runs for a time */
};
int wire_send(int fd, const struct wire_hdr *h);
/* Returns 0, -EPROTO for a stream that is not zcperf's, or -errno. */
int wire_recv(int fd, struct wire_hdr *h, int timeout_ms);

/* sender.c: send backends behind one interface, so that the library's
 * zc_tx can take the MSG_ZEROCOPY backend's place later. */
struct sender_stats {
	uint64_t sends; /* send() calls that accepted bytes */
	uint64_t bytes;
	uint64_t zc_sends;	/* of them with MSG_ZEROCOPY */
	uint64_t notifications; /* error-queue messages */
	uint64_t completed;	/* zero-copy sends completed */
	uint64_t kernel_copied; /* completed with ZEROCOPY_COPIED */
	uint64_t enobufs;	/* ENOBUFS retries */
	uint64_t buffer_waits;	/* waited for a buffer's completion */
};
struct sender;
struct sender_ops {
	/* A buffer of chunk bytes that may be written now (its previous
	 * send completed). Returns 0 or -errno. */
	int (*get_buf)(struct sender *s, uint8_t **buf);
	/* Sends all len bytes of a buffer from get_buf. 0 or -errno. */
	int (*send)(struct sender *s, uint8_t *buf, size_t len);
	/* Waits until every send completed. 0, -ETIME or -errno. */
	int (*finish)(struct sender *s, int timeout_ms);
	void (*destroy)(struct sender *s);
};
struct sender {
	const struct sender_ops *ops;
	int fd;
	size_t chunk;
	struct sender_stats st;
};
/* msgzc_ring.c: MSG_ZEROCOPY completions of buffers that are reused. A
 * buffer is busy from zring_begin until zring_end was called and every
 * counter value its sends took (zring_count_sends) has completed. */
struct zbuf {
	uint8_t *mem;
	bool busy;	/* its completions are not all back */
	bool sent;	/* every byte accepted */
	uint64_t first; /* counter value of its first send() */
	uint64_t nids;	/* send() calls that used it */
	uint64_t done;	/* of those, completed */
};
struct zring {
	int fd;
	struct zbuf *bufs;
	unsigned int n;
	uint64_t next_id; /* the kernel's counter, widened to 64 bits */
	struct sender_stats *st;
};
void zring_begin(struct zring *r, struct zbuf *b);
void zring_count_sends(struct zring *r, struct zbuf *b, uint64_t n);
void zring_end(struct zring *r, struct zbuf *b);
unsigned int zring_busy(const struct zring *r);
/* One error-queue message: 1 when one was read, 0 when empty, -errno. */
int zring_read_errqueue(struct zring *r);
/* Every queued message without waiting: 0 or -errno. */
int zring_drain(struct zring *r);
/* Reads every queued notification; when there was none and timeout_ms is
 * not 0, waits up to timeout_ms for one. A socket error (SO_ERROR, which
 * this clears) is returned. 0 or -errno. */
int zring_reap(struct zring *r, int timeout_ms);

int sender_create(struct sender **sp, int kind, int fd, size_t chunk);
int sender_msgzc_create(struct sender **sp, int fd, size_t chunk);
/* sender.c helper for backends: page-aligned buffer memory. */
uint8_t *sender_alloc(size_t len);
void sender_release(uint8_t *mem, size_t len);

/* Where a connection's error came from, for "zcperf: CONTEXT: reason". */
struct conn_error {
	int err; /* positive errno, 0 = none */
	char context[48];
	char detail[160]; /* replaces strerror when set */
};
void conn_error_set(struct conn_error *e, const char *context, int err);

/* Receive side of one connection (server.c, demo.c; rx_lib.c, rx_raw.c). */
struct rx_conn {
	int fd;
	const struct cfg *cfg;
	struct wire_hdr hdr;
	uint64_t seed;
	char peer[64];
	pthread_t thread;
	bool started;
	/* live counters for the interval reporter (relaxed atomics) */
	uint64_t live_bytes;
	uint64_t live_mapped;
	/* results */
	uint64_t bytes, mapped, copybuf, read_bytes;
	double t_first, t_end; /* first byte, end of stream */
	struct cpu_use cpu;    /* receiving thread, first byte to end */
	struct zc_rx_stats st; /* raw mode fills the same fields */
	int final_mode;	       /* zc_rx_mode at the end, or RX_RAW */
	bool verified;	       /* every byte checked and right */
	struct conn_error error;
};
/* Runs the receive loop on c->fd (header already read); fills results. */
void rx_conn_run(struct rx_conn *c);
int rx_lib_loop(struct rx_conn *c);
int rx_raw_loop(struct rx_conn *c);
/* Checks a received piece; sets c->error on a mismatch. */
int rx_verify(struct rx_conn *c, const uint8_t *p, size_t len, uint64_t off,
	      const char *where);
/* Waits for the first byte (or the end) and starts the clocks. */
int rx_wait_first(struct rx_conn *c, struct rusage *ru0);
void rx_finish_clock(struct rx_conn *c, const struct rusage *ru0);

/* Send side of one connection (client.c, demo.c). */
struct tx_conn {
	int fd;
	const struct cfg *cfg;
	struct wire_hdr hdr;
	uint64_t seed;
	uint64_t planned; /* bytes, 0 = until deadline */
	double deadline;  /* now_s() value, 0 = none */
	pthread_barrier_t *start;
	pthread_t thread;
	bool started;
	uint64_t live_bytes;
	uint64_t bytes;
	double t_start, t_end;
	struct cpu_use cpu;
	struct sender_stats st;
	struct conn_error error;
};
/* Opens a connection to addr and sends the header; returns 0 or -errno
 * with context in *e. */
struct sockaddr;
int tx_conn_connect(struct tx_conn *c, const struct sockaddr *addr,
		    unsigned int addrlen, uint32_t mss);
void *tx_conn_thread(void *arg);
/* Sets TCP_MAXSEG before connect/listen. 0 or -errno. */
int set_mss(int fd, uint32_t mss);

/* interval.c: -i lines from live counters. */
struct interval_rec {
	double start, end;
	uint64_t bytes;
	uint64_t mapped;
};
struct ticker {
	double every;
	double t0;
	bool rx; /* print a mapped column */
	unsigned int n;
	uint64_t *bytes[ZCPERF_MAX_PARALLEL];
	uint64_t *mapped[ZCPERF_MAX_PARALLEL];
	bool quiet; /* -J: record only */
	/* private */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, running;
	uint64_t last_bytes[ZCPERF_MAX_PARALLEL];
	uint64_t last_mapped[ZCPERF_MAX_PARALLEL];
	struct interval_rec *recs; /* sums, for JSON */
	size_t nrecs, caprecs;
};
void ticker_start(struct ticker *t);
void ticker_add(struct ticker *t, uint64_t *bytes, uint64_t *mapped);
void ticker_stop(struct ticker *t);

/* json.c: a small streaming writer with raw base units. */
struct json {
	FILE *f;
	int depth;
	bool need_comma[32];
};
void json_init(struct json *j, FILE *f);
void json_obj_begin(struct json *j, const char *key);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);
void json_str(struct json *j, const char *key, const char *val);
void json_u64(struct json *j, const char *key, uint64_t val);
void json_i64(struct json *j, const char *key, int64_t val);
void json_num(struct json *j, const char *key, double val);
void json_bool(struct json *j, const char *key, bool val);
void json_done(struct json *j);

/* report.c */
struct rx_session {
	const struct cfg *cfg;
	struct rx_conn *conns;
	unsigned int n;
	double t0, t1;		/* wall clock of the session */
	struct cpu_use process; /* RUSAGE_SELF over the session */
	struct steal_sample steal0, steal1;
	struct ticker *ticker;
	struct conn_error error; /* session-level (missing conns) */
};
struct tx_session {
	const struct cfg *cfg;
	const char *host;
	struct tx_conn *conns;
	unsigned int n;
	double t0, t1;
	struct cpu_use process;
	struct steal_sample steal0, steal1;
	struct ticker *ticker;
};
/* Print the receiver's summary; returns the exit status (0 or 1). */
int report_rx(const struct rx_session *s);
int report_tx(const struct tx_session *s);
void rx_stats_add(struct zc_rx_stats *sum, const struct zc_rx_stats *st);

/* server.c, client.c: pieces rpc mode shares with stream mode. */
struct sockaddr_storage;
struct addrinfo;
int listen_socket(const struct cfg *cfg);
void peer_name(const struct sockaddr_storage *ss, char *buf, size_t len);
/* Accepts one connection and reads its header. Returns the fd, or -1 after
 * telling why the connection was dropped. */
int accept_one(const struct cfg *cfg, int lfd, struct wire_hdr *h, char *peer,
	       size_t peer_len);
struct addrinfo *resolve(const struct cfg *cfg);

/* hist.c: latencies in nanoseconds, log-linear buckets (64 per power of
 * two: a percentile is within 0.8 % of the true value). */
#define HIST_SUB_BITS 6
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS) << HIST_SUB_BITS)
struct hist {
	uint64_t count, sum_ns, min_ns, max_ns;
	uint64_t b[HIST_BUCKETS];
};
void hist_add(struct hist *h, uint64_t ns);
void hist_merge(struct hist *into, const struct hist *h);
/* The value at fraction p (0.5 = median) in ns, 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);

/* Roles. Each returns the process exit status. */
int run_server(const struct cfg *cfg);
int run_client(const struct cfg *cfg);
int run_rpc_server(const struct cfg *cfg);
int run_rpc_client(const struct cfg *cfg);
int run_probe(const struct cfg *cfg);
int run_demo(const struct cfg *cfg);

#endif /* ZCPERF_H */
