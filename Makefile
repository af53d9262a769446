# bpfnetstat developer targets. `make help` lists them.
GO ?= go

.PHONY: help build test unit e2e bench bench-churn bench-nginx generate generate-check lint

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

build: ## build bin/bpfnetstat and its netstat symlink
	$(GO) build -o bin/bpfnetstat ./cmd/bpfnetstat
	ln -sf bpfnetstat bin/netstat

test: ## the whole suite: installs test deps, vet, fuzz, unit (race), end-to-end
	./scripts/test.sh

unit: ## unit tests only, with the race detector
	$(GO) test -race $$($(GO) list ./... | grep -v /e2e)

e2e: ## the differential end-to-end suite against the real netstat (root)
	$(GO) test -count=1 ./e2e/...

bench: ## Go benchmarks (parsers, renderers, table), then bpfnetstat vs netstat vs ss (root)
	$(GO) test -run '^$$' -bench . -benchmem ./snapshot/... ./output/... ./owners/... ./merged/... ./tracer/...
	./scripts/bench-snapshot.sh $(N)

bench-churn: ## tracer cost at maximum connection churn: off, life, trace, bpftrace reference (root; SECS, ROUNDS)
	./scripts/bench-churn.sh $(SECS) $(ROUNDS)

bench-nginx: ## nginx under ab: off, life, bpftrace reference, and who owns each connection (root; SECS)
	./scripts/bench-nginx.sh $(SECS)

generate: ## regenerate the BPF objects (needs clang: scripts/install-bpf-deps.sh)
	$(GO) generate ./tracer/...

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '_bpfel.go$$'))" || { gofmt -l .; exit 1; }
	$(GO) vet ./...

generate-check: ## fail if the committed BPF objects differ from a fresh generate
	./scripts/check-generate.sh
