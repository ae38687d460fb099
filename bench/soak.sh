#!/usr/bin/env bash
# Soak: long-running zcperf servers under mixed stream and request/response
# traffic, every byte verified, their resources sampled as it runs.
#
#   bench/soak.sh [SECONDS]        default 600 (10 minutes); 60 for a smoke run
#   SOAK_INTERVAL=10 SOAK_CSV=build/bench/soak.csv bench/soak.sh ...
#
# Two namespaces joined by a veth pair with MTU 4168 (IPv6: page-aligned
# segments, so zero-copy receive maps). In the server namespace, three
# zcperf servers run for the whole soak:
#   stream-zc    zcperf -s --rx zerocopy          (a window per connection)
#   stream-auto  zcperf -s --rx auto --zap batch
#   rpc-pool     zcperf -s --rpc --rx-window pool (one zc_rx_pool per thread)
# In the client namespace two loops run side by side until the time is up:
#   stream: 1 GiB runs, alternating the two stream servers, --tx
#           msg_zerocopy / copy / auto and 1 or 2 connections in turn;
#   rpc:    5-second runs of 16 connections, payloads 4 KiB / 64 KiB /
#           1 MiB in turn, --tx msg_zerocopy / copy, the client's receive
#           windows per connection / pooled in turn.
# Integrity: every stream server session must end "integrity: every byte
# verified", every rpc run must verify every request (server) and response
# (client), and every client must exit 0.
#
# Resources: every SOAK_INTERVAL seconds, for each server process: open
# fds, /proc/PID/maps lines, RSS and threads, plus the kernel's Slab and
# MemAvailable; rows go to stdout and SOAK_CSV. Before the soak (after
# warm-up runs of each kind) and after it (all clients done) the servers are
# idle: their fds and maps lines must then be equal, and the RSS growth is
# reported. Exit 0 when every run verified and nothing grew, 1 otherwise.
# Not a test (not run by make check): it takes minutes and the machine.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$top/tests/lib/topology.sh"

secs=${1:-600}
case "$secs" in
'' | *[!0-9]*)
	echo "usage: bench/soak.sh [SECONDS]" >&2
	exit 2
	;;
esac
interval=${SOAK_INTERVAL:-10}
csv=${SOAK_CSV:-$top/build/bench/soak.csv}
zcperf=$ZC_BUILD/zcperf
[ -x "$zcperf" ] || { echo "bench/soak.sh: build first (make)" >&2; exit 1; }
zc_require_root
zc_veth_pair 4168
# Many MSG_ZEROCOPY notifications in flight share option memory, per
# namespace on this kernel.
in_a sysctl -qw net.core.optmem_max=1048576 || true
in_b sysctl -qw net.core.optmem_max=1048576 || true

tmp=$(mktemp -d /tmp/zc-soak.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
mkdir -p "$(dirname "$csv")"
S=$ZC_B6

names=(stream-zc stream-auto rpc-pool)
ports=(5601 5602 5603)
# The server as the background job itself (exec), so $! is zcperf's pid.
server() { exec ip netns exec "$ZC_NS_B" "$zcperf" "$@"; }
server -s -p 5601 --rx zerocopy >"$tmp/stream-zc.log" 2>&1 &
pids[0]=$!
server -s -p 5602 --rx auto --zap batch >"$tmp/stream-auto.log" 2>&1 &
pids[1]=$!
server -s --rpc -p 5603 --rx-window pool --tx auto >"$tmp/rpc-pool.log" 2>&1 &
pids[2]=$!
for p in "${ports[@]}"; do
	for i in $(seq 200); do
		in_b ss -Hltn "sport = :$p" | grep -q . && break
		sleep 0.05
	done
done

# sample LABEL: one row per server; also into the CSV.
sample() {
	local label=$1 i pid fds maps rss thr slab avail now
	now=$(($(date +%s) - t0))
	slab=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
	avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	printf '%-9s t=%4ss' "$label" "$now"
	for i in 0 1 2; do
		pid=${pids[$i]}
		if [ ! -d /proc/$pid ]; then
			printf '  %s: GONE' "${names[$i]}"
			echo "$label,$now,${names[$i]},,,,,$slab,$avail" >>"$csv"
			continue
		fi
		fds=$(ls /proc/$pid/fd | wc -l)
		maps=$(wc -l </proc/$pid/maps)
		rss=$(awk '/^VmRSS:/ { print $2 }' /proc/$pid/status)
		thr=$(awk '/^Threads:/ { print $2 }' /proc/$pid/status)
		printf '  %s: fds %s maps %s rss %s KiB thr %s' "${names[$i]}" \
			"$fds" "$maps" "$rss" "$thr"
		echo "$label,$now,${names[$i]},$fds,$maps,$rss,$thr,$slab,$avail" \
			>>"$csv"
		eval "last_fds_$i=$fds last_maps_$i=$maps last_rss_$i=$rss"
	done
	printf '  slab %s KiB avail %s MiB\n' "$slab" "$((avail / 1024))"
}

# Client runs; each logs to its own file, verdicts collected in results.
stream_run() {
	local k=$1 port tx par log=$tmp/stream.$1.log
	port=${ports[$((k % 2))]}
	tx=(msg_zerocopy copy auto)
	tx=${tx[$((k % 3))]}
	par=$((1 + (k / 2) % 2))
	if in_a timeout 120 "$zcperf" -c "$S" -p "$port" -n 1G -P $par \
		--tx "$tx" >"$log" 2>&1; then
		echo "stream $k ok port $port tx $tx P $par" >>"$tmp/results"
	else
		echo "stream $k FAIL (exit $?) port $port tx $tx P $par" >>"$tmp/results"
		cp "$log" "$tmp/failed.stream.$k.log"
	fi
}

rpc_run() {
	local k=$1 size tx win log=$tmp/rpc.$1.log
	size=(4K 64K 1M)
	size=${size[$((k % 3))]}
	tx=(msg_zerocopy copy)
	tx=${tx[$((k % 2))]}
	win=(per-conn pool)
	win=${win[$(((k / 2) % 2))]}
	if in_a timeout 120 "$zcperf" -c "$S" --rpc -p 5603 -P 16 -t 5 \
		--req "$size" --resp "$size" --tx "$tx" --rx-window "$win" \
		>"$log" 2>&1 &&
		grep -q 'integrity: every response byte verified' "$log"; then
		echo "rpc $k ok size $size tx $tx rx-window $win" >>"$tmp/results"
	else
		echo "rpc $k FAIL size $size tx $tx rx-window $win" >>"$tmp/results"
		cp "$log" "$tmp/failed.rpc.$k.log"
	fi
}

echo "bench/soak.sh $secs: $(uname -r), $(nproc) CPUs, servers in $ZC_NS_B" \
	"(${names[*]}), clients in $ZC_NS_A, veth MTU 4168, IPv6"
echo "label,t,server,fds,maps,rss_kib,threads,slab_kib,memavail_kib" >"$csv"
t0=$(date +%s)
: >"$tmp/results"
sample cold
# Warm-up: each server at its widest (glibc keeps a thread's stack and
# malloc arena once made: two maps lines each), then the idle baseline.
for k in 0 1 2 3; do
	stream_run $k
	rpc_run $k
done
sleep 1
sample baseline
for i in 0 1 2; do
	eval "base_fds_$i=\$last_fds_$i base_maps_$i=\$last_maps_$i base_rss_$i=\$last_rss_$i"
done

deadline=$(($(date +%s) + secs))
(k=4; while [ "$(date +%s)" -lt $deadline ]; do stream_run $k; k=$((k + 1)); done) &
sloop=$!
(k=4; while [ "$(date +%s)" -lt $deadline ]; do rpc_run $k; k=$((k + 1)); done) &
rloop=$!
while kill -0 $sloop 2>/dev/null || kill -0 $rloop 2>/dev/null; do
	sleep "$interval"
	sample running
done
wait $sloop $rloop
sleep 2
sample final

fail=0
for i in 0 1 2; do
	kill -0 "${pids[$i]}" 2>/dev/null || { echo "FAIL ${names[$i]} died"; fail=1; }
done
kill "${pids[@]}" 2>/dev/null
wait "${pids[@]}" 2>/dev/null

runs=$(wc -l <"$tmp/results")
bad=$(grep -c FAIL "$tmp/results")
nstream=$(grep -c '^stream' "$tmp/results")
nrpc=$(grep -c '^rpc' "$tmp/results")
verified=$(cat "$tmp/stream-zc.log" "$tmp/stream-auto.log" |
	grep -c 'integrity: every byte verified')
notver=$(cat "$tmp"/stream-*.log | grep -c 'integrity: NOT')
rpcver=$(grep -c 'integrity: every request byte verified' "$tmp/rpc-pool.log")
sessions=$(grep -c '^rpc client' "$tmp/rpc-pool.log")
# Per connection: "[  0] received 512.0 MiB (99.8 % mmap'ed) in ...".
volume() {
	awk '/^\[ *[0-9]+\] received / {
		sub(/^\[ *[0-9]+\] received /, ""); split($0, f, " ")
		v = f[1]; if (f[2] ~ /MiB/) v /= 1024; else if (f[2] ~ /KiB/) v /= 1048576
		s += v; m += v * substr(f[3], 2) / 100 }
		END { printf "%.1f GiB, %.1f%% mapped", s, s ? 100 * m / s : 0 }' "$@"
}
txn=$(cat "$tmp"/rpc.*.log | awk '/^\[SUM\]/ { s += $2 } END { print s + 0 }')
echo
echo "runs (4 warm-up runs of each kind included): $nstream stream of 1 GiB," \
	"$nrpc rpc ($txn transactions); $bad failed"
echo "received: stream-zc $(volume "$tmp/stream-zc.log"), stream-auto" \
	"$(volume "$tmp/stream-auto.log")"
echo "integrity: $verified stream sessions verified, $notver NOT verified;" \
	"$rpcver of $sessions rpc sessions verified every request byte"
[ "$bad" -eq 0 ] || { grep FAIL "$tmp/results"; for f in "$tmp"/failed.*; do
	echo "--- $f"; tail -n 15 "$f"; done; fail=1; }
[ "$notver" -eq 0 ] && [ "$verified" -eq "$nstream" ] || {
	echo "FAIL stream sessions verified ($verified) != stream runs ($nstream)"; fail=1; }
[ "$rpcver" -eq "$sessions" ] && [ "$sessions" -eq "$nrpc" ] || {
	echo "FAIL rpc sessions verified ($rpcver of $sessions) != rpc runs ($nrpc)"; fail=1; }
echo "idle before -> idle after (growth):"
for i in 0 1 2; do
	eval "bf=\$base_fds_$i bm=\$base_maps_$i br=\$base_rss_$i"
	eval "lf=\$last_fds_$i lm=\$last_maps_$i lr=\$last_rss_$i"
	printf '  %-11s fds %s -> %s, maps %s -> %s, rss %s -> %s KiB (%+d KiB)\n' \
		"${names[$i]}" "$bf" "$lf" "$bm" "$lm" "$br" "$lr" $((lr - br))
	if [ "$lf" != "$bf" ] || [ "$lm" != "$bm" ]; then
		echo "FAIL ${names[$i]}: fds or maps lines grew while idle"
		fail=1
	fi
done
echo "samples: $csv"
[ $fail -eq 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit $fail
