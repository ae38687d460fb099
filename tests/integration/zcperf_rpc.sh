#!/usr/bin/env bash
# zcperf --rpc over loopback in a namespace of its own, TCP_MAXSEG 4108
# (whole pages per segment), 100 connections, MSG_ZEROCOPY requests:
#   every receive mode (copy, zerocopy, auto) on both sides with 4 KiB,
#   64 KiB and 1 MiB payloads (a shared window pool per thread, the
#   default); a window per connection; two threads a side;
#   SO_RCVLOWAT left alone; the mmap churn thread; empty requests. Each run must end with both sides reporting
#   every payload byte verified, the same number of transactions (> 0), and
#   in zero-copy mode most request bytes mapped.
#   Bad input: a client whose request payload is wrong, one that closes
#   inside a payload, one with a header that is not zcperf's messages, and
#   an --rpc client against a stream server: each must fail with exit 1
#   and say why.
set -u
. "$(dirname "$0")/../lib/topology.sh"

Z=$ZC_BUILD/zcperf
[ -x "$Z" ] || zc_fail "$Z missing: run make"
command -v jq >/dev/null || zc_skip "needs jq"
zc_require_root
zc_loopback_ns
# 100 connections' MSG_ZEROCOPY notifications share option memory.
in_lo sysctl -qw net.core.optmem_max=1048576 || true

tmp=$(mktemp -d /tmp/zc-zcperf-rpc.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
port=5600 runs=0 failed=0 A=127.0.0.1

fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	shift
	for f in "$@"; do sed 's/^/     /' "$f"; done
}

# pair NAME "SERVER ARGS" "CLIENT ARGS" [MIN_MAPPED]: one rpc run.
pair() {
	local name=$1 sargs=$2 cargs=$3 min_mapped=${4:-} spid src crc
	port=$((port + 1)) runs=$((runs + 1))
	in_lo "$Z" -s -1 --rpc -p $port --mss 4108 $sargs -J \
		>"$tmp/srv.json" 2>"$tmp/srv.err" &
	spid=$!
	in_lo timeout 60 "$Z" -c $A --rpc -p $port --mss 4108 -t 1 $cargs -J \
		>"$tmp/cli.json" 2>"$tmp/cli.err"
	crc=$?
	[ $crc -eq 0 ] || { sleep 1; kill $spid 2>/dev/null; }
	wait $spid
	src=$?
	if [ $src -ne 0 ] || [ $crc -ne 0 ]; then
		fail "$name (server exit $src, client exit $crc)" \
			"$tmp/srv.err" "$tmp/cli.err"
		return
	fi
	if ! jq -e --slurpfile C "$tmp/cli.json" '
		.end.verified == true and $C[0].end.verified == true and
		.end.transactions > 0 and
		.end.transactions == $C[0].end.transactions and
		.end.payload_bytes == .end.transactions * .start.request_size and
		$C[0].end.payload_bytes ==
			$C[0].end.transactions * $C[0].start.response_size' \
		"$tmp/srv.json" >/dev/null; then
		fail "$name: not verified or counts differ" "$tmp/srv.json" \
			"$tmp/cli.json"
		return
	fi
	# Copy mode keeps the socket's SO_RCVLOWAT: no calls to set it.
	case " $sargs " in
	*" --rx=copy "*)
		if ! jq -e '.end.msg_stats.rcvlowat_sets == 0' \
			"$tmp/srv.json" >/dev/null; then
			fail "$name: copy mode set SO_RCVLOWAT" "$tmp/srv.json"
			return
		fi ;;
	esac
	if [ -n "$min_mapped" ] &&
	   ! jq -e ".end.mapped_fraction >= $min_mapped" "$tmp/srv.json" \
		>/dev/null; then
		fail "$name: server mapped less than $min_mapped of the requests" \
			"$tmp/srv.json"
		return
	fi
	echo "ok   $name: $(jq -r --slurpfile C "$tmp/cli.json" \
		'"\(.end.transactions) transactions, \(100 * .end.mapped_fraction | floor) % of requests mapped, \(100 * $C[0].end.mapped_fraction | floor) % of responses"' \
		"$tmp/srv.json")"
}

for size in 4K 64K 1M; do
	for rx in copy zerocopy auto; do
		min=
		[ $rx = zerocopy ] && min=0.9
		# The server answers with MSG_ZEROCOPY in zero-copy runs, so
		# the client's zero-copy receive gets mappable pages too.
		stx=copy
		[ $rx = zerocopy ] && stx=msg_zerocopy
		pair "$size, rx $rx both sides, server tx $stx" \
			"--rx=$rx --tx=$stx" \
			"--rx=$rx --tx=msg_zerocopy --req $size --resp $size" $min
	done
done
pair "4K, zerocopy, a window per connection on both sides" \
	"--rx=zerocopy --rx-window=per-conn" \
	"--rx=zerocopy --rx-window=per-conn --tx=msg_zerocopy" 0.9
pair "4K, auto deciding per connection" "--rx=auto --rx-window=per-conn" \
	"--rx=auto --rx-window=per-conn --tx=msg_zerocopy"
pair "64K requests, 4K responses, 2 threads a side, a pool each" \
	"--rx=zerocopy --threads 2" \
	"--rx=copy --tx=msg_zerocopy --req 64K --resp 4K --threads 2" 0.9
pair "64K, zerocopy, message layer leaves SO_RCVLOWAT alone" \
	"--rx=zerocopy --no-rcvlowat" \
	"--rx=zerocopy --no-rcvlowat --tx=msg_zerocopy --req 64K --resp 64K"
pair "4K, zerocopy, mmap churn thread in the server" \
	"--rx=zerocopy --mmap-churn" "--rx=copy --tx=msg_zerocopy" 0.9
pair "empty requests, 1-byte responses, copy" "--rx=copy" \
	"--rx=copy --req 0 --resp 1 -P 10"

# A client made of bash: the 64-byte zcperf header (big-endian: magic
# ZCPF, version 1, run id, connection 0 of 1, flags pattern|rpc, tx,
# mss, request size 4096, response size 4096), then what $1 says.
wire_hdr='ZCPF\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x2a'
wire_hdr+='\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x03'
wire_hdr+='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00'
wire_hdr+='\x00\x00\x00\x00\x00\x00\x10\x00'
wire_hdr+='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
# A message header (little-endian: magic ZCM1, version 1, flags 0, type
# 4096 = response size, len 4096, id 0, reserved 0).
msg_hdr='ZCM1\x01\x00\x00\x00\x00\x10\x00\x00\x00\x10\x00\x00'
msg_hdr+='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'

# bad_client NAME BODY_CMD EXPECT: BODY_CMD writes the rest to fd 3; the
# server must exit 1 with EXPECT in its error output and JSON error.
bad_client() {
	local name=$1 body=$2 expect=$3 spid src
	port=$((port + 1)) runs=$((runs + 1))
	in_lo timeout 20 "$Z" -s -1 --rpc -p $port -J >"$tmp/srv.json" \
		2>"$tmp/srv.err" &
	spid=$!
	sleep 0.3
	in_lo timeout 10 bash -c "exec 3<>/dev/tcp/$A/$port &&
		printf '$wire_hdr' >&3 && $body; sleep 0.3; exec 3>&-" \
		2>"$tmp/cli.err"
	wait $spid
	src=$?
	if [ $src -eq 1 ] && grep -q -- "$expect" "$tmp/srv.err" &&
	   jq -e --arg e "$expect" '(.error | contains($e)) and
		.end.verified == false' "$tmp/srv.json" >/dev/null; then
		echo "ok   $name: $(head -n 1 "$tmp/srv.err")"
	else
		fail "$name (server exit $src, wanted 1 and '$expect')" \
			"$tmp/srv.err" "$tmp/srv.json" "$tmp/cli.err"
	fi
}

bad_client "request payload not the pattern" \
	"printf '$msg_hdr' >&3 && head -c 4096 /dev/zero >&3" \
	"request 0: payload byte"
bad_client "client closes inside a request payload" \
	"printf '$msg_hdr' >&3 && head -c 100 /dev/zero >&3" \
	"stream ended inside a payload"
bad_client "garbage instead of a message header" \
	"head -c 64 /dev/zero >&3" "bad magic"

# An --rpc client against a stream server: refused, and the client says
# the server closed on it.
port=$((port + 1)) runs=$((runs + 1))
in_lo "$Z" -s -1 -p $port >"$tmp/srv.out" 2>"$tmp/srv.err" &
spid=$!
in_lo timeout 20 "$Z" -c $A --rpc -p $port -P 2 -t 1 >"$tmp/cli.out" \
	2>"$tmp/cli.err"
crc=$?
kill $spid 2>/dev/null
wait $spid 2>/dev/null
if [ $crc -eq 1 ] && grep -q "runs stream mode" "$tmp/srv.err" &&
   grep -q "zcperf: " "$tmp/cli.err"; then
	echo "ok   rpc client vs stream server: $(head -n 1 "$tmp/cli.err")"
else
	fail "rpc client vs stream server (client exit $crc)" "$tmp/srv.err" \
		"$tmp/cli.out" "$tmp/cli.err"
fi

echo "zcperf_rpc: $runs runs, $failed failed"
[ $failed -eq 0 ]
