/* SPDX-License-Identifier: MIT */
/*
 * Teaches valgrind's memcheck one side effect of getsockopt it cannot
 * know: TCP_ZEROCOPY_RECEIVE (4.18) with copybuf_address (5.11) makes the
 * kernel copy copybuf_len bytes into a buffer whose address travels inside
 * the option struct. Valgrind's getsockopt wrapper marks only optval
 * itself as written, so every straggler byte zcnet hands out through a
 * view's `copied` would read as uninitialised and each use of it (the
 * message parser, the tests' pattern checks) would be reported.
 *
 * harden_valgrind.sh builds this into a shared object and preloads it;
 * the function below wraps libc's getsockopt (valgrind function wrapping:
 * a call through any pointer lands here too) and, after a successful
 * TCP_ZEROCOPY_RECEIVE, marks exactly the bytes the kernel reported
 * copying as defined. Nothing else is hidden: an uninitialised read
 * anywhere else, or beyond copybuf_len, is still an error. The library
 * itself carries no valgrind client requests.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

#define ZCR_OPTNAME 35 /* TCP_ZEROCOPY_RECEIVE */

/* The prefix of struct tcp_zerocopy_receive (uapi/linux/tcp.h) that
 * carries the copy buffer. */
struct zcr_prefix {
	uint64_t address;
	uint32_t length;
	uint32_t recv_skip_hint;
	uint32_t inq;
	int32_t err;
	uint64_t copybuf_address;
	int32_t copybuf_len;
	uint32_t flags;
};

int I_WRAP_SONAME_FNNAME_ZU(libcZdsoZa, getsockopt)(int fd, int level, int name,
						    void *val, socklen_t *len);

int I_WRAP_SONAME_FNNAME_ZU(libcZdsoZa, getsockopt)(int fd, int level, int name,
						    void *val, socklen_t *len)
{
	const struct zcr_prefix *z = val;
	OrigFn fn;
	int ret;

	VALGRIND_GET_ORIG_FN(fn);
	CALL_FN_W_5W(ret, fn, fd, level, name, val, len);
	if (ret == 0 && level == IPPROTO_TCP && name == ZCR_OPTNAME && z &&
	    len && *len >= offsetof(struct zcr_prefix, flags) &&
	    z->copybuf_address && z->copybuf_len > 0)
		VALGRIND_MAKE_MEM_DEFINED((void *)(uintptr_t)z->copybuf_address,
					  (size_t)z->copybuf_len);
	return ret;
}
