package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ap builds an address and port; a dotted quad gives a 4-byte address, any
// IPv6 text (also ::ffff:a.b.c.d) a 16-byte one, as the parser must.
func ap(addr string, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(addr), port)
}

// inetSock is a good row as most fixtures have it: no timer, uid 0.
func inetSock(t Table, local, remote netip.AddrPort, state uint8, rxq, inode uint64) Socket {
	return Socket{Proto: t.Proto, Family: t.Family, Local: local, Remote: remote, State: state, RxQueue: rxq, Inode: inode}
}

// cmpAddr compares addresses with ==, which tells a 4-byte address from its
// IPv4-mapped 16-byte form (and the diff shows them differently).
var cmpAddr = cmpopts.EquateComparable(netip.AddrPort{})

// collect runs a walk and returns the good rows (copied) and the bad lines.
type walkResult struct {
	Good []Socket
	Bad  []LineError
}

func collect(walk func(fn func(*Socket, *LineError)) error) (walkResult, error) {
	var r walkResult
	err := walk(func(s *Socket, bad *LineError) {
		switch {
		case s != nil && bad == nil:
			r.Good = append(r.Good, *s)
		case s == nil && bad != nil:
			r.Bad = append(r.Bad, *bad)
		default:
			panic(fmt.Sprintf("fn(%v, %v): want exactly one non-nil", s, bad))
		}
	})
	return r, err
}

// TestEachInetFixtures reads tables captured from a real kernel (see
// testdata/capture_fixtures.py): loopback sockets in a private namespace.
func TestEachInetFixtures(t *testing.T) {
	lo4, any4 := "127.0.0.1", "0.0.0.0"
	lo6, any6, mapped := "::1", "::", "::ffff:127.0.0.1"
	tests := []struct {
		table Table
		want  []Socket
	}{
		{TableTCP, []Socket{
			inetSock(TableTCP, ap(any4, 22), ap(any4, 0), 0x0A, 0, 10670),
			inetSock(TableTCP, ap(lo4, 0x9821), ap(any4, 0), 0x0A, 0, 10661),
			inetSock(TableTCP, ap(lo4, 0x8770), ap(lo4, 0x9821), 1, 0, 10662),
			inetSock(TableTCP, ap(lo4, 0xD812), ap(lo4, 0xAD0B), 1, 0, 10668),
			inetSock(TableTCP, ap(lo4, 0x9821), ap(lo4, 0x8770), 1, 1234, 10663),
		}},
		{TableTCP6, []Socket{
			inetSock(TableTCP6, ap(any6, 80), ap(any6, 0), 0x0A, 0, 10671),
			inetSock(TableTCP6, ap(lo6, 0xBEC3), ap(any6, 0), 0x0A, 0, 10664),
			inetSock(TableTCP6, ap(any6, 0xAD0B), ap(any6, 0), 0x0A, 0, 10667),
			inetSock(TableTCP6, ap(lo6, 0x817C), ap(lo6, 0xBEC3), 1, 0, 10665),
			inetSock(TableTCP6, ap(lo6, 0xBEC3), ap(lo6, 0x817C), 1, 1234, 10666),
			inetSock(TableTCP6, ap(mapped, 0xAD0B), ap(mapped, 0xD812), 1, 1234, 10669),
		}},
		{TableUDP, []Socket{
			inetSock(TableUDP, ap(lo4, 0xD86F), ap(any4, 0), 7, 0x340, 10672),
			inetSock(TableUDP, ap(lo4, 0xA8A7), ap(lo4, 0xD86F), 1, 0, 10673),
			inetSock(TableUDP, ap(any4, 53), ap(any4, 0), 7, 0, 10680),
		}},
		{TableUDP6, []Socket{
			inetSock(TableUDP6, ap(lo6, 0x9277), ap(any6, 0), 7, 0x340, 10674),
			inetSock(TableUDP6, ap(lo6, 0xA885), ap(lo6, 0x9277), 1, 0, 10675),
		}},
		{TableUDPLite, []Socket{
			inetSock(TableUDPLite, ap(lo4, 0x90A7), ap(lo4, 0xA509), 1, 0, 10677),
			inetSock(TableUDPLite, ap(lo4, 0xA509), ap(any4, 0), 7, 0x340, 10676),
		}},
		{TableUDPLite6, []Socket{
			inetSock(TableUDPLite6, ap(lo6, 0xB309), ap(any6, 0), 7, 0x340, 10678),
			inetSock(TableUDPLite6, ap(lo6, 0xBD95), ap(lo6, 0xB309), 1, 0, 10679),
		}},
		{TableRaw, []Socket{
			inetSock(TableRaw, ap(any4, 1), ap(any4, 0), 7, 0, 10681),
			inetSock(TableRaw, ap(lo4, 89), ap(lo4, 0), 1, 0, 10683),
		}},
		{TableRaw6, []Socket{
			inetSock(TableRaw6, ap(any6, 58), ap(any6, 0), 7, 0, 10682),
		}},
	}
	fsys := NewFS("testdata/proc")
	for _, tt := range tests {
		t.Run(tt.table.File(), func(t *testing.T) {
			got, err := collect(func(fn func(*Socket, *LineError)) error { return fsys.EachInet(tt.table, fn) })
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(walkResult{Good: tt.want}, got, cmpAddr); diff != "" {
				t.Errorf("EachInet(%s) (-want +got):\n%s", tt.table.File(), diff)
			}
			for _, s := range got.Good {
				// 4 bytes for 8 hex digits, 16 otherwise: never unmapped.
				wantBits := map[Family]int{FamilyInet: 32, FamilyInet6: 128}[tt.table.Family]
				if s.Local.Addr().BitLen() != wantBits || s.Remote.Addr().BitLen() != wantBits {
					t.Errorf("%v -> %v: want %d-bit addresses", s.Local, s.Remote, wantBits)
				}
			}
		})
	}
}

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

func TestParseInet(t *testing.T) {
	const (
		tail  = " 0A 00000000:00000000 00:00000000 00000000     0        0 7"
		short = "   0: 0100007F:0016 00000000:0000 0A 00000001:00000002 02:0000000A"
	)
	full := Socket{
		Proto: ProtoTCP, Family: FamilyInet,
		Local: ap("127.0.0.1", 22), Remote: ap("10.1.2.3", 0xABCD),
		State: 1, TxQueue: 1, RxQueue: 2, TimerCode: 2, TimerWhen: 10, Retransmits: 3,
		UID: 1000, Timeout: 5, Inode: 4242,
	}
	tests := []struct {
		name  string
		table Table
		in    string
		want  walkResult
	}{
		{name: "empty file", table: TableTCP, in: ""},
		{name: "header only", table: TableTCP, in: tcpHeader},
		{name: "header without newline", table: TableTCP, in: strings.TrimSuffix(tcpHeader, "\n")},
		{
			name: "all fields", table: TableTCP,
			in:   tcpHeader + "   1: 0100007F:0016 0302010A:ABCD 01 00000001:00000002 02:0000000A 00000003  1000        5 4242 1 0000000000000000 20 4 30 10 -1\n",
			want: walkResult{Good: []Socket{full}},
		},
		{
			name: "first line is skipped whatever it holds", table: TableTCP,
			in: "   0: 0100007F:0016 00000000:0000" + tail + "\n",
		},
		{
			name: "no final newline", table: TableTCP,
			in:   tcpHeader + "   0: 0100007F:0016 00000000:0000" + tail,
			want: walkResult{Good: []Socket{inetSock(TableTCP, ap("127.0.0.1", 22), ap("0.0.0.0", 0), 0x0A, 0, 7)}},
		},
		{
			name: "v6", table: TableTCP6,
			in: tcpHeader +
				"   0: B80D01200000000000000000FFEEDDCC:0050 000080FE00000000FF005452AB6745FE:C350" + tail + "\n",
			want: walkResult{Good: []Socket{inetSock(TableTCP6, ap("2001:db8::ccdd:eeff", 80), ap("fe80::5254:ff:fe45:67ab", 50000), 0x0A, 0, 7)}},
		},
		{
			name: "IPv4-mapped v6 stays 16 bytes", table: TableTCP6,
			in:   tcpHeader + "   0: 0000000000000000FFFF00000100007F:0016 00000000000000000000000000000000:0000" + tail + "\n",
			want: walkResult{Good: []Socket{inetSock(TableTCP6, ap("::ffff:127.0.0.1", 22), ap("::", 0), 0x0A, 0, 7)}},
		},
		{
			name: "the text decides the family, not the file", table: TableTCP6,
			in:   tcpHeader + "   0: 0100007F:0016 00000000:0000" + tail + "\n",
			want: walkResult{Good: []Socket{inetSock(TableTCP6, ap("127.0.0.1", 22), ap("0.0.0.0", 0), 0x0A, 0, 7)}},
		},
		{
			name: "bad hex", table: TableTCP,
			in: tcpHeader +
				"   0: 0100007F:0016 00000000:0000" + tail + "\n" +
				"   1: 0100007G:0016 00000000:0000" + tail + "\n" +
				"   2: 0100007F:0017 00000000:0000" + tail + "\n",
			want: walkResult{
				Good: []Socket{
					inetSock(TableTCP, ap("127.0.0.1", 22), ap("0.0.0.0", 0), 0x0A, 0, 7),
					inetSock(TableTCP, ap("127.0.0.1", 23), ap("0.0.0.0", 0), 0x0A, 0, 7),
				},
				Bad: []LineError{{Path: "/proc/net/tcp", Line: 3, Field: "local_address", Token: "0100007G:0016", Msg: "invalid hex"}},
			},
		},
		{
			name: "too few fields for tcp", table: TableTCP,
			in:   tcpHeader + short + "\n",
			want: walkResult{Bad: []LineError{{Path: "/proc/net/tcp", Line: 2, Field: "retrnsmt", Msg: "missing"}}},
		},
		{
			name: "ten fields are enough for udp, the rest is zero", table: TableUDP,
			in: tcpHeader +
				"   0: 0100007F:0016 00000000:0000 07 00000000:00000000 00:00000000 00000009     5        6 77\n" +
				short + "\n",
			want: walkResult{Good: []Socket{
				{Proto: ProtoUDP, Family: FamilyInet, Local: ap("127.0.0.1", 22), Remote: ap("0.0.0.0", 0), State: 7, Retransmits: 9, UID: 5, Timeout: 6, Inode: 77},
				{Proto: ProtoUDP, Family: FamilyInet, Local: ap("127.0.0.1", 22), Remote: ap("0.0.0.0", 0), State: 0x0A, TxQueue: 1, RxQueue: 2, TimerCode: 2, TimerWhen: 10},
			}},
		},
		{
			name: "broken lines", table: TableRaw,
			in: tcpHeader +
				"\n" +
				"garbage\n" +
				"   7: 0100007F:0016\n" +
				"   7: " + strings.Repeat("0", 65) + ":0016 00000000:0000" + tail + "\n" +
				"   7: 0100007F:0016 00000000:0000 0A 00000000 00000000 00:00000000\n" +
				"   7: 0100007F:0016 00000000:0000 0A 00000000:00000000 00-00000000\n" +
				"   7 : 0100007F:0016 00000000:0000" + tail + "\n" +
				"   7: 0100007F 0016 00000000:0000" + tail + "\n",
			want: walkResult{Bad: []LineError{
				{Path: "/proc/net/raw", Line: 2, Field: "sl", Msg: "missing"},
				{Path: "/proc/net/raw", Line: 3, Field: "sl", Token: "garbage", Msg: "invalid number"},
				{Path: "/proc/net/raw", Line: 4, Field: "rem_address", Msg: "missing"},
				{Path: "/proc/net/raw", Line: 5, Field: "local_address", Token: strings.Repeat("0", 65) + ":0016", Msg: "more than 64 hex digits"},
				{Path: "/proc/net/raw", Line: 6, Field: "tx_queue:rx_queue", Token: "00000000", Msg: `missing ":"`},
				{Path: "/proc/net/raw", Line: 7, Field: "tr:tm->when", Token: "00-00000000", Msg: "invalid hex"},
				{Path: "/proc/net/raw", Line: 8, Field: "sl", Token: "7", Msg: `missing ":"`},
				{Path: "/proc/net/raw", Line: 9, Field: "local_address", Token: "0100007F", Msg: `missing ":"`},
			}},
		},
		{
			name: "C ints and saturation", table: TableTCP,
			in: tcpHeader +
				"   0: 0100007F:10016 00000000:0000 1FF FFFFFFFFFFFFFFFFF:0 FFFFFFFF:0 0 4294967295 -1 18446744073709551616\n",
			want: walkResult{Good: []Socket{{
				Proto: ProtoTCP, Family: FamilyInet, Local: ap("127.0.0.1", 0x16), Remote: ap("0.0.0.0", 0),
				State: 255, TxQueue: ^uint64(0), TimerCode: -1, UID: -1, Timeout: -1, Inode: ^uint64(0),
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/proc/net/" + tt.table.File()
			got, err := collect(func(fn func(*Socket, *LineError)) error {
				return parseInet(strings.NewReader(tt.in), path, tt.table, fn)
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseInet (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEachInetErrors(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		err := NewFS(t.TempDir()).EachInet(TableTCP, func(*Socket, *LineError) { t.Error("fn called") })
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("EachInet on a missing file = %v, want fs.ErrNotExist", err)
		}
		if !strings.Contains(err.Error(), filepath.Join("net", "tcp")) {
			t.Errorf("error %q does not name the file", err)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads a mode-000 file: EACCES cannot be provoked")
		}
		root := t.TempDir()
		if err := os.Mkdir(filepath.Join(root, "net"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "net", "udp"), []byte(tcpHeader), 0); err != nil {
			t.Fatal(err)
		}
		err := NewFS(root).EachInet(TableUDP, func(*Socket, *LineError) {})
		if !errors.Is(err, syscall.EACCES) {
			t.Fatalf("EachInet on a mode-000 file = %v, want EACCES", err)
		}
	})
	t.Run("not an internet table", func(t *testing.T) {
		for _, tab := range []Table{TableUnix, {ProtoTCP, FamilyUnix}, {}} {
			if err := NewFS("testdata/proc").EachInet(tab, func(*Socket, *LineError) {}); err == nil {
				t.Errorf("EachInet(%+v) = nil, want an error", tab)
			}
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		r := io.MultiReader(strings.NewReader(tcpHeader), iotest.ErrReader(boom))
		err := parseInet(r, "/proc/net/tcp", TableTCP, func(*Socket, *LineError) {})
		var pe *fs.PathError
		if !errors.Is(err, boom) || !errors.As(err, &pe) || pe.Path != "/proc/net/tcp" {
			t.Fatalf("parseInet = %v, want boom wrapped with the path", err)
		}
	})
}

// TestParseInetGolden checks every piece of testdata/sscanf/inet.txt (real
// rows, edge cases and random mutations of both) against what glibc's sscanf
// made of it with netstat's format (netstat_sscanf.c wrote inet.golden).
func TestParseInetGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/sscanf/inet.txt")
	if err != nil {
		t.Fatal(err)
	}
	golden := readGolden(t, "testdata/sscanf/inet.golden")

	// The raw sscanf result of every piece.
	var got []string
	for k, b := range fgetsPieces(in) {
		if k == 0 {
			continue
		}
		var s Socket
		n, _ := scanInet(b, &s)
		if n == 0 && skipSpace(b, 0) == len(b) {
			n = -1 // EOF before the first conversion
		}
		line := fmt.Sprintf("%d n=%d", k, n)
		if n >= 10 {
			line += " " + formatGolden(&s)
		}
		got = append(got, line)
	}
	if diff := cmp.Diff(golden, got); diff != "" {
		t.Errorf("scanInet vs glibc (-want +got):\n%s", diff)
	}

	// What EachInet hands on: good or bogus by netstat's count per protocol.
	for _, tab := range []Table{TableTCP, TableUDP, TableRaw6} {
		need, _ := inetMinFields(tab)
		var want []string
		for _, g := range golden {
			var k, n int
			fmt.Sscanf(g, "%d n=%d", &k, &n)
			if n >= need {
				_, rest, _ := strings.Cut(g, " n=")
				_, rest, _ = strings.Cut(rest, " ")
				want = append(want, fmt.Sprintf("%d good %s", k, rest))
			} else {
				want = append(want, fmt.Sprintf("%d bogus", k))
			}
		}
		var got []string
		err := parseInet(bytes.NewReader(in), "inet.txt", tab, func(s *Socket, bad *LineError) {
			k := len(got) + 1
			if bad != nil {
				got = append(got, fmt.Sprintf("%d bogus", k))
				return
			}
			if s.Proto != tab.Proto || s.Family != tab.Family {
				t.Errorf("piece %d: Proto, Family = %v, %v; want %v, %v", k, s.Proto, s.Family, tab.Proto, tab.Family)
			}
			got = append(got, fmt.Sprintf("%d good %s", k, formatGolden(s)))
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("parseInet(%s) vs glibc (-want +got):\n%s", tab.File(), diff)
		}
	}
}

func readGolden(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// formatGolden prints a good row the way netstat_sscanf.c does.
func formatGolden(s *Socket) string {
	return fmt.Sprintf("local=%x:%d remote=%x:%d st=%d txq=%d rxq=%d tr=%d when=%d retr=%d uid=%d timeout=%d inode=%d",
		s.Local.Addr().AsSlice(), s.Local.Port(), s.Remote.Addr().AsSlice(), s.Remote.Port(),
		s.State, s.TxQueue, s.RxQueue, s.TimerCode, s.TimerWhen, s.Retransmits, s.UID, s.Timeout, s.Inode)
}

// A good row costs nothing: the only allocations are the reader's, once.
func TestParseInetAllocs(t *testing.T) {
	text := genTCP(1000)
	var rows int
	allocs := testing.AllocsPerRun(10, func() {
		rows = 0
		err := parseInet(bytes.NewReader(text), "/proc/net/tcp", TableTCP, func(s *Socket, bad *LineError) {
			if bad != nil {
				t.Fatal(bad)
			}
			rows++
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if rows != 1000 {
		t.Fatalf("rows = %d, want 1000", rows)
	}
	if allocs > 5 {
		t.Errorf("parseInet of 1000 rows: %v allocations, want a constant few", allocs)
	}
}

// genTCP makes a /proc/net/tcp text of n rows in the kernel's layout, half
// of them IPv6 so both address paths are exercised.
func genTCP(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(tcpHeader)
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&buf, "%4d: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08X %08X %5d %8d %d 1 0000000000000000 20 4 30 10 -1                 \n",
				i, 0x0100007F+i<<8, i%65536, 0x0200000A, 443, 1, i, 0, 2, 1000+i, 0, 1000, 0, 100000+i)
		} else {
			fmt.Fprintf(&buf, "%4d: B80D0120000000000000000001000000:%04X 00000000000000000000000000000000:0000 %02X %08X:%08X %02X:%08X %08X %5d %8d %d 1 0000000000000000 100 0 0 10 0\n",
				i, i%65536, 0x0A, 0, 0, 0, 0, 0, 0, 0, 100000+i)
		}
	}
	return buf.Bytes()
}

func BenchmarkParseTCP(b *testing.B) {
	const rows = 100_000
	text := genTCP(rows)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var sum uint64
	for b.Loop() {
		err := parseInet(bytes.NewReader(text), "/proc/net/tcp", TableTCP, func(s *Socket, bad *LineError) {
			sum += s.Inode
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
	b.ReportMetric(float64(testing.AllocsPerRun(1, func() {
		parseInet(bytes.NewReader(text), "/proc/net/tcp", TableTCP, func(*Socket, *LineError) {})
	}))/rows, "allocs/row")
	_ = sum
}

// FuzzParseInet checks that no input panics and that every good row keeps
// the invariants the renderers rely on, by printing it back in the kernel's
// layout and parsing that again.
func FuzzParseInet(f *testing.F) {
	for _, name := range []string{"tcp", "tcp6", "udp", "raw6"} {
		if b, err := os.ReadFile("testdata/proc/net/" + name); err == nil {
			f.Add(b, uint8(0))
		}
	}
	if b, err := os.ReadFile("testdata/sscanf/inet.txt"); err == nil {
		lines := bytes.SplitAfter(b, []byte("\n"))
		for i := 1; i < len(lines); i += 37 {
			f.Add(append([]byte(tcpHeader), lines[i]...), uint8(i))
		}
	}
	tables := []Table{TableTCP, TableTCP6, TableUDP, TableUDP6, TableUDPLite, TableUDPLite6, TableRaw, TableRaw6}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		tab := tables[int(which)%len(tables)]
		calls, lastLine := 0, 0
		err := parseInet(bytes.NewReader(data), "f", tab, func(s *Socket, bad *LineError) {
			calls++
			if bad != nil {
				if s != nil {
					t.Fatal("both a socket and a LineError")
				}
				if bad.Line < 1 || bad.Line < lastLine || !errors.Is(bad, ErrBogusLine) || bad.Msg == "" || bad.Field == "" {
					t.Fatalf("bad LineError %#v after line %d", bad, lastLine)
				}
				lastLine = bad.Line
				return
			}
			checkInetRow(t, tab, s)
		})
		if err != nil {
			t.Fatal(err)
		}
		if calls > bytes.Count(data, []byte("\n"))+len(data)/fgetsMax+1 {
			t.Fatalf("%d calls for %d newlines", calls, bytes.Count(data, []byte("\n")))
		}
	})
}

func checkInetRow(t *testing.T, tab Table, s *Socket) {
	t.Helper()
	if s.Proto != tab.Proto || s.Family != tab.Family {
		t.Fatalf("Proto, Family = %v, %v; want %v, %v", s.Proto, s.Family, tab.Proto, tab.Family)
	}
	l, r := s.Local.Addr(), s.Remote.Addr()
	if !l.IsValid() || l.BitLen() != r.BitLen() || (l.BitLen() != 32 && l.BitLen() != 128) || l.Zone() != "" {
		t.Fatalf("addresses %v, %v: want both 4 or both 16 bytes, no zone", l, r)
	}
	// Printed back in the kernel's layout, the row must read the same.
	var line []byte
	line = fmt.Appendf(line, "%4d: ", 0)
	for _, a := range []netip.AddrPort{s.Local, s.Remote} {
		b := a.Addr().AsSlice()
		for w := 0; w < len(b); w += 4 {
			line = fmt.Appendf(line, "%02X%02X%02X%02X", b[w+3], b[w+2], b[w+1], b[w])
		}
		line = fmt.Appendf(line, ":%04X ", a.Port())
	}
	line = fmt.Appendf(line, "%02X %08X:%08X %02X:%08X %08X %5d %8d %d\n",
		s.State, s.TxQueue, s.RxQueue, uint32(s.TimerCode), s.TimerWhen, s.Retransmits, s.UID, s.Timeout, s.Inode)
	var again Socket
	if n, stop := scanInet(line, &again); n != 14 {
		t.Fatalf("reprinted row %q: %d conversions, stopped at %+v", line, n, stop)
	}
	again.Proto, again.Family = s.Proto, s.Family
	if diff := cmp.Diff(*s, again, cmpAddr); diff != "" {
		t.Fatalf("reprinted row %q reads differently (-first +again):\n%s", line, diff)
	}
}
