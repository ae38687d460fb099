#!/usr/bin/env bash
# The receive API's contract on real sockets (rx_api.c): bad options and
# bad fds give -EINVAL, view misuse gives -EINVAL, all slots held gives
# -ENOBUFS, end of stream reads 0. Loopback 127.0.0.1 only; no root needed.
set -u
exe=${ZC_BUILD:-$(dirname "$0")/../../build}/tests/rx_api
if [ ! -x "$exe" ]; then
	echo "FAIL: $exe missing: run make tests" >&2
	exit 1
fi
exec "$exe"
