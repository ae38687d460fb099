#!/usr/bin/env bash
# Receive engine edge cases over loopback in a namespace of its own, IPv4,
# TCP_MAXSEG 4108, every byte verified by rx_peer:
#   odd-sized writes (stragglers in every view), 1-byte writes, urgent
#   (MSG_OOB) bytes mid-stream and at offset 0 (kept in line by zc_rx),
#   views held and released out of order under each zap strategy, the
#   SO_RCVLOWAT flag, a non-blocking socket, and a peer that resets the
#   connection mid-stream (the reader gets ECONNRESET after the bytes that
#   came before it, not a crash and not a clean end).
set -u
. "$(dirname "$0")/../lib/topology.sh"

PEER=$ZC_BUILD/tests/rx_peer
A=127.0.0.1
[ -x "$PEER" ] || zc_fail "$PEER missing: run make tests"
zc_require_root
zc_loopback_ns

tmp=$(mktemp -d /tmp/zc-rx-edge.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
port=5400 runs=0 failed=0

# pair NAME RECV_ARGS... -- SEND_ARGS...: one transfer over loopback in the
# namespace; passes when both ends exit 0.
pair() {
	local name=$1 r=() s=() rpid rrc src
	shift
	while [ "$1" != "--" ]; do r+=("$1"); shift; done
	shift
	s=("$@")
	port=$((port + 1)) runs=$((runs + 1))
	in_lo "$PEER" recv --listen $A $port --mss 4108 --timeout 60 "${r[@]}" \
		>"$tmp/recv" 2>&1 &
	rpid=$!
	in_lo "$PEER" send --connect $A $port --mss 4108 --timeout 60 "${s[@]}" \
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

# Odd write sizes: no segment is whole pages, so views mix mapped pages
# and copied stragglers.
for mode in zerocopy copy auto; do
	pair "odd writes, $mode <- msg-zerocopy" --mode $mode --bytes 32M -- \
		--bytes 32M --write-sizes odd --msg-zerocopy --seed 7
done
pair "odd writes, zerocopy <- plain" --mode zerocopy --bytes 16M \
	--expect-max-mapped 0 -- --bytes 16M --write-sizes odd --seed 9

# 1-byte writes, each its own segment: queues below one page.
for mode in zerocopy copy auto; do
	pair "1-byte writes, $mode" --mode $mode --bytes 64K -- \
		--bytes 64K --write-sizes 1 --nodelay
done

# Urgent bytes mid-stream, and as the very first byte.
oob=(--oob-at 1000003 --oob-at 4194304 --oob-at 9999999)
for mode in zerocopy copy auto; do
	for sender in msg-zerocopy plain; do
		sflags=(--bytes 16M "${oob[@]}")
		[ $sender = plain ] || sflags+=(--msg-zerocopy)
		pair "MSG_OOB mid-stream, $mode <- $sender" --mode $mode \
			--bytes 16M -- "${sflags[@]}"
	done
done
# An urgent byte as the very first byte, sent before the receiver has even
# accepted: it sits in the queue until zc_rx_create() puts urgent data in
# line, and must then arrive in line. (A second urgent mark arriving before
# that would make the kernel drop the first urgent byte from the stream,
# tcp_check_urg(): applications that expect urgent data set SO_OOBINLINE
# on the listening socket. The second one here comes 2 MB later, when the
# handle exists: the receive window keeps the sender from getting there
# before the receiver reads.)
pair "MSG_OOB first byte, zerocopy" --mode zerocopy --bytes 4M -- \
	--bytes 4M --oob-at 0 --oob-at 2000000 --msg-zerocopy

# Views held at once, released in a seeded random order; zaps must never
# take pages from a view still held (rx_peer checks each view again just
# before releasing it). Most bytes must really be mapped pages; the exact
# share is rx_loopback.sh's business (with small slots it varies from run
# to run here, as the kernel sometimes hands back unmappable fragments
# when the reader lags).
for zap in each batch kernel; do
	pair "8 views held, zap $zap" --mode zerocopy --zap $zap --hold 8 \
		--seed 3 --bytes 64M --expect-min-mapped 50 -- \
		--bytes 64M --msg-zerocopy
done
pair "64 views of 64 KiB held, zap batch" --mode zerocopy --zap batch \
	--hold 64 --slot-size 64K --seed 5 --bytes 64M \
	--expect-min-mapped 50 -- --bytes 64M --msg-zerocopy
pair "8 views held, odd writes" --mode zerocopy --hold 8 --seed 11 \
	--bytes 32M -- --bytes 32M --write-sizes odd --msg-zerocopy
pair "8 views held, copy" --mode copy --hold 8 --seed 13 --bytes 32M -- \
	--bytes 32M

# SO_RCVLOWAT at one slot, and a non-blocking socket (EAGAIN + zc_rx_wait).
pair "rcvlowat, zerocopy" --mode zerocopy --rcvlowat --bytes 64M \
	--expect-min-mapped 50 -- --bytes 64M --msg-zerocopy
for mode in zerocopy copy auto; do
	pair "non-blocking, $mode" --mode $mode --nonblock --bytes 32M -- \
		--bytes 32M --msg-zerocopy
done

# The peer resets after 24 MiB (more than the socket buffers hold, so the
# reader is mid-stream): every byte before it verified, then ECONNRESET.
for mode in zerocopy copy auto; do
	pair "peer reset mid-stream, $mode" --mode $mode --bytes 24M \
		--expect-error ECONNRESET -- --bytes 64M --reset-at 24M \
		--msg-zerocopy
done

echo "rx_edge: $runs transfers, $failed failed"
[ $failed -eq 0 ]
