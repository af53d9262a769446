package snapshot

import (
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cmpRoute = cmpopts.EquateComparable(netip.Addr{})

// routeHeader4 is the header line of /proc/net/route.
const routeHeader4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"

func ip4(s string) netip.Addr { return netip.MustParseAddr(s) }

// readRoutes parses text as table t, with the cache layout guessed first.
func readRoutes(t RouteTable, text string, ipv6Cache bool) ([]Route, error) {
	r := newRouteReader(t, "/proc/net/"+t.File(), strings.NewReader(text))
	r.IPv6Cache = ipv6Cache
	if t == RouteCache4 {
		if _, err := r.GuessCacheLayout(); err != nil {
			return nil, err
		}
	}
	var got []Route
	err := r.Each(func(rt *Route) { got = append(got, *rt) })
	return got, err
}

func TestFIB4(t *testing.T) {
	any4 := ip4("0.0.0.0")
	tests := []struct {
		name, text string
		want       []Route
		err        string
	}{
		{
			name: "v4",
			text: routeHeader4 +
				"eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n" +
				"eth0\t0002A8C0\t00000000\t0001\t1\t2\t0\t00FFFFFF\t1400\t32000\t50\n",
			want: []Route{
				{Family: FamilyInet, Iface: "eth0", Dest: any4, Gateway: ip4("192.168.2.1"), Mask: any4, Flags: 3, Metric: 100},
				{Family: FamilyInet, Iface: "eth0", Dest: ip4("192.168.2.0"), Gateway: any4, Mask: ip4("255.255.255.0"),
					Flags: 1, RefCnt: 1, Use: 2, MTU: 1400, Window: 32000, IRTT: 50},
			},
		},
		{name: "header only", text: routeHeader4},
		{name: "empty", text: "", err: "no header line"},
		{
			name: "missing field",
			text: strings.Replace(routeHeader4, "Metric", "Metrik", 1),
			err:  "/proc/net/route does not contain required field Metric",
		},
		{
			// Columns are matched in order: an early Destination is a %*s.
			name: "reordered",
			text: "Destination\tIface\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n",
			err:  "/proc/net/route does not contain required field Destination",
		},
		{
			name: "extra columns",
			text: "Iface|X|Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT Y\n" +
				"lo x 0000007F 00000000 1 2 3 4 000000FF 5 6 7 y\n",
			want: []Route{{Family: FamilyInet, Iface: "lo", Dest: ip4("127.0.0.0"), Gateway: any4, Mask: ip4("255.0.0.0"),
				Flags: 1, RefCnt: 2, Use: 3, Metric: 4, MTU: 5, Window: 6, IRTT: 7}},
		},
		{
			name: "broken lines",
			text: routeHeader4 +
				"a\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t77\n" +
				// 10 values: IRTT stays 77
				"b\t0000140A\t00000000\t0001\t0\t0\t0\t0000FFFF\t1\t2\n" +
				// not up, short, blank: skipped
				"c\t0000150A\t00000000\t0000\t0\t0\t0\t0000FFFF\t0\t0\t0\n" +
				"d\t0000160A\n" +
				"\n" +
				// an address that does not parse keeps the previous one
				"e\tzzzzzzzz\t0A\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n" +
				// C ints
				"f\t0000190A\t00000000\t0x3\t-5\t99999999999\t4294967295\t0000FFFF\t-1\t2147483648\t0\n",
			want: []Route{
				{Family: FamilyInet, Iface: "a", Dest: ip4("10.0.0.0"), Gateway: any4, Mask: ip4("255.0.0.0"), Flags: 1, IRTT: 77},
				{Family: FamilyInet, Iface: "b", Dest: ip4("10.20.0.0"), Gateway: any4, Mask: ip4("255.255.0.0"), Flags: 1, MTU: 1, Window: 2, IRTT: 77},
				{Family: FamilyInet, Iface: "e", Dest: ip4("10.20.0.0"), Gateway: any4, Mask: ip4("255.255.0.0"), Flags: 1, IRTT: 0},
				{Family: FamilyInet, Iface: "f", Dest: ip4("10.25.0.0"), Gateway: any4, Mask: ip4("255.255.0.0"), Flags: 3,
					RefCnt: -5, Use: 1215752191, Metric: -1, MTU: -1, Window: -2147483648},
			},
		},
		{
			// %15s: a longer name spills into the next column.
			name: "long interface",
			text: routeHeader4 + "averyveryverylongname\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n",
			want: nil, // "ame" is read as the destination, then every column shifts: Flags = 0 (the gateway's text)
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRoutes(RouteFIB4, tt.text, false)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpRoute); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRouteErrors(t *testing.T) {
	_, err := readRoutes(RouteFIB4, "", false)
	if !errors.Is(err, ErrNoRouteHeader) {
		t.Errorf("empty file: %v, want ErrNoRouteHeader", err)
	}
	_, err = readRoutes(RouteFIB4, "Iface\n", false)
	var fe *RouteFieldError
	if !errors.As(err, &fe) || fe.Field != "Destination" {
		t.Errorf("header without Destination: %v", err)
	}
	if _, err := NewFS(t.TempDir()).OpenRoutes(RouteFIB4); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := NewFS(t.TempDir()).OpenRoutes(RouteTable(99)); err == nil {
		t.Error("unknown table: no error")
	}
}

func TestCache4(t *testing.T) {
	const h22 = "Iface\tDestination\tGateway \tFlags\t\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow\tIRTT\tTOS\tHHRef\tHHUptod\tSpecDst\n"
	const h20 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow\tIRTT\tHH\tARP\n"
	lo := ip4("127.0.0.1")
	tests := []struct {
		name, text string
		layout     RouteCacheLayout
		want       []Route
	}{
		{name: "2.2 header only", text: h22, layout: RouteCacheLayout22},
		{
			name:   "2.2",
			layout: RouteCacheLayout22,
			text: h22 +
				"eth0\t0100007F\t00000000\t80000000\t1\t2\t3\t0500007F\t4\t5\t6\t10\t-1\t1\t0100007F\n" +
				// 12 values: SpecDst keeps the address parsed before it
				"eth0\t0200007F\t00000000\t0002\t0\t0\t0\t0600007F\t0\t0\t0\t0\n" +
				// 11 values: skipped
				"eth0\t0300007F\t00000000\t0002\t0\t0\t0\t0700007F\t0\t0\t0\n" +
				// addresses that do not parse: the one parsed before
				"eth1\tzz\t0800007F\t0\t0\t0\t0\tqq\t0\t0\t0\t0\t0\t0\txx\n",
			want: []Route{
				{Family: FamilyInet, Iface: "eth0", Dest: lo, Gateway: ip4("0.0.0.0"), Source: ip4("127.0.0.5"), SpecDst: lo,
					Flags: 0x80000000, RefCnt: 1, Use: 2, Metric: 3, MTU: 4, Window: 5, IRTT: 6, TOS: 10, HHRef: -1, HHUptod: 1},
				{Family: FamilyInet, Iface: "eth0", Dest: ip4("127.0.0.2"), Gateway: ip4("0.0.0.0"), Source: ip4("127.0.0.6"), SpecDst: ip4("127.0.0.6"),
					Flags: 2, TOS: 0, HHRef: -1, HHUptod: 1},
				{Family: FamilyInet, Iface: "eth1", Dest: ip4("127.0.0.6"), Gateway: ip4("127.0.0.8"), Source: ip4("127.0.0.8"), SpecDst: ip4("127.0.0.8"),
					HHRef: 0, HHUptod: 0},
			},
		},
		{
			name:   "2.0",
			layout: RouteCacheLayout20,
			text:   h20 + "eth0\t0100007F\t00000000\t0005\t1\t2\t3\t0100007F\t4\t5\t6\t7\t8\n",
			want: []Route{{Family: FamilyInet, Iface: "eth0", Dest: lo, Gateway: ip4("0.0.0.0"), Source: lo,
				Flags: 5, RefCnt: 1, Use: 2, Metric: 3, MTU: 4, Window: 5, IRTT: 6, HH: 7, ARP: 8}},
		},
		{name: "unknown", text: "Iface\tDestination\n" + "eth0\t0100007F\n", layout: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRoutes(RouteCache4, tt.text, false)
			if err != nil {
				t.Fatal(err)
			}
			if l := guessCacheLayout([]byte(strings.SplitN(tt.text, "\n", 2)[0])); l != tt.layout {
				t.Errorf("layout %d, want %d", l, tt.layout)
			}
			if diff := cmp.Diff(tt.want, got, cmpRoute); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := readRoutes(RouteCache4, "", false); err != io.EOF {
		t.Errorf("empty rt_cache: %v, want io.EOF (netstat's -1)", err)
	}
}

func v6line(dest, plen, next, metric, ref, use, flags, iface string) string {
	return dest + " " + plen + " " + strings.Repeat("0", 32) + " 00 " + next + " " + metric + " " + ref + " " + use + " " + flags + " " + iface + "\n"
}

func TestFIB6(t *testing.T) {
	z := strings.Repeat("0", 32)
	u := netip.IPv6Unspecified()
	gw := netip.MustParseAddr("2001:db8:50::1")
	tests := []struct {
		name, text string
		cache      bool
		want       []Route
	}{
		{name: "empty"},
		{
			name: "v6",
			text: v6line("20010db8005000000000000000000000", "40", z, "00000100", "00000002", "00000000", "00000001", "v0") +
				v6line(z, "00", "20010db8005000000000000000000001", "00000400", "00000001", "00000003", "00000003", "v0") +
				v6line(z, "00", z, "ffffffff", "00000001", "00000000", "00200200", "lo") +
				v6line("20010db8000100000000000000000000", "80", z, "0", "0", "0", "01000001", "c0"),
			want: []Route{
				{Family: FamilyInet6, Iface: "v0", Dest: netip.MustParseAddr("2001:db8:50::"), PrefixLen: 64, Gateway: u, Source: u, Flags: 1, Metric: 256, RefCnt: 2},
				{Family: FamilyInet6, Iface: "v0", Dest: u, Gateway: gw, Source: u, Flags: 3, Metric: 1024, RefCnt: 1, Use: 3},
				{Family: FamilyInet6, Iface: "lo", Dest: u, Gateway: u, Source: u, Flags: 0x200200, Metric: -1, RefCnt: 1},
			},
		},
		{
			name:  "cache view",
			cache: true,
			text: v6line("20010db8005000000000000000000000", "40", z, "00000100", "00000002", "00000000", "00000001", "v0") +
				v6line("20010db8000100000000000000000000", "80", z, "0", "0", "0", "01000001", "c0"),
			want: []Route{{Family: FamilyInet6, Iface: "c0", Dest: netip.MustParseAddr("2001:db8:1::"), PrefixLen: 128, Gateway: u, Source: u, Flags: 0x01000001}},
		},
		{
			// Every line is a row: what a broken line does not store
			// stays from the line before.
			name: "broken",
			text: v6line("20010db8005000000000000000000000", "40", z, "00000100", "00000002", "00000000", "00000001", "v0") +
				"fe80\n" +
				"\n" +
				v6line("zzzz0db8005000000000000000000000", "ff", z, "0", "0", "0", "1", "x"),
			want: []Route{
				{Family: FamilyInet6, Iface: "v0", Dest: netip.MustParseAddr("2001:db8:50::"), PrefixLen: 64, Gateway: u, Source: u, Flags: 1, Metric: 256, RefCnt: 2},
				{Family: FamilyInet6, Iface: "v0", Dest: netip.MustParseAddr("fe80:db8:50::"), PrefixLen: 64, Gateway: u, Source: u, Flags: 1, Metric: 256, RefCnt: 2},
				{Family: FamilyInet6, Iface: "v0", Dest: netip.MustParseAddr("fe80:db8:50::"), PrefixLen: 64, Gateway: u, Source: u, Flags: 1, Metric: 256, RefCnt: 2},
				{Family: FamilyInet6, Iface: "x", Dest: netip.MustParseAddr("fe80:db8:50::"), PrefixLen: 255, Gateway: u, Source: u, Flags: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRoutes(RouteFIB6, tt.text, tt.cache)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpRoute); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRouteFixtures reads the fixture tables (testdata/route, see
// gen_sysview_fixtures.py; real/ is a kernel's) through FS.
func TestRouteFixtures(t *testing.T) {
	fsys := NewFS("testdata/route/real")
	count := func(tbl RouteTable, cache bool) int {
		t.Helper()
		r, err := fsys.OpenRoutes(tbl)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		r.IPv6Cache = cache
		if tbl == RouteCache4 {
			if l, err := r.GuessCacheLayout(); err != nil || l != RouteCacheLayout22 {
				t.Fatalf("rt_cache layout %d, %v; want the 2.2 layout", l, err)
			}
		}
		n := 0
		var seen []Route
		if err := r.Each(func(rt *Route) { n++; seen = append(seen, *rt) }); err != nil {
			t.Fatal(err)
		}
		if tbl == RouteFIB4 {
			for _, rt := range seen {
				if rt.Flags&RTFUp == 0 || !rt.Dest.Is4() || rt.Iface == "" {
					t.Errorf("odd route %+v", rt)
				}
			}
		}
		return n
	}
	lines := func(name string) int {
		b, err := os.ReadFile(filepath.Join("testdata/route/real/net", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "\n")
	}
	if got, want := count(RouteFIB4, false), lines("route")-1; got != want {
		t.Errorf("route: %d rows, want %d (every line but the header)", got, want)
	}
	if got := count(RouteCache4, false); got != 0 {
		t.Errorf("rt_cache: %d rows, want none", got)
	}
	if got, want := count(RouteFIB6, false), lines("ipv6_route"); got != want {
		t.Errorf("ipv6_route: %d rows, want %d", got, want)
	}
	if got := count(RouteFIB6, true); got != 0 {
		t.Errorf("ipv6_route cache view: %d rows, want none", got)
	}
}

func TestGenFmt(t *testing.T) {
	convs, missing := genFmt([]byte(routeHeader4), fib4Fields)
	if missing != "" || len(convs) != len(fib4Fields) {
		t.Fatalf("real header: %d conversions, missing %q", len(convs), missing)
	}
	convs, missing = genFmt([]byte("A|Iface B\n"), fib4Fields)
	if missing != "Destination" || len(convs) != 4 || convs[0] != skipStr || convs[1] != str15 {
		t.Errorf("got %v, %q", convs, missing)
	}
}

// fuzzRoutes runs a parser on arbitrary text and checks what must hold
// whatever the input.
func fuzzRoutes(t *testing.T, tbl RouteTable, text string, cache bool) {
	got, err := readRoutes(tbl, text, cache)
	if err != nil {
		var fe *RouteFieldError
		if errors.Is(err, ErrNoRouteHeader) || errors.As(err, &fe) || err == io.EOF {
			return
		}
		t.Fatalf("unexpected error %v", err)
	}
	for _, r := range got {
		if !r.Dest.IsValid() || !r.Gateway.IsValid() || len(r.Iface) > 15 {
			t.Fatalf("bad route %+v", r)
		}
		switch tbl {
		case RouteFIB4:
			if r.Flags&RTFUp == 0 || !r.Dest.Is4() || !r.Mask.Is4() {
				t.Fatalf("bad IPv4 route %+v", r)
			}
		case RouteFIB6:
			if (r.Flags&RTFCache != 0) != cache || !r.Dest.Is6() {
				t.Fatalf("bad IPv6 route %+v", r)
			}
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, name := range []string{"real", "broken", "extra-columns", "long-header", "header-only"} {
		if b, err := os.ReadFile(filepath.Join("testdata/route", name, "net/route")); err == nil {
			f.Add(string(b), false)
		}
		if b, err := os.ReadFile(filepath.Join("testdata/route", name, "net/rt_cache")); err == nil {
			f.Add(string(b), true)
		}
	}
	f.Add(routeHeader4+"eth0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n", false)
	f.Fuzz(func(t *testing.T, text string, cache bool) {
		if cache {
			fuzzRoutes(t, RouteCache4, text, false)
		} else {
			fuzzRoutes(t, RouteFIB4, text, false)
		}
	})
}

func FuzzParseIPv6Route(f *testing.F) {
	for _, name := range []string{"real", "broken"} {
		if b, err := os.ReadFile(filepath.Join("testdata/route", name, "net/ipv6_route")); err == nil {
			f.Add(string(b), false)
			f.Add(string(b), true)
		}
	}
	f.Add("fe80\n\n", false)
	f.Fuzz(func(t *testing.T, text string, cache bool) {
		fuzzRoutes(t, RouteFIB6, text, cache)
	})
}
