#!/usr/bin/env bash
# Send engine over loopback, inside a namespace of its own: every backend
# (copy, msg_zerocopy, uring, uring_zc, auto), TCP and UDP, IPv4 and IPv6,
# 64 MiB each, every byte verified by tx_peer's receiver, every buffer
# overwritten the moment its completion arrives (a completion that came
# before the kernel was done with the pages shows as wrong bytes), and the
# completion contract checked by the sender (one completion per accepted
# send, none for failed ones, stats that add up, nothing left at the end).
#
# Expected, from what loopback does (docs: KERNEL_NOTES): the kernel copies
# MSG_ZEROCOPY and SEND_ZC pages when they reach the receiving socket and
# says so (COPIED), so those backends must report kernel-copied bytes, and
# auto must back off to copy. Then partial sends (a small non-blocking
# send buffer), registered buffers, and many small sends below the auto
# threshold.
set -u
. "$(dirname "$0")/../lib/topology.sh"

PEER=$ZC_BUILD/tests/tx_peer
[ -x "$PEER" ] || zc_fail "$PEER missing: run make tests"
zc_require_root
zc_loopback_ns

have() { "$PEER" probe | awk -v f="$1" '$1 == f { print $2 }' | grep -qx 1; }
have uring_send_zc && uring=1 || uring=0
have tx_udp_zerocopy || zc_skip "kernel without MSG_ZEROCOPY for UDP (5.0)"

port=5400 runs=0 failed=0 skipped=0

# run NAME ARGS...: one transfer, both ends in the namespace.
run() {
	local name=$1 out
	shift
	port=$((port + 1)) runs=$((runs + 1))
	if out=$("$PEER" pair --port $port --rx-ns "$ZC_NS_LO" \
		--tx-ns "$ZC_NS_LO" "$@" 2>&1); then
		echo "ok   $name: $(echo "$out" | grep '^tx:' | tail -n 1 |
			cut -d' ' -f2-7)"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
		echo "$out" | sed 's/^/     /'
	fi
}

expect_for() {
	case $1 in
	copy | uring) echo --expect-policy-copied ;;
	msg_zerocopy | uring_zc) echo --expect-kernel-copied ;;
	auto) echo --expect-backoff --expect-policy-copied ;;
	esac
}

for addr in 127.0.0.1 ::1; do
	for proto in tcp udp; do
		udp=()
		[ $proto = udp ] && udp=(--udp --size 60000)
		for b in copy msg_zerocopy uring uring_zc auto; do
			if [ $uring = 0 ] && [ "${b#uring}" != "$b" ]; then
				skipped=$((skipped + 1))
				continue
			fi
			# shellcheck disable=SC2046
			run "$b $proto $addr" --connect $addr --backend $b \
				--bytes 64M --overwrite "${udp[@]}" \
				--expect-backend \
				$([ $b = auto ] && echo msg_zerocopy || echo $b) \
				$(expect_for $b)
		done
	done
done

# Partial sends: a 64 KiB send buffer on a non-blocking socket makes TCP
# accept parts of each 1 MiB send and answer EAGAIN in between.
for b in copy msg_zerocopy uring uring_zc auto; do
	[ $uring = 0 ] && [ "${b#uring}" != "$b" ] && continue
	run "$b tcp partial sends" --connect 127.0.0.1 --backend $b \
		--bytes 64M --size 1M --nonblock --sndbuf 64K --overwrite
done
run "msg_zerocopy udp non-blocking" --connect ::1 --backend msg_zerocopy \
	--udp --size 8K --bytes 32M --nonblock --sndbuf 64K --overwrite

# Registered buffers (io_uring SEND_ZC from fixed buffers).
if [ $uring = 1 ]; then
	run "uring_zc tcp registered buffers" --connect ::1 \
		--backend uring_zc --fixed --bytes 64M --overwrite \
		--expect-kernel-copied
fi

# Auto below its threshold: everything copied by policy, no notifications.
run "auto tcp below threshold" --connect 127.0.0.1 --backend auto \
	--size 4K --bytes 16M --overwrite --expect-policy-copied

[ $skipped -gt 0 ] && echo "note: $skipped io_uring cases skipped (no SEND_ZC)"
[ $failed -eq 0 ] || zc_fail "$failed of $runs cases failed"
echo "$runs cases passed"
