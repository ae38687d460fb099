/* SPDX-License-Identifier: MIT */
/*
 * zcnc: netcat-like bulk transfer built on zcnet.
 *
 *   zcnc -l -p 5000 > file          receive one connection to stdout
 *   zcnc HOST 5000 < file           send stdin, then wait for the peer
 *
 * It speaks plain TCP, so either end may be nc(1) or socat(1). The
 * receiver reads through struct zc_rx (pages mapped out of TCP when the
 * path allows it, copy otherwise); the sender through struct zc_tx.
 * Flags, signals and exit codes live here; see zcnc(1).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcnc.h"

volatile sig_atomic_t zcnc_interrupted;

static const char usage_line[] =
	"usage: zcnc [options] HOST PORT | zcnc -l [options] [-p PORT | "
	"[ADDR] PORT]";

static void help(void)
{
	printf("%s\n\n", usage_line);
	/* The text as it reads on a terminal. */
	/* clang-format off */
	printf(
"Netcat-like bulk transfer on zcnet. By default the listening side receives\n"
"(socket to stdout) and the connecting side sends (stdin to socket); either\n"
"end can be plain nc or socat. The receiver maps pages out of TCP when the\n"
"path allows it and copies otherwise; the sender can send without copying.\n"
"\n"
"Options:\n"
"  -l, --listen         accept one connection instead of connecting\n"
"  -p, --port PORT      port to listen on (with -l)\n"
"  -s, --source ADDR    local address: bind address with -l (default: any),\n"
"                       source address when connecting\n"
"  -4, -6               IPv4 or IPv6 only\n"
"      --send           send stdin even when listening\n"
"      --recv           receive to stdout even when connecting\n"
"      --rx=MODE        receive engine: auto (default), zerocopy, copy\n"
"      --tx=BACKEND     send engine: auto, copy, msg_zerocopy, uring,\n"
"                       uring_zc (default: auto)\n"
"  -J, --json           summary as one JSON object on stderr\n"
"  -q, --quiet          no summary and no progress line\n"
"  -N                   accepted for nc compatibility (zcnc always shuts\n"
"                       down its sending side at the end of stdin)\n"
"  -h, --help           this help\n"
"  -V, --version        zcnc and libzcnet versions\n"
"\n"
"The sender shuts down its side at the end of stdin and waits for the peer\n"
"to close; the receiver exits at the end of the stream. A progress line is\n"
"shown on stderr when it is a terminal; a one-line summary (bytes, time,\n"
"rate in SI bits, share mapped or sent without a copy) ends every run.\n"
"\n"
"Exit status:\n"
"  0    the whole stream was transferred and the connection closed cleanly\n"
"  1    runtime error: resolve, bind, connect, stdin or stdout failed\n"
"  2    usage error\n"
"  3    transfer incomplete: the connection was reset or failed mid-stream\n"
"  130  interrupted (SIGINT), after printing the partial summary\n");
	/* clang-format on */
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* "zcnc: what went wrong", then the usage line with a hint; exit 2. */
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "zcnc: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s (zcnc --help for more)\n", usage_line);
	return ZCNC_EXIT_USAGE;
}

static void on_sigint(int sig)
{
	/* A second ^C does not wait for the summary. */
	if (zcnc_interrupted)
		_exit(ZCNC_EXIT_SIGINT);
	zcnc_interrupted = 1;
}

/* No SA_RESTART: a blocking recv, send, write or poll returns EINTR so the
 * loops see the flag and print the partial summary. SIGPIPE is ignored so
 * that a closed stdout or socket is an EPIPE error we can report. */
static int setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL))
		return -errno;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		return -errno;
	return 0;
}

static bool valid_port(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	return !errno && !*end && v >= 0 && v <= 65535;
}

enum { OPT_SEND = 256, OPT_RECV, OPT_RX, OPT_TX };

static const struct option long_opts[] = {
	{ "listen", no_argument, NULL, 'l' },
	{ "port", required_argument, NULL, 'p' },
	{ "source", required_argument, NULL, 's' },
	{ "send", no_argument, NULL, OPT_SEND },
	{ "recv", no_argument, NULL, OPT_RECV },
	{ "rx", required_argument, NULL, OPT_RX },
	{ "tx", required_argument, NULL, OPT_TX },
	{ "json", no_argument, NULL, 'J' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Returns -1 when cfg is ready, else the exit code (0 for --help). */
static int parse_args(int argc, char **argv, struct zcnc_cfg *cfg)
{
	bool force_send = false, force_recv = false;
	const char *port = NULL;
	int c, nargs;

	/* Options may follow the operands (GNU style); the leading ':' lets
	 * us word the missing-argument error ourselves. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":lp:s:46JqNhV", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'l':
			cfg->listen = true;
			break;
		case 'p':
			port = optarg;
			break;
		case 's':
			cfg->source = optarg;
			break;
		case '4':
			cfg->family = AF_INET;
			break;
		case '6':
			cfg->family = AF_INET6;
			break;
		case OPT_SEND:
			force_send = true;
			break;
		case OPT_RECV:
			force_recv = true;
			break;
		case OPT_RX:
			cfg->rx_mode = zc_rx_mode_parse(optarg);
			if (cfg->rx_mode < 0)
				return usage_error("--rx: unknown mode '%s' "
						   "(auto, zerocopy, copy)",
						   optarg);
			break;
		case OPT_TX:
			cfg->tx_backend = zc_tx_backend_parse(optarg);
			if (cfg->tx_backend < 0)
				return usage_error(
					"--tx: unknown backend '%s' (auto, "
					"copy, msg_zerocopy, uring, uring_zc)",
					optarg);
			break;
		case 'J':
			cfg->json = true;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case 'N':
			break;
		case 'h':
			help();
			return ZCNC_EXIT_OK;
		case 'V':
			printf("zcnc %d.%d.%d (libzcnet %s)\n",
			       ZC_VERSION_MAJOR, ZC_VERSION_MINOR,
			       ZC_VERSION_PATCH, zc_version());
			return ZCNC_EXIT_OK;
		case ':':
			if (optopt && optopt < 256)
				return usage_error("option '-%c' needs an "
						   "argument",
						   optopt);
			return usage_error("option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				return usage_error("unknown option '-%c'",
						   optopt);
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (force_send && force_recv)
		return usage_error("%s",
				   "--send and --recv exclude each other");
	nargs = argc - optind;
	if (cfg->listen) {
		/* nc -l [ADDR] PORT, or -p PORT with an optional ADDR. */
		if (nargs > 2 || (port && nargs > 1))
			return usage_error("too many operands, starting at "
					   "'%s'",
					   argv[optind + (port ? 1 : 2)]);
		if (nargs == 2) {
			cfg->host = argv[optind];
			port = argv[optind + 1];
		} else if (nargs == 1 && port) {
			cfg->host = argv[optind];
		} else if (nargs == 1) {
			port = argv[optind];
		}
		if (cfg->host && cfg->source)
			return usage_error("%s", "give the bind address once "
						 "(-s ADDR or ADDR operand)");
		if (!cfg->host)
			cfg->host = cfg->source;
		cfg->source = NULL;
		if (!port)
			return usage_error("%s", "missing port (-l -p PORT)");
		cfg->send = force_send;
	} else {
		if (port)
			return usage_error(
				"%s", "-p is the listening port: use -l, or"
				      " give the port after HOST");
		if (nargs < 1)
			return usage_error("%s", "missing HOST and PORT");
		if (nargs < 2)
			return usage_error("missing port after '%s'",
					   argv[optind]);
		if (nargs > 2)
			return usage_error("too many operands, starting at "
					   "'%s'",
					   argv[optind + 2]);
		cfg->host = argv[optind];
		port = argv[optind + 1];
		cfg->send = !force_recv;
	}
	if (!valid_port(port))
		return usage_error("bad port '%s' (0-65535)", port);
	if (!cfg->listen && !strcmp(port, "0"))
		return usage_error("%s", "cannot connect to port 0");
	cfg->port = port;
	return -1;
}

int main(int argc, char **argv)
{
	struct zcnc_cfg cfg = {
		.family = AF_UNSPEC,
		.rx_mode = ZC_RX_AUTO,
		.tx_backend = ZC_TX_AUTO,
		.buf_size = 1u << 20,
		.nbufs = 4,
	};
	struct zcnc_result res;
	int ret, fd;

	ret = parse_args(argc, argv, &cfg);
	if (ret >= 0)
		return ret;
	/* -J: the JSON object is all that goes to stderr. */
	cfg.progress = !cfg.quiet && !cfg.json && isatty(STDERR_FILENO);

	memset(&res, 0, sizeof(res));
	res.role = cfg.send ? "sender" : "receiver";
	res.size = -1;
	ret = setup_signals();
	if (ret) {
		ret = zcnc_fail(&res, ZCNC_EXIT_ERROR, "sigaction", -ret);
		goto out;
	}
	fd = cfg.listen ? zcnc_accept(&cfg, &res) : zcnc_connect(&cfg, &res);
	if (fd < 0) {
		ret = res.exit_code;
		goto out;
	}
	res.connected = true;
	res.start = zcnc_now();
	ret = cfg.send ? zcnc_send(&cfg, fd, &res)
		       : zcnc_receive(&cfg, fd, &res);
	res.seconds = zcnc_now() - res.start;
	close(fd);
out:
	if (zcnc_interrupted && ret != ZCNC_EXIT_USAGE) {
		res.interrupted = true;
		ret = ZCNC_EXIT_SIGINT;
	}
	res.exit_code = ret;
	zcnc_summary(&cfg, &res);
	return ret;
}
