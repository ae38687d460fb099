/* SPDX-License-Identifier: MIT */
/*
 * Message framing: a 32-byte header and a payload on a TCP stream.
 *
 * Receive: the stream arrives as zc_rx views (mapped pages, then copied
 * stragglers), and views do not respect message boundaries: the kernel
 * maps whole pages from the head of the queue, so one view may hold the
 * tail of one payload and the next header. The reader therefore works on
 * a byte stream of views. Headers are copied out (32 bytes); payloads are
 * handed out as pieces of the views themselves, never concatenated, so
 * mapped pages stay mapped. Each view is reference-counted by the messages
 * that point into it, plus one reference while the parser still has bytes
 * of it to read; it goes back to the zc_rx when the count drops to zero.
 *
 * Payload bytes are copied only when keeping them in views would need more
 * than ZC_MSG_MAX_SEGS pieces or would hold every view of the zc_rx (a
 * reader that holds all slots for one half-read message could never read
 * the rest): then the views that give the fewest bytes are copied into a
 * buffer of the message, at their payload offsets, and given back; big
 * mapped views stay. That buffer is at most max_payload bytes, so
 * malformed input cannot make the reader allocate without bound.
 *
 * While a payload of a page or more is pending, SO_RCVLOWAT asks the
 * kernel to wake the reader only once enough of it is queued, so it comes
 * in few large views (want_bytes()).
 *
 * Send: a header in its own segment (MSG_EOR, seed 001) followed by the
 * payload, so a payload of whole pages lands page-aligned in the
 * receiver's queue; small messages go in one send.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "internal.h"
#include "msg.h"
#include "rx.h"

#define ZC__MSG_DEFAULT_MAX_PAYLOAD (4u << 20)
/* struct zc_msg.held while the caller has the message. */
#define ZC__MSG_HELD 0x5a434d31u

/* --- wire header ---------------------------------------------------------- */

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static int error_errno(int reason)
{
	switch (reason) {
	case ZC_MSG_ERR_VERSION:
		return -EPROTONOSUPPORT;
	case ZC_MSG_ERR_TOO_LONG:
		return -EMSGSIZE;
	case ZC_MSG_ERR_TRUNCATED_HEADER:
	case ZC_MSG_ERR_TRUNCATED_PAYLOAD:
	case ZC_MSG_ERR_BAD_VIEW:
		return -EPROTO;
	default:
		return -EBADMSG;
	}
}

int zc__msg_parse_header(const uint8_t *buf, size_t len, struct zc_msg_hdr *hdr,
			 uint32_t max_payload, int *reason)
{
	int why = ZC_MSG_ERR_NONE;
	uint32_t flags;

	if (len < ZC_MSG_HDR_LEN) {
		if (reason)
			*reason = ZC_MSG_ERR_NONE;
		return -EAGAIN;
	}
	/* Magic first: on garbage, or a stream read out of step, it is the
	 * one check that says so rather than a misleading later one. */
	flags = get_le16(buf + ZC__MSG_OFF_FLAGS);
	if (buf[0] != ZC__MSG_MAGIC0 || buf[1] != ZC__MSG_MAGIC1 ||
	    buf[2] != ZC__MSG_MAGIC2 || buf[3] != ZC__MSG_MAGIC3)
		why = ZC_MSG_ERR_MAGIC;
	else if (get_le16(buf + ZC__MSG_OFF_VERSION) != ZC_MSG_VERSION)
		why = ZC_MSG_ERR_VERSION;
	else if (flags & ~ZC_MSG_F_ALL)
		why = ZC_MSG_ERR_FLAGS;
	else if (get_le64(buf + ZC__MSG_OFF_RESERVED))
		why = ZC_MSG_ERR_RESERVED;
	else if (max_payload && get_le32(buf + ZC__MSG_OFF_LEN) > max_payload)
		why = ZC_MSG_ERR_TOO_LONG;
	if (reason)
		*reason = why;
	if (why)
		return error_errno(why);
	hdr->id = get_le64(buf + ZC__MSG_OFF_ID);
	hdr->type = get_le32(buf + ZC__MSG_OFF_TYPE);
	hdr->len = get_le32(buf + ZC__MSG_OFF_LEN);
	hdr->flags = flags;
	hdr->reserved = 0;
	return 0;
}

ZC_API int zc_msg_header_decode(const void *buf, size_t len,
				struct zc_msg_hdr *hdr, uint32_t max_payload)
{
	if (!buf || !hdr)
		return -EINVAL;
	return zc__msg_parse_header(buf, len, hdr, max_payload, NULL);
}

ZC_API int zc_msg_header_encode(void *buf, size_t len,
				const struct zc_msg_hdr *hdr)
{
	uint8_t *p = buf;

	if (!buf || !hdr || len < ZC_MSG_HDR_LEN)
		return -EINVAL;
	if ((hdr->flags & ~ZC_MSG_F_ALL) || hdr->reserved)
		return -EINVAL;
	p[0] = ZC__MSG_MAGIC0;
	p[1] = ZC__MSG_MAGIC1;
	p[2] = ZC__MSG_MAGIC2;
	p[3] = ZC__MSG_MAGIC3;
	put_le16(p + ZC__MSG_OFF_VERSION, ZC_MSG_VERSION);
	put_le16(p + ZC__MSG_OFF_FLAGS, (uint16_t)hdr->flags);
	put_le32(p + ZC__MSG_OFF_TYPE, hdr->type);
	put_le32(p + ZC__MSG_OFF_LEN, hdr->len);
	put_le64(p + ZC__MSG_OFF_ID, hdr->id);
	put_le64(p + ZC__MSG_OFF_RESERVED, 0);
	return ZC_MSG_HDR_LEN;
}

static const char *const error_names[] = {
	[ZC_MSG_ERR_NONE] = "no error",
	[ZC_MSG_ERR_MAGIC] = "bad magic",
	[ZC_MSG_ERR_VERSION] = "unsupported version",
	[ZC_MSG_ERR_FLAGS] = "unknown flags",
	[ZC_MSG_ERR_RESERVED] = "reserved field not zero",
	[ZC_MSG_ERR_TOO_LONG] = "payload longer than max_payload",
	[ZC_MSG_ERR_TRUNCATED_HEADER] = "stream ended inside a header",
	[ZC_MSG_ERR_TRUNCATED_PAYLOAD] = "stream ended inside a payload",
	[ZC_MSG_ERR_BAD_VIEW] = "inconsistent view from the receive engine",
};

ZC_API const char *zc_msg_error_name(int error)
{
	if (error < 0 || (size_t)error >= ZC__ARRAY_SIZE(error_names))
		return NULL;
	return error_names[error];
}

/* --- reader --------------------------------------------------------------- */

struct zc__msg_view {
	struct zc_view v;
	uint32_t refs;	     /* messages (pending or delivered) using it */
	uint16_t generation; /* tells a stale message from a live one */
	uint8_t used;
	uint8_t parsing; /* the parser has not read all of it yet */
};

/* Assembled payloads, linked so zc_msg_rx_free() can find them all. */
struct zc__msg_link {
	struct zc__msg_link *next, *prev;
};

struct zc__msg_buf {
	struct zc__msg_link link; /* first: a link is its buffer */
	uint8_t data[];
};

enum { PARSE_HEADER, PARSE_PAYLOAD };

/* The source for a struct zc_rx, and the SO_RCVLOWAT to restore. */
struct zc__msg_rx_source {
	struct zc_rx *rx;
	int base_lowat;
	int cur_lowat; /* what the socket has now */
};

struct zc_msg_rx {
	struct zc__msg_source src;
	struct zc__msg_rx_source rxsrc;
	uint32_t flags; /* ZC_MSG_RX_F_* */
	uint32_t page_size;
	uint32_t lowat; /* SO_RCVLOWAT set by us now, 0 = the socket's */
	uint32_t max_payload;
	uint32_t nviews;
	uint32_t views_used;
	struct zc__msg_view *views;

	int cur;	/* view being parsed, or -1 */
	size_t cur_off; /* bytes of it already parsed */

	int state;
	uint8_t hdr_buf[ZC_MSG_HDR_LEN];
	uint32_t hdr_have;
	struct zc_msg pend; /* the message being read */
	size_t pend_have;   /* its payload bytes so far */
	size_t pend_copied; /* of which copied into its side buffer */
	int pend_last;	    /* view of its last piece, -1 for none */
	bool pend_last_mapped;

	int err;    /* sticky -errno once the stream is malformed */
	int reason; /* its enum zc_msg_error */

	struct zc__msg_link bufs; /* list of assembled payloads */
	struct zc_msg_rx_stats st;

	/* Messages handed out and not yet released, by sequence number: a
	 * copy of a released message, or another reader's, is refused
	 * instead of dropping view references it does not own. */
	uint64_t seq;
	uint64_t *held;
	uint32_t nheld, cap_held;
};

static ssize_t source_rx_read(void *ctx, struct zc_view *v)
{
	struct zc__msg_rx_source *s = ctx;

	return zc_rx_read(s->rx, v);
}

static int source_rx_release(void *ctx, struct zc_view *v)
{
	struct zc__msg_rx_source *s = ctx;

	return zc_rx_release(s->rx, v);
}

static int source_rx_set_lowat(void *ctx, uint32_t bytes)
{
	struct zc__msg_rx_source *s = ctx;
	int val = bytes ? (int)bytes : s->base_lowat;
	unsigned long long t;
	int ret;

	/* Only mapping gains from waiting for a whole payload: a copy read
	 * takes what is queued anyway. (A blocking recv() under a raised
	 * SO_RCVLOWAT can sleep for good, which stalled rpc clients in
	 * msg_loopback; zc_rx's copy reads no longer sleep in recv(), see
	 * read_copy_wait(), and auto may switch to copy after this.) */
	if (zc_rx_mode(s->rx) == ZC_RX_COPY)
		val = s->base_lowat;

	/* In copy mode every payload would otherwise cost two calls that
	 * set the value the socket already has. */
	if (val == s->cur_lowat)
		return 0;
	/* A cost of zero-copy mode (two calls a payload): auto mode must see
	 * it, or it favours zero-copy where copy is as cheap or cheaper. */
	t = zc__rx_auto_clock(s->rx);
	ret = zc__sys.setsockopt(s->rx->fd, SOL_SOCKET, SO_RCVLOWAT, &val,
				 sizeof(val));
	if (ret)
		ret = -errno;
	zc__rx_auto_charge(s->rx, t);
	if (ret)
		return ret;
	s->cur_lowat = val;
	return 1;
}

int zc__msg_rx_create_source(struct zc_msg_rx **mrxp,
			     const struct zc__msg_source *src,
			     const struct zc_msg_rx_opts *o)
{
	struct zc_msg_rx_opts def = { 0 };
	struct zc_msg_rx *mrx;
	unsigned int i;
	long page;

	if (!mrxp)
		return -EINVAL;
	*mrxp = NULL;
	if (!src || !src->read || !src->release || !src->max_views)
		return -EINVAL;
	if (!o)
		o = &def;
	if (o->flags & ~ZC_MSG_RX_F_ALL)
		return -EINVAL;
	for (i = 0; i < ZC__ARRAY_SIZE(o->reserved); i++)
		if (o->reserved[i])
			return -EINVAL;

	mrx = calloc(1, sizeof(*mrx));
	if (!mrx)
		return -ENOMEM;
	mrx->src = *src;
	mrx->flags = o->flags;
	page = sysconf(_SC_PAGESIZE);
	mrx->page_size = page > 0 ? (uint32_t)page : 4096;
	mrx->max_payload =
		o->max_payload ? o->max_payload : ZC__MSG_DEFAULT_MAX_PAYLOAD;
	mrx->nviews = ZC__MIN(src->max_views, ZC__MSG_MAX_VIEWS);
	mrx->views = calloc(mrx->nviews, sizeof(*mrx->views));
	if (!mrx->views) {
		free(mrx);
		return -ENOMEM;
	}
	mrx->cur = -1;
	mrx->pend_last = -1;
	mrx->bufs.next = mrx->bufs.prev = &mrx->bufs;
	*mrxp = mrx;
	return 0;
}

ZC_API int zc_msg_rx_create(struct zc_msg_rx **mrxp, struct zc_rx *rx,
			    const struct zc_msg_rx_opts *opts)
{
	struct zc__msg_source src = {
		.read = source_rx_read,
		.release = source_rx_release,
		.set_lowat = source_rx_set_lowat,
	};
	socklen_t len = sizeof(int);
	struct zc_msg_rx *mrx;
	int ret, lowat = 1;

	if (mrxp)
		*mrxp = NULL;
	if (!mrxp || !rx)
		return -EINVAL;
	/* The zc_rx never has more views out than slots. */
	src.max_views = rx->nslots;
	src.max_lowat = rx->slot_size;
	/* The socket's own SO_RCVLOWAT, to go back to between payloads. */
	if (zc__sys.getsockopt(rx->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len))
		return -errno;
	ret = zc__msg_rx_create_source(&mrx, &src, opts);
	if (ret)
		return ret;
	mrx->rxsrc.rx = rx;
	mrx->rxsrc.base_lowat = lowat;
	mrx->rxsrc.cur_lowat = lowat;
	mrx->src.ctx = &mrx->rxsrc;
	*mrxp = mrx;
	return 0;
}

uint32_t zc__msg_rx_views_held(const struct zc_msg_rx *mrx)
{
	return mrx->views_used;
}

/* Gives a view back to the source once nothing uses it. */
static void view_put(struct zc_msg_rx *mrx, int i)
{
	struct zc__msg_view *e = &mrx->views[i];

	if (e->refs || e->parsing)
		return;
	/* Release cannot fail for a view the source handed us; if a broken
	 * source says otherwise there is nothing better to do than forget
	 * it, which is what it asked for. */
	mrx->src.release(mrx->src.ctx, &e->v);
	e->used = 0;
	e->generation++;
	mrx->views_used--;
}

static void parser_done_with_view(struct zc_msg_rx *mrx)
{
	int i = mrx->cur;

	if (i < 0)
		return;
	mrx->cur = -1;
	mrx->cur_off = 0;
	mrx->views[i].parsing = 0;
	view_put(mrx, i);
}

/* Drops the references a message (pending or delivered) holds. */
static void msg_put_views(struct zc_msg_rx *mrx, struct zc_msg *m)
{
	uint32_t k;

	for (k = 0; k < m->nviews; k++) {
		mrx->views[m->view[k]].refs--;
		view_put(mrx, m->view[k]);
	}
	m->nviews = 0;
}

static void msg_free_buf(struct zc_msg *m)
{
	struct zc__msg_buf *b;

	if (!m->buf)
		return;
	b = (struct zc__msg_buf *)((uint8_t *)m->buf -
				   offsetof(struct zc__msg_buf, data));
	b->link.prev->next = b->link.next;
	b->link.next->prev = b->link.prev;
	free(b);
	m->buf = NULL;
}

static void pend_reset(struct zc_msg_rx *mrx)
{
	memset(&mrx->pend, 0, sizeof(mrx->pend));
	mrx->pend_have = 0;
	mrx->pend_copied = 0;
	mrx->pend_last = -1;
	mrx->hdr_have = 0;
	mrx->state = PARSE_HEADER;
}

static void pend_discard(struct zc_msg_rx *mrx)
{
	msg_put_views(mrx, &mrx->pend);
	msg_free_buf(&mrx->pend);
	pend_reset(mrx);
}

/* The stream is malformed: drop everything in progress, fail for good. */
static int fail(struct zc_msg_rx *mrx, int reason)
{
	pend_discard(mrx);
	parser_done_with_view(mrx);
	mrx->reason = reason;
	mrx->err = error_errno(reason);
	return mrx->err;
}

/* Where a piece of the pending payload lives. */
enum { IN_SIDE = -1 };

/* Index in m->view[] of the view whose mapped or copied part holds p, or
 * IN_SIDE for the message's own buffer. A piece never spans two parts:
 * add_piece() only extends a piece within one part of one view. */
static int piece_view(const struct zc_msg_rx *mrx, const struct zc_msg *m,
		      const uint8_t *p, bool *mapped)
{
	const struct zc_view *v;
	uint32_t k;

	for (k = 0; k < m->nviews; k++) {
		v = &mrx->views[m->view[k]].v;
		*mapped = v->mapped_len && p >= v->mapped &&
			  p < v->mapped + v->mapped_len;
		if (*mapped || (v->copied_len && p >= v->copied &&
				p < v->copied + v->copied_len))
			return (int)k;
	}
	*mapped = false;
	return IN_SIDE;
}

/* The message's own buffer, hdr.len bytes, made on first use. Pieces
 * copied into it sit at their payload offsets, so copied neighbours join
 * into one piece. */
static int side_buffer(struct zc_msg_rx *mrx, struct zc_msg *m)
{
	struct zc__msg_buf *b;

	if (m->buf)
		return 0;
	/* hdr.len <= max_payload: checked with the header. */
	b = malloc(sizeof(*b) + ZC__MAX(m->hdr.len, 1u));
	if (!b)
		return -ENOMEM;
	b->link.next = mrx->bufs.next;
	b->link.prev = &mrx->bufs;
	b->link.next->prev = &b->link;
	mrx->bufs.next = &b->link;
	m->buf = b->data;
	return 0;
}

/*
 * Copies the pending payload's pieces that live in view m->view[k] into
 * the side buffer and drops the message's reference to that view: one
 * piece or one view less is what the caller needs (ZC_MSG_MAX_SEGS, or a
 * slot of the zc_rx). Copied pieces that end up next to each other join.
 */
static int compact_view(struct zc_msg_rx *mrx, uint32_t k)
{
	struct zc_msg *m = &mrx->pend;
	bool mapped, prev_side = false;
	size_t off = 0, len;
	uint32_t j, out = 0;
	uint8_t *side;
	int ret, at;

	ret = side_buffer(mrx, m);
	if (ret)
		return ret;
	side = m->buf;
	for (j = 0; j < m->nsegs; j++) {
		uint8_t *p = m->seg[j].iov_base;

		len = m->seg[j].iov_len;
		at = piece_view(mrx, m, p, &mapped);
		if (at == (int)k) {
			memcpy(side + off, p, len);
			if (mapped)
				m->mapped_len -= len;
			mrx->pend_copied += len;
			p = side + off;
			at = IN_SIDE;
		}
		/* Side pieces are at their payload offsets: consecutive
		 * ones are contiguous. */
		if (at == IN_SIDE && prev_side) {
			m->seg[out - 1].iov_len += len;
		} else {
			m->seg[out].iov_base = p;
			m->seg[out].iov_len = len;
			out++;
		}
		prev_side = at == IN_SIDE;
		off += len;
	}
	m->nsegs = out;
	j = m->view[k];
	memmove(&m->view[k], &m->view[k + 1],
		(m->nviews - k - 1) * sizeof(m->view[0]));
	memmove(&m->generation[k], &m->generation[k + 1],
		(m->nviews - k - 1) * sizeof(m->generation[0]));
	m->nviews--;
	mrx->views[j].refs--;
	view_put(mrx, (int)j);
	m->flags |= ZC_MSG_ASSEMBLED;
	mrx->pend_last = -1;
	return 0;
}

/* For each piece of the pending payload, its view (index in m->view[])
 * or IN_SIDE; and how many payload bytes each view gives. */
static void pieces_by_view(const struct zc_msg_rx *mrx, int *at, size_t *bytes)
{
	const struct zc_msg *m = &mrx->pend;
	bool mapped;
	uint32_t j;

	memset(bytes, 0, ZC_MSG_MAX_SEGS * sizeof(*bytes));
	for (j = 0; j < m->nsegs; j++) {
		at[j] = piece_view(mrx, m, m->seg[j].iov_base, &mapped);
		if (at[j] != IN_SIDE)
			bytes[at[j]] += m->seg[j].iov_len;
	}
}

/* A view of the zc_rx is needed: compacts the view that gives the pending
 * payload the fewest bytes among those only it holds, so that its slot
 * comes free. Returns 0, -ENOBUFS when there is none, -ENOMEM. */
static int compact_for_view(struct zc_msg_rx *mrx)
{
	struct zc_msg *m = &mrx->pend;
	size_t bytes[ZC_MSG_MAX_SEGS], best_bytes = SIZE_MAX;
	int at[ZC_MSG_MAX_SEGS];
	uint32_t k, best = UINT32_MAX;

	pieces_by_view(mrx, at, bytes);
	for (k = 0; k < m->nviews; k++) {
		if (mrx->views[m->view[k]].refs != 1)
			continue;
		if (bytes[k] < best_bytes) {
			best_bytes = bytes[k];
			best = k;
		}
	}
	if (best == UINT32_MAX)
		return -ENOBUFS;
	return compact_view(mrx, best);
}

/*
 * A piece is needed: makes two neighbouring pieces one, at the least cost.
 * A view's pieces are neighbours (its mapped part, then its copied part),
 * and pieces copied out sit together, so compacting the views of the
 * cheapest neighbouring pair always joins it. Returns 0 or -ENOMEM.
 */
static int compact_for_piece(struct zc_msg_rx *mrx)
{
	struct zc_msg *m = &mrx->pend;
	size_t bytes[ZC_MSG_MAX_SEGS], cost, best_cost = SIZE_MAX;
	int at[ZC_MSG_MAX_SEGS], a, b, best_a = IN_SIDE, best_b = IN_SIDE;
	uint16_t id_b = 0;
	uint32_t j, k;
	int ret;

	pieces_by_view(mrx, at, bytes);
	for (j = 0; j + 1 < m->nsegs; j++) {
		a = at[j];
		b = at[j + 1] == a ? IN_SIDE : at[j + 1];
		cost = (a == IN_SIDE ? 0 : bytes[a]) +
		       (b == IN_SIDE ? 0 : bytes[b]);
		if (cost < best_cost) {
			best_cost = cost;
			best_a = a;
			best_b = b;
		}
	}
	/* Two side pieces are never neighbours (compact_view() joins them),
	 * so some view is always involved; refuse to spin if not. */
	if (best_a == IN_SIDE && best_b == IN_SIDE)
		return -EPROTO;
	if (best_b != IN_SIDE)
		id_b = m->view[best_b];
	if (best_a != IN_SIDE) {
		ret = compact_view(mrx, (uint32_t)best_a);
		if (ret)
			return ret;
	}
	if (best_b == IN_SIDE)
		return 0;
	/* compact_view() moved the later entries of m->view[] down. */
	for (k = 0; k < m->nviews; k++)
		if (m->view[k] == id_b)
			return compact_view(mrx, k);
	return 0;
}

/* Appends payload bytes [p, p + len) of part mapped/copied of view i to
 * the pending message. */
static int add_piece(struct zc_msg_rx *mrx, int i, const uint8_t *p, size_t len,
		     bool mapped)
{
	struct zc_msg *m = &mrx->pend;
	struct iovec *last = m->nsegs ? &m->seg[m->nsegs - 1] : NULL;
	bool new_view;
	int ret;

	/* The same part of the same view, right after: one piece. */
	if (last && mrx->pend_last == i && mrx->pend_last_mapped == mapped &&
	    (uint8_t *)last->iov_base + last->iov_len == p) {
		last->iov_len += len;
		if (mapped)
			m->mapped_len += len;
		return 0;
	}
	/* No room for one more piece: join the cheapest neighbours. Each
	 * round leaves at least one piece less. */
	while (m->nsegs == ZC_MSG_MAX_SEGS) {
		ret = compact_for_piece(mrx);
		if (ret)
			return ret;
	}
	new_view = !m->nviews || m->view[m->nviews - 1] != i;
	m->seg[m->nsegs].iov_base = (void *)p;
	m->seg[m->nsegs].iov_len = len;
	m->nsegs++;
	if (mapped)
		m->mapped_len += len;
	if (new_view) {
		/* Pieces <= ZC_MSG_MAX_SEGS, so views are too. */
		m->view[m->nviews] = (uint16_t)i;
		m->generation[m->nviews] = mrx->views[i].generation;
		m->nviews++;
		mrx->views[i].refs++;
	}
	mrx->pend_last = i;
	mrx->pend_last_mapped = mapped;
	return 0;
}

/* Byte at logical offset off of a view: mapped bytes come first. */
static const uint8_t *view_at(const struct zc_view *v, size_t off,
			      size_t *avail, bool *mapped)
{
	if (off < v->mapped_len) {
		*avail = v->mapped_len - off;
		*mapped = true;
		return v->mapped + off;
	}
	*avail = v->len - off;
	*mapped = false;
	return v->copied + (off - v->mapped_len);
}

static bool view_sane(const struct zc_view *v, ssize_t n)
{
	if (n <= 0 || (size_t)n != v->len)
		return false;
	if (v->mapped_len + v->copied_len != v->len || v->mapped_len > v->len)
		return false;
	return (!v->mapped_len || v->mapped) && (!v->copied_len || v->copied);
}

/* Reads the next view into a free entry and makes it the current one.
 * Returns > 0, 0 at the end, -errno. */
static ssize_t next_view(struct zc_msg_rx *mrx)
{
	struct zc__msg_view *e = NULL;
	struct zc_view v;
	uint32_t i;
	ssize_t n;

	if (mrx->views_used < mrx->nviews)
		for (i = 0; i < mrx->nviews; i++)
			if (!mrx->views[i].used) {
				e = &mrx->views[i];
				break;
			}
	if (!e)
		return -ENOBUFS;
	memset(&v, 0, sizeof(v));
	n = mrx->src.read(mrx->src.ctx, &v);
	if (n <= 0)
		return n;
	if (!view_sane(&v, n)) {
		/* Do not look inside it; hand it back as it came. */
		mrx->src.release(mrx->src.ctx, &v);
		return fail(mrx, ZC_MSG_ERR_BAD_VIEW);
	}
	e->v = v;
	e->used = 1;
	e->parsing = 1;
	e->refs = 0;
	mrx->views_used++;
	mrx->cur = (int)(e - mrx->views);
	mrx->cur_off = 0;
	mrx->st.views++;
	return n;
}

/*
 * Tells the source how many bytes the reader needs before it can make
 * progress. While a payload of a page or more is pending, SO_RCVLOWAT
 * (up to one view) makes poll() and the zc_rx's own wait hold off until
 * that much is queued, so the payload arrives in a few large views rather
 * than in whatever trickled in first: a reader faster than its sender
 * would otherwise map 64 KiB GSO skbs one by one and run out of pieces or
 * slots. tcp_set_rcvlowat() grows the receive buffer to fit the value
 * (since 4.18) so the sender can fill it. Small messages never change it.
 * Failure only costs larger views, so it is not an error.
 */
static void want_bytes(struct zc_msg_rx *mrx, size_t need)
{
	uint32_t lowat = 0;
	int ret;

	if (!mrx->src.set_lowat || (mrx->flags & ZC_MSG_RX_F_NO_RCVLOWAT))
		return;
	if (need >= mrx->page_size)
		lowat = (uint32_t)ZC__MIN(need, (size_t)mrx->src.max_lowat);
	if (lowat == mrx->lowat)
		return;
	ret = mrx->src.set_lowat(mrx->src.ctx, lowat);
	if (ret >= 0)
		mrx->lowat = lowat;
	if (ret > 0)
		mrx->st.rcvlowat_sets++;
}

/* The next view, turning -ENOBUFS into progress where it can: a
 * half-read payload holding views is assembled so they can go back. */
static ssize_t refill(struct zc_msg_rx *mrx)
{
	ssize_t n;
	int ret;

	if (mrx->state == PARSE_PAYLOAD)
		want_bytes(mrx, mrx->pend.hdr.len - mrx->pend_have);
	else
		want_bytes(mrx, 0);
	n = next_view(mrx);

	/* Every view is out: give back those only the half-read payload
	 * holds, cheapest first, until one comes free. */
	while (n == -ENOBUFS && mrx->pend.nviews) {
		ret = compact_for_view(mrx);
		if (ret)
			return ret;
		n = next_view(mrx);
	}
	if (n == 0) {
		if (mrx->state == PARSE_PAYLOAD)
			return fail(mrx, ZC_MSG_ERR_TRUNCATED_PAYLOAD);
		if (mrx->hdr_have)
			return fail(mrx, ZC_MSG_ERR_TRUNCATED_HEADER);
	}
	return n;
}

/* Makes room to record one more held message, before anything is read,
 * so that delivering cannot fail. Returns 0 or -ENOMEM. */
static int reserve_held(struct zc_msg_rx *mrx)
{
	uint32_t cap;
	uint64_t *h;

	if (mrx->nheld < mrx->cap_held)
		return 0;
	cap = mrx->cap_held ? 2 * mrx->cap_held : 16;
	h = realloc(mrx->held, cap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	mrx->held = h;
	mrx->cap_held = cap;
	return 0;
}

/* Forgets m's sequence number. Returns 0, or -EINVAL when this reader
 * does not hold it (released already, or never ours). */
static int untrack(struct zc_msg_rx *mrx, const struct zc_msg *m)
{
	uint32_t i;

	if (m->owner != mrx)
		return -EINVAL;
	for (i = 0; i < mrx->nheld; i++) {
		if (mrx->held[i] == m->seq) {
			mrx->held[i] = mrx->held[--mrx->nheld];
			return 0;
		}
	}
	return -EINVAL;
}

static void deliver(struct zc_msg_rx *mrx, struct zc_msg *m)
{
	*m = mrx->pend;
	m->held = ZC__MSG_HELD;
	m->owner = mrx;
	m->seq = ++mrx->seq;
	mrx->held[mrx->nheld++] = m->seq; /* room made by reserve_held() */
	mrx->st.messages++;
	mrx->st.payload_bytes += m->hdr.len;
	mrx->st.bytes_mapped += m->mapped_len;
	if (m->flags & ZC_MSG_ASSEMBLED) {
		mrx->st.assembled++;
		mrx->st.bytes_assembled += mrx->pend_copied;
	}
	pend_reset(mrx);
}

/* Parses what the current view holds. Returns 1 when a message is
 * complete, 0 when the view is used up, -errno. */
static int parse_view(struct zc_msg_rx *mrx)
{
	struct zc__msg_view *e = &mrx->views[mrx->cur];
	const uint8_t *p;
	size_t avail, take;
	bool mapped;
	int ret, reason;

	while (mrx->cur_off < e->v.len) {
		p = view_at(&e->v, mrx->cur_off, &avail, &mapped);
		if (mrx->state == PARSE_HEADER) {
			take = ZC__MIN(avail, ZC_MSG_HDR_LEN - mrx->hdr_have);
			memcpy(mrx->hdr_buf + mrx->hdr_have, p, take);
			mrx->hdr_have += take;
			mrx->cur_off += take;
			if (mrx->hdr_have < ZC_MSG_HDR_LEN)
				continue;
			ret = zc__msg_parse_header(mrx->hdr_buf, ZC_MSG_HDR_LEN,
						   &mrx->pend.hdr,
						   mrx->max_payload, &reason);
			if (ret)
				return fail(mrx, reason);
			mrx->state = PARSE_PAYLOAD;
		} else {
			take = ZC__MIN(avail,
				       mrx->pend.hdr.len - mrx->pend_have);
			ret = add_piece(mrx, mrx->cur, p, take, mapped);
			if (ret)
				return ret;
			mrx->pend_have += take;
			mrx->cur_off += take;
		}
		if (mrx->pend_have == mrx->pend.hdr.len)
			return 1;
	}
	return 0;
}

ZC_API int zc_msg_read(struct zc_msg_rx *mrx, struct zc_msg *m)
{
	ssize_t n;
	int ret;

	if (!mrx || !m)
		return -EINVAL;
	if (mrx->err)
		return mrx->err;
	ret = reserve_held(mrx);
	if (ret)
		return ret;
	for (;;) {
		if (mrx->cur >= 0) {
			ret = parse_view(mrx);
			if (mrx->cur >= 0 &&
			    mrx->cur_off == mrx->views[mrx->cur].v.len)
				parser_done_with_view(mrx);
			if (ret == 1) {
				/* Back to the socket's SO_RCVLOWAT now, not at
				 * the next read: a caller that polls the socket
				 * before reading again must not wait for a
				 * payload it already has. */
				want_bytes(mrx, 0);
				deliver(mrx, m);
				return 1;
			}
			if (ret < 0)
				return ret;
		}
		/* An empty payload completes with its header: no more bytes
		 * needed (handled by parse_view returning 1 above). */
		n = refill(mrx);
		if (n <= 0)
			return (int)n;
	}
}

ZC_API int zc_msg_release(struct zc_msg_rx *mrx, struct zc_msg *m)
{
	uint32_t k;

	if (!mrx || !m || m->held != ZC__MSG_HELD ||
	    m->nviews > ZC_MSG_MAX_SEGS || m->owner != mrx)
		return -EINVAL;
	for (k = 0; k < m->nviews; k++) {
		const struct zc__msg_view *e;

		if (m->view[k] >= mrx->nviews)
			return -EINVAL;
		e = &mrx->views[m->view[k]];
		if (!e->used || !e->refs || e->generation != m->generation[k])
			return -EINVAL;
	}
	if (untrack(mrx, m))
		return -EINVAL;
	msg_put_views(mrx, m);
	msg_free_buf(m);
	memset(m, 0, sizeof(*m));
	return 0;
}

ZC_API void zc_msg_rx_free(struct zc_msg_rx *mrx)
{
	struct zc__msg_link *b, *next;
	uint32_t i;

	if (!mrx)
		return;
	if (mrx->lowat)
		mrx->src.set_lowat(mrx->src.ctx, 0);
	for (i = 0; i < mrx->nviews; i++)
		if (mrx->views[i].used)
			mrx->src.release(mrx->src.ctx, &mrx->views[i].v);
	for (b = mrx->bufs.next; b != &mrx->bufs; b = next) {
		next = b->next;
		free(b);
	}
	free(mrx->views);
	free(mrx->held);
	free(mrx);
}

ZC_API int zc_msg_rx_error(const struct zc_msg_rx *mrx)
{
	return mrx ? mrx->reason : -EINVAL;
}

ZC_API void zc_msg_rx_get_stats(const struct zc_msg_rx *mrx,
				struct zc_msg_rx_stats *st)
{
	if (mrx && st)
		*st = mrx->st;
}

/* --- sender --------------------------------------------------------------- */

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

static int check_out(const struct zc_msg_out *o, uint64_t *total)
{
	uint64_t len = 0;
	unsigned int i;

	if (o->fd < 0 || (o->flags & ~ZC_MSG_SEND_ALL))
		return -EINVAL;
	if ((o->hdr.flags & ~ZC_MSG_F_ALL) || o->hdr.reserved)
		return -EINVAL;
	if (o->iovcnt > ZC_MSG_MAX_IOV || (o->iovcnt && !o->iov))
		return -EINVAL;
	if (o->reserved32)
		return -EINVAL;
	for (i = 0; i < ZC__ARRAY_SIZE(o->reserved); i++)
		if (o->reserved[i])
			return -EINVAL;
	for (i = 0; i < o->iovcnt; i++) {
		if (o->iov[i].iov_len && !o->iov[i].iov_base)
			return -EINVAL;
		len += o->iov[i].iov_len;
	}
	if (len != o->hdr.len)
		return -EINVAL;
	*total = ZC_MSG_HDR_LEN + len;
	if (o->sent > *total)
		return -EINVAL;
	return 0;
}

/* Fills iov[] with the payload from byte off on; returns the count. */
static int payload_iov(const struct zc_msg_out *o, uint64_t off,
		       struct iovec *iov)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < o->iovcnt; i++) {
		const struct iovec *s = &o->iov[i];

		if (off >= s->iov_len) {
			off -= s->iov_len;
			continue;
		}
		iov[n].iov_base = (uint8_t *)s->iov_base + off;
		iov[n].iov_len = s->iov_len - off;
		off = 0;
		n++;
	}
	return n;
}

static ssize_t send_iov(int fd, struct iovec *iov, int n, int flags)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t ret;

	do
		ret = zc__sys.sendmsg(fd, &mh, flags | MSG_NOSIGNAL);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* A stream socket accepts at least one byte or fails. */
	return ret ? ret : -EIO;
}

/* Payload bytes through the caller's writer, one iovec entry at a time. */
static ssize_t send_payload_fn(struct zc_msg_out *o, uint64_t off)
{
	struct iovec iov[ZC_MSG_MAX_IOV];
	ssize_t ret;

	if (!payload_iov(o, off, iov))
		return -EINVAL;
	ret = o->payload_fn(o->payload_ctx, iov[0].iov_base, iov[0].iov_len,
			    o->user_data);
	if (ret == 0 || ret > (ssize_t)iov[0].iov_len)
		return -EIO; /* a writer that breaks its contract */
	return ret;
}

static int zerocopy_enabled(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	if (zc__sys.getsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &on, &len))
		return -errno;
	return on ? 0 : -EINVAL;
}

ZC_API int zc_msg_send(struct zc_msg_out *o)
{
	uint8_t hdr[ZC_MSG_HDR_LEN];
	struct iovec iov[1 + ZC_MSG_MAX_IOV];
	bool aligned, zerocopy;
	uint64_t total;
	ssize_t n;
	int ret, cnt, flags;

	if (!o)
		return -EINVAL;
	ret = check_out(o, &total);
	if (ret)
		return ret;
	/* Below a page nothing can be mapped on the receiver anyway: one
	 * segment, one copy. From a page on, the header gets a segment of
	 * its own so the payload starts page-aligned in the stream. */
	aligned = o->hdr.len >= page_size();
	zerocopy =
		aligned && (o->flags & ZC_MSG_SEND_ZEROCOPY) && !o->payload_fn;
	if (zerocopy && o->sent == 0) {
		/* Without SO_ZEROCOPY the kernel ignores MSG_ZEROCOPY
		 * silently and no completion would ever come. */
		ret = zerocopy_enabled(o->fd);
		if (ret)
			return ret;
	}
	zc_msg_header_encode(hdr, sizeof(hdr), &o->hdr);

	while (o->sent < total) {
		if (o->sent < ZC_MSG_HDR_LEN) {
			iov[0].iov_base = hdr + o->sent;
			iov[0].iov_len = ZC_MSG_HDR_LEN - o->sent;
			if (aligned || o->payload_fn) {
				/* MSG_EOR: the payload may not join the
				 * header's skb (tcp_skb_can_collapse_to,
				 * 4.7). MSG_MORE: hold the header until the
				 * payload pushes it, so it is not sent alone
				 * or delayed by Nagle. A payload_fn gets
				 * every payload byte, short ones too: its
				 * completions are the caller's contract. */
				flags = o->hdr.len ? MSG_MORE : 0;
				if (aligned)
					flags |= MSG_EOR;
				n = send_iov(o->fd, iov, 1, flags);
			} else {
				cnt = payload_iov(o, 0, iov + 1);
				n = send_iov(o->fd, iov, 1 + cnt, 0);
			}
		} else if (o->payload_fn) {
			n = send_payload_fn(o, o->sent - ZC_MSG_HDR_LEN);
		} else {
			cnt = payload_iov(o, o->sent - ZC_MSG_HDR_LEN, iov);
			n = send_iov(o->fd, iov, cnt,
				     zerocopy ? MSG_ZEROCOPY : 0);
			if (n > 0 && zerocopy)
				o->zerocopy_sends++;
			/* optmem or locked memory exhausted: send the bytes
			 * by copy rather than fail, and say so. */
			if (n == -ENOBUFS && zerocopy) {
				n = send_iov(o->fd, iov, cnt, 0);
				if (n > 0)
					o->enobufs_copied++;
			}
		}
		if (n < 0)
			return (int)n;
		o->sent += (uint64_t)n;
	}
	return 0;
}
