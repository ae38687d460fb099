/* SPDX-License-Identifier: MIT */
/*
 * io_uring backends through liburing: IORING_OP_SEND (copies, ZC_TX_URING)
 * and IORING_OP_SEND_ZC (6.0, ZC_TX_URING_ZC).
 *
 * SEND_ZC posts two CQEs per request with the same user_data: the result
 * (bytes sent or -errno; IORING_CQE_F_MORE when a notification follows)
 * and the notification (IORING_CQE_F_NOTIF) once the kernel let go of the
 * buffer. With IORING_SEND_ZC_REPORT_USAGE (6.2, 6.1.2) the notification's
 * res has IORING_NOTIF_USAGE_ZC_COPIED when the kernel copied anyway.
 *
 * zc_tx_send must return the bytes accepted or -errno, and the kernel sends
 * asynchronously, so each send submits one request and waits for its
 * result CQE (one io_uring_enter; the send is tried inline and only waits
 * when the socket buffer is full). Notifications are reaped later. A failed
 * send with F_MORE still gets a notification (io_send_zc: the notif is
 * flushed whatever the result); it completes nothing and is swallowed, as
 * a failed send yields no completion.
 *
 * user_data is the record slot in the low 32 bits and the slot's
 * generation in the high ones, so a CQE for a recycled slot is noticed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "compat.h"
#include "internal.h"
#include "tx.h"

/* Requests are submitted one at a time. */
#define ZC__TX_URING_SQ_ENTRIES 4u

int (*zc__uring_init)(unsigned int entries, struct io_uring *ring,
		      struct io_uring_params *p) = io_uring_queue_init_params;

void zc__uring_init_reset(void)
{
	zc__uring_init = io_uring_queue_init_params;
}

static uint64_t token(uint32_t slot, uint32_t gen)
{
	return (uint64_t)gen << 32 | slot;
}

static void free_slot(struct zc_tx *tx, uint32_t slot)
{
	tx->recs[slot].state = ZC__TX_REC_FREE;
	tx->free_slots[tx->nfree++] = slot;
}

static bool sends_zerocopy(const struct zc_tx *tx)
{
	return tx->backend == ZC_TX_URING_ZC;
}

/*
 * How the kernel runs the task work that posts CQEs (notifications, and
 * results of sends that had to wait for socket space), best first.
 * By default it interrupts the thread with TWA_SIGNAL wherever it is,
 * which cuts the caller's own blocking calls short (a recv(MSG_WAITALL)
 * returns early): a library must not do that to its caller.
 * DEFER_TASKRUN (6.1, with SINGLE_ISSUER) runs it only when we enter the
 * ring for events; the ring then belongs to the thread that created it
 * (other threads: -EEXIST).
 * COOP_TASKRUN (5.19) at least sends no IPI. Older kernels say EINVAL.
 */
static const unsigned int taskrun_modes[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
	0,
};

int zc__tx_uring_init(struct zc_tx *tx)
{
	uint32_t n = 2 * tx->cap, i;
	struct io_uring_params p;
	struct io_uring_probe *probe;
	bool ok = true;
	int ret = -EINVAL;

	for (i = 0; i < ZC__ARRAY_SIZE(taskrun_modes) && ret == -EINVAL; i++) {
		memset(&p, 0, sizeof(p));
		/* Results are reaped as they come, so the CQ holds little
		 * more than one notification per send in flight; since 5.5
		 * (IORING_FEAT_NODROP) CQEs beyond it wait in the kernel
		 * instead of being lost. Rings count against RLIMIT_MEMLOCK
		 * on recent kernels: keep it small. */
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP |
			  taskrun_modes[i];
		p.cq_entries = ZC__MAX(tx->cap, 16u);
		ret = zc__uring_init(ZC__TX_URING_SQ_ENTRIES, &tx->ring, &p);
	}
	if (ret < 0) {
		/* ENOSYS: not built in; EPERM: the io_uring_disabled sysctl
		 * or seccomp; EINVAL: a kernel that knows none of this. */
		if (ret == -ENOSYS || ret == -EPERM || ret == -EINVAL ||
		    ret == -EOPNOTSUPP)
			return -EOPNOTSUPP;
		/* ENOMEM: mostly the ring's own pages over RLIMIT_MEMLOCK:
		 * this 6.18 kernel charges them without CAP_IPC_LOCK
		 * (seen with a limit of 0; tests/integration/tx_enobufs). */
		return ret;
	}
	tx->defer_taskrun = (p.flags & IORING_SETUP_DEFER_TASKRUN) != 0;
	tx->owner = pthread_self();
	tx->ring_up = true;
	if (sends_zerocopy(tx)) {
		probe = io_uring_get_probe_ring(&tx->ring);
		ok = probe &&
		     io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
		if (probe)
			io_uring_free_probe(probe);
		/* Learned on the first send: EINVAL before 6.2. */
		tx->report_usage = true;
	}
	if (!ok) {
		zc__tx_uring_fini(tx);
		return -EOPNOTSUPP;
	}
	tx->recs = calloc(n, sizeof(*tx->recs));
	tx->free_slots = calloc(n, sizeof(*tx->free_slots));
	if (!tx->recs || !tx->free_slots) {
		zc__tx_uring_fini(tx);
		free(tx->recs);
		tx->recs = NULL;
		return -ENOMEM;
	}
	tx->nrecs = n;
	/* Lowest slots on top of the stack. */
	for (i = 0; i < n; i++)
		tx->free_slots[i] = n - 1 - i;
	tx->nfree = n;
	return 0;
}

void zc__tx_uring_fini(struct zc_tx *tx)
{
	/* Requests still in flight keep their pages pinned in the kernel
	 * past the ring's end; the caller learns how many from
	 * zc_tx_free(). */
	if (tx->ring_up)
		io_uring_queue_exit(&tx->ring);
	tx->ring_up = false;
	free(tx->free_slots);
	tx->free_slots = NULL;
	free(tx->reg);
	tx->reg = NULL;
	tx->nreg = 0;
}

int zc__tx_uring_register(struct zc_tx *tx, const struct iovec *iov,
			  unsigned int nr)
{
	int ret;

	if (tx->reg)
		return -EBUSY;
	tx->reg = malloc(nr * sizeof(*iov));
	if (!tx->reg)
		return -ENOMEM;
	/* Pins every page now and charges them to RLIMIT_MEMLOCK (unless
	 * CAP_IPC_LOCK): -ENOMEM when they do not fit. */
	ret = io_uring_register_buffers(&tx->ring, iov, nr);
	if (ret < 0) {
		free(tx->reg);
		tx->reg = NULL;
		return ret;
	}
	memcpy(tx->reg, iov, nr * sizeof(*iov));
	tx->nreg = nr;
	return 0;
}

/* Index of the registered buffer holding all of [buf, buf + len), or -1. */
static int find_registered(const struct zc_tx *tx, const void *buf, size_t len)
{
	uintptr_t p = (uintptr_t)buf;
	uint32_t i;

	for (i = 0; i < tx->nreg; i++) {
		uintptr_t base = (uintptr_t)tx->reg[i].iov_base;

		if (p >= base && p - base <= tx->reg[i].iov_len &&
		    len <= tx->reg[i].iov_len - (p - base))
			return (int)i;
	}
	return -1;
}

/* Completion flags of a SEND_ZC notification. Without REPORT_USAGE the
 * kernel does not say whether it copied; we then report that it did not. */
static uint32_t notif_flags(const struct zc_tx *tx, int32_t res)
{
	if (tx->report_usage && ((uint32_t)res & IORING_NOTIF_USAGE_ZC_COPIED))
		return ZC_COMPLETION_COPIED;
	return 0;
}

int zc__tx_uring_cqe(struct zc_tx *tx, const struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	uint32_t slot = (uint32_t)data, flags;
	struct zc__tx_rec *rec;

	if (slot >= tx->nrecs || tx->recs[slot].gen != (uint32_t)(data >> 32) ||
	    tx->recs[slot].state == ZC__TX_REC_FREE) {
		tx->st.bad_ids++;
		return 0;
	}
	rec = &tx->recs[slot];
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		tx->st.notifications++;
		switch (rec->state) {
		case ZC__TX_REC_PENDING:
			tx->outstanding--;
			zc__tx_complete(tx, rec->user_data, rec->len,
					notif_flags(tx, cqe->res));
			free_slot(tx, slot);
			return 1;
		case ZC__TX_REC_SWALLOW:
			free_slot(tx, slot);
			return 0;
		default:
			/* Before its result: keep it for then. */
			rec->early_notif = 1 + !!notif_flags(tx, cqe->res);
			return 0;
		}
	}
	if (rec->state != ZC__TX_REC_SUBMITTED) {
		tx->st.bad_ids++;
		return 0;
	}
	rec->res = cqe->res;
	if (cqe->res <= 0) {
		/* Failed: no completion. Swallow the notification still
		 * to come, if any. */
		if ((cqe->flags & IORING_CQE_F_MORE) && !rec->early_notif)
			rec->state = ZC__TX_REC_SWALLOW;
		else
			free_slot(tx, slot);
		return 0;
	}
	rec->len = (uint32_t)cqe->res;
	zc__tx_accepted(tx, rec->len);
	if (sends_zerocopy(tx) && (cqe->flags & IORING_CQE_F_MORE) &&
	    !rec->early_notif) {
		rec->state = ZC__TX_REC_PENDING;
		tx->outstanding++;
		return 0;
	}
	/* Done already: IORING_OP_SEND copied before completing, or the
	 * notification came first. */
	if (!sends_zerocopy(tx))
		flags = ZC_COMPLETION_POLICY_COPY;
	else
		flags = rec->early_notif == 2 ? ZC_COMPLETION_COPIED : 0;
	zc__tx_complete(tx, rec->user_data, rec->len, flags);
	free_slot(tx, slot);
	return 1;
}

int zc__tx_uring_drain(struct zc_tx *tx)
{
	struct io_uring_cqe *cqe;
	int total = 0, ret;

	tx->sends_since_reap = 0;
	/* Deferred task work posts notifications only when asked; ask
	 * whenever a record waits for one (sends outstanding, or failed
	 * ones whose notification is to be swallowed). */
	if (tx->defer_taskrun && tx->nfree < tx->nrecs) {
		ret = io_uring_get_events(&tx->ring);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return ret;
	}
	while (!io_uring_peek_cqe(&tx->ring, &cqe)) {
		total += zc__tx_uring_cqe(tx, cqe);
		io_uring_cqe_seen(&tx->ring, cqe);
	}
	return total;
}

int zc__tx_uring_wait(struct zc_tx *tx, int timeout_ms)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int ret;

	if (timeout_ms < 0) {
		ret = io_uring_wait_cqe(&tx->ring, &cqe);
	} else {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
		ret = io_uring_wait_cqe_timeout(&tx->ring, &cqe, &ts);
	}
	if (!ret)
		return 1;
	return ret == -ETIME || ret == -EINTR ? 0 : ret;
}

/* Submits one send from a new record and waits for its result CQE.
 * Returns the result (bytes or -errno), or -errno of io_uring itself. */
static int submit_one(struct zc_tx *tx, const void *buf, size_t len,
		      uint64_t user_data)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct zc__tx_rec *rec;
	uint32_t slot, zc_flags = 0;
	int ret, reg, fl, msg_flags;

	if (tx->uring_broken)
		return tx->uring_broken;
	if (!tx->nfree) {
		zc__tx_uring_drain(tx);
		if (!tx->nfree)
			return -EAGAIN;
	}
	slot = tx->free_slots[--tx->nfree];
	rec = &tx->recs[slot];
	rec->gen++;
	rec->user_data = user_data;
	rec->len = 0;
	rec->res = 0;
	rec->early_notif = 0;
	rec->state = ZC__TX_REC_SUBMITTED;

	/* Every request is submitted before the next is prepared, so the
	 * submission queue always has room. */
	sqe = io_uring_get_sqe(&tx->ring);
	if (!sqe) {
		free_slot(tx, slot);
		return -EBUSY;
	}
	/* MSG_NOSIGNAL: -EPIPE rather than SIGPIPE on a reset peer.
	 * io_uring does not look at the socket's O_NONBLOCK: it would arm
	 * a poll and wait for space, so say MSG_DONTWAIT ourselves and
	 * get -EAGAIN like send() (REQ_F_NOWAIT). */
	msg_flags = MSG_NOSIGNAL;
	fl = fcntl(tx->fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		msg_flags |= MSG_DONTWAIT;
	if (sends_zerocopy(tx)) {
		if (tx->report_usage)
			zc_flags = IORING_SEND_ZC_REPORT_USAGE;
		reg = find_registered(tx, buf, len);
		if (reg >= 0)
			io_uring_prep_send_zc_fixed(sqe, tx->fd, buf, len,
						    msg_flags, zc_flags,
						    (unsigned int)reg);
		else
			io_uring_prep_send_zc(sqe, tx->fd, buf, len, msg_flags,
					      zc_flags);
	} else {
		io_uring_prep_send(sqe, tx->fd, buf, len, msg_flags);
	}
	io_uring_sqe_set_data64(sqe, token(slot, rec->gen));
	do {
		ret = io_uring_submit(&tx->ring);
		/* EBUSY: CQEs overflowed and the kernel wants them read
		 * first. The SQE stays queued until submitted. */
		if (ret == -EBUSY)
			zc__tx_uring_drain(tx);
	} while (ret == -EINTR || ret == -EAGAIN || ret == -EBUSY);
	if (ret < 0) {
		/* The SQE is published and cannot be taken back; entering
		 * the ring again would send a buffer whose send failed. */
		tx->uring_broken = ret;
		free_slot(tx, slot);
		return ret;
	}

	/* The kernel holds buf now: wait for the result, whatever
	 * interrupts us, handling earlier sends' notifications meanwhile. */
	while (rec->state == ZC__TX_REC_SUBMITTED) {
		ret = io_uring_wait_cqe(&tx->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret < 0) {
			/* The send is in flight with no way to learn its
			 * end: stop using the ring (its record stays
			 * outstanding, as zc_tx_free() will report). */
			tx->uring_broken = ret;
			return ret;
		}
		zc__tx_uring_cqe(tx, cqe);
		io_uring_cqe_seen(&tx->ring, cqe);
	}
	return rec->res;
}

ssize_t zc__tx_uring_send(struct zc_tx *tx, const void *buf, size_t len,
			  uint64_t user_data)
{
	int res, tries = 0;

	/* A single-issuer ring refuses other threads' io_uring_enter with
	 * -EEXIST, but only after our SQE is in the ring, where the next
	 * submission from the right thread would send it after all: check
	 * first, and never queue a request that may not go now. */
	if (tx->defer_taskrun && !pthread_equal(pthread_self(), tx->owner))
		return -EEXIST;
	for (;;) {
		res = submit_one(tx, buf, len, user_data);
		if (res >= 0 || !sends_zerocopy(tx))
			return res;
		/* A kernel before 6.2 rejects REPORT_USAGE in prep, before
		 * sending anything: learn that and go on without. */
		if (res == -EINVAL && tx->report_usage && tx->st.sends == 0) {
			tx->report_usage = false;
			res = submit_one(tx, buf, len, user_data);
			if (res == -EINVAL)
				tx->report_usage = true;
			if (res >= 0 || res == -EINVAL)
				return res;
		}
		/* Pinning the pages would pass RLIMIT_MEMLOCK
		 * (io_notif_account_mem: -ENOMEM), or memory ran out:
		 * reap (completed notifications unpin), try once more,
		 * then copy rather than fail. */
		if (res != -ENOMEM && res != -ENOBUFS)
			return res;
		tx->st.enobufs++;
		if (tries++ == 0) {
			zc__tx_uring_drain(tx);
			continue;
		}
		tx->st.enobufs_copied++;
		return zc__tx_copy_send(tx, buf, len, user_data,
					ZC_COMPLETION_POLICY_COPY);
	}
}
