/* SPDX-License-Identifier: MIT */
/*
 * What the running kernel supports, learned by trying each call on
 * throwaway loopback sockets. Never by kernel version: Debian's 6.1 and
 * backports differ from mainline in what they carry.
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "internal.h"
#include "net.h"

/* TCP_ZEROCOPY_RECEIVE on a connected loopback pair with nothing queued:
 * the kernel maps nothing but writes back the length of the struct it
 * knows. */
static void probe_rx(struct zc_probe *p)
{
	struct zc__tcp_zerocopy_receive zc;
	int fds[2] = { -1, -1 }, ret;
	socklen_t len = sizeof(zc);
	void *window;

	ret = zc__tcp_pair(fds, AF_INET);
	if (ret < 0) {
		p->rx_errno = -ret;
		return;
	}
	window = mmap(NULL, p->page_size, PROT_READ, MAP_SHARED, fds[1], 0);
	if (window == MAP_FAILED) {
		/* ENODEV: this kernel cannot mmap TCP sockets at all. */
		p->rx_errno = errno;
		goto out;
	}
	memset(&zc, 0, sizeof(zc));
	zc.address = (uintptr_t)window;
	zc.length = p->page_size;
	if (getsockopt(fds[1], IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &len)) {
		p->rx_errno = errno;
	} else {
		p->rx_struct_len = len;
		p->features |= ZC_PROBE_RX_ZEROCOPY;
		if (len >= ZC__ZCR_LEN_INQ_ERR)
			p->features |= ZC_PROBE_RX_INQ_ERR;
		if (len >= ZC__ZCR_LEN_COPYBUF)
			p->features |= ZC_PROBE_RX_COPYBUF |
				       ZC_PROBE_RX_TLB_CLEAN_HINT;
		if (len >= ZC__ZCR_LEN_FULL)
			p->features |= ZC_PROBE_RX_MSG_CONTROL;
	}
	munmap(window, p->page_size);
out:
	close(fds[0]);
	close(fds[1]);
}

static int so_zerocopy_works(int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1, ok;

	if (fd < 0)
		return 0;
	ok = !setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	close(fd);
	return ok;
}

/* A one-byte SEND_ZC with REPORT_USAGE over a connected UDP loopback pair:
 * kernels before 6.2 reject the flag with EINVAL. */
static int uring_report_usage_works(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int fds[2], ok = 0, more = 1, i;
	char byte = 'p';

	if (zc__udp_pair(fds, AF_INET) < 0)
		return 0;
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_send_zc(sqe, fds[0], &byte, 1, 0,
			      IORING_SEND_ZC_REPORT_USAGE);
	if (io_uring_submit(ring) != 1)
		goto out;
	/* Result CQE, then (when F_MORE) the notification. */
	for (i = 0; i < 2 && more; i++) {
		if (io_uring_wait_cqe(ring, &cqe))
			break;
		if (!(cqe->flags & IORING_CQE_F_NOTIF)) {
			ok = cqe->res == 1;
			more = !!(cqe->flags & IORING_CQE_F_MORE);
		}
		io_uring_cqe_seen(ring, cqe);
	}
out:
	close(fds[0]);
	close(fds[1]);
	return ok;
}

static void probe_uring(struct zc_probe *p)
{
	struct io_uring_probe *op;
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret < 0) {
		/* ENOSYS: not built; EPERM: io_uring_disabled sysctl. */
		p->uring_errno = -ret;
		return;
	}
	p->features |= ZC_PROBE_URING;
	op = io_uring_get_probe_ring(&ring);
	if (op) {
		if (io_uring_opcode_supported(op, IORING_OP_SEND_ZC))
			p->features |= ZC_PROBE_URING_SEND_ZC;
		if (io_uring_opcode_supported(op, IORING_OP_SENDMSG_ZC))
			p->features |= ZC_PROBE_URING_SENDMSG_ZC;
		io_uring_free_probe(op);
	}
	if ((p->features & ZC_PROBE_URING_SEND_ZC) &&
	    uring_report_usage_works(&ring))
		p->features |= ZC_PROBE_URING_REPORT_USAGE;
	io_uring_queue_exit(&ring);
}

ZC_API int zc_probe(struct zc_probe *p)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!p)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->page_size = page > 0 ? (uint32_t)page : 4096;
	probe_rx(p);
	if (so_zerocopy_works(SOCK_STREAM))
		p->features |= ZC_PROBE_TX_TCP_ZEROCOPY;
	if (so_zerocopy_works(SOCK_DGRAM))
		p->features |= ZC_PROBE_TX_UDP_ZEROCOPY;
	probe_uring(p);
	if (p->rx_errno == EMFILE || p->rx_errno == ENFILE)
		return -p->rx_errno;
	return 0;
}

static const char *const feature_names[] = {
	"rx_zerocopy",	   "rx_inq_err",    "rx_copybuf",
	"rx_tlb_clean_hint", "rx_msg_control", "tx_tcp_zerocopy",
	"tx_udp_zerocopy", "uring",	    "uring_send_zc",
	"uring_sendmsg_zc", "uring_report_usage",
};

ZC_API const char *zc_probe_feature_name(uint32_t bit)
{
	unsigned int i;

	if (!bit || (bit & (bit - 1)))
		return NULL;
	i = (unsigned int)__builtin_ctz(bit);
	return i < ZC__ARRAY_SIZE(feature_names) ? feature_names[i] : NULL;
}
