#!/usr/bin/env bash
# What zcnet promises about the memory it hands out and about bad
# arguments (harden_security.c): mapped views and message pieces are
# read-only (a write in a forked child dies by SIGSEGV, mprotect cannot
# lift it); every public function refuses NULL handles, NULL out-params,
# unknown flags, non-zero reserved fields, bad sizes, and views or
# messages it does not hold, as zcnet.h documents; connections sharing a
# pool never see each other's bytes, in every zap mode. Inside a
# namespace of its own over loopback with MSS 4108.
set -u
. "$(dirname "$0")/../lib/topology.sh"

exe=$ZC_BUILD/tests/harden_security
[ -x "$exe" ] || zc_fail "$exe missing: run make tests"
zc_require_root
zc_loopback_ns
in_lo "$exe"
