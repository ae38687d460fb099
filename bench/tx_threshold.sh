#!/usr/bin/env bash
# Send-side threshold benchmark: below what send size does zero-copy cost
# the sender more CPU than copying? That size is the auto backend's
# default threshold (ZC__TX_DEFAULT_THRESHOLD in src/tx.h).
#
# Loopback and veth to a local socket cannot answer it: the kernel copies
# zero-copy pages there anyway (KERNEL_NOTES). So the sender, in namespace
# A of a veth pair (MTU 65535), sends UDP datagrams to an address whose
# static neighbour entry carries a MAC nobody has: the frames cross the veth
# into namespace B, which drops them as not its own (PACKET_OTHERHOST)
# without copying them and without an ICMP answer. MSG_ZEROCOPY's pages
# then really are never copied (veth forwarding keeps them: SKBFL_DONT_
# ORPHAN) and every notification says so. No traffic leaves the two
# namespaces this script creates.
#
# Measured: the sending process's CPU time (user + sys, which includes the
# softirq work done in its context) per MiB, for copy, MSG_ZEROCOPY reaped
# on the library's cadence ("lazy": the caller reaps only when its 64
# buffers run out), MSG_ZEROCOPY reaped before every send ("eager"), and
# io_uring SEND_ZC. Buffers are filled once; only sends are timed. Modes
# alternate within each round, rounds repeat, medians are reported with the
# hypervisor's steal time. Never asserts anything: this is not a test.
#
#   bench/tx_threshold.sh [-r ROUNDS] [-n BYTES] [-s "SIZES"] [-o CSV]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$top/tests/lib/topology.sh"

rounds=5 bytes=1G sizes="4096 8192 16384 24576 32768 49152 60000"
csv=$top/build/bench/tx_threshold.csv
while getopts "r:n:s:o:" o; do
	case $o in
	r) rounds=$OPTARG ;;
	n) bytes=$OPTARG ;;
	s) sizes=$OPTARG ;;
	o) csv=$OPTARG ;;
	*) echo "usage: bench/tx_threshold.sh [-r ROUNDS] [-n BYTES] [-s SIZES] [-o CSV]" >&2
	   exit 2 ;;
	esac
done
peer=$ZC_BUILD/tests/tx_peer
[ -x "$peer" ] || { echo "bench/tx_threshold.sh: build first (make tests)" >&2; exit 1; }
zc_require_root
zc_veth_pair 65535
sink=10.231.0.99
in_a ip neigh replace $sink lladdr 02:00:00:00:00:99 dev zcva nud permanent
modes="copy msg_zerocopy:lazy msg_zerocopy:eager"
"$peer" probe | grep -qx "uring_send_zc 1" && modes="$modes uring_zc:lazy"
mkdir -p "$(dirname "$csv")"

steal() { awk '/^cpu /{print $9}' /proc/stat; }
steal0=$(steal)
t0=$(date +%s)
echo "mode,size,round,bytes,cpu_s,usec_per_mb,zerocopy_bytes" >"$csv"
for r in $(seq "$rounds"); do
	for size in $sizes; do
		for m in $modes; do
			b=${m%%:*} lazy=
			[ "${m#*:}" = lazy ] && lazy=--lazy-reap
			line=$(in_a "$peer" blast --connect $sink --backend "$b" \
				--size "$size" --bytes "$bytes" --bufs 64 $lazy)
			echo "$line" | awk -v m="$m" -v r="$r" '{
				for (i = 2; i <= NF; i++) {
					split($i, kv, "="); v[kv[1]] = kv[2]
				}
				printf "%s,%s,%s,%s,%s,%s,%s\n", m, v["size"], r,
					v["bytes"], v["cpu"], v["usec_per_mb"],
					v["zerocopy"]
			}' >>"$csv"
		done
	done
done
secs=$(($(date +%s) - t0))
hz=$(getconf CLK_TCK)
steal_s=$(awk -v a="$steal0" -v b="$(steal)" -v hz="$hz" \
	'BEGIN { printf "%.1f", (b - a) / hz }')

median() { sort -n | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print "-"; exit }
	if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { awk -F, -v m="$1" -v s="$2" '$1 == m && $2 == s { print $6 }' "$csv" | median; }

echo "sender CPU, usec per MiB (median of $rounds rounds, $bytes per run)"
printf "%8s" size
for m in $modes; do printf " %19s" "$m"; done
printf " %12s\n" "lazy/copy"
threshold=
for size in $sizes; do
	c=$(med copy "$size")
	z=$(med msg_zerocopy:lazy "$size")
	printf "%8s" "$size"
	for m in $modes; do printf " %19s" "$(med "$m" "$size")"; done
	ratio=$(awk -v z="$z" -v c="$c" 'BEGIN { printf "%.2f", z / c }')
	printf " %12s\n" "$ratio"
	# the smallest size from which zero-copy stays no dearer
	if awk -v z="$z" -v c="$c" 'BEGIN { exit !(z <= c) }'; then
		[ -n "$threshold" ] || threshold=$size
	else
		threshold=
	fi
done
zc=$(awk -F, '$1 != "copy" && $7 == 0 { n++ } END { print n + 0 }' "$csv")
[ "$zc" = 0 ] || echo "warning: $zc zero-copy runs reported no uncopied bytes"
echo "crossover (MSG_ZEROCOPY lazy <= copy from here up): ${threshold:-none in range}"
echo "$secs s wall, steal $steal_s s; rows in $csv"
