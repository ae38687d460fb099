#!/usr/bin/env bash
# Bad command lines, generated from each tool's own --help: every option
# that takes a value is given an empty one, a word, a negative number,
# trailing garbage and a number too large for any field; plus unknown long
# and short options, a missing value, stray arguments. Each must exit 2
# at once (not run, not crash), print nothing on stdout, and say on stderr
# in one line starting "prog: " what was wrong, followed by one hint line.
# Inside a namespace of its own: a command line wrongly accepted can only
# reach loopback there (and is then killed after 5 s).
set -u
. "$(dirname "$0")/../lib/topology.sh"

ZCPERF=$ZC_BUILD/zcperf
ZCNC=$ZC_BUILD/zcnc
for b in "$ZCPERF" "$ZCNC"; do
	[ -x "$b" ] || zc_fail "$b missing: run make"
done
zc_require_root
zc_loopback_ns

tmp=$(mktemp -d /tmp/zc-harden-cli.XXXXXX)
prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "rm -rf '$tmp'; $prev_trap" EXIT
runs=0 failed=0

# bad PROG ARGS...: the command line must be refused as described above.
bad() {
	local prog=$1 name rc lines
	name=$(basename "$prog")
	shift
	runs=$((runs + 1))
	in_lo timeout 5 "$prog" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ $rc -ne 2 ]; then
		failed=$((failed + 1))
		echo "FAIL $name $(printf "'%s' " "$@"): exit $rc, want 2" \
			"$([ $rc -eq 124 ] && echo '(it ran: the bad value was accepted)')"
		sed 's/^/     /' "$tmp/err" | head -n 3
	elif [ -s "$tmp/out" ] || [ "$lines" -ne 2 ] ||
		! head -n 1 "$tmp/err" | grep -q "^$name: ."; then
		failed=$((failed + 1))
		echo "FAIL $name $(printf "'%s' " "$@"): exit 2, but stdout" \
			"$(wc -c <"$tmp/out") bytes, stderr $lines lines:"
		sed 's/^/     /' "$tmp/err" | head -n 4
	fi
}

# Options that take a value, as --help lists them: "-p, --port PORT",
# "--rx MODE", "--rx=MODE".
value_opts() {
	"$1" --help | grep -oE '^ +(-[A-Za-z], )?--[a-z][a-z0-9-]*[ =][A-Z][A-Z_]*' |
		sed -E 's/^ +(-[A-Za-z], )?(--[a-z0-9-]+).*/\2/' | sort -u
}

values=("" "bogus" "-1" "1x" "18446744073709551617" "4K4")

for opt in $(value_opts "$ZCPERF"); do
	for v in "${values[@]}"; do
		# The side an option belongs to; a misplaced one is refused too.
		bad "$ZCPERF" -c 127.0.0.1 "$opt" "$v"
		bad "$ZCPERF" -s "$opt=$v"
	done
	bad "$ZCPERF" -c 127.0.0.1 "$opt"
done
bad "$ZCPERF" --no-such-option
bad "$ZCPERF" -Z
bad "$ZCPERF" -c
bad "$ZCPERF" -c 127.0.0.1 stray
bad "$ZCPERF" -s -c 127.0.0.1
bad "$ZCPERF" --help=yes

for opt in $(value_opts "$ZCNC"); do
	for v in "${values[@]}"; do
		# An address: any word may be a host name, so a bad one is a
		# runtime error (resolve, exit 1), not a usage error.
		[ "$opt" = --source ] && continue
		bad "$ZCNC" "$opt=$v" 127.0.0.1 9
		bad "$ZCNC" -l "$opt=$v" 127.0.0.1 9
	done
	bad "$ZCNC" 127.0.0.1 9 "$opt"
done
bad "$ZCNC" --no-such-option 127.0.0.1 9
bad "$ZCNC" -Z 127.0.0.1 9
bad "$ZCNC" 127.0.0.1
bad "$ZCNC" 127.0.0.1 9 stray
bad "$ZCNC" 127.0.0.1 99999
bad "$ZCNC" 127.0.0.1 port
bad "$ZCNC" -l -p 0x10
bad "$ZCNC" --send --recv 127.0.0.1 9

[ $failed -eq 0 ] || zc_fail "$failed of $runs bad command lines were not refused cleanly"
echo "$runs bad command lines refused with exit 2, one line and a hint"
