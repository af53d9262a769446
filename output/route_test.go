package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpfnetstat/bpfnetstat/names"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

var update = flag.Bool("update", false, "rewrite testdata/sysviews/*.golden with /usr/bin/netstat's output on the fixtures (needs root)")

// fakeRouteNames names a few addresses the way the e2e namespace's files
// do.
type fakeRouteNames struct{ fakeNames }

func (fakeRouteNames) RouteDest4(a, mask netip.Addr, host bool) string {
	switch {
	case a.IsUnspecified() && mask.IsUnspecified():
		return "default"
	case a.IsUnspecified():
		return "0.0.0.0"
	case a.String() == "10.55.0.0" && !host:
		return "averyveryverylongnetworkname"
	case a.String() == "127.0.0.0" && !host:
		return "loopback"
	}
	return a.String()
}

func (fakeRouteNames) RouteGateway4(a netip.Addr) string {
	if a.String() == "192.168.50.5" {
		return "gw-with-a-very-long-name.example"
	}
	return a.String()
}

func (fakeRouteNames) Host6(a netip.Addr) string {
	switch {
	case a.IsUnspecified():
		return "[::]"
	case a == netip.IPv6Loopback():
		return "localhost"
	case a.String() == "2001:db8::1":
		return strings.Repeat("n", 130)
	}
	return a.String()
}

func TestRouteExt(t *testing.T) {
	want := []int{2, 1, 3, 0, 1, 2, 3, 0, 1}
	for e, w := range want {
		if got := RouteExt(e); got != w {
			t.Errorf("RouteExt(%d) = %d, want %d", e, got, w)
		}
	}
}

func TestRouteFlags(t *testing.T) {
	for _, tt := range []struct {
		flags      uint32
		fib4, fib6 string
	}{
		{0x1, "U", "U"},
		{0x3, "UG", "UG"},
		{0x7, "UGH", "UGH"},
		{0x201, "!", "U!"},
		{0x205, "!H", "U!H"},
		{0x203, "!", "U!G"},
		{0x200200, "!o", "!n"},
		{0x80200001, "Uol", "Un"},
		{0xffffffff, "!HRDMdacoecfpluwin", "U!GHDACaemnf"},
		{0x7ffffdff, "UGHRDMdacoecfpuwin", "UGHDACaemnf"},
		{0, "", ""},
	} {
		if got := FIB4Flags(tt.flags); got != tt.fib4 {
			t.Errorf("FIB4Flags(%#x) = %q, want %q", tt.flags, got, tt.fib4)
		}
		if got := FIB6Flags(tt.flags); got != tt.fib6 {
			t.Errorf("FIB6Flags(%#x) = %q, want %q", tt.flags, got, tt.fib6)
		}
	}
	for _, tt := range []struct {
		flags  uint32
		layout snapshot.RouteCacheLayout
		want   string
	}{
		{0x80000000, snapshot.RouteCacheLayout22, "l"},
		{0xffffffff, snapshot.RouteCacheLayout22, "!RDM-ondtfqNsriNdbm#l"},
		{0x40000205, snapshot.RouteCacheLayout22, "!-o#"},
		{0x7, snapshot.RouteCacheLayout20, "UHG"},
		{0x205, snapshot.RouteCacheLayout20, "!"},
	} {
		if got, _ := cache4Flags(tt.flags, tt.layout); got != tt.want {
			t.Errorf("cache4Flags(%#x, %d) = %q, want %q", tt.flags, tt.layout, got, tt.want)
		}
	}
}

func r4(dest, gw, mask string, flags uint32, iface string) *snapshot.Route {
	return &snapshot.Route{Family: snapshot.FamilyInet, Dest: netip.MustParseAddr(dest), Gateway: netip.MustParseAddr(gw),
		Mask: netip.MustParseAddr(mask), Flags: flags, Iface: iface, Metric: 100, RefCnt: 1, Use: 7, MTU: 1400, Window: 32000, IRTT: 50}
}

func TestFIB4Rows(t *testing.T) {
	routes := []*snapshot.Route{
		r4("0.0.0.0", "192.168.50.1", "0.0.0.0", 3, "v0"),
		r4("10.55.0.0", "192.168.50.5", "255.255.0.0", 3, "averylongifnam0"),
		r4("10.66.0.0", "0.0.0.0", "255.255.0.0", 0x201, "*"),
		r4("0.0.0.0", "0.0.0.0", "128.0.0.0", 1, "bad\x1bname"),
	}
	want := map[int]string{
		0: "Kernel IP routing table\n",
		1: "Kernel IP routing table\n" +
			"Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n" +
			"default         192.168.50.1    0.0.0.0         UG    100    1        7 v0\n" +
			"averyveryverylo gw-with-a-very- 255.255.0.0     UG    100    1        7 averylongifnam0\n" +
			"10.66.0.0       -               255.255.0.0     !     100    -        7 -\n" +
			"0.0.0.0         0.0.0.0         128.0.0.0       U     100    1        7 bad\\x1bname\n",
		2: "Kernel IP routing table\n" +
			"Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface\n" +
			"default         192.168.50.1    0.0.0.0         UG     1400 32000     50 v0\n" +
			"averyveryverylo gw-with-a-very- 255.255.0.0     UG     1400 32000     50 averylongifnam0\n" +
			"10.66.0.0       -               255.255.0.0     !         - -          - -\n" +
			"0.0.0.0         0.0.0.0         128.0.0.0       U      1400 32000     50 bad\\x1bname\n",
		3: "Kernel IP routing table\n" +
			"Destination     Gateway         Genmask         Flags Metric Ref    Use Iface    MSS   Window irtt\n" +
			"default         192.168.50.1    0.0.0.0         UG    100    1        7 v0       1400  32000  50\n" +
			"averyveryverylo gw-with-a-very- 255.255.0.0     UG    100    1        7 averyl   1400  32000  50\n" +
			"10.66.0.0       -               255.255.0.0     !     100    -        7 -        -     -      -\n" +
			"0.0.0.0         0.0.0.0         128.0.0.0       U     100    1        7 bad\\x1bna   1400  32000  50\n", // cut to 6 bytes, then escaped
	}
	for ext := range 4 {
		r := NewRoutes(RouteOptions{Ext: ext}, fakeRouteNames{})
		var b bytes.Buffer
		b.Write(r.FIB4Header())
		for _, rt := range routes {
			b.Write(r.FIB4Row(rt))
		}
		if diff := cmp.Diff(want[ext], b.String()); diff != "" {
			t.Errorf("ext %d (-want +got):\n%s", ext, diff)
		}
	}
	r := NewRoutes(RouteOptions{Ext: 2, Numeric: true}, nil)
	if got := string(r.FIB4Row(routes[0])); got != "0.0.0.0         192.168.50.1    0.0.0.0         UG     1400 32000     50 v0\n" {
		t.Errorf("numeric: %q", got)
	}
}

func TestFIB6Rows(t *testing.T) {
	u := netip.IPv6Unspecified()
	routes := []*snapshot.Route{
		{Family: snapshot.FamilyInet6, Dest: u, Gateway: netip.MustParseAddr("2001:db8:50::1"), Flags: 3, Metric: 1024, RefCnt: 1, Iface: "v0"},
		{Family: snapshot.FamilyInet6, Dest: netip.IPv6Loopback(), PrefixLen: 128, Gateway: u, Flags: 0x80200001, RefCnt: 5, Iface: "lo"},
		{Family: snapshot.FamilyInet6, Dest: u, Gateway: u, Flags: 0x200200, Metric: -1, RefCnt: 1, Iface: "lo"},
		{Family: snapshot.FamilyInet6, Dest: netip.MustParseAddr("::ffff:10.1.0.7"), PrefixLen: 128, Gateway: u, Flags: 1, Iface: "x"},
		{Family: snapshot.FamilyInet6, Dest: netip.MustParseAddr("2001:db8::1"), PrefixLen: 128, Gateway: netip.MustParseAddr("2001:db8::1"), Flags: 1, Iface: "y"},
	}
	num6 := func(a netip.Addr) string {
		if a.Is4In6() {
			return a.Unmap().String()
		}
		return a.String()
	}
	for _, tt := range []struct {
		numeric bool
		want    string
	}{
		{false, "Kernel IPv6 routing table\n" +
			"Destination                    Next Hop                   Flag Met Ref  Use If\n" +
			"[::]/0                         2001:db8:50::1             UG   1024 1      0 v0\n" +
			"localhost/128                  [::]                       Un   0   5      0 lo\n" +
			"[::]/0                         [::]                       !n   -1  1      0 lo\n" +
			"::ffff:10.1.0.7/128            [::]                       U    0   0      0 x\n" +
			strings.Repeat("n", 127) + " " + strings.Repeat("n", 127) + " U    0   0      0 y\n"},
		{true, "Kernel IPv6 routing table\n" +
			"Destination                    Next Hop                   Flag Met Ref  Use If\n" +
			"::/0                           2001:db8:50::1             UG   1024 1      0 v0\n" +
			"::1/128                        ::                         Un   0   5      0 lo\n" +
			"::/0                           ::                         !n   -1  1      0 lo\n" +
			"10.1.0.7/128                   ::                         U    0   0      0 x\n" +
			"2001:db8::1/128                2001:db8::1                U    0   0      0 y\n"},
	} {
		r := NewRoutes(RouteOptions{Numeric: tt.numeric, Ext: 3, NumericHost6: num6}, fakeRouteNames{})
		var b bytes.Buffer
		b.Write(r.FIB6Header(false))
		for _, rt := range routes {
			b.Write(r.FIB6Row(rt))
		}
		if diff := cmp.Diff(tt.want, b.String()); diff != "" {
			t.Errorf("numeric %v (-want +got):\n%s", tt.numeric, diff)
		}
	}
	if got := string(NewRoutes(RouteOptions{}, nil).FIB6Header(true)); !strings.HasPrefix(got, "Kernel IPv6 routing cache\n") {
		t.Errorf("cache title: %q", got)
	}
}

func TestCache4Rows(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	rt := &snapshot.Route{Family: snapshot.FamilyInet, Source: netip.MustParseAddr("127.0.0.5"), Dest: lo, Gateway: netip.IPv4Unspecified(),
		SpecDst: lo, Flags: 0x80000000, Iface: "averylongifnam0", Metric: 1, RefCnt: 2, Use: 3, MTU: 4, Window: 5, IRTT: 6, TOS: 7, HHRef: 8, HHUptod: 9, HH: 10, ARP: 11}
	r := NewRoutes(RouteOptions{Ext: 3}, fakeRouteNames{})
	want := map[snapshot.RouteCacheLayout]string{
		snapshot.RouteCacheLayout22: "Source          Destination     Gateway         Flags Metric Ref    Use Iface    MSS   Window irtt  TOS HHRef HHUptod     SpecDst\n" +
			"this-is-a-very-long-hostname.example.com localhost       0.0.0.0         l     1      2        3 averyl   4     5      6     7   8     9         localhost\n",
		snapshot.RouteCacheLayout20: "Source          Destination     Gateway         Flags Metric Ref    Use Iface    MSS   Window irtt  HH  Arp\n" +
			"this-is-a-very-long-hostname.example.com localhost       0.0.0.0         l     1      2        3 averyl   4     5      6     10  11\n",
	}
	for layout, w := range want {
		got := string(r.Cache4Header(layout))
		got += string(r.Cache4Row(rt, layout))
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("layout %d (-want +got):\n%s", layout, diff)
		}
	}
	if got := string(r.Cache4Unknown(47)); got != "ERROR: proc_guess_fmt(/proc/net/rt_cache,... returned: 47\n" {
		t.Errorf("unknown layout: %q", got)
	}
	if got := string(r.Cache4Header(47)); got != "" {
		t.Errorf("ext 3 header for an unknown layout: %q", got)
	}
	if r := NewRoutes(RouteOptions{Ext: 0}, nil); r.Cache4Row(rt, snapshot.RouteCacheLayout22) != nil || r.FIB4Row(rt) != nil {
		t.Error("ext 0 prints rows")
	}
}

func TestRouteJSON(t *testing.T) {
	var b bytes.Buffer
	arr := NewJSONArray(&b)
	arr.Add(FIB4JSON(r4("10.20.0.0", "192.168.50.1", "255.255.0.0", 3, "v0")))
	arr.Add(FIB4JSON(r4("10.20.0.0", "0.0.0.0", "255.0.255.0", 0x201, "*")))
	arr.Add(FIB6JSON(&snapshot.Route{Family: snapshot.FamilyInet6, Dest: netip.MustParseAddr("2001:db8::"), PrefixLen: 32,
		Gateway: netip.IPv6Unspecified(), Flags: 0x80200001, Metric: -1, Iface: "lo"}, false))
	arr.Add(Cache4JSON(&snapshot.Route{Family: snapshot.FamilyInet, Dest: netip.MustParseAddr("127.0.0.1"),
		Gateway: netip.IPv4Unspecified(), Source: netip.MustParseAddr("127.0.0.2"), SpecDst: netip.MustParseAddr("127.0.0.3")}, snapshot.RouteCacheLayout22))
	arr.Close()
	want := `[
{"family":"inet","table":"fib","destination":"10.20.0.0","genmask":"255.255.0.0","prefix_len":16,"gateway":"192.168.50.1","flags":"UG","flag_names":["up","gateway"],"metric":100,"refcnt":1,"use":7,"iface":"v0","mss":1400,"window":32000,"irtt":50},
{"family":"inet","table":"fib","destination":"10.20.0.0","genmask":"255.0.255.0","gateway":"0.0.0.0","flags":"!","flag_names":["up","reject"],"metric":100,"refcnt":1,"use":7,"iface":"*","mss":1400,"window":32000,"irtt":50},
{"family":"inet6","table":"fib","destination":"2001:db8::","prefix_len":32,"gateway":"::","flags":"Un","flag_names":["up","nonexthop"],"metric":-1,"refcnt":0,"use":0,"iface":"lo"},
{"family":"inet","table":"cache","destination":"127.0.0.1","source":"127.0.0.2","gateway":"0.0.0.0","flags":"","flag_names":[],"metric":0,"refcnt":0,"use":0,"iface":"","mss":0,"window":0,"irtt":0,"tos":0,"hhref":0,"hhuptod":0,"specdst":"127.0.0.3"}
]
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	var v []map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil || len(v) != 4 {
		t.Errorf("not a JSON array of 4: %v", err)
	}
	b.Reset()
	NewJSONArray(&b).Close()
	if b.String() != "[]\n" {
		t.Errorf("empty array: %q", b.String())
	}
}

// sysviewGoldens pair fixture directories (../snapshot/testdata) with
// numeric options; their goldens are /usr/bin/netstat's stdout on them
// (see -update). Numeric only, so that no name lookup is involved.
var sysviewGoldens = []struct {
	glob string
	args []string
}{
	{"route/*", []string{"-rn", "-rne", "-rnee", "-rneee", "-rnC", "-rnCe", "-rnCee", "-rn -6", "-rn -6 -C"}},
	{"groups/*", []string{"-gn"}}, // (-4 and -6 bring in the socket tables)
	{"masq/*", []string{"-Mn", "-Mne"}},
}

// goldenSkips are fixtures netstat prints uninitialised memory for.
var goldenSkips = map[string]bool{
	"route/cache-unknown -rnC": true, "route/cache-unknown -rnCe": true, "route/cache-unknown -rnCee": true,
}

// TestSysviewGoldens renders every fixture the way the classic command
// does and compares with what netstat printed on it.
func TestSysviewGoldens(t *testing.T) {
	root := filepath.Join("..", "snapshot", "testdata")
	n := 0
	for _, g := range sysviewGoldens {
		dirs, _ := filepath.Glob(filepath.Join(root, g.glob))
		if len(dirs) == 0 {
			t.Fatalf("no fixture matches %s", g.glob)
		}
		for _, dir := range dirs {
			rel, _ := filepath.Rel(root, dir)
			for _, args := range g.args {
				if goldenSkips[rel+" "+args] {
					continue
				}
				n++
				golden := filepath.Join("testdata", "sysviews", rel, strings.ReplaceAll(args, " ", "_")+".golden")
				if *update {
					writeGolden(t, dir, args, golden)
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update as root)", err)
				}
				got := renderSysview(t, snapshot.NewFS(dir), strings.Fields(args))
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("%s %s (-netstat +ours):\n%s", rel, args, diff)
				}
			}
		}
	}
	t.Logf("%d goldens", n)
}

// writeGolden runs the real netstat with dir as /proc (a tmpfs in a
// private mount namespace) and keeps its stdout.
func writeGolden(t *testing.T, dir, args, golden string) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	script := `mount -t tmpfs tmpfs /proc && cp -R "$0"/. /proc/ && exec /usr/bin/netstat "$@"`
	cmd := exec.Command("unshare", append([]string{"-m", "--", "sh", "-c", script, abs}, strings.Fields(args)...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C"}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("netstat %s on %s: %v", args, dir, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// renderSysview is the classic command's stdout for numeric -r, -g and
// -M options (internal/cli routes.go, groups.go, masquerade.go), from the
// readers and renderers alone.
func renderSysview(t *testing.T, fsys snapshot.FS, args []string) string {
	t.Helper()
	var b bytes.Buffer
	opts := strings.Join(args, " ")
	switch {
	case strings.HasPrefix(opts, "-r"):
		ext := RouteExt(strings.Count(opts, "e"))
		r := NewRoutes(RouteOptions{Numeric: true, Ext: ext, NumericHost6: names.NumericHost6}, nil)
		cache := strings.Contains(opts, "C")
		if strings.Contains(opts, "-6") {
			rr, err := fsys.OpenRoutes(snapshot.RouteFIB6)
			if err != nil {
				return "INET6 (IPv6) not configured in this system.\n"
			}
			defer rr.Close()
			rr.IPv6Cache = cache
			b.Write(r.FIB6Header(cache))
			rr.Each(func(rt *snapshot.Route) { b.Write(r.FIB6Row(rt)) })
			return b.String()
		}
		if !cache {
			rr, err := fsys.OpenRoutes(snapshot.RouteFIB4)
			if err != nil {
				return "INET (IPv4) not configured in this system.\n"
			}
			defer rr.Close()
			b.Write(r.FIB4Header())
			rr.Each(func(rt *snapshot.Route) { b.Write(r.FIB4Row(rt)) })
			return b.String()
		}
		rr, err := fsys.OpenRoutes(snapshot.RouteCache4)
		if err != nil {
			return "INET (IPv4) not configured in this system.\n"
		}
		defer rr.Close()
		layout, err := rr.GuessCacheLayout()
		b.Write(r.Cache4Title())
		if err != nil {
			return b.String()
		}
		if layout != snapshot.RouteCacheLayout22 && layout != snapshot.RouteCacheLayout20 {
			b.Write(r.Cache4Unknown(layout))
		}
		b.Write(r.Cache4Header(layout))
		rr.Each(func(rt *snapshot.Route) { b.Write(r.Cache4Row(rt, layout)) })
	case strings.HasPrefix(opts, "-g"):
		c := NewClassic(ClassicOptions{NumericHosts: true, NumericHost6: names.NumericHost6}, fakeNames{}, nil)
		b.Write(GroupsHeader())
		var gr snapshot.GroupReader
		fn := func(g *snapshot.Group, bad *snapshot.GroupLineError) {
			if g != nil {
				b.Write(c.GroupRow(nil, g))
			}
		}
		gr.Each(fsys, snapshot.GroupIGMP, fn)
		gr.Each(fsys, snapshot.GroupIGMP6, fn)
	case strings.HasPrefix(opts, "-M"):
		c := NewClassic(ClassicOptions{NumericHosts: true, NumericPorts: true}, fakeNames{}, nil)
		tbl, err := fsys.ReadMasquerade()
		if err != nil || len(tbl.Entries) == 0 {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				t.Logf("%v", err)
			}
			return ""
		}
		ext := strings.Contains(opts, "e")
		b.Write(MasqHeader(ext))
		for i := range tbl.Entries {
			b.Write(c.MasqRow(nil, &tbl.Entries[i], ext, tbl.HasPDelta))
		}
	}
	return b.String()
}
