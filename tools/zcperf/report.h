/* SPDX-License-Identifier: MIT */
/* Output helpers shared by report.c, report_rx.c, report_tx.c, demo.c. */
#ifndef ZCPERF_REPORT_H
#define ZCPERF_REPORT_H

#include "zcperf.h"

/* "zcperf: [connection N: ]context: reason" on stderr, plus a hint. */
void report_conn_error(const struct conn_error *e, unsigned int index,
		       unsigned int n);
/* "context: reason" for JSON. */
void conn_error_text(const struct conn_error *e, char *buf, size_t len);
/* cpu_user_s, cpu_sys_s, usec_per_mb, ctx_switches* members. */
void json_cpu(struct json *j, const struct cpu_use *u, uint64_t bytes);
void json_intervals(struct json *j, const struct ticker *t, bool rx);
void json_version(struct json *j);
/* "cpu usage user:U sys:S, X usec per MiB, C c-switches" + what. */
void print_cpu_line(const char *what, const struct cpu_use *u, uint64_t bytes);
void print_steal_line(const struct steal_sample *a,
		      const struct steal_sample *b);

#endif /* ZCPERF_REPORT_H */
