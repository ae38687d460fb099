/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of message framing (src/msg.c): the header codec, every
 * malformed-header class, the stream reader on views that cut messages
 * anywhere, view lifetimes when views are shared by messages, fallbacks
 * (assembly on -ENOBUFS or too many pieces), and the sender's choice of
 * flags, partial writes and resumption.
 *
 * The reader is driven through a fake source (the zc__msg_source
 * interface) that cuts a byte buffer into views by a script: each view has
 * a "mapped" part and a "copied" part in separate heap blocks of exactly
 * their size, so a reader that strays out of a view is caught by the
 * sanitizers (make SAN=1). The fake checks every release and counts views
 * still out. The sender is driven through a faked zc__sys.sendmsg that
 * records flags and bytes and can accept short counts or say EAGAIN.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat.h"
#include "internal.h"
#include "msg.h"

#define MAX_FAKE_VIEWS 4096

/* --- fake source ---------------------------------------------------------- */

struct fake_view {
	uint8_t *mapped, *copied;
	uint32_t generation;
	int out;
};

struct fake_src {
	const uint8_t *data;
	size_t len, pos;
	/* View sizes, cycled; with mapped_part[i] bytes of each "mapped". */
	const size_t *sizes;
	const size_t *mapped_part;
	size_t nsizes, next;
	uint32_t max_out; /* -ENOBUFS beyond */
	uint32_t out;	  /* views not released */
	uint32_t views;	  /* handed out in total */
	uint32_t releases;
	int eagain_every; /* every Nth read says -EAGAIN first */
	int eagain_tick;
	int error_at_end;  /* -errno instead of 0 at the end */
	int corrupt_next;  /* hand out one inconsistent view */
	int lowat_enabled; /* offer set_lowat */
	uint32_t max_lowat;
	uint32_t lowat; /* last value asked for */
	uint32_t lowat_max;
	int lowat_calls;
	struct fake_view v[MAX_FAKE_VIEWS];
};

static ssize_t fake_read(void *ctx, struct zc_view *zv)
{
	struct fake_src *f = ctx;
	struct fake_view *fv;
	size_t n, m;
	uint32_t i;

	if (f->eagain_every && ++f->eagain_tick % f->eagain_every == 0)
		return -EAGAIN;
	if (f->out >= f->max_out)
		return -ENOBUFS;
	if (f->pos == f->len)
		return f->error_at_end ? -f->error_at_end : 0;
	for (i = 0; i < MAX_FAKE_VIEWS; i++)
		if (!f->v[i].out)
			break;
	assert_true(i < MAX_FAKE_VIEWS);
	fv = &f->v[i];
	n = f->nsizes ? f->sizes[f->next % f->nsizes] : f->len;
	m = f->mapped_part ? f->mapped_part[f->next % f->nsizes] : 0;
	f->next++;
	if (n > f->len - f->pos)
		n = f->len - f->pos;
	if (m > n)
		m = n;
	fv->mapped = m ? malloc(m) : NULL;
	fv->copied = n - m ? malloc(n - m) : NULL;
	if (m)
		memcpy(fv->mapped, f->data + f->pos, m);
	if (n - m)
		memcpy(fv->copied, f->data + f->pos + m, n - m);
	fv->out = 1;
	fv->generation++;
	f->pos += n;
	f->out++;
	f->views++;
	memset(zv, 0, sizeof(*zv));
	zv->mapped = fv->mapped;
	zv->mapped_len = m;
	zv->copied = fv->copied;
	zv->copied_len = n - m;
	zv->len = n;
	zv->slot = i;
	zv->generation = fv->generation;
	if (f->corrupt_next) {
		f->corrupt_next = 0;
		zv->len++; /* says more than it holds */
	}
	return (ssize_t)n;
}

static int fake_release(void *ctx, struct zc_view *zv)
{
	struct fake_src *f = ctx;
	struct fake_view *fv;

	assert_true(zv->slot < MAX_FAKE_VIEWS);
	fv = &f->v[zv->slot];
	/* A double or stale release is a bug in the reader. */
	assert_true(fv->out);
	assert_int_equal(fv->generation, zv->generation);
	free(fv->mapped);
	free(fv->copied);
	fv->mapped = fv->copied = NULL;
	fv->out = 0;
	f->out--;
	f->releases++;
	memset(zv, 0, sizeof(*zv));
	return 0;
}

static int fake_set_lowat(void *ctx, uint32_t bytes)
{
	struct fake_src *f = ctx;
	f->lowat = bytes;
	if (bytes > f->lowat_max)
		f->lowat_max = bytes;
	f->lowat_calls++;
	return 1;
}

static void fake_init(struct fake_src *f, const uint8_t *data, size_t len,
		      const size_t *sizes, const size_t *mapped, size_t n)
{
	memset(f, 0, sizeof(*f));
	f->data = data;
	f->len = len;
	f->sizes = sizes;
	f->mapped_part = mapped;
	f->nsizes = n;
	f->max_out = MAX_FAKE_VIEWS;
}

static struct zc_msg_rx *reader_flags(struct fake_src *f, uint32_t max_payload,
				      uint32_t flags)
{
	struct zc__msg_source src = {
		.read = fake_read,
		.release = fake_release,
		.set_lowat = f->lowat_enabled ? fake_set_lowat : NULL,
		.ctx = f,
		.max_views = f->max_out,
		.max_lowat = f->max_lowat,
	};
	struct zc_msg_rx_opts o = { .max_payload = max_payload,
				    .flags = flags };
	struct zc_msg_rx *mrx;

	assert_int_equal(zc__msg_rx_create_source(&mrx, &src, &o), 0);
	return mrx;
}

static struct zc_msg_rx *reader(struct fake_src *f, uint32_t max_payload)
{
	return reader_flags(f, max_payload, 0);
}

/* --- stream building ------------------------------------------------------ */

struct stream {
	uint8_t buf[1 << 20];
	size_t len;
};

static uint8_t pattern(uint64_t id, size_t i)
{
	return (uint8_t)(id * 131 + i * 7 + (i >> 8));
}

/* Appends a message with a pattern payload; returns its payload offset. */
static size_t put_msg(struct stream *s, uint64_t id, uint32_t type,
		      uint32_t len, uint32_t flags)
{
	struct zc_msg_hdr h = {
		.id = id, .type = type, .len = len, .flags = flags
	};
	size_t i, off;

	assert_true(s->len + ZC_MSG_HDR_LEN + len <= sizeof(s->buf));
	assert_int_equal(
		zc_msg_header_encode(s->buf + s->len, ZC_MSG_HDR_LEN, &h),
		ZC_MSG_HDR_LEN);
	off = s->len + ZC_MSG_HDR_LEN;
	for (i = 0; i < len; i++)
		s->buf[off + i] = pattern(id, i);
	s->len = off + len;
	return off;
}

static void put_bytes(struct stream *s, const void *p, size_t len)
{
	memcpy(s->buf + s->len, p, len);
	s->len += len;
}

/* Checks header fields and every payload byte of a received message. */
static void check_msg(const struct zc_msg *m, uint64_t id, uint32_t type,
		      uint32_t len)
{
	size_t i = 0, k, j, total = 0;

	assert_int_equal(m->hdr.id, id);
	assert_int_equal(m->hdr.type, type);
	assert_int_equal(m->hdr.len, len);
	assert_true(m->nsegs <= ZC_MSG_MAX_SEGS);
	for (k = 0; k < m->nsegs; k++) {
		const uint8_t *p = m->seg[k].iov_base;

		assert_true(m->seg[k].iov_len > 0);
		for (j = 0; j < m->seg[k].iov_len; j++, i++)
			assert_int_equal(p[j], pattern(id, i));
		total += m->seg[k].iov_len;
	}
	assert_int_equal(total, len);
	assert_true(m->mapped_len <= len);
}

static struct stream S;

/* --- header codec --------------------------------------------------------- */

static void test_header_layout(void **state)
{
	struct zc_msg_hdr h = { .id = 0x0102030405060708ull,
				.type = 0x11223344,
				.len = 0x00a0b0c0,
				.flags = ZC_MSG_F_REPLY },
			  d;
	/* clang-format off */
	static const uint8_t want[ZC_MSG_HDR_LEN] = {
		'Z', 'C', 'M', '1', 1, 0, 1, 0,			/* version, flags */
		0x44, 0x33, 0x22, 0x11, 0xc0, 0xb0, 0xa0, 0x00, /* type, len */
		8, 7, 6, 5, 4, 3, 2, 1,				/* id */
		0, 0, 0, 0, 0, 0, 0, 0,				/* reserved */
	};
	/* clang-format on */
	uint8_t buf[ZC_MSG_HDR_LEN + 1];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(zc_msg_header_encode(buf, sizeof(buf), &h),
			 ZC_MSG_HDR_LEN);
	assert_memory_equal(buf, want, ZC_MSG_HDR_LEN);
	assert_int_equal(buf[ZC_MSG_HDR_LEN], 0xee); /* nothing past it */
	memset(&d, 0xff, sizeof(d));
	assert_int_equal(zc_msg_header_decode(buf, ZC_MSG_HDR_LEN, &d, 0), 0);
	assert_int_equal(d.id, h.id);
	assert_int_equal(d.type, h.type);
	assert_int_equal(d.len, h.len);
	assert_int_equal(d.flags, h.flags);
	assert_int_equal(d.reserved, 0);
}

static void test_header_encode_rejects(void **state)
{
	struct zc_msg_hdr h = { .len = 1 };
	uint8_t buf[ZC_MSG_HDR_LEN];

	assert_int_equal(zc_msg_header_encode(buf, ZC_MSG_HDR_LEN - 1, &h),
			 -EINVAL);
	assert_int_equal(zc_msg_header_encode(NULL, 64, &h), -EINVAL);
	assert_int_equal(zc_msg_header_encode(buf, sizeof(buf), NULL), -EINVAL);
	h.flags = ZC_MSG_F_ALL + 1;
	assert_int_equal(zc_msg_header_encode(buf, sizeof(buf), &h), -EINVAL);
	h.flags = 0;
	h.reserved = 1;
	assert_int_equal(zc_msg_header_encode(buf, sizeof(buf), &h), -EINVAL);
}

static void good_header(uint8_t *buf, uint32_t len)
{
	struct zc_msg_hdr h = { .id = 7, .type = 3, .len = len };

	assert_int_equal(zc_msg_header_encode(buf, ZC_MSG_HDR_LEN, &h),
			 ZC_MSG_HDR_LEN);
}

static int parse(const uint8_t *buf, size_t len, uint32_t max, int *reason)
{
	struct zc_msg_hdr h;

	return zc__msg_parse_header(buf, len, &h, max, reason);
}

/* A header cut short: -EAGAIN, and not a byte read past the end (the
 * buffer is a heap block of exactly that size, for the sanitizers). */
static void test_header_truncated(void **state)
{
	uint8_t full[ZC_MSG_HDR_LEN];
	size_t len;
	int reason;

	good_header(full, 10);
	for (len = 0; len < ZC_MSG_HDR_LEN; len++) {
		uint8_t *p = malloc(len ? len : 1);

		memcpy(p, full, len);
		reason = -1;
		assert_int_equal(parse(p, len, 0, &reason), -EAGAIN);
		assert_int_equal(reason, ZC_MSG_ERR_NONE);
		free(p);
	}
	assert_int_equal(parse(full, ZC_MSG_HDR_LEN, 0, &reason), 0);
}

static void test_header_bad_magic(void **state)
{
	uint8_t buf[ZC_MSG_HDR_LEN];
	int i, reason;

	for (i = 0; i < 4; i++) {
		good_header(buf, 10);
		buf[i] ^= 0x20; /* "zCM1", "ZcM1", ... */
		assert_int_equal(parse(buf, sizeof(buf), 0, &reason), -EBADMSG);
		assert_int_equal(reason, ZC_MSG_ERR_MAGIC);
	}
}

static void test_header_bad_version(void **state)
{
	static const uint16_t bad[] = { 0, 2, 0x100, 0xffff };
	uint8_t buf[ZC_MSG_HDR_LEN];
	unsigned int i;
	int reason;

	for (i = 0; i < ZC__ARRAY_SIZE(bad); i++) {
		good_header(buf, 10);
		buf[4] = (uint8_t)bad[i];
		buf[5] = (uint8_t)(bad[i] >> 8);
		assert_int_equal(parse(buf, sizeof(buf), 0, &reason),
				 -EPROTONOSUPPORT);
		assert_int_equal(reason, ZC_MSG_ERR_VERSION);
	}
}

static void test_header_unknown_flags(void **state)
{
	uint8_t buf[ZC_MSG_HDR_LEN];
	int bit, reason;

	for (bit = 0; bit < 16; bit++) {
		good_header(buf, 10);
		buf[6] = (uint8_t)(1u << bit);
		buf[7] = (uint8_t)((1u << bit) >> 8);
		if ((1u << bit) & ZC_MSG_F_ALL) {
			assert_int_equal(parse(buf, sizeof(buf), 0, &reason),
					 0);
			continue;
		}
		assert_int_equal(parse(buf, sizeof(buf), 0, &reason), -EBADMSG);
		assert_int_equal(reason, ZC_MSG_ERR_FLAGS);
	}
}

static void test_header_reserved(void **state)
{
	uint8_t buf[ZC_MSG_HDR_LEN];
	int i, reason;

	for (i = ZC__MSG_OFF_RESERVED; i < ZC_MSG_HDR_LEN; i++) {
		good_header(buf, 10);
		buf[i] = 0x80;
		assert_int_equal(parse(buf, sizeof(buf), 0, &reason), -EBADMSG);
		assert_int_equal(reason, ZC_MSG_ERR_RESERVED);
	}
}

static void test_header_too_long(void **state)
{
	uint8_t buf[ZC_MSG_HDR_LEN];
	int reason;

	good_header(buf, 4096);
	assert_int_equal(parse(buf, sizeof(buf), 4096, &reason), 0);
	good_header(buf, 4097);
	assert_int_equal(parse(buf, sizeof(buf), 4096, &reason), -EMSGSIZE);
	assert_int_equal(reason, ZC_MSG_ERR_TOO_LONG);
	good_header(buf, UINT32_MAX);
	assert_int_equal(parse(buf, sizeof(buf), 4096, &reason), -EMSGSIZE);
	/* 0 = no limit, for the public decoder. */
	assert_int_equal(parse(buf, sizeof(buf), 0, &reason), 0);
}

/* Random bytes: always rejected (a random magic matches 1 in 2^32), and
 * a header with the right magic but random fields is rejected unless it
 * happens to be valid, in which case it decodes within the limit. */
static void test_header_garbage(void **state)
{
	uint8_t buf[ZC_MSG_HDR_LEN];
	struct zc_msg_hdr h;
	int i, j, ret, reason;

	srandom(1);
	for (i = 0; i < 100000; i++) {
		for (j = 0; j < ZC_MSG_HDR_LEN; j++)
			buf[j] = (uint8_t)random();
		if (i & 1)
			memcpy(buf, "ZCM1", 4);
		ret = zc__msg_parse_header(buf, sizeof(buf), &h, 1024, &reason);
		if (!(i & 1)) {
			assert_int_equal(ret, -EBADMSG);
			assert_int_equal(reason, ZC_MSG_ERR_MAGIC);
		} else if (ret == 0) {
			assert_true(h.len <= 1024);
			assert_int_equal(h.flags & ~ZC_MSG_F_ALL, 0);
		} else {
			assert_true(reason > ZC_MSG_ERR_MAGIC &&
				    reason <= ZC_MSG_ERR_TOO_LONG);
		}
	}
}

static void test_error_names(void **state)
{
	int i;

	for (i = ZC_MSG_ERR_NONE; i <= ZC_MSG_ERR_BAD_VIEW; i++)
		assert_non_null(zc_msg_error_name(i));
	assert_string_equal(zc_msg_error_name(ZC_MSG_ERR_MAGIC), "bad magic");
	assert_null(zc_msg_error_name(-1));
	assert_null(zc_msg_error_name(ZC_MSG_ERR_BAD_VIEW + 1));
}

/* --- stream reader -------------------------------------------------------- */

static void test_opts(void **state)
{
	struct fake_src f;
	struct zc__msg_source src = { .read = fake_read,
				      .release = fake_release,
				      .ctx = &f,
				      .max_views = 4 };
	struct zc_msg_rx_opts o = { 0 };
	struct zc_msg_rx *mrx = (void *)1;
	struct zc_msg m;
	fake_init(&f, NULL, 0, NULL, NULL, 0);
	o.flags = ZC_MSG_RX_F_ALL + 1;
	assert_int_equal(zc__msg_rx_create_source(&mrx, &src, &o), -EINVAL);
	assert_null(mrx);
	o.flags = 0;
	o.reserved[5] = 1;
	assert_int_equal(zc__msg_rx_create_source(&mrx, &src, &o), -EINVAL);
	src.max_views = 0;
	assert_int_equal(zc__msg_rx_create_source(&mrx, &src, NULL), -EINVAL);
	assert_int_equal(zc_msg_rx_create(&mrx, NULL, NULL), -EINVAL);
	assert_int_equal(zc_msg_rx_create(NULL, NULL, NULL), -EINVAL);
	src.max_views = 4;
	assert_int_equal(zc__msg_rx_create_source(&mrx, &src, NULL), 0);
	assert_int_equal(zc_msg_read(mrx, NULL), -EINVAL);
	assert_int_equal(zc_msg_read(NULL, &m), -EINVAL);
	/* Empty stream: a clean end, again and again. */
	assert_int_equal(zc_msg_read(mrx, &m), 0);
	assert_int_equal(zc_msg_read(mrx, &m), 0);
	assert_int_equal(zc_msg_rx_error(mrx), ZC_MSG_ERR_NONE);
	zc_msg_rx_free(mrx);
	zc_msg_rx_free(NULL);
}

/* One view, several messages: payloads point into the view (no copy),
 * the view goes back when the last message using it is released. */
static void test_one_view_shared(void **state)
{
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg a, b, c;
	size_t off_a, off_b;

	S.len = 0;
	off_a = put_msg(&S, 1, 10, 100, 0);
	off_b = put_msg(&S, 2, 11, 0, ZC_MSG_F_REPLY);
	put_msg(&S, 3, 12, 5, ZC_MSG_F_ERROR);
	fake_init(&f, S.buf, S.len, NULL, NULL, 0);
	mrx = reader(&f, 0);

	assert_int_equal(zc_msg_read(mrx, &a), 1);
	check_msg(&a, 1, 10, 100);
	assert_int_equal(a.nsegs, 1);
	assert_int_equal(a.flags, 0);
	/* The payload is the view's own bytes. */
	assert_ptr_equal(a.seg[0].iov_base, f.v[0].copied + off_a);
	assert_int_equal(zc_msg_read(mrx, &b), 1);
	check_msg(&b, 2, 11, 0);
	assert_int_equal(b.nsegs, 0);
	assert_int_equal(b.hdr.flags, ZC_MSG_F_REPLY);
	(void)off_b;
	assert_int_equal(zc_msg_read(mrx, &c), 1);
	check_msg(&c, 3, 12, 5);
	assert_int_equal(c.hdr.flags, ZC_MSG_F_ERROR);
	assert_int_equal(f.views, 1);

	/* The view is fully parsed; a and c still use it. */
	assert_int_equal(f.out, 1);
	assert_int_equal(zc_msg_release(mrx, &c), 0);
	assert_int_equal(f.out, 1);
	assert_int_equal(zc_msg_release(mrx, &b), 0);
	assert_int_equal(f.out, 1);
	assert_int_equal(zc_msg_release(mrx, &a), 0);
	assert_int_equal(f.out, 0);
	assert_int_equal(zc_msg_read(mrx, &a), 0);
	zc_msg_rx_free(mrx);
}

/* A view holding the end of payload A and the header and start of B stays
 * held until both are released, in either order. */
static void view_spanning(int release_a_first)
{
	static const size_t sizes[] = { 3000, 3000, 100000 };
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg a, b;

	S.len = 0;
	put_msg(&S, 1, 1, 4000, 0); /* bytes 0..4031: views 0, 1 */
	put_msg(&S, 2, 2, 4000, 0); /* bytes 4032..8063: views 1, 2 */
	fake_init(&f, S.buf, S.len, sizes, NULL, 3);
	mrx = reader(&f, 0);

	assert_int_equal(zc_msg_read(mrx, &a), 1);
	check_msg(&a, 1, 1, 4000);
	assert_int_equal(a.nsegs, 2);
	/* View 0 is used by a only; view 1 by a and the parser. */
	assert_int_equal(f.out, 2);
	assert_int_equal(zc_msg_read(mrx, &b), 1);
	check_msg(&b, 2, 2, 4000);
	assert_int_equal(b.nsegs, 2);
	assert_int_equal(f.out, 3);
	assert_int_equal(zc__msg_rx_views_held(mrx), 3);
	if (release_a_first) {
		assert_int_equal(zc_msg_release(mrx, &a), 0);
		assert_int_equal(f.out, 2); /* view 0 back, view 1 kept */
		assert_true(f.v[1].out);
		assert_int_equal(zc_msg_release(mrx, &b), 0);
	} else {
		assert_int_equal(zc_msg_release(mrx, &b), 0);
		assert_int_equal(f.out, 2); /* view 2 back, view 1 kept */
		assert_true(f.v[1].out);
		assert_int_equal(zc_msg_release(mrx, &a), 0);
	}
	assert_int_equal(f.out, 0);
	assert_int_equal(zc_msg_read(mrx, &a), 0);
	zc_msg_rx_free(mrx);
}

static void test_view_spanning_a_first(void **state)
{
	view_spanning(1);
}

static void test_view_spanning_b_first(void **state)
{
	view_spanning(0);
}

/* Views with a mapped part then a copied part: pieces in stream order,
 * mapped_len counts the mapped ones. */
static void test_mapped_and_copied(void **state)
{
	static const size_t sizes[] = { 8192 + 40, 8192 + 100 };
	static const size_t mapped[] = { 0, 8192 };
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;
	struct zc_msg_rx_stats st;

	S.len = 0;
	put_msg(&S, 9, 1, 16484, 0);
	fake_init(&f, S.buf, S.len, sizes, mapped, 2);
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	check_msg(&m, 9, 1, 16484);
	/* view 0: all copied (header, 8200 payload bytes); view 1: 8192
	 * mapped, then the last 92 copied. */
	assert_int_equal(m.nsegs, 3);
	assert_int_equal(m.seg[0].iov_len, 8192 + 40 - 32);
	assert_ptr_equal(m.seg[1].iov_base, f.v[1].mapped);
	assert_int_equal(m.seg[1].iov_len, 8192);
	assert_ptr_equal(m.seg[2].iov_base, f.v[1].copied);
	assert_int_equal(m.seg[2].iov_len, 92);
	assert_int_equal(m.mapped_len, 8192);
	zc_msg_rx_get_stats(mrx, &st);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.payload_bytes, 16484);
	assert_int_equal(st.bytes_mapped, 8192);
	assert_int_equal(st.assembled, 0);
	assert_int_equal(st.views, 2);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(f.out, 0);
	zc_msg_rx_free(mrx);
}

/* Headers cut at every byte, payloads over many tiny views: a payload
 * needing more than ZC_MSG_MAX_SEGS pieces is assembled, and says so. */
static void test_tiny_views(void **state)
{
	static const size_t one[] = { 1 };
	static const size_t seven[] = { 7 };
	const size_t *sizes[] = { one, seven };
	struct zc_msg_rx_stats st;
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;
	unsigned int k;

	for (k = 0; k < 2; k++) {
		S.len = 0;
		put_msg(&S, 1, 1, 3, 0);   /* 3 pieces: in views */
		put_msg(&S, 2, 1, 200, 0); /* too many pieces: copied in part */
		put_msg(&S, 3, 1, 0, 0);
		fake_init(&f, S.buf, S.len, sizes[k], NULL, 1);
		mrx = reader(&f, 0);
		assert_int_equal(zc_msg_read(mrx, &m), 1);
		check_msg(&m, 1, 1, 3);
		assert_int_equal(m.flags, 0);
		assert_int_equal(zc_msg_release(mrx, &m), 0);
		assert_int_equal(zc_msg_read(mrx, &m), 1);
		check_msg(&m, 2, 1, 200);
		assert_int_equal(m.flags, ZC_MSG_ASSEMBLED);
		/* The oldest pieces went into one run of its own buffer; the
		 * latest still point into their views. */
		assert_ptr_equal(m.seg[0].iov_base, m.buf);
		assert_true(m.nviews > 0 && m.nviews < m.nsegs);
		assert_int_equal(f.out, zc__msg_rx_views_held(mrx));
		assert_true(f.out <= m.nviews + 1);
		assert_int_equal(zc_msg_release(mrx, &m), 0);
		assert_true(f.out <= 1);
		assert_int_equal(zc_msg_read(mrx, &m), 1);
		check_msg(&m, 3, 1, 0);
		assert_int_equal(zc_msg_release(mrx, &m), 0);
		assert_int_equal(zc_msg_read(mrx, &m), 0);
		assert_int_equal(f.out, 0);
		zc_msg_rx_get_stats(mrx, &st);
		assert_int_equal(st.assembled, 1);
		assert_true(st.bytes_assembled > 0 && st.bytes_assembled < 200);
		zc_msg_rx_free(mrx);
	}
}

/* Too few views for one payload: the views that give it the fewest bytes
 * are copied out first, so its slot comes free. Views alternate: 8 KiB
 * mapped, then 1 copied byte; only the single bytes get copied. */
static void test_compact_for_view(void **state)
{
	static const size_t sizes[] = { 8192, 1 };
	static const size_t mapped[] = { 8192, 0 };
	struct zc_msg_rx_stats st;
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;

	S.len = 0;
	/* The header takes 32 bytes of view 0: 10 views in all. */
	put_msg(&S, 1, 1, 8160 + 1 + 4 * 8193, 0);
	fake_init(&f, S.buf, S.len, sizes, mapped, 2);
	f.max_out = 6;
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	check_msg(&m, 1, 1, 8160 + 1 + 4 * 8193);
	assert_int_equal(m.flags, ZC_MSG_ASSEMBLED);
	zc_msg_rx_get_stats(mrx, &st);
	assert_int_equal(st.bytes_assembled, 4);
	assert_int_equal(m.mapped_len, 8160 + 4 * 8192);
	assert_int_equal(st.bytes_mapped, m.mapped_len);
	assert_int_equal(m.nviews, 6);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(zc_msg_read(mrx, &m), 0);
	assert_int_equal(f.out, 0);
	zc_msg_rx_free(mrx);
}

/* More pieces than ZC_MSG_MAX_SEGS: neighbouring pieces are joined by
 * copying the cheapest views, not the whole payload. Each view is 8 KiB
 * mapped and 1 copied byte (two pieces), 12 views. */
static void test_compact_for_piece(void **state)
{
	static const size_t sizes[] = { 8193 };
	static const size_t mapped[] = { 8192 };
	const uint32_t len = 12 * 8193 - ZC_MSG_HDR_LEN;
	struct zc_msg_rx_stats st;
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;
	size_t i, side = 0;

	S.len = 0;
	put_msg(&S, 1, 1, len, 0);
	fake_init(&f, S.buf, S.len, sizes, mapped, 1);
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	check_msg(&m, 1, 1, len);
	assert_int_equal(m.flags, ZC_MSG_ASSEMBLED);
	assert_true(m.nsegs <= ZC_MSG_MAX_SEGS);
	zc_msg_rx_get_stats(mrx, &st);
	for (i = 0; i < m.nsegs; i++)
		if ((uint8_t *)m.seg[i].iov_base >= (uint8_t *)m.buf &&
		    (uint8_t *)m.seg[i].iov_base < (uint8_t *)m.buf + len)
			side += m.seg[i].iov_len;
	assert_int_equal(side, st.bytes_assembled);
	/* 24 pieces into 16: a few views copied, most pages still mapped. */
	assert_true(st.bytes_assembled <= 5 * 8193);
	assert_true(m.mapped_len >= 7 * 8192);
	assert_int_equal(st.bytes_mapped, m.mapped_len);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(zc_msg_read(mrx, &m), 0);
	assert_int_equal(f.out, 0);
	zc_msg_rx_free(mrx);
}

/* SO_RCVLOWAT: asked for while a payload of a page or more is pending,
 * at most one view's worth, given back between payloads and at the end;
 * never for small messages, never with ZC_MSG_RX_F_NO_RCVLOWAT. */
static void test_rcvlowat(void **state)
{
	static const size_t sizes[] = { 1000 };
	struct zc_msg_rx_stats st;
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;

	S.len = 0;
	put_msg(&S, 1, 1, 4095, 0);
	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	f.lowat_enabled = 1;
	f.max_lowat = 65536;
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	assert_int_equal(f.lowat_calls, 0);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	zc_msg_rx_free(mrx);

	S.len = 0;
	put_msg(&S, 1, 1, 100000, 0);
	put_msg(&S, 2, 1, 10, 0);
	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	f.lowat_enabled = 1;
	f.max_lowat = 65536;
	f.max_out = 200;
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	check_msg(&m, 1, 1, 100000);
	/* At most one view's worth; back to the socket's own value once
	 * less than a page was missing. */
	assert_int_equal(f.lowat_max, 65536);
	assert_int_equal(f.lowat, 0);
	assert_true(f.lowat_calls > 2);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	assert_int_equal(f.lowat, 0);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	zc_msg_rx_get_stats(mrx, &st);
	assert_int_equal(st.rcvlowat_sets, f.lowat_calls);
	zc_msg_rx_free(mrx);

	/* The payload's last view completes the message: restored before
	 * zc_msg_read() returns, so a caller that polls the socket next
	 * does not wait for bytes it already has. */
	{
		static const size_t split[] = { ZC_MSG_HDR_LEN, 8192 };

		S.len = 0;
		put_msg(&S, 1, 1, 8192, 0);
		fake_init(&f, S.buf, S.len, split, NULL, 2);
		f.lowat_enabled = 1;
		f.max_lowat = 65536;
		mrx = reader(&f, 0);
		assert_int_equal(zc_msg_read(mrx, &m), 1);
		check_msg(&m, 1, 1, 8192);
		assert_int_equal(f.lowat_max, 8192);
		assert_int_equal(f.lowat, 0);
		assert_int_equal(zc_msg_release(mrx, &m), 0);
		zc_msg_rx_free(mrx);
	}

	/* Freed in the middle of a payload: restored. */
	S.len = 0;
	put_msg(&S, 1, 1, 100000, 0);
	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	f.lowat_enabled = 1;
	f.max_lowat = 65536;
	f.max_out = 200;
	f.eagain_every = 3;
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), -EAGAIN);
	assert_int_equal(f.lowat, 65536);
	zc_msg_rx_free(mrx);
	assert_int_equal(f.lowat, 0);

	S.len = 0;
	put_msg(&S, 1, 1, 100000, 0);
	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	f.lowat_enabled = 1;
	f.max_lowat = 65536;
	f.max_out = 200;
	mrx = reader_flags(&f, 0, ZC_MSG_RX_F_NO_RCVLOWAT);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	assert_int_equal(f.lowat_calls, 0);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	zc_msg_rx_free(mrx);
}

/* The source has fewer views than one payload needs: the half-read
 * payload is assembled so its views go back and the rest can be read. */
static void test_enobufs_assembles(void **state)
{
	static const size_t sizes[] = { 1000 };
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;

	S.len = 0;
	put_msg(&S, 1, 1, 5000, 0);
	put_msg(&S, 2, 1, 10, 0);
	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	f.max_out = 2;
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	check_msg(&m, 1, 1, 5000);
	assert_int_equal(m.flags, ZC_MSG_ASSEMBLED);
	assert_true(f.out <= 2);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	check_msg(&m, 2, 1, 10);
	assert_int_equal(m.flags, 0);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(zc_msg_read(mrx, &m), 0);
	assert_int_equal(f.out, 0);
	zc_msg_rx_free(mrx);
}

/* Every view is held by messages the caller keeps: -ENOBUFS until one is
 * released, then reading goes on where it stopped. */
static void test_enobufs_caller_holds(void **state)
{
	static const size_t sizes[] = { 100 };
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg a, b;

	S.len = 0;
	put_msg(&S, 1, 1, 30, 0); /* bytes 0..61: view 0 */
	put_msg(&S, 2, 1, 50, 0); /* 62..143: views 0, 1 */
	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	f.max_out = 1;
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &a), 1);
	check_msg(&a, 1, 1, 30);
	assert_int_equal(zc_msg_read(mrx, &b), -ENOBUFS);
	assert_int_equal(zc_msg_read(mrx, &b), -ENOBUFS);
	assert_int_equal(zc_msg_rx_error(mrx), ZC_MSG_ERR_NONE);
	assert_int_equal(zc_msg_release(mrx, &a), 0);
	assert_int_equal(zc_msg_read(mrx, &b), 1);
	check_msg(&b, 2, 1, 50);
	assert_int_equal(b.flags, ZC_MSG_ASSEMBLED);
	assert_int_equal(zc_msg_release(mrx, &b), 0);
	assert_int_equal(zc_msg_read(mrx, &b), 0);
	assert_int_equal(f.out, 0);
	zc_msg_rx_free(mrx);
}

/* -EAGAIN from the source in the middle of headers and payloads: the
 * reader keeps what it has and resumes. */
static void test_eagain_resumes(void **state)
{
	static const size_t sizes[] = { 5, 60, 1, 33, 4096 };
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;
	int i, ret, eagains = 0;

	S.len = 0;
	for (i = 0; i < 20; i++)
		put_msg(&S, (uint64_t)i, 4, (uint32_t)(i * 97), 0);
	fake_init(&f, S.buf, S.len, sizes, NULL, 5);
	f.eagain_every = 2;
	mrx = reader(&f, 0);
	for (i = 0; i < 20;) {
		ret = zc_msg_read(mrx, &m);
		if (ret == -EAGAIN) {
			eagains++;
			continue;
		}
		assert_int_equal(ret, 1);
		check_msg(&m, (uint64_t)i, 4, (uint32_t)(i * 97));
		assert_int_equal(zc_msg_release(mrx, &m), 0);
		i++;
	}
	assert_true(eagains > 0);
	do
		ret = zc_msg_read(mrx, &m);
	while (ret == -EAGAIN);
	assert_int_equal(ret, 0);
	assert_int_equal(f.out, 0);
	zc_msg_rx_free(mrx);
}

/* A socket error from the source is passed on, not turned into a
 * framing error. */
static void test_source_error(void **state)
{
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;

	S.len = 0;
	put_msg(&S, 1, 1, 10, 0);
	fake_init(&f, S.buf, S.len, NULL, NULL, 0);
	f.error_at_end = ECONNRESET;
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	assert_int_equal(zc_msg_read(mrx, &m), -ECONNRESET);
	assert_int_equal(zc_msg_rx_error(mrx), ZC_MSG_ERR_NONE);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	zc_msg_rx_free(mrx);
	assert_int_equal(f.out, 0);
}

/*
 * One malformed stream: good messages first (delivered), then the bad
 * bytes: the expected error, the same again on every later call, the
 * reason, and no view kept except those of messages still held.
 */
static void expect_stream_error(size_t view_size, uint32_t max_payload,
				int nr_good, int err, int reason)
{
	size_t sizes[] = { view_size };
	struct zc_msg good[4];
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;
	int i;

	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	mrx = reader(&f, max_payload);
	for (i = 0; i < nr_good; i++) {
		assert_int_equal(zc_msg_read(mrx, &good[i]), 1);
		check_msg(&good[i], (uint64_t)i + 1, 1, 100);
	}
	assert_int_equal(zc_msg_read(mrx, &m), err);
	assert_int_equal(zc_msg_rx_error(mrx), reason);
	assert_int_equal(zc_msg_read(mrx, &m), err);
	/* Only the good messages' views are still out. */
	assert_int_equal(f.out, zc__msg_rx_views_held(mrx));
	for (i = 0; i < nr_good; i++)
		assert_int_equal(zc_msg_release(mrx, &good[i]), 0);
	assert_int_equal(f.out, 0);
	assert_int_equal(zc_msg_read(mrx, &m), err);
	zc_msg_rx_free(mrx);
}

static void good_then(const void *bad, size_t len)
{
	S.len = 0;
	put_msg(&S, 1, 1, 100, 0);
	put_msg(&S, 2, 1, 100, 0);
	put_bytes(&S, bad, len);
}

static void for_view_sizes(uint32_t max, int nr_good, int err, int reason)
{
	static const size_t view_sizes[] = { 1, 3, 31, 32, 33, 100, 4096 };
	unsigned int i;

	for (i = 0; i < ZC__ARRAY_SIZE(view_sizes); i++)
		expect_stream_error(view_sizes[i], max, nr_good, err, reason);
}

static void test_stream_bad_magic(void **state)
{
	uint8_t h[ZC_MSG_HDR_LEN];

	good_header(h, 10);
	h[0] = 'X';
	good_then(h, sizeof(h));
	for_view_sizes(0, 2, -EBADMSG, ZC_MSG_ERR_MAGIC);
}

static void test_stream_bad_version(void **state)
{
	uint8_t h[ZC_MSG_HDR_LEN];

	good_header(h, 10);
	h[4] = 2;
	good_then(h, sizeof(h));
	for_view_sizes(0, 2, -EPROTONOSUPPORT, ZC_MSG_ERR_VERSION);
}

static void test_stream_unknown_flags(void **state)
{
	uint8_t h[ZC_MSG_HDR_LEN];

	good_header(h, 10);
	h[7] = 0x80;
	good_then(h, sizeof(h));
	for_view_sizes(0, 2, -EBADMSG, ZC_MSG_ERR_FLAGS);
}

static void test_stream_reserved(void **state)
{
	uint8_t h[ZC_MSG_HDR_LEN];

	good_header(h, 10);
	h[31] = 1;
	good_then(h, sizeof(h));
	for_view_sizes(0, 2, -EBADMSG, ZC_MSG_ERR_RESERVED);
}

/* Over max_payload: rejected at the header, before any payload byte is
 * awaited or any buffer allocated for it. */
static void test_stream_too_long(void **state)
{
	uint8_t h[ZC_MSG_HDR_LEN];

	good_header(h, 0xffffffffu);
	good_then(h, sizeof(h));
	for_view_sizes(1000, 2, -EMSGSIZE, ZC_MSG_ERR_TOO_LONG);
	good_header(h, 1001);
	good_then(h, sizeof(h));
	for_view_sizes(1000, 2, -EMSGSIZE, ZC_MSG_ERR_TOO_LONG);
}

static void test_stream_truncated_header(void **state)
{
	uint8_t h[ZC_MSG_HDR_LEN];
	size_t cut;

	good_header(h, 10);
	for (cut = 1; cut < ZC_MSG_HDR_LEN; cut++) {
		good_then(h, cut);
		for_view_sizes(0, 2, -EPROTO, ZC_MSG_ERR_TRUNCATED_HEADER);
	}
}

static void test_stream_truncated_payload(void **state)
{
	uint8_t h[ZC_MSG_HDR_LEN + 50];
	size_t cut;

	good_header(h, 50);
	memset(h + ZC_MSG_HDR_LEN, 0xab, 50);
	for (cut = ZC_MSG_HDR_LEN; cut < sizeof(h); cut += 7) {
		good_then(h, cut);
		for_view_sizes(0, 2, -EPROTO, ZC_MSG_ERR_TRUNCATED_PAYLOAD);
	}
	/* A payload long enough to be assembled, then cut. */
	S.len = 0;
	put_msg(&S, 1, 1, 100, 0);
	put_msg(&S, 2, 1, 100, 0);
	put_msg(&S, 3, 1, 500, 0);
	S.len -= 1;
	expect_stream_error(3, 0, 2, -EPROTO, ZC_MSG_ERR_TRUNCATED_PAYLOAD);
}

/* Random bytes where a header should be (and after a payload that is one
 * byte longer than its header says: the reader is out of step). */
static void test_stream_garbage(void **state)
{
	uint8_t junk[300];
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;
	size_t sizes[1], hdr2;
	int i, j, ret;

	srandom(2);
	for (i = 0; i < 200; i++) {
		for (j = 0; j < (int)sizeof(junk); j++)
			junk[j] = (uint8_t)random();
		S.len = 0;
		put_bytes(&S, junk, sizeof(junk));
		sizes[0] = 1 + (size_t)(random() % 64);
		fake_init(&f, S.buf, S.len, sizes, NULL, 1);
		mrx = reader(&f, 4096);
		ret = zc_msg_read(mrx, &m);
		assert_int_equal(ret, -EBADMSG);
		assert_int_equal(zc_msg_rx_error(mrx), ZC_MSG_ERR_MAGIC);
		assert_int_equal(f.out, 0);
		zc_msg_rx_free(mrx);
	}
	/* The second header says 101: its payload eats the third header's
	 * first byte, and the reader finds "CM1" + ... where a magic should
	 * be. */
	S.len = 0;
	put_msg(&S, 1, 1, 100, 0);
	hdr2 = S.len;
	put_msg(&S, 2, 1, 100, 0);
	S.buf[hdr2 + ZC__MSG_OFF_LEN] = 101;
	put_msg(&S, 3, 1, 100, 0);
	sizes[0] = 16;
	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	check_msg(&m, 1, 1, 100);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	assert_int_equal(m.hdr.len, 101);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(zc_msg_read(mrx, &m), -EBADMSG);
	assert_int_equal(zc_msg_rx_error(mrx), ZC_MSG_ERR_MAGIC);
	assert_int_equal(f.out, 0);
	zc_msg_rx_free(mrx);
}

/* A view that says it holds more bytes than it does is refused without
 * being read, and handed back. */
static void test_bad_view(void **state)
{
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;

	S.len = 0;
	put_msg(&S, 1, 1, 100, 0);
	fake_init(&f, S.buf, S.len, NULL, NULL, 0);
	f.corrupt_next = 1;
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), -EPROTO);
	assert_int_equal(zc_msg_rx_error(mrx), ZC_MSG_ERR_BAD_VIEW);
	assert_int_equal(f.out, 0);
	zc_msg_rx_free(mrx);
}

static void test_release_errors(void **state)
{
	static const size_t sizes[] = { 50 };
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m, copy, zero = { 0 };

	S.len = 0;
	put_msg(&S, 1, 1, 100, 0);
	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	copy = m;
	assert_int_equal(zc_msg_release(mrx, &zero), -EINVAL);
	assert_int_equal(zc_msg_release(NULL, &m), -EINVAL);
	assert_int_equal(zc_msg_release(mrx, NULL), -EINVAL);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(zc_msg_release(mrx, &m), -EINVAL); /* zeroed */
	/* A stale copy: its views went back, their generations moved. */
	assert_int_equal(zc_msg_release(mrx, &copy), -EINVAL);
	assert_int_equal(f.out, 0);
	zc_msg_rx_free(mrx);
}

/* Freeing the reader with messages held gives every view back and frees
 * assembled buffers (the leak checker of make SAN=1 watches). */
static void test_free_while_held(void **state)
{
	static const size_t sizes[] = { 10 };
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg a, b;

	S.len = 0;
	put_msg(&S, 1, 1, 20, 0);
	put_msg(&S, 2, 1, 300, 0);
	put_msg(&S, 3, 1, 300, 0);
	fake_init(&f, S.buf, S.len, sizes, NULL, 1);
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &a), 1);
	assert_int_equal(zc_msg_read(mrx, &b), 1);
	assert_int_equal(b.flags, ZC_MSG_ASSEMBLED);
	assert_int_equal(zc_msg_read(mrx, &b), 1); /* second assembled */
	assert_true(f.out > 0);
	zc_msg_rx_free(mrx);
	assert_int_equal(f.out, 0);
}

/* --- sender --------------------------------------------------------------- */

#define MAX_SENDS 64

struct sent_call {
	int flags;
	size_t len;
};

static struct {
	uint8_t out[1 << 17];
	size_t len;
	struct sent_call call[MAX_SENDS];
	int ncalls;
	size_t accept_max; /* accept at most this many bytes per call */
	int eagain_every;  /* every Nth call fails with EAGAIN */
	int fail_errno;	   /* every call fails with this */
	int zerocopy_on;   /* SO_ZEROCOPY as getsockopt reports it */
	int getsockopt_calls;
} W;

static ssize_t fake_sendmsg(int fd, const struct msghdr *mh, int flags)
{
	size_t want = 0, take, done = 0, k, n;

	assert_true(W.ncalls < MAX_SENDS);
	if (W.fail_errno) {
		errno = W.fail_errno;
		return -1;
	}
	if (W.eagain_every && (W.ncalls + 1) % W.eagain_every == 0) {
		W.call[W.ncalls].flags = -1;
		W.ncalls++;
		errno = EAGAIN;
		return -1;
	}
	for (k = 0; k < mh->msg_iovlen; k++)
		want += mh->msg_iov[k].iov_len;
	take = W.accept_max && W.accept_max < want ? W.accept_max : want;
	for (k = 0; k < mh->msg_iovlen && done < take; k++) {
		n = mh->msg_iov[k].iov_len;
		if (n > take - done)
			n = take - done;
		memcpy(W.out + W.len + done, mh->msg_iov[k].iov_base, n);
		done += n;
	}
	W.len += take;
	W.call[W.ncalls].flags = flags;
	W.call[W.ncalls].len = take;
	W.ncalls++;
	return (ssize_t)take;
}

static int fake_getsockopt(int fd, int level, int name, void *val,
			   socklen_t *len)
{
	W.getsockopt_calls++;
	assert_int_equal(level, SOL_SOCKET);
	assert_int_equal(name, SO_ZEROCOPY);
	*(int *)val = W.zerocopy_on;
	return 0;
}

static int sender_setup(void **state)
{
	memset(&W, 0, sizeof(W));
	zc__sys.sendmsg = fake_sendmsg;
	zc__sys.getsockopt = fake_getsockopt;
	return 0;
}

static int sender_teardown(void **state)
{
	zc__sys_reset();
	return 0;
}

static uint8_t payload[3][70000];

static void fill_payload(void)
{
	size_t i, k;

	for (k = 0; k < 3; k++)
		for (i = 0; i < sizeof(payload[k]); i++)
			payload[k][i] = pattern(k + 100, i);
}

/* What a sender wrote, read back by the reader: same message. */
static void check_wire(uint64_t id, uint32_t len, const uint8_t *p)
{
	struct zc_msg_hdr h;

	assert_int_equal(W.len, ZC_MSG_HDR_LEN + len);
	assert_int_equal(zc_msg_header_decode(W.out, W.len, &h, 0), 0);
	assert_int_equal(h.id, id);
	assert_int_equal(h.len, len);
	if (len)
		assert_memory_equal(W.out + ZC_MSG_HDR_LEN, p, len);
}

static void test_send_small_one_call(void **state)
{
	struct iovec iov = { payload[0], 4095 };
	struct zc_msg_out o = { .fd = 3,
				.hdr = { .id = 5, .len = 4095 },
				.iov = &iov,
				.iovcnt = 1,
				.flags = ZC_MSG_SEND_ZEROCOPY };

	fill_payload();
	assert_int_equal(zc_msg_send(&o), 0);
	assert_int_equal(W.ncalls, 1);
	/* Below a page: header and payload in one copy send. */
	assert_int_equal(W.call[0].flags, MSG_NOSIGNAL);
	assert_int_equal(o.sent, ZC_MSG_HDR_LEN + 4095);
	assert_int_equal(o.zerocopy_sends, 0);
	assert_int_equal(W.getsockopt_calls, 0);
	check_wire(5, 4095, payload[0]);
}

/* Exactly a page: the smallest payload that gets the aligned path. */
static void test_send_one_page(void **state)
{
	struct iovec iov = { payload[0], 4096 };
	struct zc_msg_out o = { .fd = 3,
				.hdr = { .id = 5, .len = 4096 },
				.iov = &iov,
				.iovcnt = 1 };

	fill_payload();
	assert_int_equal(sysconf(_SC_PAGESIZE), 4096);
	assert_int_equal(zc_msg_send(&o), 0);
	assert_int_equal(W.ncalls, 2);
	assert_int_equal(W.call[0].len, ZC_MSG_HDR_LEN);
	assert_int_equal(W.call[0].flags, MSG_EOR | MSG_MORE | MSG_NOSIGNAL);
	check_wire(5, 4096, payload[0]);
}

static void test_send_empty(void **state)
{
	struct zc_msg_out o = { .fd = 3, .hdr = { .id = 6 } };

	assert_int_equal(zc_msg_send(&o), 0);
	assert_int_equal(W.ncalls, 1);
	check_wire(6, 0, NULL);
	/* Sending a finished message again is a no-op. */
	assert_int_equal(zc_msg_send(&o), 0);
	assert_int_equal(W.ncalls, 1);
}

static void test_send_aligned(void **state)
{
	struct iovec iov[2] = { { payload[0], 3000 }, { payload[1], 5192 } };
	struct zc_msg_out o = { .fd = 3,
				.hdr = { .id = 7, .len = 8192 },
				.iov = iov,
				.iovcnt = 2 };
	uint8_t both[8192];

	fill_payload();
	memcpy(both, payload[0], 3000);
	memcpy(both + 3000, payload[1], 5192);
	assert_int_equal(zc_msg_send(&o), 0);
	assert_int_equal(W.ncalls, 2);
	/* The header alone, ending a record, held for the payload. */
	assert_int_equal(W.call[0].len, ZC_MSG_HDR_LEN);
	assert_int_equal(W.call[0].flags, MSG_EOR | MSG_MORE | MSG_NOSIGNAL);
	assert_int_equal(W.call[1].len, 8192);
	assert_int_equal(W.call[1].flags, MSG_NOSIGNAL);
	check_wire(7, 8192, both);
}

static void test_send_zerocopy(void **state)
{
	struct iovec iov = { payload[0], 65536 };
	struct zc_msg_out o = { .fd = 3,
				.hdr = { .id = 8, .len = 65536 },
				.iov = &iov,
				.iovcnt = 1,
				.flags = ZC_MSG_SEND_ZEROCOPY };

	fill_payload();
	/* SO_ZEROCOPY off: the kernel would ignore MSG_ZEROCOPY and never
	 * send a completion, so refuse. */
	assert_int_equal(zc_msg_send(&o), -EINVAL);
	assert_int_equal(W.ncalls, 0);
	W.zerocopy_on = 1;
	W.accept_max = 30000;
	assert_int_equal(zc_msg_send(&o), 0);
	assert_int_equal(W.ncalls, 1 + 3);
	assert_int_equal(W.call[0].flags, MSG_EOR | MSG_MORE | MSG_NOSIGNAL);
	assert_int_equal(W.call[1].flags, MSG_ZEROCOPY | MSG_NOSIGNAL);
	assert_int_equal(W.call[3].flags, MSG_ZEROCOPY | MSG_NOSIGNAL);
	assert_int_equal(o.zerocopy_sends, 3);
	check_wire(8, 65536, payload[0]);
}

/* Short writes and EAGAIN everywhere, the header included: resuming from
 * out->sent writes the stream exactly once. */
static void test_send_resume(void **state)
{
	struct iovec iov[3] = { { payload[0], 1 },
				{ payload[1], 0 },
				{ payload[2], 9999 } };
	struct zc_msg_out o = { .fd = 3,
				.hdr = { .id = 9, .len = 10000 },
				.iov = iov,
				.iovcnt = 3 };
	uint8_t all[10000];
	int ret, eagains = 0;

	fill_payload();
	all[0] = payload[0][0];
	memcpy(all + 1, payload[2], 9999);
	W.accept_max = 7;
	W.eagain_every = 3;
	while ((ret = zc_msg_send(&o)) == -EAGAIN)
		eagains++, W.ncalls = 0;
	assert_int_equal(ret, 0);
	assert_true(eagains > 0);
	check_wire(9, 10000, all);
}

static void test_send_errors(void **state)
{
	struct iovec iov = { payload[0], 100 };
	struct zc_msg_out o = { .fd = 3,
				.hdr = { .id = 1, .len = 100 },
				.iov = &iov,
				.iovcnt = 1 };

	assert_int_equal(zc_msg_send(NULL), -EINVAL);
	o.hdr.len = 99; /* does not match the iovec */
	assert_int_equal(zc_msg_send(&o), -EINVAL);
	o.hdr.len = 100;
	o.hdr.flags = 1u << 9;
	assert_int_equal(zc_msg_send(&o), -EINVAL);
	o.hdr.flags = 0;
	o.flags = 1u << 7;
	assert_int_equal(zc_msg_send(&o), -EINVAL);
	o.flags = 0;
	o.reserved[0] = 1;
	assert_int_equal(zc_msg_send(&o), -EINVAL);
	o.reserved[0] = 0;
	o.iovcnt = ZC_MSG_MAX_IOV + 1;
	assert_int_equal(zc_msg_send(&o), -EINVAL);
	o.iovcnt = 1;
	o.fd = -1;
	assert_int_equal(zc_msg_send(&o), -EINVAL);
	o.fd = 3;
	o.sent = 1000;
	assert_int_equal(zc_msg_send(&o), -EINVAL);
	o.sent = 0;
	assert_int_equal(W.ncalls, 0);
	W.fail_errno = EPIPE;
	assert_int_equal(zc_msg_send(&o), -EPIPE);
	assert_int_equal(o.sent, 0);
}

/* A payload writer (how a struct zc_tx plugs in) gets the payload bytes;
 * the header still goes to the socket first. */
struct writer {
	uint8_t buf[70000];
	size_t len;
	int calls;
	uint64_t user_data;
};

static ssize_t write_some(void *ctx, const void *buf, size_t len,
			  uint64_t user_data)
{
	struct writer *w = ctx;

	if (++w->calls % 4 == 0)
		return -EAGAIN;
	if (len > 1000)
		len = 1000;
	memcpy(w->buf + w->len, buf, len);
	w->len += len;
	w->user_data = user_data;
	return (ssize_t)len;
}

static void test_send_payload_fn(void **state)
{
	static struct writer w;
	struct iovec iov = { payload[1], 20000 };
	struct zc_msg_out o = { .fd = 3,
				.hdr = { .id = 2, .len = 20000 },
				.iov = &iov,
				.iovcnt = 1,
				.payload_fn = write_some,
				.payload_ctx = &w,
				.user_data = 77 };
	int ret;

	fill_payload();
	while ((ret = zc_msg_send(&o)) == -EAGAIN)
		;
	assert_int_equal(ret, 0);
	assert_int_equal(W.ncalls, 1);
	assert_int_equal(W.len, ZC_MSG_HDR_LEN);
	assert_int_equal(w.len, 20000);
	assert_memory_equal(w.buf, payload[1], 20000);
	assert_int_equal(w.user_data, 77);
}

/* A short payload with a payload writer: the writer still gets it, the
 * header goes alone, held for it (MSG_MORE) but not ending a record. */
static void test_send_payload_fn_small(void **state)
{
	static struct writer w;
	struct iovec iov[2] = { { payload[0], 10 }, { payload[1], 20 } };
	struct zc_msg_out o = { .fd = 3,
				.hdr = { .id = 3, .len = 30 },
				.iov = iov,
				.iovcnt = 2,
				.payload_fn = write_some,
				.payload_ctx = &w,
				.user_data = 5 };

	fill_payload();
	memset(&w, 0, sizeof(w));
	assert_int_equal(zc_msg_send(&o), 0);
	assert_int_equal(W.ncalls, 1);
	assert_int_equal(W.call[0].flags, MSG_MORE | MSG_NOSIGNAL);
	assert_int_equal(W.len, ZC_MSG_HDR_LEN);
	assert_int_equal(w.calls, 2);
	assert_int_equal(w.len, 30);
	assert_memory_equal(w.buf, payload[0], 10);
	assert_memory_equal(w.buf + 10, payload[1], 20);

	/* Nothing follows an empty payload: no MSG_MORE. */
	memset(&w, 0, sizeof(w));
	memset(&o, 0, sizeof(o));
	o.fd = 3;
	o.payload_fn = write_some;
	o.payload_ctx = &w;
	assert_int_equal(zc_msg_send(&o), 0);
	assert_int_equal(W.call[1].flags, MSG_NOSIGNAL);
	assert_int_equal(w.calls, 0);
}

/* The sender's bytes, read back through the reader in odd-sized views. */
static void test_send_then_read(void **state)
{
	static const size_t sizes[] = { 4097, 13 };
	struct iovec iov = { payload[2], 50000 };
	struct zc_msg_out o = { .fd = 3,
				.hdr = { .id = 102,
					 .type = 4,
					 .len = 50000,
					 .flags = ZC_MSG_F_REPLY },
				.iov = &iov,
				.iovcnt = 1 };
	struct fake_src f;
	struct zc_msg_rx *mrx;
	struct zc_msg m;

	fill_payload();
	assert_int_equal(zc_msg_send(&o), 0);
	fake_init(&f, W.out, W.len, sizes, NULL, 2);
	mrx = reader(&f, 0);
	assert_int_equal(zc_msg_read(mrx, &m), 1);
	check_msg(&m, 102, 4, 50000);
	assert_int_equal(m.hdr.flags, ZC_MSG_F_REPLY);
	assert_int_equal(zc_msg_release(mrx, &m), 0);
	assert_int_equal(zc_msg_read(mrx, &m), 0);
	zc_msg_rx_free(mrx);
	assert_int_equal(f.out, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_layout),
		cmocka_unit_test(test_header_encode_rejects),
		cmocka_unit_test(test_header_truncated),
		cmocka_unit_test(test_header_bad_magic),
		cmocka_unit_test(test_header_bad_version),
		cmocka_unit_test(test_header_unknown_flags),
		cmocka_unit_test(test_header_reserved),
		cmocka_unit_test(test_header_too_long),
		cmocka_unit_test(test_header_garbage),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_one_view_shared),
		cmocka_unit_test(test_view_spanning_a_first),
		cmocka_unit_test(test_view_spanning_b_first),
		cmocka_unit_test(test_mapped_and_copied),
		cmocka_unit_test(test_tiny_views),
		cmocka_unit_test(test_compact_for_view),
		cmocka_unit_test(test_compact_for_piece),
		cmocka_unit_test(test_rcvlowat),
		cmocka_unit_test(test_enobufs_assembles),
		cmocka_unit_test(test_enobufs_caller_holds),
		cmocka_unit_test(test_eagain_resumes),
		cmocka_unit_test(test_source_error),
		cmocka_unit_test(test_stream_bad_magic),
		cmocka_unit_test(test_stream_bad_version),
		cmocka_unit_test(test_stream_unknown_flags),
		cmocka_unit_test(test_stream_reserved),
		cmocka_unit_test(test_stream_too_long),
		cmocka_unit_test(test_stream_truncated_header),
		cmocka_unit_test(test_stream_truncated_payload),
		cmocka_unit_test(test_stream_garbage),
		cmocka_unit_test(test_bad_view),
		cmocka_unit_test(test_release_errors),
		cmocka_unit_test(test_free_while_held),
		cmocka_unit_test_setup_teardown(test_send_small_one_call,
						sender_setup, sender_teardown),
		cmocka_unit_test_setup_teardown(test_send_one_page,
						sender_setup, sender_teardown),
		cmocka_unit_test_setup_teardown(test_send_empty, sender_setup,
						sender_teardown),
		cmocka_unit_test_setup_teardown(test_send_aligned, sender_setup,
						sender_teardown),
		cmocka_unit_test_setup_teardown(test_send_zerocopy,
						sender_setup, sender_teardown),
		cmocka_unit_test_setup_teardown(test_send_resume, sender_setup,
						sender_teardown),
		cmocka_unit_test_setup_teardown(test_send_errors, sender_setup,
						sender_teardown),
		cmocka_unit_test_setup_teardown(test_send_payload_fn,
						sender_setup, sender_teardown),
		cmocka_unit_test_setup_teardown(test_send_payload_fn_small,
						sender_setup, sender_teardown),
		cmocka_unit_test_setup_teardown(test_send_then_read,
						sender_setup, sender_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
