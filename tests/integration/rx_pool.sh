#!/usr/bin/env bash
# Receive handles sharing one window pool: 16 connections, views held and
# released out of order across connections, every byte checked against its
# own connection's pattern, in each receive mode. Inside a private
# namespace; rx_pool sets MSS 4108 so loopback segments are page-aligned.
. "$(dirname "$0")/../lib/topology.sh"
zc_require_root
zc_loopback_ns
for mode in zerocopy auto copy; do
	in_lo "$ZC_BUILD/tests/rx_pool" "$mode" || zc_fail "rx_pool $mode"
done
