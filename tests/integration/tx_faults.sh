#!/usr/bin/env bash
# Send engine faults, over loopback in a namespace of its own:
#  - peer reset mid-send (the receiver resets after 8 MiB): sends then
#    fail with an error and produce no completion, every send accepted
#    before completes exactly once (zc_tx_flush succeeds), the receiver
#    verified every byte it read;
#  - handle freed with sends outstanding: zc_tx_free() reports them, the
#    buffers stay put, all accepted bytes still arrive intact;
#  - socket closed with sends outstanding, then flush and free: no crash,
#    all accepted bytes arrive;
#  - io_uring refused (a seccomp filter makes io_uring_setup fail with
#    ENOSYS or EPERM, as a kernel without it or with io_uring_disabled
#    would): -EOPNOTSUPP, or with ZC_TX_F_FALLBACK MSG_ZEROCOPY (SEND_ZC)
#    or copy (SEND), counted in stats.fallbacks, data intact.
set -u
. "$(dirname "$0")/../lib/topology.sh"

PEER=$ZC_BUILD/tests/tx_peer
[ -x "$PEER" ] || zc_fail "$PEER missing: run make tests"
zc_require_root
zc_loopback_ns

have() { "$PEER" probe | awk -v f="$1" '$1 == f { print $2 }' | grep -qx 1; }
have uring_send_zc && uring=1 || uring=0

port=5700 runs=0 failed=0
backends="copy msg_zerocopy auto"
[ $uring = 1 ] && backends="$backends uring uring_zc"

run() {
	local name=$1 out
	shift
	port=$((port + 1)) runs=$((runs + 1))
	if out=$("$PEER" pair --port $port --rx-ns "$ZC_NS_LO" \
		--tx-ns "$ZC_NS_LO" "$@" 2>&1); then
		echo "ok   $name: $(echo "$out" | grep -e '^tx: [a-z]*ed' \
			-e '^tx: socket' -e '^rx:' | tr '\n' ' ')"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
		echo "$out" | sed 's/^/     /'
	fi
}

for b in $backends; do
	for addr in 127.0.0.1 ::1; do
		run "peer reset $b $addr" --connect $addr --backend $b \
			--bytes 256M --reset-after 8M --overwrite \
			--expect-send-error
	done
done

for b in msg_zerocopy uring_zc; do
	[ $b = uring_zc ] && [ $uring = 0 ] && continue
	run "free with sends outstanding $b" --connect 127.0.0.1 \
		--backend $b --bytes 256M --free-early 32M --bufs 64
	run "close with sends outstanding $b" --connect ::1 --backend $b \
		--bytes 256M --close-early 32M --bufs 64
done

if have uring; then
	for e in ENOSYS EPERM; do
		run "io_uring refused ($e), no fallback" --connect 127.0.0.1 \
			--backend uring_zc --deny-uring $e \
			--expect-create-error EOPNOTSUPP
		run "io_uring refused ($e): SEND_ZC -> MSG_ZEROCOPY" \
			--connect 127.0.0.1 --backend uring_zc --fallback \
			--deny-uring $e --bytes 32M --overwrite \
			--expect-backend msg_zerocopy --expect-fallbacks
		run "io_uring refused ($e): SEND -> copy" --connect ::1 \
			--udp --backend uring --fallback --deny-uring $e \
			--bytes 32M --overwrite --expect-backend copy \
			--expect-fallbacks
	done
else
	echo "note: io_uring missing here already; refusal cases skipped"
fi

[ $failed -eq 0 ] || zc_fail "$failed of $runs cases failed"
echo "$runs cases passed"
