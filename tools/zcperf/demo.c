/* SPDX-License-Identifier: MIT */
/*
 * zcperf with no arguments: receiver and sender in this one process, over
 * loopback, comparing copy, zero-copy and auto receive side by side.
 *
 * Pages are mappable on loopback only when the sender used MSG_ZEROCOPY
 * (the kernel then copies the data into fresh order-0 pages for the
 * receiver) and every segment carries whole pages: MSS 4108 is 4096 bytes
 * of payload plus 12 of TCP timestamps. As root the demo runs in a private
 * network namespace (unshare, then lo brought up by hand), so it neither
 * sees nor disturbs anything else on the machine; otherwise on the host's
 * loopback.
 *
 * Run-to-run noise on a VM is about +-15%, so the modes alternate (each
 * round in a rotated order), every run is repeated, and the table shows
 * medians, with the hypervisor's steal time beside them.
 *
 * SIGINT stops the demo: the table shows the runs that finished (a run
 * stopped part way measured only its start) and says it was interrupted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "report.h"

#define DEMO_MSS   4108u
#define DEMO_BYTES (256ull << 20)
#define DEMO_MODES 3

static const int demo_modes[DEMO_MODES] = { RX_COPY, RX_ZEROCOPY, RX_AUTO };

struct demo_run {
	double gbit;
	double usec_per_mib;
	double mapped; /* fraction */
	bool verified;
	double seconds;
	struct cpu_use cpu;
};

static int lo_up(void)
{
	struct ifreq ifr;
	int fd, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		r = -errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		r = -errno;
out:
	close(fd);
	return r;
}

/* Where the demo's traffic runs, in words for the context line. */
static const char *enter_private_net(char *why, size_t len)
{
	int r;

	if (geteuid() != 0) {
		snprintf(why, len,
			 "host loopback (not root, so no private "
			 "namespace)");
		return why;
	}
	/* Only this thread moves (and the threads it makes later); the
	 * SIGINT thread only shuts sockets down, in any namespace. */
	if (unshare(CLONE_NEWNET)) {
		snprintf(why, len, "host loopback (unshare: %s)",
			 strerror(errno));
		return why;
	}
	r = lo_up();
	if (r)
		fatal("bring up lo in the private namespace", -r);
	snprintf(why, len, "private network namespace (lo)");
	return why;
}

static int demo_listen(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("socket", errno);
	r = set_mss(fd, DEMO_MSS);
	if (r)
		fatal("TCP_MAXSEG", -r);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ||
	    getsockname(fd, (struct sockaddr *)addr, &len) || listen(fd, 4))
		fatal("listen on 127.0.0.1", errno);
	return fd;
}

static void demo_fail(const struct cfg *cfg, const struct conn_error *e)
{
	char msg[256];

	report_conn_error(e, 0, 1);
	if (cfg->json) {
		conn_error_text(e, msg, sizeof(msg));
		json_error_doc("demo", msg);
	}
	exit(interrupted() ? ZCPERF_EXIT_INTERRUPTED : 1);
}

/* One stream of cfg->bytes: the sender in a thread, the receiver here.
 * Returns false when SIGINT stopped it before the end: such a run is not
 * compared. */
static bool run_one(const struct cfg *base, int lfd,
		    const struct sockaddr_in *addr, int mode,
		    struct demo_run *out)
{
	struct cfg cfg = *base;
	struct tx_conn tx = { 0 };
	struct rx_conn rx = { 0 };
	struct wire_hdr h;
	int afd, r;

	cfg.rx = mode;
	cfg.tx = ZC_TX_MSG_ZEROCOPY;
	tx.fd = -1;
	tx.cfg = &cfg;
	tx.planned = cfg.bytes;
	tx.hdr.run_id = random_u64();
	tx.hdr.conn_count = 1;
	tx.hdr.flags = WIRE_F_PATTERN;
	tx.hdr.tx = ZC_TX_MSG_ZEROCOPY;
	tx.hdr.chunk = cfg.chunk;
	tx.hdr.planned_bytes = cfg.bytes;
	/* After SIGINT the listening socket is shut down: connect, accept
	 * and the header fail, and that is no error. */
	if (tx_conn_connect(&tx, (const struct sockaddr *)addr, sizeof(*addr),
			    DEMO_MSS)) {
		if (interrupted())
			return false;
		demo_fail(&cfg, &tx.error);
	}
	interrupt_watch(tx.fd);
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0) {
		r = errno;
		interrupt_close(tx.fd);
		if (interrupted())
			return false;
		fatal("accept", r);
	}
	interrupt_watch(afd);
	r = wire_recv(afd, &h, 5000);
	if (r) {
		interrupt_close(afd);
		interrupt_close(tx.fd);
		if (interrupted())
			return false;
		fatal("demo header", -r);
	}
	if (pthread_create(&tx.thread, NULL, tx_conn_thread, &tx))
		fatal("pthread_create", EAGAIN);
	rx.fd = afd;
	rx.cfg = &cfg;
	rx.hdr = h;
	rx_conn_run(&rx);
	interrupt_close(afd); /* lets the sender see our end, or a reset */
	pthread_join(tx.thread, NULL);
	interrupt_close(tx.fd);
	if (rx.error.err)
		demo_fail(&cfg, &rx.error);
	if (tx.error.err)
		demo_fail(&cfg, &tx.error);
	/* Short only when SIGINT stopped it (else rx_conn_run failed it). */
	if (rx.bytes != cfg.bytes)
		return false;
	out->seconds = rx.t_end - rx.t_first;
	out->gbit = gbit_per_s(rx.bytes, out->seconds);
	out->cpu = rx.cpu;
	out->usec_per_mib = usec_per_mib(&rx.cpu, rx.bytes);
	out->mapped = rx.bytes ? (double)rx.mapped / (double)rx.bytes : 0;
	out->verified = rx.verified;
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	if (!n) /* --rounds is 1..99; n == 0 would read v[-1] */
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct demo_row {
	double gbit, usec, mapped;
	bool verified;
	unsigned int runs; /* finished; fewer than --rounds after SIGINT */
};

static void summarise(struct demo_run *runs, unsigned int n,
		      struct demo_row *row)
{
	double v[99];
	unsigned int i;

	row->runs = n;
	/* No finished run (SIGINT) verified nothing. */
	row->verified = n > 0;
	for (i = 0; i < n; i++) {
		v[i] = runs[i].gbit;
		row->verified &= runs[i].verified;
	}
	row->gbit = median(v, n);
	for (i = 0; i < n; i++)
		v[i] = runs[i].usec_per_mib;
	row->usec = median(v, n);
	for (i = 0; i < n; i++)
		v[i] = runs[i].mapped;
	row->mapped = median(v, n);
}

/* A median over no runs is no number: null. */
static void json_median(struct json *j, const char *key, double v,
			const struct demo_row *row)
{
	if (row->runs)
		json_num(j, key, v);
	else
		json_str(j, key, NULL);
}

static void print_json(const struct cfg *cfg, const char *where,
		       struct demo_run runs[][DEMO_MODES],
		       const struct demo_row *rows)
{
	struct json j;
	unsigned int m, r;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_version(&j);
	json_str(&j, "role", "demo");
	json_obj_begin(&j, "start");
	json_str(&j, "network", where);
	json_u64(&j, "mss", DEMO_MSS);
	json_str(&j, "tx_mode", tx_kind_name(ZC_TX_MSG_ZEROCOPY));
	json_u64(&j, "bytes_per_run", cfg->bytes);
	json_u64(&j, "rounds", cfg->rounds);
	json_obj_end(&j);
	json_bool(&j, "interrupted", interrupted());
	json_arr_begin(&j, "modes");
	for (m = 0; m < DEMO_MODES; m++) {
		json_obj_begin(&j, NULL);
		json_str(&j, "mode", rx_kind_name(demo_modes[m]));
		json_median(&j, "bits_per_second", rows[m].gbit * 1e9,
			    &rows[m]);
		json_median(&j, "usec_per_mb", rows[m].usec, &rows[m]);
		json_median(&j, "mapped_fraction", rows[m].mapped, &rows[m]);
		json_bool(&j, "verified", rows[m].verified);
		json_arr_begin(&j, "runs");
		for (r = 0; r < rows[m].runs; r++) {
			const struct demo_run *d = &runs[r][m];

			json_obj_begin(&j, NULL);
			json_num(&j, "seconds", d->seconds);
			json_num(&j, "bits_per_second", d->gbit * 1e9);
			json_num(&j, "cpu_user_s", d->cpu.user_s);
			json_num(&j, "cpu_sys_s", d->cpu.sys_s);
			json_num(&j, "usec_per_mb", d->usec_per_mib);
			json_num(&j, "mapped_fraction", d->mapped);
			json_bool(&j, "verified", d->verified);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_done(&j);
}

static void print_table(const struct cfg *cfg, const char *where,
			const struct demo_row *rows,
			const struct steal_sample *s0,
			const struct steal_sample *s1)
{
	unsigned int m;
	char sz[32];

	printf("zcperf demo on Linux %s, %s: MSS %u, MSG_ZEROCOPY sender, "
	       "%u x %s per mode, medians.\n",
	       kernel_release(), where, DEMO_MSS, cfg->rounds,
	       fmt_iec(sz, sizeof(sz), (double)cfg->bytes));
	printf("CPU is the receiving thread's user+sys per MiB. Which mode "
	       "costs less depends on the machine and the read size: auto "
	       "measures both and picks.\n\n");
	printf("%-10s %9s %12s %9s  %s\n", "mode", "Gbit/s", "usec/MiB",
	       "mapped", "verified");
	for (m = 0; m < DEMO_MODES; m++) {
		if (!rows[m].runs) {
			printf("%-10s %9s %12s %9s  %s\n",
			       rx_kind_name(demo_modes[m]), "-", "-", "-", "-");
			continue;
		}
		printf("%-10s %9.2f %12.1f %7.1f %%  %s\n",
		       rx_kind_name(demo_modes[m]), rows[m].gbit, rows[m].usec,
		       100 * rows[m].mapped, rows[m].verified ? "yes" : "NO");
	}
	printf("\n");
	if (interrupted())
		printf("interrupted (SIGINT): medians of the runs that "
		       "finished (copy %u, zerocopy %u, auto %u of %u each); "
		       "the run under way is left out\n",
		       rows[0].runs, rows[1].runs, rows[2].runs, cfg->rounds);
	print_steal_line(s0, s1);
	fflush(stdout);
}

int run_demo(const struct cfg *base)
{
	struct cfg cfg = *base;
	struct demo_run(*runs)[DEMO_MODES];
	struct demo_row rows[DEMO_MODES];
	struct steal_sample s0, s1;
	struct sockaddr_in addr;
	bool tty = !cfg.json && isatty(STDOUT_FILENO);
	unsigned int done[DEMO_MODES] = { 0 }, r, k, m;
	const char *where;
	char why[128];
	int lfd;

	if (!cfg.bytes)
		cfg.bytes = DEMO_BYTES;
	cfg.verify = true;
	cfg.rcvlowat = true;
	cfg.chunk = ZCPERF_DEFAULT_CHUNK;
	runs = calloc(cfg.rounds, sizeof(*runs));
	if (!runs)
		fatal("calloc", ENOMEM);
	where = enter_private_net(why, sizeof(why));
	lfd = demo_listen(&addr);
	/* SIGINT shuts it down: connect and accept return. */
	interrupt_watch(lfd);
	steal_sample(&s0);
	for (r = 0; r < cfg.rounds && !interrupted(); r++) {
		for (k = 0; k < DEMO_MODES && !interrupted(); k++) {
			/* Rotate the order so no mode always runs first. */
			m = (r + k) % DEMO_MODES;
			if (tty) {
				printf("\rround %u/%u: %-10s", r + 1,
				       cfg.rounds, rx_kind_name(demo_modes[m]));
				fflush(stdout);
			}
			/* Finished runs only, in order: done[m] <= r. */
			if (run_one(&cfg, lfd, &addr, demo_modes[m],
				    &runs[done[m]][m]))
				done[m]++;
		}
	}
	steal_sample(&s1);
	if (tty)
		printf("\r%40s\r", "");
	interrupt_close(lfd);
	for (m = 0; m < DEMO_MODES; m++) {
		/* Zeroed: clang-analyzer loses cfg.rounds between loops. */
		struct demo_run col[99] = { 0 };

		for (r = 0; r < done[m]; r++)
			col[r] = runs[r][m];
		summarise(col, done[m], &rows[m]);
	}
	if (cfg.json)
		print_json(&cfg, where, runs, rows);
	else
		print_table(&cfg, where, rows, &s0, &s1);
	for (m = 0; m < DEMO_MODES; m++)
		if (!rows[m].verified) {
			free(runs);
			return 1;
		}
	free(runs);
	return 0;
}
