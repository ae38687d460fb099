#!/usr/bin/env bash
# 1000 connection cycles in one process (harden_leaks.c), inside a
# namespace of its own over loopback: every receive mode, own windows and
# pools, every zap mode, every send backend this kernel has, IPv4 and
# IPv6, ended by a clean close, a reset by either side or a half-close,
# plus message-layer cycles; every byte and completion checked. Open fds
# and /proc/self/maps lines must be exactly the same after the cycles as
# after the warm-up, the RSS at most 1 MiB higher (not compared under
# ASan, whose allocator keeps memory by design; LeakSanitizer checks the
# heap instead).
set -u
. "$(dirname "$0")/../lib/topology.sh"

exe=$ZC_BUILD/tests/harden_leaks
[ -x "$exe" ] || zc_fail "$exe missing: run make tests"
zc_require_root
zc_loopback_ns
in_lo "$exe" --cycles "${ZC_LEAK_CYCLES:-1000}" || zc_fail "harden_leaks"
# The checks can fail: a leaked fd and mapping must be caught.
out=$(in_lo "$exe" --cycles 20 --msg-cycles 0 --warmup 2 --inject-leak 2>&1) &&
	zc_fail "an injected fd and mapping leak went unnoticed: $out"
echo "$out" | grep -q 'fds open' ||
	zc_fail "the injected fd leak was not reported: $out"
echo "ok   an injected fd and mapping leak is caught"
