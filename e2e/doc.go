// Package e2e is the differential end-to-end suite: it builds bpfnetstat,
// fills a private network namespace with real sockets (see internal/farm),
// runs /usr/bin/netstat and bpfnetstat's classic mode (through a symlink
// named netstat) with the same arguments, and requires identical stdout,
// stderr and exit status.
//
// The package is test-only: it exports nothing and nothing may import it.
// Its tests need root; they skip without it, and fail instead when
// BPFNETSTAT_REQUIRE_ROOT=1 (CI). Other knobs, all environment variables:
//
//	BPFNETSTAT_E2E_OURS=PATH        use this binary instead of building ./cmd/bpfnetstat
//	                                (PATH=/usr/bin/netstat checks the harness itself)
//	BPFNETSTAT_E2E_KEEP=1           keep namespaces, /etc/netns files and the farm for inspection
package e2e
