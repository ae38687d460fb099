/* SPDX-License-Identifier: MIT */
/*
 * Command line: iperf3's letters where iperf3 has one (-s -c -p -t -n -i
 * -P -J -l -1 -4 -6), long options for what is zero-copy specific.
 * Every mistake is a usage error (exit 2) before anything runs: a flag
 * that does nothing in the chosen role is refused rather than ignored,
 * because a silently ignored --rx on the sender is a wrong measurement.
 * --rpc makes four roles of two: in request/response mode both sides
 * receive and send, so --rx and --tx apply to each.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcperf.h"

enum {
	OPT_RX = 256,
	OPT_TX,
	OPT_MSS,
	OPT_ZAP,
	OPT_COPYBUF,
	OPT_SLOTS,
	OPT_RCVLOWAT,
	OPT_NO_RCVLOWAT,
	OPT_NO_VERIFY,
	OPT_PROBE,
	OPT_DEMO,
	OPT_ROUNDS,
	OPT_VERSION,
	OPT_RPC,
	OPT_REQ,
	OPT_RESP,
	OPT_THREADS,
	OPT_RX_WINDOW,
	OPT_POOL_SLOTS,
	OPT_MMAP_CHURN,
	OPT_REAP_EVERY,
	OPT_ZC_THRESHOLD,
};

static const struct option long_opts[] = {
	{ "server", no_argument, NULL, 's' },
	{ "client", required_argument, NULL, 'c' },
	{ "port", required_argument, NULL, 'p' },
	{ "one-off", no_argument, NULL, '1' },
	{ "length", required_argument, NULL, 'l' },
	{ "bytes", required_argument, NULL, 'n' },
	{ "time", required_argument, NULL, 't' },
	{ "parallel", required_argument, NULL, 'P' },
	{ "interval", required_argument, NULL, 'i' },
	{ "json", no_argument, NULL, 'J' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "rx", required_argument, NULL, OPT_RX },
	{ "tx", required_argument, NULL, OPT_TX },
	{ "mss", required_argument, NULL, OPT_MSS },
	{ "zap", required_argument, NULL, OPT_ZAP },
	{ "copybuf", required_argument, NULL, OPT_COPYBUF },
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "rcvlowat", no_argument, NULL, OPT_RCVLOWAT },
	{ "no-rcvlowat", no_argument, NULL, OPT_NO_RCVLOWAT },
	{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
	{ "probe", no_argument, NULL, OPT_PROBE },
	{ "demo", no_argument, NULL, OPT_DEMO },
	{ "rounds", required_argument, NULL, OPT_ROUNDS },
	{ "rpc", no_argument, NULL, OPT_RPC },
	{ "req", required_argument, NULL, OPT_REQ },
	{ "resp", required_argument, NULL, OPT_RESP },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "rx-window", required_argument, NULL, OPT_RX_WINDOW },
	{ "pool-slots", required_argument, NULL, OPT_POOL_SLOTS },
	{ "mmap-churn", no_argument, NULL, OPT_MMAP_CHURN },
	{ "udp", no_argument, NULL, 'u' },
	{ "reap-every", required_argument, NULL, OPT_REAP_EVERY },
	{ "zc-threshold", required_argument, NULL, OPT_ZC_THRESHOLD },
	{ NULL, 0, NULL, 0 },
};

/* Which role may use an option. */
#define FOR_SERVER     (1u << 0)
#define FOR_CLIENT     (1u << 1)
#define FOR_PROBE      (1u << 2)
#define FOR_DEMO       (1u << 3)
#define FOR_RPC_SERVER (1u << 4)
#define FOR_RPC_CLIENT (1u << 5)
#define FOR_STREAM     (FOR_SERVER | FOR_CLIENT)
#define FOR_RPC	       (FOR_RPC_SERVER | FOR_RPC_CLIENT)
#define FOR_ALL_NET    (FOR_STREAM | FOR_RPC)

struct used {
	const char *name;
	unsigned int roles;
};

static const char *const rx_names[] = { "auto", "zerocopy", "copy", "raw" };
static const char *const rx_window_names[] = { "per-conn", "pool" };

const char *rx_kind_name(int rx)
{
	return rx >= 0 && rx < 4 ? rx_names[rx] : "?";
}

const char *tx_kind_name(int tx)
{
	const char *name = zc_tx_backend_name(tx);

	return name ? name : "?";
}

const char *rx_window_name(int w)
{
	return w >= 0 && w < 2 ? rx_window_names[w] : "?";
}

void print_help(FILE *f)
{
	fputs("Usage: zcperf                      demo: copy vs zero-copy on "
	      "this machine\n"
	      "       zcperf -s [options]         receiver (server)\n"
	      "       zcperf -c HOST [options]    sender (client)\n"
	      "       zcperf --probe [-J]         what this kernel supports\n"
	      "\n"
	      "Both sides:\n"
	      "  -p, --port PORT      TCP port (default 5301)\n"
	      "  -4, -6               IPv4 or IPv6 only\n"
	      "  -l, --length SIZE    sender write size / receiver slot size\n"
	      "                       (default 512K; receiver: page multiple)\n"
	      "      --mss N          TCP_MAXSEG; 4108 gives page-aligned "
	      "4096-byte\n"
	      "                       segments on loopback (timestamps take "
	      "12)\n"
	      "  -i, --interval SEC   print a line every SEC seconds\n"
	      "  -J, --json           one JSON document on stdout\n"
	      "      --no-verify      receiver: skip the integrity check;\n"
	      "                       sender: do not write the pattern\n"
	      "  -u, --udp            UDP: the sender sends datagrams of -l "
	      "bytes\n"
	      "                       (default 61440, at most 65507), the "
	      "receiver\n"
	      "                       checks each and reports loss\n"
	      "\n"
	      "Receiver (-s):\n"
	      "  -1, --one-off        serve one client, then exit\n"
	      "      --rx MODE        zerocopy (default), copy, auto, raw (a "
	      "plain\n"
	      "                       TCP_ZEROCOPY_RECEIVE loop without "
	      "zcnet)\n"
	      "      --zap Z          default, each, batch, kernel "
	      "(zc_rx_opts.zap)\n"
	      "      --copybuf SIZE   zc_rx_opts.copybuf_size\n"
	      "      --slots N        zc_rx_opts.slots\n"
	      "      --rcvlowat       SO_RCVLOWAT = slot size (default)\n"
	      "      --no-rcvlowat    leave SO_RCVLOWAT alone\n"
	      "\n"
	      "Sender (-c HOST), through the library's send engine (zc_tx):\n"
	      "      --tx MODE        copy (send(), the default), "
	      "msg_zerocopy,\n"
	      "                       uring (io_uring SEND), uring_zc "
	      "(io_uring\n"
	      "                       SEND_ZC) or auto (zero-copy from a "
	      "threshold,\n"
	      "                       copy while the kernel copies anyway)\n"
	      "      --reap-every N   msg_zerocopy, auto: read completions "
	      "after\n"
	      "                       every N zero-copy sends (default 32)\n"
	      "      --zc-threshold SIZE  auto: copy sends shorter than SIZE\n"
	      "                       (default 32K)\n"

	      "  -n, --bytes SIZE     send SIZE bytes in all (K, M, G: KiB, "
	      "MiB, GiB)\n"
	      "  -t, --time SEC       send for SEC seconds (default 10)\n"
	      "  -P, --parallel N     N connections, one thread each (default "
	      "1)\n"
	      "\n"
	      "Request/response (--rpc on both sides):\n"
	      "      --rpc            each connection sends a request and "
	      "waits for\n"
	      "                       its response (closed loop); both "
	      "sides verify\n"
	      "  -P N                 client: connections (default 100)\n"
	      "  -t SEC               client: run time (default 10)\n"
	      "      --req SIZE       client: request payload (default 4K)\n"
	      "      --resp SIZE      client: response payload (default 4K)\n"
	      "      --threads N      event-loop threads on this side "
	      "(default 1)\n"
	      "      --rx, --tx       how this side receives and sends\n"
	      "      --rx-window W    pool (default): one zc_rx_pool per "
	      "thread;\n"
	      "                       per-conn: a window per connection\n"
	      "      --pool-slots N   slots of each pool (default: 8 per "
	      "connection)\n"
	      "      --mmap-churn     server: a thread that mmaps and munmaps "
	      "all\n"
	      "                       the time (takes the mmap write lock)\n"
	      "  -l SIZE              receive slot size (default 512K)\n"
	      "\n"
	      "Demo (no -s/-c): --rounds N (default 3), -n SIZE per run "
	      "(256M), -J\n"
	      "  -h, --help           this text      --version   version\n"
	      "\n"
	      "The sender decides how much to send; the receiver reads until "
	      "the end\n"
	      "of each stream and verifies every byte. See zcperf(1).\n"
	      "\n"
	      "Exit status:\n"
	      "  0    every stream ended cleanly and every byte checked was "
	      "right\n"
	      "  1    runtime error: a connection failed or was reset, data "
	      "did not\n"
	      "       match, a stream ended early, a system call failed\n"
	      "  2    usage error\n"
	      "  130  interrupted (SIGINT), after printing the partial "
	      "summary;\n"
	      "       a second SIGINT exits at once\n",
	      f);
}

static void bad_number(const char *opt, const char *arg)
{
	usage_error("invalid number for %s: '%s'", opt, arg);
}

/* Integer with an optional IEC suffix: K, M, G, T (also KiB, MiB, ...). */
static uint64_t parse_size(const char *opt, const char *arg, uint64_t min,
			   uint64_t max)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!*arg || *arg == '-' || *arg == '+' || *arg == ' ')
		bad_number(opt, arg);
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg)
		bad_number(opt, arg);
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		bad_number(opt, arg);
	}
	if (shift) {
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "i") ||
		    !strcmp(end, "B"))
			end += strlen(end);
	} else if (!strcmp(end, "B")) {
		end++;
	}
	if (*end)
		bad_number(opt, arg);
	if (shift && v > (UINT64_MAX >> shift))
		usage_error("%s: '%s' is too large", opt, arg);
	v <<= shift;
	if (v < min || v > max)
		usage_error("%s: '%s' is out of range (%llu to %llu)", opt, arg,
			    (unsigned long long)min, (unsigned long long)max);
	return v;
}

static double parse_seconds(const char *opt, const char *arg, double min,
			    double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v))
		bad_number(opt, arg);
	if (v < min || v > max)
		usage_error("%s: '%s' is out of range (%g to %g)", opt, arg,
			    min, max);
	return v;
}

static int parse_name(const char *opt, const char *arg,
		      const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(arg, names[i]))
			return i;
	usage_error("invalid value for %s: '%s'", opt, arg);
}

static void remember(struct used *u, unsigned int *nused, const char *name,
		     unsigned int roles)
{
	u[*nused].name = name;
	u[*nused].roles = roles;
	(*nused)++;
}

static bool was_used(const struct used *u, unsigned int nused, const char *name)
{
	unsigned int i;

	for (i = 0; i < nused; i++)
		if (!strcmp(u[i].name, name))
			return true;
	return false;
}

/* --reap-every sets how often the MSG_ZEROCOPY error queue is read (also
 * under auto); --zc-threshold is auto's size below which it copies. */
static void check_tx_options(const struct cfg *cfg, const struct used *u,
			     unsigned int nused)
{
	if (was_used(u, nused, "--reap-every") && cfg->tx != ZC_TX_AUTO &&
	    cfg->tx != ZC_TX_MSG_ZEROCOPY)
		usage_error("--reap-every applies to --tx=msg_zerocopy and "
			    "--tx=auto (io_uring's notifications are "
			    "completion-ring entries)");
	if (was_used(u, nused, "--zc-threshold") && cfg->tx != ZC_TX_AUTO)
		usage_error("--zc-threshold applies to --tx=auto");
}

/* -u: datagrams of -l bytes from the sender; the receiver takes the size
 * from the sender's header and has no TCP receive path to tune. */
static void check_udp_options(struct cfg *cfg, const struct used *u,
			      unsigned int nused, bool chunk_set)
{
	static const char *const tcp_only[] = {
		"--mss",   "--rx",	 "--zap",	  "--copybuf",
		"--slots", "--rcvlowat", "--no-rcvlowat",
	};
	unsigned int i;

	for (i = 0; i < sizeof(tcp_only) / sizeof(tcp_only[0]); i++)
		if (was_used(u, nused, tcp_only[i]))
			usage_error("%s is a TCP option: -u sends datagrams",
				    tcp_only[i]);
	if (cfg->cmd == CMD_SERVER && chunk_set)
		usage_error("-l with -u is the sender's datagram size; the "
			    "receiver takes it from the sender");
	if (!chunk_set)
		cfg->chunk = ZCPERF_UDP_DEFAULT_SIZE;
	if (cfg->chunk < ZCPERF_UDP_MIN_SIZE ||
	    cfg->chunk > ZCPERF_UDP_MAX_SIZE)
		usage_error("-l: with -u the datagram size is %u to %u bytes",
			    ZCPERF_UDP_MIN_SIZE, ZCPERF_UDP_MAX_SIZE);
}

void parse_options(struct cfg *cfg, int argc, char **argv)
{
	struct used used[64];
	unsigned int nused = 0, i, role;
	bool want_server = false, want_probe = false, want_demo = false;
	bool want_help = false, want_version = false, parallel_set = false;
	bool copybuf_set = false, chunk_set = false;
	const char *client = NULL;
	int c, zap, tx;
	long page;

	memset(cfg, 0, sizeof(*cfg));
	cfg->port = ZCPERF_DEFAULT_PORT;
	cfg->family = AF_UNSPEC;
	cfg->rx = RX_ZEROCOPY;
	cfg->tx = ZC_TX_COPY;
	cfg->chunk = ZCPERF_DEFAULT_CHUNK;
	cfg->parallel = 1;
	cfg->verify = true;
	cfg->rcvlowat = true;
	cfg->zap = ZC_RX_ZAP_DEFAULT;
	cfg->rounds = 3;
	cfg->req_size = ZCPERF_RPC_DEFAULT_SIZE;
	cfg->resp_size = ZCPERF_RPC_DEFAULT_SIZE;
	cfg->threads = 1;
	/* Measured (docs/bench-rpc.md): a pool costs less CPU per
	 * transaction than a window per connection, and auto decides once
	 * for all of a pool's connections. */
	cfg->rx_window = RXW_POOL;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":sc:p:1l:n:t:P:i:J46hu", long_opts,
				NULL)) != -1) {
		if (nused >= sizeof(used) / sizeof(used[0]))
			usage_error("too many options");
		switch (c) {
		case 's':
			want_server = true;
			break;
		case 'c':
			client = optarg;
			break;
		case 'p':
			cfg->port =
				(uint16_t)parse_size("-p", optarg, 1, 65535);
			remember(used, &nused, "-p", FOR_ALL_NET);
			break;
		case '1':
			cfg->one_off = true;
			remember(used, &nused, "-1",
				 FOR_SERVER | FOR_RPC_SERVER);
			break;
		case 'l':
			cfg->chunk = (uint32_t)parse_size("-l", optarg, 1,
							  ZCPERF_MAX_CHUNK);
			chunk_set = true;
			remember(used, &nused, "-l", FOR_ALL_NET);
			break;
		case 'n':
			cfg->bytes = parse_size("-n", optarg, 1, UINT64_MAX);
			remember(used, &nused, "-n", FOR_CLIENT | FOR_DEMO);
			break;
		case 't':
			cfg->seconds =
				parse_seconds("-t", optarg, 0.001, 86400);
			remember(used, &nused, "-t",
				 FOR_CLIENT | FOR_RPC_CLIENT);
			break;
		case 'P':
			/* The limit depends on the mode: checked below. */
			cfg->parallel = (uint32_t)parse_size(
				"-P", optarg, 1, ZCPERF_RPC_MAX_CONNS);
			parallel_set = true;
			remember(used, &nused, "-P",
				 FOR_CLIENT | FOR_RPC_CLIENT);
			break;
		case 'i':
			cfg->interval = parse_seconds("-i", optarg, 0, 3600);
			if (cfg->interval > 0 && cfg->interval < 0.1)
				usage_error("-i: '%s' is out of range (0, or "
					    "0.1 to 3600)",
					    optarg);
			remember(used, &nused, "-i", FOR_STREAM);
			break;
		case 'J':
			cfg->json = true;
			break;
		case '4':
			cfg->family = AF_INET;
			remember(used, &nused, "-4", FOR_ALL_NET);
			break;
		case '6':
			cfg->family = AF_INET6;
			remember(used, &nused, "-6", FOR_ALL_NET);
			break;
		case 'h':
			want_help = true;
			break;
		case OPT_VERSION:
			want_version = true;
			break;
		case OPT_RX:
			cfg->rx = parse_name("--rx", optarg, rx_names, 4);
			remember(used, &nused, "--rx", FOR_SERVER | FOR_RPC);
			break;
		case OPT_TX:
			tx = zc_tx_backend_parse(optarg);
			if (tx < 0)
				usage_error(
					"invalid value for --tx: '%s' (copy, "
					"msg_zerocopy, uring, uring_zc or "
					"auto)",
					optarg);
			cfg->tx = tx;
			remember(used, &nused, "--tx", FOR_CLIENT | FOR_RPC);
			break;
		case OPT_REAP_EVERY:
			cfg->reap_every = (uint32_t)parse_size(
				"--reap-every", optarg, 1, 65536);
			remember(used, &nused, "--reap-every",
				 FOR_CLIENT | FOR_RPC);
			break;
		case OPT_ZC_THRESHOLD:
			cfg->zc_threshold = (uint32_t)parse_size(
				"--zc-threshold", optarg, 1, UINT32_MAX);
			remember(used, &nused, "--zc-threshold",
				 FOR_CLIENT | FOR_RPC);
			break;
		case 'u':
			cfg->udp = true;
			remember(used, &nused, "-u", FOR_STREAM);
			break;
		case OPT_MSS:
			/* TCP_MIN_MSS is 88; the kernel refuses less. */
			cfg->mss = (uint32_t)parse_size("--mss", optarg, 88,
							65535);
			remember(used, &nused, "--mss", FOR_ALL_NET);
			break;
		case OPT_ZAP:
			zap = zc_rx_zap_parse(optarg);
			if (zap < 0)
				usage_error("invalid value for --zap: '%s'",
					    optarg);
			cfg->zap = zap;
			remember(used, &nused, "--zap", FOR_SERVER | FOR_RPC);
			break;
		case OPT_COPYBUF:
			cfg->copybuf = (uint32_t)parse_size("--copybuf", optarg,
							    1, 16u << 20);
			copybuf_set = true;
			remember(used, &nused, "--copybuf",
				 FOR_SERVER | FOR_RPC);
			break;
		case OPT_SLOTS:
			cfg->slots = (uint32_t)parse_size("--slots", optarg, 1,
							  1024);
			remember(used, &nused, "--slots", FOR_SERVER | FOR_RPC);
			break;
		case OPT_RCVLOWAT:
			cfg->rcvlowat = true;
			remember(used, &nused, "--rcvlowat", FOR_SERVER);
			break;
		case OPT_NO_RCVLOWAT:
			cfg->rcvlowat = false;
			remember(used, &nused, "--no-rcvlowat",
				 FOR_SERVER | FOR_RPC);
			break;
		case OPT_NO_VERIFY:
			cfg->verify = false;
			remember(used, &nused, "--no-verify", FOR_ALL_NET);
			break;
		case OPT_PROBE:
			want_probe = true;
			break;
		case OPT_DEMO:
			want_demo = true;
			break;
		case OPT_ROUNDS:
			cfg->rounds =
				(uint32_t)parse_size("--rounds", optarg, 1, 99);
			remember(used, &nused, "--rounds", FOR_DEMO);
			break;
		case OPT_RPC:
			cfg->rpc = true;
			break;
		case OPT_REQ:
			cfg->req_size = (uint32_t)parse_size(
				"--req", optarg, 0, ZCPERF_RPC_MAX_SIZE);
			remember(used, &nused, "--req", FOR_RPC_CLIENT);
			break;
		case OPT_RESP:
			cfg->resp_size = (uint32_t)parse_size(
				"--resp", optarg, 0, ZCPERF_RPC_MAX_SIZE);
			remember(used, &nused, "--resp", FOR_RPC_CLIENT);
			break;
		case OPT_THREADS:
			cfg->threads = (uint32_t)parse_size(
				"--threads", optarg, 1, ZCPERF_RPC_MAX_THREADS);
			remember(used, &nused, "--threads", FOR_RPC);
			break;
		case OPT_RX_WINDOW:
			cfg->rx_window = parse_name("--rx-window", optarg,
						    rx_window_names, 2);
			remember(used, &nused, "--rx-window", FOR_RPC);
			break;
		case OPT_POOL_SLOTS:
			cfg->pool_slots = (uint32_t)parse_size(
				"--pool-slots", optarg, 1, 65536);
			remember(used, &nused, "--pool-slots", FOR_RPC);
			break;
		case OPT_MMAP_CHURN:
			cfg->mmap_churn = true;
			remember(used, &nused, "--mmap-churn", FOR_RPC_SERVER);
			break;
		case ':':
			usage_error("option '%s' needs a value",
				    argv[optind - 1]);
		case '?':
		default:
			if (optopt && optopt < 256)
				usage_error("unknown option '-%c'", optopt);
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);

	if (want_help) {
		cfg->cmd = CMD_HELP;
		return;
	}
	if (want_version) {
		cfg->cmd = CMD_VERSION;
		return;
	}
	if ((want_server + !!client + want_probe + want_demo) > 1)
		usage_error("choose one of -s, -c, --probe and --demo");
	if (want_server) {
		cfg->cmd = CMD_SERVER;
		role = FOR_SERVER;
	} else if (client) {
		cfg->cmd = CMD_CLIENT;
		cfg->host = client;
		role = FOR_CLIENT;
	} else if (want_probe) {
		cfg->cmd = CMD_PROBE;
		role = FOR_PROBE;
	} else {
		cfg->cmd = CMD_DEMO;
		role = FOR_DEMO;
	}
	if (cfg->rpc && role != FOR_SERVER && role != FOR_CLIENT)
		usage_error("--rpc needs -s or -c");
	if (cfg->rpc)
		role = role == FOR_SERVER ? FOR_RPC_SERVER : FOR_RPC_CLIENT;
	for (i = 0; i < nused; i++) {
		unsigned int r = used[i].roles;

		if (r & role)
			continue;
		if (!(r & ~FOR_RPC) && !cfg->rpc)
			usage_error("%s is an --rpc option", used[i].name);
		if (cfg->rpc && (r & FOR_RPC) == FOR_RPC_SERVER)
			usage_error("%s is an --rpc server option (use it "
				    "with -s --rpc)",
				    used[i].name);
		if (cfg->rpc && (r & FOR_RPC) == FOR_RPC_CLIENT)
			usage_error("%s is an --rpc client option (use it "
				    "with -c HOST --rpc)",
				    used[i].name);
		if (cfg->rpc)
			usage_error("%s does not apply to --rpc", used[i].name);
		if ((r & ~FOR_RPC) == FOR_SERVER)
			usage_error("%s is a receiver option (use it with -s)",
				    used[i].name);
		if (!(r & ~(FOR_CLIENT | FOR_DEMO | FOR_RPC)))
			usage_error("%s is a sender option (use it with -c)",
				    used[i].name);
		usage_error("%s needs -s or -c", used[i].name);
	}
	for (i = 0; cfg->rx == RX_RAW && i < nused; i++)
		if (!strcmp(used[i].name, "--zap") ||
		    !strcmp(used[i].name, "--copybuf") ||
		    !strcmp(used[i].name, "--slots"))
			usage_error("%s sets the library's receive engine, "
				    "which --rx=raw does not use",
				    used[i].name);
	if (cfg->rpc && cfg->rx == RX_RAW)
		usage_error("--rx=raw has no message layer: --rpc takes "
			    "zerocopy, copy or auto");
	if (cfg->rpc && cfg->rx_window != RXW_POOL && cfg->pool_slots)
		usage_error("--pool-slots needs --rx-window=pool");
	if (cfg->rpc && cfg->rx_window == RXW_POOL && cfg->slots &&
	    cfg->pool_slots && cfg->slots > cfg->pool_slots)
		usage_error("--slots (per connection) exceeds --pool-slots");
	if (!cfg->rpc && cfg->parallel > ZCPERF_MAX_PARALLEL)
		usage_error("-P: '%u' is out of range (1 to %u; --rpc takes "
			    "up to %u)",
			    cfg->parallel, ZCPERF_MAX_PARALLEL,
			    ZCPERF_RPC_MAX_CONNS);
	if (cfg->rpc && !parallel_set)
		cfg->parallel = ZCPERF_RPC_DEFAULT_CONNS;
	page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		page = 4096;
	/*
	 * The kernel copies the whole receive queue into the copybuf when
	 * it is no longer than the copybuf (5.11), and the library's default
	 * (64 KiB) is longer than a whole 4 KiB request with its header: not
	 * one page would be mapped. Below a page the copybuf only takes the
	 * header and stragglers, and everything mappable is mapped.
	 */
	if (cfg->rpc && !copybuf_set)
		cfg->copybuf = (uint32_t)page / 2;
	if (cfg->rpc && cfg->cmd == CMD_CLIENT && cfg->threads > cfg->parallel)
		usage_error("--threads: more threads than connections (-P)");
	check_tx_options(cfg, used, nused);
	if (cfg->udp)
		check_udp_options(cfg, used, nused, chunk_set);
	if (cfg->bytes && cfg->seconds > 0)
		usage_error("-n and -t exclude each other");
	if (cfg->cmd == CMD_CLIENT && !cfg->bytes && cfg->seconds <= 0)
		cfg->seconds = ZCPERF_DEFAULT_SECONDS;
	if (cfg->cmd == CMD_CLIENT && cfg->bytes && cfg->bytes < cfg->parallel)
		usage_error("-n must give each of the -P connections a byte");
	if ((cfg->cmd == CMD_SERVER || cfg->rpc) && !cfg->udp &&
	    cfg->chunk % page)
		usage_error("-l: the receiver's slot size must be a multiple "
			    "of the page size (%ld)",
			    page);
	if (cfg->cmd == CMD_DEMO && cfg->bytes > (64ull << 30))
		usage_error("-n: the demo sends at most 64G per run");
}
