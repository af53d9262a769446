package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// closed is a finished client connection whose owner's name tries to
// drive the terminal.
func closed() conn.Conn {
	return conn.Conn{
		Cookie: 77, Family: snapshot.FamilyInet6, NetNS: 4026531840,
		Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000"), Remote: netip.MustParseAddrPort("[::ffff:127.0.0.1]:8080"),
		State: conn.TCPClose, Owner: conn.Process{PID: 42, TID: 43, UID: 1000, Comm: "curl\x1b[2J"},
		OwnerSource: conn.OwnerConnect, Direction: conn.DirActive, BirthNs: 1_000_000, Closed: true, CloseNs: 3_500_000,
		ClosedFrom: conn.TCPSynSent, TxBytes: 100, RxBytes: 2000, Retransmits: 1, SRTTus: 50, Err: 111,
	}
}

func TestEventWriterTrace(t *testing.T) {
	var b bytes.Buffer
	w := &EventWriter{W: &b, WallOffsetNs: 1_714_566_896_000_000_000}
	w.TraceHeader()
	c := closed()
	tr := conn.Transition{Conn: c, OldState: conn.TCPSynSent, NewState: conn.TCPClose, TimeNs: c.CloseNs, InOldNs: 1_250_000, NewlyDone: true}
	if err := w.Trace(&tr); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME ") || !strings.HasSuffix(lines[0], " MS OWNER    ERROR") {
		t.Fatalf("trace text: %q", b.String())
	}
	f := strings.Fields(lines[1])
	want := []string{"42", `curl\x1b[2J`, "127.0.0.1", "40000", "127.0.0.1", "8080", "SYN_SENT", "->", "CLOSE", "1.250", "connect", "refused"}
	if len(f) != len(want)+1 || strings.Join(f[1:], " ") != strings.Join(want, " ") {
		t.Errorf("trace line %q, want fields %q after the time", lines[1], want)
	}

	b.Reset()
	w.JSON, w.NetNS = true, true
	w.TraceHeader() // nothing in JSON mode
	if err := w.Trace(&tr); err != nil {
		t.Fatal(err)
	}
	var j TraceJSON
	if err := json.Unmarshal(b.Bytes(), &j); err != nil || strings.Count(b.String(), "\n") != 1 {
		t.Fatalf("trace JSON %q: %v", b.String(), err)
	}
	if j.PID != 42 || j.TID != 43 || j.UID != 1000 || j.Comm != `curl\x1b[2J` || j.Family != "inet6" || j.LAddr != "127.0.0.1" || j.LPort != 40000 ||
		j.RAddr != "127.0.0.1" || j.RPort != 8080 || j.OldState != "SYN_SENT" || j.NewState != "CLOSE" || j.MS != 1.25 ||
		j.Direction != "active" || j.OwnerSource != "connect" || j.Error != "refused" || j.Cookie != 77 || j.NetNS != 4026531840 {
		t.Errorf("trace JSON %+v", j)
	}
	if !strings.HasPrefix(j.Time, "2024-05-01T") {
		t.Errorf("time %q: the wall offset was not applied", j.Time)
	}
}

func TestEventWriterLife(t *testing.T) {
	var b bytes.Buffer
	w := &EventWriter{W: &b, NetNS: true}
	w.LifeHeader()
	c := closed()
	if err := w.Life(&c); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "PID ") || !strings.HasSuffix(lines[0], " OWNER    ERROR NETNS") {
		t.Fatalf("life text: %q", b.String())
	}
	want := `42 curl\x1b[2J 127.0.0.1 40000 127.0.0.1 8080 active 100 2000 2.500 connect refused 4026531840`
	if got := strings.Join(strings.Fields(lines[1]), " "); got != want {
		t.Errorf("life line %q, want %q", got, want)
	}
	if strings.ContainsRune(b.String(), 0x1b) {
		t.Error("a command name reached the terminal unescaped")
	}

	b.Reset()
	w.JSON = true
	c.Owner = conn.Process{}
	c.Err, c.ClosedFrom = 0, conn.TCPLastAck // a normal end
	if err := w.Life(&c); err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(b.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if j["pid"] != 0.0 || j["tx_bytes"] != 100.0 || j["rx_bytes"] != 2000.0 || j["duration_ms"] != 2.5 || j["direction"] != "active" ||
		j["retransmits"] != 1.0 || j["srtt_us"] != 50.0 {
		t.Errorf("life JSON %v", j)
	}
	if _, ok := j["error"]; ok {
		t.Errorf("life JSON has an error without one: %v", j)
	}
}
