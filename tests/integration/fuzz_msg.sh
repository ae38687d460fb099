#!/usr/bin/env bash
# A 30-second run of the message-reader fuzz target from its committed
# corpus (tests/fuzz/run.sh). Skipped (77) where clang's libFuzzer is
# missing; fails on any crash, leak or broken invariant.
set -u
cd "$(dirname "$0")/../.." || exit 1
exec tests/fuzz/run.sh "${ZC_FUZZ_SECONDS:-30}"
