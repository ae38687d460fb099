#!/usr/bin/env bash
# The integration programs under valgrind's memcheck (no invalid access,
# no uninitialised value used, no leak), each a shorter run than its own
# test: rx_peer both ends in every receive mode (and a reset), tx_peer
# pairs on every send backend (and resets), msg_peer both ends, rx_pool,
# and harden_leaks' connection cycles. Runs the normal build (valgrind and ASan do not mix: an ASan
# build is skipped, 77), inside a namespace of its own over loopback.
#
# Valgrind cannot know that getsockopt(TCP_ZEROCOPY_RECEIVE) makes the
# kernel write into the copybuf whose address travels inside the option
# struct; tests/valgrind_wrap.c, built here and preloaded, tells it
# exactly which bytes were written (see that file). tests/valgrind.supp
# holds the suppressions, each with its reason.
set -u
. "$(dirname "$0")/../lib/topology.sh"

command -v valgrind >/dev/null ||
	zc_skip "valgrind not installed (apt-get install valgrind)"
T=$ZC_BUILD/tests
for b in rx_peer tx_peer msg_peer rx_pool harden_leaks; do
	[ -x "$T/$b" ] || zc_fail "$T/$b missing: run make tests"
done
grep -q __asan_init "$T/rx_peer" &&
	zc_skip "$ZC_BUILD is an ASan build: valgrind needs the plain one"
zc_require_root
zc_loopback_ns

tmp=$(mktemp -d /tmp/zc-harden-valgrind.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
cc -shared -fPIC -O1 -Wall -o "$tmp/vgwrap.so" "$ZC_TOP/tests/valgrind_wrap.c" ||
	zc_fail "cannot build tests/valgrind_wrap.c (needs valgrind's headers)"

VG=(env LD_PRELOAD="$tmp/vgwrap.so" valgrind -q --error-exitcode=99
	--leak-check=full --show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible
	--suppressions="$ZC_TOP/tests/valgrind.supp")
port=7700 runs=0 failed=0

fail() {
	failed=$((failed + 1))
	echo "FAIL $*"
}

# report NAME RC LOG...: exit 99 is valgrind's verdict, others the program's.
report() {
	local name=$1 rc=$2
	shift 2
	runs=$((runs + 1))
	if [ "$rc" -eq 0 ]; then
		echo "ok   $name"
	else
		fail "$name (exit $rc$([ "$rc" -eq 99 ] && echo ': valgrind found errors'))"
		cat "$@" | sed 's/^/     /' | tail -n 60
	fi
}

# pair NAME PROG RECV_ARGS... -- SEND_ARGS...: both ends under valgrind.
pair() {
	local name=$1 prog=$2 r=() s=() rpid rrc src
	shift 2
	while [ "$1" != "--" ]; do r+=("$1"); shift; done
	shift
	s=("$@")
	port=$((port + 1))
	in_lo "${VG[@]}" "$T/$prog" recv --listen 127.0.0.1 $port \
		--timeout 120 "${r[@]}" >"$tmp/recv" 2>&1 &
	rpid=$!
	in_lo "${VG[@]}" "$T/$prog" send --connect 127.0.0.1 $port \
		--timeout 120 "${s[@]}" >"$tmp/send" 2>&1
	src=$?
	[ $src -eq 0 ] || kill "$rpid" 2>/dev/null
	wait "$rpid"
	rrc=$?
	[ $rrc -ne 0 ] && src=$rrc
	report "$name" $src "$tmp/recv" "$tmp/send"
}

for mode in zerocopy copy auto; do
	pair "rx_peer $mode, 8 MiB from a MSG_ZEROCOPY sender" rx_peer \
		--mode $mode --bytes 8M --mss 4108 --hold 3 --seed 7 -- \
		--bytes 8M --mss 4108 --msg-zerocopy --write-sizes odd
done
pair "rx_peer zerocopy, reset mid-stream" rx_peer --mode zerocopy \
	--bytes 8M --mss 4108 --expect-error ECONNRESET -- --bytes 8M \
	--mss 4108 --msg-zerocopy --reset-at 3M
pair "msg_peer, 2 rounds, zero-copy sends" msg_peer --rounds 2 --mss 4108 \
	--hold 3 -- --rounds 2 --mss 4108 --msg-zerocopy

backends="copy msg_zerocopy auto"
"$T/tx_peer" probe | grep -qx 'uring_send_zc 1' &&
	backends="$backends uring uring_zc"
for b in $backends; do
	port=$((port + 1))
	"${VG[@]}" "$T/tx_peer" pair --connect 127.0.0.1 --port $port \
		--rx-ns "$ZC_NS_LO" --tx-ns "$ZC_NS_LO" --backend $b \
		--bytes 16M --overwrite >"$tmp/tx" 2>&1
	report "tx_peer $b, 16 MiB" $? "$tmp/tx"
done

for b in msg_zerocopy uring_zc; do
	case " $backends " in *" $b "*) ;; *) continue ;; esac
	port=$((port + 1))
	"${VG[@]}" "$T/tx_peer" pair --connect ::1 --port $port \
		--rx-ns "$ZC_NS_LO" --tx-ns "$ZC_NS_LO" --backend $b \
		--bytes 64M --reset-after 4M --overwrite --expect-send-error \
		>"$tmp/tx" 2>&1
	report "tx_peer $b, peer reset after 4 MiB" $? "$tmp/tx"
done

in_lo "${VG[@]}" "$T/rx_pool" zerocopy >"$tmp/pool" 2>&1
report "rx_pool zerocopy" $? "$tmp/pool"

in_lo "${VG[@]}" "$T/harden_leaks" --cycles 120 --msg-cycles 30 --warmup 5 \
	--no-maps --no-rss --timeout 150 >"$tmp/leaks" 2>&1
report "harden_leaks, 120 cycles" $? "$tmp/leaks"

[ $failed -eq 0 ] || zc_fail "$failed of $runs programs failed under valgrind"
echo "$runs programs clean under valgrind"
