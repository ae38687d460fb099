/* SPDX-License-Identifier: MIT */
/* Errors, clocks, CPU accounting and small helpers for zcperf. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>

#include "zcperf.h"

void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("zcperf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\ntry 'zcperf --help'\n", stderr);
	exit(2);
}

/* What to try when a zero-copy call fails for a known reason. */
const char *error_hint(int err)
{
	switch (err) {
	case ENOBUFS:
		return "MSG_ZEROCOPY ran out of option memory: raise "
		       "net.core.optmem_max (sysctl -w "
		       "net.core.optmem_max=1048576, per network namespace) "
		       "or RLIMIT_MEMLOCK (ulimit -l)";
	case ENOPROTOOPT:
		return "this kernel lacks the option (SO_ZEROCOPY needs 4.14, "
		       "TCP_ZEROCOPY_RECEIVE 4.18)";
	case EOPNOTSUPP:
		return "receive zero-copy is not available here; use --rx=copy "
		       "or --rx=auto";
	case ECONNREFUSED:
		return "is 'zcperf -s' running on that host and port?";
	case EADDRINUSE:
		return "another program listens on that port; choose one with "
		       "-p";
	case ECONNRESET:
	case EPIPE:
		return "the peer closed the connection early; see its output";
	case EAFNOSUPPORT:
		return "that address family is not available here (-4 or -6)";
	default:
		return NULL;
	}
}

void print_error(const char *context, int err)
{
	const char *hint = error_hint(err);

	fprintf(stderr, "zcperf: %s: %s\n", context, strerror(err));
	if (hint)
		fprintf(stderr, "zcperf: hint: %s\n", hint);
}

static const char *json_role;

void json_errors_for(const char *role)
{
	json_role = role;
}

void fatal_msg(const char *context, const char *reason)
{
	char msg[320];

	fprintf(stderr, "zcperf: %s: %s\n", context, reason);
	if (json_role) {
		snprintf(msg, sizeof(msg), "%s: %s", context, reason);
		json_error_doc(json_role, msg);
	}
	exit(1);
}

void fatal(const char *context, int err)
{
	char msg[320];

	print_error(context, err);
	if (json_role) {
		snprintf(msg, sizeof(msg), "%s: %s", context, strerror(err));
		json_error_doc(json_role, msg);
	}
	exit(1);
}

void conn_error_set(struct conn_error *e, const char *context, int err)
{
	if (e->err)
		return; /* the first error is the one that matters */
	e->err = err ? err : EIO;
	snprintf(e->context, sizeof(e->context), "%s", context);
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void rusage_now(int who, struct rusage *ru)
{
	if (getrusage(who, ru))
		memset(ru, 0, sizeof(*ru));
}

static double tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

void rusage_delta(const struct rusage *a, const struct rusage *b,
		  struct cpu_use *out)
{
	out->user_s = tv_s(&b->ru_utime) - tv_s(&a->ru_utime);
	out->sys_s = tv_s(&b->ru_stime) - tv_s(&a->ru_stime);
	out->vcsw = (uint64_t)(b->ru_nvcsw - a->ru_nvcsw);
	out->ivcsw = (uint64_t)(b->ru_nivcsw - a->ru_nivcsw);
}

double usec_per_mib(const struct cpu_use *u, uint64_t bytes)
{
	if (!bytes)
		return 0;
	return (u->user_s + u->sys_s) * 1e6 / ((double)bytes / 1048576.0);
}

double gbit_per_s(uint64_t bytes, double seconds)
{
	return seconds > 0 ? (double)bytes * 8 / seconds / 1e9 : 0;
}

const char *fmt_iec(char *buf, size_t len, double bytes)
{
	static const char *const units[] = { "B",   "KiB", "MiB",
					     "GiB", "TiB", "PiB" };
	unsigned int u = 0;

	while (bytes >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", bytes);
	else
		snprintf(buf, len, "%.1f %s", bytes, units[u]);
	return buf;
}

/* The "cpu" line of /proc/stat: user nice system idle iowait irq softirq
 * steal ...; steal is time the hypervisor ran someone else while this VM
 * wanted to run. */
void steal_sample(struct steal_sample *s)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	char line[256], *p, *end;
	int i;

	memset(s, 0, sizeof(*s));
	if (!f)
		return;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (!p || strncmp(line, "cpu ", 4) != 0)
		return;
	/* strtoull, unlike fscanf, says when a field is not a number. */
	p = line + 4;
	for (i = 0; i < 8; i++) {
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (end == p || errno)
			return;
		p = end;
	}
	for (i = 0; i < 8; i++)
		s->total += v[i];
	s->steal = v[7];
	s->ok = true;
}

double steal_percent(const struct steal_sample *a, const struct steal_sample *b)
{
	if (!a->ok || !b->ok || b->total <= a->total)
		return -1;
	return 100.0 * (double)(b->steal - a->steal) /
	       (double)(b->total - a->total);
}

const char *kernel_release(void)
{
	static struct utsname u;

	if (!u.release[0] && uname(&u))
		return "unknown";
	return u.release;
}

uint64_t random_u64(void)
{
	uint64_t v = 0;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v)) {
		/* Only tells connections of different runs apart. */
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^
		    (uint64_t)ts.tv_sec;
	}
	return v;
}
