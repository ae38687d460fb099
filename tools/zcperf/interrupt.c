/* SPDX-License-Identifier: MIT */
/*
 * SIGINT: the first one stops the run and the normal summary prints what
 * was measured until then, marked as interrupted (exit status 130, as
 * zcnc); a second one exits at once.
 *
 * A flag alone is not enough: receiving and sending threads block in
 * zc_rx_read, send, accept and poll, and never look at it. So SIGINT is
 * blocked in every thread and taken by a thread of its own (sigwait),
 * which sets the flag and then shuts down (SHUT_RDWR) every socket
 * registered here. A blocked receive then returns the end of the stream
 * (recv() knows RCV_SHUTDOWN), a blocked send EPIPE, accept on the
 * listening socket EINVAL, and poll wakes: inet_shutdown() wakes every
 * sleeper on the socket. Bytes already queued still leave before our FIN,
 * so the peer gets every byte we counted as sent.
 *
 * One mutex orders the shutdowns against registering and closing: a socket
 * is forgotten before it is closed, so a number the kernel reuses for
 * another file is never shut down by mistake; a socket registered after
 * SIGINT is shut down at once.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "report.h"

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static int *watched;
static size_t nwatched, capwatched;
static bool stopped;
static sigset_t sigint_set;

bool interrupted(void)
{
	return __atomic_load_n(&stopped, __ATOMIC_ACQUIRE);
}

static void *signal_thread(void *arg)
{
	size_t i;
	int sig;

	for (;;) {
		if (sigwait(&sigint_set, &sig))
			continue;
		/* A second ^C does not wait for the summary. */
		if (interrupted())
			_exit(ZCPERF_EXIT_INTERRUPTED);
		pthread_mutex_lock(&watch_lock);
		/* The flag first: a thread that wakes from the shutdown
		 * must find it set and take the end for the interrupt. */
		__atomic_store_n(&stopped, true, __ATOMIC_RELEASE);
		for (i = 0; i < nwatched; i++)
			shutdown(watched[i], SHUT_RDWR);
		pthread_mutex_unlock(&watch_lock);
	}
	return NULL;
}

int interrupt_setup(void)
{
	struct sigaction sa;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	sigemptyset(&sigint_set);
	sigaddset(&sigint_set, SIGINT);
	/* Blocked before any other thread exists: they all inherit it, and
	 * only sigwait below ever takes the signal. */
	r = pthread_sigmask(SIG_BLOCK, &sigint_set, NULL);
	if (r)
		return -r;
	/* A shell starts background jobs with SIGINT ignored, and an
	 * ignored signal is dropped even while blocked: take it back, as
	 * zcnc does. Blocked, the default action never runs. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL))
		return -errno;
	r = pthread_attr_init(&attr);
	if (r)
		return -r;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, signal_thread, NULL);
	pthread_attr_destroy(&attr);
	return -r;
}

void interrupt_watch(int fd)
{
	int *p;

	if (fd < 0)
		return;
	pthread_mutex_lock(&watch_lock);
	if (interrupted())
		shutdown(fd, SHUT_RDWR);
	if (nwatched == capwatched) {
		capwatched = capwatched ? 2 * capwatched : 64;
		p = realloc(watched, capwatched * sizeof(*watched));
		if (!p)
			fatal("realloc", ENOMEM);
		watched = p;
	}
	watched[nwatched++] = fd;
	pthread_mutex_unlock(&watch_lock);
}

void interrupt_forget(int fd)
{
	size_t i;

	if (fd < 0)
		return;
	pthread_mutex_lock(&watch_lock);
	for (i = 0; i < nwatched; i++) {
		if (watched[i] == fd) {
			watched[i] = watched[--nwatched];
			break;
		}
	}
	pthread_mutex_unlock(&watch_lock);
}

void interrupt_close(int fd)
{
	if (fd < 0)
		return;
	interrupt_forget(fd);
	close(fd);
}

int interrupt_absorb(struct conn_error *e, int r)
{
	if (!interrupted() || !e->err || e->err == EILSEQ || e->err == EPROTO)
		return r;
	memset(e, 0, sizeof(*e));
	return 0;
}

int interrupt_idle(const struct cfg *cfg, const char *role)
{
	struct json j;

	if (!cfg->json) {
		fprintf(stderr, "zcperf: interrupted while waiting for a "
				"client\n");
		return ZCPERF_EXIT_INTERRUPTED;
	}
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_version(&j);
	json_str(&j, "role", role);
	json_bool(&j, "interrupted", true);
	json_str(&j, "error", NULL);
	json_obj_end(&j);
	json_done(&j);
	return ZCPERF_EXIT_INTERRUPTED;
}
