package merged

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// connBudget is what one tracked connection may cost the table, in bytes
// of heap: the connection, its entries in the cookie and 4-tuple indexes
// and its place in the closed list. The table once took about 5 KB per
// TIME_WAIT socket, with the views' copies.
const connBudget = 320

// churnEvents feeds n connections through the table, each a client that
// connects to one of many servers and closes first (into TIME_WAIT), with
// a comm among a few, as a busy machine's would be.
func churnEvents(tab *Table, n int, ts *uint64) {
	comms := []string{"curl", "nginx: worker", "python3", "postgres"}
	for i := range n {
		cookie := uint64(1 + *ts)
		*ts += 4
		local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 16), byte(i >> 8)}), uint16(32768+i%28000))
		remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i % 200)}), 443)
		ev := tracer.Event{Kind: tracer.KindState, Cookie: cookie, Family: snapshot.FamilyInet, Local: local, Remote: remote,
			Owner: conn.Process{PID: uint32(1000 + i%50), TID: uint32(1000 + i%50), Comm: comms[i%len(comms)]}, OwnerSource: conn.OwnerConnect,
			Direction: conn.DirActive, BirthNs: *ts}
		for _, st := range [][2]conn.State{{conn.TCPClose, conn.TCPSynSent}, {conn.TCPSynSent, conn.TCPEstablished},
			{conn.TCPEstablished, conn.TCPFinWait1}, {conn.TCPFinWait1, conn.TCPFinWait2}, {conn.TCPFinWait2, conn.TCPClose}} {
			ev.OldState, ev.NewState = st[0], st[1]
			ev.TimeNs = *ts
			*ts++
			tab.Apply(&ev)
		}
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// tableBytesPerConn builds a table of n closed (TIME_WAIT) connections
// with a cap of max and returns its heap bytes per connection held.
func tableBytesPerConn(n, max int) (float64, int) {
	before := heapInUse()
	tab := NewTable(TableConfig{MaxConns: max, TimeWaitNs: 1 << 62})
	var ts uint64
	churnEvents(tab, n, &ts)
	after := heapInUse()
	held := tab.Len()
	runtime.KeepAlive(tab)
	return float64(after-before) / float64(held), held
}

// TestTableMemoryBudget: 100,000 connections in TIME_WAIT cost the table
// no more than connBudget bytes each.
func TestTableMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a table of 100,000 connections")
	}
	per, held := tableBytesPerConn(100_000, 0)
	t.Logf("%d connections held, %.0f bytes each", held, per)
	if held != 100_000 {
		t.Errorf("the default table holds %d of 100,000 TIME_WAIT connections", held)
	}
	if per > connBudget {
		t.Errorf("%.0f bytes per tracked connection, budget %d", per, connBudget)
	}
}

// BenchmarkTableMemory reports the heap bytes per tracked connection of a
// table holding 100,000 TIME_WAIT connections, and of one that was fed
// 1,000,000 closed connections (all held, with a cap that large; and with
// the default cap, which evicts the oldest).
func BenchmarkTableMemory(b *testing.B) {
	for _, c := range []struct {
		name   string
		n, max int
	}{
		{"timewait=100k", 100_000, 0},
		{"closed=1M/all", 1_000_000, 1 << 20},
		{"closed=1M/default-cap", 1_000_000, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			var per float64
			var held int
			for b.Loop() {
				per, held = tableBytesPerConn(c.n, c.max)
			}
			b.ReportMetric(per, "bytes/conn")
			b.ReportMetric(float64(held), "conns")
		})
	}
}
