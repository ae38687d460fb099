#!/usr/bin/env bash
# Faults mid-transfer, inside a namespace of its own over loopback: the
# peer killed with SIGKILL, the connection reset (ss -K destroys the
# peer's socket: the kernel sends RST, the peer itself sees ECONNABORTED),
# and half-closes. For zcperf stream (both ends survive in turn), zcperf
# --rpc, zcnc, and library-level ends (harden_peer: struct zc_tx sender in
# every backend, struct zc_rx receiver in every mode, own window and pool).
#
# The survivor must exit on its own (a timeout means it hung), with a
# runtime-error status (not a signal), and say why on stderr as
# "prog: context: reason". A half-close of the receiving side is not an
# error: the sender must still deliver every byte and exit 0.
# harden_peer also checks the library on its way out: every accepted send
# completed once, nothing outstanding at zc_tx_free, and exactly the fds
# and /proc/self/maps lines it had before the connection (exit 4 if not).
# Finally harden_peer queued-reset: bytes that reached the receiver before
# a reset must all be delivered before -ECONNRESET, in every receive mode.
set -u
. "$(dirname "$0")/../lib/topology.sh"

ZCPERF=$ZC_BUILD/zcperf
ZCNC=$ZC_BUILD/zcnc
PEER=$ZC_BUILD/tests/harden_peer
GEN=$ZC_BUILD/tests/zcnc_gen
for b in "$ZCPERF" "$ZCNC" "$PEER" "$GEN"; do
	[ -x "$b" ] || zc_fail "$b missing: run make tests"
done
zc_require_root
zc_loopback_ns
command -v ss >/dev/null || zc_skip "needs ss (iproute2)"

tmp=$(mktemp -d /tmp/zc-harden-faults.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
port=7300 runs=0 failed=0 A=127.0.0.1
SURVIVE=30 # seconds a survivor may take to notice and exit

# lo_bg CMD... &: runs CMD in the namespace as the background job itself
# (exec), so $! is the program's pid and kill -9 reaches it.
lo_bg() { exec ip netns exec "$ZC_NS_LO" "$@"; }

fail() {
	failed=$((failed + 1))
	echo "FAIL $*"
}

next_port() { port=$((port + 1)); }

# wait_estab PORT: until a connection to or from PORT is established.
wait_estab() {
	local i
	for i in $(seq 400); do
		in_lo ss -Htn state established "( sport = :$1 or dport = :$1 )" \
			2>/dev/null | grep -q . && return 0
		sleep 0.025
	done
	return 1
}

wait_listen() {
	local i
	for i in $(seq 400); do
		in_lo ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.025
	done
	return 1
}

# Resets come from ss -K (SOCK_DESTROY, CONFIG_INET_DIAG_DESTROY): probe it
# on a connection of our own; without it the reset cases are skipped.
sock_destroy=0
next_port
lo_bg "$PEER" sink --listen $A $port >/dev/null 2>&1 &
spid=$!
wait_listen $port
lo_bg bash -c "exec 3<>/dev/tcp/$A/$port; sleep 10" &
cpid=$!
if wait_estab $port; then
	in_lo ss -K -tn state established "( dport = :$port )" >/dev/null 2>&1
	for i in $(seq 100); do
		kill -0 $spid 2>/dev/null || break
		sleep 0.02
	done
	kill -0 $spid 2>/dev/null || sock_destroy=1
fi
kill -9 $spid $cpid 2>/dev/null
wait $spid $cpid 2>/dev/null
faults="kill reset"
[ $sock_destroy = 1 ] || {
	faults=kill
	echo "note: ss -K cannot destroy sockets here: reset cases skipped"
}

# inject FAULT PORT VICTIM_PID SIDE: kill the victim, or reset the
# connection by destroying the victim's socket (SIDE: the victim's socket
# has PORT as its source port (server) or destination port (client)).
inject() {
	local fault=$1 p=$2 victim=$3 side=$4
	wait_estab "$p" || { echo "  (no connection on port $p to break)"; return 1; }
	sleep 0.3 # let bytes flow: the fault must come mid-transfer
	case $fault in
	kill) kill -9 "$victim" 2>/dev/null ;;
	reset)
		if [ "$side" = server ]; then
			in_lo ss -K -tn state established "( sport = :$p )" >/dev/null
		else
			in_lo ss -K -tn state established "( dport = :$p )" >/dev/null
		fi
		;;
	esac
}

# survivor NAME RC ERRFILE PROG WANT_RC: the survivor's exit and message.
survivor() {
	local name=$1 rc=$2 err=$3 prog=$4 want=$5 line
	runs=$((runs + 1))
	line=$(grep -E "^$prog: [^:]+: .+" "$err" | head -n 1)
	if [ "$rc" -eq 124 ]; then
		fail "$name: the survivor hung (killed after ${SURVIVE}s)"
	elif [ "$rc" -gt 128 ]; then
		fail "$name: the survivor died by signal $((rc - 128))"
	elif [ "$rc" -ne "$want" ]; then
		fail "$name: the survivor exited $rc, want $want"
		sed 's/^/     /' "$err" | tail -n 5
	elif [ "$want" -ne 0 ] && [ -z "$line" ]; then
		fail "$name: exit $rc but no '$prog: context: reason' line"
		sed 's/^/     /' "$err" | tail -n 5
	else
		echo "ok   $name: exit $rc${line:+: $line}"
	fi
}

# --- zcperf stream ---------------------------------------------------------
# Receiver survives: the sender announces its length (-n), so an early end
# is lost data.
for rx in zerocopy copy auto; do
	for fault in $faults; do
		next_port
		in_lo timeout $SURVIVE "$ZCPERF" -s -1 -p $port --rx $rx \
			>/dev/null 2>"$tmp/s.err" &
		spid=$!
		wait_listen $port
		lo_bg "$ZCPERF" -c $A -p $port -n 100G >/dev/null 2>&1 &
		cpid=$!
		inject $fault $port $cpid client
		wait $spid 2>/dev/null
		survivor "zcperf -s --rx $rx, sender -n: $fault" $? \
			"$tmp/s.err" zcperf 1
		kill -9 $cpid 2>/dev/null
		wait $cpid 2>/dev/null
	done
done
# A timed sender (-t) killed: its FIN looks like the end of a timed run
# unless the wire protocol says otherwise.
next_port
in_lo timeout $SURVIVE "$ZCPERF" -s -1 -p $port >/dev/null 2>"$tmp/s.err" &
spid=$!
wait_listen $port
lo_bg "$ZCPERF" -c $A -p $port -t 20 >/dev/null 2>&1 &
cpid=$!
inject kill $port $cpid client
wait $spid 2>/dev/null
survivor "zcperf -s, sender -t 20: kill" $? "$tmp/s.err" zcperf 1
wait $cpid 2>/dev/null

# Sender survives.
for tx in copy msg_zerocopy; do
	for fault in $faults; do
		next_port
		lo_bg "$ZCPERF" -s -1 -p $port >/dev/null 2>&1 &
		spid=$!
		wait_listen $port
		in_lo timeout $SURVIVE "$ZCPERF" -c $A -p $port --tx $tx -t 20 \
			>/dev/null 2>"$tmp/c.err" &
		cpid=$!
		inject $fault $port $spid server
		wait $cpid 2>/dev/null
		survivor "zcperf -c --tx $tx: receiver $fault" $? \
			"$tmp/c.err" zcperf 1
		kill -9 $spid 2>/dev/null
		wait $spid 2>/dev/null
	done
done
# The receiving side half-closes at once (it never sends anyway): the
# sender goes on and finishes.
next_port
in_lo timeout $SURVIVE "$PEER" sink --listen $A $port --half-close \
	>"$tmp/sink.out" 2>&1 &
spid=$!
wait_listen $port
in_lo timeout $SURVIVE "$ZCPERF" -c $A -p $port -n 256M >/dev/null \
	2>"$tmp/c.err"
survivor "zcperf -c, receiver half-closed" $? "$tmp/c.err" zcperf 0
wait $spid 2>/dev/null
n=$(sed -n 's/^harden_peer: sink read \([0-9]*\) bytes$/\1/p' "$tmp/sink.out")
[ "${n:-0}" -ge $((256 << 20)) ] ||
	fail "zcperf -c, receiver half-closed: $(cat "$tmp/sink.out")"

# --- zcperf --rpc ----------------------------------------------------------
for fault in $faults; do
	next_port
	in_lo timeout $SURVIVE "$ZCPERF" -s --rpc -1 -p $port >/dev/null \
		2>"$tmp/s.err" &
	spid=$!
	wait_listen $port
	lo_bg "$ZCPERF" -c $A --rpc -p $port -P 8 -t 20 >/dev/null 2>&1 &
	cpid=$!
	inject $fault $port $cpid client
	wait $spid 2>/dev/null
	survivor "zcperf -s --rpc: client $fault" $? "$tmp/s.err" zcperf 1
	kill -9 $cpid 2>/dev/null
	wait $cpid 2>/dev/null

	next_port
	lo_bg "$ZCPERF" -s --rpc -1 -p $port >/dev/null 2>&1 &
	spid=$!
	wait_listen $port
	in_lo timeout $SURVIVE "$ZCPERF" -c $A --rpc -p $port -P 8 -t 20 \
		>/dev/null 2>"$tmp/c.err" &
	cpid=$!
	inject $fault $port $spid server
	wait $cpid 2>/dev/null
	survivor "zcperf -c --rpc: server $fault" $? "$tmp/c.err" zcperf 1
	kill -9 $spid 2>/dev/null
	wait $spid 2>/dev/null
done
# A long-running rpc server outlives a killed client and serves the next.
next_port
lo_bg "$ZCPERF" -s --rpc -p $port >/dev/null 2>"$tmp/s.err" &
spid=$!
wait_listen $port
lo_bg "$ZCPERF" -c $A --rpc -p $port -P 8 -t 20 >/dev/null 2>&1 &
cpid=$!
inject kill $port $cpid client
wait $cpid 2>/dev/null
runs=$((runs + 1))
if in_lo timeout $SURVIVE "$ZCPERF" -c $A --rpc -p $port -P 4 -t 1 \
	>/dev/null 2>"$tmp/c.err"; then
	echo "ok   zcperf -s --rpc serves the next client after one was killed"
else
	fail "zcperf -s --rpc after a killed client: next client: $(tail -n 3 "$tmp/c.err")"
fi
kill $spid 2>/dev/null
wait $spid 2>/dev/null

# --- zcnc --------------------------------------------------------------------
# Sender survives a killed or reset receiver: exit 3 (transfer incomplete).
for fault in $faults; do
	next_port
	lo_bg "$ZCNC" -q -l $A $port >/dev/null 2>&1 &
	spid=$!
	wait_listen $port
	"$GEN" $((8 << 30)) | in_lo timeout $SURVIVE "$ZCNC" $A $port \
		>/dev/null 2>"$tmp/c.err" &
	cpid=$!
	inject $fault $port $spid server
	wait $cpid 2>/dev/null
	survivor "zcnc sender: receiver $fault" $? "$tmp/c.err" zcnc 3
	kill -9 $spid 2>/dev/null
	wait $spid 2>/dev/null
done
# Receiver survives a reset: exit 3, and what arrived is the stream's start.
for rx in zerocopy copy; do
	[ $sock_destroy = 1 ] || continue
	next_port
	in_lo timeout $SURVIVE "$ZCNC" -l --rx=$rx $A $port >"$tmp/out" \
		2>"$tmp/s.err" &
	spid=$!
	wait_listen $port
	"$GEN" $((8 << 30)) | lo_bg "$ZCNC" -q $A $port >/dev/null 2>&1 &
	cpid=$!
	inject reset $port $cpid client
	wait $spid 2>/dev/null
	survivor "zcnc -l --rx=$rx: sender reset" $? "$tmp/s.err" zcnc 3
	n=$(stat -c %s "$tmp/out")
	"$GEN" "$n" | cmp -s - "$tmp/out" ||
		fail "zcnc -l --rx=$rx: the $n bytes before the reset are not the stream's start"
	wait $cpid 2>/dev/null
done
# A killed sender's kernel closes its socket with a FIN: to a netcat that
# is the end of the stream (nc has no length), so the receiver exits 0;
# what it wrote must still be the stream's start.
next_port
in_lo timeout $SURVIVE "$ZCNC" -l $A $port >"$tmp/out" 2>"$tmp/s.err" &
spid=$!
wait_listen $port
"$GEN" $((8 << 30)) | lo_bg "$ZCNC" -q $A $port >/dev/null 2>&1 &
cpid=$!
inject kill $port $cpid client
wait $spid 2>/dev/null
survivor "zcnc -l: sender killed (a FIN: end of stream)" $? "$tmp/s.err" zcnc 0
n=$(stat -c %s "$tmp/out")
"$GEN" "$n" | cmp -s - "$tmp/out" ||
	fail "zcnc -l, sender killed: the $n bytes are not the stream's start"
wait $cpid 2>/dev/null
# Receiver half-closes at once and reads on: the sender delivers it all.
next_port
in_lo timeout $SURVIVE "$PEER" sink --listen $A $port --half-close \
	>"$tmp/sink.out" 2>&1 &
spid=$!
wait_listen $port
"$GEN" $((64 << 20)) | in_lo timeout $SURVIVE "$ZCNC" $A $port >/dev/null \
	2>"$tmp/c.err"
survivor "zcnc sender, receiver half-closed" $? "$tmp/c.err" zcnc 0
wait $spid 2>/dev/null
grep -q "sink read $((64 << 20)) bytes" "$tmp/sink.out" ||
	fail "zcnc, receiver half-closed: $(cat "$tmp/sink.out")"

# --- library ends: struct zc_tx sender, struct zc_rx receiver ---------------
backends="copy msg_zerocopy auto"
if "$ZC_BUILD/tests/tx_peer" probe 2>/dev/null | grep -qx 'uring_send_zc 1'; then
	backends="$backends uring uring_zc"
fi
for b in $backends; do
	for fault in $faults; do
		next_port
		lo_bg "$PEER" sink --listen $A $port >/dev/null 2>&1 &
		spid=$!
		wait_listen $port
		in_lo timeout $SURVIVE "$PEER" send --connect $A $port \
			--bytes $((64 << 30)) --backend $b >/dev/null \
			2>"$tmp/c.err" &
		cpid=$!
		inject $fault $port $spid server
		wait $cpid 2>/dev/null
		survivor "zc_tx $b sender: receiver $fault" $? "$tmp/c.err" \
			harden_peer 1
		kill -9 $spid 2>/dev/null
		wait $spid 2>/dev/null
	done
	next_port
	in_lo timeout $SURVIVE "$PEER" recv --listen ::1 $port \
		--bytes $((256 << 20)) --half-close >"$tmp/r.out" 2>&1 &
	spid=$!
	wait_listen $port
	in_lo timeout $SURVIVE "$PEER" send --connect ::1 $port \
		--bytes $((256 << 20)) --backend $b >/dev/null 2>"$tmp/c.err"
	survivor "zc_tx $b sender, receiver half-closed" $? "$tmp/c.err" \
		harden_peer 0
	wait $spid || fail "receiver of the half-close case: $(cat "$tmp/r.out")"
done
for mode in auto zerocopy copy; do
	for pool in "" --pool; do
		for fault in $faults; do
			next_port
			in_lo timeout $SURVIVE "$PEER" recv --listen $A $port \
				--bytes $((64 << 30)) --mode $mode $pool \
				>/dev/null 2>"$tmp/s.err" &
			spid=$!
			wait_listen $port
			lo_bg "$PEER" send --connect $A $port \
				--bytes $((64 << 30)) >/dev/null 2>&1 &
			cpid=$!
			inject $fault $port $cpid client
			wait $spid 2>/dev/null
			survivor "zc_rx $mode${pool:+ pool} receiver: sender $fault" \
				$? "$tmp/s.err" harden_peer 1
			kill -9 $cpid 2>/dev/null
			wait $cpid 2>/dev/null
		done
	done
done

# --- bytes queued before a reset ----------------------------------------------
runs=$((runs + 1))
if in_lo "$PEER" queued-reset >"$tmp/q.out" 2>&1; then
	echo "ok   $(tail -n 1 "$tmp/q.out")"
else
	fail "bytes queued before a reset were lost:"
	sed 's/^/     /' "$tmp/q.out"
fi

[ $failed -eq 0 ] || zc_fail "$failed of $runs cases failed"
echo "$runs cases passed"
