/* SPDX-License-Identifier: MIT */
/*
 * Internal helpers shared by the library's source files. Never installed.
 * Internal names use the zc__ prefix; exported ones are marked ZC_API.
 */
#ifndef ZC_INTERNAL_H
#define ZC_INTERNAL_H

#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "zcnet.h"

#define ZC_API __attribute__((visibility("default")))

#define ZC__MIN(a, b) ((a) < (b) ? (a) : (b))
#define ZC__MAX(a, b) ((a) > (b) ? (a) : (b))
#define ZC__ALIGN_UP(x, a) (((x) + (a) - 1) & ~((size_t)(a) - 1))
#define ZC__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Every system call the engines make goes through this table so that unit
 * tests can fake the kernel's answers (stragglers, errors, partial lengths)
 * without a network. Members follow the libc calling convention: -1 and
 * errno on failure. Production code never changes it.
 */
struct zc__sys {
	int (*getsockopt)(int fd, int level, int name, void *val,
			  socklen_t *len);
	int (*setsockopt)(int fd, int level, int name, const void *val,
			  socklen_t len);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
	ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
	int (*poll)(struct pollfd *fds, nfds_t n, int timeout_ms);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off);
	int (*munmap)(void *addr, size_t len);
	int (*madvise)(void *addr, size_t len, int advice);
	/* The calling thread's CPU time in ns (auto mode's cost meter). */
	unsigned long long (*thread_cpu_ns)(void);
};

extern struct zc__sys zc__sys;

/* Restores zc__sys to the real system calls (for tests). */
void zc__sys_reset(void);


#endif /* ZC_INTERNAL_H */
