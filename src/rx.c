/* SPDX-License-Identifier: MIT */
/*
 * Receive engine: TCP_ZEROCOPY_RECEIVE behind views that the caller holds
 * and releases, with copy fallbacks and an auto mode that measures which of
 * the two is cheaper on this machine.
 *
 * The window: mmap(PROT_READ, MAP_SHARED) on the socket only reserves a VMA
 * (4.18, seeds 000-002); getsockopt(TCP_ZEROCOPY_RECEIVE) maps whole
 * received pages into it and consumes those bytes. We mmap it once per
 * handle, 2 MiB aligned so it shares no page-table lock with other windows,
 * and never mmap/munmap per read: since 6.5 the receive path takes a
 * per-VMA lock and other threads' mmap calls no longer stall it (seed 004),
 * unless we take the mmap write lock ourselves.
 *
 * The window is cut into slots, one per view. Zapping a slot (unmapping the
 * pages a released view showed) is the main cost of this path (seed 000),
 * so how and when it happens is a choice (enum zc_rx_zap).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compat.h"
#include "internal.h"
#include "rx.h"


int zc__rx_validate_opts(const struct zc_rx_opts *o, size_t page_size)
{
	unsigned int i;

	if (o->mode > ZC_RX_COPY || o->zap > ZC_RX_ZAP_KERNEL)
		return -EINVAL;
	/* A pool decides slot size, copybuf and zapping for its handles. */
	if (o->pool && (o->slot_size || o->copybuf_size || o->zap))
		return -EINVAL;
	if (o->flags & ~ZC_RX_F_ALL)
		return -EINVAL;
	if (o->slot_size % page_size || o->slot_size > ZC__RX_MAX_SLOT_SIZE)
		return -EINVAL;
	if (o->slots > ZC__RX_MAX_SLOTS)
		return -EINVAL;
	if (o->copybuf_size > ZC__RX_MAX_COPYBUF)
		return -EINVAL;
	for (i = 0; i < ZC__ARRAY_SIZE(o->reserved); i++)
		if (o->reserved[i])
			return -EINVAL;
	return 0;
}

/* --- slots ------------------------------------------------------------- */

static uint8_t *slot_window(const struct zc_rx *rx, uint32_t i)
{
	return zc__rx_slot_window(rx->win, i);
}

static uint8_t *slot_copy(const struct zc_rx *rx, uint32_t i)
{
	return zc__rx_slot_copy(rx->win, i);
}

static int get_slot(struct zc_rx *rx, uint32_t *slotp)
{
	if (rx->held >= rx->nslots)
		return -ENOBUFS;
	return zc__rx_window_get_slot(rx->win, slotp, &rx->st.zaps);
}

/* --- one receive ---------------------------------------------------------- */

static void fill_view(struct zc_rx *rx, struct zc_view *v, uint32_t slot,
		      size_t mapped, size_t copied)
{
	struct zc__rx_slot *s = &rx->win->slots[slot];

	s->held = 1;
	s->owner = rx;
	s->generation++;
	rx->held++;
	v->mapped = mapped ? slot_window(rx, slot) : NULL;
	v->mapped_len = mapped;
	v->copied = copied ? slot_copy(rx, slot) : NULL;
	v->copied_len = copied;
	v->len = mapped + copied;
	v->slot = slot;
	v->generation = s->generation;
	rx->st.views++;
}

/* A socket error (RST, ...) or a clean end, after the kernel said -EIO:
 * "queue empty and SOCK_DONE" (tcp_zerocopy_receive). The error itself is
 * still pending on the socket, as the kernel did not report it. */
static ssize_t end_of_stream(struct zc_rx *rx)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (zc__sys.getsockopt(rx->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	if (err) {
		rx->pending_err = err;
		return -err;
	}
	rx->eof = 1;
	return 0;
}

static int wait_readable(struct zc_rx *rx, int timeout_ms)
{
	struct pollfd pfd = { .fd = rx->fd, .events = POLLIN };
	int n;

	rx->st.waits++;
	n = zc__sys.poll(&pfd, 1, timeout_ms);
	if (n < 0)
		return -errno;
	return n;
}

/* Plain recv() into the slot's copy area. Follows the socket's blocking
 * mode. Returns bytes, 0 at the end, -errno. */
static ssize_t read_copy(struct zc_rx *rx, uint32_t slot, size_t len,
			 struct zc_view *v, int flags)
{
	ssize_t n;

	n = zc__sys.recv(rx->fd, slot_copy(rx, slot),
			 ZC__MIN(len, rx->win->copy_size), flags);
	rx->st.recv_calls++;
	/* After a reset whose error the kernel already handed over, the
	 * drained queue reads as an end (RCV_SHUTDOWN): it is the error. */
	if (n == 0 && rx->pending_err)
		return -rx->pending_err;
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			rx->pending_err = errno;
		return -errno;
	}
	if (n == 0) {
		rx->eof = 1;
		return 0;
	}
	rx->st.bytes_read += n;
	fill_view(rx, v, slot, 0, n);
	return n;
}

/*
 * A copy-mode read. On a blocking socket it never lets recv() sleep: a
 * recv() that has copied part of what it waits for (SO_RCVLOWAT, raised
 * by the message layer or the caller) sleeps until the kernel's data-ready
 * wakeup, which comes only when the bytes still queued reach the whole
 * SO_RCVLOWAT; the bytes it already copied do not count, so the rest of a
 * message never wakes it (docs/KERNEL_FINDINGS.md; it stalled rpc
 * clients in msg_loopback). poll() counts every queued byte and wakes in
 * time; the recv() after it then takes what is there without waiting.
 */
static ssize_t read_copy_wait(struct zc_rx *rx, uint32_t slot,
			      struct zc_view *v)
{
	ssize_t n;
	int w;

	for (;;) {
		n = read_copy(rx, slot, rx->win->copy_size, v,
			      rx->blocking ? MSG_DONTWAIT : 0);
		if (n != -EAGAIN || !rx->blocking)
			return n;
		w = wait_readable(rx, -1);
		if (w < 0)
			return w;
	}
}

/*
 * One getsockopt(TCP_ZEROCOPY_RECEIVE) into a slot, with copybuf_len bytes
 * of copybuf (0: none). Returns bytes (> 0) with *v filled, 0 when nothing
 * was handed out (*skip then says how many queued bytes could not be
 * mapped), -errno.
 */
static ssize_t zerocopy_call(struct zc_rx *rx, uint32_t slot,
			     struct zc_view *v, uint32_t copybuf_len,
			     uint32_t *skip)
{
	struct zc__rx_slot *s = &rx->win->slots[slot];
	struct zc__tcp_zerocopy_receive zc;
	socklen_t len = rx->zc_len;
	size_t mapped, copied = 0;

	memset(&zc, 0, sizeof(zc));
	zc.address = (uintptr_t)slot_window(rx, slot);
	zc.length = rx->win->slot_size;
	if (copybuf_len) {
		zc.copybuf_address = (uintptr_t)slot_copy(rx, slot);
		zc.copybuf_len = (int32_t)copybuf_len;
	}
	/* The slot holds no pages: spare the kernel its zap (5.11). */
	if ((rx->features & ZC_PROBE_RX_TLB_CLEAN_HINT) && !s->mapped)
		zc.flags = ZC__TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT;
	*skip = 0;
	rx->st.zerocopy_calls++;
	if (zc__sys.getsockopt(rx->fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc,
			       &len)) {
		if (errno == EIO)
			return end_of_stream(rx);
		return -errno;
	}
	/* The kernel can only map less than asked for: anything else is a
	 * broken kernel or fake, and trusting it would over-read the slot. */
	if (zc.length > rx->win->slot_size || zc.length % rx->page_size)
		return -EPROTO;
	mapped = zc.length;
	if (copybuf_len) {
		/* Negative copybuf_len is the straggler copy's error; the
		 * bytes then stay queued for the next call. */
		if (zc.copybuf_len > (int32_t)copybuf_len)
			return -EPROTO;
		if (zc.copybuf_len > 0)
			copied = (size_t)zc.copybuf_len;
	}
	if (mapped > s->mapped)
		s->mapped = (uint32_t)mapped;
	/*
	 * recv_skip_hint: unmappable bytes now at the head of the queue,
	 * counted before the kernel copied any of them into the copybuf.
	 * Only those are worth a copybuf next time, and exactly those: the
	 * kernel copies min(copybuf_len, hint) stragglers, and copies the
	 * whole queue when it fits the copybuf (5.11), so a larger copybuf
	 * would copy a 64 KiB payload that follows a short header.
	 */
	rx->skip_next = zc.recv_skip_hint > copied
				? zc.recv_skip_hint - (uint32_t)copied
				: 0;
	if (rx->features & ZC_PROBE_RX_INQ_ERR) {
		rx->inq = zc.inq;
		rx->inq_known = 1;
		/* err is sock_error(): a negative errno, and reading it
		 * cleared it from the socket. Keep it for the caller, after
		 * the bytes that came before it. */
		if (zc.err < 0) {
			rx->pending_err = -zc.err;
			/* Bytes queued before a reset are still the peer's
			 * data: hand them over first (the error waits until
			 * the queue is empty, see zc_rx_read()). */
			if (!mapped && !copied && !zc.recv_skip_hint)
				return -rx->pending_err;
		}
	}
	if (zc.recv_skip_hint)
		rx->st.skip_hints++;
	if (!mapped && !copied) {
		*skip = zc.recv_skip_hint;
		return 0;
	}
	if (!mapped && !zc.recv_skip_hint)
		rx->st.small_queue++;
	rx->st.bytes_mapped += mapped;
	rx->st.bytes_copybuf += copied;
	fill_view(rx, v, slot, mapped, copied);
	return (ssize_t)(mapped + copied);
}

static uint32_t copybuf_for(const struct zc_rx *rx, uint32_t skip)
{
	if (!(rx->features & ZC_PROBE_RX_COPYBUF))
		return 0;
	return ZC__MIN(skip, rx->copybuf_size);
}

/* Receives into a slot by zero-copy, copying what cannot be mapped.
 * Returns bytes (> 0) with *v filled, 0 when nothing is queued, -errno;
 * sets rx->eof at the end. */
ssize_t zc__rx_zerocopy_once(struct zc_rx *rx, uint32_t slot,
			     struct zc_view *v)
{
	uint32_t copybuf = copybuf_for(rx, rx->skip_next), skip;
	ssize_t n;

	n = zerocopy_call(rx, slot, v, copybuf, &skip);
	if (n || rx->eof)
		return n;
	/* Queued bytes the kernel would not map (a short queue, or a
	 * fragment that is not a whole page): copy them, through the
	 * copybuf in one more call when the kernel has one (5.11). */
	if (skip && copybuf_for(rx, skip) > copybuf) {
		n = zerocopy_call(rx, slot, v, copybuf_for(rx, skip), &skip);
		if (n || rx->eof)
			return n;
	}
	if (skip)
		return read_copy(rx, slot, skip, v, MSG_DONTWAIT);
	/*
	 * Nothing queued. The kernel answers -EIO only once a FIN set
	 * SOCK_DONE; after a reset whose error was already handed over it
	 * keeps answering "nothing" for ever. recv() also knows
	 * RCV_SHUTDOWN: 0 at the end, EAGAIN while the stream is open, and
	 * any bytes that raced in (copied: they are few).
	 */
	n = read_copy(rx, slot, rx->win->copy_size, v, MSG_DONTWAIT);
	return n == -EAGAIN || n == -EWOULDBLOCK ? 0 : n;
}

static ssize_t read_zerocopy(struct zc_rx *rx, uint32_t slot,
			     struct zc_view *v)
{
	ssize_t n;
	int w;

	for (;;) {
		/* The last call said the queue was empty (with
		 * ZC_RX_F_RCVLOWAT: shorter than a slot): on a blocking
		 * socket, wait before asking again, rather than spend a
		 * call that finds nothing or maps a sliver. poll() honours
		 * SO_RCVLOWAT and wakes at the end of the stream too. */
		if (rx->inq_known && rx->inq < rx->wait_below && rx->blocking) {
			w = wait_readable(rx, -1);
			if (w < 0)
				return w;
		}
		n = zc__rx_zerocopy_once(rx, slot, v);
		if (n != 0 || rx->eof)
			return n;
		if (!rx->blocking)
			return -EAGAIN;
		rx->inq_known = 1;
		rx->inq = 0;
	}
}

ZC_API ssize_t zc_rx_read(struct zc_rx *rx, struct zc_view *v)
{
	uint32_t slot;
	ssize_t n;
	int mode, err;

	if (!rx || !v)
		return -EINVAL;
	/* A socket error ends the stream: the kernel handed it over once
	 * and will not again, so every later read repeats it; but bytes that
	 * were queued before it (a reset does not purge the receive queue)
	 * are delivered first. */
	if (rx->pending_err && !(rx->inq_known && rx->inq))
		return -rx->pending_err;
	if (rx->eof)
		return 0;
	err = get_slot(rx, &slot);
	if (err)
		return err;
	mode = zc__rx_auto_before(rx);
	if (mode == ZC_RX_ZEROCOPY)
		n = read_zerocopy(rx, slot, v);
	else
		n = read_copy_wait(rx, slot, v);
	zc__rx_auto_after(rx, n > 0 ? v : NULL);
	return n;
}

ZC_API int zc_rx_release(struct zc_rx *rx, struct zc_view *v)
{
	struct zc__rx_slot *s;

	if (!rx || !v || v->slot >= rx->win->nslots)
		return -EINVAL;
	s = &rx->win->slots[v->slot];
	if (!s->held || s->owner != rx || s->generation != v->generation)
		return -EINVAL;
	/* Handles with windows of their own have slots of the same numbers
	 * and generations: the addresses tell whose view it is. */
	if ((v->mapped && v->mapped != slot_window(rx, v->slot)) ||
	    (v->copied && v->copied != slot_copy(rx, v->slot)))
		return -EINVAL;
	s->held = 0;
	s->owner = NULL;
	rx->held--;
	if (s->mapped && rx->win->zap == ZC_RX_ZAP_EACH) {
		unsigned long long t = zc__rx_auto_clock(rx);

		zc__rx_zap(rx->win, slot_window(rx, v->slot), s->mapped,
			   &rx->st.zaps);
		s->mapped = 0;
		zc__rx_auto_charge(rx, t);
	}
	memset(v, 0, sizeof(*v));
	return 0;
}

ZC_API int zc_rx_wait(struct zc_rx *rx, int timeout_ms)
{
	if (!rx)
		return -EINVAL;
	if (rx->pending_err || rx->eof)
		return 1;
	return wait_readable(rx, timeout_ms);
}

/* --- handle life -------------------------------------------------------- */

/* A zero-length TCP_ZEROCOPY_RECEIVE consumes nothing (no bytes asked for,
 * no copybuf) and tells which struct the kernel knows via optlen. */
static int learn_kernel(struct zc_rx *rx)
{
	struct zc__tcp_zerocopy_receive zc;
	socklen_t len = sizeof(zc);

	memset(&zc, 0, sizeof(zc));
	zc.address = (uintptr_t)rx->win->base;
	if (zc__sys.getsockopt(rx->fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc,
			       &len)) {
		if (errno == EIO)
			return 0; /* already at the end: still supported */
		return -(errno == ENOPROTOOPT ? EOPNOTSUPP : errno);
	}
	rx->zc_len = ZC__MIN(len, (socklen_t)sizeof(zc));
	rx->features |= ZC_PROBE_RX_ZEROCOPY;
	if (rx->zc_len >= ZC__ZCR_LEN_INQ_ERR) {
		rx->features |= ZC_PROBE_RX_INQ_ERR;
		if (zc.err < 0)
			rx->pending_err = -zc.err;
	}
	if (rx->zc_len >= ZC__ZCR_LEN_COPYBUF)
		rx->features |= ZC_PROBE_RX_COPYBUF |
				ZC_PROBE_RX_TLB_CLEAN_HINT;
	return 0;
}

static int check_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int), slen = sizeof(ss);
	int type = 0, proto = 0;

	if (zc__sys.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
		return errno == ENOTSOCK || errno == EBADF ? -EINVAL : -errno;
	len = sizeof(int);
	if (zc__sys.getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len))
		return -errno;
	if (type != SOCK_STREAM || proto != IPPROTO_TCP)
		return -EINVAL;
	if (getpeername(fd, (struct sockaddr *)&ss, &slen))
		return -errno;
	return 0;
}

/* Sets up the handle's window: its own, mapped on its socket, or a
 * pool's. Returns 0, or -EOPNOTSUPP when zero-copy cannot work here (the
 * window then serves copy reads). */
static int setup_window(struct zc_rx *rx, const struct zc_rx_opts *o)
{
	uint32_t slot_size, copy_size;
	int ret;

	if (o->pool) {
		rx->win = &o->pool->win;
		rx->copybuf_size = o->pool->copybuf_size;
		rx->nslots = o->slots ? ZC__MIN(o->slots, rx->win->nslots)
				      : ZC__MIN(ZC__RX_DEFAULT_SLOTS,
						rx->win->nslots);
		rx->pool = o->pool;
		rx->pool->win.users++;
		if (o->mode == ZC_RX_COPY || !rx->win->base)
			return o->mode == ZC_RX_COPY ? 0 : -EOPNOTSUPP;
		return learn_kernel(rx);
	}
	slot_size = o->slot_size ? o->slot_size : ZC__RX_DEFAULT_SLOT_SIZE;
	rx->nslots = o->slots ? o->slots : ZC__RX_DEFAULT_SLOTS;
	rx->copybuf_size = o->copybuf_size ? o->copybuf_size
					   : ZC__RX_DEFAULT_COPYBUF;
	/* Copy reads want whole slots; zero-copy needs straggler room. */
	copy_size = rx->copybuf_size;
	if (o->mode != ZC_RX_ZEROCOPY)
		copy_size = ZC__MAX(copy_size, slot_size);
	rx->win = &rx->own;
	ret = zc__rx_window_init(&rx->own, o->mode == ZC_RX_COPY ? -1 : rx->fd,
				 slot_size, rx->nslots, copy_size,
				 o->zap ? o->zap : ZC__RX_DEFAULT_ZAP);
	if (ret || o->mode == ZC_RX_COPY)
		return ret;
	return learn_kernel(rx);
}

ZC_API int zc_rx_create(struct zc_rx **rxp, int fd, const struct zc_rx_opts *o)
{
	struct zc_rx_opts def = { 0 };
	long page = sysconf(_SC_PAGESIZE);
	struct zc_rx *rx;
	int ret, one = 1, fl;

	if (!rxp)
		return -EINVAL;
	*rxp = NULL;
	if (!o)
		o = &def;
	if (page <= 0)
		page = 4096;
	ret = zc__rx_validate_opts(o, (size_t)page);
	if (ret)
		return ret;
	ret = check_socket(fd);
	if (ret)
		return ret;

	rx = calloc(1, sizeof(*rx));
	if (!rx)
		return -ENOMEM;
	rx->fd = fd;
	rx->page_size = (uint32_t)page;
	/* Read once: an fcntl() per empty read was a tenth of the system
	 * calls of small-message zero-copy receive (zcperf --rpc). */
	fl = fcntl(fd, F_GETFL);
	rx->blocking = fl >= 0 && !(fl & O_NONBLOCK);
	rx->requested_mode = o->mode;
	ret = setup_window(rx, o);
	if (ret == -EOPNOTSUPP && o->mode == ZC_RX_AUTO) {
		/* Auto on a kernel (or socket) without receive zero-copy:
		 * copy, and say so via zc_rx_mode(). */
		if (rx->win == &rx->own)
			zc__rx_window_unmap(&rx->own);
		rx->features = 0;
		ret = 0;
	}
	if (ret)
		goto out_free;
	rx->slot_size = rx->win->slot_size;
	rx->mode = (rx->features & ZC_PROBE_RX_ZEROCOPY) ? ZC_RX_ZEROCOPY
							 : ZC_RX_COPY;
	/* Mapped pages cannot skip an urgent byte the way recv() does when it
	 * is out of line, so keep urgent data in line in every mode: the
	 * stream the caller sees is exactly the bytes the peer sent. */
	if (zc__sys.setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one,
			       sizeof(one))) {
		ret = -errno;
		goto out_free;
	}
	rx->wait_below = 1;
	if (o->flags & ZC_RX_F_RCVLOWAT) {
		int lowat = (int)rx->win->slot_size;

		rx->wait_below = rx->win->slot_size;
		if (zc__sys.setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat,
				       sizeof(lowat))) {
			ret = -errno;
			goto out_free;
		}
	}
	zc__rx_auto_init(rx);
	*rxp = rx;
	return 0;

out_free:
	zc_rx_free(rx);
	return ret;
}

ZC_API void zc_rx_free(struct zc_rx *rx)
{
	uint32_t i;

	if (!rx)
		return;
	if (rx->pool) {
		/* Give back the pool slots this handle still holds; their
		 * pages are zapped when the slots are reused. */
		for (i = 0; i < rx->win->nslots; i++) {
			if (rx->win->slots[i].owner == rx) {
				rx->win->slots[i].held = 0;
				rx->win->slots[i].owner = NULL;
			}
		}
		rx->pool->win.users--;
	} else {
		zc__rx_window_fini(&rx->own);
	}
	free(rx);
}

ZC_API int zc_rx_mode(const struct zc_rx *rx)
{
	return rx ? (int)rx->mode : -EINVAL;
}

ZC_API void zc_rx_get_stats(const struct zc_rx *rx, struct zc_rx_stats *st)
{
	if (!rx || !st)
		return;
	*st = rx->st;
	/* The last decision, this handle's own or its pool's. */
	if (rx->au_active) {
		st->auto_zerocopy_ns_per_mib = rx->au->zerocopy_ns_per_mib;
		st->auto_copy_ns_per_mib = rx->au->copy_ns_per_mib;
	}
}

static const char *const mode_names[] = { "auto", "zerocopy", "copy" };
static const char *const zap_names[] = { "default", "each", "batch",
					 "kernel" };

static int parse_name(const char *name, const char *const *names,
		      unsigned int n)
{
	unsigned int i;

	for (i = 0; name && i < n; i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -EINVAL;
}

ZC_API const char *zc_rx_mode_name(int mode)
{
	return mode >= 0 && mode < 3 ? mode_names[mode] : NULL;
}

ZC_API int zc_rx_mode_parse(const char *name)
{
	return parse_name(name, mode_names, 3);
}

ZC_API const char *zc_rx_zap_name(int zap)
{
	return zap >= 0 && zap < 4 ? zap_names[zap] : NULL;
}

ZC_API int zc_rx_zap_parse(const char *name)
{
	return parse_name(name, zap_names, 4);
}
