#!/usr/bin/env bash
# Static analysis of the library (src/), the tools (tools/) and the examples:
# clang-tidy with the repository's .clang-tidy and cppcheck's warning,
# performance and portability checks. Prints each finding as
# file:line: message and exits 1 when there is any, 0 when clean, 77 when
# a tool is missing.
#
#   scripts/lint.sh              both analysers, every file
#   scripts/lint.sh tidy|cppcheck [FILE...]
#
# Debian packages: clang-tidy, cppcheck (not in `make deps`: CI installs
# them). Not run by `make check`; .ci/run runs it as its first stage, and
# any finding fails CI. Fix the code where a small change will do; else
# silence one line with its reason, `/* NOLINTNEXTLINE(check): why */` or
# `// cppcheck-suppress id` above it, never a whole check family. About
# 1 to 2 minutes on an idle 2-vCPU VM, 3.5 on a busy one.
set -u
cd "$(dirname "$0")/.." || exit 1
what=${1:-all}
[ $# -gt 0 ] && shift
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(src/*.c tools/*/*.c examples/*.c)
jobs=$(nproc 2>/dev/null || echo 2)
rc=0

if [ "$what" = all ] || [ "$what" = tidy ]; then
	command -v clang-tidy >/dev/null || {
		echo "skipped: clang-tidy not installed (apt-get install clang-tidy)"
		exit 77
	}
	# Each file with the flags the Makefile gives it (a tool also sees
	# its own directory).
	out=$(printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c '
		fl="-std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc"
		case $1 in tools/*/*) fl="$fl -I${1%/*}" ;; esac
		clang-tidy --quiet "$1" -- $fl 2>/dev/null' _ {} |
		grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' |
		sed "s|^$PWD/||" | sort -u)
	if [ -n "$out" ]; then
		echo "$out"
		echo "clang-tidy: $(echo "$out" | wc -l) findings"
		rc=1
	else
		echo "clang-tidy: clean (${#files[@]} files)"
	fi
fi

if [ "$what" = all ] || [ "$what" = cppcheck ]; then
	command -v cppcheck >/dev/null || {
		echo "skipped: cppcheck not installed (apt-get install cppcheck)"
		exit 77
	}
	incs=(-Iinclude -Isrc)
	for d in tools/*/; do incs+=("-I${d%/}"); done
	out=$(cppcheck --quiet --enable=warning,performance,portability \
		--std=c11 -D_GNU_SOURCE -D__linux__ -D__x86_64__ "${incs[@]}" \
		--suppress=missingIncludeSystem --inline-suppr -j "$jobs" \
		--template='{file}:{line}: {severity} ({id}): {message}' \
		--error-exitcode=1 "${files[@]}" 2>&1)
	if [ $? -ne 0 ] || [ -n "$out" ]; then
		echo "$out"
		echo "cppcheck: $(echo "$out" | grep -c ': ') findings"
		rc=1
	else
		echo "cppcheck: clean (${#files[@]} files)"
	fi
fi
exit $rc
