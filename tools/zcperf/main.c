/* SPDX-License-Identifier: MIT */
/*
 * zcperf: measures what zero-copy networking buys on this machine.
 *
 *   zcperf                       demo: copy vs zero-copy receive, side by
 *                                side, in a private network namespace
 *   zcperf -s [-1] [--rx=MODE]   receiver
 *   zcperf -c HOST [--tx=MODE]   sender (--tx: copy, msg_zerocopy, uring,
 *                                uring_zc, auto)
 *   zcperf -s -u / -c HOST -u    the same over UDP
 *   zcperf -s --rpc / -c HOST --rpc [-P N] [--req SIZE] [--resp SIZE]
 *                                request/response over many connections
 *   zcperf --probe [-J]          what the kernel supports
 *
 * SIGINT stops a run and prints the summary of what was measured so far,
 * then exits with 130 (interrupt.c). See zcperf(1) and `zcperf --help`.
 */
#include <signal.h>
#include <stdio.h>

#include "zcperf.h"

int main(int argc, char **argv)
{
	struct cfg cfg;
	int rc, r;

	parse_options(&cfg, argc, argv);
	/* A peer that goes away must give EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (cfg.json)
		json_errors_for(cfg.rpc && cfg.cmd == CMD_SERVER ? "rpc-server"
				: cfg.rpc && cfg.cmd == CMD_CLIENT
					? "rpc-client"
				: cfg.cmd == CMD_SERVER ? "receiver"
				: cfg.cmd == CMD_CLIENT ? "sender"
				: cfg.cmd == CMD_PROBE	? "probe"
							: "demo");
	switch (cfg.cmd) {
	case CMD_HELP:
		print_help(stdout);
		return 0;
	case CMD_VERSION:
		printf("zcperf %s\n", zc_version());
		return 0;
	case CMD_PROBE:
		return run_probe(&cfg);
	default:
		break;
	}
	/* Measuring roles: SIGINT prints what was measured so far. Here,
	 * before any thread exists. */
	r = interrupt_setup();
	if (r)
		fatal("SIGINT handling", -r);
	switch (cfg.cmd) {
	case CMD_SERVER:
		rc = cfg.rpc ? run_rpc_server(&cfg) : run_server(&cfg);
		break;
	case CMD_CLIENT:
		rc = cfg.rpc ? run_rpc_client(&cfg) : run_client(&cfg);
		break;
	case CMD_DEMO:
	default:
		rc = run_demo(&cfg);
		break;
	}
	return interrupted() ? ZCPERF_EXIT_INTERRUPTED : rc;
}
