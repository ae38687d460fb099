/* SPDX-License-Identifier: MIT */
/*
 * -i SEC: a reporter thread that wakes every SEC seconds, reads each
 * connection's byte counters (written by the connection threads with
 * relaxed atomic stores, so the streams never wait for it) and prints an
 * iperf3-style line per connection plus a sum, or with -J only records the
 * sums for the document's "intervals" array.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "zcperf.h"

void ticker_add(struct ticker *t, uint64_t *bytes, uint64_t *mapped)
{
	if (t->n >= ZCPERF_MAX_PARALLEL)
		return;
	t->bytes[t->n] = bytes;
	t->mapped[t->n] = mapped;
	t->n++;
}

static void print_line(const struct ticker *t, const char *id, double a,
		       double b, uint64_t bytes, uint64_t mapped)
{
	char sz[32];

	printf("[%3s] %7.2f-%-7.2f sec  %10s  %7.2f Gbit/s", id, a, b,
	       fmt_iec(sz, sizeof(sz), (double)bytes),
	       gbit_per_s(bytes, b - a));
	if (t->rx)
		printf("  %5.1f %% mapped",
		       bytes ? 100.0 * (double)mapped / (double)bytes : 0.0);
	printf("\n");
}

static void record(struct ticker *t, double a, double b, uint64_t bytes,
		   uint64_t mapped)
{
	struct interval_rec *r;

	if (t->nrecs == t->caprecs) {
		size_t cap = t->caprecs ? t->caprecs * 2 : 64;

		r = realloc(t->recs, cap * sizeof(*r));
		if (!r)
			return; /* intervals are a nicety: drop them */
		t->recs = r;
		t->caprecs = cap;
	}
	r = &t->recs[t->nrecs++];
	r->start = a;
	r->end = b;
	r->bytes = bytes;
	r->mapped = mapped;
}

static void tick(struct ticker *t, double a, double b)
{
	uint64_t sum = 0, sum_mapped = 0, now, m;
	unsigned int i;
	char id[16];

	for (i = 0; i < t->n; i++) {
		now = __atomic_load_n(t->bytes[i], __ATOMIC_RELAXED);
		m = t->mapped[i]
			    ? __atomic_load_n(t->mapped[i], __ATOMIC_RELAXED)
			    : 0;
		if (!t->quiet && t->n > 1) {
			snprintf(id, sizeof(id), "%u", i);
			print_line(t, id, a, b, now - t->last_bytes[i],
				   m - t->last_mapped[i]);
		}
		sum += now - t->last_bytes[i];
		sum_mapped += m - t->last_mapped[i];
		t->last_bytes[i] = now;
		t->last_mapped[i] = m;
	}
	if (!t->quiet) {
		print_line(t, t->n > 1 ? "SUM" : "0", a, b, sum, sum_mapped);
		fflush(stdout);
	}
	record(t, a, b, sum, sum_mapped);
}

static void *ticker_main(void *arg)
{
	struct ticker *t = arg;
	struct timespec ts;
	double next = t->t0 + t->every, prev = t->t0;
	int r;

	if (!t->quiet) {
		printf("[ ID] Interval            Transfer     Bitrate%s\n",
		       t->rx ? "         Mapped" : "");
		fflush(stdout);
	}
	/* The condvar waits on CLOCK_MONOTONIC (see ticker_start), the
	 * clock now_s() reads, so the schedule does not drift. */
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		ts.tv_sec = (time_t)next;
		ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
		r = pthread_cond_timedwait(&t->cond, &t->lock, &ts);
		if (t->stop)
			break;
		if (r != ETIMEDOUT && now_s() < next)
			continue;
		pthread_mutex_unlock(&t->lock);
		tick(t, prev - t->t0, next - t->t0);
		prev = next;
		next += t->every;
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

void ticker_start(struct ticker *t)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &attr);
	pthread_condattr_destroy(&attr);
	t->stop = false;
	if (pthread_create(&t->thread, NULL, ticker_main, t))
		return; /* no intervals, the run still counts */
	t->running = true;
}

void ticker_stop(struct ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->running = false;
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
}
