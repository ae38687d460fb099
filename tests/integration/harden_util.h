/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the hardening test programs (harden_*.c): checks that
 * count failures, a per-connection byte pattern, loopback TCP pairs, and
 * the process's resource counters (open fds, /proc/self/maps lines, RSS).
 * Header-only: each .c file in tests/integration is a program of its own.
 */
#ifndef ZC_HARDEN_UTIL_H
#define ZC_HARDEN_UTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

/* Built with AddressSanitizer: its allocator maps and keeps memory as it
 * goes (quarantine), so maps lines and RSS say nothing about our leaks;
 * LeakSanitizer checks the heap at exit instead. */
#if defined(__SANITIZE_ADDRESS__)
#define HARDEN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARDEN_ASAN 1
#endif
#endif
#ifndef HARDEN_ASAN
#define HARDEN_ASAN 0
#endif

/* 4096 bytes of payload + 12 of TCP timestamps: every loopback segment
 * carries whole pages, which the receiver can map (KERNEL_NOTES). */
#define HARDEN_MSS 4108

static int harden_checks __attribute__((unused));
static int harden_failures __attribute__((unused));

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		harden_checks++;                                               \
		if (!(cond)) {                                                 \
			harden_failures++;                                     \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);            \
			printf(__VA_ARGS__);                                   \
			putchar('\n');                                         \
			fflush(stdout);                                        \
		}                                                              \
	} while (0)

#define CHECK_EQ(got, want, what)                                              \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		CHECK(g_ == w_, "%s: got %lld (%s), want %lld (%s)", what, g_, \
		      g_ < 0 ? strerror((int)-g_) : "", w_,                    \
		      w_ < 0 ? strerror((int)-w_) : "");                       \
	} while (0)

static void harden_die(const char *what) __attribute__((noreturn, unused));

static void harden_die(const char *what)
{
	printf("FAIL setup: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	_exit(1);
}

/* Byte off of stream `stream`: no two streams share a pattern, and no
 * page of one stream matches the same page of another, so a view showing
 * another connection's (or cycle's) bytes cannot pass. */
static inline uint8_t harden_pattern(uint64_t stream, uint64_t off)
{
	uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull ^
		     (stream + 1) * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (off & 7)));
}

static inline void harden_fill(uint8_t *p, size_t len, uint64_t stream,
			       uint64_t off)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = harden_pattern(stream, off + i);
}

/* Index of the first byte that is not stream's pattern, or len. */
static inline size_t harden_verify(const uint8_t *p, size_t len,
				   uint64_t stream, uint64_t off)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != harden_pattern(stream, off + i))
			return i;
	return len;
}

/* Connected TCP pair over loopback: fds[0] accepted (the receiver),
 * fds[1] connected (the sender). mss > 0 sets TCP_MAXSEG on both. */
static inline int harden_tcp_pair(int fds[2], int family, int mss)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int l, c, a;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -errno;
	if (mss > 0)
		setsockopt(l, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	if (bind(l, (struct sockaddr *)&ss, len) ||
	    getsockname(l, (struct sockaddr *)&ss, &len) || listen(l, 1))
		goto out_err;
	c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		goto out_err;
	if (mss > 0)
		setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	if (connect(c, (struct sockaddr *)&ss, len)) {
		int err = errno;

		close(c);
		errno = err;
		goto out_err;
	}
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0) {
		int err = errno;

		close(c);
		errno = err;
		goto out_err;
	}
	close(l);
	fds[0] = a;
	fds[1] = c;
	return 0;
out_err:
	a = -errno;
	close(l);
	return a;
}

/* close() that sends RST instead of FIN (SO_LINGER {1, 0}). */
static inline void harden_close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

struct harden_usage {
	long fds;     /* entries of /proc/self/fd */
	long maps;    /* lines of /proc/self/maps */
	long rss_kib; /* resident set, /proc/self/statm */
};

static inline long harden_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* Counted with read(2) into a stack buffer: stdio would malloc. */
static inline long harden_count_lines(const char *path)
{
	char buf[4096];
	ssize_t n, i;
	long lines = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return n < 0 ? -1 : lines;
}

static inline long harden_rss_kib(void)
{
	char buf[256];
	long size = 0, resident = 0;
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (sscanf(buf, "%ld %ld", &size, &resident) != 2)
		return -1;
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Same fds, and same maps lines where they mean something (not under
 * ASan). */
#define HARDEN_SAME_USAGE(a, b)                                                \
	((a).fds == (b).fds && (HARDEN_ASAN || (a).maps == (b).maps))

static inline void harden_usage_now(struct harden_usage *u)
{
	u->fds = harden_count_fds();
	u->maps = harden_count_lines("/proc/self/maps");
	u->rss_kib = harden_rss_kib();
}

#endif /* ZC_HARDEN_UTIL_H */
