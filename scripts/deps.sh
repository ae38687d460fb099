#!/usr/bin/env bash
# Installs the Debian 12 packages zcnet needs to build and test, when they
# are missing. Called by `make deps` (and so by `make demo` / `make check`).
set -eu
pkgs="gcc make libc6-dev liburing-dev libcmocka-dev pkg-config iproute2 jq
      netcat-openbsd socat mandoc clang libclang-rt-14-dev"
[ "${1:-}" = "--list" ] && { echo $pkgs; exit 0; }
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "zcnet: missing Debian packages:$missing" >&2
	echo "hint: sudo apt-get install$missing" >&2
	exit 1
fi
echo "zcnet: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
