#!/usr/bin/env bash
# `make install` and `make uninstall`, the way packagers and users run them:
#  1. PREFIX=/usr DESTDIR=stage (a package build): every file lands under
#     stage, zcnet.pc names /usr (not the stage), uninstall removes them.
#  2. PREFIX=tmp/usr (a real, runnable install): a small program
#     (tests/install/hello.c) is compiled against the installed copy with
#     the flags pkg-config gives, linked dynamically (run through
#     LD_LIBRARY_PATH) and statically (--static), and run; the installed
#     tools run; uninstall leaves no file behind.
set -u
source "$(dirname "$0")/../lib/topology.sh"
cd "$ZC_TOP" || exit 1
command -v pkg-config >/dev/null || zc_skip "needs pkg-config"
command -v cc >/dev/null || zc_skip "needs a C compiler (cc)"
command -v make >/dev/null || zc_skip "needs make"

tmp=$(mktemp -d /tmp/zcnet-install.XXXXXX)
trap '_zc_cleanup; rm -rf "$tmp"' EXIT
VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)
SOVERSION=$(sed -n 's/^SOVERSION *:= *//p' Makefile)
[ -n "$VERSION" ] && [ -n "$SOVERSION" ] || zc_fail "cannot read VERSION/SOVERSION from the Makefile"
tools=$(cd tools && ls -d */ | tr -d /)
mans=$(cd man && ls *.[0-9])

# run_make ARGS...: make quietly, its output shown only when it fails.
# Always the plain build (build/), as a packager runs it: under `make
# SAN=1 check` the outer make hands SAN=1 down both in MAKEFLAGS and as an
# environment variable, and an installed ASan library cannot link the
# plain program below (nor statically at all). So the inner make starts
# from no make state of its own and is told SAN= explicitly.
run_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		make --no-print-directory -j"$(nproc)" SAN= "$@" \
		>"$tmp/make.log" 2>&1 ||
		zc_fail "make $*: $(tail -n 30 "$tmp/make.log")"
}

# check_installed ROOT PREFIX: ROOT is where PREFIX's files are on disk.
check_installed() {
	local root=$1 prefix=$2 lib=$1/lib f t m s
	[ -f "$lib/libzcnet.a" ] || zc_fail "missing $lib/libzcnet.a"
	[ -f "$lib/libzcnet.so.$VERSION" ] && [ ! -L "$lib/libzcnet.so.$VERSION" ] ||
		zc_fail "missing $lib/libzcnet.so.$VERSION (a file)"
	[ "$(readlink "$lib/libzcnet.so.$SOVERSION")" = "libzcnet.so.$VERSION" ] ||
		zc_fail "$lib/libzcnet.so.$SOVERSION is not a link to libzcnet.so.$VERSION"
	[ "$(readlink "$lib/libzcnet.so")" = "libzcnet.so.$SOVERSION" ] ||
		zc_fail "$lib/libzcnet.so is not a link to libzcnet.so.$SOVERSION"
	readelf -d "$lib/libzcnet.so.$VERSION" |
		grep -q "SONAME.*\[libzcnet.so.$SOVERSION\]" ||
		zc_fail "SONAME of libzcnet.so.$VERSION is not libzcnet.so.$SOVERSION"
	cmp -s "$root/include/zcnet.h" include/zcnet.h || zc_fail "header not installed"
	f=$lib/pkgconfig/zcnet.pc
	[ -f "$f" ] || zc_fail "missing $f"
	grep -qx "prefix=$prefix" "$f" ||
		zc_fail "$f: want prefix=$prefix, got: $(grep '^prefix=' "$f")"
	grep -qx "Version: $VERSION" "$f" || zc_fail "$f: wrong Version"
	for t in $tools; do
		[ -x "$root/bin/$t" ] || zc_fail "missing $root/bin/$t"
	done
	for m in $mans; do
		s=${m##*.}
		cmp -s "$root/share/man/man$s/$m" "man/$m" ||
			zc_fail "missing $root/share/man/man$s/$m"
	done
}

# check_gone DIR: no file or link left under DIR (empty directories may
# stay: make uninstall does not remove directories it may share).
check_gone() {
	local left
	left=$(find "$1" \( -type f -o -type l \) 2>/dev/null)
	[ -z "$left" ] || zc_fail "make uninstall left: $left"
}

# --- 1. a package build: DESTDIR staging ---------------------------------
run_make install PREFIX=/usr DESTDIR="$tmp/stage"
check_installed "$tmp/stage/usr" /usr
echo "ok   make install PREFIX=/usr DESTDIR=...: $(find "$tmp/stage" \( -type f -o -type l \) | wc -l) files and links"
run_make uninstall PREFIX=/usr DESTDIR="$tmp/stage"
check_gone "$tmp/stage"
echo "ok   make uninstall PREFIX=/usr DESTDIR=..."

# --- 2. a real install, used through pkg-config --------------------------
P=$tmp/usr
run_make install PREFIX="$P"
check_installed "$P" "$P"
echo "ok   make install PREFIX=$P"

export PKG_CONFIG_PATH=$P/lib/pkgconfig
pkg-config --exists zcnet || zc_fail "pkg-config does not find zcnet"
[ "$(pkg-config --modversion zcnet)" = "$VERSION" ] || zc_fail "pkg-config --modversion"
cflags=$(pkg-config --cflags zcnet)
libs=$(pkg-config --libs zcnet)
slibs=$(pkg-config --static --libs zcnet)
echo "     pkg-config: cflags '$cflags', libs '$libs', static libs '$slibs'"

# Compile outside the tree, so no -Iinclude or build/ can leak in.
cp tests/install/hello.c "$tmp/hello.c"
(cd "$tmp" && cc -Wall -Werror -o hello-dyn hello.c $cflags $libs) ||
	zc_fail "dynamic build against the installed zcnet failed"
readelf -d "$tmp/hello-dyn" | grep -q "NEEDED.*\[libzcnet.so.$SOVERSION\]" ||
	zc_fail "hello-dyn does not need libzcnet.so.$SOVERSION"
LD_LIBRARY_PATH=$P/lib ldd "$tmp/hello-dyn" | grep -q "libzcnet.so.$SOVERSION => $P/lib/" ||
	zc_fail "hello-dyn does not load the installed libzcnet: $(LD_LIBRARY_PATH=$P/lib ldd "$tmp/hello-dyn")"
out=$(LD_LIBRARY_PATH=$P/lib "$tmp/hello-dyn") || zc_fail "hello-dyn failed: $out"
grep -q "^zcnet $VERSION (header $VERSION)$" <<<"$out" || zc_fail "hello-dyn said: $out"
echo "ok   dynamic: $(head -n 1 <<<"$out")"
echo "     $(sed -n 2p <<<"$out")"

(cd "$tmp" && cc -Wall -Werror -static -o hello-static hello.c $cflags $slibs) ||
	zc_fail "static build (pkg-config --static) failed"
readelf -d "$tmp/hello-static" 2>/dev/null | grep -q NEEDED &&
	zc_fail "hello-static still needs shared libraries"
out=$(env -u LD_LIBRARY_PATH "$tmp/hello-static") || zc_fail "hello-static failed: $out"
grep -q "^zcnet $VERSION (header $VERSION)$" <<<"$out" || zc_fail "hello-static said: $out"
echo "ok   static: $(head -n 1 <<<"$out")"

for t in $tools; do
	"$P/bin/$t" --version >/dev/null 2>&1 || zc_fail "installed $t --version failed"
done
echo "ok   installed tools run:" $tools

run_make uninstall PREFIX="$P"
check_gone "$P"
echo "ok   make uninstall PREFIX=$P"
