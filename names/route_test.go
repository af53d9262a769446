package names

import (
	"net/netip"
	"strings"
	"testing"
)

// routeDestTests are what netstat -r prints as Destination (before its cut
// to 15 columns) with the private hosts and networks files.
var routeDestTests = []struct {
	dest, mask string
	host       bool
	want       string
}{
	{"0.0.0.0", "0.0.0.0", false, "default"},
	{"0.0.0.0", "0.0.0.0", true, "default"},
	{"0.0.0.0", "128.0.0.0", false, "0.0.0.0"}, // not default, and no lookup
	// A network route: getnetbyaddr.
	{"127.0.0.0", "255.0.0.0", false, "loopback"},
	{"0.1.2.0", "255.255.255.0", false, "net012"},
	{"10.0.0.0", "255.0.0.0", false, "10.0.0.0"}, // no network of that name
	// The host flag: gethostbyaddr even where a network name exists.
	{"127.0.0.0", "255.0.0.0", true, "127.0.0.0"},
	{"10.0.0.1", "255.255.255.255", true, "first-a"},
	// Bits outside the mask: a host lookup.
	{"127.0.0.1", "255.0.0.0", false, "ns-loopback"},
	{"10.0.0.20", "255.255.0.0", false, "host.example"},
	{"10.0.0.1", "0.255.255.255", false, "first-a"}, // a non-contiguous mask
	{"10.0.0.5", "255.255.255.255", true, strings.Repeat("a", 126) + "."},
	{"10.0.0.3", "255.255.255.255", true, ""}, // a hosts line without a name
	{"192.0.2.9", "255.255.255.255", true, "192.0.2.9"},
}

func TestRouteDest4(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	r := New()
	for round := range 2 {
		for _, tt := range routeDestTests {
			got := r.RouteDest4(netip.MustParseAddr(tt.dest), netip.MustParseAddr(tt.mask), tt.host)
			if got != tt.want {
				t.Errorf("round %d: RouteDest4(%s, %s, host=%v) = %q, want %q", round, tt.dest, tt.mask, tt.host, got, tt.want)
			}
		}
	}
}

func TestRouteGateway4(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	r := New()
	for _, tt := range []struct{ addr, want string }{
		{"0.0.0.0", "0.0.0.0"},
		{"10.0.0.1", "first-a"},
		{"127.0.0.1", "ns-loopback"},
		{"0.1.2.0", "0.1.2.0"}, // always a host lookup, even with first octet 0
		{"192.0.2.1", "192.0.2.1"},
	} {
		if got := r.RouteGateway4(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("RouteGateway4(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	// Socket tables look 0.1.2.0 up as a network: the two share a cache
	// keyed by the kind of lookup.
	if got := r.Host4(netip.MustParseAddr("0.1.2.0")); got != "net012" {
		t.Errorf("Host4(0.1.2.0) after RouteGateway4 = %q, want net012", got)
	}
	for _, tt := range []struct {
		addr, want string
		found      bool
	}{
		{"127.0.0.0", "loopback", true},
		{"0.2.0.0", "netx", true},
		{"10.9.9.0", "", false},
	} {
		if got, ok := r.Net4(netip.MustParseAddr(tt.addr)); got != tt.want || ok != tt.found {
			t.Errorf("Net4(%s) = %q, %v; want %q, %v", tt.addr, got, ok, tt.want, tt.found)
		}
	}
}

// TestRouteCache checks the host-or-network rule on a seeded cache: no
// lookup happens.
func TestRouteCache(t *testing.T) {
	r := New()
	r.host4 = map[host4Key]string{
		{addr: [4]byte{10, 1, 0, 0}, host: false}: "seeded-net",
		{addr: [4]byte{10, 1, 0, 0}, host: true}:  "seeded-host",
		{addr: [4]byte{10, 1, 2, 3}, host: true}:  "seeded-host-2",
	}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"network route", r.RouteDest4(netip.MustParseAddr("10.1.0.0"), netip.MustParseAddr("255.255.0.0"), false), "seeded-net"},
		{"host flag", r.RouteDest4(netip.MustParseAddr("10.1.0.0"), netip.MustParseAddr("255.255.0.0"), true), "seeded-host"},
		{"host bits", r.RouteDest4(netip.MustParseAddr("10.1.0.0"), netip.MustParseAddr("255.0.0.0"), false), "seeded-host"}, // 0.1.0.0 outside the mask
		{"host bits set", r.RouteDest4(netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("255.255.0.0"), false), "seeded-host-2"},
		{"gateway", r.RouteGateway4(netip.MustParseAddr("10.1.0.0")), "seeded-host"},
		{"mapped", r.RouteGateway4(netip.MustParseAddr("::ffff:10.1.0.0")), "seeded-host"},
		{"socket table", r.Host4(netip.MustParseAddr("10.1.0.0")), "seeded-host"},
		{"default", r.RouteDest4(netip.IPv4Unspecified(), netip.IPv4Unspecified(), false), "default"},
		{"no mask", r.RouteDest4(netip.IPv4Unspecified(), netip.Addr{}, false), "default"},
		{"zero gateway", r.RouteGateway4(netip.IPv4Unspecified()), "0.0.0.0"},
		{"IPv6", r.RouteDest4(netip.MustParseAddr("2001:db8::1"), netip.Addr{}, false), "2001:db8::1"},
		{"IPv6 gateway", r.RouteGateway4(netip.MustParseAddr("2001:db8::1")), "2001:db8::1"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if _, ok := r.Net4(netip.MustParseAddr("2001:db8::1")); ok {
		t.Error("Net4 of an IPv6 address: found")
	}
}
