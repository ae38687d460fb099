/* SPDX-License-Identifier: MIT */
/*
 * -u receive side of one connection: a UDP socket of its own, bound next
 * to the control connection, read with plain recvmmsg() (there is no
 * zero-copy receive for UDP). Every datagram is checked whole: its header
 * names this run, connection and length, and its payload is the pattern
 * its sequence number gives (udp.c). Sequence numbers say what was lost,
 * repeated or reordered; the sender's count on the control connection
 * says how many there were. Loss is reported, not failed: UDP may drop
 * datagrams when the receiver falls behind. A damaged datagram fails the
 * connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcperf.h"

#define UDP_BATCH 16
/* The receive buffer holds what arrives while we check the previous
 * batch; as root SO_RCVBUFFORCE passes net.core.rmem_max. */
#define UDP_RCVBUF (16 << 20)
/* Sequence numbers tracked behind the newest one, to tell a duplicate
 * from a late arrival: 2^20 bits, 128 KiB. */
#define WINDOW_BITS (1u << 20)
/* After the sender's count: stop when all arrived, or nothing came for
 * QUIET_S, or after DRAIN_LIMIT_S in any case. */
#define QUIET_S	       0.2
#define DRAIN_LIMIT_S  2.0
#define END_TIMEOUT_MS 5000

int rx_udp_setup(struct rx_conn *c)
{
	/* Zeroed: clang-analyzer does not see getsockname() fill it. */
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	int fd, v = UDP_RCVBUF, off = 0;

	if (getsockname(c->fd, (struct sockaddr *)&ss, &len)) {
		conn_error_set(&c->error, "getsockname", errno);
		return -errno;
	}
	/* The address the control connection reached, any port. */
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	else
		((struct sockaddr_in *)&ss)->sin_port = 0;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_error_set(&c->error, "socket (UDP)", errno);
		return -errno;
	}
	/* A dual-stack listener gave an IPv4 client a v4-mapped address. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (bind(fd, (struct sockaddr *)&ss, len) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		conn_error_set(&c->error, "bind (UDP)", errno);
		close(fd);
		return -errno;
	}
	c->udp_fd = fd;
	v = udp_port_send(
		c->fd, ntohs(ss.ss_family == AF_INET6
				     ? ((struct sockaddr_in6 *)&ss)->sin6_port
				     : ((struct sockaddr_in *)&ss)->sin_port));
	if (v) {
		conn_error_set(&c->error, "send the UDP port", -v);
		close(fd);
		c->udp_fd = -1;
	}
	return v;
}

/* Which sequence numbers arrived, over the last WINDOW_BITS. */
struct seq_window {
	uint64_t base; /* bit of base is bits[base % WINDOW_BITS] */
	uint64_t *bits;
	uint64_t next; /* one past the highest seen */
};

enum { SEQ_NEW, SEQ_DUP, SEQ_LATE };

static bool test_and_set(uint64_t *bits, uint64_t seq)
{
	uint64_t i = seq % WINDOW_BITS, m = 1ull << (i % 64);
	bool was = bits[i / 64] & m;

	bits[i / 64] |= m;
	return was;
}

static int seq_mark(struct seq_window *w, uint64_t seq)
{
	uint64_t nb, s;

	if (seq < w->base)
		return SEQ_LATE;
	if (seq >= w->base + WINDOW_BITS) {
		/* Slide: forget what falls out. */
		nb = seq - WINDOW_BITS + 1;
		if (nb - w->base >= WINDOW_BITS)
			memset(w->bits, 0, WINDOW_BITS / 8);
		else
			for (s = w->base; s < nb; s++)
				w->bits[(s % WINDOW_BITS) / 64] &=
					~(1ull << (s % 64));
		w->base = nb;
	}
	if (seq + 1 > w->next)
		w->next = seq + 1;
	return test_and_set(w->bits, seq) ? SEQ_DUP : SEQ_NEW;
}

struct udp_rx {
	struct rx_conn *c;
	struct seq_window win;
	bool checking;
	uint64_t highest_plus1; /* for out-of-order: one past the newest */
	uint64_t bytes_all;	/* every datagram, duplicates too */
};

/* Counts a damaged datagram; the first one's detail becomes the error. */
static bool first_corrupt(struct udp_rx *u)
{
	if (u->c->udp.corrupt++)
		return false;
	conn_error_set(&u->c->error, "verify", EILSEQ);
	return true;
}

static void one_datagram(struct udp_rx *u, const uint8_t *p, size_t len)
{
	struct rx_conn *c = u->c;
	uint32_t size = c->hdr.chunk;
	struct udp_dgram d;
	size_t bad;

	u->bytes_all += len;
	if (len != size || udp_dgram_parse(p, len, &d) || d.len != size ||
	    d.run_id != c->hdr.run_id || d.conn_index != c->hdr.conn_index ||
	    d.flags != (c->hdr.flags & WIRE_F_PATTERN)) {
		if (first_corrupt(u))
			snprintf(c->error.detail, sizeof(c->error.detail),
				 "a datagram of %zu bytes (expected %u) whose "
				 "header is not this connection's (first "
				 "word 0x%016" PRIx64 ")",
				 len, size, len >= 8 ? get64(p) : 0);
		return;
	}
	if (u->checking) {
		bad = pattern_check(p + UDP_HDR_LEN, len - UDP_HDR_LEN, c->seed,
				    udp_pattern_off(d.seq, size));
		if (bad != len - UDP_HDR_LEN) {
			if (first_corrupt(u))
				snprintf(c->error.detail,
					 sizeof(c->error.detail),
					 "datagram %" PRIu64 ": byte %zu is "
					 "0x%02x, expected 0x%02x",
					 d.seq, bad + UDP_HDR_LEN,
					 p[UDP_HDR_LEN + bad],
					 pattern_byte(
						 c->seed,
						 udp_pattern_off(d.seq, size) +
							 bad));
			return;
		}
	}
	switch (seq_mark(&u->win, d.seq)) {
	case SEQ_DUP:
		c->udp.duplicates++;
		return;
	case SEQ_LATE:
		/* Too old to tell from a duplicate: counted as arrived. */
		c->udp_late++;
		break;
	default:
		break;
	}
	if (d.seq + 1 < u->highest_plus1)
		c->udp.out_of_order++;
	else
		u->highest_plus1 = d.seq + 1;
	c->udp.datagrams++;
	c->udp.bytes += len;
	__atomic_store_n(&c->live_bytes, c->udp.bytes, __ATOMIC_RELAXED);
}

/* Reads every datagram queued. Returns how many, or -errno. */
static int read_batch(struct udp_rx *u, struct mmsghdr *mm, uint8_t *mem,
		      size_t slot)
{
	struct iovec iov[UDP_BATCH];
	int n, i, total = 0;

	for (;;) {
		for (i = 0; i < UDP_BATCH; i++) {
			iov[i].iov_base = mem + (size_t)i * slot;
			iov[i].iov_len = slot;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(u->c->udp_fd, mm, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return total;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			one_datagram(u, iov[i].iov_base, mm[i].msg_len);
		total += n;
		if (n < UDP_BATCH)
			return total;
	}
}

int rx_udp_loop(struct rx_conn *c)
{
	struct udp_rx u = { .c = c };
	struct pollfd pfd[2];
	struct mmsghdr mm[UDP_BATCH];
	struct rusage ru0;
	double t_end_rec = 0, t_last = 0, now;
	uint64_t sent_bytes = 0;
	/* One byte more than a datagram may have: a longer one shows. */
	size_t slot = c->hdr.chunk + 1;
	uint8_t *mem;
	bool clock = false;
	int r = 0, n, timeout;

	u.checking = c->verified;
	u.win.bits = calloc(WINDOW_BITS / 64, sizeof(uint64_t));
	mem = malloc(slot * UDP_BATCH);
	if (!u.win.bits || !mem) {
		conn_error_set(&c->error, "malloc", ENOMEM);
		r = -ENOMEM;
		goto out;
	}
	pfd[0].fd = c->udp_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = c->fd;
	pfd[1].events = POLLIN;
	for (;;) {
		timeout = -1;
		if (c->udp_end) {
			now = now_s();
			if (c->udp.datagrams >= c->udp_sent ||
			    now - t_end_rec > DRAIN_LIMIT_S ||
			    (now - t_end_rec > QUIET_S &&
			     now - t_last > QUIET_S))
				break;
			timeout = (int)(QUIET_S * 1000 / 4) + 1;
		}
		n = poll(pfd, c->udp_end ? 1 : 2, timeout);
		/* SIGINT (it also shut the control connection down, which
		 * woke us): no count will come, the summary shows what
		 * arrived. */
		if (interrupted())
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			conn_error_set(&c->error, "poll", errno);
			r = -errno;
			goto out;
		}
		if (!clock && n > 0) {
			/* The clocks start at the first datagram (or at the
			 * end record, when none came). */
			rusage_now(RUSAGE_THREAD, &ru0);
			c->t_first = now_s();
			clock = true;
		}
		if (pfd[0].revents) {
			n = read_batch(&u, mm, mem, slot);
			if (n < 0) {
				conn_error_set(&c->error, "recvmmsg", -n);
				r = n;
				goto out;
			}
			if (n)
				t_last = now_s();
		}
		if (!c->udp_end && pfd[1].revents) {
			r = udp_end_recv(c->fd, &c->udp_sent, &sent_bytes,
					 END_TIMEOUT_MS);
			if (r) {
				if (r == -EPROTO)
					snprintf(
						c->error.detail,
						sizeof(c->error.detail),
						"the sender closed the control "
						"connection without its "
						"datagram count");
				conn_error_set(&c->error, "control connection",
					       -r);
				goto out;
			}
			c->udp_end = true;
			t_end_rec = now_s();
		}
	}
	if (clock) {
		rx_finish_clock(c, &ru0);
		c->t_end = t_last > c->t_first ? t_last : c->t_first;
	}
	c->bytes = c->udp.bytes;
	if (interrupted()) {
		/* Without the sender's count nothing is known lost, and
		 * nobody waits for our answer. */
		if (c->udp_end && c->udp_sent > c->udp.datagrams)
			c->udp.lost = c->udp_sent - c->udp.datagrams;
		if (c->udp.corrupt)
			r = -EILSEQ;
		c->udp.verified = c->verified && !r;
		goto out;
	}
	if (u.win.next > c->udp_sent || c->udp.datagrams > c->udp_sent) {
		snprintf(c->error.detail, sizeof(c->error.detail),
			 "datagram %" PRIu64 " arrived, but the sender counts "
			 "%" PRIu64 " sent",
			 u.win.next - 1, c->udp_sent);
		conn_error_set(&c->error, "receive", EPROTO);
		r = -EPROTO;
	}
	c->udp.lost = c->udp_sent > c->udp.datagrams
			      ? c->udp_sent - c->udp.datagrams
			      : 0;
	if (c->udp.corrupt)
		r = -EILSEQ;
	c->udp.verified = c->verified && !r;
	n = udp_result_send(c->fd, &c->udp);
	if (n && !r) {
		conn_error_set(&c->error, "send the result", -n);
		r = n;
	}
out:
	free(mem);
	free(u.win.bits);
	return r;
}
