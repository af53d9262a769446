package trace

import (
	"bufio"
	"io"
	"net/netip"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// churnEvents are the events `life` gets for one loopback connection when
// the kernel sends connection ends only and names the acceptor in the
// server's close record (tracer.Config.AcceptInClose): the client's close
// (from FIN_WAIT2, into TIME_WAIT) and the server's (from LAST_ACK).
func churnEvents(i int) [2]tracer.Event {
	c := uint64(2*i + 1000)
	s := c + 1
	ts := uint64(i)*1000 + 1e9
	cport := uint16(1024 + i%60000)
	cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), cport)
	srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + i%8)}), 7777)
	client := conn.Process{PID: 4242, TID: 4243, UID: 0, Comm: "churn", CgroupID: 77}
	server := conn.Process{PID: 4250, TID: 4251, UID: 0, Comm: "churn", CgroupID: 77}
	return [2]tracer.Event{
		{Kind: tracer.KindState, TimeNs: ts + 50, Cookie: c, BirthNs: ts, StateNs: ts + 40, Family: snapshot.FamilyInet, Local: cli, Remote: srv,
			OldState: conn.TCPFinWait2, NewState: conn.TCPClose, Owner: client, OwnerSource: conn.OwnerConnect, Direction: conn.DirActive,
			CurPID: client.PID, BytesSent: 5, BytesReceived: 6, BytesAcked: 6, SRTTus: 30},
		{Kind: tracer.KindState, TimeNs: ts + 60, Cookie: s, BirthNs: ts + 5, StateNs: ts + 45, Family: snapshot.FamilyInet, Local: srv, Remote: cli,
			OldState: conn.TCPLastAck, NewState: conn.TCPClose, Owner: server, OwnerSource: conn.OwnerAccept, Direction: conn.DirPassive,
			CurPID: 0, BytesSent: 5, BytesReceived: 6, BytesAcked: 6, SRTTus: 30, PeerFin: true},
	}
}

// BenchmarkLifePipeline is life's user-space work per connection under
// churn (scripts/bench-churn.sh measures it with the kernel): the two
// events through naming, the stream and the table, and the two JSON lines.
func BenchmarkLifePipeline(b *testing.B) {
	var flags cmdutil.IdentityFlags
	ids, err := flags.Open(testEnv(io.Discard, io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	defer ids.Close()
	out := bufio.NewWriterSize(io.Discard, 64<<10)
	w := &output.EventWriter{W: out, JSON: true}
	table := merged.NewTable(merged.TableConfig{DropClosed: true})
	stream := merged.NewStream(table, 0)
	lines := 0
	emit := func(t *conn.Transition) {
		if t.NewlyDone && !t.Conn.Listener {
			lines++
			if err := w.Life(&t.Conn); err != nil {
				b.Fatal(err)
			}
		}
	}
	const batch = 4096
	evs := make([]tracer.Event, 0, 2*batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		b.StopTimer()
		evs = evs[:0]
		for j := i; j < i+batch && j < b.N; j++ {
			e := churnEvents(j)
			evs = append(evs, e[:]...)
		}
		b.StartTimer()
		for k := range evs {
			ids.Name(&evs[k].Owner)
			stream.Push(&evs[k], emit)
		}
	}
	b.StopTimer()
	if lines != 2*b.N {
		b.Fatalf("%d lines for %d connections, want 2 each", lines, b.N)
	}
}
