#!/usr/bin/env bash
# Installs what regenerating the BPF objects needs (clang, llvm, libbpf
# headers, bpftool) on Debian; idempotent, quiet when everything is there.
set -euo pipefail
need=()
for pkg in clang llvm libbpf-dev bpftool; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
echo "install-bpf-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
