#!/usr/bin/env bash
# Man pages: `mandoc -T lint -W warning` finds nothing in man/*, every tool
# under tools/ has a section-1 page and the library its section-3 page, and
# every long option `zcnc --help` lists is documented in zcnc(1).
set -u
source "$(dirname "$0")/../lib/topology.sh"
cd "$ZC_TOP" || exit 1
command -v mandoc >/dev/null || zc_skip "needs mandoc (apt-get install mandoc)"

pages=(man/*.[0-9])
[ -e "${pages[0]}" ] || zc_fail "no man pages in man/"
out=$(mandoc -T lint -W warning "${pages[@]}" 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] || zc_fail "mandoc -T lint (exit $rc):
$out"
echo "ok   mandoc -T lint -W warning: ${pages[*]}"

for t in tools/*/; do
	t=$(basename "$t")
	[ -f "man/$t.1" ] || zc_fail "tools/$t has no man/$t.1"
done
[ -f man/zcnet.3 ] || zc_fail "no man/zcnet.3"
echo "ok   a page for every tool and for the library"

if [ -x "$ZC_BUILD/zcnc" ]; then
	text=$(mandoc -T ascii man/zcnc.1 | col -bx)
	for opt in $("$ZC_BUILD/zcnc" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "$opt" <<<"$text" || zc_fail "zcnc(1) lacks $opt"
	done
	for code in 0 1 2 3 130; do
		grep -Eq "^ +$code +[A-Z]" <<<"$text" || zc_fail "zcnc(1) lacks exit status $code"
	done
	echo "ok   zcnc(1) documents every option and exit status of zcnc --help"
fi
