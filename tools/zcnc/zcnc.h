/* SPDX-License-Identifier: MIT */
/*
 * zcnc: netcat-like bulk transfer on zcnet. Shared declarations of the
 * tool's files: main.c (flags, signals, exit codes), conn.c (listen and
 * connect), recv.c (socket -> stdout through struct zc_rx), send.c
 * (stdin -> socket through struct zc_tx), report.c (progress, summary,
 * JSON).
 */
#ifndef ZCNC_H
#define ZCNC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "zcnet.h"

/* Exit codes, documented in --help and zcnc(1). */
#define ZCNC_EXIT_OK 0
/* Runtime error outside the transfer: resolve, bind, connect, stdio. */
#define ZCNC_EXIT_ERROR 1
#define ZCNC_EXIT_USAGE 2
/* The connection failed mid-transfer: reset, timeout, peer gone. */
#define ZCNC_EXIT_INCOMPLETE 3
/* 128 + SIGINT, after the partial summary. */
#define ZCNC_EXIT_SIGINT 130

struct zcnc_cfg {
	bool listen;	  /* -l: accept one connection */
	bool send;	  /* this side sends stdin, else receives */
	int family;	  /* AF_UNSPEC, AF_INET or AF_INET6 */
	const char *host; /* connect: the peer; listen: bind address */
	const char *port;
	const char *source; /* -s: local address to bind */
	int rx_mode;	    /* enum zc_rx_mode */
	int tx_backend;	    /* enum zc_tx_backend */
	bool json;	    /* -J: JSON summary on stderr */
	bool quiet;	    /* -q: no summary, no progress */
	bool progress;	    /* progress line: stderr is a terminal */
	size_t buf_size;    /* send: bytes per buffer */
	unsigned int nbufs; /* send: buffers in the ring */
};

struct zcnc_result {
	const char *role; /* "sender" or "receiver" */
	char local[96];	  /* "addr port" of both ends, numeric */
	char peer[96];
	uint64_t bytes; /* received and written, or read and sent */
	/* Bytes this side moved without a copy: pages mapped by the
	 * receiver, or sent without the kernel copying. The rest: copied. */
	uint64_t mapped;
	uint64_t copied;
	int64_t size;	       /* bytes expected (sender, regular file),
				* else -1 */
	double start;	       /* monotonic seconds: connection ready */
	double seconds;	       /* transfer time */
	uint64_t peer_ignored; /* sender: bytes the peer sent, dropped */
	bool connected;
	bool interrupted; /* SIGINT */
	int exit_code;
	char error[256]; /* "context: reason", empty when none */

	bool have_rx;
	int rx_mode_requested;
	int rx_mode; /* what the engine ran at the end */
	struct zc_rx_stats rx;

	bool have_tx;
	int tx_backend_requested;
	int tx_backend;
	struct zc_tx_stats tx;
};

extern volatile sig_atomic_t zcnc_interrupted;

/* conn.c: return a connected socket fd, or -1 after zcnc_fail(). */
int zcnc_connect(const struct zcnc_cfg *cfg, struct zcnc_result *res);
int zcnc_accept(const struct zcnc_cfg *cfg, struct zcnc_result *res);

/* recv.c / send.c: move the stream; return an exit code. */
int zcnc_receive(const struct zcnc_cfg *cfg, int fd, struct zcnc_result *res);
int zcnc_send(const struct zcnc_cfg *cfg, int fd, struct zcnc_result *res);
/* report.c */
double zcnc_now(void);
/* Records "context: reason" as the run's error and returns code. */
int zcnc_fail(struct zcnc_result *res, int code, const char *context, int err);
void zcnc_progress(const struct zcnc_cfg *cfg, struct zcnc_result *res,
		   bool final);
void zcnc_summary(const struct zcnc_cfg *cfg, struct zcnc_result *res);
/* Prints the error line ("zcnc: context: reason") unless there is none. */
void zcnc_print_error(const struct zcnc_result *res);

/* True for errors that mean the connection itself failed mid-stream. */
bool zcnc_conn_error(int err);

#endif /* ZCNC_H */
