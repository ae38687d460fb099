# Test topologies, sourced by integration scripts. Everything created here
# lives in network namespaces named zct-<pid>-*, is removed by an EXIT trap,
# and carries traffic only between addresses inside those namespaces.
#
#   zc_require_root             exit 77 unless we may create namespaces
#   zc_veth_pair [MTU]          two namespaces joined by a veth pair
#                               (MTU 4168 aligns IPv6; IPv4 needs MSS 4108):
#                               $ZC_NS_A ($ZC_A4, $ZC_A6) <-> $ZC_NS_B ($ZC_B4, $ZC_B6)
#                               MTU default 4168 = 4096 payload + 40 IPv6
#                               + 32 TCP (with timestamps): page-aligned
#                               segments, mappable on the receiver
#   zc_loopback_ns              one namespace with lo up: $ZC_NS_LO
#   in_a CMD... / in_b CMD... / in_lo CMD...  run inside a namespace
#   zc_skip "why" / zc_fail "why"

ZC_TOP=${ZC_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ZC_BUILD=${ZC_BUILD:-$ZC_TOP/build}
_zc_ns_list=()

zc_skip() { echo "skipped: $*"; exit 77; }
zc_fail() { echo "FAIL: $*" >&2; exit 1; }

_zc_cleanup() {
	local ns
	for ns in "${_zc_ns_list[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}
trap _zc_cleanup EXIT
trap 'exit 130' INT TERM

zc_require_root() {
	[ "$(id -u)" -eq 0 ] || zc_skip "needs root for network namespaces"
	command -v ip >/dev/null || zc_skip "needs iproute2 (ip)"
	local probe="zct-$$-probe"
	ip netns add "$probe" 2>/dev/null || zc_skip "cannot create network namespaces here"
	ip netns del "$probe"
}

_zc_ns_add() {
	ip netns add "$1" || zc_fail "ip netns add $1"
	_zc_ns_list+=("$1")
	ip -n "$1" link set lo up
}

zc_veth_pair() {
	local mtu=${1:-4168}
	ZC_NS_A="zct-$$-a" ZC_NS_B="zct-$$-b"
	ZC_A4=10.231.0.1 ZC_B4=10.231.0.2 ZC_A6=fd00:231::1 ZC_B6=fd00:231::2
	_zc_ns_add "$ZC_NS_A"
	_zc_ns_add "$ZC_NS_B"
	ip link add zcva netns "$ZC_NS_A" type veth peer name zcvb netns "$ZC_NS_B" ||
		zc_fail "cannot create veth pair"
	ip -n "$ZC_NS_A" link set zcva mtu "$mtu" up
	ip -n "$ZC_NS_B" link set zcvb mtu "$mtu" up
	ip -n "$ZC_NS_A" addr add "$ZC_A4/24" dev zcva
	ip -n "$ZC_NS_B" addr add "$ZC_B4/24" dev zcvb
	ip -n "$ZC_NS_A" addr add "$ZC_A6/64" dev zcva nodad
	ip -n "$ZC_NS_B" addr add "$ZC_B6/64" dev zcvb nodad
	export ZC_NS_A ZC_NS_B ZC_A4 ZC_B4 ZC_A6 ZC_B6
}

zc_loopback_ns() {
	ZC_NS_LO="zct-$$-lo"
	_zc_ns_add "$ZC_NS_LO"
	export ZC_NS_LO
}

in_a() { ip netns exec "$ZC_NS_A" "$@"; }
in_b() { ip netns exec "$ZC_NS_B" "$@"; }
in_lo() { ip netns exec "$ZC_NS_LO" "$@"; }
