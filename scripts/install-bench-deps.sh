#!/bin/sh
# install-bench-deps.sh: install what the tracer-cost benchmarks need on
# Debian 12: bpftrace (the reference tracer of bench-churn.sh and
# bench-nginx.sh), nginx and ab (apache2-utils) for bench-nginx.sh, plus
# ip netns (iproute2) and sysctl (procps).
#
# Idempotent and quiet when everything is present; runs apt-get update only
# when a package is missing. Needs root to install.
#
# The benchmarks run their own nginx with their own configuration in a
# private network namespace; installing the package must not start the
# system's nginx service. When the machine has no policy-rc.d, one that
# refuses every service start is put in place for the install and removed
# afterwards.
set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

packages="bpftrace nginx apache2-utils iproute2 procps"

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
	echo "install-bench-deps.sh: missing packages:$missing; run as root to install them" >&2
	exit 1
fi

echo "install-bench-deps.sh: installing$missing" >&2
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# installed by bpfnetstat install-bench-deps.sh for one apt-get run\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
cleanup() {
	if [ -n "$made_policy" ]; then
		rm -f "$policy"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -qq --no-install-recommends $missing >/dev/null

for tool in bpftrace nginx ab ip sysctl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "install-bench-deps.sh: $tool still missing after installing$missing" >&2
		exit 1
	fi
done
