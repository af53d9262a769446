package output

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// fakeNames answers from fixed tables, as a resolver on a machine with a
// known hosts file would.
type fakeNames struct{}

func (fakeNames) Host4(a netip.Addr) string {
	switch a.String() {
	case "127.0.0.1":
		return "localhost"
	case "127.0.0.5":
		return "this-is-a-very-long-hostname.example.com"
	}
	return a.String()
}
func (fakeNames) Host6(a netip.Addr) string {
	if a == netip.IPv6Loopback() {
		return "localhost"
	}
	return a.String()
}
func (fakeNames) Service(port uint16, proto string) (string, bool) {
	switch {
	case port == 2049:
		return "nfs", true
	case port == 8080 && proto == "tcp":
		return "http-alt", true
	case port == 1 && proto == "raw":
		return "icmp", true
	}
	return "", false
}
func (fakeNames) User(uid int64) (string, bool) {
	if uid == 0 {
		return "root", true
	}
	return "", false
}

type fakeOwners map[uint64]snapshot.Owner

func (f fakeOwners) Lookup(ino uint64) (snapshot.Owner, bool) { o, ok := f[ino]; return o, ok }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestInetRow(t *testing.T) {
	tcp := func(l, r string, state conn.State) snapshot.Socket {
		return snapshot.Socket{Proto: snapshot.ProtoTCP, Family: snapshot.FamilyInet, Local: ap(l), Remote: ap(r), State: uint8(state), UID: 0, Inode: 14600}
	}
	long := tcp("127.0.0.5:2049", "127.0.0.5:45761", conn.TCPEstablished)
	tw := tcp("127.0.0.1:57402", "127.0.0.1:4444", conn.TCPTimeWait)
	tw.TimerCode, tw.TimerWhen, tw.Inode = 3, 5943, 0
	probe := tcp("127.0.0.1:39682", "127.0.0.1:6000", conn.TCPEstablished)
	probe.TxQueue, probe.TimerCode, probe.TimerWhen = 2803712, 4, 564
	v6 := snapshot.Socket{Proto: snapshot.ProtoTCP, Family: snapshot.FamilyInet6,
		Local: ap("[2001:db8:1234:5678:9abc:def0:1234:5678]:12345"), Remote: ap("[::]:0"), State: uint8(conn.TCPListen)}
	udp := snapshot.Socket{Proto: snapshot.ProtoUDP, Family: snapshot.FamilyInet, Local: ap("127.0.0.1:9999"), Remote: ap("0.0.0.0:0"), State: uint8(conn.TCPClose), RxQueue: 832}
	raw := snapshot.Socket{Proto: snapshot.ProtoRaw, Family: snapshot.FamilyInet, Local: ap("0.0.0.0:1"), Remote: ap("0.0.0.0:0"), State: uint8(conn.TCPClose), RxQueue: 212992}
	withOwner := tcp("127.0.0.1:8080", "0.0.0.0:0", conn.TCPListen)
	owners := fakeOwners{14600: {PID: 9558, Name: "averyveryverylongprogramname"}}
	evil := tcp("127.0.0.1:8080", "0.0.0.0:0", conn.TCPListen)
	evil.Inode = 7
	owners[7] = snapshot.Owner{PID: 1, Name: "a\x1b[2Jb"}

	numeric := ClassicOptions{NumericHosts: true, NumericPorts: true, NumericUsers: true, NumericHost6: netip.Addr.String}
	tests := []struct {
		name string
		opt  ClassicOptions
		s    snapshot.Socket
		want string
	}{
		{"truncated names", ClassicOptions{}, long,
			"tcp        0      0 this-is-a-very-long:nfs this-is-a-very-lo:45761 ESTABLISHED\n"},
		{"wide", ClassicOptions{Wide: true}, long,
			"tcp        0      0 this-is-a-very-long-hostname.example.com:nfs this-is-a-very-long-hostname.example.com:45761 ESTABLISHED\n"},
		{"timewait timer", ClassicOptions{NumericHosts: true, NumericPorts: true, Timers: true}, tw,
			"tcp        0      0 127.0.0.1:57402         127.0.0.1:4444          TIME_WAIT   timewait (59.43/0/0)\n"},
		{"probe and wide queue", ClassicOptions{NumericHosts: true, NumericPorts: true, Timers: true}, probe,
			"tcp        0 2803712 127.0.0.1:39682         127.0.0.1:6000          ESTABLISHED probe (5.64/0/0)\n"},
		{"v6 truncation", numeric, v6,
			"tcp6       0      0 2001:db8:1234:567:12345 :::*                    LISTEN     \n"},
		{"v6 unspecified by name", ClassicOptions{NumericPorts: true}, v6,
			"tcp6       0      0 2001:db8:1234:567:12345 [::]:*                  LISTEN     \n"},
		{"udp no state", numeric, udp,
			"udp      832      0 127.0.0.1:9999          0.0.0.0:*                          \n"},
		{"raw by protocol name", ClassicOptions{}, raw,
			"raw   212992      0 0.0.0.0:icmp            0.0.0.0:*               7          \n"},
		{"extend and program cut", ClassicOptions{Extend: true, Programs: true}, withOwner,
			"tcp        0      0 localhost:http-alt      0.0.0.0:*               LISTEN      root       14600      9558/averyveryveryl \n"},
		{"no owner", ClassicOptions{Programs: true}, tw,
			"tcp        0      0 localhost:57402         localhost:4444          TIME_WAIT   -                   \n"},
		{"escaped program", ClassicOptions{Programs: true, NumericHosts: true, NumericPorts: true}, evil,
			"tcp        0      0 127.0.0.1:8080          0.0.0.0:*               LISTEN      1/a\\x1b[2Jb         \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClassic(tt.opt, fakeNames{}, owners)
			if got := string(c.InetRow(&tt.s)); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	c := NewClassic(ClassicOptions{All: true, Extend: true, Programs: true, Timers: true}, fakeNames{}, nil)
	want := "Active Internet connections (servers and established)\n" +
		"Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode      PID/Program name     Timer\n"
	if got := string(c.InetHeader()); got != want {
		t.Errorf("inet header\n%q\nwant\n%q", got, want)
	}
	c = NewClassic(ClassicOptions{Listening: true, Programs: true}, fakeNames{}, nil)
	want = "Active UNIX domain sockets (only servers)\n" +
		"Proto RefCnt Flags       Type       State         I-Node   PID/Program name     Path\n"
	if got := string(c.UnixHeader()); got != want {
		t.Errorf("unix header\n%q\nwant\n%q", got, want)
	}
}

func TestUnixRow(t *testing.T) {
	listen := snapshot.Socket{Proto: snapshot.ProtoUnix, Family: snapshot.FamilyUnix, RefCount: 2, Flags: 0x10000, Type: 1, State: 1, Inode: 15557, Path: "@abstract-listener", HasInode: true}
	unnamed := snapshot.Socket{Proto: snapshot.ProtoUnix, Family: snapshot.FamilyUnix, RefCount: 3, Type: 1, State: 3, Inode: 15563, HasInode: true}
	dgram := snapshot.Socket{Proto: snapshot.ProtoUnix, Family: snapshot.FamilyUnix, RefCount: 2, Type: 2, State: 1, Inode: 15559, Path: "/run/demo/dgram.sock", HasInode: true}
	hostile := dgram
	hostile.Path = "/tmp/\x07bell"
	tests := []struct {
		s    snapshot.Socket
		want string
	}{
		{listen, "unix  2      [ ACC ]     STREAM     LISTENING     15557    @abstract-listener\n"},
		{unnamed, "unix  3      [ ]         STREAM     CONNECTED     15563    \n"},
		{dgram, "unix  2      [ ]         DGRAM                    15559    /run/demo/dgram.sock\n"},
		{hostile, "unix  2      [ ]         DGRAM                    15559    /tmp/\\x07bell\n"},
	}
	c := NewClassic(ClassicOptions{All: true}, fakeNames{}, nil)
	for i, tt := range tests {
		if got := string(c.UnixRow(&tt.s)); got != tt.want {
			t.Errorf("%d: got\n%q\nwant\n%q", i, got, tt.want)
		}
	}
}

func TestEscape(t *testing.T) {
	tests := map[string]string{
		"python3":        "python3",
		"café":           "café",
		"a\x1bb":         `a\x1bb`,
		"\x7f":           `\x7f`,
		"\xc2\x9b31m":    `\xc2\x9b31m`, // C1 CSI
		"bad\xffutf8":    `bad\xffutf8`,
		`back\slash`:     `back\slash`,
		"tab\tnewline\n": `tab\x09newline\x0a`,
	}
	for in, want := range tests {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkInetRowNumeric(b *testing.B) {
	c := NewClassic(ClassicOptions{NumericHosts: true, NumericPorts: true, NumericUsers: true, All: true, NumericHost6: netip.Addr.String}, fakeNames{}, nil)
	s := snapshot.Socket{Proto: snapshot.ProtoTCP, Family: snapshot.FamilyInet, Local: ap("127.0.0.1:40000"), Remote: ap("127.0.0.1:55436"), State: uint8(conn.TCPEstablished)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Inode = uint64(i)
		_ = c.InetRow(&s)
	}
	_ = strconv.Itoa
}
