#!/usr/bin/env bash
# Request/response benchmark (seed 004's experiment): 100 connections, each
# with one request outstanding, on two namespaces joined by a veth pair
# with MTU 4168 over IPv6 (4096 payload + 40 IPv6 + 32 TCP: page-aligned
# segments). The client sends requests with MSG_ZEROCOPY (over veth the
# server can map only pages such a sender produced) and reads responses by
# copy; the server's receive mode is what varies:
#
#   copy             recv() into the library's buffer: the baseline
#   copy+churn       the same, with a thread in the server process that
#                    mmaps and munmaps in a loop (mmap write lock taken all
#                    the time): what the extra busy thread costs by itself
#   zerocopy         TCP_ZEROCOPY_RECEIVE, one zc_rx_pool (a shared window)
#                    for the server thread's connections, zcperf's default
#   zerocopy+churn   the same with the churn thread: before 6.5 the
#                    receive path took the mmap lock and stalled behind
#                    the churn; since 6.5 it takes a per-VMA lock
#   auto             the library measures both and picks, once for the
#                    pool's connections
#   zerocopy+conn    a window per connection instead of the pool
#   auto+conn        auto deciding per connection (--rx-window=per-conn)
#
# Modes alternate within each round (their order rotates), rounds repeat,
# medians are reported, so machine noise hits every mode alike. Ratios,
# not absolute numbers, are the result; the steal line says how noisy the
# machine was. Never asserts anything: this is not a test.
#
#   bench/rpc.sh [-r ROUNDS] [-t SECONDS] [-s "SIZES"] [-m "MODES"]
#                [-P CONNS] [-o CSV]
#
# Output: one CSV row per run (-o, default build/bench/rpc.csv), then a
# markdown table of medians per payload size and mode.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$top/tests/lib/topology.sh"

rounds=3 secs=4 conns=100
sizes="4096 65536 1048576"
modes="copy copy+churn zerocopy zerocopy+churn auto zerocopy+conn"
csv=$top/build/bench/rpc.csv
cmdline="bench/rpc.sh $*"
while getopts "r:t:s:m:P:o:" o; do
	case $o in
	r) rounds=$OPTARG ;;
	t) secs=$OPTARG ;;
	s) sizes=$OPTARG ;;
	m) modes=$OPTARG ;;
	P) conns=$OPTARG ;;
	o) csv=$OPTARG ;;
	*) echo "usage: bench/rpc.sh [-r ROUNDS] [-t SECONDS] [-s SIZES] [-m MODES] [-P CONNS] [-o CSV]" >&2
	   exit 2 ;;
	esac
done
zcperf=$ZC_BUILD/zcperf
[ -x "$zcperf" ] || { echo "bench/rpc.sh: build first (make)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench/rpc.sh: needs jq" >&2; exit 1; }
zc_require_root
zc_veth_pair 4168
# Many connections' MSG_ZEROCOPY notifications share the client's option
# memory; per network namespace on this kernel.
in_b sysctl -qw net.core.optmem_max=1048576 || true
mkdir -p "$(dirname "$csv")"
tmp=$(mktemp -d /tmp/zc-bench-rpc.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT

# "steal total" jiffies from /proc/stat's cpu line.
steal() { awk '/^cpu /{t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t}' /proc/stat; }
read -r steal0 total0 <<<"$(steal)"
# Non-idle, non-steal jiffies of all CPUs and the time, to tell how much
# of the machine something other than this benchmark used during a run.
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
hz=$(getconf CLK_TCK) ncpu=$(nproc)
t0=$(date +%s)
port=5500
read -r -a mode_list <<<"$modes"
nmodes=${#mode_list[@]}
echo "size,mode,round,tps,p50_us,p90_us,p99_us,p999_us,server_cpu_us,client_cpu_us,server_process_cpu_us,mapped_fraction,verified,churn_per_s,steal_percent,other_cpu_percent,error" >"$csv"

# run SIZE MODE ROUND: one server and one client run, one CSV row.
run() {
	local size=$1 mode=$2 round=$3 rx=${2%%+*} extra=() srv cli
	case $mode in
	*+churn*) extra+=(--mmap-churn) ;;
	esac
	case $mode in
	*+pool*) extra+=(--rx-window=pool) ;;
	*+conn*) extra+=(--rx-window=per-conn) ;;
	esac
	port=$((port + 1))
	srv=$tmp/srv.json cli=$tmp/cli.json
	in_a "$zcperf" -s -1 --rpc -p $port --rx="$rx" "${extra[@]}" -J \
		>"$srv" 2>"$tmp/srv.err" &
	local spid=$! b0 b1 w0 w1
	sleep 0.2
	b0=$(busy) w0=$(date +%s.%N)
	in_b "$zcperf" -c "$ZC_A6" --rpc -p $port -P "$conns" --req "$size" \
		--resp "$size" -t "$secs" --tx=msg_zerocopy --rx=copy -J \
		>"$cli" 2>"$tmp/cli.err" || true
	wait $spid || true
	b1=$(busy) w1=$(date +%s.%N)
	jq -nr --arg s "$size" --arg m "$mode" --arg r "$round" \
		--argjson busy "$(((b1 - b0)))" --argjson hz "$hz" \
		--argjson ncpu "$ncpu" --argjson wall "$(awk -v a="$w0" \
			-v b="$w1" 'BEGIN { print b - a }')" \
		--slurpfile S "$srv" --slurpfile C "$cli" '
		($S[0].end // {}) as $se | ($C[0].end // {}) as $ce |
		(($se.process_cpu_user_s // 0) + ($se.process_cpu_sys_s // 0) +
		 ($ce.process_cpu_user_s // 0) + ($ce.process_cpu_sys_s // 0))
		as $ours |
		[$s, $m, $r, ($ce.tps // 0), ($ce.latency_us.p50 // 0),
		 ($ce.latency_us.p90 // 0), ($ce.latency_us.p99 // 0),
		 ($ce.latency_us.p999 // 0), ($se.cpu_per_txn_us // 0),
		 ($ce.cpu_per_txn_us // 0), ($se.process_cpu_per_txn_us // 0),
		 ($se.mapped_fraction // 0),
		 (($se.verified // false) and ($ce.verified // false)),
		 ($se.mmap_churn.per_second // 0), ($ce.steal_percent // 0),
		 ([0, 100 * ($busy / $hz - $ours) / ($ncpu * $wall)] | max),
		 (($S[0].error // $C[0].error // "") | gsub(","; ";"))]
		| @csv' | tr -d '"' >>"$csv" ||
		echo "$size,$mode,$round,0,0,0,0,0,0,0,0,0,false,0,0,0,no JSON" >>"$csv"
	if [ "$(tail -n 1 "$csv" | cut -d, -f13)" != true ]; then
		echo "bench/rpc.sh: run $mode $size round $round failed:" >&2
		cat "$tmp/srv.err" "$tmp/cli.err" >&2
	fi
}

for r in $(seq "$rounds"); do
	for size in $sizes; do
		for k in $(seq 0 $((nmodes - 1))); do
			run "$size" "${mode_list[$(((k + r - 1) % nmodes))]}" "$r"
		done
	done
done
read -r steal1 total1 <<<"$(steal)"

echo "# $cmdline"
echo "# $rounds rounds x $secs s per run, $conns connections, veth MTU 4168" \
     "over IPv6, client: MSG_ZEROCOPY requests, copy receive, 1 thread;" \
     "server: 1 thread"
echo "# $(uname -r), $(nproc) vCPUs, $(($(date +%s) - t0)) s, steal" \
     "$(awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) \
	'BEGIN { printf "%.1f", t ? 100 * s / t : 0 }') % of CPU time" \
     "over the run, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Ratios are taken within a round (modes ran back to back there), then
# their median: slow swings of the machine's load cancel out better than
# in a ratio of medians.
awk -F, -v modes="$modes" '
	BEGIN { nm = split(modes, ml, " "); for (i = 1; i <= nm; i++) order[ml[i]] = i }
	NR > 1 { k = $1 "," $2; n[k]++; c = n[k]; rk[k, c] = $1 "," $3
		 tps[k, c] = $4; p50[k, c] = $5; p99[k, c] = $7
		 p999[k, c] = $8; cpu[k, c] = $9; mp[k, c] = $12; oth[k, c] = $16
		 if ($13 != "true") bad[k]++
		 if ($2 == "copy" || $2 == "zerocopy") {
			if ($4 > btps[$1 "," $3]) btps[$1 "," $3] = $4
			if ($9 > 0 && (!bcpu[$1 "," $3] || $9 < bcpu[$1 "," $3]))
				bcpu[$1 "," $3] = $9 } }
	function med(a, k, c,   i, j, t, v) {
		for (i = 1; i <= c; i++) v[i] = a[k, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++)
			if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
	END {
		for (k in n) {
			for (c = 1; c <= n[k]; c++) {
				r = rk[k, c]
				rt[k, c] = btps[r] ? tps[k, c] / btps[r] : 0
				rc[k, c] = bcpu[r] ? cpu[k, c] / bcpu[r] : 0 }
			split(k, p, ",")
			sz = p[1] >= 1048576 ? p[1] / 1048576 " MiB" : p[1] / 1024 " KiB"
			printf "%d %d | %s | %s | %.0f | %.2f | %.0f | %.0f | %.0f | %.1f | %.2f | %.1f | %.0f | %s |\n",
				p[1], order[p[2]], sz, p[2], med(tps, k, n[k]),
				med(rt, k, n[k]), med(p50, k, n[k]),
				med(p99, k, n[k]), med(p999, k, n[k]),
				med(cpu, k, n[k]), med(rc, k, n[k]),
				100 * med(mp, k, n[k]), med(oth, k, n[k]),
				bad[k] ? "NO (" bad[k] " of " n[k] ")" : "yes" }
	}' "$csv" | sort -k1,1n -k2,2n | cut -d' ' -f3- | {
		echo "| payload | server rx | txn/s | txn/s vs best | p50 us | p99 us | p99.9 us | server CPU us/txn | CPU vs best | % mapped | other load % | verified |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
		cat
	}
echo "# txn/s and latency: the client's; CPU: the server's event-loop thread" \
     "(user+sys; the churn thread is not in it); vs best: median over" \
     "rounds of the ratio to the better of copy and zerocopy in that round" \
     "(txn/s: higher is better, CPU: lower is better); other load: CPU" \
     "time of all CPUs not used by the two zcperf processes during the run" \
     "(other programs; softirq work may land there too)."
echo "# raw CSV: $csv"
