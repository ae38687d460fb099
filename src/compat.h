/* SPDX-License-Identifier: MIT */
/*
 * The only place with our copies of kernel structs and constants.
 *
 * glibc's <netinet/tcp.h> declares an old three-field tcp_zerocopy_receive
 * and cannot be included together with <linux/tcp.h>, and older headers
 * lack later fields and flags, so we define what we use here, under our own
 * names where a system header might also define them.
 */
#ifndef ZC_COMPAT_H
#define ZC_COMPAT_H

#include <stdint.h>

#ifndef TCP_ZEROCOPY_RECEIVE
#define TCP_ZEROCOPY_RECEIVE 35
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif

/* 5.11: the caller promises the range is already zapped. */
#define ZC__TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT 0x1

/* struct tcp_zerocopy_receive as of 5.12+ (uapi/linux/tcp.h). The kernel
 * copies min(optlen, its own size) and writes its own size back in optlen;
 * bytes we pass beyond its size must be zero or it returns EINVAL. */
struct zc__tcp_zerocopy_receive {
	uint64_t address;		/* in: address of mapping (4.18) */
	uint32_t length;		/* in/out: bytes to map / mapped (4.18) */
	uint32_t recv_skip_hint;	/* out: bytes to read by copy (4.18) */
	uint32_t inq;			/* out: bytes left in queue (5.7) */
	int32_t err;			/* out: socket error (5.7) */
	uint64_t copybuf_address;	/* in: straggler buffer (5.11) */
	int32_t copybuf_len;		/* in/out: its size / bytes used */
	uint32_t flags;			/* in: TLB_CLEAN_HINT (5.11) */
	uint64_t msg_control;		/* timestamps (5.12) */
	uint64_t msg_controllen;
	uint32_t msg_flags;
	uint32_t reserved;		/* must be 0 */
};

/* Field offsets the probe compares the kernel's optlen against. */
#define ZC__ZCR_LEN_BASE	16u	/* address, length, recv_skip_hint */
#define ZC__ZCR_LEN_INQ_ERR	24u	/* + inq, err */
#define ZC__ZCR_LEN_COPYBUF	40u	/* + copybuf_*, flags */
#define ZC__ZCR_LEN_FULL	64u	/* + msg_control..reserved */

/* io_uring constants liburing 2.3's bundled header lacks. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

#endif /* ZC_COMPAT_H */
