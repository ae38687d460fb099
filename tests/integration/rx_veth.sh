#!/usr/bin/env bash
# Receive engine between two namespaces joined by a veth pair with MTU 4168
# (4096 payload + 40 IPv6 + 32 TCP with timestamps), IPv4 and IPv6: the
# receiver in $ZC_NS_B, the sender in $ZC_NS_A. IPv4 headers are 20 bytes
# shorter, so the IPv4 sender clamps its MSS to 4108 to keep whole pages
# per segment. Every receive mode moves 256 MiB from a MSG_ZEROCOPY sender
# and from a plain one, every byte verified by rx_peer.
#
# Expected (KERNEL_NOTES: veth to a local socket behaves like loopback):
#   zerocopy mode + MSG_ZEROCOPY sender: at least 99% of bytes mapped;
#   plain sender, or copy mode: 0% mapped, every byte still arrives;
#   auto mode: chooses by measured cost, so only the bytes are checked.
set -u
. "$(dirname "$0")/../lib/topology.sh"

PEER=$ZC_BUILD/tests/rx_peer
BYTES=256M
[ -x "$PEER" ] || zc_fail "$PEER missing: run make tests"
zc_require_root
zc_veth_pair 4168

tmp=$(mktemp -d /tmp/zc-rx-veth.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
port=5300 runs=0 failed=0

# pair NAME ADDR RECV_ARGS... -- SEND_ARGS...: receiver in B listening on
# ADDR, sender in A; passes when both ends exit 0.
pair() {
	local name=$1 addr=$2 r=() s=() rpid rrc src
	shift 2
	while [ "$1" != "--" ]; do r+=("$1"); shift; done
	shift
	s=("$@")
	port=$((port + 1)) runs=$((runs + 1))
	in_b "$PEER" recv --listen "$addr" $port --timeout 90 "${r[@]}" \
		>"$tmp/recv" 2>&1 &
	rpid=$!
	in_a "$PEER" send --connect "$addr" $port --timeout 90 "${s[@]}" \
		>"$tmp/send" 2>&1
	src=$?
	[ $src -eq 0 ] || kill "$rpid" 2>/dev/null
	wait "$rpid"
	rrc=$?
	if [ $rrc -eq 0 ] && [ $src -eq 0 ]; then
		echo "ok   $name: $(grep -v -e listening -e ': OK$' "$tmp/recv")"
	else
		failed=$((failed + 1))
		echo "FAIL $name (receiver exit $rrc, sender exit $src)"
		sed 's/^/     /' "$tmp/recv" "$tmp/send"
	fi
}

for addr in "$ZC_B4" "$ZC_B6"; do
	mss=()
	[ "$addr" = "$ZC_B4" ] && mss=(--mss 4108)
	for mode in zerocopy copy auto; do
		for sender in msg-zerocopy plain; do
			expect=()
			if [ $sender = plain ] || [ $mode = copy ]; then
				expect=(--expect-max-mapped 0)
			elif [ $mode = zerocopy ]; then
				expect=(--expect-min-mapped 99)
			fi
			sflags=(--bytes $BYTES "${mss[@]}")
			[ $sender = plain ] || sflags+=(--msg-zerocopy)
			pair "$addr $mode <- $sender" "$addr" \
				--mode $mode --bytes $BYTES "${expect[@]}" \
				-- "${sflags[@]}"
		done
	done
done

echo "rx_veth: $runs transfers, $failed failed"
[ $failed -eq 0 ]
