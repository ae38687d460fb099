/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the receive engine (src/rx.c): option validation, and the
 * engine's decisions when the kernel answers TCP_ZEROCOPY_RECEIVE with
 * stragglers, errors, short queues or nonsense.
 *
 * The kernel is faked through the zc__sys table (src/internal.h). The fd is
 * a real connected loopback TCP socket, because zc_rx_create() asks the
 * real getpeername() whether it is connected; no byte is ever sent on it.
 * The fake "kernel":
 *  - answers mmap() on that fd with a writable anonymous mapping at the
 *    place asked for, so it can put pattern bytes where pages would be
 *    mapped;
 *  - answers the first TCP_ZEROCOPY_RECEIVE (zc_rx_create's zero-length
 *    probe) with the struct size of the kernel being imitated, then each
 *    later call from a per-test script, writing back only the bytes of the
 *    struct that kernel knows and refusing non-zero bytes beyond it with
 *    EINVAL, as do_tcp_getsockopt() does;
 *  - writes a deterministic pattern, in stream order, into the mapped range
 *    and then the copybuf (or recv()'s buffer), so every test can check that
 *    a view shows the right bytes in the right order.
 * Every call the engine makes is recorded so tests can assert what it
 * passed (copybuf or not, TLB clean hint, lengths, madvise ranges).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat.h"
#include "internal.h"
#include "net.h"
#include "rx.h"

#define PAGE	     4096u
#define MAX_SCRIPT   16
#define MAX_MADV     16
#define WINDOW_ALIGN (2u << 20)

/* One scripted answer to getsockopt(TCP_ZEROCOPY_RECEIVE). */
struct zc_answer {
	int fail_errno;	 /* the call fails with this errno, if set */
	uint32_t length; /* bytes "mapped" */
	uint32_t skip;	 /* recv_skip_hint */
	uint32_t inq;
	int32_t err;	     /* socket error, positive; the kernel's err
			      * field carries it negated (sock_error()) */
	int32_t copybuf_len; /* bytes copied, used when a copybuf came */
};

/* What the engine passed in one TCP_ZEROCOPY_RECEIVE call. */
struct zc_call {
	uint64_t address;
	uint32_t length;
	uint64_t copybuf_address;
	int32_t copybuf_len;
	uint32_t flags;
	socklen_t optlen;
};

struct recv_answer {
	ssize_t ret; /* bytes, 0 for the end, -1 with err */
	int err;
};

struct recv_call {
	size_t len;
	int flags;
};

static struct fake {
	int fd, peer;
	/* The imitated kernel: size of its struct (0: no such option). */
	socklen_t kernel_len;
	int learn_errno;   /* the probe call fails with this */
	int32_t learn_err; /* socket error the probe call reports */
	int learned;
	struct zc_call learn_call;

	struct zc_answer script[MAX_SCRIPT];
	unsigned int nscript;
	struct zc_call calls[MAX_SCRIPT];
	unsigned int ncalls;
	int overrun; /* the engine called more than scripted */

	struct recv_answer recv_script[MAX_SCRIPT];
	unsigned int nrecv_script;
	struct recv_call recv_calls[MAX_SCRIPT];
	unsigned int nrecv;

	int so_error; /* SO_ERROR answer */
	unsigned int so_error_calls;

	int mmap_errno; /* mmap on fd fails with this */
	unsigned int mmap_fd_calls;
	void *window;
	size_t window_len;
	int window_prot, window_flags;
	unsigned int munmap_calls;
	int window_unmapped;

	struct {
		uintptr_t addr;
		size_t len;
		int advice;
	} madv[MAX_MADV];
	unsigned int nmadv;

	unsigned int npoll;

	int setsockopt_fail_name, setsockopt_errno;
	int oobinline, rcvlowat;
	unsigned int setsockopt_calls;

	uint64_t stream;   /* next stream offset the fake delivers */
	uint64_t verified; /* next stream offset a test expects */
} F;

static uint8_t pattern(uint64_t off)
{
	/* Not periodic at any power of two, so a page or a copy landing in
	 * the wrong place shows. */
	return (uint8_t)(off * 131 + (off >> 9) * 7 + (off >> 17));
}

static void deliver(void *dst, size_t len)
{
	uint8_t *p = dst;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern(F.stream + i);
	F.stream += len;
}

/* --- the fake kernel ------------------------------------------------------ */

static void record(struct zc_call *c, const struct zc__tcp_zerocopy_receive *zc,
		   socklen_t len)
{
	c->address = zc->address;
	c->length = zc->length;
	c->copybuf_address = zc->copybuf_address;
	c->copybuf_len = zc->copybuf_len;
	c->flags = zc->flags;
	c->optlen = len;
}

static int fake_zerocopy_receive(void *val, socklen_t *optlen)
{
	struct zc__tcp_zerocopy_receive zc;
	const struct zc_answer *a;
	socklen_t len = *optlen, i;
	struct zc_call *c;

	if (!F.kernel_len) {
		errno = ENOPROTOOPT;
		return -1;
	}
	if (len < ZC__ZCR_LEN_BASE) {
		errno = EINVAL;
		return -1;
	}
	/* do_tcp_getsockopt(): bytes beyond the struct it knows must be zero;
	 * it then works on its own size and says so in optlen. */
	if (len > F.kernel_len) {
		for (i = F.kernel_len; i < len; i++) {
			if (((uint8_t *)val)[i]) {
				errno = EINVAL;
				return -1;
			}
		}
		len = F.kernel_len;
		*optlen = len;
	}
	memset(&zc, 0, sizeof(zc));
	memcpy(&zc, val, len);
	if (zc.address % PAGE) {
		errno = EINVAL;
		return -1;
	}
	if (!F.learned) {
		F.learned = 1;
		record(&F.learn_call, &zc, len);
		if (F.learn_errno) {
			errno = F.learn_errno;
			return -1;
		}
		zc.length = 0;
		zc.recv_skip_hint = 0;
		zc.inq = 0;
		zc.err = -F.learn_err;
		zc.copybuf_len = 0;
		memcpy(val, &zc, len);
		return 0;
	}
	if (F.ncalls >= F.nscript) {
		F.overrun = 1;
		errno = ENOSPC; /* no kernel says this: a test reads it */
		return -1;
	}
	c = &F.calls[F.ncalls];
	record(c, &zc, len);
	a = &F.script[F.ncalls++];
	if (a->fail_errno) {
		errno = a->fail_errno;
		return -1;
	}
	/* Only answers a sane kernel could give get pattern bytes: the
	 * nonsense ones are there to see the engine refuse them. */
	if (a->length <= c->length && a->length % PAGE == 0)
		deliver((void *)(uintptr_t)c->address, a->length);
	zc.length = a->length;
	zc.recv_skip_hint = a->skip;
	zc.inq = a->inq;
	/* do_tcp_getsockopt(): zc.err = sock_error(sk), which is -errno. */
	zc.err = -a->err;
	zc.copybuf_len = 0;
	if (c->copybuf_address && c->copybuf_len > 0) {
		zc.copybuf_len = a->copybuf_len;
		if (a->copybuf_len > 0 && a->copybuf_len <= c->copybuf_len)
			deliver((void *)(uintptr_t)c->copybuf_address,
				(size_t)a->copybuf_len);
	} else if (a->copybuf_len) {
		/* The script expected a copybuf the engine did not pass. */
		F.overrun = 1;
	}
	memcpy(val, &zc, len);
	return 0;
}

static int fake_getsockopt(int fd, int level, int name, void *val,
			   socklen_t *len)
{
	if (fd == F.fd && level == IPPROTO_TCP && name == TCP_ZEROCOPY_RECEIVE)
		return fake_zerocopy_receive(val, len);
	if (fd == F.fd && level == SOL_SOCKET && name == SO_ERROR) {
		F.so_error_calls++;
		*(int *)val = F.so_error;
		F.so_error = 0; /* reading it clears it, as sock_error() does */
		return 0;
	}
	return getsockopt(fd, level, name, val, len);
}

static int fake_setsockopt(int fd, int level, int name, const void *val,
			   socklen_t len)
{
	if (fd == F.fd && level == SOL_SOCKET) {
		F.setsockopt_calls++;
		if (name == F.setsockopt_fail_name) {
			errno = F.setsockopt_errno;
			return -1;
		}
		if (name == SO_OOBINLINE)
			F.oobinline = *(const int *)val;
		if (name == SO_RCVLOWAT)
			F.rcvlowat = *(const int *)val;
	}
	return setsockopt(fd, level, name, val, len);
}

static ssize_t fake_recv(int fd, void *buf, size_t len, int flags)
{
	const struct recv_answer *a;

	if (fd != F.fd)
		return recv(fd, buf, len, flags);
	if (F.nrecv >= F.nrecv_script) {
		F.overrun = 1;
		errno = ENOSPC;
		return -1;
	}
	F.recv_calls[F.nrecv] = (struct recv_call){len, flags};
	a = &F.recv_script[F.nrecv++];
	if (a->ret < 0) {
		errno = a->err;
		return -1;
	}
	if ((size_t)a->ret > len) {
		F.overrun = 1; /* the script promised more than asked for */
		return (ssize_t)len;
	}
	deliver(buf, (size_t)a->ret);
	return a->ret;
}

static int fake_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	nfds_t i;

	F.npoll++;
	for (i = 0; i < n; i++)
		fds[i].revents = POLLIN;
	return (int)n;
}

static void *fake_mmap(void *addr, size_t len, int prot, int flags, int fd,
		       off_t off)
{
	if (fd != F.fd || fd < 0)
		return mmap(addr, len, prot, flags, fd, off);
	F.mmap_fd_calls++;
	F.window_prot = prot;
	F.window_flags = flags;
	if (F.mmap_errno) {
		errno = F.mmap_errno;
		return MAP_FAILED;
	}
	/* Writable, so the fake kernel can put pattern bytes in it. */
	F.window =
		mmap(addr, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_FIXED), -1, 0);
	F.window_len = len;
	return F.window;
}

static int fake_munmap(void *addr, size_t len)
{
	F.munmap_calls++;
	if (F.window && addr == F.window && len == F.window_len)
		F.window_unmapped = 1;
	return munmap(addr, len);
}

static int fake_madvise(void *addr, size_t len, int advice)
{
	if (F.nmadv < MAX_MADV) {
		F.madv[F.nmadv].addr = (uintptr_t)addr;
		F.madv[F.nmadv].len = len;
		F.madv[F.nmadv].advice = advice;
	}
	F.nmadv++;
	return 0;
}

/* --- fixtures and helpers ------------------------------------------------- */

static int setup(void **state)
{
	int fds[2];

	memset(&F, 0, sizeof(F));
	if (zc__tcp_pair(fds, AF_INET))
		return -1;
	F.fd = fds[0];
	F.peer = fds[1];
	F.kernel_len = sizeof(struct zc__tcp_zerocopy_receive);
	zc__sys.getsockopt = fake_getsockopt;
	zc__sys.setsockopt = fake_setsockopt;
	zc__sys.recv = fake_recv;
	zc__sys.poll = fake_poll;
	zc__sys.mmap = fake_mmap;
	zc__sys.munmap = fake_munmap;
	zc__sys.madvise = fake_madvise;
	*state = NULL;
	return 0;
}

static int teardown(void **state)
{
	zc_rx_free(*state);
	zc__sys_reset();
	close(F.fd);
	close(F.peer);
	return 0;
}

static struct zc_rx *create(void **state, const struct zc_rx_opts *o)
{
	struct zc_rx *rx = NULL;

	assert_int_equal(zc_rx_create(&rx, F.fd, o), 0);
	assert_non_null(rx);
	*state = rx;
	return rx;
}

/* Zero-copy handle with small slots so scripts stay short. */
static struct zc_rx *create_zc(void **state, uint32_t slots, uint32_t zap)
{
	struct zc_rx_opts o = {.mode = ZC_RX_ZEROCOPY,
			       .slot_size = 16 * PAGE,
			       .slots = slots,
			       .copybuf_size = 4 * PAGE,
			       .zap = zap};

	return create(state, &o);
}

static void script(const struct zc_answer *a, unsigned int n)
{
	assert_true(F.nscript + n <= MAX_SCRIPT);
	memcpy(&F.script[F.nscript], a, n * sizeof(*a));
	F.nscript += n;
}

static void script_recv(ssize_t ret, int err)
{
	assert_true(F.nrecv_script < MAX_SCRIPT);
	F.recv_script[F.nrecv_script++] = (struct recv_answer){ret, err};
}

static const uint8_t *slot_addr(const struct zc_rx *rx, uint32_t slot)
{
	return (const uint8_t *)F.window + (size_t)slot * rx->slot_size;
}

/* The view holds mapped then copied bytes, the next ones of the stream. */
static void check_view(const struct zc_rx *rx, const struct zc_view *v,
		       size_t mapped, size_t copied)
{
	size_t i;

	assert_int_equal(v->mapped_len, mapped);
	assert_int_equal(v->copied_len, copied);
	assert_int_equal(v->len, mapped + copied);
	assert_true(v->slot < rx->nslots);
	if (mapped) {
		assert_ptr_equal(v->mapped, slot_addr(rx, v->slot));
		for (i = 0; i < mapped; i++)
			if (v->mapped[i] != pattern(F.verified + i))
				fail_msg("mapped byte %zu of the view is wrong",
					 i);
	} else {
		assert_null(v->mapped);
	}
	F.verified += mapped;
	if (copied) {
		assert_non_null(v->copied);
		for (i = 0; i < copied; i++)
			if (v->copied[i] != pattern(F.verified + i))
				fail_msg("copied byte %zu of the view is wrong",
					 i);
	} else {
		assert_null(v->copied);
	}
	F.verified += copied;
}

static void read_expect(struct zc_rx *rx, struct zc_view *v, size_t mapped,
			size_t copied)
{
	assert_int_equal(zc_rx_read(rx, v), (ssize_t)(mapped + copied));
	check_view(rx, v, mapped, copied);
}

static void read_release(struct zc_rx *rx, size_t mapped, size_t copied)
{
	struct zc_view v;

	read_expect(rx, &v, mapped, copied);
	assert_int_equal(zc_rx_release(rx, &v), 0);
}

static void assert_script_done(void)
{
	assert_false(F.overrun);
	assert_int_equal(F.ncalls, F.nscript);
	assert_int_equal(F.nrecv, F.nrecv_script);
}

#define HINT ZC__TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT

/* --- option validation ---------------------------------------------------- */

static void test_validate_accepts(void **state)
{
	struct zc_rx_opts o = {0};

	assert_int_equal(zc__rx_validate_opts(&o, PAGE), 0);
	o = (struct zc_rx_opts){.mode = ZC_RX_COPY,
				.flags = ZC_RX_F_ALL,
				.slot_size = PAGE,
				.slots = 1024,
				.copybuf_size = 16u << 20,
				.zap = ZC_RX_ZAP_KERNEL};
	assert_int_equal(zc__rx_validate_opts(&o, PAGE), 0);
	o.slot_size = 256u << 20;
	assert_int_equal(zc__rx_validate_opts(&o, PAGE), 0);
}

static void test_validate_rejects(void **state)
{
	static const struct zc_rx_opts bad[] = {
		{.mode = ZC_RX_COPY + 1},
		{.mode = UINT32_MAX},
		{.zap = ZC_RX_ZAP_KERNEL + 1},
		{.flags = ZC_RX_F_ALL + 1},
		{.flags = 1u << 31},
		{.slot_size = 1},
		{.slot_size = PAGE - 1},
		{.slot_size = PAGE + 1},
		{.slot_size = (256u << 20) + PAGE},
		{.slots = 1025},
		{.copybuf_size = (16u << 20) + 1},
		{.reserved = {1}},
		{.reserved = {[5] = 1}},
	};
	struct zc_rx_opts o;
	unsigned int i;

	for (i = 0; i < ZC__ARRAY_SIZE(bad); i++)
		if (zc__rx_validate_opts(&bad[i], PAGE) != -EINVAL)
			fail_msg("bad options #%u accepted", i);
	for (i = 0; i < ZC__ARRAY_SIZE(o.reserved); i++) {
		memset(&o, 0, sizeof(o));
		o.reserved[i] = 0x100;
		assert_int_equal(zc__rx_validate_opts(&o, PAGE), -EINVAL);
	}
	/* The page size is the machine's, not a constant. */
	memset(&o, 0, sizeof(o));
	o.slot_size = PAGE;
	assert_int_equal(zc__rx_validate_opts(&o, 16384), -EINVAL);
}

/* Bad options fail before the socket or the address space is touched. */
static void test_create_bad_opts(void **state)
{
	struct zc_rx_opts o = {.flags = 1u << 7};
	struct zc_rx *rx = (struct zc_rx *)&o;

	assert_int_equal(zc_rx_create(&rx, F.fd, &o), -EINVAL);
	assert_null(rx);
	o = (struct zc_rx_opts){.reserved = {[2] = 1}};
	assert_int_equal(zc_rx_create(&rx, F.fd, &o), -EINVAL);
	o = (struct zc_rx_opts){.slot_size = 1000};
	assert_int_equal(zc_rx_create(&rx, F.fd, &o), -EINVAL);
	o = (struct zc_rx_opts){.mode = 3};
	assert_int_equal(zc_rx_create(&rx, F.fd, &o), -EINVAL);
	o = (struct zc_rx_opts){.zap = 4};
	assert_int_equal(zc_rx_create(&rx, F.fd, &o), -EINVAL);
	assert_int_equal(zc_rx_create(NULL, F.fd, NULL), -EINVAL);
	assert_int_equal(F.mmap_fd_calls, 0);
	assert_int_equal(F.setsockopt_calls, 0);
	assert_int_equal(F.learned, 0);
}

static void test_create_not_tcp(void **state)
{
	int p[2], u[2], s[2];
	struct zc_rx *rx;

	assert_int_equal(zc_rx_create(&rx, -1, NULL), -EINVAL);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(zc_rx_create(&rx, p[0], NULL), -EINVAL);
	assert_int_equal(zc__udp_pair(u, AF_INET), 0);
	assert_int_equal(zc_rx_create(&rx, u[0], NULL), -EINVAL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	assert_int_equal(zc_rx_create(&rx, s[0], NULL), -EINVAL);
	assert_null(rx);
	close(p[0]);
	close(p[1]);
	close(u[0]);
	close(u[1]);
	close(s[0]);
	close(s[1]);
}

static void test_create_not_connected(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int ufd = socket(AF_INET6, SOCK_STREAM, 0);
	struct zc_rx *rx;

	assert_true(lfd >= 0 && ufd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(zc_rx_create(&rx, lfd, NULL), -ENOTCONN);
	assert_int_equal(zc_rx_create(&rx, ufd, NULL), -ENOTCONN);
	assert_null(rx);
	close(lfd);
	close(ufd);
}

static void test_null_args(void **state)
{
	struct zc_rx *rx = create_zc(state, 2, 0);
	struct zc_view v = {0};
	struct zc_rx_stats st;

	assert_int_equal(zc_rx_read(NULL, &v), -EINVAL);
	assert_int_equal(zc_rx_read(rx, NULL), -EINVAL);
	assert_int_equal(zc_rx_release(NULL, &v), -EINVAL);
	assert_int_equal(zc_rx_release(rx, NULL), -EINVAL);
	assert_int_equal(zc_rx_wait(NULL, 0), -EINVAL);
	assert_int_equal(zc_rx_mode(NULL), -EINVAL);
	zc_rx_get_stats(NULL, &st);
	zc_rx_get_stats(rx, NULL);
	zc_rx_free(NULL);
	assert_int_equal(F.ncalls, 0);
}

static void test_names(void **state)
{
	int i;

	for (i = ZC_RX_AUTO; i <= ZC_RX_COPY; i++)
		assert_int_equal(zc_rx_mode_parse(zc_rx_mode_name(i)), i);
	for (i = ZC_RX_ZAP_DEFAULT; i <= ZC_RX_ZAP_KERNEL; i++)
		assert_int_equal(zc_rx_zap_parse(zc_rx_zap_name(i)), i);
	assert_string_equal(zc_rx_mode_name(ZC_RX_ZEROCOPY), "zerocopy");
	assert_string_equal(zc_rx_zap_name(ZC_RX_ZAP_BATCH), "batch");
	assert_null(zc_rx_mode_name(-1));
	assert_null(zc_rx_mode_name(3));
	assert_null(zc_rx_zap_name(4));
	assert_int_equal(zc_rx_mode_parse("Zerocopy"), -EINVAL);
	assert_int_equal(zc_rx_mode_parse(""), -EINVAL);
	assert_int_equal(zc_rx_mode_parse(NULL), -EINVAL);
	assert_int_equal(zc_rx_zap_parse("none"), -EINVAL);
	assert_int_equal(zc_rx_zap_parse(NULL), -EINVAL);
}

/* --- handle creation ------------------------------------------------------ */

static void test_create_window(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_ZEROCOPY};
	struct zc_rx *rx = create(state, &o);

	assert_int_equal(zc_rx_mode(rx), ZC_RX_ZEROCOPY);
	assert_int_equal(F.mmap_fd_calls, 1);
	assert_int_equal(F.window_prot, PROT_READ);
	assert_true(F.window_flags & MAP_SHARED);
	assert_true(F.window_flags & MAP_FIXED);
	assert_int_equal((uintptr_t)F.window % WINDOW_ALIGN, 0);
	/* Defaults: 8 slots of 512 KiB. */
	assert_int_equal(F.window_len, 8u * (512u << 10));
	/* The probe asks for nothing, with our whole struct. */
	assert_int_equal(F.learned, 1);
	assert_int_equal(F.learn_call.length, 0);
	assert_int_equal(F.learn_call.copybuf_address, 0);
	assert_int_equal(F.learn_call.optlen, F.kernel_len);
	assert_int_equal(F.learn_call.address, (uintptr_t)F.window);
	/* Urgent data stays in line; the low-water mark is left alone. */
	assert_int_equal(F.oobinline, 1);
	assert_int_equal(F.rcvlowat, 0);
	*state = NULL;
	zc_rx_free(rx);
	assert_true(F.window_unmapped);
}

static void test_create_rcvlowat(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_ZEROCOPY,
			       .flags = ZC_RX_F_RCVLOWAT,
			       .slot_size = 64u << 10};

	create(state, &o);
	assert_int_equal(F.rcvlowat, 64 << 10);
}

static void test_create_setsockopt_fails(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_ZEROCOPY};
	struct zc_rx *rx;

	F.setsockopt_fail_name = SO_OOBINLINE;
	F.setsockopt_errno = ENOMEM;
	assert_int_equal(zc_rx_create(&rx, F.fd, &o), -ENOMEM);
	assert_null(rx);
	assert_true(F.window_unmapped);
}

/* A kernel without TCP_ZEROCOPY_RECEIVE (before 4.18): zerocopy mode
 * refuses, auto mode quietly copies. */
static void test_create_no_kernel_support(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_ZEROCOPY};
	struct zc_rx *rx;
	struct zc_view v;

	F.kernel_len = 0;
	assert_int_equal(zc_rx_create(&rx, F.fd, &o), -EOPNOTSUPP);
	assert_null(rx);
	assert_true(F.window_unmapped);

	F.window_unmapped = 0;
	F.learned = 0;
	o.mode = ZC_RX_AUTO;
	rx = create(state, &o);
	assert_true(F.window_unmapped);
	assert_int_equal(zc_rx_mode(rx), ZC_RX_COPY);
	script_recv(1000, 0);
	read_expect(rx, &v, 0, 1000);
	assert_int_equal(F.recv_calls[0].flags, MSG_DONTWAIT);
	assert_script_done();
}

/* mmap() on a TCP socket fails with ENODEV where the kernel has no
 * receive zero-copy at all. */
static void test_create_mmap_enodev(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_ZEROCOPY};
	unsigned int unmaps;
	struct zc_rx *rx;

	F.mmap_errno = ENODEV;
	assert_int_equal(zc_rx_create(&rx, F.fd, &o), -EOPNOTSUPP);
	assert_null(rx);
	/* The 2 MiB alignment placeholder was given back. */
	assert_true(F.munmap_calls >= 1);
	unmaps = F.munmap_calls;
	o.mode = ZC_RX_AUTO;
	rx = create(state, &o);
	assert_int_equal(zc_rx_mode(rx), ZC_RX_COPY);
	assert_true(F.munmap_calls > unmaps);
	assert_int_equal(F.learned, 0);
}

static void test_create_learn_einval(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_ZEROCOPY};
	struct zc_rx *rx;

	F.learn_errno = EINVAL;
	assert_int_equal(zc_rx_create(&rx, F.fd, &o), -EINVAL);
	assert_null(rx);
	assert_true(F.window_unmapped);
}

/* --- one read: what the engine asks and what it hands out ---------------- */

static void test_read_all_mapped(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, ZC_RX_ZAP_EACH);
	struct zc_rx_stats st;
	struct zc_view v;

	script(&(struct zc_answer){.length = 16 * PAGE, .inq = 100000}, 1);
	read_expect(rx, &v, 16 * PAGE, 0);
	assert_script_done();
	/* A whole slot asked for, without a copybuf, at the slot start, and
	 * with the clean hint: nothing was ever mapped there. */
	assert_int_equal(F.calls[0].address, (uintptr_t)slot_addr(rx, 0));
	assert_int_equal(F.calls[0].length, 16 * PAGE);
	assert_int_equal(F.calls[0].copybuf_address, 0);
	assert_int_equal(F.calls[0].copybuf_len, 0);
	assert_int_equal(F.calls[0].flags, HINT);
	assert_int_equal(F.calls[0].optlen, F.kernel_len);
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.bytes_mapped, 16 * PAGE);
	assert_int_equal(st.bytes_copybuf + st.bytes_read, 0);
	assert_int_equal(st.zerocopy_calls, 1);
	assert_int_equal(st.views, 1);
	assert_int_equal(st.recv_calls + st.skip_hints + st.small_queue, 0);
	assert_int_equal(zc_rx_release(rx, &v), 0);
}

/* The kernel maps fewer bytes than asked for (a shorter queue). */
static void test_read_partial_length(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_view v;

	script((struct zc_answer[]){{.length = 3 * PAGE, .inq = 5 * PAGE},
				    {.length = 5 * PAGE, .inq = 1}},
	       2);
	read_expect(rx, &v, 3 * PAGE, 0);
	read_expect(rx, &v, 5 * PAGE, 0);
	assert_int_equal(v.slot, 1);
	assert_script_done();
}

/* A length that is not whole pages, or more than the slot, cannot come
 * from a sane kernel: refuse it rather than hand out bytes past the slot. */
static void test_read_bad_length(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_view v;

	script((struct zc_answer[]){{.length = PAGE + 1, .inq = 1},
				    {.length = 17 * PAGE, .inq = 1},
				    {.length = 100, .inq = 1}},
	       3);
	assert_int_equal(zc_rx_read(rx, &v), -EPROTO);
	assert_int_equal(zc_rx_read(rx, &v), -EPROTO);
	assert_int_equal(zc_rx_read(rx, &v), -EPROTO);
	assert_script_done();
}

/*
 * Bytes the kernel could not map (recv_skip_hint) after mapped ones: this
 * read returns the mapped bytes; the next call carries the copybuf, and
 * keeps carrying it while nothing maps; the first call that maps without a
 * hint turns it off again.
 */
static void test_read_stragglers(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_rx_stats st;

	script(
		(struct zc_answer[]){
			{.length = 2 * PAGE, .skip = 100, .inq = 100000},
			{.copybuf_len = 100, .inq = 99900},
			{.length = 4 * PAGE, .inq = 80000},
			{.length = 16 * PAGE, .inq = 70000}},
		4);
	read_release(rx, 2 * PAGE, 0);
	assert_int_equal(F.calls[0].copybuf_address, 0);
	read_release(rx, 0, 100);
	assert_int_equal(F.ncalls, 2);
	/* Exactly the unmappable bytes the kernel reported. */
	assert_int_equal(F.calls[1].copybuf_len, 100);
	/* The copybuf is the slot's own straggler room. */
	assert_non_null((void *)(uintptr_t)F.calls[1].copybuf_address);
	read_release(rx, 4 * PAGE, 0);
	/* The stragglers were copied: no copybuf for the pages after. */
	assert_int_equal(F.calls[2].copybuf_address, 0);
	read_release(rx, 16 * PAGE, 0);
	assert_int_equal(F.calls[3].copybuf_address, 0);
	assert_int_equal(F.calls[3].copybuf_len, 0);
	assert_script_done();
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.skip_hints, 1);
	assert_int_equal(st.bytes_copybuf, 100);
	assert_int_equal(st.bytes_mapped, 22 * PAGE);
	assert_int_equal(st.recv_calls, 0);
}

/* Mapped pages and the stragglers after them in one call: one view,
 * mapped first, then copied, in stream order. */
static void test_read_mapped_and_copied(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);

	script(
		(struct zc_answer[]){
			{.length = PAGE, .skip = 7, .inq = 50000},
			{.length = 3 * PAGE, .copybuf_len = 7, .inq = 40000}},
		2);
	read_release(rx, PAGE, 0);
	read_release(rx, 3 * PAGE, 7);
	assert_script_done();
}

/* Nothing mapped but a skip hint, on a call without copybuf: the same
 * read asks again with the copybuf (5.11 kernels copy there). */
static void test_read_skip_then_copybuf_same_read(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_rx_stats st;

	script((struct zc_answer[]){{.skip = 300, .inq = 200000},
				    {.copybuf_len = 300, .inq = 199700}},
	       2);
	read_release(rx, 0, 300);
	assert_script_done();
	assert_int_equal(F.calls[0].copybuf_address, 0);
	assert_true(F.calls[1].copybuf_address != 0);
	assert_int_equal(F.calls[1].copybuf_len, 300);
	/* Same slot both times. */
	assert_int_equal(F.calls[0].address, F.calls[1].address);
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.zerocopy_calls, 2);
	assert_int_equal(st.skip_hints, 1);
	assert_int_equal(st.recv_calls, 0);
}

/* inq below one page: the kernel maps nothing and hints the whole queue;
 * with the copybuf it copies the queue whole (inq <= copybuf_len). */
static void test_read_inq_below_page(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_rx_stats st;

	script((struct zc_answer[]){{.skip = 1000, .inq = 1000},
				    {.copybuf_len = 1000, .inq = 0}},
	       2);
	read_release(rx, 0, 1000);
	assert_script_done();
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.small_queue, 1);
	assert_int_equal(st.bytes_copybuf, 1000);
}

/* With the copybuf passed and a queue no longer than it, the kernel copies
 * everything, even whole pages (receive_fallback_to_copy, 5.11). */
static void test_read_copybuf_larger_than_inq(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_rx_stats st;

	/* A 32-byte header, then 16 pages of payload, all queued. A copybuf
	 * of its full 16 KiB would be larger than the queue and the kernel
	 * would copy the payload too; the engine passes only the 32 bytes
	 * the kernel reported unmappable. */
	script(
		(struct zc_answer[]){
			{.skip = 32, .inq = 32 + 4 * PAGE},
			{.copybuf_len = 32, .inq = 4 * PAGE},
			{.length = 4 * PAGE, .inq = 0}},
		3);
	read_release(rx, 0, 32);
	assert_int_equal(F.calls[0].copybuf_address, 0);
	assert_int_equal(F.calls[1].copybuf_len, 32);
	read_release(rx, 4 * PAGE, 0);
	assert_int_equal(F.calls[2].copybuf_address, 0);
	assert_script_done();
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.bytes_copybuf, 32);
	assert_int_equal(st.bytes_mapped, 4 * PAGE);
}

/* A copybuf_len larger than the copybuf we passed: refuse. */
static void test_read_copybuf_len_too_large(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_view v;

	script((struct zc_answer[]){{.skip = 10, .inq = 10},
				    {.copybuf_len = 4 * PAGE + 1}},
	       2);
	assert_int_equal(zc_rx_read(rx, &v), -EPROTO);
	assert_script_done();
}

/* The kernel's straggler copy failed (negative copybuf_len): the bytes are
 * still queued, so they are read by recv(), without blocking. */
static void test_read_copybuf_error_falls_to_recv(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_rx_stats st;

	script(
		(struct zc_answer[]){
			{.skip = 300, .inq = 300},
			{.copybuf_len = -EFAULT, .skip = 300, .inq = 300}},
		2);
	script_recv(300, 0);
	read_release(rx, 0, 300);
	assert_script_done();
	assert_int_equal(F.recv_calls[0].len, 300);
	assert_true(F.recv_calls[0].flags & MSG_DONTWAIT);
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.bytes_read, 300);
	assert_int_equal(st.recv_calls, 1);
}

/* Kernels before 5.11 have no copybuf: stragglers go to recv(), sized by
 * the hint. Bytes beyond the kernel's struct are never passed. */
static void test_read_stragglers_without_copybuf(void **state)
{
	struct zc_rx *rx;
	struct zc_rx_stats st;

	F.kernel_len = ZC__ZCR_LEN_INQ_ERR; /* 5.7 */
	rx = create_zc(state, 4, 0);
	script(
		(struct zc_answer[]){
			{.length = PAGE, .skip = 20, .inq = 20 + PAGE},
			{.skip = 20, .inq = 20 + PAGE},
			{.length = PAGE, .inq = 1}},
		3);
	script_recv(20, 0);
	read_release(rx, PAGE, 0);
	read_release(rx, 0, 20);
	read_release(rx, PAGE, 0);
	assert_script_done();
	assert_int_equal(F.recv_calls[0].len, 20);
	assert_true(F.recv_calls[0].flags & MSG_DONTWAIT);
	for (unsigned int i = 0; i < F.ncalls; i++) {
		assert_int_equal(F.calls[i].optlen, ZC__ZCR_LEN_INQ_ERR);
		assert_int_equal(F.calls[i].copybuf_address, 0);
		assert_int_equal(F.calls[i].flags, 0);
	}
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.zerocopy_calls, 3);
	assert_int_equal(st.recv_calls, 1);
}

/* 4.18-5.6: no inq, no err, no copybuf, no hint. */
static void test_read_oldest_kernel(void **state)
{
	struct zc_rx *rx;

	F.kernel_len = ZC__ZCR_LEN_BASE;
	rx = create_zc(state, 4, 0);
	script((struct zc_answer[]){{.length = 2 * PAGE, .skip = 5},
				    {.skip = 5}},
	       2);
	script_recv(5, 0);
	read_release(rx, 2 * PAGE, 0);
	read_release(rx, 0, 5);
	assert_script_done();
	assert_int_equal(F.calls[0].optlen, ZC__ZCR_LEN_BASE);
	assert_int_equal(F.calls[1].optlen, ZC__ZCR_LEN_BASE);
}

/* --- errors and the end of the stream ------------------------------------- */

/*
 * The kernel's err field: sock_error(sk), a NEGATIVE errno (-ECONNRESET
 * after a reset; measured on 6.18: err -104 with an empty queue). Without
 * bytes it is the read's result; with bytes it comes on the next read,
 * without another call, as sock_error() already cleared it; from the probe
 * call in zc_rx_create() it comes on the first read.
 * A socket error ends the stream: every later read returns it again.
 */
static void test_read_kernel_err_field(void **state)
{
	struct zc_rx *rx;
	struct zc_view v;

	/* An error the kernel handed over when the handle was created is
	 * returned by the first read and by every read after it: reading it
	 * cleared it from the socket, so the stream has ended. */
	F.learn_err = ETIMEDOUT;
	rx = create_zc(state, 4, 0);
	assert_int_equal(zc_rx_read(rx, &v), -ETIMEDOUT);
	assert_int_equal(zc_rx_read(rx, &v), -ETIMEDOUT);
	assert_int_equal(F.ncalls, 0);
}

/* An error that comes with bytes is returned after them, and sticks. */
static void test_read_kernel_err_after_bytes(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_view v;

	script((struct zc_answer[]){
		       {.length = 2 * PAGE, .err = ECONNRESET, .inq = 0}},
	       1);
	read_expect(rx, &v, 2 * PAGE, 0);
	assert_int_equal(zc_rx_release(rx, &v), 0);
	assert_int_equal(zc_rx_wait(rx, 10), 1); /* the error is pending */
	assert_int_equal(F.npoll, 0);
	assert_int_equal(zc_rx_read(rx, &v), -ECONNRESET);
	assert_int_equal(zc_rx_read(rx, &v), -ECONNRESET);
	assert_int_equal(F.ncalls, 1);
	assert_script_done();
}

/* EINVAL (or any other failure) from the kernel is returned as is and the
 * handle stays usable. */
static void test_read_einval_from_kernel(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_view v;

	script((struct zc_answer[]){{.fail_errno = EINVAL},
				    {.fail_errno = EFAULT},
				    {.length = PAGE, .inq = 1}},
	       3);
	assert_int_equal(zc_rx_read(rx, &v), -EINVAL);
	assert_int_equal(zc_rx_read(rx, &v), -EFAULT);
	read_expect(rx, &v, PAGE, 0);
	assert_script_done();
}

/* -EIO: queue empty and the socket done. SO_ERROR tells an end (0) from a
 * reset; after the end, reads return 0 without asking the kernel. */
static void test_read_eio_is_end(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_view v;

	script((struct zc_answer[]){{.length = PAGE, .inq = 1},
				    {.fail_errno = EIO}},
	       2);
	read_release(rx, PAGE, 0);
	assert_int_equal(zc_rx_read(rx, &v), 0);
	assert_int_equal(F.so_error_calls, 1);
	assert_int_equal(zc_rx_read(rx, &v), 0);
	assert_int_equal(zc_rx_wait(rx, 0), 1);
	assert_script_done();
	assert_int_equal(F.npoll, 0);
}

static void test_read_eio_is_reset(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);
	struct zc_view v;

	F.so_error = ECONNRESET;
	script(&(struct zc_answer){.fail_errno = EIO}, 1);
	assert_int_equal(zc_rx_read(rx, &v), -ECONNRESET);
	assert_script_done();
}

/* --- blocking and non-blocking sockets ------------------------------------ */

static void test_read_nonblocking_empty(void **state)
{
	struct zc_rx *rx;
	struct zc_view v;

	assert_int_equal(fcntl(F.fd, F_SETFL, O_NONBLOCK), 0);
	rx = create_zc(state, 4, 0);
	/* Each empty answer is checked with recv(MSG_DONTWAIT): the kernel
	 * never says -EIO after a reset whose error was handed over. */
	script((struct zc_answer[]){{.inq = 0}, {.inq = 0}}, 2);
	script_recv(-1, EAGAIN);
	script_recv(-1, EAGAIN);
	assert_int_equal(zc_rx_read(rx, &v), -EAGAIN);
	assert_int_equal(zc_rx_read(rx, &v), -EAGAIN);
	assert_int_equal(F.npoll, 0);
	assert_script_done();
}

/* On a blocking socket an empty answer means: poll, then ask again; and a
 * read that left the queue empty polls before its call. */
static void test_read_blocking_waits(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, 0);

	script((struct zc_answer[]){{.inq = 0},
				    {.length = PAGE, .inq = 0},
				    {.length = 2 * PAGE, .inq = 5},
				    {.length = 3 * PAGE, .inq = 5}},
	       4);
	script_recv(-1, EAGAIN); /* the empty answer's check */
	read_release(rx, PAGE, 0);
	assert_int_equal(F.npoll, 1);
	read_release(rx, 2 * PAGE, 0);
	assert_int_equal(F.npoll, 2);
	/* inq was 5: no wait before this one. */
	read_release(rx, 3 * PAGE, 0);
	assert_int_equal(F.npoll, 2);
	assert_script_done();
}

/* --- views: slots, release, staleness ------------------------------------- */

static void test_enobufs_when_all_held(void **state)
{
	struct zc_rx *rx = create_zc(state, 2, 0);
	struct zc_view a, b, c;

	script((struct zc_answer[]){{.length = PAGE, .inq = 5},
				    {.length = PAGE, .inq = 5},
				    {.length = 2 * PAGE, .inq = 5}},
	       3);
	read_expect(rx, &a, PAGE, 0);
	read_expect(rx, &b, PAGE, 0);
	assert_int_not_equal(a.slot, b.slot);
	assert_int_equal(zc_rx_read(rx, &c), -ENOBUFS);
	assert_int_equal(F.ncalls, 2); /* refused without asking the kernel */
	assert_int_equal(zc_rx_release(rx, &a), 0);
	read_expect(rx, &c, 2 * PAGE, 0);
	assert_int_equal(c.slot, 0);
	assert_script_done();
}

static void test_release_twice_and_stale(void **state)
{
	struct zc_rx *rx = create_zc(state, 1, 0);
	struct zc_view v, saved, bad;

	script((struct zc_answer[]){{.length = PAGE, .inq = 5},
				    {.length = PAGE, .inq = 5}},
	       2);
	read_expect(rx, &v, PAGE, 0);
	saved = v;
	bad = v;
	bad.slot = 1;
	assert_int_equal(zc_rx_release(rx, &bad), -EINVAL);
	bad = v;
	bad.generation++;
	assert_int_equal(zc_rx_release(rx, &bad), -EINVAL);
	assert_int_equal(zc_rx_release(rx, &v), 0);
	/* release() cleared v; a copy made before is no longer held. */
	assert_int_equal(v.len, 0);
	assert_int_equal(zc_rx_release(rx, &v), -EINVAL);
	assert_int_equal(zc_rx_release(rx, &saved), -EINVAL);
	/* The slot is in use again: the old view is stale, not current. */
	read_expect(rx, &v, PAGE, 0);
	assert_int_equal(v.slot, saved.slot);
	assert_int_equal(zc_rx_release(rx, &saved), -EINVAL);
	assert_int_equal(zc_rx_release(rx, &v), 0);
	assert_script_done();
}

/* Several views held, released out of order: each keeps its bytes until
 * its own release, and every slot comes back. */
static void test_views_out_of_order(void **state)
{
	static const int order[] = {2, 0, 3, 1};
	struct zc_rx *rx = create_zc(state, 4, ZC_RX_ZAP_EACH);
	struct zc_view v[4];
	uint64_t start[4];
	unsigned int i;
	size_t k;

	for (i = 0; i < 4; i++)
		script(&(struct zc_answer){.length = (i + 1) * PAGE, .inq = 5},
		       1);
	for (i = 0; i < 4; i++) {
		start[i] = F.verified;
		read_expect(rx, &v[i], (i + 1) * PAGE, 0);
	}
	for (i = 0; i < 4; i++) {
		const struct zc_view *w = &v[order[i]];

		for (k = 0; k < w->len; k++)
			if (w->mapped[k] != pattern(start[order[i]] + k))
				fail_msg("held view %d changed", order[i]);
		assert_int_equal(zc_rx_release(rx, &v[order[i]]), 0);
	}
	script(&(struct zc_answer){.length = PAGE, .inq = 5}, 1);
	read_release(rx, PAGE, 0);
	assert_script_done();
}

/* --- zapping -------------------------------------------------------------- */

static void assert_madv(unsigned int i, const void *addr, size_t len)
{
	assert_true(i < F.nmadv);
	assert_int_equal(F.madv[i].addr, (uintptr_t)addr);
	assert_int_equal(F.madv[i].len, len);
	assert_int_equal(F.madv[i].advice, MADV_DONTNEED);
}

/* Each: one madvise per release of a view that had pages, over exactly
 * those pages; the slot is clean for its next receive (hint set). */
static void test_zap_each(void **state)
{
	struct zc_rx *rx = create_zc(state, 1, ZC_RX_ZAP_EACH);
	struct zc_rx_stats st;

	script((struct zc_answer[]){{.length = 3 * PAGE, .inq = 5},
				    {.skip = 9, .inq = 9},
				    {.copybuf_len = 9, .inq = 5},
				    {.length = PAGE, .inq = 5}},
	       4);
	read_release(rx, 3 * PAGE, 0);
	assert_int_equal(F.nmadv, 1);
	assert_madv(0, slot_addr(rx, 0), 3 * PAGE);
	/* A view with no pages needs no zap. */
	read_release(rx, 0, 9);
	assert_int_equal(F.nmadv, 1);
	read_release(rx, PAGE, 0);
	assert_int_equal(F.nmadv, 2);
	assert_madv(1, slot_addr(rx, 0), PAGE);
	for (unsigned int i = 0; i < F.ncalls; i++)
		assert_int_equal(F.calls[i].flags, HINT);
	assert_script_done();
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.zaps, 2);
}

/* Kernel: no madvise ever; a slot that held pages is not clean, so no
 * hint when it is reused (the kernel must zap it). */
static void test_zap_kernel(void **state)
{
	struct zc_rx *rx = create_zc(state, 1, ZC_RX_ZAP_KERNEL);
	struct zc_rx_stats st;

	script((struct zc_answer[]){{.length = 3 * PAGE, .inq = 5},
				    {.length = PAGE, .inq = 5},
				    {.length = PAGE, .inq = 5}},
	       3);
	read_release(rx, 3 * PAGE, 0);
	read_release(rx, PAGE, 0);
	read_release(rx, PAGE, 0);
	assert_int_equal(F.calls[0].flags, HINT);
	assert_int_equal(F.calls[1].flags, 0);
	assert_int_equal(F.calls[2].flags, 0);
	assert_int_equal(F.nmadv, 0);
	assert_script_done();
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.zaps, 0);
}

/* Batch: nothing on release; when a released slot with pages is needed
 * again, one madvise covers the run of released slots after it. */
static void test_zap_batch(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, ZC_RX_ZAP_BATCH);
	struct zc_rx_stats st;
	unsigned int i;

	script((struct zc_answer[]){{.length = 16 * PAGE, .inq = 5},
				    {.length = 16 * PAGE, .inq = 5},
				    {.length = 2 * PAGE, .inq = 5},
				    {.length = PAGE, .inq = 5},
				    {.length = PAGE, .inq = 5},
				    {.length = PAGE, .inq = 5},
				    {.length = PAGE, .inq = 5}},
	       7);
	for (i = 0; i < 3; i++)
		read_release(rx, i < 2 ? 16 * PAGE : 2 * PAGE, 0);
	assert_int_equal(F.nmadv, 0);
	/* Slot 3 was never mapped: no zap, hint. */
	read_release(rx, PAGE, 0);
	assert_int_equal(F.nmadv, 0);
	assert_int_equal(F.calls[3].flags, HINT);
	/* Slot 0 again: one zap for the whole run of released slots with
	 * pages, 0-3, up to slot 3's last page. */
	read_release(rx, PAGE, 0);
	assert_int_equal(F.nmadv, 1);
	assert_madv(0, slot_addr(rx, 0), 3 * 16 * PAGE + PAGE);
	assert_int_equal(F.calls[4].flags, HINT);
	/* Slots 1 and 2 were zapped with it. */
	read_release(rx, PAGE, 0);
	read_release(rx, PAGE, 0);
	assert_int_equal(F.nmadv, 1);
	assert_int_equal(F.calls[5].flags, HINT);
	assert_int_equal(F.calls[6].flags, HINT);
	assert_script_done();
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.zaps, 1);
}

/* A batch run stops at a held slot: its pages are still being read. */
static void test_zap_batch_stops_at_held(void **state)
{
	struct zc_rx *rx = create_zc(state, 4, ZC_RX_ZAP_BATCH);
	struct zc_view v[4];
	unsigned int i;

	for (i = 0; i < 6; i++)
		script(&(struct zc_answer){.length = (i % 4 + 1) * PAGE,
					   .inq = 5},
		       1);
	for (i = 0; i < 4; i++)
		read_expect(rx, &v[i], (i + 1) * PAGE, 0);
	assert_int_equal(zc_rx_release(rx, &v[0]), 0);
	assert_int_equal(zc_rx_release(rx, &v[2]), 0);
	read_expect(rx, &v[0], PAGE, 0);
	assert_int_equal(v[0].slot, 0);
	assert_int_equal(F.nmadv, 1);
	assert_madv(0, slot_addr(rx, 0), PAGE);
	read_expect(rx, &v[2], 2 * PAGE, 0);
	assert_int_equal(v[2].slot, 2);
	assert_int_equal(F.nmadv, 2);
	assert_madv(1, slot_addr(rx, 2), 3 * PAGE);
	assert_script_done();
	for (i = 0; i < 4; i++)
		assert_int_equal(zc_rx_release(rx, &v[i]), 0);
}

/* Without the 5.11 flags field the hint is never passed. */
static void test_no_hint_on_old_kernel(void **state)
{
	struct zc_rx *rx;

	F.kernel_len = ZC__ZCR_LEN_INQ_ERR;
	rx = create_zc(state, 1, ZC_RX_ZAP_EACH);
	script(&(struct zc_answer){.length = PAGE, .inq = 5}, 1);
	read_release(rx, PAGE, 0);
	assert_int_equal(F.calls[0].flags, 0);
	assert_int_equal(F.nmadv, 1);
	assert_script_done();
}

/* --- copy mode ------------------------------------------------------------ */

static void test_copy_mode(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_COPY, .slot_size = 16 * PAGE};
	struct zc_rx *rx = create(state, &o);
	struct zc_rx_stats st;
	struct zc_view v;

	assert_int_equal(zc_rx_mode(rx), ZC_RX_COPY);
	assert_int_equal(F.mmap_fd_calls, 0);
	assert_int_equal(F.learned, 0);
	assert_int_equal(F.oobinline, 1);
	script_recv(5000, 0);
	script_recv(-1, EINTR);
	script_recv(0, 0);
	read_release(rx, 0, 5000);
	/* A whole slot's worth (the copybuf default is larger here). */
	assert_true(F.recv_calls[0].len >= 16 * PAGE);
	/* Blocking socket: recv() must not sleep, poll() waits instead. */
	assert_int_equal(F.recv_calls[0].flags, MSG_DONTWAIT);
	assert_int_equal(zc_rx_read(rx, &v), -EINTR);
	assert_int_equal(zc_rx_read(rx, &v), 0);
	assert_int_equal(zc_rx_read(rx, &v), 0);
	assert_script_done();
	zc_rx_get_stats(rx, &st);
	assert_int_equal(st.bytes_read, 5000);
	assert_int_equal(st.recv_calls, 3);
	assert_int_equal(st.zerocopy_calls + st.bytes_mapped, 0);
}

/* A copy read on a blocking socket waits in poll(), never inside recv():
 * a recv() that copied part of a raised SO_RCVLOWAT is not woken by the
 * rest (docs/KERNEL_FINDINGS.md). */
static void test_copy_blocking_waits_in_poll(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_COPY};
	struct zc_rx *rx = create(state, &o);
	struct zc_view v;

	script_recv(-1, EAGAIN);
	script_recv(3000, 0);
	read_release(rx, 0, 3000);
	assert_int_equal(F.npoll, 1);
	assert_int_equal(F.recv_calls[0].flags, MSG_DONTWAIT);
	assert_int_equal(F.recv_calls[1].flags, MSG_DONTWAIT);
	script_recv(-1, EINTR);
	assert_int_equal(zc_rx_read(rx, &v), -EINTR);
	assert_script_done();
}

static void test_copy_mode_reset(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_COPY};
	struct zc_rx *rx = create(state, &o);
	struct zc_view v;

	script_recv(-1, ECONNRESET);
	assert_int_equal(zc_rx_read(rx, &v), -ECONNRESET);
	assert_script_done();
}

static void test_wait(void **state)
{
	struct zc_rx *rx = create_zc(state, 2, 0);
	struct zc_view v;

	assert_int_equal(zc_rx_wait(rx, 10), 1);
	assert_int_equal(F.npoll, 1);
	/* After the end there is nothing to wait for: no poll. */
	script(&(struct zc_answer){.fail_errno = EIO}, 1);
	assert_int_equal(zc_rx_read(rx, &v), 0);
	assert_int_equal(zc_rx_wait(rx, -1), 1);
	assert_int_equal(F.npoll, 1);
	assert_script_done();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_accepts),
		cmocka_unit_test(test_validate_rejects),
		cmocka_unit_test(test_names),
		T(test_create_bad_opts),
		T(test_create_not_tcp),
		T(test_create_not_connected),
		T(test_null_args),
		T(test_create_window),
		T(test_create_rcvlowat),
		T(test_create_setsockopt_fails),
		T(test_create_no_kernel_support),
		T(test_create_mmap_enodev),
		T(test_create_learn_einval),
		T(test_read_all_mapped),
		T(test_read_partial_length),
		T(test_read_bad_length),
		T(test_read_stragglers),
		T(test_read_mapped_and_copied),
		T(test_read_skip_then_copybuf_same_read),
		T(test_read_inq_below_page),
		T(test_read_copybuf_larger_than_inq),
		T(test_read_copybuf_len_too_large),
		T(test_read_copybuf_error_falls_to_recv),
		T(test_read_stragglers_without_copybuf),
		T(test_read_oldest_kernel),
		T(test_read_kernel_err_field),
		T(test_read_kernel_err_after_bytes),
		T(test_read_einval_from_kernel),
		T(test_read_eio_is_end),
		T(test_read_eio_is_reset),
		T(test_read_nonblocking_empty),
		T(test_read_blocking_waits),
		T(test_copy_blocking_waits_in_poll),
		T(test_enobufs_when_all_held),
		T(test_release_twice_and_stale),
		T(test_views_out_of_order),
		T(test_zap_each),
		T(test_zap_kernel),
		T(test_zap_batch),
		T(test_zap_batch_stops_at_held),
		T(test_no_hint_on_old_kernel),
		T(test_copy_mode),
		T(test_copy_mode_reset),
		T(test_wait),
	};

	return cmocka_run_group_tests_name("rx", tests, NULL, NULL);
}
