#!/usr/bin/env bash
# Builds the message-reader fuzz target (tests/fuzz/fuzz_msg.c) with
# libFuzzer + ASan + UBSan into build/fuzz/ and runs it for SECONDS
# (default 30) starting from the seeds in tests/fuzz/corpus/.
#
#   tests/fuzz/run.sh [SECONDS]
#
# Exit 0: no crash; 1: a crash, leak, timeout or failed invariant (the
# input is saved in tests/fuzz/crashes/; re-run it with
# build/fuzz/fuzz_msg FILE); 77: clang with libFuzzer is missing.
# New inputs the fuzzer finds go to a temporary directory, not into the
# committed corpus; regenerate the seeds with tests/fuzz/make_corpus.py.
set -u
secs=${1:-30}
case "$secs" in
'' | *[!0-9]*) echo "usage: tests/fuzz/run.sh [SECONDS]" >&2; exit 2 ;;
esac
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top" || exit 1
out=build/fuzz
mkdir -p "$out" tests/fuzz/crashes

CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null || {
	echo "skipped: $CLANG not installed (apt-get install clang)"
	exit 77
}
probe=$(mktemp -d /tmp/zcnet-fuzz.XXXXXX)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' \
	>"$probe/p.c"
"$CLANG" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null || {
	echo "skipped: $CLANG cannot link libFuzzer (-fsanitize=fuzzer)"
	exit 77
}

# Only the reader is instrumented; the rest of the library it links
# against (the zc_rx glue needs the receive engine, src/rx*.c, which needs
# sys.c) is built plainly with the project's compiler.
CC=${CC:-cc}
flags="-std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc -g -O1"
objs=()
set -e
for f in src/sys.c src/rx*.c; do
	o=$out/$(basename "$f" .c).o
	"$CC" $flags -c "$f" -o "$o"
	objs+=("$o")
done
"$CLANG" $flags -Wall -Wextra -Wno-unused-parameter \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	tests/fuzz/fuzz_msg.c src/msg.c "${objs[@]}" -o "$out/fuzz_msg"
set +e

mkdir -p "$probe/corpus"
# error/timeout exit codes: libFuzzer's default (77) would read as "skipped".
"$out/fuzz_msg" -max_total_time="$secs" -max_len=4096 -timeout=10 \
	-rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 \
	-dict=tests/fuzz/msg.dict -artifact_prefix=tests/fuzz/crashes/ \
	-print_final_stats=1 "$probe/corpus" tests/fuzz/corpus
rc=$?
[ $rc -eq 77 ] && rc=1
if [ $rc -ne 0 ]; then
	echo "fuzz_msg failed (exit $rc); inputs in tests/fuzz/crashes/" >&2
	exit "$rc"
fi
echo "fuzz_msg: no crash in ${secs}s, $(ls "$probe/corpus" | wc -l) new inputs"
