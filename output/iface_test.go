package output

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/names"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

func TestByteUnit(t *testing.T) {
	for _, tt := range []struct {
		v    uint64
		want string
	}{
		{0, "0.0 B"}, {360, "360.0 B"}, {1024, "1024.0 B"}, {1025, "1.0 KiB"}, {41392, "40.4 KiB"},
		{93764, "91.5 KiB"}, {1048576, "1024.0 KiB"}, {48261749, "46.0 MiB"}, {1 << 30, "1024.0 MiB"},
		{1<<30 + 1, "1.0 GiB"}, {1<<40 + 1, "1.0 TiB"}, {1<<50 + 1, "1.0 PiB"}, {1<<60 + 1, "1.0 EiB"},
		// The EiB branch divides by 2^60/10 rounded down, never by
		// 2^60: 2^64-1 is 16.0 EiB.
		{^uint64(0), "16.0 EiB"},
		{1152921504606846976, "1024.0 PiB"},
	} {
		if got := byteUnit(tt.v); got != tt.want {
			t.Errorf("byteUnit(%d) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, tt := range []struct {
		flags   uint16
		letters string
		names   string
	}{
		{0x1043, "BMRU", "UP,BROADCAST,RUNNING,MULTICAST"},
		{0x49, "LRU", "UP,LOOPBACK,RUNNING"},
		{0x1091, "MOPU", "UP,POINTOPOINT,NOARP,MULTICAST"},
		{0x1102, "BMP", "BROADCAST,PROMISC,MULTICAST"},
		{0xffff, "ABDLMdPNOPsmRU", "UP,BROADCAST,DEBUG,LOOPBACK,POINTOPOINT,NOTRAILERS,RUNNING,NOARP,PROMISC,ALLMULTI,SLAVE,MASTER,MULTICAST,DYNAMIC"},
		{0, "[NO FLAGS]", ""},
		{0x2000, "", ""}, // PORTSEL has no letter or name
	} {
		if got := FlagLetters(tt.flags); got != tt.letters {
			t.Errorf("FlagLetters(%#x) = %q, want %q", tt.flags, got, tt.letters)
		}
		if got := strings.Join(FlagNames(tt.flags), ","); got != tt.names {
			t.Errorf("FlagNames(%#x) = %q, want %q", tt.flags, got, tt.names)
		}
	}
}

func isStats(rx, tx uint64) *snapshot.NetDevStats {
	return &snapshot.NetDevStats{RxPackets: 1, RxBytes: rx, TxPackets: 2, TxBytes: tx, RxCompressed: 3, TxCompressed: 4}
}

const isStatsBlock = "        RX packets 1  bytes 360 (360.0 B)\n        RX errors 0  dropped 0  overruns 0  frame 0\n" +
	"        TX packets 2  bytes 41392 (40.4 KiB)\n        TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0\n"

// TestInterfaceLong covers what the fixture namespace cannot make: other
// hardware types, flags=0, the media and device lines, SLIP's outfill and
// compressed counters, failed address ioctls. The texts follow
// lib/interface.c and lib/*.c of net-tools 2.10.
func TestInterfaceLong(t *testing.T) {
	r := NewInterfaces(InterfaceOptions{Long: true, Host6: names.NumericHost6})
	inet := func(a, b, c, d byte) snapshot.Sockaddr4 {
		return snapshot.Sockaddr4{Family: 2, Addr: [4]byte{a, b, c, d}}
	}
	tests := []struct {
		name string
		ifc  snapshot.Interface
		want string
	}{
		{
			name: "flags 0, tunnel type, no statistics",
			ifc:  snapshot.Interface{Name: "ipip0", IfConfig: snapshot.IfConfig{HWType: 768, MTU: 1480, TxQueueLen: -1}},
			want: "ipip0: flags=0<  mtu 1480\n        tunnel   (IPIP Tunnel)\n\n",
		},
		{
			name: "flags without names, sit",
			ifc:  snapshot.Interface{Name: "sit0", IfConfig: snapshot.IfConfig{Flags: 0x2000, HWType: 776, MTU: 1480, TxQueueLen: 1000}},
			want: "sit0: flags=8192  mtu 1480\n        sit  txqueuelen 1000  (IPv6-in-IPv4)\n        media unknown\n\n",
		},
		{
			name: "gre (not in the table): unspec with the first 8 bytes",
			ifc: snapshot.Interface{Name: "gre1", IfConfig: snapshot.IfConfig{
				Flags: 0x91, HWType: 778, HWAddr: [8]byte{10, 0, 0, 1, 0xab}, MTU: 1476, TxQueueLen: 1000,
				HasIPv4: true, Addr: inet(10, 9, 0, 1), Netmask: inet(255, 255, 255, 252), DstAddr: inet(10, 9, 0, 2),
			}, Stats: isStats(360, 41392)},
			want: "gre1: flags=145<UP,POINTOPOINT,NOARP>  mtu 1476\n" +
				"        inet 10.9.0.1  netmask 255.255.255.252  destination 10.9.0.2\n" +
				"        unspec 0A-00-00-01-AB-00-00-00-00-00-00-00-00-00-00-00  txqueuelen 1000  (UNSPEC)\n" + isStatsBlock + "\n",
		},
		{
			name: "cslip: outfill, keepalive, compressed counters",
			ifc: snapshot.Interface{Name: "sl0", IfConfig: snapshot.IfConfig{
				Flags: 0x11, HWType: 257, MTU: 296, TxQueueLen: 10, Outfill: 5, Keepalive: 30,
			}, Stats: isStats(360, 41392)},
			want: "sl0: flags=17<UP,POINTOPOINT>  mtu 296  outfill 5  keepalive 30\n        cslip  txqueuelen 10  (VJ Serial Line IP)\n" +
				"        RX packets 1  bytes 360 (360.0 B)\n        RX compressed:3\n        RX errors 0  dropped 0  overruns 0  frame 0\n" +
				"        TX packets 2  bytes 41392 (40.4 KiB)\n        TX compressed 4\n        TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0\n\n",
		},
		{
			name: "device line, media autoselect, failed broadcast ioctl",
			ifc: snapshot.Interface{Name: "eth9", IfConfig: snapshot.IfConfig{
				Flags: 0x1043 | 0x2000 | 0x4000, HWType: 1, HWAddr: [8]byte{0, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}, MTU: 1500, TxQueueLen: 1000,
				Map:     snapshot.IfMap{IRQ: 17, BaseAddr: 0xe000, MemStart: 0xfe9e0000, MemEnd: 0xfea00000, DMA: 3, Port: 2},
				HasIPv4: true, Addr: inet(192, 0, 2, 2), Netmask: inet(255, 255, 255, 0),
			}},
			want: "eth9: flags=28739<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n" +
				"        inet 192.0.2.2  netmask 255.255.255.0  broadcast [NONE SET]\n" +
				"        ether 00:1b:21:aa:bb:cc  txqueuelen 1000  (Ethernet)\n" +
				"        media 10baseTautoselect\n" +
				"        device interrupt 17  base 0xe000  memory 0xfe9e0000-fea00000    dma 0x3\n\n",
		},
		{
			name: "negative flags, ppp, base below 0x100 alone prints no device line",
			ifc: snapshot.Interface{Name: "ppp0", IfConfig: snapshot.IfConfig{
				Flags: 0x8000 | 0x10d1, HWType: 512, MTU: 1500, TxQueueLen: 3, Map: snapshot.IfMap{BaseAddr: 0xff},
			}},
			want: "ppp0: flags=-28463<UP,POINTOPOINT,RUNNING,NOARP,MULTICAST,DYNAMIC>  mtu 1500\n        ppp  txqueuelen 3  (Point-to-Point Protocol)\n\n",
		},
		{
			name: "other address formats",
			ifc:  snapshot.Interface{Name: "fddi0", IfConfig: snapshot.IfConfig{Flags: 1, HWType: 774, HWAddr: [8]byte{1, 2, 3, 4, 5, 0xf6}, TxQueueLen: -1}},
			want: "fddi0: flags=1<UP>  mtu 0\n        fddi 01-02-03-04-05-F6  (Fiber Distributed Data Interface)\n\n",
		},
		{
			name: "ARPHRD_NETROM is 0",
			ifc:  snapshot.Interface{Name: "nr0", IfConfig: snapshot.IfConfig{Flags: 1, HWType: 0, HWAddr: [8]byte{'N' << 1, '0' << 1, 'C' << 1, 'A' << 1, 'L' << 1, ' ' << 1, 7 << 1}, TxQueueLen: -1}},
			want: "nr0: flags=1<UP>  mtu 0\n        netrom N0CAL-7  (AMPR NET/ROM)\n\n",
		},
		{
			name: "irda and dlci",
			ifc:  snapshot.Interface{Name: "irda0", IfConfig: snapshot.IfConfig{Flags: 1, HWType: 783, HWAddr: [8]byte{0x80, 1, 2, 3}, TxQueueLen: -1}},
			want: "irda0: flags=1<UP>  mtu 0\n        irda 03:02:01:ff  (IrLAP)\n\n",
		},
		{
			name: "escaped name",
			ifc:  snapshot.Interface{Name: "ev\x1bil", IfConfig: snapshot.IfConfig{Flags: 1, HWType: 772, TxQueueLen: -1}},
			want: "ev\\x1bil: flags=1<UP>  mtu 0\n        loop  (Local Loopback)\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(r.Row(&tt.ifc, nil)); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
	if got := printDLCI([]byte{0x10, 0x80}); got != "-32752" {
		t.Errorf("printDLCI = %q", got)
	}
	if got := inet4Text(snapshot.Sockaddr4{Family: 10}); got != "(null)" {
		t.Errorf("a non-AF_INET address: %q", got)
	}
}

func TestInterfaceShort(t *testing.T) {
	r := NewInterfaces(InterfaceOptions{})
	s := &snapshot.NetDevStats{RxPackets: 912, RxErrors: 1, RxDropped: 2, RxFIFO: 3, TxPackets: 123456789, TxErrors: 4, TxDropped: 5, TxFIFO: 6}
	for _, tt := range []struct {
		ifc  snapshot.Interface
		want string
	}{
		{snapshot.Interface{Name: "lo", IfConfig: snapshot.IfConfig{Flags: 0x49, MTU: 65536}, Stats: s},
			"lo              65536      912      1      2 3      123456789      4      5      6 LRU\n"},
		{snapshot.Interface{Name: "averylongifnam0", IfConfig: snapshot.IfConfig{Flags: 0x1043, MTU: 1500}},
			"averylongifnam0  1500      - no statistics available -                        BMRU\n"},
		{snapshot.Interface{Name: "sixteen-bytes-xx", IfConfig: snapshot.IfConfig{MTU: 123456}},
			"sixteen-bytes-x 123456      - no statistics available -                        [NO FLAGS]\n"},
	} {
		if got := string(r.Row(&tt.ifc, nil)); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// TestInterfaceInet6 replays ife_print_long's if_inet6 loop.
func TestInterfaceInet6(t *testing.T) {
	r := NewInterfaces(InterfaceOptions{Long: true, Host6: names.NumericHost6})
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	lines := []snapshot.IfInet6{
		{Addr: a("::1"), AddrOK: true, PrefixLen: 128, Scope: 0x10, Device: "lo", Fields: 13},
		{Addr: a("::10.1.2.3"), AddrOK: true, PrefixLen: 96, Scope: 0xa0, Device: "lo", Fields: 13},
		{Addr: a("::ffff:10.0.0.1"), AddrOK: true, PrefixLen: 64, Scope: 0, Device: "lo", Fields: 13},
		{Addr: a("fec0::1"), AddrOK: true, PrefixLen: 64, Scope: 0x40, Device: "v0", Fields: 13},
		// A short line: the scope was not read, so the loop's variable
		// (0x20 after the compat line above subtracted 0x80) stays; the
		// address did not parse, so the previous one stays.
		{AddrOK: false, PrefixLen: 64, Scope: 0xa0, Device: "lo", Fields: 10},
	}
	ifc := snapshot.Interface{Name: "lo", IfConfig: snapshot.IfConfig{Flags: 0x49, HWType: 772, MTU: 65536, TxQueueLen: 1000}}
	want := "lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536\n" +
		"        inet6 ::1  prefixlen 128  scopeid 0x10<host>\n" +
		"        inet6 ::10.1.2.3  prefixlen 96  scopeid 0xa0<compat,link>\n" +
		"        inet6 10.0.0.1  prefixlen 64  scopeid 0x0<global>\n" +
		"        inet6 10.0.0.1  prefixlen 64  scopeid 0x40<site>\n" +
		"        loop  txqueuelen 1000  (Local Loopback)\n\n"
	if got := string(r.Row(&ifc, lines)); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestInterfaceJSON(t *testing.T) {
	ifc := snapshot.Interface{Name: "v0:1", IfConfig: snapshot.IfConfig{
		Flags: 0x1043, HWType: 1, HWAddr: [8]byte{2, 0, 0, 0, 0, 0x50}, MTU: 1500, TxQueueLen: 1000,
		HasIPv4: true, Addr: snapshot.Sockaddr4{Family: 2, Addr: [4]byte{192, 168, 50, 9}},
		Netmask: snapshot.Sockaddr4{Family: 2, Addr: [4]byte{255, 255, 255, 0}}, BroadAddr: snapshot.Sockaddr4{Family: 2},
	}}
	short := NewInterfaceJSON(&ifc, nil, nil, false, names.NumericHost6)
	if short.RxOK != nil || short.Inet != nil || short.Flags != "BMRU" || len(short.FlagNames) != 4 {
		t.Errorf("short: %+v", short)
	}
	long := NewInterfaceJSON(&ifc, nil, nil, true, names.NumericHost6)
	if long.Inet == nil || long.Inet.Broadcast != "0.0.0.0" || long.HWAddress != "02:00:00:00:00:50" || *long.FlagsValue != 4163 || *long.TxQueueLen != 1000 {
		t.Errorf("long: %+v", long)
	}
}
