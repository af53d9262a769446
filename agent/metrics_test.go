package agent

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/conn"
)

// The metric names are a contract: each is exported under its name.
func TestMetricNames(t *testing.T) {
	m := NewMetrics("1.2.3", 3, func() Counts { return Counts{Events: 10, Lost: map[string]uint64{"ring_full": 2}} }, nil)
	c := testConn(1)
	m.Closed(&c)
	m.Accepted("nginx")
	m.SetSnapshot(SnapshotResult{TimeWait: map[string]int{"curl": 1}, Ports: []PortUse{{"10.0.0.1", "10.0.0.2", 443, 5}}, RangeSize: 28232})
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range []string{"bpfnetstat_connections_opened_total", "bpfnetstat_connections_closed_total",
		"bpfnetstat_connection_duration_seconds", "bpfnetstat_bytes_sent_total", "bpfnetstat_bytes_received_total",
		"bpfnetstat_timewait_sockets", "bpfnetstat_ephemeral_ports_in_use", "bpfnetstat_ephemeral_port_range_size",
		"bpfnetstat_events_total", "bpfnetstat_events_lost_total", "bpfnetstat_build_info", "bpfnetstat_table_evictions_total",
		"go_goroutines", "process_resident_memory_bytes"} {
		if !have[name] {
			t.Errorf("%s not exported", name)
		}
	}
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(`
# HELP bpfnetstat_events_lost_total Events lost, by reason: ring_full (ring buffer full), storage_fail (no socket storage), accept_miss (accept not resolved), recursion (kernel skipped the program).
# TYPE bpfnetstat_events_lost_total counter
bpfnetstat_events_lost_total{reason="accept_miss"} 0
bpfnetstat_events_lost_total{reason="recursion"} 0
bpfnetstat_events_lost_total{reason="ring_full"} 2
bpfnetstat_events_lost_total{reason="storage_fail"} 0
`), "bpfnetstat_events_lost_total"); err != nil {
		t.Error(err)
	}
}

// Owners beyond the top N fold into ~other; a failure counts under its
// reason; opens are counted once, at accept for accepted connections.
func TestMetricsFoldAndCount(t *testing.T) {
	m := NewMetrics("x", 2, nil, nil)
	for _, comm := range []string{"a", "b", "c", "d", "a"} {
		c := testConn(1)
		c.Owner.Comm = comm
		m.Closed(&c)
	}
	srv := testConn(2)
	srv.Owner.Comm, srv.Direction, srv.OwnerSource = "b", conn.DirPassive, conn.OwnerAccept
	m.Accepted("b")
	m.Closed(&srv)
	never := testConn(3)
	never.Owner.Comm, never.Direction, never.OwnerSource, never.ClosedFrom = "b", conn.DirPassive, conn.OwnerListener, conn.TCPEstablished
	m.Closed(&never)
	ref := testConn(4)
	ref.Owner.Comm, ref.Err, ref.ClosedFrom = "a", int32(unix.ECONNREFUSED), conn.TCPSynSent
	m.Closed(&ref)
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"active", "a"}, 3}, {[]string{"active", "b"}, 1}, {[]string{"active", Other}, 2},
		{[]string{"passive", "b"}, 2},
	} {
		if got := testutil.ToFloat64(m.opened.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("opened%v = %v, want %v", tc.labels, got, tc.want)
		}
		if got := testutil.ToFloat64(m.closed.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("closed%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(m.failures.WithLabelValues("a", "refused")); got != 1 {
		t.Errorf("failures{a,refused} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.failures.WithLabelValues("b", "not_accepted")); got != 1 {
		t.Errorf("failures{b,not_accepted} = %v, want 1", got)
	}
	// Series are bounded: 3 comm values at most per direction.
	if n := testutil.CollectAndCount(m.opened); n != 4 {
		t.Errorf("%d opened series, want 4", n)
	}
}

func TestSnapshotFold(t *testing.T) {
	m := NewMetrics("x", 2, nil, nil)
	m.SetSnapshot(SnapshotResult{TimeWait: map[string]int{"a": 5, "b": 3, "c": 2, "d": 1, "-": 4},
		Ports: []PortUse{{"l", "r1", 1, 10}, {"l", "r2", 2, 9}, {"l", "r3", 3, 8}, {"l", "r4", 4, 7}}, RangeSize: 100})
	if err := testutil.CollectAndCompare(&m.snap, strings.NewReader(`
# HELP bpfnetstat_timewait_sockets TIME_WAIT sockets by the command that owned the connection (- unknown: closed before the agent started or forgotten), summed over the network namespaces.
# TYPE bpfnetstat_timewait_sockets gauge
bpfnetstat_timewait_sockets{comm="a"} 5
bpfnetstat_timewait_sockets{comm="-"} 4
bpfnetstat_timewait_sockets{comm="~other"} 6
`), "bpfnetstat_timewait_sockets"); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(&m.snap, strings.NewReader(`
# HELP bpfnetstat_ephemeral_ports_in_use Sockets with a local port in the ephemeral range from one local address to one destination (each needs its own port), counted per network namespace; where namespaces share a local address and destination, the largest namespace's count (ports run out in one namespace); beyond the top N, laddr=raddr=rport="~other" holds the largest of the rest.
# TYPE bpfnetstat_ephemeral_ports_in_use gauge
bpfnetstat_ephemeral_ports_in_use{laddr="l",raddr="r1",rport="1"} 10
bpfnetstat_ephemeral_ports_in_use{laddr="l",raddr="r2",rport="2"} 9
bpfnetstat_ephemeral_ports_in_use{laddr="~other",raddr="~other",rport="~other"} 8
`), "bpfnetstat_ephemeral_ports_in_use"); err != nil {
		t.Error(err)
	}
}
