#!/usr/bin/env bash
# ENOBUFS: zero-copy sends the kernel refuses for lack of memory must still
# deliver every byte (by copy) and be counted.
#
#  - optmem: each MSG_ZEROCOPY send in flight holds an skb charged to the
#    socket's optmem until its notification is read (msg_zerocopy_alloc,
#    sock_omalloc). net.core.optmem_max is per network namespace on this
#    kernel: lowered to 1000 bytes inside the test's own namespace, a second
#    send in flight does not fit, so TCP sends meet ENOBUFS, the handle reaps
#    and retries and then copies; UDP, with notifications left unread
#    (--lazy-reap), meets ENOBUFS and recovers by reaping.
#  - RLIMIT_MEMLOCK: without CAP_IPC_LOCK pinned pages are charged to it
#    (mm_account_pinned_pages); at 0 every MSG_ZEROCOPY send fails with
#    ENOBUFS and goes by copy. io_uring: the ring itself does not fit
#    (-ENOMEM from zc_tx_create, or MSG_ZEROCOPY with ZC_TX_F_FALLBACK);
#    at 192 KiB the ring fits but registering 4 MiB of buffers fails with a
#    clear -ENOMEM, and unregistered 256 KiB SEND_ZC sends never fit, so
#    each is copied (io_notif_account_mem: -ENOMEM). Locked memory is
#    counted per user: the limits are chosen so no timing decides.
set -u
. "$(dirname "$0")/../lib/topology.sh"

PEER=$ZC_BUILD/tests/tx_peer
[ -x "$PEER" ] || zc_fail "$PEER missing: run make tests"
zc_require_root
zc_loopback_ns

have() { "$PEER" probe | awk -v f="$1" '$1 == f { print $2 }' | grep -qx 1; }
have uring_send_zc && uring=1 || uring=0
have tx_udp_zerocopy || zc_skip "kernel without MSG_ZEROCOPY for UDP (5.0)"

port=5600 runs=0 failed=0

run() {
	local name=$1 out
	shift
	port=$((port + 1)) runs=$((runs + 1))
	if out=$("$PEER" pair --port $port --rx-ns "$ZC_NS_LO" \
		--tx-ns "$ZC_NS_LO" "$@" 2>&1); then
		echo "ok   $name: $(echo "$out" | grep '^tx:' | tail -n 1 |
			grep -o 'enobufs=[0-9]* enobufs_copied=[0-9]*')"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
		echo "$out" | sed 's/^/     /'
	fi
}

in_lo sysctl -q -w net.core.optmem_max=1000 ||
	zc_skip "cannot set net.core.optmem_max in a namespace"
[ "$(in_lo sysctl -n net.core.optmem_max)" = 1000 ] ||
	zc_fail "optmem_max did not change inside the namespace"
# The host's value must be untouched: it is per namespace on this kernel.
[ "$(sysctl -n net.core.optmem_max)" != 1000 ] ||
	zc_skip "net.core.optmem_max is not per namespace here"

for addr in 127.0.0.1 ::1; do
	# optmem 1000: ENOBUFS comes; whether the retry after reaping also
	# fails (and the bytes go by copy) depends on timing, so only the
	# ENOBUFS is asserted here; optmem 0 below makes every retry fail.
	run "optmem msg_zerocopy tcp $addr" --connect $addr \
		--backend msg_zerocopy --bytes 128M --overwrite \
		--reap-every 1000000 --expect-enobufs
	run "optmem msg_zerocopy udp $addr" --connect $addr --udp \
		--size 60000 --backend msg_zerocopy --bytes 64M --overwrite \
		--lazy-reap --reap-every 1000000 --expect-enobufs
done
run "optmem auto tcp" --connect 127.0.0.1 --backend auto --retry-after 1 \
	--bytes 64M --overwrite --reap-every 1000000 --expect-enobufs
in_lo sysctl -q -w net.core.optmem_max=131072

in_lo sysctl -q -w net.core.optmem_max=0
run "optmem 0 msg_zerocopy tcp ::1" --connect ::1 --backend msg_zerocopy \
	--bytes 64M --overwrite --expect-enobufs --expect-enobufs-copied
in_lo sysctl -q -w net.core.optmem_max=131072

for addr in 127.0.0.1 ::1; do
	run "memlock 0 msg_zerocopy tcp $addr" --connect $addr \
		--backend msg_zerocopy --memlock 0 --drop-ipc-lock --bytes 64M \
		--overwrite --expect-enobufs-copied
	run "memlock 0 msg_zerocopy udp $addr" --connect $addr --udp \
		--size 60000 --backend msg_zerocopy --memlock 0 \
		--drop-ipc-lock --bytes 64M --overwrite --expect-enobufs-copied
done
if [ $uring = 1 ]; then
	run "memlock 0 uring_zc: clear error" --connect 127.0.0.1 \
		--backend uring_zc --memlock 0 --drop-ipc-lock \
		--expect-create-error ENOMEM
	run "memlock 0 uring_zc with fallback" --connect 127.0.0.1 \
		--backend uring_zc --fallback --memlock 0 --drop-ipc-lock \
		--bytes 64M --overwrite --expect-backend msg_zerocopy \
		--expect-fallbacks --expect-enobufs-copied
	run "memlock 192K uring_zc registered buffers" --connect ::1 \
		--backend uring_zc --fixed --memlock 192K --drop-ipc-lock \
		--bytes 64M --overwrite --expect-register-error ENOMEM \
		--expect-enobufs-copied
else
	echo "note: io_uring SEND_ZC missing, its memlock cases skipped"
fi

[ $failed -eq 0 ] || zc_fail "$failed of $runs cases failed"
echo "$runs cases passed"
