#!/usr/bin/env bash
# zcnet at the limits, inside a namespace of its own over loopback
# (harden_limits.c does the library cases; see its header):
#  - net.core.optmem_max 1000 and 0 (per namespace on this kernel): zc_tx
#    MSG_ZEROCOPY and auto, zc_msg_send zero-copy, zcperf and zcnc
#    zero-copy senders deliver every byte; ENOBUFS is counted (and zcperf
#    says so);
#  - RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK: io_uring -ENOMEM or a counted
#    fallback, MSG_ZEROCOPY by copy; zcnc and zcperf still deliver it all;
#  - RLIMIT_NOFILE exhausted: -EMFILE from the library, and the tools say
#    "Too many open files" and exit 1;
#  - SO_RCVBUF 8 KiB on the receiver (less than a slot): every receive
#    mode, SO_RCVLOWAT included, gets every byte without hanging;
#  - windows past the limits (-EINVAL) and at them (works or -ENOMEM);
#  - RLIMIT_AS: -ENOMEM for big windows, pools; small ones still work.
set -u
. "$(dirname "$0")/../lib/topology.sh"

exe=$ZC_BUILD/tests/harden_limits
ZCPERF=$ZC_BUILD/zcperf
ZCNC=$ZC_BUILD/zcnc
GEN=$ZC_BUILD/tests/zcnc_gen
for b in "$exe" "$ZCPERF" "$ZCNC" "$GEN"; do
	[ -x "$b" ] || zc_fail "$b missing: run make tests"
done
zc_require_root
zc_loopback_ns
# ASan aborts on an allocation it cannot serve unless told to return NULL,
# which is what the window cases need to see.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1

tmp=$(mktemp -d /tmp/zc-harden-limits.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
port=7500 runs=0 failed=0 A=127.0.0.1
# No CAP_IPC_LOCK (root's would lift RLIMIT_MEMLOCK) and a limit of 0.
NOLOCK=(setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock
	prlimit --memlock=0:0)

fail() {
	failed=$((failed + 1))
	echo "FAIL $*"
}

# lib NAME ARG: one harden_limits case; its lines are the report.
lib() {
	local name=$1 rc
	runs=$((runs + 1))
	in_lo timeout 120 "$exe" "$2" >"$tmp/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		grep '^ok' "$tmp/out"
	elif [ $rc -eq 77 ]; then
		echo "note $name: $(grep '^skipped' "$tmp/out")"
	else
		fail "$name (exit $rc)"
		sed 's/^/     /' "$tmp/out"
	fi
}

wait_listen() {
	local i
	for i in $(seq 400); do
		in_lo ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.025
	done
	return 1
}

# zcnc_copy NAME PREFIX...: 32 MiB through zcnc, the sender run under
# PREFIX (limits) with the remaining args; every byte compared.
zcnc_copy() {
	local name=$1 rc
	shift
	port=$((port + 1)) runs=$((runs + 1))
	in_lo timeout 60 "$ZCNC" -q -l $A $port >"$tmp/recv" 2>"$tmp/r.err" &
	local spid=$!
	wait_listen $port
	"$GEN" $((32 << 20)) | in_lo timeout 60 "$@" $A $port 2>"$tmp/s.err"
	rc=$?
	wait $spid
	if [ $rc -ne 0 ]; then
		fail "$name: zcnc sender exit $rc: $(cat "$tmp/s.err")"
	elif ! "$GEN" -c $((32 << 20)) <"$tmp/recv"; then
		fail "$name: the bytes differ"
	else
		echo "ok   $name: 32 MiB identical ($(tail -n 1 "$tmp/s.err" |
			grep -o 'tx [a-z_]* (asked [a-z_]*)'))"
	fi
}

# zcperf_run NAME PREFIX... -- CLIENT_ARGS: 64 MiB, the server verifies.
zcperf_run() {
	local name=$1 pre=() rc
	shift
	while [ "$1" != "--" ]; do pre+=("$1"); shift; done
	shift
	port=$((port + 1)) runs=$((runs + 1))
	in_lo timeout 60 "$ZCPERF" -s -1 -p $port >"$tmp/s.out" 2>&1 &
	local spid=$!
	wait_listen $port
	in_lo timeout 60 "${pre[@]}" "$ZCPERF" -c $A -p $port -n 64M "$@" \
		>"$tmp/c.out" 2>&1
	rc=$?
	wait $spid
	if [ $rc -ne 0 ] || ! grep -q 'integrity: every byte verified' "$tmp/s.out"; then
		fail "$name: client exit $rc"
		sed 's/^/     /' "$tmp/c.out" "$tmp/s.out" | tail -n 20
	else
		echo "ok   $name: 64 MiB verified;" \
			"$(grep -o '[0-9]* ENOBUFS ([0-9]* sent by copy)' "$tmp/c.out")"
	fi
}

# --- optmem ------------------------------------------------------------------
in_lo sysctl -q -w net.core.optmem_max=1000 ||
	zc_skip "cannot set net.core.optmem_max in a namespace"
[ "$(sysctl -n net.core.optmem_max)" != 1000 ] ||
	zc_skip "net.core.optmem_max is not per namespace here"
lib "optmem_max 1000" optmem
in_lo sysctl -q -w net.core.optmem_max=0
lib "optmem_max 0" optmem
zcperf_run "optmem_max 0: zcperf --tx msg_zerocopy" -- --tx msg_zerocopy
runs=$((runs + 1))
grep -q 'ENOBUFS' "$tmp/c.out" && grep -q 'optmem_max' "$tmp/c.out" ||
	fail "optmem_max 0: zcperf did not say that ENOBUFS made it copy"
zcnc_copy "optmem_max 0: zcnc --tx=msg_zerocopy" "$ZCNC" --tx=msg_zerocopy
runs=$((runs + 1))
grep -q 'ENOBUFS [0-9]* times ([0-9]* sends copied)' "$tmp/s.err" ||
	fail "optmem_max 0: zcnc's summary did not count ENOBUFS: $(cat "$tmp/s.err")"
in_lo sysctl -q -w net.core.optmem_max=131072

# --- RLIMIT_MEMLOCK ------------------------------------------------------------
lib "RLIMIT_MEMLOCK 0" memlock
zcperf_run "RLIMIT_MEMLOCK 0: zcperf --tx msg_zerocopy" "${NOLOCK[@]}" -- \
	--tx msg_zerocopy
zcnc_copy "RLIMIT_MEMLOCK 0: zcnc --tx=uring_zc" "${NOLOCK[@]}" "$ZCNC" \
	--tx=uring_zc
zcnc_copy "RLIMIT_MEMLOCK 0: zcnc --tx=msg_zerocopy" "${NOLOCK[@]}" "$ZCNC" \
	--tx=msg_zerocopy

# --- RLIMIT_NOFILE ---------------------------------------------------------------
lib "RLIMIT_NOFILE exhausted" nofile
# 0-2 and the listening socket leave no fd for accept (Linux takes the
# fd number before it waits for a connection).
port=$((port + 1)) runs=$((runs + 1))
in_lo prlimit --nofile=4 timeout 10 "$ZCPERF" -s -1 -p $port \
	>/dev/null 2>"$tmp/e"
rc=$?
if [ $rc -eq 1 ] && grep -q '^zcperf: accept: Too many open files' "$tmp/e"; then
	echo "ok   RLIMIT_NOFILE 4: zcperf -s: $(head -n 1 "$tmp/e")"
else
	fail "RLIMIT_NOFILE 4: zcperf -s exit $rc: $(cat "$tmp/e")"
fi
# The connected socket takes the last fd: no io_uring ring fits.
port=$((port + 1)) runs=$((runs + 1))
in_lo timeout 10 "$ZCNC" -q -l $A $port >/dev/null 2>&1 &
spid=$!
wait_listen $port
"$GEN" 4096 | in_lo prlimit --nofile=4 timeout 10 "$ZCNC" --tx=uring_zc \
	$A $port 2>"$tmp/e"
rc=$?
wait $spid
if [ $rc -eq 1 ] && grep -q '^zcnc: .*Too many open files' "$tmp/e"; then
	echo "ok   RLIMIT_NOFILE 4: zcnc --tx=uring_zc: $(head -n 1 "$tmp/e")"
else
	fail "RLIMIT_NOFILE 4: zcnc --tx=uring_zc exit $rc: $(cat "$tmp/e")"
fi

# --- SO_RCVBUF, windows, RLIMIT_AS -------------------------------------------
lib "SO_RCVBUF 8 KiB" rcvbuf
lib "windows past the limits" window
lib "RLIMIT_AS" as

[ $failed -eq 0 ] || zc_fail "$failed of $runs cases failed"
echo "$runs cases passed"
