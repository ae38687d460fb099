/* SPDX-License-Identifier: MIT */
/*
 * tx_peer: both ends of the send engine's integration tests, in one run.
 *
 *   tx_peer pair --connect ADDR [--port P] [--rx-ns NS] [--tx-ns NS]
 *                [--udp] [--backend B] [--bytes N] [--size N] [--bufs N]
 *                [--overwrite] [--nonblock] [--fallback] [--fixed]
 *                [--lazy-reap]
 *                [--threshold N] [--reap-every N] [--retry-after N]
 *                [--max-outstanding N] [--deny-uring ENAME]
 *                [--memlock N] [--drop-ipc-lock] [--reset-after N]
 *                [--free-early N] [--close-early N] [--sndbuf N]
 *                [--seed S]
 *                [--expect-backend B] [--expect-create-error ENAME]
 *                [--expect-register-error ENAME] [--expect-enobufs]
 *                [--expect-enobufs-copied]
 *                [--expect-fallbacks] [--expect-kernel-copied]
 *                [--expect-zerocopy] [--expect-backoff]
 *                [--expect-policy-copied] [--expect-send-error]
 *   tx_peer blast --connect ADDR [--port P] [--tx-ns NS] [--backend B]
 *                [--bytes N] [--size N] [--threshold N]
 *   tx_peer probe       prints "name 0|1" for the send features here
 *
 * pair forks: the child enters --rx-ns and receives, the parent enters
 * --tx-ns and sends through struct zc_tx from --bufs buffers, each refilled
 * only after every completion covering it arrived. The stream is a
 * deterministic pattern of its byte offsets; UDP datagrams carry a header
 * (magic, offset) and the pattern of their offsets, and the receiver acks
 * every few datagrams so the sender never overruns its socket buffer.
 * The receiver checks every byte it gets against the pattern.
 *
 * --overwrite inverts each byte of a buffer the moment a completion says
 * the kernel is done with it: a completion that came early (before the
 * kernel finished reading the pages) shows as wrong bytes at the receiver.
 *
 * The sender checks the completion contract: one completion per accepted
 * send, with its user_data and length, never two, none for a failed send;
 * zc_tx_flush() drains them all; the stats add up; zc_tx_free() reports
 * nothing outstanding. --lazy-reap reaps only when every buffer is in use,
 * so notifications pile up (in optmem) as in a careless caller. Fault modes:
 * --reset-after N makes the receiver reset the connection (SO_LINGER 0) after N
 * bytes; --free-early N frees the handle right after N bytes without waiting
 * (buffers are kept, as the kernel may still read them); --close-early N closes
 * the socket with sends outstanding, then flushes and frees. --deny-uring
 * installs a seccomp filter so io_uring_setup fails with that errno; --memlock
 * and
 * --drop-ipc-lock make pinned pages count against a small RLIMIT_MEMLOCK.
 *
 * blast sends UDP datagrams and reports the sender's CPU time per byte (for
 * bench/tx_threshold.sh: aimed at a dummy device, which drops them, so
 * MSG_ZEROCOPY really skips the copy).
 *
 * Sizes take K, M, G suffixes. Traffic goes only to the address given,
 * which the scripts take from namespaces they created.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zcnet.h"

#define UDP_MAGIC     0x5a435458u /* "ZCTX" */
#define UDP_F_END     1u
#define UDP_HDR	      16u
#define UDP_WINDOW    48u /* datagrams in flight */
#define UDP_ACK_EVERY 8u
#define MAX_PARTS     1024u
#define MAX_BUFS      256u
#define BATCH	      64u

struct udp_hdr {
	uint32_t magic;
	uint32_t flags;
	uint64_t offset; /* stream offset of the payload */
};

struct opts {
	const char *addr;
	int port;
	const char *rx_ns, *tx_ns;
	bool udp;
	int backend;
	uint64_t bytes;
	uint32_t size;
	uint32_t nbufs;
	bool overwrite, nonblock, fallback, fixed, lazy_reap;
	uint32_t threshold, reap_every, retry_after, max_outstanding;
	int deny_uring;
	long long memlock;
	bool drop_ipc_lock;
	uint64_t reset_after, free_early, close_early;
	int sndbuf;
	uint64_t seed;
	int expect_backend;
	int expect_create_error, expect_register_error;
	bool expect_enobufs, expect_enobufs_copied, expect_fallbacks,
		expect_kernel_copied;
	bool expect_zerocopy, expect_backoff, expect_policy_copied;
	bool expect_send_error;
};

/* What the receiving child reports through a pipe. */
struct rx_result {
	int ok;
	uint64_t bytes;
	uint64_t datagrams;
	char why[200];
};

static const char *role = "tx_peer";
/* The sender's end of the receiver's result pipe, while there is one. */
static int rx_result_fd = -1;

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

struct rx_result;
static void report_receiver(void);

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: FAIL: ", role);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	report_receiver();
	exit(1);
}

/* The sender failed: often because the receiver saw a wrong byte and
 * left (the sender then gets EPIPE). Say what the receiver saw. */
static void report_receiver(void)
{
	struct pollfd pfd = { .fd = rx_result_fd, .events = POLLIN };
	struct rx_result r;

	if (rx_result_fd < 0 || poll(&pfd, 1, 3000) != 1 ||
	    read(rx_result_fd, &r, sizeof(r)) != sizeof(r))
		return;
	if (!r.ok)
		fprintf(stderr, "%s: receiver: %s\n", role, r.why);
}

/* --- the pattern -------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint8_t pattern_byte(uint64_t off, uint64_t seed)
{
	return (uint8_t)(mix64((off >> 3) ^ seed) >> (8 * (off & 7)));
}

/* The byte the sender's --overwrite leaves behind. */
static bool inverted(uint8_t got, uint64_t off, uint64_t seed)
{
	/* got == ~want, said so that -Wsign-compare stays quiet */
	return (uint8_t)(got + pattern_byte(off, seed)) == 0xff;
}

/* Byte i of the stream is byte i & 7 of mix64(i / 8 ^ seed). */
static void pattern_fill(uint8_t *p, uint64_t off, size_t len, uint64_t seed)
{
	uint64_t v;
	int k;

	while (len && (off & 7)) {
		*p++ = pattern_byte(off++, seed);
		len--;
	}
	for (; len >= 8; p += 8, off += 8, len -= 8) {
		v = mix64((off >> 3) ^ seed);
		for (k = 0; k < 8; k++)
			p[k] = (uint8_t)(v >> (8 * k));
	}
	while (len) {
		*p++ = pattern_byte(off++, seed);
		len--;
	}
}

/* Returns the index of the first byte of p that is not the pattern at
 * off, or -1. */
static long long pattern_check(const uint8_t *p, uint64_t off, size_t len,
			       uint64_t seed)
{
	static uint8_t want[1 << 16];
	size_t done = 0, n, i;

	while (done < len) {
		n = len - done < sizeof(want) ? len - done : sizeof(want);
		pattern_fill(want, off + done, n, seed);
		if (memcmp(want, p + done, n))
			for (i = 0; i < n; i++)
				if (want[i] != p[done + i])
					return (long long)(done + i);
		done += n;
	}
	return -1;
}

/* --- small helpers ------------------------------------------------------ */

static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end || end == s)
		die("bad size '%s'", s);
	return v;
}

static const char *const errnames[] = {
	[EPERM] = "EPERM",     [ENOSYS] = "ENOSYS", [EOPNOTSUPP] = "EOPNOTSUPP",
	[ENOMEM] = "ENOMEM",   [EINVAL] = "EINVAL", [EACCES] = "EACCES",
	[ENOBUFS] = "ENOBUFS", [EPIPE] = "EPIPE",   [ECONNRESET] = "ECONNRESET",
	[EBADF] = "EBADF",     [ETIME] = "ETIME",   [EAGAIN] = "EAGAIN",
};

static int parse_errno(const char *s)
{
	unsigned int i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i] && !strcmp(errnames[i], s))
			return (int)i;
	die("unknown errno name '%s'", s);
}

static const char *errname(int err)
{
	if (err < 0)
		err = -err;
	if (err < (int)(sizeof(errnames) / sizeof(errnames[0])) &&
	    errnames[err])
		return errnames[err];
	return strerror(err);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void enter_ns(const char *ns)
{
	char path[256];
	int fd;

	if (!ns)
		return;
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die("enter namespace %s: %s", ns, strerror(errno));
	close(fd);
}

static socklen_t make_addr(const char *addr, int port,
			   struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	die("bad address '%s'", addr);
}

/* --- receiver ----------------------------------------------------------- */

static int rx_listen(const struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(o->addr, o->port, &ss);
	int fd, one = 1, rcvbuf = 16 << 20;

	fd = socket(ss.ss_family,
		    (o->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Root may exceed rmem_max: room for the whole UDP window. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind %s port %d: %s", o->addr, o->port, strerror(errno));
	if (!o->udp && listen(fd, 1))
		die("listen: %s", strerror(errno));
	return fd;
}

static void rx_tcp(const struct opts *o, int lfd, struct rx_result *r)
{
	static uint8_t buf[1 << 20];
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint64_t want = o->reset_after ? o->reset_after : UINT64_MAX;
	long long bad;
	ssize_t n;
	int fd;

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	for (;;) {
		size_t ask = sizeof(buf);

		if (want - r->bytes < ask)
			ask = want - r->bytes;
		if (!ask)
			break;
		n = recv(fd, buf, ask, 0);
		if (n < 0) {
			snprintf(r->why, sizeof(r->why), "recv: %s",
				 strerror(errno));
			return;
		}
		if (n == 0)
			break;
		bad = pattern_check(buf, r->bytes, n, o->seed);
		if (bad >= 0) {
			snprintf(r->why, sizeof(r->why),
				 "wrong byte at stream offset %llu: 0x%02x, "
				 "want 0x%02x%s",
				 (unsigned long long)(r->bytes + bad), buf[bad],
				 pattern_byte(r->bytes + bad, o->seed),
				 inverted(buf[bad], r->bytes + bad, o->seed)
					 ? " (overwritten: released early)"
					 : "");
			return;
		}
		r->bytes += n;
	}
	if (o->reset_after) {
		/* A reset, not a FIN: the sender's next sends fail. */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
	r->ok = 1;
}

static void rx_udp(const struct opts *o, int fd, struct rx_result *r)
{
	static uint8_t buf[65536];
	struct sockaddr_storage peer;
	socklen_t plen;
	struct udp_hdr h;
	bool connected = false, ended = false;
	uint64_t count;
	long long bad;
	ssize_t n;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		/* Everything arrived: done. After the end marker, give
		 * stragglers a moment; then whatever is missing is lost. */
		if (ended && r->bytes == o->bytes)
			break;
		if (poll(&pfd, 1, ended ? 2000 : 30000) <= 0) {
			snprintf(r->why, sizeof(r->why),
				 "%s after %llu of %llu bytes",
				 ended ? "datagrams lost" : "sender went quiet",
				 (unsigned long long)r->bytes,
				 (unsigned long long)o->bytes);
			return;
		}
		plen = sizeof(peer);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer,
			     &plen);
		if (n < 0) {
			snprintf(r->why, sizeof(r->why), "recv: %s",
				 strerror(errno));
			return;
		}
		if (!connected) {
			if (connect(fd, (struct sockaddr *)&peer, plen))
				die("connect to sender: %s", strerror(errno));
			connected = true;
		}
		if (n < (ssize_t)UDP_HDR) {
			snprintf(r->why, sizeof(r->why), "runt datagram");
			return;
		}
		memcpy(&h, buf, sizeof(h));
		if (h.magic != UDP_MAGIC) {
			snprintf(r->why, sizeof(r->why),
				 "datagram %llu: bad header 0x%08x%s",
				 (unsigned long long)r->datagrams, h.magic,
				 h.magic == ~UDP_MAGIC
					 ? " (overwritten: released early)"
					 : "");
			return;
		}
		if (h.flags & UDP_F_END) {
			ended = true;
			continue;
		}
		bad = pattern_check(buf + UDP_HDR, h.offset, n - UDP_HDR,
				    o->seed);
		if (bad >= 0) {
			snprintf(r->why, sizeof(r->why),
				 "wrong byte at stream offset %llu%s",
				 (unsigned long long)(h.offset + bad),
				 inverted(buf[UDP_HDR + bad], h.offset + bad,
					  o->seed)
					 ? " (overwritten: released early)"
					 : "");
			return;
		}
		r->bytes += n - UDP_HDR;
		r->datagrams++;
		if (r->datagrams % UDP_ACK_EVERY == 0) {
			count = r->datagrams;
			send(fd, &count, sizeof(count), 0);
		}
	}
	r->ok = 1;
}

/* --- sender ------------------------------------------------------------- */

struct part {
	uint32_t off, len;
};

struct txbuf {
	uint8_t *p;
	uint32_t len;	 /* bytes of this fill */
	uint32_t sent;	 /* of which accepted */
	uint32_t nparts; /* accepted, completion pending */
	struct part parts[MAX_PARTS];
	bool busy;
};

struct sender {
	const struct opts *o;
	int fd;
	struct zc_tx *tx;
	struct txbuf *bufs;
	uint8_t *region;
	size_t region_len;
	uint64_t accepted_sends, accepted_bytes;
	uint64_t completions, completed_bytes;
	uint64_t copied_completions;
	uint64_t dgrams_sent, dgrams_acked;
	bool send_failed;
	int send_error;
};

static void on_completion(struct sender *s, const struct zc_completion *c)
{
	uint32_t bi = (uint32_t)(c->user_data >> 32);
	uint32_t off = (uint32_t)c->user_data, i;
	struct txbuf *b;

	if (bi >= s->o->nbufs)
		die("completion with unknown user_data 0x%llx",
		    (unsigned long long)c->user_data);
	b = &s->bufs[bi];
	for (i = 0; i < b->nparts; i++)
		if (b->parts[i].off == off)
			break;
	if (i == b->nparts)
		die("completion for buffer %u offset %u that is not pending "
		    "(a duplicate or a failed send's)",
		    bi, off);
	if (b->parts[i].len != c->len)
		die("completion length %u, send accepted %u", c->len,
		    b->parts[i].len);
	b->parts[i] = b->parts[--b->nparts];
	if (s->o->overwrite) {
		uint32_t k;

		for (k = 0; k < c->len; k++)
			b->p[off + k] = (uint8_t)~b->p[off + k];
	}
	if (c->flags & ZC_COMPLETION_COPIED)
		s->copied_completions++;
	if (b->sent == b->len && !b->nparts)
		b->busy = false;
	s->completions++;
	s->completed_bytes += c->len;
}

static int reap_all(struct sender *s)
{
	struct zc_completion c[BATCH];
	int n, i, total = 0;

	do {
		n = zc_tx_reap(s->tx, c, BATCH);
		if (n < 0)
			return n;
		for (i = 0; i < n; i++)
			on_completion(s, &c[i]);
		total += n;
	} while (n == (int)BATCH);
	return total;
}

static void wait_completions(struct sender *s, int timeout_ms)
{
	struct zc_completion c[BATCH];
	int n, i;

	n = zc_tx_wait(s->tx, c, BATCH, timeout_ms);
	if (n < 0)
		die("zc_tx_wait: %s", errname(n));
	for (i = 0; i < n; i++)
		on_completion(s, &c[i]);
}

static void read_acks(struct sender *s, int timeout_ms)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	uint64_t count;

	if (timeout_ms && poll(&pfd, 1, timeout_ms) <= 0)
		return;
	while (recv(s->fd, &count, sizeof(count), MSG_DONTWAIT) ==
	       sizeof(count))
		if (count > s->dgrams_acked)
			s->dgrams_acked = count;
}

static void print_stats(const struct sender *s);

static struct txbuf *free_buffer(struct sender *s)
{
	double give_up = now_s() + 30;
	uint32_t i;

	for (;;) {
		/* --lazy-reap: leave completions queued (in optmem) until
		 * every buffer is in use. */
		if (!s->o->lazy_reap && reap_all(s) < 0)
			die("zc_tx_reap failed");
		for (i = 0; i < s->o->nbufs; i++)
			if (!s->bufs[i].busy)
				return &s->bufs[i];
		if (s->o->lazy_reap && reap_all(s) < 0)
			die("zc_tx_reap failed");
		for (i = 0; i < s->o->nbufs; i++)
			if (!s->bufs[i].busy)
				return &s->bufs[i];
		if (now_s() > give_up) {
			print_stats(s);
			die("no buffer completed in 30 s (outstanding sends "
			    "never completed)");
		}
		wait_completions(s, 1000);
	}
}

/* Sends all of b (TCP may take several sends). Returns false when a send
 * failed with an error (the peer is gone). */
static bool send_buffer(struct sender *s, struct txbuf *b)
{
	uint32_t bi = (uint32_t)(b - s->bufs);
	ssize_t n;

	while (b->sent < b->len) {
		n = zc_tx_send(s->tx, b->p + b->sent, b->len - b->sent,
			       (uint64_t)bi << 32 | b->sent);
		if (n == -EAGAIN) {
			struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

			/* Socket full (non-blocking) or too many
			 * completions unreaped: do both. */
			reap_all(s);
			poll(&pfd, 1, 10);
			continue;
		}
		if (n == -EINTR)
			continue;
		if (n < 0) {
			s->send_failed = true;
			s->send_error = (int)n;
			return false;
		}
		if (n == 0 || n > b->len - b->sent)
			die("zc_tx_send returned %zd for %u bytes", n,
			    b->len - b->sent);
		if (b->nparts == MAX_PARTS)
			die("more than %u parts in one buffer", MAX_PARTS);
		b->parts[b->nparts++] = (struct part){ b->sent, (uint32_t)n };
		b->sent += (uint32_t)n;
		s->accepted_sends++;
		s->accepted_bytes += (uint64_t)n;
	}
	return true;
}

static int tx_connect(const struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(o->addr, o->port, &ss);
	int fd, tries;

	fd = socket(ss.ss_family,
		    (o->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	for (tries = 0; connect(fd, (struct sockaddr *)&ss, len); tries++) {
		if (tries > 100)
			die("connect %s port %d: %s", o->addr, o->port,
			    strerror(errno));
		usleep(20000);
	}
	/* A small send buffer makes TCP accept part of a send, and a
	 * non-blocking socket answer EAGAIN, often. */
	if (o->sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf,
				    sizeof(o->sndbuf)))
		die("SO_SNDBUF: %s", strerror(errno));
	if (o->nonblock)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Makes io_uring_setup fail with err in this process (and its children),
 * as a kernel with io_uring disabled would. */
static void deny_uring(int err)
{
#if defined(__x86_64__)
	const uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	const uint32_t arch = AUDIT_ARCH_AARCH64;
#else
	const uint32_t arch = 0;
	printf("skipped: no seccomp arch for this machine\n");
	exit(77);
#endif
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		die("seccomp: %s", strerror(errno));
}

/* Drops CAP_IPC_LOCK from the effective set: pinned pages (MSG_ZEROCOPY,
 * io_uring) are then charged to RLIMIT_MEMLOCK, as for ordinary users. */
static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		die("capget: %s", strerror(errno));
	d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	if (syscall(SYS_capset, &h, d))
		die("capset: %s", strerror(errno));
}

static void alloc_buffers(struct sender *s)
{
	const struct opts *o = s->o;
	size_t page = 4096, stride = (o->size + page - 1) / page * page;
	uint32_t i;

	s->region_len = stride * o->nbufs;
	s->region = mmap(NULL, s->region_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s->bufs = calloc(o->nbufs, sizeof(*s->bufs));
	if (s->region == MAP_FAILED || !s->bufs)
		die("out of memory");
	for (i = 0; i < o->nbufs; i++)
		s->bufs[i].p = s->region + i * stride;
}

static void fill_next(struct sender *s, struct txbuf *b, uint64_t *offset,
		      uint64_t limit)
{
	const struct opts *o = s->o;
	uint64_t left = limit - *offset;
	struct udp_hdr h = { .magic = UDP_MAGIC };
	uint32_t payload;

	if (o->udp) {
		payload = o->size - UDP_HDR;
		if (payload > left)
			payload = (uint32_t)left;
		h.offset = *offset;
		memcpy(b->p, &h, sizeof(h));
		pattern_fill(b->p + UDP_HDR, *offset, payload, o->seed);
		b->len = payload + UDP_HDR;
		*offset += payload;
	} else {
		b->len = left < o->size ? (uint32_t)left : o->size;
		pattern_fill(b->p, *offset, b->len, o->seed);
		*offset += b->len;
	}
	b->sent = 0;
	b->busy = true;
}

static void print_stats(const struct sender *s)
{
	struct zc_tx_stats st;

	zc_tx_get_stats(s->tx, &st);
	printf("tx: backend=%s sends=%llu bytes=%llu zerocopy=%llu "
	       "kernel_copied=%llu policy_copied=%llu notifications=%llu "
	       "enobufs=%llu enobufs_copied=%llu fallbacks=%llu backoffs=%llu "
	       "out_of_order=%llu "
	       "bad_ids=%llu foreign=%llu outstanding=%llu\n",
	       zc_tx_backend_name(zc_tx_backend(s->tx)),
	       (unsigned long long)st.sends, (unsigned long long)st.bytes,
	       (unsigned long long)st.bytes_zerocopy,
	       (unsigned long long)st.bytes_kernel_copied,
	       (unsigned long long)st.bytes_policy_copied,
	       (unsigned long long)st.notifications,
	       (unsigned long long)st.enobufs,
	       (unsigned long long)st.enobufs_copied,
	       (unsigned long long)st.fallbacks,
	       (unsigned long long)st.auto_backoffs,
	       (unsigned long long)st.out_of_order,
	       (unsigned long long)st.bad_ids,
	       (unsigned long long)st.foreign_errors,
	       (unsigned long long)st.outstanding);
}

/* The completion contract and the stats, once everything completed. */
static void check_contract(struct sender *s)
{
	const struct opts *o = s->o;
	struct zc_tx_stats st;
	uint32_t i;

	zc_tx_get_stats(s->tx, &st);
	if (s->completions != s->accepted_sends)
		die("%llu completions for %llu accepted sends",
		    (unsigned long long)s->completions,
		    (unsigned long long)s->accepted_sends);
	if (s->completed_bytes != s->accepted_bytes)
		die("completions cover %llu bytes, sends accepted %llu",
		    (unsigned long long)s->completed_bytes,
		    (unsigned long long)s->accepted_bytes);
	for (i = 0; i < o->nbufs; i++)
		if (s->bufs[i].nparts)
			die("buffer %u still has parts pending", i);
	if (st.sends != s->accepted_sends || st.bytes != s->accepted_bytes)
		die("stats say %llu sends %llu bytes, we saw %llu %llu",
		    (unsigned long long)st.sends, (unsigned long long)st.bytes,
		    (unsigned long long)s->accepted_sends,
		    (unsigned long long)s->accepted_bytes);
	if (st.bytes_zerocopy + st.bytes_kernel_copied +
		    st.bytes_policy_copied !=
	    st.bytes)
		die("stats: zerocopy + kernel_copied + policy_copied != bytes");
	if (st.outstanding)
		die("stats: %llu outstanding after flush",
		    (unsigned long long)st.outstanding);
	if (st.bad_ids || st.foreign_errors)
		die("stats: bad_ids %llu foreign %llu",
		    (unsigned long long)st.bad_ids,
		    (unsigned long long)st.foreign_errors);
	if (o->expect_enobufs && !st.enobufs)
		die("expected ENOBUFS from the kernel, stats.enobufs is 0");
	if (o->expect_enobufs_copied && !st.enobufs_copied)
		die("expected copies after ENOBUFS, stats.enobufs_copied is 0");
	if (o->expect_fallbacks && !st.fallbacks)
		die("expected a backend fallback, stats.fallbacks is 0");
	if (o->expect_kernel_copied &&
	    (!st.bytes_kernel_copied || !s->copied_completions))
		die("expected the kernel to report copies (COPIED), none");
	if (o->expect_zerocopy && !st.bytes_zerocopy)
		die("expected bytes sent without a copy, none");
	if (o->expect_backoff && !st.auto_backoffs)
		die("expected auto to back off to copy, it did not");
	if (o->expect_policy_copied && !st.bytes_policy_copied)
		die("expected bytes copied by policy, none");
}

static void udp_end(struct sender *s, uint64_t offset)
{
	struct udp_hdr h = { .magic = UDP_MAGIC,
			     .flags = UDP_F_END,
			     .offset = offset };
	int i;

	for (i = 0; i < 3; i++) {
		send(s->fd, &h, sizeof(h), MSG_NOSIGNAL);
		usleep(1000);
	}
}

static struct zc_tx *create_tx(struct sender *s)
{
	const struct opts *o = s->o;
	struct zc_tx_opts to = {
		.backend = (uint32_t)o->backend,
		.zc_threshold = o->threshold,
		.reap_every = o->reap_every,
		.retry_after = o->retry_after,
		.max_outstanding = o->max_outstanding,
	};
	struct zc_tx *tx;
	int ret, tries;

	if (o->fallback)
		to.flags |= ZC_TX_F_FALLBACK;
	if (o->fixed)
		to.flags |= ZC_TX_F_FIXED_BUFFERS;
	/* Locked memory is counted per user, not per process, and an earlier
	 * test's io_uring ring is torn down asynchronously (io_ring_exit_work)
	 * after that process exited: give it a moment to be uncharged. */
	for (tries = 0;; tries++) {
		ret = zc_tx_create(&tx, s->fd, &to);
		if (ret != -ENOMEM || !o->drop_ipc_lock ||
		    o->expect_create_error || tries == 50)
			break;
		usleep(20000);
	}
	if (o->expect_create_error) {
		if (ret != -o->expect_create_error)
			die("zc_tx_create: got %s, want %s", errname(ret),
			    errname(o->expect_create_error));
		printf("tx: zc_tx_create failed with %s, as expected\n",
		       errname(ret));
		return NULL;
	}
	if (ret)
		die("zc_tx_create: %s", errname(ret));
	if (o->expect_backend >= 0 && zc_tx_backend(tx) != o->expect_backend)
		die("backend %s running, want %s",
		    zc_tx_backend_name(zc_tx_backend(tx)),
		    zc_tx_backend_name(o->expect_backend));
	if (o->fixed) {
		struct iovec iov = { s->region, s->region_len };

		ret = zc_tx_register(tx, &iov, 1);
		if (o->expect_register_error) {
			if (ret != -o->expect_register_error)
				die("zc_tx_register: got %s, want %s",
				    ret ? errname(ret) : "0",
				    errname(o->expect_register_error));
			printf("tx: zc_tx_register failed with %s, as "
			       "expected; sending unregistered\n",
			       errname(ret));
		} else if (ret) {
			die("zc_tx_register: %s", errname(ret));
		}
	}
	return tx;
}

/* Returns the bytes the sender got accepted. */
static uint64_t run_sender(const struct opts *o, int fd)
{
	struct sender s = { .o = o, .fd = fd };
	uint64_t offset = 0, limit = o->bytes;
	struct txbuf *b;
	int ret, left;

	alloc_buffers(&s);
	s.tx = create_tx(&s);
	if (!s.tx) {
		free(s.bufs);
		munmap(s.region, s.region_len);
		return 0;
	}
	if (o->free_early && o->free_early < limit)
		limit = o->free_early;
	if (o->close_early && o->close_early < limit)
		limit = o->close_early;

	while (offset < limit) {
		b = free_buffer(&s);
		fill_next(&s, b, &offset, limit);
		if (!send_buffer(&s, b))
			break;
		if (o->udp) {
			s.dgrams_sent++;
			read_acks(&s, 0);
			while (s.dgrams_sent - s.dgrams_acked >= UDP_WINDOW) {
				double t0 = now_s();

				reap_all(&s);
				read_acks(&s, 100);
				if (now_s() - t0 > 5)
					die("no acks for 5 s: datagrams lost");
			}
		}
	}

	if (o->expect_send_error && !s.send_failed)
		die("expected a send to fail (peer reset), none did");
	if (s.send_failed && !o->expect_send_error)
		die("zc_tx_send: %s", errname(s.send_error));
	if (s.send_failed)
		printf("tx: send failed with %s after %llu bytes, as "
		       "expected\n",
		       errname(s.send_error),
		       (unsigned long long)s.accepted_bytes);

	if (o->free_early) {
		/* Outstanding sends may still be read by the kernel: keep
		 * the buffers (never unmapped) and only drop the handle. */
		ret = zc_tx_free(s.tx);
		printf("tx: freed early with %d sends outstanding, %llu bytes "
		       "accepted\n",
		       ret, (unsigned long long)s.accepted_bytes);
		if (ret < 0)
			die("zc_tx_free returned %d", ret);
		shutdown(fd, SHUT_WR);
		free(s.bufs); /* the bookkeeping; the region stays mapped */
		return s.accepted_bytes;
	}
	if (o->close_early) {
		close(fd);
		ret = zc_tx_flush(s.tx, 2000);
		printf("tx: socket closed with sends outstanding; flush: %s\n",
		       ret ? errname(ret) : "0");
		if (ret && ret != -EBADF && ret != -ETIME)
			die("flush after close: %s", errname(ret));
		reap_all(&s);
		ret = zc_tx_free(s.tx);
		printf("tx: freed with %d outstanding\n", ret);
		if (ret < 0)
			die("zc_tx_free returned %d", ret);
		free(s.bufs); /* the bookkeeping; the region stays mapped */
		return s.accepted_bytes;
	}

	/* Every accepted send completes, even after a reset. */
	ret = zc_tx_flush(s.tx, 20000);
	if (ret)
		die("zc_tx_flush: %s with %llu outstanding", errname(ret),
		    (unsigned long long)(s.accepted_sends - s.completions));
	if (reap_all(&s) < 0)
		die("zc_tx_reap after flush failed");
	print_stats(&s);
	check_contract(&s);
	left = zc_tx_free(s.tx);
	if (left)
		die("zc_tx_free: %d outstanding after flush", left);
	if (o->udp)
		udp_end(&s, offset);
	else
		shutdown(fd, SHUT_WR);
	munmap(s.region, s.region_len);
	free(s.bufs);
	/* The receiver counts payload bytes, not our datagram headers. */
	if (o->udp)
		return s.accepted_bytes - UDP_HDR * s.accepted_sends;
	return s.accepted_bytes;
}

static int do_pair(struct opts *o)
{
	struct rx_result r;
	int ready[2], res[2], lfd, status;
	uint64_t accepted;
	char c;
	pid_t pid;

	if (pipe(ready) || pipe(res))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		role = "tx_peer receiver";
		alarm(150);
		enter_ns(o->rx_ns);
		lfd = rx_listen(o);
		if (write(ready[1], "r", 1) != 1)
			exit(1);
		memset(&r, 0, sizeof(r));
		if (o->udp)
			rx_udp(o, lfd, &r);
		else
			rx_tcp(o, lfd, &r);
		if (write(res[1], &r, sizeof(r)) != sizeof(r))
			exit(1);
		exit(0);
	}
	role = "tx_peer sender";
	close(ready[1]);
	close(res[1]);
	rx_result_fd = res[0];
	alarm(150);
	enter_ns(o->tx_ns);
	if (read(ready[0], &c, 1) != 1)
		die("receiver did not start");
	if (o->memlock >= 0) {
		struct rlimit rl = { (rlim_t)o->memlock, (rlim_t)o->memlock };

		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			die("setrlimit: %s", strerror(errno));
	}
	if (o->drop_ipc_lock)
		drop_ipc_lock();
	if (o->deny_uring)
		deny_uring(o->deny_uring);

	accepted = run_sender(o, tx_connect(o));
	if (o->expect_create_error) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return 0;
	}
	rx_result_fd = -1;
	if (read(res[0], &r, sizeof(r)) != sizeof(r))
		die("receiver died without a result");
	waitpid(pid, &status, 0);
	if (!r.ok)
		die("receiver: %s", r.why);
	printf("rx: %llu bytes%s verified\n", (unsigned long long)r.bytes,
	       o->udp ? " in datagrams," : "");
	if (o->reset_after) {
		if (r.bytes != o->reset_after)
			die("receiver read %llu bytes before its reset, "
			    "wanted %llu",
			    (unsigned long long)r.bytes,
			    (unsigned long long)o->reset_after);
	} else if (r.bytes != accepted) {
		die("receiver got %llu bytes, sends accepted %llu",
		    (unsigned long long)r.bytes, (unsigned long long)accepted);
	} else if (!o->free_early && !o->close_early && r.bytes != o->bytes) {
		die("receiver got %llu bytes of %llu",
		    (unsigned long long)r.bytes, (unsigned long long)o->bytes);
	}
	printf("OK\n");
	return 0;
}

/* UDP datagrams of o->size to an address nothing answers from (a dummy
 * device drops them): the sender's CPU per byte, nothing verified. */
static int do_blast(struct opts *o)
{
	struct sender s = { .o = o };
	struct rusage r0, r1;
	struct zc_tx_stats st;
	uint64_t offset, sent = 0;
	double t0, t1, cpu;
	struct txbuf *b;
	uint32_t i;

	enter_ns(o->tx_ns);
	o->udp = true;
	s.fd = tx_connect(o);
	alloc_buffers(&s);
	s.tx = create_tx(&s);
	/* Filled once: only the sends are timed. */
	for (i = 0; i < o->nbufs; i++) {
		offset = 0;
		fill_next(&s, &s.bufs[i], &offset, o->size);
		s.bufs[i].busy = false;
	}
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_s();
	while (sent < o->bytes) {
		b = free_buffer(&s);
		b->sent = 0;
		b->busy = true;
		if (!send_buffer(&s, b))
			die("zc_tx_send: %s", errname(s.send_error));
		sent += b->len;
	}
	if (zc_tx_flush(s.tx, 20000))
		die("flush timed out");
	reap_all(&s);
	t1 = now_s();
	getrusage(RUSAGE_SELF, &r1);
	cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
	      (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
	      (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
	      (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
	zc_tx_get_stats(s.tx, &st);
	printf("blast backend=%s size=%u bytes=%llu secs=%.3f cpu=%.3f "
	       "usec_per_mb=%.1f zerocopy=%llu kernel_copied=%llu "
	       "policy_copied=%llu\n",
	       zc_tx_backend_name(zc_tx_backend(s.tx)), o->size,
	       (unsigned long long)st.bytes, t1 - t0, cpu,
	       cpu * 1e6 / ((double)st.bytes / (1 << 20)),
	       (unsigned long long)st.bytes_zerocopy,
	       (unsigned long long)st.bytes_kernel_copied,
	       (unsigned long long)st.bytes_policy_copied);
	zc_tx_free(s.tx);
	close(s.fd);
	munmap(s.region, s.region_len);
	free(s.bufs);
	return 0;
}

static int do_probe(void)
{
	static const uint32_t bits[] = {
		ZC_PROBE_TX_TCP_ZEROCOPY,
		ZC_PROBE_TX_UDP_ZEROCOPY,
		ZC_PROBE_URING,
		ZC_PROBE_URING_SEND_ZC,
		ZC_PROBE_URING_REPORT_USAGE,
	};
	struct zc_probe p;
	unsigned int i;

	if (zc_probe(&p))
		die("zc_probe failed");
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		printf("%s %d\n", zc_probe_feature_name(bits[i]),
		       !!(p.features & bits[i]));
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: tx_peer pair|blast --connect ADDR [options] "
			"(see the comment at the top of tx_peer.c)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.port = 5300,
		.backend = ZC_TX_AUTO,
		.bytes = 64 << 20,
		.nbufs = 16,
		.seed = 0x7a636e6574ull,
		.memlock = -1,
		.expect_backend = -1,
	};
	const char *mode;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	mode = argv[1];
	if (!strcmp(mode, "probe"))
		return do_probe();
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;

#define ARG(name) (!strcmp(a, name) && (v || (usage(), 0)))
		if (ARG("--connect"))
			o.addr = v;
		else if (ARG("--port"))
			o.port = atoi(v);
		else if (ARG("--rx-ns"))
			o.rx_ns = v;
		else if (ARG("--tx-ns"))
			o.tx_ns = v;
		else if (ARG("--backend")) {
			o.backend = zc_tx_backend_parse(v);
			if (o.backend < 0)
				die("unknown backend '%s'", v);
		} else if (ARG("--bytes"))
			o.bytes = parse_size(v);
		else if (ARG("--size"))
			o.size = (uint32_t)parse_size(v);
		else if (ARG("--bufs"))
			o.nbufs = (uint32_t)parse_size(v);
		else if (ARG("--threshold"))
			o.threshold = (uint32_t)parse_size(v);
		else if (ARG("--reap-every"))
			o.reap_every = (uint32_t)parse_size(v);
		else if (ARG("--retry-after"))
			o.retry_after = (uint32_t)parse_size(v);
		else if (ARG("--max-outstanding"))
			o.max_outstanding = (uint32_t)parse_size(v);
		else if (ARG("--deny-uring"))
			o.deny_uring = parse_errno(v);
		else if (ARG("--memlock"))
			o.memlock = (long long)parse_size(v);
		else if (ARG("--reset-after"))
			o.reset_after = parse_size(v);
		else if (ARG("--free-early"))
			o.free_early = parse_size(v);
		else if (ARG("--close-early"))
			o.close_early = parse_size(v);
		else if (ARG("--sndbuf"))
			o.sndbuf = (int)parse_size(v);
		else if (ARG("--seed"))
			o.seed = parse_size(v);
		else if (ARG("--expect-backend")) {
			o.expect_backend = zc_tx_backend_parse(v);
			if (o.expect_backend < 0)
				die("unknown backend '%s'", v);
		} else if (ARG("--expect-create-error"))
			o.expect_create_error = parse_errno(v);
		else if (ARG("--expect-register-error"))
			o.expect_register_error = parse_errno(v);
		else {
			takes = false;
			if (!strcmp(a, "--udp"))
				o.udp = true;
			else if (!strcmp(a, "--overwrite"))
				o.overwrite = true;
			else if (!strcmp(a, "--nonblock"))
				o.nonblock = true;
			else if (!strcmp(a, "--fallback"))
				o.fallback = true;
			else if (!strcmp(a, "--lazy-reap"))
				o.lazy_reap = true;
			else if (!strcmp(a, "--fixed"))
				o.fixed = true;
			else if (!strcmp(a, "--drop-ipc-lock"))
				o.drop_ipc_lock = true;
			else if (!strcmp(a, "--expect-enobufs"))
				o.expect_enobufs = true;
			else if (!strcmp(a, "--expect-enobufs-copied"))
				o.expect_enobufs_copied = true;
			else if (!strcmp(a, "--expect-fallbacks"))
				o.expect_fallbacks = true;
			else if (!strcmp(a, "--expect-kernel-copied"))
				o.expect_kernel_copied = true;
			else if (!strcmp(a, "--expect-zerocopy"))
				o.expect_zerocopy = true;
			else if (!strcmp(a, "--expect-backoff"))
				o.expect_backoff = true;
			else if (!strcmp(a, "--expect-policy-copied"))
				o.expect_policy_copied = true;
			else if (!strcmp(a, "--expect-send-error"))
				o.expect_send_error = true;
			else
				die("unknown option '%s'", a);
		}
#undef ARG
		if (takes)
			i++;
	}
	if (!o.addr)
		usage();
	if (!o.size)
		o.size = o.udp ? 32768 : 256 << 10;
	if (o.udp && (o.size <= UDP_HDR || o.size > 65507))
		die("--size for UDP must be between %u and 65507", UDP_HDR + 1);
	if (!o.nbufs || o.nbufs > MAX_BUFS)
		die("--bufs must be 1..%u", MAX_BUFS);
	if (!strcmp(mode, "pair"))
		return do_pair(&o);
	if (!strcmp(mode, "blast"))
		return do_blast(&o);
	usage();
	return 2;
}
