#!/usr/bin/env bash
# Renders the benchmarks' CSV into pictures with gnuplot (Debian:
# gnuplot-nox): SVG and PNG into docs/img/.
#
#   bench/plot.sh [RX_CSV] [TX_CSV]
#     RX_CSV  from bench/rx.sh (default build/bench/rx.csv):
#             rx_cpu.{svg,png}, receiving thread's CPU per MB against read
#             size, one line per receive mode (median per chunk).
#     TX_CSV  from bench/tx.sh (default build/bench/tx.csv):
#             tx_cpu.{svg,png}, sending thread's CPU per MiB by protocol
#             and send mode (median of the veth rounds).
# A CSV that does not exist is skipped. Medians are computed here from the
# rows, so a picture shows exactly what the CSV holds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
rx_csv=${1:-$top/build/bench/rx.csv}
tx_csv=${2:-$top/build/bench/tx.csv}
out=$top/docs/img
command -v gnuplot >/dev/null || {
	echo "bench/plot.sh: needs gnuplot (apt-get install gnuplot-nox)" >&2
	exit 1
}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# median KEY VALUE lines on stdin -> "KEY median" lines
median_by_key() {
	sort -k1,1 -k2,2g | awk '
		function med() { return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
		function flush() { if (n) print key, med() }
		$1 != key { flush(); key = $1; n = 0 }
		{ v[++n] = $2 }
		END { flush() }'
}

render() { # NAME SCRIPT: writes NAME.svg and NAME.png
	gnuplot -e "set terminal svg size 720,420 font 'sans,12' noenhanced; set output '$out/$1.svg'; $2"
	gnuplot -e "set terminal pngcairo size 720,420 font 'sans,10' noenhanced; set output '$out/$1.png'; $2" 2>/dev/null ||
		gnuplot -e "set terminal png size 720,420 noenhanced; set output '$out/$1.png'; $2"
}

if [ -f "$rx_csv" ]; then
	# mode,chunk,round,bytes,mapped_bytes,seconds,usec_per_mb,gbit,verified
	modes=$(awk -F, 'NR > 1 { print $1 }' "$rx_csv" | sort -u)
	plots=
	for m in $modes; do
		awk -F, -v m="$m" 'NR > 1 && $1 == m { print $2, $7 }' "$rx_csv" |
			median_by_key | sort -n >"$tmp/rx_$m.dat"
		plots="$plots${plots:+, }'$tmp/rx_$m.dat' using (\$1/1024):2 with linespoints lw 2 title '$m'"
	done
	render rx_cpu "set title 'Receive: receiving thread CPU per MB (veth, MSG_ZEROCOPY sender)';
		set xlabel 'read size (KiB, log scale)'; set ylabel 'usec per MB (median)';
		set logscale x 2; set grid; set key top right; set yrange [0:*];
		plot $plots"
	echo "wrote $out/rx_cpu.svg and .png from $rx_csv"
fi

if [ -f "$tx_csv" ]; then
	# section,proto,mode,round,...,usec_per_mib (col 8),...
	awk -F, 'NR > 1 && $1 == "veth" && $8 > 0 { print $2 "/" $3, $8 }' \
		"$tx_csv" | median_by_key >"$tmp/tx.dat"
	protos=$(cut -d/ -f1 "$tmp/tx.dat" | sort -u)
	modes=$(cut -d' ' -f1 "$tmp/tx.dat" | cut -d/ -f2 | sort -u)
	# One row per protocol, one column per mode.
	{
		printf 'proto'
		for m in $modes; do printf ' %s' "$m"; done
		echo
		for p in $protos; do
			printf '%s' "$p"
			for m in $modes; do
				v=$(awk -v k="$p/$m" '$1 == k { print $2 }' "$tmp/tx.dat")
				printf ' %s' "${v:-0}"
			done
			echo
		done
	} >"$tmp/tx_table.dat"
	n=$(echo "$modes" | wc -w)
	render tx_cpu "set title 'Send: sending thread CPU per MiB (veth; the kernel copies on local delivery)';
		set ylabel 'usec per MiB (median)'; set style data histograms;
		set style histogram clustered gap 1; set style fill solid 0.8 border -1;
		set key top left; set grid ytics; set yrange [0:*];
		plot for [i=2:$((n + 1))] '$tmp/tx_table.dat' using i:xtic(1) title columnheader(i)"
	echo "wrote $out/tx_cpu.svg and .png from $tx_csv"
fi
