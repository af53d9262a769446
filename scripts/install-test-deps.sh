#!/bin/sh
# install-test-deps.sh: install what the end-to-end suite (e2e/) needs on
# Debian 12: the reference netstat (net-tools), ip netns (iproute2),
# setpriv and timeout (util-linux, coreutils), sysctl (procps), tmux
# (a real terminal for bpfnetstat watch), nft (nftables, a real NAT for
# -M), strace (to show that the netstat drop-in makes no bpf() call) and
# tcpdump (the wire's truth of a failed connect's local port), make, man-db
# and bash-completion (make install, make deb, the manual pages rendered with
# man -l and the completion scripts run in a real bash), and prometheus (a
# real server and promtool for the agent's tests; its system service is
# never started by the tests, which run the binary with their own
# configuration; in a CI container the package's service does not start
# either).
#
# Idempotent and quiet when everything is present; runs apt-get update only
# when a package is missing. Needs root.
set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

packages="net-tools iproute2 util-linux coreutils procps tmux nftables strace tcpdump make man-db bash-completion prometheus"

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-test-deps.sh: missing packages:$missing; run as root to install them" >&2
	exit 1
fi

echo "install-test-deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -qq --no-install-recommends $missing >/dev/null

for tool in /usr/bin/netstat ip setpriv timeout sysctl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "install-test-deps.sh: $tool still missing after installing$missing" >&2
		exit 1
	fi
done
