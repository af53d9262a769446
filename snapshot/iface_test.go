package snapshot

import (
	"errors"
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
)

const (
	devHeader  = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	devHeader2 = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame|bytes    packets errs drop fifo colls carrier\n"
	devHeader1 = "Inter-|   Receive                                                |  Transmit\n face |packets errs drop fifo frame|packets errs drop fifo colls carrier\n"
)

// seq is the counters 1..16 in the 16-column layout.
var seq = NetDevStats{
	RxBytes: 1, RxPackets: 2, RxErrors: 3, RxDropped: 4, RxFIFO: 5, RxFrame: 6, RxCompressed: 7, RxMulticast: 8,
	TxBytes: 9, TxPackets: 10, TxErrors: 11, TxDropped: 12, TxFIFO: 13, Collisions: 14, TxCarrier: 15, TxCompressed: 16,
}

const seqText = " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"

// nd is an interface whose line netstat reads as the kernel wrote it.
func nd(name string, s NetDevStats) NetDev { return NetDev{Name: name, Stats: s, Kernel: s} }

func TestParseNetDev(t *testing.T) {
	long15 := "abcdefghijklmno"
	tests := []struct {
		name string
		in   string
		want []NetDev
	}{
		{name: "empty"},
		{name: "header only", in: devHeader},
		{
			name: "kernel layout",
			in:   devHeader + "    lo:" + seqText + "  eth0: 48835559    1719    0    0    0     0          0         0   133742    1244    0    0    0     0       0          0\n",
			want: []NetDev{nd("lo", seq), nd("eth0", NetDevStats{RxBytes: 48835559, RxPackets: 1719, TxBytes: 133742, TxPackets: 1244})},
		},
		{
			// Debian's get_name stops at 15 bytes and leaves the rest,
			// ':' included, in front of the numbers: none is read.
			// Kernel has what the line says (the second line's name
			// is longer and still the same 15 bytes).
			name: "15-byte name",
			in:   devHeader + long15 + ":" + seqText + long15 + "7:" + seqText,
			want: []NetDev{{Name: long15, Stats: NetDevStats{RxBytes: 7}, Kernel: seq}},
		},
		{
			name: "aliases and colons",
			in:   devHeader + "  lo:1:" + seqText + "v0:x1: 5\n  n10:: 9\n v1 : 3\n",
			want: []NetDev{nd("lo:1", seq), nd("v0", NetDevStats{}), nd("n10:", NetDevStats{RxBytes: 9}), nd("v1", NetDevStats{})},
		},
		{
			// sscanf stops at the first field that is not a number;
			// a name seen again overwrites what its line has.
			name: "short lines and duplicates",
			in:   devHeader + "lo:" + seqText + "lo: 100 200 x 9\n  v0: 5 -1 99999999999999999999999\n",
			want: []NetDev{
				nd("lo", func() NetDevStats { s := seq; s.RxBytes, s.RxPackets = 100, 200; return s }()),
				nd("v0", NetDevStats{RxBytes: 5, RxPackets: ^uint64(0), RxErrors: ^uint64(0)}),
			},
		},
		{
			name: "13 columns",
			in:   devHeader2 + "lo:" + seqText,
			want: []NetDev{nd("lo", NetDevStats{RxBytes: 1, RxPackets: 2, RxErrors: 3, RxDropped: 4, RxFIFO: 5, RxFrame: 6,
				TxBytes: 7, TxPackets: 8, TxErrors: 9, TxDropped: 10, TxFIFO: 11, Collisions: 12, TxCarrier: 13})},
		},
		{
			name: "11 columns",
			in:   devHeader1 + "lo:" + seqText,
			want: []NetDev{nd("lo", NetDevStats{RxPackets: 1, RxErrors: 2, RxDropped: 3, RxFIFO: 4, RxFrame: 5,
				TxPackets: 6, TxErrors: 7, TxDropped: 8, TxFIFO: 9, Collisions: 10, TxCarrier: 11})},
		},
		{
			// fgets reads 511 bytes at a time: the rest of a longer line
			// is read as an interface line of its own.
			name: "long line",
			in:   devHeader + "p1: 1 2" + strings.Repeat(" ", 511-len("p1: 1 2")) + "lo: 500 600\n",
			want: []NetDev{nd("p1", NetDevStats{RxBytes: 1, RxPackets: 2}), nd("lo", NetDevStats{RxBytes: 500, RxPackets: 600})},
		},
		{
			name: "blank line and NUL",
			in:   devHeader + "\n lo: 1 2\x00 3\n",
			want: []NetDev{nd("", NetDevStats{}), nd("lo", NetDevStats{RxBytes: 1, RxPackets: 2})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNetDev(strings.NewReader(tt.in), "/proc/net/dev")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadNetDevFixture reads /proc/net/dev captured from the namespace of
// the interface fixtures (internal/cli's -update makes it).
func TestReadNetDevFixture(t *testing.T) {
	devs, err := NewFS("testdata/iface/live").ReadNetDev()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range devs {
		got = append(got, d.Name)
	}
	for _, want := range []string{"lo", "v0", "v1", "averylongifnam0", "p1", "tun7", "dn0", "dn1", "n1", "n01", "n10", "n2"} {
		if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+want+" ") {
			t.Errorf("%s missing from %v", want, got)
		}
	}
	if _, err := NewFS(t.TempDir()).ReadNetDev(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	boom := errors.New("boom")
	devs, err = parseNetDev(io.MultiReader(strings.NewReader(devHeader+"lo:"+seqText), iotest.ErrReader(boom)), "/proc/net/dev")
	if !errors.Is(err, boom) || len(devs) != 1 {
		t.Errorf("read error: %v, %v", devs, err)
	}
}

func FuzzParseNetDev(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "iface", "*", "net", "dev"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		devs, err := parseNetDev(strings.NewReader(string(b)), "dev")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, d := range devs {
			if len(d.Name) > 15 || strings.ContainsAny(d.Name, " \t\n\x00") {
				t.Errorf("name %q", d.Name)
			}
			if seen[d.Name] {
				t.Errorf("name %q twice", d.Name)
			}
			if len(d.Name) < 15 && d.Kernel != d.Stats {
				t.Errorf("%q: netstat's counters %+v differ from the line's %+v", d.Name, d.Stats, d.Kernel)
			}
			seen[d.Name] = true
		}
		again, _ := parseNetDev(iotest.OneByteReader(strings.NewReader(string(b))), "dev")
		if diff := cmp.Diff(devs, again); diff != "" {
			t.Errorf("one-byte reads differ (-whole +bytes):\n%s", diff)
		}
		// Every name sorts, and the order is stable.
		names := InterfaceNames(devs, nil)
		if len(names) != len(devs) {
			t.Errorf("%d names from %d interfaces", len(names), len(devs))
		}
	})
}

func TestParseIfInet6(t *testing.T) {
	mk := func(addr string, plen, scope uint32, dev string) IfInet6 {
		return IfInet6{Addr: netip.MustParseAddr(addr), AddrOK: true, Index: 1, PrefixLen: plen, Scope: scope, Flags: 0x80, Device: dev, Fields: IfInet6Fields}
	}
	in := "00000000000000000000000000000001 01 80 10 80       lo\n" +
		"fe80000000000000cc7ab8fffed982f7 01 40 20 80 abcdefghijklmno\n" +
		"0000000000000000000000000a010203 01 60 80 80 lo\n"
	want := []IfInet6{
		mk("::1", 0x80, 0x10, "lo"),
		mk("fe80::cc7a:b8ff:fed9:82f7", 0x40, 0x20, "abcdefghijklmno"),
		mk("::10.1.2.3", 0x60, 0x80, "lo"),
	}
	if diff := cmp.Diff(want, parseIfInet6([]byte(in)), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// fscanf runs over the stream: a field that does not convert ends
	// the call, the values it did not reach stay, and the next call
	// starts where it stopped.
	got := parseIfInet6([]byte("20010db8000000000000000000000002 01 zz 00 80 lo\n"))
	if len(got) != 2 {
		t.Fatalf("got %d entries, want 2: %+v", len(got), got)
	}
	if g := got[0]; g.Fields != 9 || g.Addr != netip.MustParseAddr("2001:db8::2") || g.Device != "" {
		t.Errorf("first call: %+v", g)
	}
	// "zz" "00" "80" "lo" are four groups; EOF follows.
	if g := got[1]; g.Fields != 4 || g.AddrOK {
		t.Errorf("second call: %+v", g)
	}
	if len(parseIfInet6(nil)) != 0 || len(parseIfInet6([]byte(" \n\t"))) != 0 {
		t.Error("empty input gives entries")
	}
}

func TestReadIfInet6(t *testing.T) {
	got, err := NewFS("testdata/iface/live").ReadIfInet6()
	if err != nil || len(got) == 0 {
		t.Fatalf("%v, %v", got, err)
	}
	if got, err := NewFS(t.TempDir()).ReadIfInet6(); got != nil || err != nil {
		t.Errorf("missing file: %v, %v; want an empty result", got, err)
	}
}

// TestCompareInterfaceNames is nstrcmp.c's own test table.
func TestCompareInterfaceNames(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"eth1", "eth1", 0}, {"eth0:1", "eth0:1", 0}, {"lan", "lan", 0}, {"100", "100", 0},
		{"", "", 0}, {":", ":", 0}, {"a:b:c", "a:b:c", 0}, {"a:", "a:", 0}, {":a", ":a", 0},
		{"a", "aa", -1}, {"eth0", "eth1", -1}, {"eth1", "eth20", -1}, {"eth20", "eth100", -1},
		{"eth1", "eth13", -1}, {"eth", "eth2", -1}, {"eth0:1", "eth0:2", -1}, {"eth1:10", "eth13:10", -1},
		{"eth1:1", "eth1:13", -1}, {"a", "a:", -1},
		{"aa", "a", 1}, {"eth2", "eth1", 1}, {"eth13", "eth1", 1}, {"eth2", "eth", 1},
		{"eth2:10", "eth2:1", 1}, {"eth2:5", "eth2:4", 1}, {"eth3:2", "eth2:3", 1}, {"eth13:1", "eth1:0", 1},
		{"a:", "a", 1}, {"a1b12", "a1b2", 1},
		{"eth1", "eth01", 1}, {"eth01", "eth1", -1}, {"eth1:1", "eth01:1", 1}, {"eth01:1", "eth1:1", -1},
		{"eth1:1", "eth01:01", 1}, {"eth1:01", "eth01:1", 1}, {"eth01:1", "eth1:01", -1}, {"eth01:01", "eth1:1", -1},
		// Beyond the C table: a label that is not an alias number, and
		// digits past int's range (atoi keeps the low 32 bits).
		{"v0:lbl", "v1", 1}, {"v0:1", "v0:lbl", -1}, {"n4294967297", "n2", -1},
	} {
		if got := CompareInterfaceNames(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareInterfaceNames(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestInterfaceNames(t *testing.T) {
	devs := []NetDev{{Name: "v1"}, {Name: "lo"}, {Name: "eth100"}, {Name: "eth20"}, {Name: "eth1"}, {Name: "eth13"}, {Name: "averylongifnam0"}}
	labels := []string{"lo", "v0", "v0:1", "v0:lbl", "eth1:2", "eth1:1", "v1"}
	want := []string{"averylongifnam0", "eth1", "eth1:1", "eth1:2", "eth13", "eth20", "eth100", "lo", "v0", "v0:1", "v1", "v0:lbl"}
	if diff := cmp.Diff(want, InterfaceNames(devs, labels)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestIoctlsLoopback asks the kernel about lo, which every network
// namespace has; it needs no privilege.
func TestIoctlsLoopback(t *testing.T) {
	k, err := OpenIoctls()
	if err != nil {
		t.Skipf("no AF_INET socket: %v", err)
	}
	defer func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
		if err := k.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}()
	c, err := k.Fetch("lo")
	if err != nil {
		t.Fatal(err)
	}
	if c.Flags&IffLoopback == 0 || c.HWType != 772 || c.MTU <= 0 || c.TxQueueLen < 0 {
		t.Errorf("lo: %+v", c)
	}
	if c.Flags&IffUp != 0 && c.HasIPv4 && (c.Addr.Family != 2 || c.Addr.Addr[0] != 127) {
		t.Errorf("lo's address: %+v", c.Addr)
	}
	if _, err := k.Labels(); err != nil {
		t.Errorf("Labels: %v", err)
	}
	_, err = k.Fetch("nosuchif0")
	if !errors.Is(err, syscall.ENODEV) {
		t.Errorf("Fetch of a missing interface: %v, want ENODEV", err)
	}
}
