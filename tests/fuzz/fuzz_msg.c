/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the message reader (src/msg.c): run by
 * tests/fuzz/run.sh, which builds it with ASan + UBSan.
 *
 * Input: a 12-byte configuration, then the byte stream.
 *   c[0]     max_payload = 16 * (1 + c[0] % 64): 16..1024 bytes
 *   c[1]     views the source lends at once = 1 + c[1] % 8; messages the
 *            caller keeps before releasing one = (c[1] >> 3) % 8
 *   c[2]     every (c[2] % 8)th read says -EAGAIN (0, 1: never)
 *   c[3..10] four (size, mapped) pairs, cycled: a view of 1 + size bytes
 *            whose first size * mapped / 255 are "mapped"
 *   c[11]    bit 0: release the newest kept message first, not the oldest
 *
 * The stream is cut into views by those sizes, each part a heap block of
 * exactly its size, and read through the whole reader (reassembly,
 * reference counts, assembly fallbacks). Checks, besides the sanitizers:
 *  - the messages and the final result (clean end or which error) are
 *    exactly those of a plain sequential decode of the whole buffer;
 *  - every payload byte equals the stream byte it came from, and
 *    mapped_len counts exactly the bytes that lie in mapped parts;
 *  - -ENOBUFS only while the caller holds messages;
 *  - at the end every view is back with the source and nothing leaks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

#define CONFIG_LEN 12
#define MAX_VIEWS  8
#define MAX_KEEP   8

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			__builtin_trap();                                      \
	} while (0)

struct part {
	uint8_t *mapped, *copied;
	size_t mapped_len, copied_len;
	uint32_t generation;
	int out;
};

struct source {
	const uint8_t *data;
	size_t len, pos;
	size_t size[4], mapped[4];
	unsigned int next;
	uint32_t max_out, out;
	unsigned int eagain_every, tick;
	int eof; /* like zc_rx: once the end was seen, always 0 */
	struct part p[MAX_VIEWS];
};

static ssize_t src_read(void *ctx, struct zc_view *v)
{
	struct source *s = ctx;
	struct part *p = NULL;
	size_t n, m;
	unsigned int i;

	if (s->eof)
		return 0;
	if (s->eagain_every > 1 && ++s->tick % s->eagain_every == 0)
		return -EAGAIN;
	if (s->out >= s->max_out)
		return -ENOBUFS;
	if (s->pos == s->len) {
		s->eof = 1;
		return 0;
	}
	for (i = 0; i < MAX_VIEWS; i++)
		if (!s->p[i].out) {
			p = &s->p[i];
			break;
		}
	CHECK(p);
	n = s->size[s->next % 4];
	m = s->mapped[s->next % 4];
	s->next++;
	if (n > s->len - s->pos)
		n = s->len - s->pos;
	if (m > n)
		m = n;
	p->mapped = m ? malloc(m) : NULL;
	p->copied = n - m ? malloc(n - m) : NULL;
	CHECK((!m || p->mapped) && (n == m || p->copied));
	if (m)
		memcpy(p->mapped, s->data + s->pos, m);
	if (n - m)
		memcpy(p->copied, s->data + s->pos + m, n - m);
	p->mapped_len = m;
	p->copied_len = n - m;
	p->out = 1;
	p->generation++;
	s->pos += n;
	s->out++;
	memset(v, 0, sizeof(*v));
	v->mapped = p->mapped;
	v->mapped_len = m;
	v->copied = p->copied;
	v->copied_len = n - m;
	v->len = n;
	v->slot = (uint32_t)(p - s->p);
	v->generation = p->generation;
	return (ssize_t)n;
}

static int src_release(void *ctx, struct zc_view *v)
{
	struct source *s = ctx;
	struct part *p;

	CHECK(v->slot < MAX_VIEWS);
	p = &s->p[v->slot];
	CHECK(p->out && p->generation == v->generation);
	free(p->mapped);
	free(p->copied);
	p->mapped = p->copied = NULL;
	p->out = 0;
	s->out--;
	return 0;
}

/* Bytes of [b, b + len) that lie in some view's mapped part. */
static size_t mapped_bytes(const struct source *s, const uint8_t *b, size_t len)
{
	unsigned int i;

	for (i = 0; i < MAX_VIEWS; i++) {
		const struct part *p = &s->p[i];

		if (p->out && p->mapped && b >= p->mapped &&
		    b < p->mapped + p->mapped_len) {
			CHECK(b + len <= p->mapped + p->mapped_len);
			return len;
		}
	}
	return 0;
}

/* The reference: decode the whole buffer in one piece. Returns the next
 * message's payload offset in *off and its header, 1; or 0 at a clean
 * end; or -errno with *reason. */
static int ref_next(const uint8_t *d, size_t len, size_t *pos, uint32_t max,
		    struct zc_msg_hdr *h, size_t *off, int *reason)
{
	size_t left = len - *pos;
	int ret;

	*reason = ZC_MSG_ERR_NONE;
	if (!left)
		return 0;
	if (left < ZC_MSG_HDR_LEN) {
		*reason = ZC_MSG_ERR_TRUNCATED_HEADER;
		return -EPROTO;
	}
	ret = zc__msg_parse_header(d + *pos, left, h, max, reason);
	if (ret)
		return ret;
	if (left - ZC_MSG_HDR_LEN < h->len) {
		*reason = ZC_MSG_ERR_TRUNCATED_PAYLOAD;
		return -EPROTO;
	}
	*off = *pos + ZC_MSG_HDR_LEN;
	*pos = *off + h->len;
	return 1;
}

static void check_msg(const struct source *s, const struct zc_msg *m,
		      const struct zc_msg_hdr *want, const uint8_t *payload)
{
	size_t done = 0, mapped = 0;
	uint32_t k;

	CHECK(m->hdr.id == want->id && m->hdr.type == want->type &&
	      m->hdr.len == want->len && m->hdr.flags == want->flags);
	CHECK(m->nsegs <= ZC_MSG_MAX_SEGS);
	CHECK(m->hdr.len || !m->nsegs);
	for (k = 0; k < m->nsegs; k++) {
		const uint8_t *b = m->seg[k].iov_base;
		size_t n = m->seg[k].iov_len;

		CHECK(n > 0 && done + n <= m->hdr.len);
		CHECK(!memcmp(b, payload + done, n));
		mapped += mapped_bytes(s, b, n);
		done += n;
	}
	CHECK(done == m->hdr.len);
	CHECK(mapped == m->mapped_len);
	CHECK(m->nviews <= m->nsegs);
	CHECK(!(m->flags & ZC_MSG_ASSEMBLED) == !m->buf);
}

struct kept {
	struct zc_msg m;
	struct zc_msg_hdr want;
	size_t off;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct source s;
	struct zc__msg_source zs = { .read = src_read,
				     .release = src_release,
				     .ctx = &s };
	struct zc_msg_rx_opts o = { 0 };
	struct kept keep[MAX_KEEP];
	struct zc_msg m;
	struct zc_msg_rx_stats st;
	struct zc_msg_hdr want;
	struct zc_msg_rx *mrx;
	unsigned int nkeep = 0, keep_max, newest_first, i;
	size_t pos = 0, off = 0;
	uint64_t msgs = 0, bytes = 0, guard = 0;
	int ret, exp, reason;

	if (size < CONFIG_LEN)
		return 0;
	memset(&s, 0, sizeof(s));
	o.max_payload = 16u * (1 + data[0] % 64);
	s.max_out = 1 + data[1] % 8;
	keep_max = (data[1] >> 3) % 8;
	s.eagain_every = data[2] % 8;
	for (i = 0; i < 4; i++) {
		s.size[i] = 1 + (size_t)data[3 + 2 * i];
		s.mapped[i] = s.size[i] * data[4 + 2 * i] / 255;
	}
	newest_first = data[11] & 1;
	s.data = data + CONFIG_LEN;
	s.len = size - CONFIG_LEN;
	zs.max_views = s.max_out;
	CHECK(zc__msg_rx_create_source(&mrx, &zs, &o) == 0);

	for (;;) {
		CHECK(++guard < 10000000);
		ret = zc_msg_read(mrx, &m);
		if (ret == -EAGAIN)
			continue;
		if (ret == -ENOBUFS) {
			/* Only messages the caller keeps may pin views. */
			CHECK(nkeep > 0);
			i = newest_first ? nkeep - 1 : 0;
			CHECK(zc_msg_release(mrx, &keep[i].m) == 0);
			memmove(&keep[i], &keep[i + 1],
				(nkeep - i - 1) * sizeof(keep[0]));
			nkeep--;
			continue;
		}
		exp = ref_next(s.data, s.len, &pos, o.max_payload, &want, &off,
			       &reason);
		CHECK(ret == exp);
		if (ret <= 0) {
			CHECK(zc_msg_rx_error(mrx) == reason);
			/* Sticky. */
			CHECK(zc_msg_read(mrx, &m) == ret);
			break;
		}
		check_msg(&s, &m, &want, s.data + off);
		/* Messages kept across reads still show their bytes: no
		 * view they use went back early. */
		for (i = 0; i < nkeep; i++)
			check_msg(&s, &keep[i].m, &keep[i].want,
				  s.data + keep[i].off);
		msgs++;
		bytes += m.hdr.len;
		if (nkeep == keep_max || nkeep == MAX_KEEP) {
			CHECK(zc_msg_release(mrx, &m) == 0);
			/* A released message cannot be released again. */
			CHECK(zc_msg_release(mrx, &m) == -EINVAL);
		} else {
			keep[nkeep].m = m;
			keep[nkeep].want = want;
			keep[nkeep].off = off;
			nkeep++;
		}
	}
	zc_msg_rx_get_stats(mrx, &st);
	CHECK(st.messages == msgs && st.payload_bytes == bytes);
	CHECK(st.bytes_mapped + st.bytes_assembled <= st.payload_bytes);
	/* Kept messages are still whole after the end or the error. */
	for (i = 0; i < nkeep; i++) {
		check_msg(&s, &keep[i].m, &keep[i].want, s.data + keep[i].off);
		CHECK(zc_msg_release(mrx, &keep[i].m) == 0);
	}
	/* Nothing left to parse, nothing held: every view is back. */
	CHECK(s.out == 0);
	CHECK(zc__msg_rx_views_held(mrx) == 0);
	zc_msg_rx_free(mrx);
	return 0;
}
