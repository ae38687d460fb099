#!/usr/bin/env bash
# zcnc against itself, Debian's nc (netcat-openbsd) and socat, both ways,
# over a veth pair with MTU 4168 (page-aligned segments) between two
# namespaces this test creates: receivers in A, senders in B.
# Sizes 0, 1, 4095, 4097 and 1 MiB + 13 for every pairing; 1 GiB for
# zcnc -> zcnc and nc -> zcnc only, to keep the run short. Every byte is
# verified: sha256sum for the small files, a byte-by-byte check of the
# deterministic pattern (zcnc_gen -c) for the 1 GiB streams. zcnc's -J
# summaries are checked with jq.
set -u
source "$(dirname "$0")/../lib/topology.sh"

zc_require_root
for t in nc socat jq sha256sum ss timeout; do
	command -v $t >/dev/null || zc_skip "needs $t (apt-get install netcat-openbsd socat jq)"
done
nc -h 2>&1 | grep -q OpenBSD || zc_skip "needs netcat-openbsd as nc"
Z=$ZC_BUILD/zcnc
GEN=$ZC_BUILD/tests/zcnc_gen
[ -x "$Z" ] || zc_fail "$Z missing: run make"
[ -x "$GEN" ] || zc_fail "$GEN missing: run make tests"

zc_veth_pair 4168
tmp=$(mktemp -d /tmp/zcnc-interop.XXXXXX)
trap '_zc_cleanup; rm -rf "$tmp"' EXIT
port=5100
T=60	# seconds any one side may take before the test calls it hung

# Waits until something listens on TCP port $1 in namespace A, while the
# listener (pid $2) lives.
wait_listen() {
	local i
	for i in $(seq 200); do
		in_a ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		kill -0 "$2" 2>/dev/null ||
			zc_fail "listener on port $1 exited: $(cat "$tmp"/*.err)"
		sleep 0.05
	done
	zc_fail "nothing listens on port $1 in $ZC_NS_A"
}

# check_json FILE BYTES: a zcnc -J summary of a clean, complete transfer.
check_json() {
	local f=$1 bytes=$2
	jq -e --argjson n "$bytes" '
		.bytes == $n and .complete == true and .exit_code == 0 and
		.error == null and .interrupted == false and
		.mapped_bytes + .copied_bytes == .bytes and .seconds >= 0 and
		(if .role == "receiver" then
			.rx.bytes_mapped + .rx.bytes_copybuf + .rx.bytes_read == $n and
			.rx.views >= (if $n > 0 then 1 else 0 end) and .tx == null
		else
			.tx.bytes == $n and .rx == null
		end)' "$f" >/dev/null ||
		zc_fail "bad -J summary in $f: $(cat "$f")"
}

# run NAME SIZE RECEIVER SENDER [LISTENER]: RECEIVER (writes the stream to
# stdout) and SENDER (reads $tmp/in) move $tmp/in to $tmp/out. The side
# that listens (LISTENER: rx, the default, or tx) runs in namespace A, the
# other in B. %A is replaced by A's address, %P by the port. The
# receiver's stderr lands in $tmp/rx.err, the sender's in $tmp/tx.err.
run() {
	local name=$1 size=$2 rcmd=$3 scmd=$4 lside=${5:-rx} addr=$ZC_A4
	local pid rrc src
	port=$((port + 1))
	case "$name" in *v6*) addr=$ZC_A6 ;; esac
	rcmd=${rcmd//%A/$addr}; rcmd=${rcmd//%P/$port}
	scmd=${scmd//%A/$addr}; scmd=${scmd//%P/$port}
	if [ "$lside" = rx ]; then
		in_a timeout $T bash -c "$rcmd" >"$tmp/out" 2>"$tmp/rx.err" </dev/null &
		pid=$!
		wait_listen $port $pid
		in_b timeout $T bash -c "$scmd" <"$tmp/in" >/dev/null 2>"$tmp/tx.err"
		src=$?
		wait $pid
		rrc=$?
	else
		in_a timeout $T bash -c "$scmd" <"$tmp/in" >/dev/null 2>"$tmp/tx.err" &
		pid=$!
		wait_listen $port $pid
		in_b timeout $T bash -c "$rcmd" >"$tmp/out" 2>"$tmp/rx.err" </dev/null
		rrc=$?
		wait $pid
		src=$?
	fi
	[ $src -eq 0 ] || zc_fail "$name $size: sender exit $src: $(cat "$tmp/tx.err")"
	[ $rrc -eq 0 ] || zc_fail "$name $size: receiver exit $rrc: $(cat "$tmp/rx.err")"
	[ "$(sha256sum <"$tmp/out")" = "$(sha256sum <"$tmp/in")" ] ||
		zc_fail "$name $size: checksums differ ($(stat -c %s "$tmp/out") bytes arrived)"
	case "$rcmd" in *zcnc*-J*) check_json "$tmp/rx.err" "$size" ;; esac
	case "$scmd" in *zcnc*-J*) check_json "$tmp/tx.err" "$size" ;; esac
	echo "ok   $name $size bytes"
}

for size in 0 1 4095 4097 $((1048576 + 13)); do
	"$GEN" $size $size >"$tmp/in"
	run "nc->zcnc"      $size "$Z -J -l -s %A -p %P"  "nc -N %A %P"
	run "zcnc->nc"      $size "nc -d -l %A %P"        "$Z -J %A %P"
	run "socat->zcnc-v6" $size "$Z -J -l %A %P" \
		"socat -u STDIN TCP:[%A]:%P"
	run "zcnc->socat-v6" $size \
		"socat -u TCP6-LISTEN:%P,bind=[%A],reuseaddr STDOUT" "$Z -J %A %P"
	run "zcnc->zcnc"    $size "$Z -J -l -s %A -p %P"  "$Z -J %A %P"
	run "zcnc->zcnc-v6" $size "$Z -J -6 -l %A %P --rx=zerocopy" \
		"$Z -J -6 %A %P"
	run "zcnc->zcnc copy" $size "$Z -J -l %A %P --rx=copy" "$Z -J %A %P"
done

# The other roles: a listening sender and a connecting receiver.
size=$((1048576 + 13))
"$GEN" $size 7 >"$tmp/in"
run "nc -l->zcnc --recv" $size "$Z -J --recv %A %P" "nc -N -l %A %P" tx
run "zcnc -l --send->nc" $size "nc -d %A %P" "$Z -J -l --send %A %P" tx
run "zcnc -l --send->zcnc --recv-v6" $size "$Z -J --recv %A %P" \
	"$Z -J -l --send -s %A -p %P" tx

# Every send backend (the kernel may refuse one: then the engine steps
# down and counts a fallback).
for tx in copy msg_zerocopy uring uring_zc; do
	run "zcnc --tx=$tx->zcnc-v6" $size "$Z -J -l %A %P" "$Z -J --tx=$tx %A %P"
	jq -e --arg b $tx '.tx.backend_requested == $b and
		(.tx.backend == $b or .tx.fallbacks > 0)' "$tmp/tx.err" >/dev/null ||
		zc_fail "--tx=$tx: $(cat "$tmp/tx.err")"
done

# The path that maps: a MSG_ZEROCOPY sender makes the kernel hand the
# receiver fresh whole pages (KERNEL_NOTES: a plain send() gives compound
# page-frag pages, 0% mappable) and IPv6 over MTU 4168 carries 4096 payload
# bytes per segment. Pages must then really be mapped, not just copied.
size=$((64 << 20))
"$GEN" $size 9 >"$tmp/in"
run "zcnc->zcnc zerocopy-v6" $size "$Z -J -6 -l --rx=zerocopy %A %P" \
	"$Z -J -6 --tx=msg_zerocopy %A %P"
jq -e '.rx.mode == "zerocopy" and .mapped_bytes > 0 and
	.rx.bytes_mapped == .mapped_bytes' "$tmp/rx.err" >/dev/null ||
	zc_fail "nothing mapped on the aligned path: $(cat "$tmp/rx.err")"
echo "     mapped $(jq .mapped_bytes "$tmp/rx.err") of $size bytes;" \
	"sender: $(jq -c '.tx | {backend, bytes_zerocopy, bytes_kernel_copied}' "$tmp/tx.err")"

# 1 GiB: generated on the fly and checked byte by byte, no files.
gib=$((1 << 30))
big() {
	local name=$1 addr=$2 scmd=$3 rpid rrc src
	port=$((port + 1))
	scmd=${scmd//%A/$addr}; scmd=${scmd//%P/$port}
	in_a timeout $T bash -c "'$Z' -J -l -s $addr -p $port | '$GEN' -c $gib 42" \
		2>"$tmp/rx.err" </dev/null &
	rpid=$!
	wait_listen $port $rpid
	in_b timeout $T bash -c "'$GEN' $gib 42 | $scmd" >/dev/null 2>"$tmp/tx.err"
	src=$?
	wait $rpid
	rrc=$?
	[ $src -eq 0 ] || zc_fail "$name 1 GiB: sender exit $src: $(cat "$tmp/tx.err")"
	[ $rrc -eq 0 ] || zc_fail "$name 1 GiB: receiver/check exit $rrc: $(cat "$tmp/rx.err")"
	check_json "$tmp/rx.err" $gib
	echo "ok   $name 1 GiB: $(jq -c '{seconds, mapped_bytes, rx_mode: .rx.mode, mode_switches: .rx.mode_switches}' "$tmp/rx.err")"
}
# zcnc's defaults on the receiver (auto measures which mode is cheaper
# here); the sender asks for MSG_ZEROCOPY so that mapping is possible.
big "zcnc->zcnc-v6" $ZC_A6 "'$Z' -q --tx=msg_zerocopy %A %P"
big "nc->zcnc" $ZC_A4 "nc -N %A %P"
echo "all transfers verified"
