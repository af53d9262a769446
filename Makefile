# bpfnetstat developer targets. `make help` lists them.
GO ?= go

# Installation layout (make install PREFIX=/usr DESTDIR=/tmp/root).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/bpfnetstat
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
# INSTALL_NETSTAT=1 also installs the netstat symlink and its completions.
INSTALL_NETSTAT ?= 0
UNIT := deploy/systemd/bpfnetstat-agent.service
# Where build, man, completions and deb write (the tests pass their own).
BUILDDIR ?= bin

VERSION ?= $(shell ./scripts/version.sh)
# Debian sorts ~ before anything: 0.1.0~dev comes before 0.1.0.
DEB_VERSION ?= $(subst -,~,$(VERSION))
DEB_ARCH ?= $(shell $(GO) env GOARCH)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH
LDFLAGS := -X github.com/bpfnetstat/bpfnetstat/internal/cmdutil.Version=$(VERSION)

.PHONY: help build test unit e2e bench bench-churn bench-nginx profile-bpf generate generate-check lint
.PHONY: man completions install uninstall deb

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

build: ## build bin/bpfnetstat and its netstat symlink
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BUILDDIR)/bpfnetstat ./cmd/bpfnetstat
	ln -sf bpfnetstat $(BUILDDIR)/netstat

man: ## the manual pages, bin/man/man8/*.8, from the command tree (scripts/gendocs)
	rm -rf $(BUILDDIR)/man
	$(GO) run -ldflags '$(LDFLAGS)' ./scripts/gendocs -man $(BUILDDIR)/man/man8

completions: ## bash, zsh and fish completion scripts for bpfnetstat and netstat under bin/completions
	rm -rf $(BUILDDIR)/completions
	$(GO) run ./scripts/gendocs -completions $(BUILDDIR)/completions

install: build man completions ## install into $(DESTDIR)$(PREFIX) (PREFIX=/usr/local; INSTALL_NETSTAT=1 adds the netstat symlink)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(BUILDDIR)/bpfnetstat $(DESTDIR)$(BINDIR)/bpfnetstat
	install -m 0644 $(BUILDDIR)/man/man8/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/json.md docs/bpfnetstat.schema.json $(DESTDIR)$(DOCDIR)/
	install -m 0644 $(BUILDDIR)/completions/bash/bpfnetstat $(DESTDIR)$(BASHCOMPDIR)/bpfnetstat
	install -m 0644 $(BUILDDIR)/completions/zsh/_bpfnetstat $(DESTDIR)$(ZSHCOMPDIR)/_bpfnetstat
	install -m 0644 $(BUILDDIR)/completions/fish/bpfnetstat.fish $(DESTDIR)$(FISHCOMPDIR)/bpfnetstat.fish
	if [ "$(INSTALL_NETSTAT)" = 1 ]; then \
		ln -sf bpfnetstat $(DESTDIR)$(BINDIR)/netstat && \
		install -m 0644 $(BUILDDIR)/completions/bash/netstat $(DESTDIR)$(BASHCOMPDIR)/netstat && \
		install -m 0644 $(BUILDDIR)/completions/zsh/_netstat $(DESTDIR)$(ZSHCOMPDIR)/_netstat && \
		install -m 0644 $(BUILDDIR)/completions/fish/netstat.fish $(DESTDIR)$(FISHCOMPDIR)/netstat.fish; \
	fi
	# The unit runs the binary where this install puts it.
	if [ -f $(UNIT) ]; then \
		install -d $(DESTDIR)$(SYSTEMDDIR) && \
		sed 's|/usr/local/bin/bpfnetstat|$(BINDIR)/bpfnetstat|g' $(UNIT) > $(DESTDIR)$(SYSTEMDDIR)/$(notdir $(UNIT)) && \
		chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/$(notdir $(UNIT)); \
	fi

# uninstall removes what install put there; a netstat that is not the
# symlink to bpfnetstat (net-tools') and completions bpfnetstat did not
# write are left alone.
uninstall: ## remove what install installed from $(DESTDIR)$(PREFIX)
	rm -f $(DESTDIR)$(BINDIR)/bpfnetstat $(DESTDIR)$(MANDIR)/man8/bpfnetstat.8 $(DESTDIR)$(MANDIR)/man8/bpfnetstat-*.8
	rm -f $(DESTDIR)$(DOCDIR)/json.md $(DESTDIR)$(DOCDIR)/bpfnetstat.schema.json
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
	rm -f $(DESTDIR)$(BASHCOMPDIR)/bpfnetstat $(DESTDIR)$(ZSHCOMPDIR)/_bpfnetstat $(DESTDIR)$(FISHCOMPDIR)/bpfnetstat.fish
	if [ "$$(readlink $(DESTDIR)$(BINDIR)/netstat)" = bpfnetstat ]; then rm -f $(DESTDIR)$(BINDIR)/netstat; fi
	for f in $(DESTDIR)$(BASHCOMPDIR)/netstat $(DESTDIR)$(ZSHCOMPDIR)/_netstat $(DESTDIR)$(FISHCOMPDIR)/netstat.fish; do \
		if grep -qs -- '__complete' "$$f"; then rm -f "$$f"; fi; \
	done
	rm -f $(DESTDIR)$(SYSTEMDDIR)/$(notdir $(UNIT))

deb: ## bin/bpfnetstat_VERSION_ARCH.deb: make install's files under /usr, packed by nfpm (a Go tool dependency)
	rm -rf $(BUILDDIR)/pkgroot $(BUILDDIR)/bpfnetstat_*.deb
	$(MAKE) install DESTDIR=$(abspath $(BUILDDIR))/pkgroot PREFIX=/usr INSTALL_NETSTAT=0
	PKGROOT='$(abspath $(BUILDDIR))/pkgroot' DEB_VERSION='$(DEB_VERSION)' DEB_ARCH='$(DEB_ARCH)' $(GO) tool nfpm package \
		--config packaging/nfpm.yaml --packager deb --target $(BUILDDIR)/

test: ## the whole suite: installs test deps, vet, fuzz, unit (race), end-to-end
	./scripts/test.sh

unit: ## unit tests only, with the race detector
	$(GO) test -race $$($(GO) list ./... | grep -v /e2e)

e2e: ## the differential end-to-end suite against the real netstat (root)
	$(GO) test -count=1 ./e2e/...

bench: ## Go benchmarks (parsers, renderers, table), then bpfnetstat vs netstat vs ss (root)
	$(GO) test -run '^$$' -bench . -benchmem ./snapshot/... ./output/... ./owners/... ./merged/... ./tracer/...
	./scripts/bench-snapshot.sh $(N)

bench-churn: ## tracer cost at maximum connection churn: off, off again (the run's noise), hooks only, no accept hook, life, trace, bpftrace reference (root; SECS, ROUNDS)
	./scripts/bench-churn.sh $(SECS) $(ROUNDS)

bench-nginx: ## nginx under ab: off, life, bpftrace reference, and who owns each connection (root; SECS)
	./scripts/bench-nginx.sh $(SECS)

profile-bpf: ## where the BPF programs spend their time, by source line, under churn (root, perf; SECS, MODE)
	./scripts/profile-bpf.sh $(or $(SECS),5) $(MODE)

generate: ## regenerate the BPF objects (needs clang: scripts/install-bpf-deps.sh)
	$(GO) generate ./tracer/...

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '_bpfel.go$$'))" || { gofmt -l .; exit 1; }
	$(GO) vet ./...

generate-check: ## fail if the committed BPF objects differ from a fresh generate
	./scripts/check-generate.sh
