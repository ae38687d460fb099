#!/usr/bin/env bash
# Receive engine over loopback, inside a namespace of its own, IPv4 and
# IPv6, TCP_MAXSEG 4108 (4096 payload + 12 timestamp option bytes: every
# segment carries whole pages). Every receive mode moves 256 MiB from a
# MSG_ZEROCOPY sender and from a plain one, every byte verified by rx_peer.
#
# Expected, from how loopback delivers pages (docs: KERNEL_NOTES):
#   zerocopy mode + MSG_ZEROCOPY sender: at least 99% of bytes mapped
#     (the kernel copies the sender's pages into fresh order-0 pages);
#   plain sender: 0% mapped (compound page-frag pages), all bytes arrive;
#   copy mode: 0% mapped;
#   auto mode: chooses by measured cost, so only the bytes are checked.
set -u
. "$(dirname "$0")/../lib/topology.sh"

PEER=$ZC_BUILD/tests/rx_peer
BYTES=256M
[ -x "$PEER" ] || zc_fail "$PEER missing: run make tests"
zc_require_root
zc_loopback_ns

tmp=$(mktemp -d /tmp/zc-rx-loopback.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
port=5200 runs=0 failed=0

# pair NAME ADDR RECV_ARGS... -- SEND_ARGS...: one transfer, both ends in
# the namespace; passes when both ends exit 0.
pair() {
	local name=$1 addr=$2 r=() s=() rpid rrc src
	shift 2
	while [ "$1" != "--" ]; do r+=("$1"); shift; done
	shift
	s=("$@")
	port=$((port + 1)) runs=$((runs + 1))
	in_lo "$PEER" recv --listen "$addr" $port --timeout 90 "${r[@]}" \
		>"$tmp/recv" 2>&1 &
	rpid=$!
	in_lo "$PEER" send --connect "$addr" $port --timeout 90 "${s[@]}" \
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

for addr in 127.0.0.1 ::1; do
	for mode in zerocopy copy auto; do
		for sender in msg-zerocopy plain; do
			expect=()
			if [ $sender = plain ] || [ $mode = copy ]; then
				expect=(--expect-max-mapped 0)
			elif [ $mode = zerocopy ]; then
				expect=(--expect-min-mapped 99)
			fi
			sflags=(--bytes $BYTES --mss 4108)
			[ $sender = plain ] || sflags+=(--msg-zerocopy)
			pair "$addr $mode <- $sender" "$addr" \
				--mode $mode --bytes $BYTES --mss 4108 \
				"${expect[@]}" -- "${sflags[@]}"
		done
	done
done

echo "rx_loopback: $runs transfers, $failed failed"
[ $failed -eq 0 ]
