#!/usr/bin/env bash
# Regenerates the committed BPF objects (bpf2go) in a scratch copy of the
# tree and fails if anything differs: the committed *_bpfel.{go,o} must be
# exactly what the committed C sources produce.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r go.mod go.sum bpf tracer "$scratch"/
(cd "$scratch/tracer" && go generate ./...)
status=0
for f in tracer/*_bpfel.go tracer/*_bpfel.o; do
	if ! cmp -s "$f" "$scratch/$f"; then
		echo "check-generate: $f differs from what 'make generate' produces" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "check-generate: BPF objects are up to date"
exit $status
