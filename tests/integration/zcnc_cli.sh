#!/usr/bin/env bash
# zcnc's command line: --help and --version, usage errors (exit 2, short
# message on stderr), runtime errors (exit 1), a connection reset
# mid-transfer (exit 3, on both sides), SIGINT (exit 130 with the partial
# summary), stdout closed early (exit 1), -J as valid JSON checked with jq,
# and the progress line only on a terminal. Network cases run in a
# namespace this test creates, on its loopback.
set -u
source "$(dirname "$0")/../lib/topology.sh"

Z=$ZC_BUILD/zcnc
GEN=$ZC_BUILD/tests/zcnc_gen
RST=$ZC_BUILD/tests/zcnc_rst
[ -x "$Z" ] || zc_fail "$Z missing: run make"
[ -x "$GEN" ] && [ -x "$RST" ] || zc_fail "test helpers missing: run make tests"
command -v jq >/dev/null || zc_skip "needs jq"
tmp=$(mktemp -d /tmp/zcnc-cli.XXXXXX)
trap '_zc_cleanup; rm -rf "$tmp"' EXIT

# expect RC CMD...: runs CMD with stdout in $tmp/o and stderr in $tmp/e.
expect() {
	local want=$1 rc
	shift
	"$@" >"$tmp/o" 2>"$tmp/e" </dev/null
	rc=$?
	[ $rc -eq "$want" ] ||
		zc_fail "$*: exit $rc, want $want; stderr: $(cat "$tmp/e")"
}

# --- no network ------------------------------------------------------------

for h in --help -h; do
	expect 0 "$Z" $h
	grep -q '^usage: zcnc' "$tmp/o" || zc_fail "$h: no usage line on stdout"
	grep -q 'Exit status' "$tmp/o" || zc_fail "$h: exit codes not documented"
	for code in 0 1 2 3 130; do
		grep -Eq "^  $code +" "$tmp/o" || zc_fail "$h: exit code $code missing"
	done
	[ -s "$tmp/e" ] && zc_fail "$h wrote to stderr: $(cat "$tmp/e")"
done
echo "ok   --help"

expect 0 "$Z" --version
grep -Eq '^zcnc [0-9]+\.[0-9]+\.[0-9]+ \(libzcnet [0-9]+\.[0-9]+\.[0-9]+\)$' "$tmp/o" ||
	zc_fail "--version: '$(cat "$tmp/o")'"
echo "ok   --version: $(cat "$tmp/o")"

# usage_error WHAT CMD...: exit 2, nothing on stdout, the reason on the
# first stderr line, the usage line with a hint on the second, no more.
usage_error() {
	local what=$1
	shift
	expect 2 "$@"
	[ -s "$tmp/o" ] && zc_fail "$*: wrote to stdout"
	[ "$(wc -l <"$tmp/e")" -eq 2 ] || zc_fail "$*: stderr not 2 lines: $(cat "$tmp/e")"
	head -n 1 "$tmp/e" | grep -q "^zcnc: .*$what" ||
		zc_fail "$*: first line lacks '$what': $(cat "$tmp/e")"
	sed -n 2p "$tmp/e" | grep -q '^usage: zcnc.*--help' ||
		zc_fail "$*: no usage hint: $(cat "$tmp/e")"
}
usage_error "unknown option '--bogus'" "$Z" --bogus 127.0.0.1 1
usage_error "unknown option '-x'" "$Z" -x 127.0.0.1 1
usage_error "missing port" "$Z" -l
usage_error "missing port" "$Z" 127.0.0.1
usage_error "missing HOST" "$Z"
usage_error "needs an argument" "$Z" -l -p
usage_error "bad port '99999'" "$Z" -l -p 99999
usage_error "bad port 'http'" "$Z" 127.0.0.1 http
usage_error "too many operands" "$Z" 127.0.0.1 1 2
usage_error "unknown mode 'fast'" "$Z" --rx=fast 127.0.0.1 1
usage_error "unknown backend 'fast'" "$Z" --tx=fast 127.0.0.1 1
usage_error "exclude" "$Z" --send --recv 127.0.0.1 1
usage_error "-p is the listening port" "$Z" -p 1 127.0.0.1
echo "ok   usage errors exit 2"

# --- network: loopback of a private namespace -------------------------------

zc_require_root
zc_loopback_ns
A=127.0.0.1

# Port 9 has no listener in the fresh namespace: refused, exit 1.
expect 1 in_lo "$Z" $A 9
grep -q "^zcnc: connect $A port 9: Connection refused$" "$tmp/e" ||
	zc_fail "refused: '$(cat "$tmp/e")'"
expect 1 in_lo "$Z" -J $A 9
jq -e '.exit_code == 1 and .connected == false and .complete == false and
	(.error | test("refused"))' "$tmp/e" >/dev/null ||
	zc_fail "refused -J: $(cat "$tmp/e")"
expect 1 in_lo "$Z" no-such-host.invalid 9
grep -q '^zcnc: resolve no-such-host.invalid: ' "$tmp/e" ||
	zc_fail "resolve: '$(cat "$tmp/e")'"
echo "ok   connection refused / unknown host exit 1"

wait_listen() {
	local i
	for i in $(seq 200); do
		in_lo ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		kill -0 "$2" 2>/dev/null || zc_fail "listener on port $1 exited"
		sleep 0.05
	done
	zc_fail "nothing listens on port $1"
}

# Bind conflict: a second listener on the same port is a runtime error.
in_lo "$Z" -q -l $A 7000 >/dev/null 2>&1 &
pid=$!
wait_listen 7000 $pid
expect 1 in_lo "$Z" -l $A 7000
grep -q "^zcnc: listen $A port 7000: Address already in use$" "$tmp/e" ||
	zc_fail "bind conflict: '$(cat "$tmp/e")'"
in_lo "$Z" -q $A 7000 </dev/null
wait $pid
echo "ok   address in use exit 1"

# No address: one socket for IPv6 and IPv4, as nc listens. Reached over
# both families; -s picks the connecting side's source address.
for peer in 127.0.0.1 ::1; do
	in_lo "$Z" -J -l -p 7008 >"$tmp/out" 2>"$tmp/rx.err" &
	pid=$!
	wait_listen 7008 $pid
	"$GEN" 4097 | in_lo "$Z" -q -s $peer $peer 7008 || zc_fail "send to $peer failed"
	wait $pid || zc_fail "wildcard listener, peer $peer: $(cat "$tmp/rx.err")"
	"$GEN" 4097 | cmp -s - "$tmp/out" || zc_fail "wildcard listener, peer $peer: bytes differ"
	jq -e --arg p "$peer" '.peer | startswith($p + " ")' "$tmp/rx.err" >/dev/null ||
		zc_fail "wildcard listener: peer shown as $(jq .peer "$tmp/rx.err"), want $peer"
done
echo "ok   listening on every address: IPv4 and IPv6 peers"

# The peer resets mid-stream while zcnc receives: exit 3, and what did
# arrive is exactly the start of the stream.
for rx in auto zerocopy copy; do
	in_lo "$Z" -J -l --rx=$rx $A 7001 >"$tmp/out" 2>"$tmp/rx.err" &
	pid=$!
	wait_listen 7001 $pid
	in_lo "$RST" send $A 7001 3000000 || zc_fail "zcnc_rst send failed"
	wait $pid
	rc=$?
	[ $rc -eq 3 ] || zc_fail "receiver after reset (rx $rx): exit $rc, want 3: $(cat "$tmp/rx.err")"
	n=$(stat -c %s "$tmp/out")
	jq -e --argjson n "$n" '.exit_code == 3 and .complete == false and
		.bytes == $n and (.error | test("reset"))' "$tmp/rx.err" >/dev/null ||
		zc_fail "reset -J (rx $rx): $(cat "$tmp/rx.err")"
	"$GEN" "$n" | cmp -s - "$tmp/out" ||
		zc_fail "rx $rx: the $n bytes before the reset are not the stream's start"
	echo "ok   peer reset while receiving (rx $rx, $n of 3000000 bytes arrived) exit 3"
done

# The peer reads 64 KiB of 64 MiB and resets: the sender exits 3.
in_lo "$RST" recv $A 7002 65536 &
pid=$!
wait_listen 7002 $pid
"$GEN" $((64 << 20)) | in_lo "$Z" $A 7002 >/dev/null 2>"$tmp/tx.err"
rc=$?
wait $pid
[ $rc -eq 3 ] || zc_fail "sender after reset: exit $rc, want 3: $(cat "$tmp/tx.err")"
grep -Eq '^zcnc: .*(reset by peer|Broken pipe)' "$tmp/tx.err" ||
	zc_fail "sender after reset: '$(cat "$tmp/tx.err")'"
grep -q '(incomplete)$' "$tmp/tx.err" || zc_fail "no incomplete summary: $(cat "$tmp/tx.err")"
echo "ok   peer reset while sending exit 3: $(head -n 1 "$tmp/tx.err")"

# SIGINT: the receiver has 100000 bytes and the sender is idle, its stdin
# a FIFO we hold open; ^C prints the partial summary and exits 130. Then
# the same for the sender. ip netns exec execs zcnc, so $! is zcnc itself
# (in_lo would put a subshell in between, and background subshells ignore
# SIGINT).
mkfifo "$tmp/fifo"
ip netns exec "$ZC_NS_LO" "$Z" -J -l $A 7003 >"$tmp/out" 2>"$tmp/rx.err" &
pid=$!
wait_listen 7003 $pid
ip netns exec "$ZC_NS_LO" "$Z" -q $A 7003 <"$tmp/fifo" 2>/dev/null &
spid=$!
exec 3>"$tmp/fifo"
"$GEN" 100000 >&3
for i in $(seq 200); do
	[ "$(stat -c %s "$tmp/out")" -ge 100000 ] && break
	sleep 0.05
done
kill -INT $pid
wait $pid
rc=$?
exec 3>&-
wait $spid
[ $rc -eq 130 ] || zc_fail "receiver SIGINT: exit $rc, want 130"
jq -e '.interrupted == true and .exit_code == 130 and .bytes == 100000 and
	.complete == false' "$tmp/rx.err" >/dev/null ||
	zc_fail "receiver SIGINT -J: $(cat "$tmp/rx.err")"
"$GEN" 100000 | cmp -s - "$tmp/out" || zc_fail "SIGINT: bytes differ"
echo "ok   SIGINT while receiving: exit 130, partial summary"

ip netns exec "$ZC_NS_LO" "$Z" -q -l $A 7004 >"$tmp/out" 2>/dev/null &
pid=$!
wait_listen 7004 $pid
ip netns exec "$ZC_NS_LO" "$Z" $A 7004 <"$tmp/fifo" 2>"$tmp/tx.err" &
spid=$!
exec 3>"$tmp/fifo"
"$GEN" 5000 >&3
for i in $(seq 200); do
	[ "$(stat -c %s "$tmp/out")" -ge 5000 ] && break
	sleep 0.05
done
kill -INT $spid
wait $spid
rc=$?
exec 3>&-
wait $pid
[ $rc -eq 130 ] || zc_fail "sender SIGINT: exit $rc, want 130: $(cat "$tmp/tx.err")"
grep -q '^zcnc: sent .*(5000 bytes).*(interrupted)$' "$tmp/tx.err" ||
	zc_fail "sender SIGINT summary: '$(cat "$tmp/tx.err")'"
echo "ok   SIGINT while sending: $(cat "$tmp/tx.err")"

# stdout closed by its reader: write fails with EPIPE, exit 1.
in_lo bash -c "'$Z' -l $A 7005 2>'$tmp/rx.err' | head -c 10 >/dev/null; exit \${PIPESTATUS[0]}" &
pid=$!
wait_listen 7005 $pid
"$GEN" $((16 << 20)) | in_lo "$Z" -q $A 7005 >/dev/null 2>&1
wait $pid
rc=$?
[ $rc -eq 1 ] || zc_fail "stdout closed: exit $rc, want 1: $(cat "$tmp/rx.err")"
grep -q '^zcnc: write stdout: Broken pipe$' "$tmp/rx.err" ||
	zc_fail "stdout closed: '$(cat "$tmp/rx.err")'"
echo "ok   stdout closed: exit 1"

# Human summary and the progress line: no progress when stderr is a file,
# a progress line (carriage return, erase) when it is a terminal.
in_lo "$Z" -l $A 7006 >"$tmp/out" 2>"$tmp/rx.err" &
pid=$!
wait_listen 7006 $pid
"$GEN" 3000000 | in_lo "$Z" $A 7006 2>"$tmp/tx.err"
wait $pid || zc_fail "plain transfer failed: $(cat "$tmp/rx.err")"
grep -Eq '^zcnc: received 2.86 MiB \(3000000 bytes\) in [0-9.]+ s, [0-9.]+ [kMGT]?bit/s, [0-9.]+% mapped' "$tmp/rx.err" ||
	zc_fail "receiver summary: '$(cat "$tmp/rx.err")'"
grep -Eq '^zcnc: sent 2.86 MiB \(3000000 bytes\) in [0-9.]+ s, [0-9.]+ [kMGT]?bit/s, [0-9.]+% zero-copy' "$tmp/tx.err" ||
	zc_fail "sender summary: '$(cat "$tmp/tx.err")'"
grep -q $'\r' "$tmp/rx.err" "$tmp/tx.err" && zc_fail "progress line written to a file"
echo "ok   summary: $(cat "$tmp/rx.err")"
if command -v script >/dev/null; then
	in_lo "$Z" -l $A 7007 >"$tmp/out" 2>/dev/null &
	pid=$!
	wait_listen 7007 $pid
	"$GEN" 3000000 >"$tmp/in"
	script -qec "ip netns exec $ZC_NS_LO '$Z' $A 7007 <'$tmp/in'" /dev/null \
		>"$tmp/tty" </dev/null
	wait $pid
	grep -q $'\r\033\[Kzcnc: ' "$tmp/tty" || zc_fail "no progress line on a terminal: $(cat -v "$tmp/tty")"
	grep -q ' of 2.86 MiB' "$tmp/tty" || zc_fail "no size/ETA on a terminal: $(cat -v "$tmp/tty")"
	echo "ok   progress line on a terminal"
else
	echo "note: script(1) missing, progress line on a terminal not checked"
fi
echo "all zcnc CLI checks passed"
