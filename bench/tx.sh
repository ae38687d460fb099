#!/usr/bin/env bash
# Send-path benchmark: seed 003's table, made in one run on this machine.
# zcperf sends for a fixed time from namespace B to a receiver in
# namespace A across a veth pair (MTU 4168), TCP and UDP over IPv4 and
# IPv6, through the library's send engine in five ways:
#
#   copy      plain send() (zc_tx's copy backend)
#   mz1       MSG_ZEROCOPY, completions read after every send
#             (--reap-every 1, seed 003's cfg_notification_limit = 1)
#   mz32      MSG_ZEROCOPY, completions read every 32 sends (the kernel
#             selftest's cadence, the library's default)
#   uring_zc  io_uring SEND_ZC, notifications as completion-ring entries
#   auto      the library's policy: zero-copy from 32 KiB, copy while the
#             kernel reports it copies anyway
#
# and reports per protocol and mode: MiB sent, the sending thread's CPU
# (user+sys, RUSAGE_THREAD) per MiB, the whole machine's busy CPU time per
# MiB, the share of completions the kernel flagged as copied, and
# throughput and CPU relative to copy. Then a
# loopback section (TCP over IPv4 in a namespace of its own): copy, auto
# and forced MSG_ZEROCOPY, for auto's goal of at least 95% of copy's
# throughput where the kernel copies anyway.
#
# What these paths can show: the sender's cost of each way to send, and
# how much of it is notification handling. What they cannot: a zero-copy
# saving. Loopback and veth to a local socket always copy zero-copy pages
# before the receiving socket gets them (skb_orphan_frags_rx), so every
# zero-copy completion says "copied" and MSG_ZEROCOPY only adds pinning
# and notification work here; seed 003 measured on real NICs. Also, the
# receive-side TCP/UDP work of these paths mostly runs in the sender's
# context (softirq), so "sender CPU" includes much of the receiver's
# protocol work, and the copy the kernel makes of zero-copy pages lands
# in whichever context runs that softirq: the sending thread, or
# ksoftirqd when softirqs pile up, where the sending thread's CPU time
# does not see it. The whole-machine column counts it wherever it ran
# (and counts other programs' load too: see the "other load" table).
#
# Each send is about 64 KB, as in seed 003 (msg_zerocopy.c's largest
# payload): TCP writes of 64 KiB, UDP datagrams of zcperf's default 61440
# bytes (IP fragments on the veth, as seed 003's datagrams did). TCP over
# IPv6 on MTU 4168 carries 4096-byte segments; over IPv4 both sides set
# --mss 4108 (4096 + 12 bytes of timestamps). The loopback section uses
# zcperf's defaults (512 KiB writes, the kernel's MSS). Senders write no pattern (--no-verify) unless -V:
# the cost measured is the send path, not zcperf filling its buffers;
# tests/integration/zcperf_tx.sh checks the data. The receiver copies
# (--rx=copy). Modes alternate within each round, their order rotating;
# ratios are taken within a round, then the median over rounds. Never
# asserts anything: this is not a test.
#
#   bench/tx.sh [-r ROUNDS] [-t SECONDS] [-R LOOPBACK_ROUNDS] [-V] [-P]
#               [-o CSV]
#     -V: senders write the pattern and receivers check it.
#     -P: do not pin. By default the receiver runs on CPU 0 and the sender
#         on CPU 1 (as bench/rx.sh), so each side's thread is charged its
#         own CPU's work and the two do not take turns on one CPU.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$top/tests/lib/topology.sh"

rounds=3 secs=2 lo_rounds=7 verify=--no-verify
pin_rx="taskset -c 0" pin_tx="taskset -c 1"
csv=$top/build/bench/tx.csv
cmdline="bench/tx.sh $*"
while getopts "r:t:R:VPo:" o; do
	case $o in
	r) rounds=$OPTARG ;;
	t) secs=$OPTARG ;;
	R) lo_rounds=$OPTARG ;;
	V) verify= ;;
	P) pin_rx= pin_tx= ;;
	o) csv=$OPTARG ;;
	*) echo "usage: bench/tx.sh [-r ROUNDS] [-t SECONDS] [-R LOOPBACK_ROUNDS] [-V] [-P] [-o CSV]" >&2
	   exit 2 ;;
	esac
done
zcperf=$ZC_BUILD/zcperf
[ -x "$zcperf" ] || { echo "bench/tx.sh: build first (make)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench/tx.sh: needs jq" >&2; exit 1; }
zc_require_root
"$zcperf" --probe -J | jq -e .features.uring_send_zc >/dev/null &&
	modes="copy mz1 mz32 uring_zc auto" || modes="copy mz1 mz32 auto"
protos="tcp4 tcp6 udp4 udp6"
lo_modes="copy auto msg_zerocopy"
zc_veth_pair 4168
zc_loopback_ns
mkdir -p "$(dirname "$csv")"
tmp=$(mktemp -d /tmp/zc-bench-tx.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
# A private copy: a rebuild of build/zcperf during the run (a shared
# checkout) must not swap the program between runs or fail one.
cp "$zcperf" "$tmp/zcperf"
zcperf=$tmp/zcperf

# "steal total" jiffies from /proc/stat's cpu line.
steal() { awk '/^cpu /{t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t}' /proc/stat; }
# Non-idle, non-steal jiffies of all CPUs: what else ran during a run.
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
read -r steal0 total0 <<<"$(steal)"
hz=$(getconf CLK_TCK) ncpu=$(nproc)
t0=$(date +%s)
port=5800
echo "section,proto,mode,round,bytes,seconds,gbit_per_s,usec_per_mib,completions,kernel_copied,policy_copied,notifications,udp_lost_fraction,steal_percent,other_cpu_percent,machine_usec_per_mib,error" >"$csv"

# run SECTION PROTO MODE ROUND: one receiver and one sender, one CSV row.
run() {
	local section=$1 proto=$2 mode=$3 round=$4 sargs=() cargs=()
	local srv=$tmp/srv.json cli=$tmp/cli.json spid b0 b1 w0 w1 nss nsc addr
	case $mode in
	mz1) cargs+=(--tx=msg_zerocopy --reap-every 1) ;;
	mz32) cargs+=(--tx=msg_zerocopy --reap-every 32) ;;
	*) cargs+=(--tx="$mode") ;;
	esac
	case $proto in
	tcp4) sargs+=(--rx=copy --mss 4108) cargs+=(--mss 4108 -l 64K)
	      addr=$ZC_A4 ;;
	tcp6) sargs+=(--rx=copy) cargs+=(-l 64K) addr=$ZC_A6 ;;
	lo4) sargs+=(--rx=copy) ;;
	udp4) sargs+=(-u) cargs+=(-u) addr=$ZC_A4 ;;
	udp6) sargs+=(-u) cargs+=(-u) addr=$ZC_A6 ;;
	esac
	nss=$ZC_NS_A nsc=$ZC_NS_B
	if [ "$section" = loopback ]; then
		nss=$ZC_NS_LO nsc=$ZC_NS_LO addr=127.0.0.1
	fi
	port=$((port + 1))
	ip netns exec "$nss" $pin_rx "$zcperf" -s -1 -p $port "${sargs[@]}" -J \
		>"$srv" 2>"$tmp/srv.err" &
	spid=$!
	sleep 0.2
	b0=$(busy) w0=$(date +%s.%N)
	ip netns exec "$nsc" $pin_tx timeout $((secs + 60)) "$zcperf" -c "$addr" \
		-p $port -t "$secs" $verify "${cargs[@]}" -J \
		>"$cli" 2>"$tmp/cli.err" || true
	wait $spid || true
	b1=$(busy) w1=$(date +%s.%N)
	jq -nr --arg sec "$section" --arg p "$proto" --arg m "$mode" \
		--arg r "$round" --argjson busy $((b1 - b0)) --argjson hz "$hz" \
		--argjson ncpu "$ncpu" --argjson wall "$(awk -v a="$w0" \
			-v b="$w1" 'BEGIN { print b - a }')" \
		--slurpfile S "$srv" --slurpfile C "$cli" '
		($S[0].end // {}) as $se | ($C[0].end // {}) as $ce |
		($ce.tx_stats // {}) as $t |
		(($se.process_cpu_user_s // 0) + ($se.process_cpu_sys_s // 0) +
		 ($ce.process_cpu_user_s // 0) + ($ce.process_cpu_sys_s // 0))
		as $ours |
		[$sec, $p, $m, $r, ($ce.bytes // 0), ($ce.seconds // 0),
		 (($ce.bits_per_second // 0) / 1e9), ($ce.usec_per_mb // 0),
		 ($t.completions // 0), ($t.completions_kernel_copied // 0),
		 ($t.completions_policy_copied // 0), ($t.notifications // 0),
		 ($ce.udp.lost_fraction // 0), ($ce.steal_percent // 0),
		 ([0, 100 * ($busy / $hz - $ours) / ($ncpu * $wall)] | max),
		 (if ($ce.bytes // 0) > 0
		  then 1e6 * ($busy / $hz) / ($ce.bytes / 1048576) else 0 end),
		 (($C[0].error // $S[0].error // "") | gsub(","; ";"))]
		| @csv' | tr -d '"' >>"$csv" ||
		echo "$section,$proto,$mode,$round,0,0,0,0,0,0,0,0,0,0,0,0,no JSON" >>"$csv"
	if [ -n "$(tail -n 1 "$csv" | cut -d, -f17)" ]; then
		local keep=${csv%.csv}-failed-$section-$proto-$mode-$round
		echo "bench/tx.sh: $section $proto $mode round $round failed" \
		     "(documents in $keep.*.json):" >&2
		cat "$tmp/srv.err" "$tmp/cli.err" >&2
		cp "$cli" "$keep.sender.json"
		cp "$srv" "$keep.receiver.json"
	fi
}

read -r -a ml <<<"$modes"
for r in $(seq "$rounds"); do
	for p in $protos; do
		for k in $(seq 0 $((${#ml[@]} - 1))); do
			run veth "$p" "${ml[$(((k + r - 1) % ${#ml[@]}))]}" "$r"
		done
	done
done
read -r -a ml <<<"$lo_modes"
for r in $(seq "$lo_rounds"); do
	for k in $(seq 0 $((${#ml[@]} - 1))); do
		run loopback lo4 "${ml[$(((k + r - 1) % ${#ml[@]}))]}" "$r"
	done
done
read -r steal1 total1 <<<"$(steal)"

echo "# $cmdline"
echo "# $(uname -r), $ncpu vCPUs, $(($(date +%s) - t0)) s, steal" \
     "$(awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) \
	'BEGIN { printf "%.1f", t ? 100 * s / t : 0 }') % of CPU time" \
     "over the run, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# veth pair, MTU 4168, $rounds rounds x $secs s per run, modes" \
     "alternating; medians over rounds; ${verify:-pattern written and verified};" \
     "pinned=$([ -n "$pin_rx" ] && echo yes || echo no)"

# table SECTION "PROTOS" "MODES" COLUMN: a markdown table of one measure
# (mib, cpu, kcopied, vs_copy, cpu_vs_copy, gbit, other, loss) with a
# row per mode and a column per protocol. Ratios to copy are taken
# within each round, then the median.
table() {
	echo
	awk -F, -v sec="$1" -v protos="$2" -v modes="$3" -v what="$4" '
	function med(a, k, c,   i, j, t, v) {
		if (!c) return -1
		for (i = 1; i <= c; i++) v[i] = a[k, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++)
			if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
	NR > 1 && $1 == sec {
		if ($17 != "") { bad[$2 "," $3]++; next }
		cb[$2, $4] = $3 == "copy" ? $5 : cb[$2, $4]
		cc[$2, $4] = $3 == "copy" ? $8 : cc[$2, $4]
		k = $2 "," $3; c = ++n[k]; r[k, c] = $4
		mib[k, c] = $5 / 1048576; gb[k, c] = $7; cpu[k, c] = $8
		kc[k, c] = $9 ? 100 * $10 / $9 : 0
		oth[k, c] = $15; loss[k, c] = 100 * $13; mach[k, c] = $16
		by[k, c] = $5; cp[k, c] = $8 }
	END {
		np = split(protos, pl, " "); nm = split(modes, ml, " ")
		for (k in n) for (c = 1; c <= n[k]; c++) {
			split(k, q, ","); rd = r[k, c]
			vs[k, c] = cb[q[1], rd] ? by[k, c] / cb[q[1], rd] : 0
			cvs[k, c] = cc[q[1], rd] ? cp[k, c] / cc[q[1], rd] : 0 }
		printf "| mode |"
		for (i = 1; i <= np; i++) printf " %s |", pl[i]
		printf "\n|---|"
		for (i = 1; i <= np; i++) printf "---|"
		printf "\n"
		for (j = 1; j <= nm; j++) {
			printf "| %s |", ml[j]
			for (i = 1; i <= np; i++) {
				k = pl[i] "," ml[j]
				if (bad[k]) { printf " failed %d |", bad[k]; continue }
				if (!n[k]) { printf " - |"; continue }
				if (what == "mib") printf " %.0f |", med(mib, k, n[k])
				if (what == "gbit") printf " %.2f |", med(gb, k, n[k])
				if (what == "cpu") printf " %.0f |", med(cpu, k, n[k])
				if (what == "kcopied") printf " %.1f |", med(kc, k, n[k])
				if (what == "vs_copy") printf " %.2f |", med(vs, k, n[k])
				if (what == "cpu_vs_copy") printf " %.2f |", med(cvs, k, n[k])
				if (what == "other") printf " %.0f |", med(oth, k, n[k])
				if (what == "machine") printf " %.0f |", med(mach, k, n[k])
				if (what == "loss") printf " %.1f |", med(loss, k, n[k])
			}
			printf "\n"
		}
	}' "$csv"
}

echo
echo "MiB sent in $secs s (median):"
table veth "$protos" "$modes" mib
echo
echo "sender CPU, usec per MiB (sending thread, user+sys; lower is better):"
table veth "$protos" "$modes" cpu
echo
echo "% of completions the kernel copied:"
table veth "$protos" "$modes" kcopied
echo
echo "whole machine CPU, usec per MiB (busy time of all CPUs during the" \
     "run: sender, receiver, softirq threads, and any other load):"
table veth "$protos" "$modes" machine
echo
echo "throughput vs copy (ratio within each round, median):"
table veth "$protos" "$modes" vs_copy
echo
echo "CPU per MiB vs copy (ratio within each round, median):"
table veth "$protos" "$modes" cpu_vs_copy
echo
echo "UDP: % of datagrams the receiver did not get (it verifies each;" \
     "loss is the receiver falling behind, not an error):"
table veth "udp4 udp6" "$modes" loss
echo
echo "other load, % of all CPUs used by programs other than the two" \
     "zcperf processes during a run (median):"
table veth "$protos" "$modes" other
echo
echo "Loopback: TCP over IPv4 in a namespace (default MSS), copy receiver," \
     "$lo_rounds rounds x $secs s, modes alternating; medians:"
echo
awk -F, -v modes="$lo_modes" '
	function med(a, k, c,   i, j, t, v) {
		if (!c) return -1
		for (i = 1; i <= c; i++) v[i] = a[k, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++)
			if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
	NR > 1 && $1 == "loopback" {
		if ($17 != "") { bad[$3]++; next }
		if ($3 == "copy") { cb[$4] = $5; cc[$4] = $8 }
		k = $3; c = ++n[k]; r[k, c] = $4; by[k, c] = $5
		gb[k, c] = $7; cpu[k, c] = $8; oth[k, c] = $15; mach[k, c] = $16
		kc[k, c] = $9 ? 100 * $10 / $9 : 0 }
	END {
		nm = split(modes, ml, " ")
		print "| mode | Gbit/s | vs copy | sender usec/MiB | CPU vs copy | machine usec/MiB | % kernel-copied | other load % |"
		print "|---|---|---|---|---|---|---|---|"
		for (j = 1; j <= nm; j++) {
			k = ml[j]
			if (bad[k] || !n[k]) { printf "| %s | failed %d |\n", k, bad[k]; continue }
			for (c = 1; c <= n[k]; c++) {
				vs[k, c] = cb[r[k, c]] ? by[k, c] / cb[r[k, c]] : 0
				cv[k, c] = cc[r[k, c]] ? cpu[k, c] / cc[r[k, c]] : 0 }
			printf "| %s | %.2f | %.2f | %.0f | %.2f | %.0f | %.1f | %.0f |\n", k,
				med(gb, k, n[k]), med(vs, k, n[k]), med(cpu, k, n[k]),
				med(cv, k, n[k]), med(mach, k, n[k]), med(kc, k, n[k]),
				med(oth, k, n[k])
			if (k == "auto") auto_vs = med(vs, k, n[k])
		}
		print ""
		if (auto_vs > 0)
			printf "auto reaches %.0f %% of copy'"'"'s throughput (goal: at least 95 %%)\n", 100 * auto_vs
		# Rounds in which no run shared the machine with other
		# programs: the ratio without their noise.
		for (c = 1; c <= n["auto"]; c++) {
			rd = r["auto", c]; quiet = 1
			for (k in n) for (i = 1; i <= n[k]; i++)
				if (r[k, i] == rd && oth[k, i] >= 10) quiet = 0
			if (quiet && cb[rd]) q[++nq] = by["auto", c] / cb[rd]
		}
		if (nq) {
			for (i = 1; i <= nq; i++) qq["x", i] = q[i]
			printf "in the %d of %d rounds where other programs used under 10 %% of the CPUs in every run: auto at %.0f %% of copy (median)\n", nq, n["auto"], 100 * med(qq, "x", nq)
		} else {
			printf "no round ran without other programs'"'"' load (10 %% or more in some run)\n"
		}
	}' "$csv"
echo "# raw CSV: $csv"
