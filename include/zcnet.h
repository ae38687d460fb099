/* SPDX-License-Identifier: MIT */
/*
 * zcnet: Linux zero-copy networking made practical.
 *
 * The one public header. Every function returns 0 or a count on success and
 * a negative errno on failure; none of them touches the global errno you can
 * rely on, prints, exits, installs signal handlers or owns an event loop.
 * The caller owns every socket fd; zcnet never closes it. One handle is used
 * by one thread at a time; different handles are independent.
 *
 * Options structs: all-zero means sensible defaults. Unknown flags or
 * non-zero reserved fields give -EINVAL, so adding a field later is safe.
 */
#ifndef ZCNET_H
#define ZCNET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h> /* struct iovec */

#ifdef __cplusplus
extern "C" {
#endif

#define ZC_VERSION_MAJOR 0
#define ZC_VERSION_MINOR 1
#define ZC_VERSION_PATCH 0

/* "0.1.0": the version of the library actually linked. */
const char *zc_version(void);

/* ------------------------------------------------------------------------
 * Feature probe: what the running kernel supports, learned by trying calls
 * on throwaway sockets (never from the kernel version).
 */

/* TCP_ZEROCOPY_RECEIVE exists (4.18). */
#define ZC_PROBE_RX_ZEROCOPY		(1u << 0)
/* The kernel fills inq and err (5.7). */
#define ZC_PROBE_RX_INQ_ERR		(1u << 1)
/* copybuf_address/copybuf_len: stragglers copied in the same call (5.11). */
#define ZC_PROBE_RX_COPYBUF		(1u << 2)
/* flags with TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT (5.11). */
#define ZC_PROBE_RX_TLB_CLEAN_HINT	(1u << 3)
/* msg_control for receive timestamps (5.12). */
#define ZC_PROBE_RX_MSG_CONTROL		(1u << 4)
/* SO_ZEROCOPY accepted on a TCP socket (4.14). */
#define ZC_PROBE_TX_TCP_ZEROCOPY	(1u << 5)
/* SO_ZEROCOPY accepted on a UDP socket (5.0). */
#define ZC_PROBE_TX_UDP_ZEROCOPY	(1u << 6)
/* io_uring can be set up at all (not disabled by sysctl or seccomp). */
#define ZC_PROBE_URING			(1u << 7)
/* io_uring IORING_OP_SEND_ZC (6.0). */
#define ZC_PROBE_URING_SEND_ZC		(1u << 8)
/* io_uring IORING_OP_SENDMSG_ZC (6.1). */
#define ZC_PROBE_URING_SENDMSG_ZC	(1u << 9)
/* IORING_SEND_ZC_REPORT_USAGE: notifications say when the kernel copied
 * (6.2, 6.1.2). */
#define ZC_PROBE_URING_REPORT_USAGE	(1u << 10)

struct zc_probe {
	uint32_t features;	/* ZC_PROBE_* bits */
	/* Size of struct tcp_zerocopy_receive the kernel knows: it writes its
	 * own length back in optlen. 0 when receive zero-copy is missing. */
	uint32_t rx_struct_len;
	/* Why receive zero-copy is missing (positive errno), else 0. */
	int32_t rx_errno;
	/* Why io_uring is missing (positive errno), else 0. */
	int32_t uring_errno;
	uint32_t page_size;
	uint32_t reserved[7];
};

/*
 * Fills *probe. Creates and closes its own loopback sockets; no traffic
 * leaves the machine. Returns 0, or -errno if the probe itself could not run
 * (e.g. -EMFILE). A missing feature is not an error: its bit is clear.
 */
int zc_probe(struct zc_probe *probe);

/* Name of one ZC_PROBE_* bit ("rx_zerocopy", ...), or NULL. */
const char *zc_probe_feature_name(uint32_t bit);

/* ------------------------------------------------------------------------
 * Receive: struct zc_rx on a connected TCP socket.
 *
 * One read-only window is reserved per handle with mmap() on the socket,
 * 2 MiB aligned, and reused for the handle's life. The window is divided
 * into slots; each read fills one slot and returns a view of it. A view
 * stays valid until released; views may be held at once and released in
 * any order. Bytes the kernel cannot map (recv_skip_hint) are copied,
 * in stream order after the mapped ones, and the view says which is which.
 */

enum zc_rx_mode {
	/* Zero-copy where the kernel and the data allow it and where it is
	 * cheaper on this machine (measured while running); copy otherwise. */
	ZC_RX_AUTO = 0,
	/* Always TCP_ZEROCOPY_RECEIVE; stragglers still arrive by copy. */
	ZC_RX_ZEROCOPY = 1,
	/* Plain recv() into an internal buffer, same API. */
	ZC_RX_COPY = 2,
};

/* How released pages are unmapped (zapped). */
enum zc_rx_zap {
	ZC_RX_ZAP_DEFAULT = 0,
	/* madvise(MADV_DONTNEED) on each release; the next receive into the
	 * slot passes TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT. */
	ZC_RX_ZAP_EACH = 1,
	/* Released slots are zapped together, one madvise per run of
	 * adjacent slots, when a slot is needed again. */
	ZC_RX_ZAP_BATCH = 2,
	/* Nothing on release: the kernel zaps the range on the next receive
	 * into the slot (no TLB clean hint). */
	ZC_RX_ZAP_KERNEL = 3,
};

/* Set SO_RCVLOWAT on the socket to one slot, so poll() wakes the caller
 * when a whole slot can be mapped (the caller's socket is changed). */
#define ZC_RX_F_RCVLOWAT	(1u << 0)
#define ZC_RX_F_ALL		(ZC_RX_F_RCVLOWAT)

struct zc_rx_pool;

struct zc_rx_opts {
	uint32_t mode;		/* enum zc_rx_mode */
	uint32_t flags;		/* ZC_RX_F_* */
	/* Most bytes one view maps; a multiple of the page size. The copied
	 * part of a view may hold up to copybuf_size more, or up to
	 * max(slot_size, copybuf_size) in copy mode. 0 = 512 KiB. */
	uint32_t slot_size;
	/* How many views may be held at once. 0 = 8; at most 1024. */
	uint32_t slots;
	/* Per-slot buffer for bytes that cannot be mapped. The kernel copies
	 * the whole queue into it when the queue is no longer than it (5.11),
	 * so larger trades mapping for fewer calls. 0 = 64 KiB. */
	uint32_t copybuf_size;
	uint32_t zap;		/* enum zc_rx_zap */
	/* Take slots from this pool's shared window instead of mapping a
	 * window per handle. slot_size, copybuf_size and zap must then be 0
	 * (the pool's apply); slots caps the views this handle may hold. */
	struct zc_rx_pool *pool;
	uint32_t reserved[6];	/* must be zero */
};

struct zc_view {
	/* Page-aligned, inside the window, mapped read-only: a write faults. */
	const uint8_t *mapped;
	size_t mapped_len;
	/* The bytes that followed the mapped ones in the stream, copied. */
	const uint8_t *copied;
	size_t copied_len;
	/* mapped_len + copied_len */
	size_t len;
	/* Internal: which slot to release. */
	uint32_t slot;
	uint32_t generation;
};

struct zc_rx_stats {
	uint64_t bytes_mapped;		/* handed out as mapped pages */
	uint64_t bytes_copybuf;		/* copied by the kernel into copybuf */
	uint64_t bytes_read;		/* copied by recv() */
	uint64_t zerocopy_calls;	/* getsockopt(TCP_ZEROCOPY_RECEIVE) */
	uint64_t recv_calls;		/* recv() */
	uint64_t zaps;			/* madvise(MADV_DONTNEED) calls */
	uint64_t views;			/* views handed out */
	uint64_t waits;			/* poll() on a blocking socket */
	uint64_t mode_switches;		/* auto mode changed its choice */
	/* Why bytes were not mapped (counted once per occurrence). */
	uint64_t skip_hints;		/* kernel said: next bytes unmappable */
	uint64_t small_queue;		/* queue below one page or copybuf */
	/* Auto mode's last measurement: the receiving thread's CPU per MiB
	 * in each mode (0 until auto has decided once). */
	uint64_t auto_zerocopy_ns_per_mib;
	uint64_t auto_copy_ns_per_mib;
	uint64_t reserved[3];
};

struct zc_rx;

/*
 * Creates a receive handle on connected TCP socket fd. opts may be NULL.
 * Blocking or not follows the socket as it is now (O_NONBLOCK is read
 * here, once): on a blocking socket zc_rx_read() waits for data, on a
 * non-blocking one it returns -EAGAIN.
 * Sets SO_OOBINLINE on fd: mapped pages cannot skip an urgent byte the way
 * recv() does, so urgent bytes stay in the stream in every mode.
 * Returns 0 and sets *rxp, or -EINVAL (bad options, fd not a TCP socket),
 * -ENOTCONN, -EOPNOTSUPP (ZC_RX_ZEROCOPY on a kernel without it), -ENOMEM.
 * ZC_RX_AUTO on such a kernel quietly becomes copy; zc_rx_mode() says so.
 */
int zc_rx_create(struct zc_rx **rxp, int fd, const struct zc_rx_opts *opts);

/*
 * Pools: one window shared by the receive handles that one thread serves.
 * A mapping made on any TCP socket serves every TCP socket, so a thread
 * with many connections needs one window and one zap per run of released
 * slots rather than one of each per connection. A pool is used by one
 * thread at a time, like its handles. Auto-mode handles on a pool share
 * one choice of mode, measured on all their reads and on all the thread's
 * CPU time meanwhile (the caller's work on the data included).
 */
struct zc_rx_pool_opts {
	uint32_t slot_size;	/* as zc_rx_opts; 0 = 512 KiB */
	uint32_t slots;		/* shared by all handles; 0 = 64 */
	uint32_t copybuf_size;	/* as zc_rx_opts; 0 = 64 KiB */
	uint32_t zap;		/* enum zc_rx_zap */
	uint32_t reserved[4];	/* must be zero */
};

/* Returns 0 and sets *poolp, or -EINVAL, -ENOMEM. On a kernel without
 * receive zero-copy the pool still serves copy and auto handles. */
int zc_rx_pool_create(struct zc_rx_pool **poolp,
		      const struct zc_rx_pool_opts *opts);

/* Frees the pool; -EBUSY while handles still use it. NULL returns 0. */
int zc_rx_pool_free(struct zc_rx_pool *pool);

/* Frees the handle and unmaps its window (a pool's stays). Views still
 * held become invalid.
 * Does not close fd. NULL is a no-op. */
void zc_rx_free(struct zc_rx *rx);

/*
 * Receives the next bytes of the stream into a free slot.
 * Returns the byte count (> 0) with *view filled, 0 at end of stream,
 * -EAGAIN when nothing is queued on a non-blocking socket, -ENOBUFS when
 * every slot is held (release a view; with a pool, also when the pool has
 * no free slot), or the socket's error
 * (-ECONNRESET, ...) once the bytes received before it were returned;
 * a socket error ends the stream and every later read returns it again.
 */
ssize_t zc_rx_read(struct zc_rx *rx, struct zc_view *view);

/*
 * Gives a view's slot back. Its memory must not be touched afterwards.
 * Returns 0, or -EINVAL for a view that is not currently held.
 */
int zc_rx_release(struct zc_rx *rx, struct zc_view *view);

/*
 * Waits until zc_rx_read() has something to do, at most timeout_ms
 * (-1 forever). Returns 1 when readable (data, end or error), 0 on timeout.
 */
int zc_rx_wait(struct zc_rx *rx, int timeout_ms);

/* Current mode: ZC_RX_ZEROCOPY or ZC_RX_COPY (auto reports its choice). */
int zc_rx_mode(const struct zc_rx *rx);
void zc_rx_get_stats(const struct zc_rx *rx, struct zc_rx_stats *stats);

/* "auto", "zerocopy", "copy" / "default", "each", "batch", "kernel";
 * parse returns the value or -EINVAL. */
const char *zc_rx_mode_name(int mode);
int zc_rx_mode_parse(const char *name);
const char *zc_rx_zap_name(int zap);
int zc_rx_zap_parse(const char *name);

/* ------------------------------------------------------------------------
 * Messages: framing on a TCP stream.
 *
 * A message is a 32-byte header and a payload of hdr.len bytes. The
 * sender puts a header in its own segment (MSG_EOR) when a page or more
 * of payload follows, so the payload starts a fresh segment and, on an
 * aligned path (MSS 4096 + options, MSG_ZEROCOPY sender), arrives in whole
 * pages the receiver can map. The receiver gets the header copied and the
 * payload as pieces of zc_rx views, held until the message is released.
 *
 * Wire header, little-endian:
 *   0  magic "ZCM1"   4  u16 version (1)   6  u16 flags (ZC_MSG_F_*)
 *   8  u32 type       12 u32 len (payload bytes that follow)
 *   16 u64 id         24 u64 reserved, zero
 * type and id are the caller's (an RPC method, a request id); a reply
 * carries its request's id.
 */

#define ZC_MSG_HDR_LEN 32
#define ZC_MSG_VERSION 1
/* Most payload pieces one received message has (see ZC_MSG_ASSEMBLED). */
#define ZC_MSG_MAX_SEGS 16
/* Most iovec entries zc_msg_send() takes. */
#define ZC_MSG_MAX_IOV 64

#define ZC_MSG_F_REPLY (1u << 0) /* answers the request with the same id */
#define ZC_MSG_F_ERROR (1u << 1) /* the request failed; payload says why */
#define ZC_MSG_F_ALL   (ZC_MSG_F_REPLY | ZC_MSG_F_ERROR)

struct zc_msg_hdr {
	uint64_t id;
	uint32_t type;
	uint32_t len;	   /* payload bytes */
	uint32_t flags;	   /* ZC_MSG_F_* */
	uint32_t reserved; /* must be zero */
};

/*
 * Writes the wire header for hdr into buf (at least ZC_MSG_HDR_LEN bytes).
 * Returns ZC_MSG_HDR_LEN, or -EINVAL (short buffer, unknown flags,
 * non-zero reserved).
 */
int zc_msg_header_encode(void *buf, size_t len, const struct zc_msg_hdr *hdr);

/*
 * Decodes a wire header from the first bytes of buf; never reads past len.
 * Returns 0, -EAGAIN when len < ZC_MSG_HDR_LEN, or the malformed-header
 * error (below) of the first check that fails. max_payload 0 means any.
 */
int zc_msg_header_decode(const void *buf, size_t len, struct zc_msg_hdr *hdr,
			 uint32_t max_payload);

/* Why a stream was rejected: zc_msg_rx_error(), with the errno returned. */
enum zc_msg_error {
	ZC_MSG_ERR_NONE = 0,
	ZC_MSG_ERR_MAGIC = 1,		 /* -EBADMSG: garbage, out of step */
	ZC_MSG_ERR_VERSION = 2,		 /* -EPROTONOSUPPORT */
	ZC_MSG_ERR_FLAGS = 3,		 /* -EBADMSG: unknown flag bits */
	ZC_MSG_ERR_RESERVED = 4,	 /* -EBADMSG: reserved not zero */
	ZC_MSG_ERR_TOO_LONG = 5,	 /* -EMSGSIZE: len > max_payload */
	ZC_MSG_ERR_TRUNCATED_HEADER = 6, /* -EPROTO: end inside a header */
	ZC_MSG_ERR_TRUNCATED_PAYLOAD = 7, /* -EPROTO: end inside a payload */
	ZC_MSG_ERR_BAD_VIEW = 8,	 /* -EPROTO: the source's view was
					  * inconsistent (a bug, not input) */
};

/* "bad magic", ... for an enum zc_msg_error; NULL when unknown. */
const char *zc_msg_error_name(int error);

/* By default, while a payload of a page or more is pending, the reader
 * sets SO_RCVLOWAT on the socket to the bytes it still needs (at most one
 * zc_rx slot), so poll() and blocking reads wait until that much is queued
 * and the payload arrives in a few large, mappable views; between payloads
 * and on zc_msg_rx_free() it restores the value it found. Do not combine
 * with ZC_RX_F_RCVLOWAT. This flag leaves SO_RCVLOWAT alone. */
#define ZC_MSG_RX_F_NO_RCVLOWAT (1u << 0)
#define ZC_MSG_RX_F_ALL		(ZC_MSG_RX_F_NO_RCVLOWAT)

struct zc_msg_rx_opts {
	/* Longest payload accepted; longer is ZC_MSG_ERR_TOO_LONG. It also
	 * bounds the one allocation a message may need (ZC_MSG_ASSEMBLED).
	 * 0 = 4 MiB. */
	uint32_t max_payload;
	uint32_t flags;	      /* ZC_MSG_RX_F_* */
	uint32_t reserved[6]; /* must be zero */
};

/* Part of the payload was copied into a buffer of the message layer, the
 * rest still points into views: keeping every piece in views would have
 * needed more than ZC_MSG_MAX_SEGS pieces or more views than the zc_rx
 * has slots. The pieces that give the fewest bytes are copied first, so
 * mapped pages stay mapped where they can. Counted in
 * zc_msg_rx_stats.assembled and bytes_assembled. */
#define ZC_MSG_ASSEMBLED (1u << 0)

struct zc_msg {
	struct zc_msg_hdr hdr;	/* copied out of the stream */
	uint32_t flags;		/* ZC_MSG_ASSEMBLED */
	uint32_t nsegs;		/* pieces in seg[], 0 for an empty payload */
	size_t mapped_len;	/* payload bytes in mapped pages */
	/* The payload in stream order. Read-only, whatever iov_base says
	 * (mapped pages fault on write); valid until zc_msg_release(). Ready
	 * for writev(), sendmsg() or zc_msg_send(). */
	struct iovec seg[ZC_MSG_MAX_SEGS];
	/* Internal: what zc_msg_release() gives back, and to which reader. */
	void *buf;
	const void *owner;
	uint64_t seq;
	uint32_t held;
	uint32_t nviews;
	uint16_t view[ZC_MSG_MAX_SEGS];
	uint16_t generation[ZC_MSG_MAX_SEGS];
};

struct zc_msg_rx_stats {
	uint64_t messages;	  /* delivered */
	uint64_t payload_bytes;	  /* their payload bytes */
	uint64_t bytes_mapped;	  /* of which in mapped pages */
	uint64_t bytes_assembled; /* of which copied by this layer */
	uint64_t assembled;	  /* messages delivered ZC_MSG_ASSEMBLED */
	uint64_t views;		  /* views read from the zc_rx */
	uint64_t rcvlowat_sets;	  /* setsockopt(SO_RCVLOWAT) calls made */
	uint64_t reserved[5];
};

struct zc_msg_rx;

/*
 * Creates a message reader on top of rx (which it borrows: free the
 * zc_msg_rx first). opts may be NULL. Returns 0 and sets *mrxp, or -EINVAL
 * (bad options), -ENOMEM, or the error of reading SO_RCVLOWAT.
 * For mapped payloads give rx a copybuf_size smaller than the payloads
 * (16 KiB, say): the kernel copies a queue no longer than the copybuf.
 */
int zc_msg_rx_create(struct zc_msg_rx **mrxp, struct zc_rx *rx,
		     const struct zc_msg_rx_opts *opts);

/* Gives back every view the reader holds and frees it; messages still
 * held become invalid. NULL is a no-op. */
void zc_msg_rx_free(struct zc_msg_rx *mrx);

/*
 * Reads the next message into *m. Returns 1 with *m filled, 0 at a clean
 * end of stream (between messages), -EAGAIN (non-blocking socket, no
 * whole message yet: the bytes so far are kept), -ENOBUFS (messages still
 * held use every view of the zc_rx: release one and call again), -ENOMEM,
 * the socket's error, or a malformed-stream error (enum zc_msg_error).
 * A malformed stream fails the reader for good: every later call returns
 * the same error. Blocking follows the socket, as zc_rx_read().
 * Several messages may be held at once, released in any order; a view
 * holding the end of one payload and the start of the next stays held
 * until both messages are released. The reader may hold bytes already read
 * from the socket: on a non-blocking socket call it until -EAGAIN before
 * waiting for the socket to become readable.
 */
int zc_msg_read(struct zc_msg_rx *mrx, struct zc_msg *m);

/* Releases a message from zc_msg_read(); its payload must not be touched
 * afterwards. Returns 0, or -EINVAL when m is not held. */
int zc_msg_release(struct zc_msg_rx *mrx, struct zc_msg *m);

/* The enum zc_msg_error that failed the reader, or ZC_MSG_ERR_NONE. */
int zc_msg_rx_error(const struct zc_msg_rx *mrx);
void zc_msg_rx_get_stats(const struct zc_msg_rx *mrx,
			 struct zc_msg_rx_stats *stats);

/*
 * Writes payload bytes for zc_msg_send() instead of send(2), e.g. through
 * a struct zc_tx: same contract as zc_tx_send() (bytes accepted, or -errno
 * such as -EAGAIN), and the bytes must be queued on the socket, in order,
 * when it returns, as the next header is written to the socket directly.
 * It gets every payload byte, of short payloads too, one iovec entry (or
 * the rest of one) per call; ZC_MSG_SEND_ZEROCOPY does not apply to it.
 */
typedef ssize_t (*zc_msg_payload_fn)(void *ctx, const void *buf, size_t len,
				     uint64_t user_data);

/* Send the payload with MSG_ZEROCOPY when it is a page or longer. The
 * socket must have SO_ZEROCOPY on (else -EINVAL); buffers stay untouched
 * until their completions, which are the caller's to reap from the error
 * queue: zerocopy_sends says how many sends made them. */
#define ZC_MSG_SEND_ZEROCOPY (1u << 0)
#define ZC_MSG_SEND_ALL	     (ZC_MSG_SEND_ZEROCOPY)

/* One message to send; zero it, fill the inputs, call zc_msg_send() until
 * it returns 0. */
struct zc_msg_out {
	int fd;			/* connected TCP socket */
	uint32_t flags;		/* ZC_MSG_SEND_* */
	struct zc_msg_hdr hdr;	/* hdr.len must equal the iovec's bytes */
	const struct iovec *iov; /* payload, at most ZC_MSG_MAX_IOV */
	uint32_t iovcnt;
	uint32_t zerocopy_sends; /* out: sends made with MSG_ZEROCOPY */
	zc_msg_payload_fn payload_fn; /* optional, see above */
	void *payload_ctx;
	uint64_t user_data;	/* passed to payload_fn */
	uint64_t sent;		/* out: header + payload bytes accepted */
	/* out: MSG_ZEROCOPY sends refused with ENOBUFS (optmem or locked
	 * memory exhausted) and made by copy instead */
	uint32_t enobufs_copied;
	uint32_t reserved32;	/* must be zero */
	uint64_t reserved[3];	/* must be zero */
};

/*
 * Sends (the rest of) one message. A payload shorter than a page goes with
 * its header in one send; a longer one behind a header sent with
 * MSG_EOR | MSG_MORE (the header gets its own segment, the payload starts
 * page-aligned in the stream). Set TCP_NODELAY for request/response
 * traffic: with Nagle on, a payload shorter than the MSS waits for the
 * peer's delayed ACK of the header segment (about 40 ms). With a payload_fn the header is always
 * sent alone (MSG_MORE, and MSG_EOR from a page on). Uses MSG_NOSIGNAL.
 * Returns 0 once every byte is accepted, -EAGAIN when the socket (or
 * payload_fn) is full: out->sent says how far it got; call again when
 * writable. -EINVAL for bad input, or the socket's -errno. A MSG_ZEROCOPY
 * send the kernel refuses with ENOBUFS (optmem or RLIMIT_MEMLOCK exhausted)
 * is made by copy instead and counted in enobufs_copied: reaping
 * completions often frees optmem, but locked memory may never come back.
 */
int zc_msg_send(struct zc_msg_out *out);

/* ------------------------------------------------------------------------
 * Send: struct zc_tx on a connected TCP or UDP socket.
 *
 * Every byte accepted by zc_tx_send() produces exactly one completion that
 * carries the caller's user_data and says when the buffer may be reused and
 * whether the kernel copied, whichever backend ran (the copy backend
 * completes at once). A send that returns an error produces no completion.
 *
 * A typical loop: zc_tx_send() buffers while it accepts them; zc_tx_reap()
 * after sending (copies complete at once); when idle, wait on zc_tx_fd()
 * for zc_tx_poll_events() (or call zc_tx_wait()); before closing,
 * zc_tx_flush() with a deadline, reap, then zc_tx_free().
 */

enum zc_tx_backend {
	/* Copy below a threshold, zero-copy (MSG_ZEROCOPY) above it;
	 * switches to copy while the kernel reports it copies anyway, and
	 * tries again now and then. */
	ZC_TX_AUTO = 0,
	ZC_TX_COPY = 1,		/* send() */
	ZC_TX_MSG_ZEROCOPY = 2,	/* send(MSG_ZEROCOPY), error-queue completions */
	ZC_TX_URING = 3,	/* io_uring IORING_OP_SEND (copies) */
	ZC_TX_URING_ZC = 4,	/* io_uring IORING_OP_SEND_ZC */
};

/* Register the caller's buffers with io_uring (see zc_tx_register);
 * ZC_TX_URING_ZC only. */
#define ZC_TX_F_FIXED_BUFFERS	(1u << 0)
/* When the kernel refuses the backend asked for (io_uring disabled,
 * missing, or its ring over RLIMIT_MEMLOCK; no SO_ZEROCOPY), use the next
 * one down instead of failing:
 * io_uring SEND_ZC -> MSG_ZEROCOPY -> copy, io_uring SEND -> copy.
 * Counted in stats.fallbacks; zc_tx_backend() says which runs. */
#define ZC_TX_F_FALLBACK	(1u << 1)
#define ZC_TX_F_ALL		(ZC_TX_F_FIXED_BUFFERS | ZC_TX_F_FALLBACK)

struct zc_tx_opts {
	uint32_t backend;	/* enum zc_tx_backend */
	uint32_t flags;		/* ZC_TX_F_* */
	/* Auto: sends shorter than this are copied. 0 = default (32 KiB,
	 * measured with bench/tx_threshold.sh). */
	uint32_t zc_threshold;
	/* Reap error-queue completions after this many zero-copy sends, to
	 * keep optmem bounded. 0 = 32. */
	uint32_t reap_every;
	/* Auto: after the kernel reports copying, send by copy this many
	 * times before trying zero-copy again. 0 = 1024. */
	uint32_t retry_after;
	/* Most sends not yet reaped (in flight or completed and queued);
	 * zc_tx_send returns -EAGAIN beyond. 0 = 4096; at most 65536. */
	uint32_t max_outstanding;
	uint32_t reserved[6];	/* must be zero */
};

/* The kernel copied the data (loopback, veth to a local socket, ...).
 * io_uring SEND_ZC can say so only with IORING_SEND_ZC_REPORT_USAGE
 * (6.2, 6.1.2); before that its completions never carry this flag. */
#define ZC_COMPLETION_COPIED		(1u << 0)
/* The library sent it by copy (copy backends, threshold, COPIED back-off
 * or ENOBUFS fallback). */
#define ZC_COMPLETION_POLICY_COPY	(1u << 1)

struct zc_completion {
	uint64_t user_data;
	uint32_t len;		/* bytes of this send */
	uint32_t flags;		/* ZC_COMPLETION_* */
};

struct zc_tx_stats {
	uint64_t sends;			/* accepted sends */
	uint64_t bytes;			/* accepted bytes */
	/* Completed bytes, each counted in exactly one of these three. */
	uint64_t bytes_zerocopy;	/* completed without a kernel copy */
	uint64_t bytes_kernel_copied;	/* zero-copy attempted, kernel copied */
	uint64_t bytes_policy_copied;	/* sent by copy (backend, threshold,
					 * back-off, ENOBUFS, a UDP datagram
					 * longer than the path MTU) */
	uint64_t notifications;		/* error-queue messages or notif CQEs */
	/* The kernel answered a zero-copy send with ENOBUFS (optmem or
	 * RLIMIT_MEMLOCK exhausted; io_uring: -ENOMEM): each time. The send
	 * is retried once after reaping, then made by copy: */
	uint64_t enobufs;
	uint64_t enobufs_copied;	/* sends copied after ENOBUFS */
	uint64_t fallbacks;		/* other fallbacks (backend refused) */
	uint64_t outstanding;		/* sends not completed yet */
	uint64_t auto_backoffs;		/* auto switched to copy: kernel copied */
	/* MSG_ZEROCOPY notifications that completed ids beyond one still
	 * pending (a gap, filled later): normal for UDP. */
	uint64_t out_of_order;
	/* Notified ids that were not outstanding (duplicates, never sent)
	 * or stale io_uring CQEs: should stay 0. */
	uint64_t bad_ids;
	/* Other messages read off the socket's error queue (ICMP errors
	 * with IP_RECVERR, timestamps): consumed, so lost to the caller. */
	uint64_t foreign_errors;
	uint64_t reserved[2];
};

struct zc_tx;
struct iovec;

/*
 * Creates a send handle on connected TCP or UDP socket fd (IPv4 or IPv6);
 * opts may be NULL. Returns 0 and sets *txp, or -EINVAL (bad options, fd
 * not a TCP/UDP socket), -ENOTCONN, -EOPNOTSUPP (the backend asked for is
 * missing and ZC_TX_F_FALLBACK was not given; AUTO never fails this way),
 * -ENOMEM (for io_uring also: its ring over RLIMIT_MEMLOCK). MSG_ZEROCOPY
 * (also under AUTO) sets SO_ZEROCOPY on the socket and reads its error
 * queue; the socket must not have made MSG_ZEROCOPY sends of its own
 * before, as completions are matched by the kernel's per-socket counter.
 * io_uring backends: on 6.1+ the ring is IORING_SETUP_SINGLE_ISSUER with
 * DEFER_TASKRUN (so the kernel never interrupts the caller's own blocking
 * calls to post completions), which ties the handle to the thread that
 * created it: calls from another thread return -EEXIST.
 */
int zc_tx_create(struct zc_tx **txp, int fd, const struct zc_tx_opts *opts);

/*
 * Sends len bytes of buf. Returns the bytes accepted (for TCP possibly fewer
 * than len on a non-blocking socket; the completion covers those), or
 * -errno with no completion. buf must stay untouched until the completion.
 * UDP: one call is one datagram. -EINVAL for len 0 or of 4 GiB or more;
 * -EAGAIN also when max_outstanding sends are not reaped yet (reap or
 * wait); the socket's errors (-EPIPE, -ECONNRESET: never SIGPIPE).
 * ENOBUFS from the kernel (optmem or RLIMIT_MEMLOCK exhausted) never
 * reaches the caller: the handle reaps and retries once, then sends the
 * bytes by copy (stats.enobufs, stats.enobufs_copied).
 * io_uring backends wait for the send's result, so the bytes are queued
 * on the socket in order when this returns.
 */
ssize_t zc_tx_send(struct zc_tx *tx, const void *buf, size_t len,
		   uint64_t user_data);

/* Copies up to max completions into out without blocking; returns count,
 * or -errno when the backend failed (e.g. -EBADF: the socket was closed)
 * and nothing was queued. */
int zc_tx_reap(struct zc_tx *tx, struct zc_completion *out, unsigned int max);

/* Like zc_tx_reap, but waits up to timeout_ms (-1 forever) for at least one.
 * Returns count, 0 on timeout or when nothing is outstanding. */
int zc_tx_wait(struct zc_tx *tx, struct zc_completion *out, unsigned int max,
	       int timeout_ms);

/*
 * An fd that polls ready when completions may be reaped, for the events
 * zc_tx_poll_events() gives: io_uring SEND_ZC: the ring fd, POLLIN.
 * MSG_ZEROCOPY (and AUTO): the socket itself, POLLERR, which poll and
 * epoll always report; if the socket is in your epoll set already, treat
 * EPOLLERR on it as "call zc_tx_reap" (a socket error shows the same way).
 * Copy backends: 0 events, completions are queued by zc_tx_send itself.
 * Call zc_tx_reap until it returns less than asked before waiting again.
 */
int zc_tx_fd(const struct zc_tx *tx);
int zc_tx_poll_events(const struct zc_tx *tx);

/* Waits until every send has completed (completions stay queued for
 * zc_tx_reap). Returns 0, -ETIME when timeout_ms passed first, or -errno
 * when the backend failed (-EBADF: the socket was closed). */
int zc_tx_flush(struct zc_tx *tx, int timeout_ms);

/* Frees the handle; returns how many sends were still outstanding (their
 * buffers may still be read by the kernel, and with MSG_ZEROCOPY their
 * notifications will sit unread on the socket's error queue, raising
 * POLLERR). Does not close fd. NULL returns 0. */
int zc_tx_free(struct zc_tx *tx);

/*
 * Registers buffers with io_uring (ZC_TX_URING_ZC created with
 * ZC_TX_F_FIXED_BUFFERS; once per handle, at most 1024): sends lying
 * inside one of them skip per-send page pinning. Other sends still work.
 * Returns 0, -EINVAL, -EBUSY (already registered), -EOPNOTSUPP (another
 * backend runs, e.g. after ZC_TX_F_FALLBACK), or the kernel's error:
 * -ENOMEM when the pages exceed RLIMIT_MEMLOCK (without CAP_IPC_LOCK).
 */
int zc_tx_register(struct zc_tx *tx, const struct iovec *iov,
		   unsigned int nr);

/* The backend running (never ZC_TX_AUTO: auto runs ZC_TX_MSG_ZEROCOPY, or
 * ZC_TX_COPY where SO_ZEROCOPY is missing). */
int zc_tx_backend(const struct zc_tx *tx);
void zc_tx_get_stats(const struct zc_tx *tx, struct zc_tx_stats *stats);
/* "auto", "copy", "msg_zerocopy", "uring", "uring_zc"; parse returns the
 * value or -EINVAL. */
const char *zc_tx_backend_name(int backend);
int zc_tx_backend_parse(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* ZCNET_H */
