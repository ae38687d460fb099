#!/usr/bin/env bash
# zcperf's send path on the library's send engine: every --tx backend
# (copy, msg_zerocopy, uring, uring_zc, auto) over TCP and over UDP (-u),
# on loopback in a namespace of its own and across a veth pair (MTU 4168)
# between two namespaces, IPv4 and IPv6, the receiver checking every byte
# or datagram. Each run must end with both sides exit 0, the receiver
# verified, the byte and datagram counts of both sides agreeing, every
# accepted byte completed exactly once (zero-copy + kernel-copied +
# policy-copied bytes = bytes sent, nothing outstanding), and the -J
# fields present. UDP may lose datagrams (the receiver reports loss, not
# an error): asserted is that none arrived damaged and that received +
# lost = sent.
#
# On these local paths the kernel copies zero-copy pages before they
# reach the receiving socket and says so: forced msg_zerocopy and
# uring_zc must report every completion kernel-copied, copy and uring
# every one policy-copied. Also: --reap-every 1 and 32, auto's threshold,
# the loud warning, -P 2 over UDP, and a hand-made UDP sender whose
# datagram is not the pattern, which the receiver must refuse.
set -u
. "$(dirname "$0")/../lib/topology.sh"

Z=$ZC_BUILD/zcperf
[ -x "$Z" ] || zc_fail "$Z missing: run make"
command -v jq >/dev/null || zc_skip "needs jq"
zc_require_root
feat() { "$Z" --probe -J | jq -e ".features.$1" >/dev/null; }
feat tx_udp_zerocopy || zc_skip "kernel without MSG_ZEROCOPY for UDP (5.0)"
backends="copy msg_zerocopy auto"
feat uring_send_zc && backends="copy msg_zerocopy uring uring_zc auto"
zc_loopback_ns
zc_veth_pair 4168

tmp=$(mktemp -d /tmp/zc-zcperf-tx.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
port=5700 runs=0 failed=0

fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	shift
	for f in "$@"; do sed 's/^/     /' "$f"; done
}

# What every sender document must say, whatever the backend.
# usec_per_mb may be 0: a thread's rusage is sampled at timer ticks, and
# 16 MiB of UDP over loopback can take 3.5 ms, less than one tick.
common_jq='
	.end.tx_stats as $t |
	(.end.tx_stats | has("backend") and has("bytes_zerocopy") and
		has("bytes_kernel_copied") and has("bytes_policy_copied") and
		has("notifications") and has("enobufs") and has("fallbacks") and
		has("completions_kernel_copied") and
		has("kernel_copied_fraction")) and
	$t.backend_requested == $tx and $t.outstanding == 0 and
	$t.bytes == .end.bytes and
	$t.bytes_zerocopy + $t.bytes_kernel_copied + $t.bytes_policy_copied ==
		$t.bytes and
	$t.completions == $t.sends and $t.bad_ids == 0 and
	(.end.usec_per_mb >= 0)'
# What the kernel does with each backend on a local path.
backend_jq() {
	case $1 in
	copy | uring) echo '.end.tx_stats.completions_policy_copied ==
		.end.tx_stats.completions' ;;
	msg_zerocopy | uring_zc) echo '.end.tx_stats.completions_kernel_copied +
		.end.tx_stats.enobufs_copied == .end.tx_stats.completions and
		.end.tx_stats.completions_kernel_copied > 0' ;;
	auto) echo '.end.tx_stats.backend == "msg_zerocopy"' ;;
	esac
}

# run NAME TX NS_SERVER NS_CLIENT ADDR "SERVER ARGS" "CLIENT ARGS" [JQ]
# One transfer, server and client with -J; JQ: more for the sender.
run() {
	local name=$1 tx=$2 nss=$3 nsc=$4 addr=$5 sargs=$6 cargs=$7
	local extra=${8:-true} spid src crc udp=false
	port=$((port + 1)) runs=$((runs + 1))
	case " $cargs " in *" -u "*) udp=true ;; esac
	ip netns exec "$nss" "$Z" -s -1 -p $port $sargs -J \
		>"$tmp/srv.json" 2>"$tmp/srv.err" &
	spid=$!
	ip netns exec "$nsc" timeout 60 "$Z" -c "$addr" -p $port --tx="$tx" \
		$cargs -J >"$tmp/cli.json" 2>"$tmp/cli.err"
	crc=$?
	[ $crc -eq 0 ] || { sleep 1; ip netns pids "$nss" | xargs -r kill; }
	wait $spid
	src=$?
	if [ $src -ne 0 ] || [ $crc -ne 0 ]; then
		fail "$name (server exit $src, client exit $crc)" \
			"$tmp/srv.err" "$tmp/cli.err" "$tmp/cli.json"
		return
	fi
	# BACKEND_JQ (in the caller's environment) replaces backend_jq
	if ! jq -e --arg tx "$tx" "$common_jq and
		(${BACKEND_JQ:-$(backend_jq "$tx")}) and ($extra)" \
		"$tmp/cli.json" >/dev/null; then
		fail "$name: sender's counts" "$tmp/cli.json"
		return
	fi
	if $udp; then
		jq -e --slurpfile C "$tmp/cli.json" '
			$C[0].end.udp as $c | .end.udp as $s |
			.end.verified == true and $s.corrupt == 0 and
			$s.sender_datagrams == $c.datagrams and
			$c.datagrams > 0 and $c.verified == true and
			$c.received == $s.datagrams and
			$s.datagrams + $s.lost == $c.datagrams and
			$c.datagrams * $C[0].start.chunk == $C[0].end.bytes' \
			"$tmp/srv.json" >/dev/null
	else
		jq -e --slurpfile C "$tmp/cli.json" '
			.end.verified == true and .end.bytes > 0 and
			.end.bytes == $C[0].end.bytes' "$tmp/srv.json" >/dev/null
	fi || {
		fail "$name: receiver not verified or counts differ" \
			"$tmp/srv.json" "$tmp/cli.json"
		return
	}
	echo "ok   $name: $(jq -r '.end | "\(.bytes) bytes, \(.tx_stats.completions) completions, \(.tx_stats.completions_kernel_copied) kernel-copied, \(.tx_stats.completions_policy_copied) policy-copied" + (if .udp then ", \(.udp.lost) of \(.udp.datagrams) datagrams lost" else "" end)' "$tmp/cli.json")"
}

LO=$ZC_NS_LO A=$ZC_NS_A B=$ZC_NS_B
for tx in $backends; do
	run "loopback TCP, $tx" $tx $LO $LO 127.0.0.1 "" "-n 64M"
	run "loopback UDP, $tx" $tx $LO $LO 127.0.0.1 "-u" "-u -n 16M"
	run "veth TCP IPv6, $tx" $tx $A $B $ZC_A6 "--mss 4108" "-n 64M"
	# 61440-byte datagrams fragment on this MTU: the library sends them
	# by copy, not MSG_ZEROCOPY (docs/KERNEL_FINDINGS.md).
	frag_jq=
	[ $tx = msg_zerocopy ] && frag_jq='.end.tx_stats.completions ==
		.end.tx_stats.completions_policy_copied'
	BACKEND_JQ=$frag_jq run "veth UDP IPv6, $tx" $tx $A $B $ZC_A6 "-u" \
		"-u -n 16M"
done
run "veth TCP IPv4 mss 4108, msg_zerocopy" msg_zerocopy $A $B $ZC_A4 \
	"--mss 4108" "--mss 4108 -n 64M"
run "veth UDP IPv4, 4000-byte datagrams, copy" copy $A $B $ZC_A4 "-u" \
	"-u -l 4000 -n 8M"
# 4000-byte datagrams fit the MTU, so MSG_ZEROCOPY is tried (the kernel
# copies on arrival); longer ones the library sends by copy.
run "veth UDP IPv4, -P 2, msg_zerocopy" msg_zerocopy $A $B $ZC_A4 "-u" \
	"-u -P 2 -l 4000 -n 16M"
for n in 1 32; do
	run "veth TCP, msg_zerocopy --reap-every $n" msg_zerocopy $A $B \
		$ZC_A6 "" "--reap-every $n -n 64M" \
		".start.reap_every == $n and .end.tx_stats.notifications > 0"
	run "loopback UDP, msg_zerocopy --reap-every $n" msg_zerocopy $LO $LO \
		127.0.0.1 "-u" "-u --reap-every $n -n 16M" \
		".start.reap_every == $n and .end.tx_stats.notifications > 0"
done
# 512 KiB writes under a 1 MiB threshold: auto never tries zero-copy.
run "loopback TCP, auto --zc-threshold 1M" auto $LO $LO 127.0.0.1 "" \
	"--zc-threshold 1M -n 64M" \
	'.end.tx_stats.completions_policy_copied ==
		.end.tx_stats.completions and .end.tx_stats.auto_backoffs == 0'

# The loud warning, in the text summary.
port=$((port + 1)) runs=$((runs + 1))
in_lo "$Z" -s -1 -p $port >"$tmp/srv.out" 2>&1 &
spid=$!
in_lo timeout 60 "$Z" -c 127.0.0.1 -p $port --tx=msg_zerocopy -n 16M \
	>"$tmp/cli.out" 2>&1
crc=$?
wait $spid
if [ $crc -eq 0 ] &&
   grep -q "WARNING: the kernel copied every zero-copy send" "$tmp/cli.out" &&
   grep -q "loopback and veth to a local socket always copy" "$tmp/cli.out"; then
	echo "ok   msg_zerocopy on loopback: $(grep WARNING "$tmp/cli.out" | cut -c1-72)..."
else
	fail "msg_zerocopy on loopback: no warning" "$tmp/cli.out"
fi

# A UDP sender made of bash: the 64-byte zcperf header (big-endian: magic
# ZCPF, version 1, run id 42, connection 0 of 1, flags pattern|udp, tx
# copy, mss 0, datagram size 64, planned 64), the receiver's port record,
# then one datagram whose header is right (ZCPD, connection 0, run 42,
# sequence 0, length 64, flags pattern) but whose payload is zeros, and
# the end record (ZCPE, 1 datagram, 64 bytes). The receiver must fail
# with the datagram's sequence number and count it corrupt.
wire_hdr='ZCPF\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x2a'
wire_hdr+='\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x05'
wire_hdr+='\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x40'
wire_hdr+='\x00\x00\x00\x00\x00\x00\x00\x40'
wire_hdr+='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
dgram='ZCPD\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x2a'
dgram+='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x01'
dgram+='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
dgram+='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
end_rec='ZCPE\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01'
end_rec+='\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00\x00'
port=$((port + 1)) runs=$((runs + 1))
in_lo timeout 20 "$Z" -s -1 -u -p $port -J >"$tmp/srv.json" 2>"$tmp/srv.err" &
spid=$!
sleep 0.3
in_lo timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port &&
	printf '$wire_hdr' >&3 &&
	p=\$(head -c 16 <&3 | od -An -tu1 | awk '{ print \$7 * 256 + \$8 }') &&
	printf '$dgram' >/dev/udp/127.0.0.1/\$p && sleep 0.2 &&
	printf '$end_rec' >&3 && cat <&3 >/dev/null" 2>"$tmp/cli.err"
wait $spid
src=$?
if [ $src -eq 1 ] && grep -q "datagram 0: byte 32" "$tmp/srv.err" &&
   jq -e '.end.udp.corrupt == 1 and .end.verified == false and
	(.error | contains("datagram 0"))' "$tmp/srv.json" >/dev/null; then
	echo "ok   damaged datagram refused: $(head -n 1 "$tmp/srv.err")"
else
	fail "damaged datagram (server exit $src, wanted 1)" "$tmp/srv.err" \
		"$tmp/srv.json" "$tmp/cli.err"
fi

echo "zcperf_tx: $runs runs, $failed failed"
[ $failed -eq 0 ]
