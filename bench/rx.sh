#!/usr/bin/env bash
# Receive-side benchmark: the library's zero-copy receive (each zap
# strategy), auto and copy, against zcperf's hand-written raw
# TCP_ZEROCOPY_RECEIVE loop, on two namespaces joined by a veth pair with
# MTU 4168 over IPv6 (4096 payload + 40 IPv6 + 32 TCP: page-aligned
# segments; over IPv4 the same MTU leaves 4116) and a MSG_ZEROCOPY sender.
#
# Modes run alternately within each round, rounds repeat, medians are
# reported, so machine noise hits every mode alike. Ratios, not absolute
# numbers, are the result. Never asserts anything: this is not a test.
#
#   bench/rx.sh [-r ROUNDS] [-n BYTES] [-l "CHUNKS"] [-m "MODES"] [-V] [-P] [-o CSV]
#     -V: receiver verifies every byte (the data is touched, as a real
#         application would); default is --no-verify like tcp_mmap.
#     -P: do not pin. By default the receiver runs on CPU 0 and the sender
#         on CPU 1: unpinned, the receiving thread is charged the protocol
#         work of whichever packets its CPU happens to process, and runs
#         of one mode spread over 5x (46-277 usec/MB for raw, 1 MiB).
#
# Output: one CSV row per run (-o, default build/bench/rx.csv), then a
# table of medians per chunk and mode with usec/MB relative to raw.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$top/tests/lib/topology.sh"

rounds=5 bytes=512M chunks="65536 262144 1048576 4194304" verify=--no-verify
pin_rx="taskset -c 0" pin_tx="taskset -c 1"
modes="raw zerocopy:batch zerocopy:each zerocopy:kernel auto copy"
csv=$top/build/bench/rx.csv
while getopts "r:n:l:m:VPo:" o; do
	case $o in
	r) rounds=$OPTARG ;;
	n) bytes=$OPTARG ;;
	l) chunks=$OPTARG ;;
	m) modes=$OPTARG ;;
	V) verify= ;;
	P) pin_rx= pin_tx= ;;
	o) csv=$OPTARG ;;
	*) echo "usage: bench/rx.sh [-r ROUNDS] [-n BYTES] [-l CHUNKS] [-m MODES] [-V] [-P] [-o CSV]" >&2
	   exit 2 ;;
	esac
done
zcperf=$ZC_BUILD/zcperf
[ -x "$zcperf" ] || { echo "bench/rx.sh: build first (make)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench/rx.sh: needs jq" >&2; exit 1; }
zc_require_root
zc_veth_pair 4168
mkdir -p "$(dirname "$csv")"

steal() { awk '/^cpu /{print $9}' /proc/stat; }
steal0=$(steal)
t0=$(date +%s)
port=5400
echo "mode,chunk,round,bytes,mapped_bytes,seconds,usec_per_mb,gbit,verified" >"$csv"
for r in $(seq "$rounds"); do
	for chunk in $chunks; do
		for m in $modes; do
			rx=${m%%:*} zap=
			[ "$m" != "$rx" ] && zap=--zap=${m#*:}
			port=$((port + 1))
			out=$(mktemp)
			in_a $pin_rx "$zcperf" -s -1 -p $port --rx="$rx" $zap -l "$chunk" \
				$verify -J >"$out" &
			spid=$!
			sleep 0.2
			in_b $pin_tx "$zcperf" -c "$ZC_A6" -p $port --tx=msg_zerocopy \
				-l "$chunk" -n "$bytes" >/dev/null
			wait $spid
			jq -r --arg m "$m" --arg c "$chunk" --arg r "$r" \
				'.end | [$m, $c, $r, .bytes, .mapped_bytes, .seconds,
				 .usec_per_mb, (.bytes * 8 / .seconds / 1e9),
				 .verified] | @csv' "$out" | tr -d '"' >>"$csv"
			rm -f "$out"
		done
	done
done
steal1=$(steal)
hz=$(getconf CLK_TCK)

echo "# bench/rx.sh: $rounds rounds x $bytes per run, veth MTU 4168," \
     "MSG_ZEROCOPY sender, verify=${verify:-on}, pinned=${pin_rx:+yes}"
echo "# $(uname -r), $(nproc) vCPUs, $(($(date +%s) - t0)) s," \
     "steal $(((steal1 - steal0) / hz)) s over the run"
# Medians per chunk and mode; "vs raw" is the median of the ratios taken
# within each round, so that drift between rounds (other load) cancels.
awk -F, 'NR > 1 { k = $2 "," $1; n[k]++; u[k, n[k]] = $7; g[k, n[k]] = $8;
		  mp[k] += $5; by[k] += $4; rd[k, n[k]] = $3
		  if ($1 == "raw") raw[$2, $3] = $7 }
	function med(a, k, c,   i, j, t, v) {
		for (i = 1; i <= c; i++) v[i] = a[k, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++)
			if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
	END {
		printf "| chunk | mode | usec/MB (median) | vs raw (median of per-round ratios) | Gbit/s | %% mapped |\n"
		printf "|---|---|---|---|---|---|\n"
		for (k in n) { split(k, p, ","); c = 0
			for (i = 1; i <= n[k]; i++)
				if (raw[p[1], rd[k, i]] > 0)
					r[k, ++c] = u[k, i] / raw[p[1], rd[k, i]]
			rel = c ? sprintf("%.2f", med(r, k, c)) : "-"
			printf "| %d KiB | %s | %.1f | %s | %.2f | %.2f |\n", p[1] / 1024,
				p[2], med(u, k, n[k]), rel, med(g, k, n[k]),
				100 * mp[k] / by[k] }
	}' "$csv" | { read -r h; read -r s; echo "$h"; echo "$s"; sort -t'|' -k2,2n -k3,3; }
echo "# raw CSV: $csv"
