package names

import (
	"math"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// referenceInetNetwork is glibc's inet_network in the cgo build, nil
// without cgo.
var referenceInetNetwork func(string) uint32

// hostsFixture is also the private /etc/hosts of the network namespace
// tests (netns_test.go), where glibc gives the answers hostsTests expect.
var hostsFixture = testFileMarker + `
10.0.0.1 first-a alias-a
10.0.0.1 second-a
::ffff:10.0.0.2 mapped-v4
::1 ns-loopback ip6-loopback
127.0.0.1 localhost
10.0.0.3
10.0.0.4 name4 # comment
10.0.0.10 #name10
   10.0.0.11	tabbed   trailing
2001:db8::1 v6host.example
10.0.0.5 ` + strings.Repeat("a", 126) + `.com
2001:db8::2 ` + strings.Repeat("a", 126) + `.com
2001:db8::3 ` + strings.Repeat("b", 123) + `.com
fe80::1%eth0 zoned
010.0.0.7 leadingzero
10.0.0.9 v4only
::1.2.3.4 v4compat
::ffff:10.0.0.20 host.example
::ffff:10.0.0.21 ab:cd.ef
2001:db8::4 
#10.0.0.12 commented
10.0.0.13
`

// hostsTests are gethostbyaddr answers for hostsFixture, as glibc 2.36
// gives them.
var hostsTests = []struct {
	addr  string
	name  string
	found bool
}{
	{"10.0.0.1", "first-a", true}, // first matching line wins
	{"10.0.0.2", "mapped-v4", true},
	{"127.0.0.1", "ns-loopback", true}, // "::1" counts as 127.0.0.1 for IPv4
	{"10.0.0.3", "", true},             // a line without a name
	{"10.0.0.4", "name4", true},
	{"10.0.0.10", "", true},
	{"10.0.0.11", "tabbed", true},
	{"10.0.0.5", strings.Repeat("a", 126) + ".com", true},
	{"10.0.0.7", "", false}, // inet_pton rejects "010.0.0.7"
	{"10.0.0.9", "v4only", true},
	{"10.0.0.12", "", false},
	{"10.0.0.13", "", true},
	{"10.0.0.20", "host.example", true},
	{"1.2.3.4", "", false}, // "::1.2.3.4" is not IPv4-mapped
	{"192.0.2.7", "", false},
	{"2001:db8::1", "v6host.example", true},
	{"2001:db8::2", strings.Repeat("a", 126) + ".com", true},
	{"::ffff:10.0.0.2", "mapped-v4", true},
	{"::1", "ns-loopback", true},
	{"::ffff:127.0.0.1", "", false}, // IPv4 lines never name IPv6 addresses
	{"::ffff:10.0.0.9", "", false},
	{"::1.2.3.4", "v4compat", true},
	{"fe80::1", "", false}, // the zoned line is not an address
	{"2001:db8::4", "", true},
	{"2001:db8::99", "", false},
}

func TestHostsLookup(t *testing.T) {
	for _, tt := range hostsTests {
		name, found, err := hostsLookup(strings.NewReader(hostsFixture), netip.MustParseAddr(tt.addr))
		if err != nil || name != tt.name || found != tt.found {
			t.Errorf("hostsLookup(%s) = %q, %v, %v; want %q, %v", tt.addr, name, found, err, tt.name, tt.found)
		}
	}
}

func TestHostsLookupReadError(t *testing.T) {
	r := iotest.TimeoutReader(strings.NewReader("10.0.0.1 a\n"))
	if _, _, err := hostsLookup(iotest.OneByteReader(r), netip.MustParseAddr("10.9.9.9")); err == nil {
		t.Error("hostsLookup on a failing reader: no error")
	}
}

// networksFixture is also the private /etc/networks of the namespace tests.
var networksFixture = testFileMarker + `
net012 0.1.2
netx 0x0.2.0.0
net3 0.3.0.0 alias3
net4	0.4.5.6 # comment
net5 0.5.0.0
net5b 0.5.0.0
octal 0.010
loopback 127.0.0.0
broken 0.6.0.300
`

func TestNetworksLookup(t *testing.T) {
	tests := []struct {
		net   uint32
		name  string
		found bool
	}{
		{0x00010200, "net012", true}, // "0.1.2" is padded to "0.1.2.0"
		{0x00020000, "netx", true},
		{0x00030000, "net3", true},
		{0x00040506, "net4", true},
		{0x00050000, "net5", true},
		{0x00080000, "octal", true},
		{0x7f000000, "loopback", true},
		{0x00060000, "", false},
		{0x00090909, "", false},
	}
	for _, tt := range tests {
		name, found, err := networksLookup(strings.NewReader(networksFixture), tt.net)
		if err != nil || name != tt.name || found != tt.found {
			t.Errorf("networksLookup(%#08x) = %q, %v, %v; want %q, %v", tt.net, name, found, err, tt.name, tt.found)
		}
	}
}

var inetNetworkTests = []struct {
	in   string
	want uint32
}{
	{"0.1.2.0", 0x00010200},
	{"127.0.0.0", 0x7f000000},
	{"10", 10},
	{"10.1", 0x0a01},
	{"0x0.2.0.0", 0x00020000},
	{"0X1f.0.0.0", 0x1f000000},
	{"010.0.0.0", 0x08000000},
	{"08.0.0.0", math.MaxUint32},
	{"0.0.0.256", math.MaxUint32},
	{"1.2.3.4.5", math.MaxUint32},
	{"1.2.3.4 ", 0x01020304},
	{"1.2.3.4 x", math.MaxUint32},
	{"", math.MaxUint32},
	{"x", math.MaxUint32},
	{"0x", math.MaxUint32},
	{"1..2", math.MaxUint32},
	{"4294967297.0.0.0", 0x01000000}, // 32-bit wrap-around, as in C
}

func TestInetNetwork(t *testing.T) {
	for _, tt := range inetNetworkTests {
		if got := inetNetwork(tt.in); got != tt.want {
			t.Errorf("inetNetwork(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
		if referenceInetNetwork != nil {
			if ref := referenceInetNetwork(tt.in); ref != tt.want {
				t.Errorf("glibc inet_network(%q) = %#x, table says %#x", tt.in, ref, tt.want)
			}
		}
	}
}

func FuzzInetNetwork(f *testing.F) {
	for _, tt := range inetNetworkTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := inetNetwork(s)
		if referenceInetNetwork != nil && !strings.ContainsRune(s, 0) {
			if want := referenceInetNetwork(s); got != want {
				t.Fatalf("inetNetwork(%q) = %#x, glibc inet_network = %#x", s, got, want)
			}
		}
	})
}

func TestStrtoul(t *testing.T) {
	tests := []struct {
		in   string
		base int
		v    uint64
		end  int
	}{
		{"22/tcp", 0, 22, 2},
		{"0x16/tcp", 0, 22, 4},
		{"026/tcp", 0, 22, 3},
		{"0/tcp", 0, 0, 1},
		{"0x/tcp", 0, 0, 1}, // "0" is the number, "x" ends it
		{"  +7", 10, 7, 4},
		{"-1", 10, math.MaxUint64, 2},
		{"99999999999999999999999", 10, math.MaxUint64, 23},
		{"/tcp", 0, 0, 0},
		{"", 10, 0, 0},
		{"-", 10, 0, 0},
		{"12ab", 10, 12, 2},
		{"ff", 16, 255, 2},
	}
	for _, tt := range tests {
		v, end := strtoul(tt.in, tt.base)
		if v != tt.v || end != tt.end {
			t.Errorf("strtoul(%q, %d) = %d, %d; want %d, %d", tt.in, tt.base, v, end, tt.v, tt.end)
		}
	}
}

// servicesFixture and protocolsFixture are also the private
// /etc/services and /etc/protocols of the namespace tests, where glibc's
// getservent and getprotoent must give the answers serviceTests expect.
var servicesFixture = testFileMarker + `
ssh		22/tcp				# SSH Remote Login Protocol
domain		53/tcp
domain		53/udp
  indented	7/tcp	echo-alias
hex		0x1f40/tcp
big		65537/udp
noproto		99
slashonly	100/
bad		abc/tcp
sctpsvc		9/sctp
neg		-1/tcp
max		4294967295/tcp
toobig		4294967296/tcp
justname
first		5000/tcp
second		5000/tcp
rawsvc		1/raw
rawonly		250/raw
udponly		5000/udp
` + strings.Repeat("s", 70) + `	5002/tcp
`

var protocolsFixture = testFileMarker + `
ip	0	IP		# internet protocol, pseudo protocol number
hopopt	0	HOPOPT		# IPv6 Hop-by-Hop Option [RFC1883]
icmp	1	ICMP		# internet control message protocol
ipv6-icmp 58	IPv6-ICMP	# ICMP for IPv6
noalias	89
bad	x1
hexnot	0x3
` + strings.Repeat("p", 70) + ` 77
bigproto 65600
negproto -1
maxproto 4294967295
`

type serviceEntry struct {
	Name, Proto string
	Port        uint16
}

func TestReadServicesFile(t *testing.T) {
	var got []serviceEntry
	if err := readServicesFile(strings.NewReader(servicesFixture), func(name, proto string, port uint16) {
		got = append(got, serviceEntry{name, proto, port})
	}); err != nil {
		t.Fatal(err)
	}
	want := []serviceEntry{
		{"ssh", "tcp", 22},
		{"domain", "tcp", 53},
		{"domain", "udp", 53},
		{"indented", "tcp", 7},
		{"hex", "tcp", 8000}, // strtoul with base 0
		{"big", "udp", 1},    // htons keeps the low 16 bits
		{"noproto", "", 99},
		{"slashonly", "", 100},
		{"sctpsvc", "sctp", 9},
		{"max", "tcp", 0xffff}, // htons truncates; "-1" and 2^32 are rejected
		{"first", "tcp", 5000},
		{"second", "tcp", 5000},
		{"rawsvc", "raw", 1},
		{"rawonly", "raw", 250},
		{"udponly", "udp", 5000},
		{strings.Repeat("s", 70), "tcp", 5002},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readServicesFile (-want +got):\n%s", diff)
	}
}

func TestReadProtocolsFile(t *testing.T) {
	type entry struct {
		Name  string
		Proto uint16
	}
	var got []entry
	if err := readProtocolsFile(strings.NewReader(protocolsFixture), func(name string, proto uint16) {
		got = append(got, entry{name, proto})
	}); err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{"ip", 0}, {"hopopt", 0}, {"icmp", 1}, {"ipv6-icmp", 58}, {"noalias", 89},
		{strings.Repeat("p", 70), 77}, {"bigproto", 64}, {"maxproto", 0xffff},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readProtocolsFile (-want +got):\n%s", diff)
	}
}

// serviceTests are get_sname answers for servicesFixture and
// protocolsFixture.
var serviceTests = []struct {
	port  uint16
	proto string
	name  string
	found bool
}{
	{22, "tcp", "ssh", true},
	{53, "udp", "domain", true},
	{7, "tcp", "indented", true},
	{8000, "tcp", "hex", true},
	{1, "udp", "big", true},
	{99, "tcp", "", false},
	{100, "tcp", "", false},
	{9, "sctp", "", false},
	{9, "tcp", "", false},
	{0xffff, "tcp", "max", true},
	{5000, "tcp", "second", true}, // the last entry read wins
	{5000, "udp", "udponly", true},
	{1, "raw", "icmp", true}, // protocols come after raw services
	{250, "raw", "rawonly", true},
	{5002, "tcp", strings.Repeat("s", 63), true}, // get_sname's 64-byte buffer
	{77, "raw", strings.Repeat("p", 63), true},
	{0, "raw", "hopopt", true},
	{58, "raw", "ipv6-icmp", true},
	{64, "raw", "bigproto", true},
	{0xffff, "raw", "maxproto", true},
	{89, "raw", "noalias", true},
	{5000, "TCP", "", false},
	{22, "udp", "", false},
}

func TestServiceDB(t *testing.T) {
	db := newServiceDB()
	if err := readServicesFile(strings.NewReader(servicesFixture), db.addService); err != nil {
		t.Fatal(err)
	}
	if err := readProtocolsFile(strings.NewReader(protocolsFixture), db.addProtocol); err != nil {
		t.Fatal(err)
	}
	for _, tt := range serviceTests {
		name, found := db.lookup(tt.port, tt.proto)
		if name != tt.name || found != tt.found {
			t.Errorf("lookup(%d, %q) = %q, %v; want %q, %v", tt.port, tt.proto, name, found, tt.name, tt.found)
		}
	}
}

// passwdFixture is also the private /etc/passwd of the namespace tests.
var passwdFixture = testFileMarker + `
root:x:0:0:root:/root:/bin/bash
+compat:x:5::::
nogid:x:7:
badgid:x:8:x:::
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
second-root:x:0:0::/:/bin/sh
short:x:9:9
  spaced:x:10:10::/:
-minus:x:11:11:::
plus11:x:11:11:::
`

var passwdTests = []struct {
	uid   uint32
	name  string
	found bool
}{
	{0, "root", true},
	{1, "daemon", true},
	{5, "", false},
	{7, "", false}, // an empty gid does not parse
	{8, "", false},
	{9, "short", true},
	{10, "spaced", true},
	{11, "plus11", true},
	{12, "", false},
}

func TestPasswdLookup(t *testing.T) {
	for _, tt := range passwdTests {
		name, found, err := passwdLookup(strings.NewReader(passwdFixture), tt.uid)
		if err != nil || name != tt.name || found != tt.found {
			t.Errorf("passwdLookup(%d) = %q, %v, %v; want %q, %v", tt.uid, name, found, err, tt.name, tt.found)
		}
	}
}

// FuzzParsers feeds arbitrary text to every file parser: none may panic,
// and every name found must be a field of the input.
func FuzzParsers(f *testing.F) {
	for _, in := range []string{hostsFixture, networksFixture, servicesFixture, protocolsFixture, passwdFixture} {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		check := func(what, name string, found bool) {
			if found && name != "" && !strings.Contains(in, name) {
				t.Fatalf("%s found %q, which is not in the input", what, name)
			}
		}
		for _, a := range []string{"10.0.0.1", "127.0.0.1", "::1", "::ffff:10.0.0.2"} {
			name, found, _ := hostsLookup(strings.NewReader(in), netip.MustParseAddr(a))
			check("hostsLookup", name, found)
		}
		name, found, _ := networksLookup(strings.NewReader(in), 0x00010200)
		check("networksLookup", name, found)
		name, found, _ = passwdLookup(strings.NewReader(in), 0)
		check("passwdLookup", name, found)
		_ = readServicesFile(strings.NewReader(in), func(name, proto string, _ uint16) {
			check("readServicesFile", name, true)
			check("readServicesFile", proto, true)
		})
		_ = readProtocolsFile(strings.NewReader(in), func(name string, _ uint16) {
			check("readProtocolsFile", name, true)
		})
	})
}
