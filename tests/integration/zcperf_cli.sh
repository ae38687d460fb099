#!/usr/bin/env bash
# zcperf's command line, stream and --rpc: --help and --version exit 0 on
# stdout, --help and zcperf(1) list the exit statuses; every usage mistake exits 2 with one "zcperf: ..." line and a
# hint on stderr and nothing on stdout, before any socket is opened (no
# server runs here: a mistake that got as far as connecting would fail
# with 1, not 2). No network needed.
set -u
. "$(dirname "$0")/../lib/topology.sh"

Z=$ZC_BUILD/zcperf
[ -x "$Z" ] || zc_fail "$Z missing: run make"
tmp=$(mktemp -d /tmp/zc-zcperf-cli.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
runs=0 failed=0

# usage EXPECT ARGS...: exit 2, EXPECT in the first stderr line, a hint.
usage() {
	local expect=$1 rc
	shift
	runs=$((runs + 1))
	timeout 10 "$Z" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ] &&
	   head -n 1 "$tmp/err" | grep -q "^zcperf: .*$expect" &&
	   grep -q "try 'zcperf --help'" "$tmp/err"; then
		echo "ok   zcperf $*: $(head -n 1 "$tmp/err")"
	else
		failed=$((failed + 1))
		echo "FAIL zcperf $* (exit $rc, wanted 2 and '$expect')"
		sed 's/^/     /' "$tmp/out" "$tmp/err"
	fi
}

runs=$((runs + 1))
if "$Z" --help >"$tmp/out" 2>"$tmp/err" && [ ! -s "$tmp/err" ] &&
   grep -q -- "--rpc" "$tmp/out" && grep -q -- "--mmap-churn" "$tmp/out" &&
   grep -q -- "--reap-every" "$tmp/out" && grep -q -- "-u, --udp" "$tmp/out"; then
	echo "ok   zcperf --help: $(wc -l <"$tmp/out") lines on stdout"
else
	failed=$((failed + 1))
	echo "FAIL zcperf --help"
fi
# The exit statuses, SIGINT's 130 (zcperf_sigint.sh) included, in --help
# and in zcperf(1).
runs=$((runs + 1))
missing=
for code in 0 1 2 130; do
	grep -Eq "^  $code +[a-z]" "$tmp/out" || missing="$missing --help:$code"
	grep -qx "\.It $code" "$ZC_TOP/man/zcperf.1" || missing="$missing zcperf.1:$code"
done
if [ -z "$missing" ]; then
	echo "ok   exit statuses 0 1 2 130 in --help and zcperf(1)"
else
	failed=$((failed + 1))
	echo "FAIL exit statuses missing:$missing"
fi
runs=$((runs + 1))
if "$Z" --version | grep -q "^zcperf [0-9]"; then
	echo "ok   zcperf --version"
else
	failed=$((failed + 1))
	echo "FAIL zcperf --version"
fi

# Stream mode.
usage "unknown option" --bogus
usage "receiver option" -c 127.0.0.1 --rx=copy
usage "sender option" -s --tx=msg_zerocopy
usage "out of range" -c 127.0.0.1 -P 129
usage "exclude each other" -c 127.0.0.1 -n 1M -t 1
usage "multiple of the page size" -s -l 5000
usage "invalid value for --rx" -s --rx=sometimes
usage "needs a value" -c
# The send engine's options and -u.
usage "invalid value for --tx" -c 127.0.0.1 --tx=sendfile
usage "--reap-every applies to" -c 127.0.0.1 --tx=copy --reap-every 4
usage "--reap-every applies to" -c 127.0.0.1 --tx=uring_zc --reap-every 4
usage "out of range" -c 127.0.0.1 --tx=msg_zerocopy --reap-every 0
usage "--zc-threshold applies to --tx=auto" -c 127.0.0.1 --zc-threshold 64K
usage "sender option" -s --reap-every 4
usage "datagram size" -c 127.0.0.1 -u -l 65508
usage "datagram size" -c 127.0.0.1 -u -l 63
usage "is a TCP option" -c 127.0.0.1 -u --mss 4108
usage "is a TCP option" -s -u --rx=copy
usage "receiver takes it from the sender" -s -u -l 4096
usage "does not apply to --rpc" -c 127.0.0.1 --rpc -u
# --rpc options outside rpc mode, and rpc mode's own rules.
usage "an --rpc option" -c 127.0.0.1 --req 4K
usage "an --rpc option" -s --mmap-churn
usage "an --rpc option" -s --rx-window=pool
usage "--rpc needs -s or -c" --rpc
usage "--rpc server option" -c 127.0.0.1 --rpc --mmap-churn
usage "--rpc client option" -s --rpc --resp 4K
usage "does not apply to --rpc" -c 127.0.0.1 --rpc -n 1M
usage "does not apply to --rpc" -s --rpc -i 1
usage "does not apply to --rpc" -s --rpc --rcvlowat
usage "--rx=raw has no message layer" -s --rpc --rx=raw
usage "out of range" -c 127.0.0.1 --rpc -P 1025
usage "out of range" -c 127.0.0.1 --rpc --threads 0
usage "more threads than connections" -c 127.0.0.1 --rpc -P 2 --threads 3
usage "out of range" -c 127.0.0.1 --rpc --req 65M
usage "invalid value for --rx-window" -s --rpc --rx-window=shared
usage "--pool-slots needs --rx-window=pool" -s --rpc --rx-window=per-conn \
	--pool-slots 64
usage "multiple of the page size" -c 127.0.0.1 --rpc -l 5000

echo "zcperf_cli: $runs checks, $failed failed"
[ $failed -eq 0 ]
