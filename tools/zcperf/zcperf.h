/* SPDX-License-Identifier: MIT */
/*
 * zcperf: types and functions shared by the tool's source files.
 *
 * One concern per file: options.c parses the command line, util.c holds
 * errors, clocks and CPU accounting, pattern.c the integrity pattern,
 * wire.c the per-connection header, sender.c the buffers of a stream
 * sender on the library's send engine (struct zc_tx), rx_lib.c and
 * rx_raw.c the two TCP receive loops, udp.c the datagram format and the
 * control records of -u, rx_udp.c its receive loop, server.c and client.c
 * the stream roles, tx_conn.c one sending connection, interval.c the -i
 * reporter, report.c and json.c the output, probe.c --probe, demo.c
 * the no-argument demo and interrupt.c what SIGINT does.
 * Request/response mode (--rpc): rpc_conn.c holds what one connection
 * does on either side, rpc_server.c and rpc_client.c the roles,
 * rpc_report.c their output and hist.c the latency histogram.
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
/* -u: datagram size. 61440 (15 pages) fits one IPv4 or IPv6 datagram on
 * loopback (MTU 65536) unfragmented and keeps each buffer whole pages;
 * 65507 is the most an IPv4 UDP datagram can carry. */
#define ZCPERF_UDP_DEFAULT_SIZE 61440u
#define ZCPERF_UDP_MIN_SIZE	64u
#define ZCPERF_UDP_MAX_SIZE	65507u
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

/* rpc mode: where a connection's receive handle takes its window. */
enum rx_window {
	RXW_PER_CONN = 0, /* one window per connection (zc_rx's own) */
	RXW_POOL = 1,	  /* one zc_rx_pool per thread, shared */
};

struct cfg {
	int cmd;
	const char *host;
	uint16_t port;
	int family;	       /* AF_UNSPEC, AF_INET, AF_INET6 */
	bool one_off;	       /* -1 */
	int rx;		       /* enum rx_kind */
	int tx;		       /* enum zc_tx_backend */
	uint32_t reap_every;   /* zc_tx_opts.reap_every, 0 = library's */
	uint32_t zc_threshold; /* zc_tx_opts.zc_threshold, 0 = library's */
	bool udp;	       /* -u */
	uint32_t mss;	       /* 0: leave the kernel's */
	uint32_t chunk;	       /* -l; with -u the datagram size */
	uint64_t bytes;	       /* -n, 0: use seconds */
	double seconds;	       /* -t */
	uint32_t parallel;     /* -P */
	double interval;       /* -i, 0: off */
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

/* interrupt.c: SIGINT stops a run; the summary shows what was measured
 * until then, and the exit status is ZCPERF_EXIT_INTERRUPTED (128 +
 * SIGINT, as zcnc). A second SIGINT exits at once. */
#define ZCPERF_EXIT_INTERRUPTED 130
/* Blocks SIGINT and starts the thread that takes it: before any other
 * thread is made. 0 or -errno. */
int interrupt_setup(void);
/* SIGINT came. */
bool interrupted(void);
/* Sockets that SIGINT shuts down (SHUT_RDWR) so that threads blocked on
 * them return; one registered after SIGINT is shut down at once. A
 * registered socket is closed with interrupt_close (or forgotten first). */
void interrupt_watch(int fd);
void interrupt_forget(int fd);
void interrupt_close(int fd);
struct conn_error;
/* After SIGINT, an error our own shutdown caused (EPIPE, ECONNRESET, ...)
 * says nothing about the transfer: clears e and returns 0. A mismatch
 * (EILSEQ) or a broken protocol (EPROTO) stays; before SIGINT, returns r
 * as it is. */
int interrupt_absorb(struct conn_error *e, int r);
/* A server interrupted with no client: says so (-J: a document with
 * "interrupted": true) and returns ZCPERF_EXIT_INTERRUPTED. */
int interrupt_idle(const struct cfg *cfg, const char *role);

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
/* A -u sender: this TCP connection is its control connection, chunk the
 * datagram size (udp.c). */
#define WIRE_F_UDP (1u << 2)
struct wire_hdr {
	uint64_t run_id; /* same for every connection of one client */
	uint32_t conn_index;
	uint32_t conn_count;
	uint32_t flags;		/* WIRE_F_* */
	uint32_t tx;		/* enum zc_tx_backend asked for */
	uint32_t mss;		/* sender's TCP_MAXSEG after connect */
	uint32_t chunk;		/* sender's write size */
	uint64_t planned_bytes; /* 0 when the sender runs for a time */
	uint32_t planned_ms;	/* -t: how long the sender means to send */
};
int wire_send(int fd, const struct wire_hdr *h);
/* Returns 0, -EPROTO for a stream that is not zcperf's, or -errno. */
int wire_recv(int fd, struct wire_hdr *h, int timeout_ms);
/* All len bytes to/from a socket: 0, -ETIMEDOUT, -EPROTO (the peer closed
 * first, reading), or -errno. */
int wire_write(int fd, const void *buf, size_t len);
/* Big-endian fields, for wire.c and udp.c. */
void put32(uint8_t *p, uint32_t v);
void put64(uint8_t *p, uint64_t v);
uint32_t get32(const uint8_t *p);
uint64_t get64(const uint8_t *p);
int wire_read(int fd, void *buf, size_t len, int timeout_ms);

/* Send side: the library's counters and what zcperf saw of the
 * completions it reaped. */
struct send_stats {
	struct zc_tx_stats zc;	     /* zc_tx_get_stats() */
	int backend;		     /* zc_tx_backend(): what ran; -1 none */
	uint64_t completions;	     /* reaped */
	uint64_t completions_copied; /* ZC_COMPLETION_COPIED: kernel copied */
	uint64_t completions_policy; /* ZC_COMPLETION_POLICY_COPY */
	uint64_t buffer_waits;	     /* waited for a buffer's completion */
};
void send_stats_add(struct send_stats *a, const struct send_stats *b);
/* Completions for which zero-copy was tried (not copied by policy). */
uint64_t send_stats_attempts(const struct send_stats *st);
/* "--tx=MODE" name, or "?". */
const char *tx_kind_name(int tx);
/* The zc_tx options for cfg's --tx, --reap-every and --zc-threshold. */
void tx_opts_from_cfg(struct zc_tx_opts *o, const struct cfg *cfg);

/* sender.c: a ring of page-aligned buffers sent through struct zc_tx, the
 * buffer index as user_data: a buffer is handed out again only after
 * every send of it completed. One thread (the creator) uses it: io_uring
 * handles are bound to the thread that created them. */
struct sender;
/* fd: a connected TCP or UDP socket (UDP: each send is one datagram of at
 * most chunk bytes). 0 or -errno (zc_tx_create's). */
int sender_create(struct sender **sp, int fd, size_t chunk,
		  const struct zc_tx_opts *opts);
/* A buffer of chunk bytes that may be written now. 0 or -errno. */
int sender_get_buf(struct sender *s, uint8_t **buf);
/* Sends len bytes of the buffer get_buf gave last. 0 or -errno; *sent
 * says how many bytes the kernel accepted, also when it failed part way
 * (the peer gets those). */
int sender_send(struct sender *s, uint8_t *buf, size_t len, size_t *sent);
/* Waits until every send completed. 0, -ETIME or -errno. */
int sender_finish(struct sender *s, int timeout_ms);
void sender_get_stats(const struct sender *s, struct send_stats *st);
/* Frees the handle, and the buffers unless the kernel may still read
 * them. */
void sender_destroy(struct sender *s);
/* Page-aligned memory for send buffers (rpc mode too). */
uint8_t *sender_alloc(size_t len);
void sender_release(uint8_t *mem, size_t len);

/* udp.c: -u. Each datagram starts with a 32-byte header (connection,
 * run, sequence number, length); the rest is the pattern at stream offset
 * seq * size + 32, so a datagram's content follows from its sequence
 * number. The TCP connection that carried the wire header stays open as
 * the control connection: the receiver answers with the UDP port it bound
 * for this connection, the sender ends with its datagram count, and the
 * receiver replies with what arrived before it closes. */
#define UDP_HDR_LEN 32
struct udp_dgram {
	uint32_t conn_index;
	uint64_t run_id;
	uint64_t seq;
	uint32_t len;	/* the whole datagram's */
	uint32_t flags; /* WIRE_F_PATTERN */
};
/* Writes header and (with WIRE_F_PATTERN in d->flags) pattern into buf,
 * d->len bytes. */
void udp_dgram_fill(uint8_t *buf, const struct udp_dgram *d, uint64_t seed);
/* Parses the header of a datagram of len bytes: 0, or -EPROTO when it is
 * no zcperf datagram header. */
int udp_dgram_parse(const uint8_t *buf, size_t len, struct udp_dgram *d);
/* Offset of payload byte 0 of datagram seq in its connection's pattern. */
uint64_t udp_pattern_off(uint64_t seq, uint32_t size);
/* What the receiver tells the sender at the end. */
struct udp_result {
	bool verified;	    /* every datagram that arrived was right */
	uint64_t datagrams; /* distinct datagrams that arrived */
	uint64_t lost;	    /* sent, never arrived */
	uint64_t duplicates;
	uint64_t out_of_order; /* arrived after a later one */
	uint64_t corrupt;      /* wrong header, length or content */
	uint64_t bytes;	       /* of the distinct datagrams */
};
int udp_port_send(int fd, uint16_t port);
int udp_port_recv(int fd, uint16_t *port, int timeout_ms);
int udp_end_send(int fd, uint64_t datagrams, uint64_t bytes);
/* The *_recv: 0, -EPROTO (the peer closed first, or not such a record),
 * -ETIMEDOUT, or -errno. */
int udp_end_recv(int fd, uint64_t *datagrams, uint64_t *bytes, int timeout_ms);
int udp_result_send(int fd, const struct udp_result *r);
int udp_result_recv(int fd, struct udp_result *r, int timeout_ms);

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
	/* -u: fd is the control connection, udp_fd the datagram socket */
	int udp_fd;
	struct udp_result udp;
	uint64_t udp_sent; /* datagrams, as the sender counted them */
	uint64_t udp_late; /* too late to tell from a duplicate */
	bool udp_end;	   /* the sender's count arrived */
};
/* Runs the receive loop on c->fd (header already read); fills results. */
void rx_conn_run(struct rx_conn *c);
int rx_lib_loop(struct rx_conn *c);
int rx_raw_loop(struct rx_conn *c);
/* -u: binds c->udp_fd next to the control connection c->fd and tells the
 * sender its port. 0 or -errno with c->error set. */
int rx_udp_setup(struct rx_conn *c);
int rx_udp_loop(struct rx_conn *c);
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
	struct send_stats st;
	struct conn_error error;
	/* -u: the datagram socket; fd is the control connection */
	int udp_fd;
	uint64_t datagrams;
	struct udp_result udp; /* the receiver's answer */
	bool udp_answered;
};
/* Opens a connection to addr and sends the header (-u: then learns the
 * receiver's UDP port and connects c->udp_fd to it); returns 0 or -errno
 * with context in c->error. */
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
	bool interrupted;	 /* SIGINT: the streams did not end */
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
	bool interrupted; /* SIGINT: stopped before the end */
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
