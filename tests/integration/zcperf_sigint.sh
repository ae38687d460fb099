#!/usr/bin/env bash
# zcperf and SIGINT, on loopback in a namespace this test creates: ^C stops
# a run where it is, prints the summary of what was measured so far marked
# as interrupted, and exits with 130. The summaries are checked with jq:
#  1. the receiver interrupted mid-stream (-P 2, zero-copy): bytes > 0, the
#     connections add up, every byte that arrived verified, no error; the
#     sender fails (1) and had sent at least as much;
#  2. the same in text with --rx=raw: the interrupted and integrity lines;
#  3. the sender interrupted (-n 64G): no error, and the receiver got
#     exactly the bytes the sender counts, every one right; it fails (1)
#     only because the stream ended before the announced length;
#  4. an --rpc client interrupted: it drains, so the server ends cleanly
#     (0) with the same transactions (> 0), both sides verified;
#  5. a server interrupted while it waits for a client (-J and text);
#  6. the demo interrupted: only finished runs, each verified; a mode with
#     none claims nothing.
# Runs are long (-t 300, -n 64G): SIGINT goes once the receiving program
# has read bytes (ss: bytes received minus Recv-Q), never after a set time.
set -u
source "$(dirname "$0")/../lib/topology.sh"

Z=$ZC_BUILD/zcperf
[ -x "$Z" ] || zc_fail "$Z missing: run make"
command -v jq >/dev/null || zc_skip "needs jq"
command -v ss >/dev/null || zc_skip "needs ss (iproute2)"
zc_require_root
zc_loopback_ns
tmp=$(mktemp -d /tmp/zc-zcperf-sigint.XXXXXX)
trap '_zc_cleanup; rm -rf "$tmp"' EXIT
A=127.0.0.1

# alive PID: running (a zombie that exited but was not waited for is not).
alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# wait_listen PORT PID: until something listens on PORT in the namespace.
wait_listen() {
	local i
	for i in $(seq 200); do
		in_lo ss -tlnH "( sport = :$1 )" | grep -q . && return 0
		alive "$2" || zc_fail "the server on port $1 exited: $(cat "$tmp"/*.err)"
		sleep 0.05
	done
	zc_fail "nothing listens on port $1"
}

# app_read MIN: from `ss -tinH state established` on stdin, how many of
# the sockets the program behind them has read MIN bytes from: TCP's
# bytes_received minus what still waits in Recv-Q (the first column).
app_read() {
	awk -v min="$1" '
		function count() { if (n && r - q >= min) k++ }
		/^[0-9]/ { count(); n++; q = $1; r = 0; next }
		match($0, /bytes_received:[0-9]+/) {
			r = substr($0, RSTART + 15, RLENGTH - 15)
		}
		END { count(); print k + 0 }'
}

# wait_read N MIN PID CMD...: until the program has read MIN bytes from
# each of N of the sockets CMD (an `ss -tinH state established`) shows;
# PID must live meanwhile.
wait_read() {
	local n=$1 min=$2 pid=$3 i
	shift 3
	for i in $(seq 1200); do
		[ "$("$@" 2>/dev/null | app_read "$min")" -ge "$n" ] && return 0
		alive "$pid" || zc_fail "pid $pid exited before reading $min bytes: $(cat "$tmp"/*.err)"
		sleep 0.05
	done
	zc_fail "not $min bytes read from $n sockets of $*: $(cat "$tmp"/*.err)"
}

# sigint PID: SIGINT, then wait; returns its exit status.
sigint() {
	local i
	kill -INT "$1"
	for i in $(seq 600); do
		alive "$1" || break
		sleep 0.05
	done
	if alive "$1"; then
		kill -9 "$1"
		zc_fail "pid $1 still runs 30 s after SIGINT: $(cat "$tmp"/*.err)"
	fi
	wait "$1"
}

# finish PID: the exit status of a peer that ends on its own.
finish() {
	local i
	for i in $(seq 600); do
		alive "$1" || break
		sleep 0.05
	done
	alive "$1" && { kill -9 "$1"; zc_fail "pid $1 did not end: $(cat "$tmp"/*.err)"; }
	wait "$1"
}

# ip netns exec execs zcperf, so $! is zcperf itself (in_lo would put a
# subshell in between, and background subshells ignore SIGINT).
server() { ip netns exec "$ZC_NS_LO" "$Z" -s -1 "$@" >"$tmp/s.out" 2>"$tmp/s.err" & }
client() { ip netns exec "$ZC_NS_LO" "$Z" -c $A "$@" >"$tmp/c.out" 2>"$tmp/c.err" & }

# --- 1. receiver interrupted, -J ----------------------------------------
server -p 5801 --mss 4108 --rx=zerocopy -J
spid=$!
wait_listen 5801 $spid
client -p 5801 --mss 4108 --tx=msg_zerocopy -P 2 -t 300 -J
cpid=$!
# Both connections: the summary must show two.
wait_read 2 $((1 << 20)) $spid in_lo ss -tinH state established "( sport = :5801 )"
sigint $spid
src=$?
finish $cpid
crc=$?
[ $src -eq 130 ] || zc_fail "receiver SIGINT: exit $src, want 130: $(cat "$tmp/s.err")"
jq -e '.end.interrupted == true and .end.bytes > 0 and
	.end.verified == true and .error == null and
	(.end.connections | length) == 2 and
	([.end.connections[].bytes] | add) == .end.bytes and
	all(.end.connections[]; .verified == true and .error == null)' \
	"$tmp/s.out" >/dev/null ||
	zc_fail "receiver SIGINT -J: $(cat "$tmp/s.out" "$tmp/s.err")"
[ $crc -eq 1 ] || zc_fail "sender of an interrupted receiver: exit $crc, want 1: $(cat "$tmp/c.err")"
jq -e --slurpfile S "$tmp/s.out" '.end.interrupted == false and
	.error != null and .end.bytes >= $S[0].end.bytes' "$tmp/c.out" \
	>/dev/null || zc_fail "sender of an interrupted receiver: $(cat "$tmp/c.out")"
echo "ok   receiver SIGINT: exit 130, $(jq -r '"\(.end.bytes) bytes in 2 streams, every one verified; sender: "' "$tmp/s.out")$(jq -r .error "$tmp/c.out")"

# --- 2. receiver interrupted, text, --rx=raw -----------------------------
server -p 5802 --mss 4108 --rx=raw
spid=$!
wait_listen 5802 $spid
client -p 5802 --mss 4108 --tx=msg_zerocopy -t 300
cpid=$!
wait_read 1 $((1 << 20)) $spid in_lo ss -tinH state established "( sport = :5802 )"
sigint $spid
src=$?
finish $cpid
[ $src -eq 130 ] || zc_fail "receiver --rx=raw SIGINT: exit $src: $(cat "$tmp/s.err")"
for re in '^interrupted (SIGINT): ' '; raw: .*; verified$' \
	'^integrity: every byte that arrived verified (.*interrupted'; do
	grep -q "$re" "$tmp/s.out" ||
		zc_fail "receiver --rx=raw SIGINT text lacks '$re': $(cat "$tmp/s.out" "$tmp/s.err")"
done
[ -s "$tmp/s.err" ] && zc_fail "receiver --rx=raw SIGINT: an error: $(cat "$tmp/s.err")"
echo "ok   receiver --rx=raw SIGINT, text: $(grep '^integrity' "$tmp/s.out")"

# --- 3. sender interrupted, -J -------------------------------------------
server -p 5803 --mss 4108 -J
spid=$!
wait_listen 5803 $spid
client -p 5803 --mss 4108 --tx=msg_zerocopy -n 64G -J
cpid=$!
wait_read 1 $((1 << 20)) $cpid in_lo ss -tinH state established "( sport = :5803 )"
sigint $cpid
crc=$?
finish $spid
src=$?
[ $crc -eq 130 ] || zc_fail "sender SIGINT: exit $crc, want 130: $(cat "$tmp/c.err")"
jq -e '.end.interrupted == true and .end.bytes > 0 and .error == null and
	.end.bytes < .start.bytes_planned and
	.end.tx_stats.bytes == .end.bytes' "$tmp/c.out" >/dev/null ||
	zc_fail "sender SIGINT -J: $(cat "$tmp/c.out" "$tmp/c.err")"
[ $src -eq 1 ] || zc_fail "receiver of an interrupted sender: exit $src, want 1: $(cat "$tmp/s.err")"
# Every byte the sender counts arrived and was right: the only error is
# the early end.
jq -e --slurpfile C "$tmp/c.out" '.end.interrupted == false and
	.end.bytes == $C[0].end.bytes and
	(.error | test("stream ended after [0-9]+ of [0-9]+ bytes")) and
	.end.connections[0].verified == false' "$tmp/s.out" >/dev/null ||
	zc_fail "receiver of an interrupted sender: $(cat "$tmp/s.out")"
echo "ok   sender SIGINT: exit 130, $(jq -r .end.bytes "$tmp/c.out") bytes sent, all received and right; receiver: $(jq -r .error "$tmp/s.out")"

# --- 4. --rpc client interrupted -----------------------------------------
server -p 5804 --rpc -J
spid=$!
wait_listen 5804 $spid
client -p 5804 --rpc -P 4 -t 300 -J
cpid=$!
wait_read 1 $((1 << 20)) $cpid in_lo ss -tinH state established "( sport = :5804 )"
sigint $cpid
crc=$?
finish $spid
src=$?
[ $crc -eq 130 ] || zc_fail "rpc client SIGINT: exit $crc, want 130: $(cat "$tmp/c.err")"
[ $src -eq 0 ] || zc_fail "rpc server of an interrupted client: exit $src, want 0: $(cat "$tmp/s.err")"
jq -e --slurpfile S "$tmp/s.out" '.end.interrupted == true and
	.error == null and .end.verified == true and
	.end.transactions > 0 and
	.end.transactions == $S[0].end.transactions and
	$S[0].end.verified == true and $S[0].end.interrupted == false and
	.end.payload_bytes == .end.transactions * .start.response_size' \
	"$tmp/c.out" >/dev/null ||
	zc_fail "rpc client SIGINT: $(cat "$tmp/c.out" "$tmp/s.out")"
echo "ok   rpc client SIGINT: exit 130, $(jq -r .end.transactions "$tmp/c.out") transactions on both sides, verified"

# --- 5. a server with no client ------------------------------------------
for mode in "-J" "--rpc -J" ""; do
	ip netns exec "$ZC_NS_LO" "$Z" -s -p 5805 $mode >"$tmp/s.out" 2>"$tmp/s.err" &
	spid=$!
	wait_listen 5805 $spid
	sigint $spid
	src=$?
	[ $src -eq 130 ] || zc_fail "idle server $mode SIGINT: exit $src"
	if [ -n "$mode" ]; then
		jq -e '.interrupted == true and .error == null and
			(.role == "receiver" or .role == "rpc-server")' \
			"$tmp/s.out" >/dev/null ||
			zc_fail "idle server $mode SIGINT: $(cat "$tmp/s.out")"
	else
		grep -q '^zcperf: interrupted while waiting for a client$' \
			"$tmp/s.err" ||
			zc_fail "idle server SIGINT: $(cat "$tmp/s.err")"
	fi
done
echo "ok   idle server SIGINT (-J, --rpc -J, text): exit 130"

# --- 6. the demo ---------------------------------------------------------
# It makes a namespace of its own (as root): look into it through its pid
# (before it has, nsenter finds our namespace, where nothing is connected).
ip netns exec "$ZC_NS_LO" "$Z" -J --rounds 1 -n 4G >"$tmp/d.out" 2>"$tmp/d.err" &
dpid=$!
wait_read 1 $((1 << 20)) $dpid nsenter -t $dpid -n ss -tinH state established
sigint $dpid
drc=$?
[ $drc -eq 130 ] || zc_fail "demo SIGINT: exit $drc, want 130: $(cat "$tmp/d.err")"
jq -e '.interrupted == true and (.modes | length) == 3 and
	all(.modes[];
		if (.runs | length) == 0
		then .verified == false and .bits_per_second == null
		else .verified == true and all(.runs[]; .verified == true)
		end) and
	([.modes[].runs | length] | add) < 3' "$tmp/d.out" >/dev/null ||
	zc_fail "demo SIGINT -J: $(cat "$tmp/d.out" "$tmp/d.err")"
echo "ok   demo SIGINT: exit 130, $(jq -r '[.modes[].runs | length] | add' "$tmp/d.out") of 3 runs finished and shown"
