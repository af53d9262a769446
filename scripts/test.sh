#!/usr/bin/env bash
# Runs bpfnetstat's whole test suite: installs what the tests need (the real
# net-tools netstat and iproute2 to compare against), then formatting and
# vet checks, the unit tests under the race detector, a short run of every
# fuzz target, and the end-to-end suites (which need root; they skip with a
# reason otherwise, and fail instead when BPFNETSTAT_REQUIRE_ROOT=1).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
	scripts/install-test-deps.sh
	scripts/install-bpf-deps.sh
else
	echo "test.sh: not root: not installing test dependencies; root-only tests will skip" >&2
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '_bpfel.go$' || true)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" $unformatted >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== cross-build (arm64; riscv64, where the tracer refuses to load)"
GOARCH=arm64 go build ./...
GOARCH=arm64 go vet ./...
GOARCH=riscv64 go build ./...

echo "== the bench's build without the accept hook (scripts/bench-churn.sh, noaccept)"
go vet -tags bpfnetstat_noaccept ./internal/cmd/trace/

echo "== generated BPF objects"
if command -v clang >/dev/null; then
	scripts/check-generate.sh
elif [ "${BPFNETSTAT_REQUIRE_ROOT:-}" = 1 ]; then
	echo "clang missing: cannot check the generated BPF objects" >&2
	exit 1
else
	echo "clang missing: skipping the generated-objects check" >&2
fi

echo "== fuzz (short)"
# A budget in executions, not seconds: Go 1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" when a duration -fuzztime
# expires while a worker is mid-call (golang/go#75804, fixed in Go 1.27).
# A count has no deadline to race; -timeout still bounds a real hang.
fuzztime=${FUZZTIME:-200000x}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz $pkg $target"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -timeout=5m "$pkg"
	done
done

echo "== unit tests (race)"
# The tracer's tests check the kernel's whole list of BPF objects named as
# its own; they run alone, not beside the packages that open tracers.
go test -race -count=1 ./tracer/
go test -race -count=1 $(go list ./... | grep -v -e /e2e -e '/tracer$')

echo "== end-to-end"
go test -count=1 -timeout 50m ./e2e/...
