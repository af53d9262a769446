package output

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// TestJSONLineMatchesMarshal holds the hand-written trace and life lines
// to what json.Marshal gives for TraceJSON and LifeJSON.
func TestJSONLineMatchesMarshal(t *testing.T) {
	base := closed()
	conns := []conn.Conn{base}
	odd := base
	odd.Owner.Comm = "a<b>&\"\\\u2028\xff\x01é"
	odd.Family = snapshot.FamilyInet
	odd.Local, odd.Remote = netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("[fe80::1]:65535")
	odd.Err, odd.ClosedFrom = 0, conn.TCPLastAck
	odd.BirthNs, odd.CloseNs = 0, 1
	conns = append(conns, odd)
	long := base
	long.BirthNs, long.CloseNs = 1, 1<<62
	conns = append(conns, long)
	tiny := base
	tiny.BirthNs, tiny.CloseNs = 1, 2
	conns = append(conns, tiny)
	pod := base
	pod.Owner.Ident = &cgroups.Identity{Path: "/kubepods/besteffort/pod3f2504e0-4f89-11d3-9a0c-0305e82c3301/" + strings.Repeat("ab", 32),
		ContainerID: strings.Repeat("ab", 32), PodUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}
	conns = append(conns, pod)
	unit := base
	unit.Owner.Ident = &cgroups.Identity{Path: "/system.slice/we\"ird\x01.service", Unit: "we\"ird\x01.service"}
	conns = append(conns, unit)

	for i, c := range conns {
		var got bytes.Buffer
		w := &EventWriter{W: &got, JSON: true, WallOffsetNs: 1_714_566_896_000_000_000}
		if err := w.Life(&c); err != nil {
			t.Fatal(err)
		}
		ms := float64(c.DurationNs(c.CloseNs)) / 1e6
		want, _ := json.Marshal(LifeJSON{
			ConnJSON:  marshalConn(w, &c, c.CloseNs),
			Direction: c.Direction.String(), TxBytes: c.TxBytes, RxBytes: c.RxBytes, DurationMS: ms,
			OwnerSource: c.OwnerSource.String(), Retransmits: c.Retransmits, SRTTus: c.SRTTus, Error: c.Failure(),
			Cookie: c.Cookie, NetNS: c.NetNS,
		})
		if got.String() != string(want)+"\n" {
			t.Errorf("life %d:\n got %s\nwant %s", i, got.String(), want)
		}

		got.Reset()
		tr := conn.Transition{Conn: c, OldState: c.ClosedFrom, NewState: conn.TCPClose, TimeNs: c.CloseNs, InOldNs: uint64(i) * 123_456_789, NewlyDone: i%2 == 0}
		if err := w.Trace(&tr); err != nil {
			t.Fatal(err)
		}
		failure := ""
		if tr.NewlyDone {
			failure = c.Failure()
		}
		want, _ = json.Marshal(TraceJSON{
			ConnJSON: marshalConn(w, &c, tr.TimeNs),
			OldState: tr.OldState.String(), NewState: tr.NewState.String(), MS: float64(tr.InOldNs) / 1e6,
			Direction: c.Direction.String(), OwnerSource: c.OwnerSource.String(), Error: failure, Cookie: c.Cookie, NetNS: c.NetNS,
		})
		if got.String() != string(want)+"\n" {
			t.Errorf("trace %d:\n got %s\nwant %s", i, got.String(), want)
		}
	}
}

func marshalConn(e *EventWriter, c *conn.Conn, monoNs uint64) ConnJSON {
	return ConnJSON{
		Time: e.wall(monoNs).Format(time.RFC3339Nano), PID: c.Owner.PID, TID: c.Owner.TID, UID: c.Owner.UID,
		Comm: Escape(c.Owner.Comm), Family: c.Family.String(),
		LAddr: addrText(c.Local.Addr()), LPort: c.Local.Port(), RAddr: addrText(c.Remote.Addr()), RPort: c.Remote.Port(),
		Cgroup: Escape(c.Owner.Identity().Path), ContainerID: c.Owner.Identity().ContainerID, PodUID: c.Owner.Identity().PodUID, Unit: Escape(c.Owner.Identity().Unit),
	}
}

func TestJSONFloat(t *testing.T) {
	for _, f := range []float64{0, 1, 0.5, 1e-7, 1.5e-9, 123456.789, 1e21, 3e22, 2.5e-300} {
		want, _ := json.Marshal(f)
		if got := string(appendJSONFloat(nil, f)); got != string(want) {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "a<b>&c", "\"\\", "\x00\x1f\x7f", "\xff\xfe", "\u2028\u2029", "é\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	})
}

// FuzzAppendText: the one-scan path for names writes what escaping them
// for the terminal, then for JSON, writes.
func FuzzAppendText(f *testing.F) {
	for _, s := range []string{"", "churn", "nginx: worker", "/system.slice/a b.service", "a<b>&c", "\"\\", "\x00\x1f\x7f", "\xff", "é\u0085", "~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendText(nil, s), appendJSONString(nil, Escape(s)); string(got) != string(want) {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	})
}

// TestAppendUint holds appendUint to strconv's decimal at every digit
// count and at random.
func TestAppendUint(t *testing.T) {
	vals := []uint64{0, 9, 10, 99, 100, 101, 999, 1000, 65535, 4294967295, math.MaxUint64}
	for p := uint64(1); p < 1e19; p *= 10 {
		vals = append(vals, p-1, p, p+1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		vals = append(vals, r.Uint64()>>r.UintN(64))
	}
	for _, v := range vals {
		if got, want := string(appendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Fatalf("appendUint(%d) = %s, want %s", v, got, want)
		}
	}
}

// BenchmarkLifeJSON is a life --json line as written; BenchmarkLifeJSONMarshal
// the same line through encoding/json, for the ratio.
func BenchmarkLifeJSON(b *testing.B) {
	c := closed()
	w := &EventWriter{W: io.Discard, JSON: true}
	b.ReportAllocs()
	for b.Loop() {
		w.Life(&c)
	}
}

func BenchmarkLifeJSONMarshal(b *testing.B) {
	c := closed()
	w := &EventWriter{W: io.Discard, JSON: true}
	b.ReportAllocs()
	for b.Loop() {
		line, _ := json.Marshal(LifeJSON{
			ConnJSON:  marshalConn(w, &c, c.CloseNs),
			Direction: c.Direction.String(), TxBytes: c.TxBytes, RxBytes: c.RxBytes, DurationMS: 2.5,
			OwnerSource: c.OwnerSource.String(), Retransmits: c.Retransmits, SRTTus: c.SRTTus, Error: c.Failure(),
			Cookie: c.Cookie, NetNS: c.NetNS,
		})
		w.W.Write(line)
	}
}

// TestJSONTime: the time field is time.RFC3339Nano's text, whatever the
// fraction and zone, also for several times in the same second (the date
// part is kept from one to the next).
func TestJSONTime(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("", -7*3600), time.FixedZone("", 5*3600+1800), time.Local}
	var tt timeText
	base := time.Date(2026, 12, 5, 3, 8, 45, 0, time.UTC).UnixNano()
	for i, ns := range []int64{0, 1, 10, 123456789, 100000000, 999999999, 120000, 5e8, 1e9 + 7, 1e9 + 7, 86400e9 - 1, 86400e9} {
		for _, z := range zones {
			tm := time.Unix(0, base+ns).In(z)
			got := string(tt.append(nil, tm))
			want := tm.Format(time.RFC3339Nano)
			if got != want {
				t.Errorf("case %d zone %v: %q, want %q", i, z, got, want)
			}
		}
	}
}

// appendMillis gives the bytes appendJSONFloat gives for the float
// quotient, on both sides of its cut-over and at the edges of the fraction.
func TestAppendMillisMatchesFloat(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 999, 1000, 1500, 999999, 1e6, 1e6 + 1, 1234567, 5e6, 123456789,
		1<<32 - 1, 1e12 + 7, 1e15 - 1, 1e15, 1e15 + 1, 1<<53 - 1, 1 << 60, 1<<64 - 1}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		vals = append(vals, rng.Uint64N(1e15), rng.Uint64N(1e9), rng.Uint64()>>rng.UintN(64))
	}
	for _, ns := range vals {
		got := string(appendMillis(nil, ns))
		want := string(appendJSONFloat(nil, float64(ns)/1e6))
		if got != want {
			t.Fatalf("appendMillis(%d) = %s, the float gives %s", ns, got, want)
		}
	}
}

// The names appendName writes unescaped need no escaping: every state,
// family, direction and owner source, as appendJSONString quotes it.
func TestAppendNameNeedsNoEscape(t *testing.T) {
	var names []string
	for i := range 256 {
		names = append(names, conn.State(i).String(), conn.Direction(i).String(),
			conn.OwnerSource(i).String(), snapshot.Family(i).String())
	}
	for _, n := range names {
		if got, want := string(appendName(nil, n)), string(appendJSONString(nil, n)); got != want {
			t.Errorf("appendName(%q) = %s, want %s", n, got, want)
		}
	}
}
