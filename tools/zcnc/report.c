/* SPDX-License-Identifier: MIT */
/*
 * zcnc reporting: the progress line (only on a terminal), the one-line
 * summary and the -J JSON object, all on stderr so stdout stays data.
 * Human output: sizes in IEC bytes (MiB), rates in SI bits (Gbit/s),
 * labelled. JSON: raw base units (bytes, seconds, bits per second).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "zcnc.h"

double zcnc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int zcnc_fail(struct zcnc_result *res, int code, const char *context, int err)
{
	snprintf(res->error, sizeof(res->error), "%s: %s", context,
		 strerror(err));
	res->exit_code = code;
	return code;
}

void zcnc_print_error(const struct zcnc_result *res)
{
	if (!res->error[0])
		return;
	fprintf(stderr, "zcnc: %s\n", res->error);
	/* The one zero-copy cause users can fix themselves. */
	if (strstr(res->error, strerror(ENOBUFS)))
		fprintf(stderr, "hint: raise net.core.optmem_max or "
				"RLIMIT_MEMLOCK (ulimit -l)\n");
}

static char *fmt_bytes(char *buf, size_t size, uint64_t v)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double d = (double)v / 1024;
	int i = 0, prec;

	if (v < 1024) {
		snprintf(buf, size, "%llu B", (unsigned long long)v);
		return buf;
	}
	while (d >= 1024 && i < 4) {
		d /= 1024;
		i++;
	}
	/* Three significant digits: 2.86 MiB, 13.5 GiB, 256 MiB. */
	prec = d < 10 ? 2 : 1;
	if (d >= 100)
		prec = 0;
	snprintf(buf, size, "%.*f %s", prec, d, unit[i]);
	return buf;
}

static char *fmt_rate(char *buf, size_t size, double bits_per_s)
{
	static const char *const unit[] = { "bit/s", "kbit/s", "Mbit/s",
					    "Gbit/s", "Tbit/s" };
	int i = 0;

	while (bits_per_s >= 1000 && i < 4) {
		bits_per_s /= 1000;
		i++;
	}
	snprintf(buf, size, "%.*f %s", i ? 2 : 0, bits_per_s, unit[i]);
	return buf;
}

static double percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* "mapped" on the receiver: pages handed out of TCP; "zero-copy" on the
 * sender: bytes the kernel sent without copying them. */
static bool receiver(const struct zcnc_result *res)
{
	return !strcmp(res->role, "receiver");
}

static const char *share_label(const struct zcnc_result *res)
{
	return receiver(res) ? "mapped" : "zero-copy";
}

void zcnc_progress(const struct zcnc_cfg *cfg, struct zcnc_result *res,
		   bool final)
{
	static double last;
	char b[32], t[32], r[32];
	double now = zcnc_now(), secs = now - res->start;
	double rate;

	if (final) {
		/* Erase the progress line before the summary. */
		if (last)
			fprintf(stderr, "\r\033[K");
		return;
	}
	if (now - last < 0.25)
		return;
	last = now;
	rate = secs > 0 ? (double)res->bytes * 8 / secs : 0;
	fprintf(stderr, "\r\033[Kzcnc: %s",
		fmt_bytes(b, sizeof(b), res->bytes));
	if (res->size > 0)
		fprintf(stderr, " of %s (%.0f%%)",
			fmt_bytes(t, sizeof(t), (uint64_t)res->size),
			percent(res->bytes, (uint64_t)res->size));
	fprintf(stderr, "  %s  %.1f%% %s", fmt_rate(r, sizeof(r), rate),
		percent(res->mapped, res->bytes), share_label(res));
	if (res->size > 0 && rate > 0 && (uint64_t)res->size > res->bytes)
		fprintf(stderr, "  ETA %.0f s",
			(double)((uint64_t)res->size - res->bytes) * 8 / rate);
}

static void json_str(const char *s)
{
	fputc('"', stderr);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c < 0x20)
			fprintf(stderr, "\\u%04x", c);
		else
			fputc(c, stderr);
	}
	fputc('"', stderr);
}

static void json_u64(const char *key, uint64_t v, bool comma)
{
	fprintf(stderr, "\"%s\":%llu%s", key, (unsigned long long)v,
		comma ? "," : "");
}

static void json_rx(const struct zcnc_result *res)
{
	const struct zc_rx_stats *s = &res->rx;
	const char *name = zc_rx_mode_name(res->rx_mode);

	fprintf(stderr, "\"rx\":{\"mode_requested\":");
	json_str(zc_rx_mode_name(res->rx_mode_requested));
	fprintf(stderr, ",\"mode\":");
	if (name)
		json_str(name);
	else
		fprintf(stderr, "null"); /* the engine never ran */
	fprintf(stderr, ",");
	json_u64("bytes_mapped", s->bytes_mapped, true);
	json_u64("bytes_copybuf", s->bytes_copybuf, true);
	json_u64("bytes_read", s->bytes_read, true);
	json_u64("zerocopy_calls", s->zerocopy_calls, true);
	json_u64("recv_calls", s->recv_calls, true);
	json_u64("zaps", s->zaps, true);
	json_u64("views", s->views, true);
	json_u64("waits", s->waits, true);
	json_u64("mode_switches", s->mode_switches, true);
	json_u64("skip_hints", s->skip_hints, true);
	json_u64("small_queue", s->small_queue, false);
	fprintf(stderr, "}");
}

static const char *tx_name(int backend)
{
	const char *name = zc_tx_backend_name(backend);

	return name ? name : "?";
}

static void json_tx(const struct zcnc_result *res)
{
	const struct zc_tx_stats *s = &res->tx;

	fprintf(stderr, "\"tx\":{\"backend_requested\":");
	json_str(tx_name(res->tx_backend_requested));
	fprintf(stderr, ",\"backend\":");
	json_str(tx_name(res->tx_backend));
	fprintf(stderr, ",");
	json_u64("sends", s->sends, true);
	json_u64("bytes", s->bytes, true);
	json_u64("bytes_zerocopy", s->bytes_zerocopy, true);
	json_u64("bytes_kernel_copied", s->bytes_kernel_copied, true);
	json_u64("bytes_policy_copied", s->bytes_policy_copied, true);
	json_u64("notifications", s->notifications, true);
	json_u64("enobufs", s->enobufs, true);
	json_u64("enobufs_copied", s->enobufs_copied, true);
	json_u64("fallbacks", s->fallbacks, true);
	json_u64("outstanding", s->outstanding, true);
	json_u64("auto_backoffs", s->auto_backoffs, true);
	json_u64("out_of_order", s->out_of_order, true);
	json_u64("bad_ids", s->bad_ids, true);
	json_u64("foreign_errors", s->foreign_errors, false);
	fprintf(stderr, "}");
}

static void json_summary(const struct zcnc_result *res)
{
	double bps =
		res->seconds > 0 ? (double)res->bytes * 8 / res->seconds : 0;

	fprintf(stderr,
		"{\"tool\":\"zcnc\",\"version\":\"%d.%d.%d\","
		"\"libzcnet\":",
		ZC_VERSION_MAJOR, ZC_VERSION_MINOR, ZC_VERSION_PATCH);
	json_str(zc_version());
	fprintf(stderr, ",\"role\":");
	json_str(res->role);
	fprintf(stderr, ",\"local\":");
	json_str(res->local);
	fprintf(stderr, ",\"peer\":");
	json_str(res->peer);
	fprintf(stderr, ",");
	json_u64("bytes", res->bytes, true);
	fprintf(stderr, "\"seconds\":%.6f,\"bits_per_second\":%.0f,",
		res->seconds, bps);
	json_u64("mapped_bytes", res->mapped, true);
	json_u64("copied_bytes", res->copied, true);
	if (res->size >= 0)
		json_u64("size", (uint64_t)res->size, true);
	else
		fprintf(stderr, "\"size\":null,");
	json_u64("peer_bytes_ignored", res->peer_ignored, true);
	fprintf(stderr,
		"\"connected\":%s,\"complete\":%s,"
		"\"interrupted\":%s,\"exit_code\":%d,\"error\":",
		res->connected ? "true" : "false",
		res->exit_code == ZCNC_EXIT_OK ? "true" : "false",
		res->interrupted ? "true" : "false", res->exit_code);
	if (res->error[0])
		json_str(res->error);
	else
		fprintf(stderr, "null");
	fprintf(stderr, ",");
	if (res->have_rx)
		json_rx(res);
	else
		fprintf(stderr, "\"rx\":null");
	fprintf(stderr, ",");
	if (res->have_tx)
		json_tx(res);
	else
		fprintf(stderr, "\"tx\":null");
	fprintf(stderr, "}\n");
}

static void human_summary(const struct zcnc_result *res)
{
	char b[32], r[32];
	double bps =
		res->seconds > 0 ? (double)res->bytes * 8 / res->seconds : 0;
	const char *state = res->interrupted ? " (interrupted)"
			    : res->exit_code == ZCNC_EXIT_INCOMPLETE
				    ? " (incomplete)"
				    : "";

	fprintf(stderr, "zcnc: %s %s (%llu bytes) in %.3f s, %s, %.1f%% %s",
		receiver(res) ? "received" : "sent",
		fmt_bytes(b, sizeof(b), res->bytes),
		(unsigned long long)res->bytes, res->seconds,
		fmt_rate(r, sizeof(r), bps), percent(res->mapped, res->bytes),
		share_label(res));
	if (res->have_rx && zc_rx_mode_name(res->rx_mode))
		fprintf(stderr, ", rx %s (asked %s)",
			zc_rx_mode_name(res->rx_mode),
			zc_rx_mode_name(res->rx_mode_requested));
	if (res->have_tx)
		fprintf(stderr, ", tx %s (asked %s)", tx_name(res->tx_backend),
			tx_name(res->tx_backend_requested));
	/* Zero-copy sends the kernel quietly turned into copies (always
	 * the case to a local socket over loopback or veth). */
	if (res->have_tx && res->tx.bytes_kernel_copied)
		fprintf(stderr, ", kernel copied %.1f%%",
			percent(res->tx.bytes_kernel_copied, res->bytes));
	/* Fallbacks are counted and said, never silent. */
	if (res->have_tx && res->tx.enobufs)
		fprintf(stderr, ", ENOBUFS %llu times (%llu sends copied)",
			(unsigned long long)res->tx.enobufs,
			(unsigned long long)res->tx.enobufs_copied);
	if (res->have_tx && res->tx.fallbacks)
		fprintf(stderr, ", %llu fallbacks to copy",
			(unsigned long long)res->tx.fallbacks);
	if (res->peer_ignored)
		fprintf(stderr, ", %llu bytes from the peer ignored",
			(unsigned long long)res->peer_ignored);
	if (res->peer[0])
		fprintf(stderr, ", %s %s", receiver(res) ? "from" : "to",
			res->peer);
	fprintf(stderr, "%s\n", state);
}

void zcnc_summary(const struct zcnc_cfg *cfg, struct zcnc_result *res)
{
	if (cfg->progress)
		zcnc_progress(cfg, res, true);
	if (cfg->json) {
		json_summary(res);
		return;
	}
	zcnc_print_error(res);
	if (cfg->quiet || (!res->connected && !res->interrupted))
		return;
	human_summary(res);
}
