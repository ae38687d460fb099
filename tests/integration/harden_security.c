/* SPDX-License-Identifier: MIT */
/*
 * harden_security: what zcnet promises about the memory it hands out and
 * about bad arguments, checked from outside through the public API.
 *
 *  1. Read-only: a view's mapped pages (own window and pool) and the
 *     mapped pieces of a message lie in a read-only shared mapping; in a
 *     forked child, mprotect() cannot make them writable and a write dies
 *     by SIGSEGV, and the parent still sees the right bytes afterwards.
 *  2. Bad arguments: every public function that takes a handle, an
 *     out-parameter, flags, reserved fields or sizes, against what
 *     zcnet.h documents (-EINVAL for NULL handles and out-params, unknown
 *     flags, non-zero reserved fields, misaligned or oversized sizes,
 *     zero-length sends, views and messages not held by the handle given;
 *     *out NULL after a failed create).
 *  3. Isolation: two connections share a pool of two slots, so each slot
 *     alternately holds A's and B's pages; in every zap mode, with sizes
 *     that grow and shrink (a slot that held 16 mapped pages of A then
 *     gets 2 of B, or copied bytes only), every byte of every view must be
 *     its own connection's, and a released view of A is refused by A and B.
 *
 * Runs in a namespace the script made (loopback, MSS 4108, MSG_ZEROCOPY
 * senders, so pages are mappable). Prints each failure; exit 0 when every
 * check passed, 1 otherwise, 77 when the kernel has no receive zero-copy
 * (the read-only and isolation checks need mapped pages).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zcnet.h"
#include "harden_util.h"

#define PAGE 4096u

static bool have_uring_zc;

/* --- helpers -------------------------------------------------------------- */

/* Sends len bytes of buf with MSG_ZEROCOPY (SO_ZEROCOPY on); buf must not
 * change until the notifications come, so callers pass memory they never
 * write again. Completions are drained and dropped as they come. */
static void send_zc(int fd, const uint8_t *buf, size_t len)
{
	char control[128];
	struct msghdr msg = { .msg_control = control };
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_ZEROCOPY);
		if (n < 0 && errno == ENOBUFS)
			n = send(fd, buf + off, len - off, 0);
		if (n < 0)
			harden_die("send");
		off += (size_t)n;
		do
			msg.msg_controllen = sizeof(control);
		while (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0);
	}
}

static int zc_sender(int fd)
{
	int one = 1;

	return setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
}

/* The permissions /proc/self/maps gives the mapping holding addr
 * ("r--s"), or "" when none does. */
static const char *perms_of(const void *addr, char out[8])
{
	uintptr_t a = (uintptr_t)addr, lo, hi;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	out[0] = 0;
	if (!f)
		return out;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, out) == 3 &&
		    a >= lo && a < hi)
			break;
		out[0] = 0;
	}
	fclose(f);
	return out;
}

/*
 * Forks a child that reads addr (must be `want`), tries mprotect(PROT_WRITE)
 * on its page (must fail: tcp_mmap clears VM_MAYWRITE), then writes it
 * (must die by SIGSEGV). Returns true when all of that happened.
 */
static bool write_faults(const uint8_t *addr, uint8_t want, const char *what)
{
	void *page = (void *)((uintptr_t)addr & ~(uintptr_t)(PAGE - 1));
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		harden_die("fork");
	if (pid == 0) {
		volatile uint8_t *p = (volatile uint8_t *)addr;

		signal(SIGSEGV, SIG_DFL);
		if (*p != want)
			_exit(3);
		if (!mprotect(page, PAGE, PROT_READ | PROT_WRITE))
			_exit(4);
		*p = (uint8_t)~want;
		_exit(5);
	}
	if (waitpid(pid, &status, 0) != pid)
		harden_die("waitpid");
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	      "%s: child %s", what,
	      WIFEXITED(status) && WEXITSTATUS(status) == 3
		      ? "read a wrong byte"
	      : WIFEXITED(status) && WEXITSTATUS(status) == 4
		      ? "made the page writable with mprotect"
	      : WIFEXITED(status) && WEXITSTATUS(status) == 5
		      ? "wrote to a mapped page without a fault"
		      : "ended another way");
	CHECK(*addr == want, "%s: byte changed after the child's write", what);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

/* Reads views until one has mapped bytes, checking each against the
 * stream; returns it held (others are released), or mapped_len 0. */
static void read_mapped_view(struct zc_rx *rx, struct zc_view *v,
			     uint64_t stream, uint64_t *off, const char *what)
{
	ssize_t n;

	for (;;) {
		n = zc_rx_read(rx, v);
		if (n <= 0) {
			CHECK(0, "%s: no mapped view came (read %zd)", what, n);
			memset(v, 0, sizeof(*v));
			return;
		}
		CHECK(harden_verify(v->mapped, v->mapped_len, stream, *off) ==
				      v->mapped_len &&
			      harden_verify(v->copied, v->copied_len, stream,
					    *off + v->mapped_len) ==
				      v->copied_len,
		      "%s: view bytes", what);
		if (v->mapped_len) {
			*off += (uint64_t)n;
			return;
		}
		*off += (uint64_t)n;
		zc_rx_release(rx, v);
	}
}

/* --- 1. read-only --------------------------------------------------------- */

static uint8_t ro_buf[2][256u << 10];

static void readonly_views(bool use_pool)
{
	const char *what =
		use_pool ? "read-only, pool" : "read-only, own window";
	struct zc_rx_pool *pool = NULL;
	struct zc_rx_opts o = { .mode = ZC_RX_ZEROCOPY };
	struct zc_rx *rx = NULL;
	struct zc_view v;
	uint64_t off = 0;
	char perms[8];
	int fds[2];

	if (harden_tcp_pair(fds, AF_INET, HARDEN_MSS) || zc_sender(fds[1]))
		harden_die("pair");
	if (use_pool) {
		struct zc_rx_pool_opts po = { .slot_size = 64u << 10,
					      .slots = 4 };

		CHECK_EQ(zc_rx_pool_create(&pool, &po), 0, what);
		o.pool = pool;
	} else {
		o.slot_size = 64u << 10;
	}
	CHECK_EQ(zc_rx_create(&rx, fds[0], &o), 0, what);
	if (!rx)
		goto out;
	harden_fill(ro_buf[use_pool], sizeof(ro_buf[0]), 100 + use_pool, 0);
	send_zc(fds[1], ro_buf[use_pool], sizeof(ro_buf[0]));
	read_mapped_view(rx, &v, 100 + use_pool, &off, what);
	if (v.mapped_len) {
		CHECK(!strcmp(perms_of(v.mapped, perms), "r--s"),
		      "%s: the mapping holding a view is '%s', want r--s", what,
		      perms);
		CHECK(((uintptr_t)v.mapped & (PAGE - 1)) == 0,
		      "%s: mapped bytes not page-aligned", what);
		write_faults(v.mapped, v.mapped[0], what);
		write_faults(v.mapped + v.mapped_len - 1,
			     v.mapped[v.mapped_len - 1], what);
		CHECK_EQ(zc_rx_release(rx, &v), 0, "release after the fault");
	}
	zc_rx_free(rx);
out:
	if (pool)
		CHECK_EQ(zc_rx_pool_free(pool), 0, "zc_rx_pool_free");
	close(fds[0]);
	close(fds[1]);
}

static uint8_t msg_payload[64u << 10];

static void readonly_messages(void)
{
	struct zc_rx_opts o = { .mode = ZC_RX_ZEROCOPY,
				.copybuf_size = 16u << 10 };
	struct iovec iov = { msg_payload, sizeof(msg_payload) };
	struct zc_msg_out out = { 0 };
	struct zc_msg_rx *mrx = NULL;
	struct zc_rx *rx = NULL;
	struct zc_msg m;
	uint32_t s, faulted = 0;
	char perms[8];
	int fds[2], ret;

	if (harden_tcp_pair(fds, AF_INET6, HARDEN_MSS) || zc_sender(fds[1]))
		harden_die("pair");
	CHECK_EQ(zc_rx_create(&rx, fds[0], &o), 0, "message rx");
	if (rx)
		CHECK_EQ(zc_msg_rx_create(&mrx, rx, NULL), 0, "zc_msg_rx");
	if (!mrx)
		goto out;
	harden_fill(msg_payload, sizeof(msg_payload), 200, 0);
	out.fd = fds[1];
	out.flags = ZC_MSG_SEND_ZEROCOPY;
	out.hdr.len = sizeof(msg_payload);
	out.hdr.id = 1;
	out.iov = &iov;
	out.iovcnt = 1;
	CHECK_EQ(zc_msg_send(&out), 0, "zc_msg_send");
	ret = zc_msg_read(mrx, &m);
	CHECK_EQ(ret, 1, "zc_msg_read");
	if (ret != 1)
		goto out;
	CHECK(m.mapped_len > 0, "read-only, message: no payload byte mapped");
	for (s = 0; s < m.nsegs; s++) {
		const uint8_t *p = m.seg[s].iov_base;

		if (strcmp(perms_of(p, perms), "r--s"))
			continue;
		faulted += write_faults(p, p[0], "read-only, message piece");
	}
	CHECK(!m.mapped_len || faulted,
	      "read-only, message: %zu bytes mapped, but no piece lies in a "
	      "read-only shared mapping",
	      m.mapped_len);
	CHECK_EQ(zc_msg_release(mrx, &m), 0, "zc_msg_release");
out:
	zc_msg_rx_free(mrx);
	zc_rx_free(rx);
	close(fds[0]);
	close(fds[1]);
}

/* --- 2. bad arguments ----------------------------------------------------- */

#define NOT_NULL ((void *)&harden_checks)

static void bad_probe(void)
{
	CHECK_EQ(zc_probe(NULL), -EINVAL, "zc_probe(NULL)");
	CHECK(zc_probe_feature_name(0) == NULL, "feature name of 0");
	CHECK(zc_probe_feature_name(3) == NULL, "feature name of two bits");
	CHECK(zc_probe_feature_name(1u << 31) == NULL,
	      "feature name of an unknown bit");
	CHECK(zc_version() && !strcmp(zc_version(), "0.1.0"), "zc_version");
}

static void bad_rx(int fd, int other_fd)
{
	struct zc_rx_opts o;
	struct zc_rx_pool_opts po;
	struct zc_rx_pool *pool = NOT_NULL, *p2 = NULL;
	struct zc_rx *rx = NOT_NULL, *rx2 = NULL, *rx3 = NULL;
	struct zc_rx_stats st;
	struct zc_view v = { 0 };
	unsigned int i;

	/* zc_rx_create */
	CHECK_EQ(zc_rx_create(NULL, fd, NULL), -EINVAL, "rx create NULL rxp");
	memset(&o, 0, sizeof(o));
	o.slot_size = PAGE + 512;
	CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx misaligned slot");
	CHECK(rx == NULL, "*rxp not NULL after a failed create");
	for (i = 0; i < 32; i++) {
		if ((1u << i) & ZC_RX_F_ALL)
			continue;
		memset(&o, 0, sizeof(o));
		o.flags = 1u << i;
		CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx unknown flag");
	}
	for (i = 0; i < sizeof(o.reserved) / sizeof(o.reserved[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.reserved[i] = 0x80000000u;
		CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx reserved");
	}
	memset(&o, 0, sizeof(o));
	o.mode = 3;
	CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx mode 3");
	o.mode = UINT32_MAX;
	CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx mode -1");
	memset(&o, 0, sizeof(o));
	o.zap = 4;
	CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx zap 4");
	memset(&o, 0, sizeof(o));
	o.slot_size = 1;
	CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx slot_size 1");
	o.slot_size = UINT32_MAX & ~(PAGE - 1);
	CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx slot_size 4 GiB");
	memset(&o, 0, sizeof(o));
	o.slots = UINT32_MAX;
	CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx slots 2^32-1");
	memset(&o, 0, sizeof(o));
	o.copybuf_size = UINT32_MAX;
	CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL, "rx copybuf 4 GiB");
	CHECK_EQ(zc_rx_create(&rx, -1, NULL), -EINVAL, "rx fd -1");
	CHECK(rx == NULL, "*rxp not NULL after a failed create");

	/* zc_rx_pool_create / free */
	CHECK_EQ(zc_rx_pool_create(NULL, NULL), -EINVAL, "pool NULL poolp");
	memset(&po, 0, sizeof(po));
	po.slot_size = PAGE * 3 + 1;
	CHECK_EQ(zc_rx_pool_create(&pool, &po), -EINVAL, "pool misaligned");
	CHECK(pool == NULL, "*poolp not NULL after a failed create");
	for (i = 0; i < sizeof(po.reserved) / sizeof(po.reserved[0]); i++) {
		memset(&po, 0, sizeof(po));
		po.reserved[i] = 1;
		CHECK_EQ(zc_rx_pool_create(&pool, &po), -EINVAL,
			 "pool reserved");
	}
	memset(&po, 0, sizeof(po));
	po.zap = 4;
	CHECK_EQ(zc_rx_pool_create(&pool, &po), -EINVAL, "pool zap 4");
	memset(&po, 0, sizeof(po));
	po.slots = UINT32_MAX;
	CHECK_EQ(zc_rx_pool_create(&pool, &po), -EINVAL, "pool slots 2^32-1");
	memset(&po, 0, sizeof(po));
	po.copybuf_size = UINT32_MAX;
	CHECK_EQ(zc_rx_pool_create(&pool, &po), -EINVAL, "pool copybuf");
	CHECK_EQ(zc_rx_pool_free(NULL), 0, "zc_rx_pool_free(NULL)");

	/* A pool decides slot_size, copybuf_size and zap (zcnet.h). */
	memset(&po, 0, sizeof(po));
	po.slot_size = 64u << 10;
	po.slots = 4;
	CHECK_EQ(zc_rx_pool_create(&p2, &po), 0, "pool");
	if (p2) {
		memset(&o, 0, sizeof(o));
		o.pool = p2;
		o.slot_size = PAGE;
		CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL,
			 "rx on a pool with slot_size");
		o.slot_size = 0;
		o.copybuf_size = PAGE;
		CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL,
			 "rx on a pool with copybuf_size");
		o.copybuf_size = 0;
		o.zap = ZC_RX_ZAP_EACH;
		CHECK_EQ(zc_rx_create(&rx, fd, &o), -EINVAL,
			 "rx on a pool with zap");
		o.zap = 0;
		CHECK_EQ(zc_rx_create(&rx2, fd, &o), 0, "rx on a pool");
		CHECK_EQ(zc_rx_create(&rx3, other_fd, &o), 0, "rx on a pool");
		CHECK_EQ(zc_rx_pool_free(p2), -EBUSY, "pool in use");
	}

	/* Handle calls */
	CHECK_EQ(zc_rx_read(NULL, &v), -EINVAL, "zc_rx_read(NULL)");
	CHECK_EQ(zc_rx_release(NULL, &v), -EINVAL, "zc_rx_release(NULL)");
	CHECK_EQ(zc_rx_wait(NULL, 0), -EINVAL, "zc_rx_wait(NULL)");
	CHECK_EQ(zc_rx_mode(NULL), -EINVAL, "zc_rx_mode(NULL)");
	zc_rx_get_stats(NULL, &st);
	zc_rx_free(NULL);
	if (rx2) {
		CHECK_EQ(zc_rx_read(rx2, NULL), -EINVAL,
			 "zc_rx_read NULL view");
		CHECK_EQ(zc_rx_release(rx2, NULL), -EINVAL,
			 "zc_rx_release NULL view");
		zc_rx_get_stats(rx2, NULL);
		/* Views that were never handed out. */
		memset(&v, 0, sizeof(v));
		CHECK_EQ(zc_rx_release(rx2, &v), -EINVAL, "release zero view");
		v.slot = UINT32_MAX;
		CHECK_EQ(zc_rx_release(rx2, &v), -EINVAL,
			 "release slot 2^32-1");
		v.slot = 1;
		v.generation = 12345;
		CHECK_EQ(zc_rx_release(rx2, &v), -EINVAL,
			 "release forged view");
	}
	zc_rx_free(rx2);
	zc_rx_free(rx3);
	CHECK_EQ(zc_rx_pool_free(p2), 0, "pool free after its handles");

	CHECK(zc_rx_mode_name(-1) == NULL && zc_rx_mode_name(3) == NULL,
	      "mode names out of range");
	CHECK(zc_rx_zap_name(-1) == NULL && zc_rx_zap_name(4) == NULL,
	      "zap names out of range");
	CHECK_EQ(zc_rx_mode_parse(NULL), -EINVAL, "zc_rx_mode_parse(NULL)");
	CHECK_EQ(zc_rx_mode_parse(""), -EINVAL, "zc_rx_mode_parse(\"\")");
	CHECK_EQ(zc_rx_mode_parse("COPY"), -EINVAL, "mode names are exact");
	CHECK_EQ(zc_rx_zap_parse(NULL), -EINVAL, "zc_rx_zap_parse(NULL)");
	CHECK_EQ(zc_rx_zap_parse("each "), -EINVAL, "zap names are exact");
}

/* A view of handle A given to handle B (own windows, and a pool). */
static void foreign_views(bool use_pool)
{
	struct zc_rx_pool_opts po = { .slot_size = 64u << 10, .slots = 4 };
	struct zc_rx_pool *pool = NULL;
	struct zc_rx_opts o = { .mode = ZC_RX_COPY };
	struct zc_rx *a = NULL, *b = NULL;
	struct zc_view va, vb, saved;
	int fa[2], fb[2];

	if (harden_tcp_pair(fa, AF_INET, 0) || harden_tcp_pair(fb, AF_INET, 0))
		harden_die("pair");
	if (use_pool) {
		CHECK_EQ(zc_rx_pool_create(&pool, &po), 0, "pool");
		o.pool = pool;
	}
	CHECK_EQ(zc_rx_create(&a, fa[0], &o), 0, "rx a");
	CHECK_EQ(zc_rx_create(&b, fb[0], &o), 0, "rx b");
	if (!a || !b)
		goto out;
	if (send(fa[1], "aaaa", 4, 0) != 4 || send(fb[1], "bbbb", 4, 0) != 4)
		harden_die("send");
	CHECK_EQ(zc_rx_read(a, &va), 4, "read a");
	CHECK_EQ(zc_rx_read(b, &vb), 4, "read b");
	CHECK_EQ(zc_rx_release(b, &va), -EINVAL,
		 use_pool ? "view of a released through b (pool)"
			  : "view of a released through b");
	CHECK(va.copied_len == 4 && !memcmp(va.copied, "aaaa", 4),
	      "a's view after b refused it");
	saved = va;
	CHECK_EQ(zc_rx_release(a, &va), 0, "release a");
	CHECK_EQ(zc_rx_release(a, &saved), -EINVAL, "release a twice (copy)");
	CHECK_EQ(zc_rx_release(b, &saved), -EINVAL, "stale a through b");
	CHECK_EQ(zc_rx_release(b, &vb), 0, "release b");
out:
	zc_rx_free(a);
	zc_rx_free(b);
	zc_rx_pool_free(pool);
	close(fa[0]);
	close(fa[1]);
	close(fb[0]);
	close(fb[1]);
}

/*
 * zc_msg_rx_create(NULL, rx, NULL) run in a forked child, so that a crash
 * is a failed check instead of the end of the test. Returns the call's
 * result, or INT_MIN + signal when the child died by a signal.
 */
static int in_child_msg_rx_create_null(struct zc_rx *rx)
{
	int status, ret;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		harden_die("fork");
	if (pid == 0) {
		ret = zc_msg_rx_create(NULL, rx, NULL);
		_exit(ret < 0 && ret > -256 ? -ret : 255);
	}
	if (waitpid(pid, &status, 0) != pid)
		harden_die("waitpid");
	if (WIFSIGNALED(status)) {
		printf("note: zc_msg_rx_create(NULL, rx, NULL) died by signal "
		       "%d\n",
		       WTERMSIG(status));
		return INT_MIN + WTERMSIG(status);
	}
	return WEXITSTATUS(status) == 255 ? 0 : -WEXITSTATUS(status);
}

static void bad_msg(int rfd, int sfd)
{
	uint8_t buf[ZC_MSG_HDR_LEN + 8];
	struct zc_msg_hdr h = { .id = 1, .type = 2, .len = 3 }, out;
	struct zc_msg_rx_opts mo;
	struct zc_msg_rx *mrx = NOT_NULL, *mrx2 = NULL;
	struct zc_msg_rx_stats st;
	struct zc_rx *rx = NULL;
	struct zc_msg m;
	struct zc_msg_out o;
	struct iovec iov[ZC_MSG_MAX_IOV + 1];
	static uint8_t page[PAGE];
	unsigned int i;

	/* Header encode / decode */
	CHECK_EQ(zc_msg_header_encode(NULL, sizeof(buf), &h), -EINVAL,
		 "encode NULL buf");
	CHECK_EQ(zc_msg_header_encode(buf, sizeof(buf), NULL), -EINVAL,
		 "encode NULL hdr");
	CHECK_EQ(zc_msg_header_encode(buf, ZC_MSG_HDR_LEN - 1, &h), -EINVAL,
		 "encode short buffer");
	for (i = 0; i < 32; i++) {
		if ((1u << i) & ZC_MSG_F_ALL)
			continue;
		h.flags = 1u << i;
		CHECK_EQ(zc_msg_header_encode(buf, sizeof(buf), &h), -EINVAL,
			 "encode unknown flag");
	}
	h.flags = 0;
	h.reserved = 1;
	CHECK_EQ(zc_msg_header_encode(buf, sizeof(buf), &h), -EINVAL,
		 "encode reserved");
	h.reserved = 0;
	CHECK_EQ(zc_msg_header_encode(buf, sizeof(buf), &h), ZC_MSG_HDR_LEN,
		 "encode");
	CHECK_EQ(zc_msg_header_decode(NULL, sizeof(buf), &out, 0), -EINVAL,
		 "decode NULL buf");
	CHECK_EQ(zc_msg_header_decode(buf, sizeof(buf), NULL, 0), -EINVAL,
		 "decode NULL hdr");
	CHECK_EQ(zc_msg_header_decode(buf, ZC_MSG_HDR_LEN - 1, &out, 0),
		 -EAGAIN, "decode short: -EAGAIN (zcnet.h)");
	CHECK_EQ(zc_msg_header_decode(buf, 0, &out, 0), -EAGAIN,
		 "decode empty");
	CHECK_EQ(zc_msg_header_decode(buf, sizeof(buf), &out, 2), -EMSGSIZE,
		 "decode len over max_payload");
	CHECK(zc_msg_error_name(-1) == NULL && zc_msg_error_name(9) == NULL &&
		      zc_msg_error_name(INT_MAX) == NULL,
	      "error names out of range");

	/* Reader */
	CHECK_EQ(zc_msg_rx_create(NULL, NULL, NULL), -EINVAL,
		 "msg rx NULL mrxp");
	CHECK_EQ(zc_msg_rx_create(&mrx, NULL, NULL), -EINVAL, "msg rx NULL rx");
	CHECK(mrx == NULL, "*mrxp not NULL after a failed create");
	CHECK_EQ(zc_rx_create(&rx, rfd, NULL), 0, "rx for messages");
	if (rx) {
		for (i = 0; i < 32; i++) {
			if ((1u << i) & ZC_MSG_RX_F_ALL)
				continue;
			memset(&mo, 0, sizeof(mo));
			mo.flags = 1u << i;
			CHECK_EQ(zc_msg_rx_create(&mrx, rx, &mo), -EINVAL,
				 "msg rx unknown flag");
		}
		for (i = 0; i < sizeof(mo.reserved) / sizeof(mo.reserved[0]);
		     i++) {
			memset(&mo, 0, sizeof(mo));
			mo.reserved[i] = 1;
			CHECK_EQ(zc_msg_rx_create(&mrx, rx, &mo), -EINVAL,
				 "msg rx reserved");
		}
		/* NULL out-param with a valid rx: in a child, as it may
		 * crash. */
		CHECK_EQ(in_child_msg_rx_create_null(rx), -EINVAL,
			 "zc_msg_rx_create(NULL, rx, NULL)");
		CHECK_EQ(zc_msg_rx_create(&mrx2, rx, NULL), 0, "msg rx");
	}
	CHECK_EQ(zc_msg_read(NULL, &m), -EINVAL, "zc_msg_read(NULL)");
	CHECK_EQ(zc_msg_release(NULL, &m), -EINVAL, "zc_msg_release(NULL)");
	CHECK_EQ(zc_msg_rx_error(NULL), -EINVAL, "zc_msg_rx_error(NULL)");
	zc_msg_rx_get_stats(NULL, &st);
	zc_msg_rx_free(NULL);
	if (mrx2) {
		CHECK_EQ(zc_msg_read(mrx2, NULL), -EINVAL, "read NULL msg");
		CHECK_EQ(zc_msg_release(mrx2, NULL), -EINVAL, "release NULL");
		memset(&m, 0, sizeof(m));
		CHECK_EQ(zc_msg_release(mrx2, &m), -EINVAL,
			 "release a message never read");
		zc_msg_rx_get_stats(mrx2, NULL);
	}
	zc_msg_rx_free(mrx2);
	zc_rx_free(rx);

	/* Sender */
	CHECK_EQ(zc_msg_send(NULL), -EINVAL, "zc_msg_send(NULL)");
	memset(&o, 0, sizeof(o));
	o.fd = -1;
	CHECK_EQ(zc_msg_send(&o), -EINVAL, "send fd -1");
	for (i = 0; i < 32; i++) {
		if ((1u << i) & ZC_MSG_SEND_ALL)
			continue;
		memset(&o, 0, sizeof(o));
		o.fd = sfd;
		o.flags = 1u << i;
		CHECK_EQ(zc_msg_send(&o), -EINVAL, "send unknown flag");
	}
	for (i = 0; i < 32; i++) {
		if ((1u << i) & ZC_MSG_F_ALL)
			continue;
		memset(&o, 0, sizeof(o));
		o.fd = sfd;
		o.hdr.flags = 1u << i;
		CHECK_EQ(zc_msg_send(&o), -EINVAL, "send unknown header flag");
	}
	memset(&o, 0, sizeof(o));
	o.fd = sfd;
	o.hdr.reserved = 1;
	CHECK_EQ(zc_msg_send(&o), -EINVAL, "send header reserved");
	for (i = 0; i < sizeof(o.reserved) / sizeof(o.reserved[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.fd = sfd;
		o.reserved[i] = 1;
		CHECK_EQ(zc_msg_send(&o), -EINVAL, "send reserved");
	}
	memset(&o, 0, sizeof(o));
	o.fd = sfd;
	o.iovcnt = 1;
	o.hdr.len = 0;
	CHECK_EQ(zc_msg_send(&o), -EINVAL, "send iovcnt 1, iov NULL");
	for (i = 0; i <= ZC_MSG_MAX_IOV; i++)
		iov[i] = (struct iovec){ page, 1 };
	o.iov = iov;
	o.iovcnt = ZC_MSG_MAX_IOV + 1;
	o.hdr.len = ZC_MSG_MAX_IOV + 1;
	CHECK_EQ(zc_msg_send(&o), -EINVAL, "send 65 iovecs");
	o.iovcnt = 1;
	o.hdr.len = 2;
	CHECK_EQ(zc_msg_send(&o), -EINVAL, "send hdr.len != iovec bytes");
	iov[0] = (struct iovec){ NULL, 1 };
	o.hdr.len = 1;
	CHECK_EQ(zc_msg_send(&o), -EINVAL, "send iov_base NULL");
	iov[0] = (struct iovec){ page, 1 };
	o.sent = ZC_MSG_HDR_LEN + 2;
	CHECK_EQ(zc_msg_send(&o), -EINVAL, "send with sent past the end");
	/* MSG_ZEROCOPY asked for, SO_ZEROCOPY off: no completion would ever
	 * come (zcnet.h: -EINVAL). */
	memset(&o, 0, sizeof(o));
	iov[0] = (struct iovec){ page, sizeof(page) };
	o.fd = sfd;
	o.flags = ZC_MSG_SEND_ZEROCOPY;
	o.iov = iov;
	o.iovcnt = 1;
	o.hdr.len = sizeof(page);
	CHECK_EQ(zc_msg_send(&o), -EINVAL, "send zerocopy, SO_ZEROCOPY off");
	CHECK_EQ(o.sent, 0, "nothing sent by a refused send");
}

/* Two readers, each on its own connection; n1 small messages are sent on
 * connection 1 (one view holds them all), one on connection 2. */
struct two_readers {
	int f1[2], f2[2];
	struct zc_rx *r1, *r2;
	struct zc_msg_rx *m1, *m2;
};

static bool two_readers_open(struct two_readers *t, int n1)
{
	struct zc_rx_opts ro = { .mode = ZC_RX_COPY };
	struct zc_msg_out o;
	struct iovec iov;
	uint8_t pay[100];
	int k;

	memset(t, 0, sizeof(*t));
	if (harden_tcp_pair(t->f1, AF_INET, 0) ||
	    harden_tcp_pair(t->f2, AF_INET, 0))
		harden_die("pair");
	CHECK_EQ(zc_rx_create(&t->r1, t->f1[0], &ro), 0, "rx 1");
	CHECK_EQ(zc_rx_create(&t->r2, t->f2[0], &ro), 0, "rx 2");
	if (t->r1)
		CHECK_EQ(zc_msg_rx_create(&t->m1, t->r1, NULL), 0, "msg rx 1");
	if (t->r2)
		CHECK_EQ(zc_msg_rx_create(&t->m2, t->r2, NULL), 0, "msg rx 2");
	for (k = 0; k <= n1; k++) {
		memset(&o, 0, sizeof(o));
		harden_fill(pay, sizeof(pay), 300 + k, 0);
		iov = (struct iovec){ pay, sizeof(pay) };
		o.fd = k < n1 ? t->f1[1] : t->f2[1];
		o.hdr.id = (uint64_t)k + 1;
		o.hdr.len = sizeof(pay);
		o.iov = &iov;
		o.iovcnt = 1;
		CHECK_EQ(zc_msg_send(&o), 0, "zc_msg_send");
	}
	return t->m1 && t->m2;
}

static void two_readers_close(struct two_readers *t)
{
	zc_msg_rx_free(t->m1);
	zc_msg_rx_free(t->m2);
	zc_rx_free(t->r1);
	zc_rx_free(t->r2);
	close(t->f1[0]);
	close(t->f1[1]);
	close(t->f2[0]);
	close(t->f2[1]);
}

static bool msg_intact(const struct zc_msg *m, uint64_t stream)
{
	return m->nsegs >= 1 && m->hdr.len == 100 &&
	       harden_verify(m->seg[0].iov_base, m->seg[0].iov_len, stream,
			     0) == m->seg[0].iov_len;
}

/* A copy of a released message, released again, while another message
 * still holds the same view: "-EINVAL when m is not held" (zcnet.h). */
static void msg_double_release(void)
{
	struct zc_msg a1, a2, copy;
	struct two_readers t;

	if (!two_readers_open(&t, 2))
		goto out;
	CHECK_EQ(zc_msg_read(t.m1, &a1), 1, "read a1");
	CHECK_EQ(zc_msg_read(t.m1, &a2), 1, "read a2");
	copy = a1;
	CHECK_EQ(zc_msg_release(t.m1, &a1), 0, "release a1");
	CHECK_EQ(zc_msg_release(t.m1, &copy), -EINVAL,
		 "a released message's copy released again");
	CHECK(msg_intact(&a2, 301), "a2's payload after the double release");
	CHECK_EQ(zc_msg_release(t.m1, &a2), 0, "release a2");
out:
	two_readers_close(&t);
}

/* A message held by reader 1 released through reader 2. */
static void msg_foreign_release(void)
{
	struct zc_msg a1, b1;
	struct two_readers t;

	if (!two_readers_open(&t, 1))
		goto out;
	CHECK_EQ(zc_msg_read(t.m1, &a1), 1, "read a1");
	CHECK_EQ(zc_msg_read(t.m2, &b1), 1, "read b1");
	CHECK_EQ(zc_msg_release(t.m2, &a1), -EINVAL,
		 "message of reader 1 released through reader 2");
	CHECK(msg_intact(&a1, 300), "a1 after reader 2 refused it");
	CHECK(msg_intact(&b1, 301), "b1 after the foreign release");
	CHECK_EQ(zc_msg_release(t.m1, &a1), 0, "release a1");
	CHECK_EQ(zc_msg_release(t.m2, &b1), 0, "release b1");
out:
	two_readers_close(&t);
}

static void bad_tx(int fd)
{
	struct zc_tx_opts o;
	struct zc_tx *tx = NOT_NULL, *ok = NULL;
	struct zc_completion c[4];
	struct zc_tx_stats st;
	struct iovec iov = { c, sizeof(c) };
	unsigned int i;
	int u, p[2];

	CHECK_EQ(zc_tx_create(NULL, fd, NULL), -EINVAL, "tx create NULL txp");
	memset(&o, 0, sizeof(o));
	o.backend = 5;
	CHECK_EQ(zc_tx_create(&tx, fd, &o), -EINVAL, "tx backend 5");
	CHECK(tx == NULL, "*txp not NULL after a failed create");
	o.backend = UINT32_MAX;
	CHECK_EQ(zc_tx_create(&tx, fd, &o), -EINVAL, "tx backend -1");
	for (i = 0; i < 32; i++) {
		if ((1u << i) & ZC_TX_F_ALL)
			continue;
		memset(&o, 0, sizeof(o));
		o.flags = 1u << i;
		CHECK_EQ(zc_tx_create(&tx, fd, &o), -EINVAL, "tx unknown flag");
	}
	for (i = 0; i < sizeof(o.reserved) / sizeof(o.reserved[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.reserved[i] = 1;
		CHECK_EQ(zc_tx_create(&tx, fd, &o), -EINVAL, "tx reserved");
	}
	memset(&o, 0, sizeof(o));
	o.flags = ZC_TX_F_FIXED_BUFFERS;
	o.backend = ZC_TX_MSG_ZEROCOPY;
	CHECK_EQ(zc_tx_create(&tx, fd, &o), -EINVAL,
		 "fixed buffers without uring_zc");
	memset(&o, 0, sizeof(o));
	o.max_outstanding = 65537;
	CHECK_EQ(zc_tx_create(&tx, fd, &o), -EINVAL, "max_outstanding 65537");
	CHECK_EQ(zc_tx_create(&tx, -1, NULL), -EINVAL, "tx fd -1");
	if (pipe(p))
		harden_die("pipe");
	CHECK_EQ(zc_tx_create(&tx, p[0], NULL), -EINVAL, "tx on a pipe");
	close(p[0]);
	close(p[1]);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK_EQ(zc_tx_create(&tx, u, NULL), -ENOTCONN, "tx unconnected UDP");
	close(u);
	CHECK(tx == NULL, "*txp not NULL after a failed create");

	CHECK_EQ(zc_tx_send(NULL, c, 1, 0), -EINVAL, "zc_tx_send(NULL)");
	CHECK_EQ(zc_tx_reap(NULL, c, 4), -EINVAL, "zc_tx_reap(NULL)");
	CHECK_EQ(zc_tx_wait(NULL, c, 4, 0), -EINVAL, "zc_tx_wait(NULL)");
	CHECK_EQ(zc_tx_flush(NULL, 0), -EINVAL, "zc_tx_flush(NULL)");
	CHECK_EQ(zc_tx_fd(NULL), -EINVAL, "zc_tx_fd(NULL)");
	CHECK_EQ(zc_tx_poll_events(NULL), -EINVAL, "zc_tx_poll_events(NULL)");
	CHECK_EQ(zc_tx_register(NULL, &iov, 1), -EINVAL, "register(NULL)");
	CHECK_EQ(zc_tx_backend(NULL), -EINVAL, "zc_tx_backend(NULL)");
	CHECK_EQ(zc_tx_free(NULL), 0, "zc_tx_free(NULL)");
	zc_tx_get_stats(NULL, &st);
	CHECK(zc_tx_backend_name(-1) == NULL && zc_tx_backend_name(5) == NULL,
	      "backend names out of range");
	CHECK_EQ(zc_tx_backend_parse(NULL), -EINVAL, "backend parse NULL");
	CHECK_EQ(zc_tx_backend_parse("uring-zc"), -EINVAL, "backend parse");

	CHECK_EQ(zc_tx_create(&ok, fd, NULL), 0, "tx");
	if (!ok)
		return;
	CHECK_EQ(zc_tx_send(ok, NULL, 1, 0), -EINVAL, "send NULL buf");
	CHECK_EQ(zc_tx_send(ok, c, 0, 0), -EINVAL, "send 0 bytes");
	CHECK_EQ(zc_tx_send(ok, c, (size_t)UINT32_MAX + 1, 0), -EINVAL,
		 "send 4 GiB");
	CHECK_EQ(zc_tx_send(ok, c, SIZE_MAX, 0), -EINVAL, "send SIZE_MAX");
	CHECK_EQ(zc_tx_reap(ok, NULL, 4), -EINVAL, "reap into NULL");
	CHECK_EQ(zc_tx_reap(ok, NULL, 0), 0, "reap 0 into NULL");
	CHECK_EQ(zc_tx_wait(ok, NULL, 4, 0), -EINVAL, "wait into NULL");
	CHECK_EQ(zc_tx_register(ok, NULL, 1), -EINVAL, "register NULL iov");
	CHECK_EQ(zc_tx_register(ok, &iov, 0), -EINVAL, "register 0 buffers");
	CHECK_EQ(zc_tx_register(ok, &iov, 1), -EINVAL,
		 "register without ZC_TX_F_FIXED_BUFFERS");
	zc_tx_get_stats(ok, NULL);
	zc_tx_get_stats(ok, &st);
	CHECK(st.sends == 0 && st.bytes == 0,
	      "refused sends counted: %llu sends, %llu bytes",
	      (unsigned long long)st.sends, (unsigned long long)st.bytes);
	CHECK_EQ(zc_tx_reap(ok, c, 4), 0, "refused sends completed");
	CHECK_EQ(zc_tx_free(ok), 0, "zc_tx_free");

	if (have_uring_zc) {
		memset(&o, 0, sizeof(o));
		o.backend = ZC_TX_URING_ZC;
		o.flags = ZC_TX_F_FIXED_BUFFERS;
		ok = NULL;
		CHECK_EQ(zc_tx_create(&ok, fd, &o), 0, "uring_zc tx");
		if (!ok)
			return;
		CHECK_EQ(zc_tx_register(ok, &iov, 1025), -EINVAL,
			 "register 1025 buffers");
		CHECK_EQ(zc_tx_register(ok, &iov, 1), 0, "register");
		CHECK_EQ(zc_tx_register(ok, &iov, 1), -EBUSY, "register twice");
		CHECK_EQ(zc_tx_free(ok), 0, "zc_tx_free");
	}
}

/* --- 3. isolation between connections sharing a pool ---------------------- */

#define ISO_SLOT  (64u << 10)
#define ISO_TOTAL (2u << 20)

static uint8_t iso_buf[2][ISO_TOTAL];

static void isolation(uint32_t zap)
{
	/* Bytes per round, per connection: grow and shrink so a slot that
	 * held many of A's pages gets few (or none) of B's, and back. */
	static const uint32_t sizes[] = { 65536, 8192 + 100, 300,   65536,
					  4096,	 12288 + 5,  65536, 100,
					  40000, 65536,	     7,	    20480 };
	struct zc_rx_pool_opts po = { .slot_size = ISO_SLOT,
				      .slots = 2,
				      .zap = zap };
	struct zc_rx_opts o = { .mode = ZC_RX_ZEROCOPY, .slots = 1 };
	struct zc_rx_pool *pool = NULL;
	struct zc_rx *rx[2] = { NULL, NULL };
	uint64_t sent[2] = { 0, 0 }, got[2] = { 0, 0 }, mapped = 0;
	struct zc_view v, stale = { 0 };
	unsigned int round, c;
	char what[96];
	int fds[2][2];
	ssize_t n;

	for (c = 0; c < 2; c++)
		if (harden_tcp_pair(fds[c], c ? AF_INET6 : AF_INET,
				    HARDEN_MSS) ||
		    zc_sender(fds[c][1]))
			harden_die("pair");
	CHECK_EQ(zc_rx_pool_create(&pool, &po), 0, "isolation pool");
	o.pool = pool;
	for (c = 0; c < 2 && pool; c++)
		CHECK_EQ(zc_rx_create(&rx[c], fds[c][0], &o), 0, "rx on pool");
	if (!rx[0] || !rx[1])
		goto out;
	for (round = 0; round < 3 * sizeof(sizes) / sizeof(sizes[0]); round++) {
		for (c = 0; c < 2; c++) {
			uint32_t len =
				sizes[(round + 5 * c) %
				      (sizeof(sizes) / sizeof(sizes[0]))];

			snprintf(what, sizeof(what),
				 "isolation (zap %s): connection %c round %u",
				 zc_rx_zap_name((int)zap), 'A' + c, round);
			if (sent[c] + len > ISO_TOTAL)
				continue;
			send_zc(fds[c][1], iso_buf[c] + sent[c], len);
			sent[c] += len;
			while (got[c] < sent[c]) {
				n = zc_rx_read(rx[c], &v);
				if (n <= 0) {
					CHECK(0, "%s: read %zd", what, n);
					goto out;
				}
				CHECK(v.mapped_len <= ISO_SLOT &&
					      (size_t)n == v.len &&
					      got[c] + (uint64_t)n <= sent[c],
				      "%s: view of %zd bytes (%zu mapped), "
				      "%llu expected",
				      what, n, v.mapped_len,
				      (unsigned long long)(sent[c] - got[c]));
				CHECK(harden_verify(v.mapped, v.mapped_len,
						    500 + c,
						    got[c]) == v.mapped_len,
				      "%s: a mapped byte is not this "
				      "connection's",
				      what);
				CHECK(harden_verify(v.copied, v.copied_len,
						    500 + c,
						    got[c] + v.mapped_len) ==
					      v.copied_len,
				      "%s: a copied byte is not this "
				      "connection's",
				      what);
				mapped += v.mapped_len;
				got[c] += (uint64_t)n;
				if (c == 0)
					stale = v;
				CHECK_EQ(zc_rx_release(rx[c], &v), 0, what);
			}
			/* A's released view is nobody's now. */
			if (c == 1 && stale.len) {
				CHECK_EQ(zc_rx_release(rx[0], &stale), -EINVAL,
					 "A's released view through A");
				CHECK_EQ(zc_rx_release(rx[1], &stale), -EINVAL,
					 "A's released view through B");
			}
		}
	}
	CHECK(mapped > 0, "isolation (zap %s): nothing was mapped",
	      zc_rx_zap_name((int)zap));
out:
	zc_rx_free(rx[0]);
	zc_rx_free(rx[1]);
	if (pool)
		CHECK_EQ(zc_rx_pool_free(pool), 0, "pool free");
	for (c = 0; c < 2; c++) {
		close(fds[c][0]);
		close(fds[c][1]);
	}
}

int main(void)
{
	struct zc_probe p;
	int fds[2], fds2[2];
	uint32_t zap;

	signal(SIGPIPE, SIG_IGN);
	alarm(120);
	if (zc_probe(&p))
		harden_die("zc_probe");
	have_uring_zc = p.features & ZC_PROBE_URING_SEND_ZC;

	bad_probe();
	if (harden_tcp_pair(fds, AF_INET, 0) ||
	    harden_tcp_pair(fds2, AF_INET, 0))
		harden_die("pair");
	bad_rx(fds[0], fds2[0]);
	bad_msg(fds[0], fds[1]);
	bad_tx(fds[1]);
	close(fds[0]);
	close(fds[1]);
	close(fds2[0]);
	close(fds2[1]);
	foreign_views(false);
	foreign_views(true);
	msg_double_release();
	msg_foreign_release();

	if (!(p.features & ZC_PROBE_RX_ZEROCOPY) ||
	    !(p.features & ZC_PROBE_TX_TCP_ZEROCOPY)) {
		printf("harden_security: %d checks, %d failed\n", harden_checks,
		       harden_failures);
		if (harden_failures)
			return 1;
		printf("skipped: read-only and isolation checks need receive "
		       "zero-copy and MSG_ZEROCOPY\n");
		return 77;
	}
	readonly_views(false);
	readonly_views(true);
	readonly_messages();
	harden_fill(iso_buf[0], ISO_TOTAL, 500, 0);
	harden_fill(iso_buf[1], ISO_TOTAL, 501, 0);
	for (zap = ZC_RX_ZAP_DEFAULT; zap <= ZC_RX_ZAP_KERNEL; zap++)
		isolation(zap);
	printf("harden_security: %d checks, %d failed\n", harden_checks,
	       harden_failures);
	return harden_failures ? 1 : 0;
}
