/* SPDX-License-Identifier: MIT */
/* Output pieces both roles share: error lines, CPU and interval JSON, the
 * steal line and the JSON error document. */
#include <string.h>

#include "report.h"

void report_conn_error(const struct conn_error *e, unsigned int index,
		       unsigned int n)
{
	char prefix[32] = "";
	const char *hint;

	if (!e->err)
		return;
	if (n > 1)
		snprintf(prefix, sizeof(prefix), "connection %u: ", index);
	if (e->detail[0]) {
		fprintf(stderr, "zcperf: %s%s: %s\n", prefix, e->context,
			e->detail);
		return;
	}
	fprintf(stderr, "zcperf: %s%s: %s\n", prefix, e->context,
		strerror(e->err));
	hint = error_hint(e->err);
	if (hint)
		fprintf(stderr, "zcperf: hint: %s\n", hint);
}

void conn_error_text(const struct conn_error *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s: %s", e->context,
		 e->detail[0] ? e->detail : strerror(e->err));
}

void json_cpu(struct json *j, const struct cpu_use *u, uint64_t bytes)
{
	json_num(j, "cpu_user_s", u->user_s);
	json_num(j, "cpu_sys_s", u->sys_s);
	json_num(j, "usec_per_mb", usec_per_mib(u, bytes));
	json_u64(j, "ctx_switches", u->vcsw + u->ivcsw);
	json_u64(j, "ctx_switches_voluntary", u->vcsw);
	json_u64(j, "ctx_switches_involuntary", u->ivcsw);
}

void json_intervals(struct json *j, const struct ticker *t, bool rx)
{
	size_t i;

	json_arr_begin(j, "intervals");
	for (i = 0; t && i < t->nrecs; i++) {
		const struct interval_rec *r = &t->recs[i];

		json_obj_begin(j, NULL);
		json_num(j, "start", r->start);
		json_num(j, "end", r->end);
		json_u64(j, "bytes", r->bytes);
		if (rx)
			json_u64(j, "mapped_bytes", r->mapped);
		json_num(j, "bits_per_second",
			 gbit_per_s(r->bytes, r->end - r->start) * 1e9);
		json_obj_end(j);
	}
	json_arr_end(j);
}

void json_version(struct json *j)
{
	char v[64];

	snprintf(v, sizeof(v), "zcperf %s", zc_version());
	json_str(j, "version", v);
	json_str(j, "kernel", kernel_release());
}

void print_cpu_line(const char *what, const struct cpu_use *u, uint64_t bytes)
{
	printf("cpu usage user:%.3f sys:%.3f, %.1f usec per MiB, %llu "
	       "c-switches%s",
	       u->user_s, u->sys_s, usec_per_mib(u, bytes),
	       (unsigned long long)u->vcsw + u->ivcsw, what);
}

void print_steal_line(const struct steal_sample *a,
		      const struct steal_sample *b)
{
	double p = steal_percent(a, b);

	if (p < 0)
		return;
	printf("steal: %.1f %% of CPU time during the run (time the "
	       "hypervisor gave away; above a few %% the numbers are noisy)\n",
	       p);
}

/* A whole document for a run that failed before it could report. */
void json_error_doc(const char *role, const char *msg)
{
	struct json j;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_version(&j);
	json_str(&j, "role", role);
	json_str(&j, "error", msg);
	json_obj_end(&j);
	json_done(&j);
}
