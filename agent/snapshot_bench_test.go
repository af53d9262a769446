package agent

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/merged"
)

// BenchmarkHostSnapshot times one periodic snapshot of the agent with
// many network namespaces, each holding many TIME_WAIT sockets:
// BPFNETSTAT_BENCH_NETNS namespaces (default 50) x BPFNETSTAT_BENCH_TW
// sockets (default 1000), made with `ip netns add` and loopback
// connections that the client closes first. Root only; run it under the
// e2e lock, as it creates namespaces:
//
//	flock /tmp/bpfnetstat-e2e.lock go test -run XXX -bench HostSnapshot ./agent/
//
// BPFNETSTAT_BENCH_EMPTY of those namespaces (default 0) hold no socket
// at all, as idle containers: the snapshot reads their sockstat and skips
// their dump.
//
// It reports the first snapshot (which joins every namespace) apart, as
// first-ms, the namespaces read, and how many of them were walked and
// skipped. Each namespace's dump walks the
// kernel's whole established hash, which namespaces share unless
// net.ipv4.tcp_child_ehash_entries was set when they were made:
// BPFNETSTAT_BENCH_CHILD_EHASH=N sets it for the benchmark's namespaces
// (and puts the old value back).
func BenchmarkHostSnapshot(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates network namespaces")
	}
	nns := benchEnv("BPFNETSTAT_BENCH_NETNS", 50)
	ntw := benchEnv("BPFNETSTAT_BENCH_TW", 1000)
	nempty := min(benchEnv("BPFNETSTAT_BENCH_EMPTY", 0), nns)
	if v := os.Getenv("BPFNETSTAT_BENCH_CHILD_EHASH"); v != "" {
		const knob = "/proc/sys/net/ipv4/tcp_child_ehash_entries"
		old, err := os.ReadFile(knob)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(knob, []byte(v), 0o644); err != nil {
			b.Fatal(err)
		}
		// Back as it was once the namespaces are made (or on a failure).
		defer os.WriteFile(knob, old, 0o644)
	}
	var names []string
	b.Cleanup(func() {
		for _, n := range names {
			exec.Command("ip", "netns", "del", n).Run()
		}
	})
	for i := range nns {
		n := fmt.Sprintf("bpfns-bench-%d-%d", os.Getpid(), i)
		if out, err := exec.Command("ip", "netns", "add", n).CombinedOutput(); err != nil {
			b.Fatalf("ip netns add: %v: %s", err, out)
		}
		names = append(names, n)
		if out, err := exec.Command("ip", "-n", n, "link", "set", "lo", "up").CombinedOutput(); err != nil {
			b.Fatalf("ip link: %v: %s", err, out)
		}
		if i < nempty {
			continue
		}
		if err := benchTimeWait(n, ntw); err != nil {
			b.Fatal(err)
		}
	}
	a := &Agent{cfg: Config{Snap: NewHostSnapshotter("/proc"), Metrics: NewMetrics("bench", 20, nil, nil), Stderr: io.Discard},
		table: merged.NewTable(merged.TableConfig{})}
	defer a.cfg.Snap.Close()
	start := time.Now()
	a.snapshotOnce()
	first := time.Since(start)
	if got := a.cfg.Snap.Namespaces(); got < nns+1 {
		b.Fatalf("%d namespaces read, want %d and the host's", got, nns)
	}
	b.ResetTimer()
	for b.Loop() {
		a.snapshotOnce()
	}
	b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
	b.ReportMetric(float64(a.cfg.Snap.Namespaces()), "namespaces")
	st := a.cfg.Snap.Stats()
	b.ReportMetric(float64(st.Walked), "walked")
	b.ReportMetric(float64(st.Skipped), "skipped")
	if st.Failed != 0 || st.Skipped < nempty {
		b.Fatalf("%+v: want none failed and the %d empty namespaces skipped", st, nempty)
	}
}

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchTimeWait makes n loopback connections in namespace ns, the client
// closing first: n TIME_WAIT sockets there.
func benchTimeWait(ns string, n int) error {
	return inNetns(ns, func() error {
		l, err := net.Listen("tcp4", "127.0.0.1:8080")
		if err != nil {
			return err
		}
		defer l.Close()
		buf := make([]byte, 1)
		for range n {
			c, err := net.Dial("tcp4", "127.0.0.1:8080")
			if err != nil {
				return err
			}
			s, err := l.Accept()
			if err != nil {
				return err
			}
			c.Close()
			s.Read(buf) // EOF: the client's FIN
			s.Close()
		}
		return nil
	})
}
