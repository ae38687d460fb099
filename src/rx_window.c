/* SPDX-License-Identifier: MIT */
/*
 * Receive windows: the mmap'ed region that TCP_ZEROCOPY_RECEIVE maps pages
 * into, cut into slots, and when those slots are zapped.
 *
 * A window belongs to one handle, or to a pool shared by the handles one
 * thread serves: a VMA made by mmap on any TCP socket serves every TCP
 * socket (find_tcp_vma only checks the VMA's ops), so a thread with many
 * connections can use one window, one VMA and one zap per run of released
 * slots, instead of one of each per connection.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "rx.h"

#define ZC__RX_WINDOW_ALIGN (2u << 20)

uint8_t *zc__rx_slot_window(const struct zc__rx_window *w, uint32_t i)
{
	return w->base + (size_t)i * w->slot_size;
}

uint8_t *zc__rx_slot_copy(const struct zc__rx_window *w, uint32_t i)
{
	return w->copy_area + (size_t)i * w->copy_size;
}

void zc__rx_zap(struct zc__rx_window *w, uint8_t *addr, size_t len,
		uint64_t *zaps)
{
	/* MADV_DONTNEED on a TCP VMA drops our page references; it cannot
	 * fail on a range we own short of a bug, and if it did the kernel
	 * would zap the range itself on the next receive into it. */
	zc__sys.madvise(addr, len, MADV_DONTNEED);
	(*zaps)++;
}

/* ZAP_BATCH: zaps the run of released slots that starts at slot i with one
 * madvise, so one TLB flush covers several views. The run goes on across
 * released slots with nothing mapped (views of copied bytes, such as
 * message headers between payloads) and ends at the last mapped one. */
static void zap_run(struct zc__rx_window *w, uint32_t i, uint64_t *zaps)
{
	uint32_t j;
	size_t len = 0;

	for (j = i; j < w->nslots && !w->slots[j].held; j++) {
		if (!w->slots[j].mapped)
			continue;
		len = (size_t)(j - i) * w->slot_size + w->slots[j].mapped;
		w->slots[j].mapped = 0;
	}
	zc__rx_zap(w, zc__rx_slot_window(w, i), len, zaps);
}

int zc__rx_window_get_slot(struct zc__rx_window *w, uint32_t *slotp,
			   uint64_t *zaps)
{
	uint32_t n = w->nslots, k, i = 0;

	for (k = 0; k < n; k++) {
		i = (w->next_slot + k) % n;
		if (!w->slots[i].held)
			break;
	}
	if (k == n)
		return -ENOBUFS;
	if (w->slots[i].mapped && w->zap == ZC_RX_ZAP_BATCH)
		zap_run(w, i, zaps);
	w->next_slot = (i + 1) % n;
	*slotp = i;
	return 0;
}

/* Reserves a 2 MiB-aligned PROT_READ window on a TCP socket: a PROT_NONE
 * placeholder larger by the alignment, the socket mapping fixed inside it,
 * and the placeholder's ends given back. 2 MiB alignment keeps windows
 * from sharing page-table locks (KERNEL_NOTES). */
static int map_window(struct zc__rx_window *w, int fd)
{
	size_t len = (size_t)w->slot_size * w->nslots;
	size_t total = len + ZC__RX_WINDOW_ALIGN;
	uint8_t *res, *win, *aligned;

	res = zc__sys.mmap(NULL, total, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return -errno;
	aligned = (uint8_t *)ZC__ALIGN_UP((uintptr_t)res, ZC__RX_WINDOW_ALIGN);
	win = zc__sys.mmap(aligned, len, PROT_READ, MAP_SHARED | MAP_FIXED, fd,
			   0);
	if (win == MAP_FAILED) {
		int err = errno;

		zc__sys.munmap(res, total);
		/* ENODEV: this kernel cannot mmap a TCP socket. */
		return -(err == ENODEV ? EOPNOTSUPP : err);
	}
	if (aligned > res)
		zc__sys.munmap(res, aligned - res);
	if (res + total > aligned + len)
		zc__sys.munmap(aligned + len, res + total - (aligned + len));
	w->base = win;
	w->len = len;
	return 0;
}

int zc__rx_window_init(struct zc__rx_window *w, int fd, uint32_t slot_size,
		       uint32_t nslots, uint32_t copy_size, uint32_t zap)
{
	memset(w, 0, sizeof(*w));
	w->slot_size = slot_size;
	w->nslots = nslots;
	w->copy_size = copy_size;
	w->zap = zap;
	w->slots = calloc(nslots, sizeof(*w->slots));
	/* Untouched pages of the copy area cost no memory: a slot's area is
	 * only written when a read copies into it. */
	w->copy_area = malloc((size_t)copy_size * nslots);
	if (!w->slots || !w->copy_area) {
		zc__rx_window_fini(w);
		return -ENOMEM;
	}
	return fd >= 0 ? map_window(w, fd) : 0;
}

/* Drops the mapping only: the window then serves copy reads alone. */
void zc__rx_window_unmap(struct zc__rx_window *w)
{
	if (w->base)
		zc__sys.munmap(w->base, w->len);
	w->base = NULL;
	w->len = 0;
}

void zc__rx_window_fini(struct zc__rx_window *w)
{
	zc__rx_window_unmap(w);
	free(w->copy_area);
	free(w->slots);
	w->copy_area = NULL;
	w->slots = NULL;
}

/* --- pools ---------------------------------------------------------------- */

int zc__rx_pool_validate_opts(const struct zc_rx_pool_opts *o,
			      size_t page_size)
{
	unsigned int i;

	if (o->zap > ZC_RX_ZAP_KERNEL)
		return -EINVAL;
	if (o->slot_size % page_size || o->slot_size > ZC__RX_MAX_SLOT_SIZE)
		return -EINVAL;
	if (o->slots > ZC__RX_MAX_POOL_SLOTS)
		return -EINVAL;
	if (o->copybuf_size > ZC__RX_MAX_COPYBUF)
		return -EINVAL;
	for (i = 0; i < ZC__ARRAY_SIZE(o->reserved); i++)
		if (o->reserved[i])
			return -EINVAL;
	return 0;
}

ZC_API int zc_rx_pool_create(struct zc_rx_pool **poolp,
			     const struct zc_rx_pool_opts *o)
{
	struct zc_rx_pool_opts def = { 0 };
	long page = sysconf(_SC_PAGESIZE);
	uint32_t slot_size, copybuf;
	struct zc_rx_pool *pool;
	int ret, fd;

	if (!poolp)
		return -EINVAL;
	*poolp = NULL;
	if (!o)
		o = &def;
	ret = zc__rx_pool_validate_opts(o, page > 0 ? (size_t)page : 4096);
	if (ret)
		return ret;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	slot_size = o->slot_size ? o->slot_size : ZC__RX_DEFAULT_SLOT_SIZE;
	copybuf = o->copybuf_size ? o->copybuf_size : ZC__RX_DEFAULT_COPYBUF;
	pool->copybuf_size = copybuf;
	zc__rx_auto_reset(&pool->au);
	pool->au.whole_thread = 1;
	/* Any TCP socket's mapping serves them all; the VMA keeps this one
	 * alive after we close our descriptor. */
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		free(pool);
		return ret;
	}
	/* Handles in copy mode share the copy areas: size them for whole
	 * slots. */
	ret = zc__rx_window_init(&pool->win, fd, slot_size,
				 o->slots ? o->slots : ZC__RX_DEFAULT_POOL_SLOTS,
				 ZC__MAX(copybuf, slot_size),
				 o->zap ? o->zap : ZC__RX_DEFAULT_ZAP);
	close(fd);
	if (ret == -EOPNOTSUPP) {
		/* No receive zero-copy here: the pool still serves copy
		 * reads; zero-copy handles are refused at create. */
		ret = 0;
	}
	if (ret) {
		zc__rx_window_fini(&pool->win);
		free(pool);
		return ret;
	}
	*poolp = pool;
	return 0;
}

ZC_API int zc_rx_pool_free(struct zc_rx_pool *pool)
{
	if (!pool)
		return 0;
	if (pool->win.users)
		return -EBUSY;
	zc__rx_window_fini(&pool->win);
	free(pool);
	return 0;
}
