/* SPDX-License-Identifier: MIT */
/* The system-call table (see internal.h) and small shared helpers. */
#include <sys/mman.h>
#include <time.h>

#include "internal.h"

/* Thread CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID). */
static unsigned long long thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

#define ZC__SYS_REAL                                                           \
	{                                                                      \
		.getsockopt = getsockopt, .setsockopt = setsockopt,            \
		.recv = recv, .sendmsg = sendmsg, .recvmsg = recvmsg,          \
		.poll = poll, .mmap = mmap, .munmap = munmap,                  \
		.madvise = madvise, .thread_cpu_ns = thread_cpu_ns,            \
	}

/* A macro, not a const object: clang does not take one as a static
 * initializer. */
struct zc__sys zc__sys = ZC__SYS_REAL;

void zc__sys_reset(void)
{
	static const struct zc__sys real = ZC__SYS_REAL;

	zc__sys = real;
}


ZC_API const char *zc_version(void)
{
	return "0.1.0";
}
