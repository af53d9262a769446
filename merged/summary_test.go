package merged

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// A server inside the ephemeral range (a listener on 40000 and one on
// 45000 that comes after the rows it serves, as a second family's dump
// does): its connections hold no ephemeral port, their clients do.
func TestSummarizeListenerPortsAreNotEphemeral(t *testing.T) {
	row := func(l, r string, st conn.State) Row {
		return Row{Sock: RowSocket{Local: netip.MustParseAddrPort(l), Remote: netip.MustParseAddrPort(r), Family: snapshot.FamilyInet, State: uint8(st)}}
	}
	rows := []Row{
		row("127.0.0.1:40000", "0.0.0.0:0", conn.TCPListen),
		row("127.0.0.1:40000", "127.0.0.1:50000", conn.TCPEstablished), // server side
		row("127.0.0.1:50000", "127.0.0.1:40000", conn.TCPEstablished), // its client
		row("127.0.0.1:40000", "127.0.0.1:50001", conn.TCPTimeWait),    // server side closed first
		row("127.0.0.1:50001", "127.0.0.1:40000", conn.TCPFinWait2),
		row("127.0.0.1:45000", "127.0.0.1:50002", conn.TCPEstablished), // server side, listener below
		row("127.0.0.1:50002", "127.0.0.1:45000", conn.TCPTimeWait),
		row("127.0.0.1:1000", "127.0.0.1:45000", conn.TCPEstablished), // below the range
		{Sock: RowSocket{Local: netip.MustParseAddrPort("[::]:45000"), Remote: netip.MustParseAddrPort("[::]:0"), Family: snapshot.FamilyInet6, State: uint8(conn.TCPListen)}},
	}
	sum := Summarize(rows, 32768, 60999, 10)
	want := []PortPressure{
		{Local: "127.0.0.1", Remote: "127.0.0.1:40000", TimeWait: 0, InUse: 2, Range: 28232, UsedPct: 100 * 2.0 / 28232},
		{Local: "127.0.0.1", Remote: "127.0.0.1:45000", TimeWait: 1, InUse: 1, Range: 28232, UsedPct: 100 * 1.0 / 28232},
	}
	if d := cmp.Diff(want, sum.Pressure); d != "" {
		t.Errorf("port pressure (-want +got):\n%s", d)
	}
	if sum.TimeWait != 2 {
		t.Errorf("TIME_WAIT %d, want 2", sum.TimeWait)
	}
	// Without the listeners, the same rows all look like clients.
	var noListen []Row
	for _, r := range rows {
		if conn.State(r.Sock.State) != conn.TCPListen {
			noListen = append(noListen, r)
		}
	}
	if got := Summarize(noListen, 32768, 60999, 10).Pressure; len(got) != 5 {
		t.Errorf("without listeners: %d pressure lines, want 5: %+v", len(got), got)
	}
}
