package snapshot

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const igmpHeader = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"

// groupRow is a good row or, with bad set, a bogus line's message.
type groupRow struct {
	Group Group
	Bad   string
}

// parseGroups parses an igmp text then an igmp6 text with one reader, as
// one netstat -g listing does.
func parseGroups(t testing.TB, igmp, igmp6 string) []groupRow {
	var rows []groupRow
	fn := func(g *Group, bad *GroupLineError) {
		switch {
		case g != nil && bad == nil:
			rows = append(rows, groupRow{Group: *g})
		case g == nil && bad != nil:
			kind := "igmp"
			if bad.IPv6 {
				kind = "igmp6"
			}
			if !errors.Is(bad, ErrBogusLine) {
				t.Errorf("%v does not wrap ErrBogusLine", bad)
			}
			rows = append(rows, groupRow{Bad: kind + " " + strconv.Itoa(bad.Index)})
		default:
			t.Fatalf("fn(%v, %v): want exactly one non-nil", g, bad)
		}
	}
	var r GroupReader
	for _, f := range []struct{ path, text string }{{"/proc/net/igmp", igmp}, {"/proc/net/igmp6", igmp6}} {
		if err := r.parse(strings.NewReader(f.text), f.path, fn); err != nil {
			t.Fatal(err)
		}
	}
	return rows
}

func g4(iface, addr string, users int32) groupRow {
	return groupRow{Group: Group{Family: FamilyInet, Iface: iface, Addr: netip.MustParseAddr(addr), Users: users}}
}

func g6(iface, addr string, users int32) groupRow {
	return groupRow{Group: Group{Family: FamilyInet6, Iface: iface, Addr: netip.MustParseAddr(addr), Users: users}}
}

func TestGroups(t *testing.T) {
	tests := []struct {
		name, igmp, igmp6 string
		want              []groupRow
	}{
		{name: "empty"},
		{name: "header only", igmp: igmpHeader},
		{
			name: "v4 and v6",
			igmp: igmpHeader +
				"1\tlo        :     1      V3\n" +
				"\t\t\t\t010000E0     1 0:00000000\t\t0\n" +
				"5\taverylongifnam0:     2      V3\n" +
				"\t\t\t\t040201EF     2 0:00000000\t\t0\n" +
				"\t\t\t\t010000E0     1 0:00000000\t\t0\n" +
				"7\televenchars:     1      V3\n" +
				"\t\t\t\t010000E0     1 0:00000000\t\t0\n",
			igmp6: "1    lo              ff020000000000000000000000000001     1 0000000C 0\n" +
				"3    v0              ff0200000000000000000001ff000002     2 00000004 0\n",
			want: []groupRow{
				g4("lo        ", "224.0.0.1", 1), // the kernel's padding stays; %-15s hides it
				g4("averylongifnam0", "239.1.2.4", 2),
				g4("averylongifnam0", "224.0.0.1", 1),
				g4("elevenchars", "224.0.0.1", 1),
				g6("lo", "ff02::1", 1),
				g6("v0", "ff02::1:ff00:2", 2),
			},
		},
		{
			name: "bogus lines",
			igmp: igmpHeader +
				"\t\t\t\t010000E0     1 0:00000000\t\t0\n" + // no device yet
				"1\tlo        :     1      V3\n" +
				"\t\t\t\tZZ0000E0     1\n" +
				"\t\t\t\t010000E0\n" +
				"\t\t\t\t0100E0     7\n" +
				"x\tbogus\n" +
				"2\tab:cd:efghij:  :     1      V3\n" +
				"\t\t\t\t020000E0     -3\n" +
				"4\t\n" +
				"5\tsh",
			igmp6: "x    lo              ff020000000000000000000000000001     1 0000000C 0\n" +
				"2    averyveryverylongname ff020000000000000000000000000001     1\n" +
				"3    v0              ff02000000000000000000000001     4 0 0\n" +
				"4    v1              ff05     5 0 0\n" +
				"6    v1              ff020000000000000000000000000002\n" +
				"\n",
			want: []groupRow{
				g4("", "224.0.0.1", 1),
				{Bad: "igmp 3"},
				{Bad: "igmp 4"},
				g4("lo        ", "224.0.1.0", 7),
				{Bad: "igmp 6"},
				g4("ab:cd:efghij", "224.0.0.2", -3),
				{Bad: "igmp 9"},
				{Bad: "igmp6 0"},
				{Bad: "igmp6 1"}, // the cut name is kept
				g6("v0", "ff02::1", 4),
				// a short address: the other words are what the previous
				// line left, swapped once more
				g6("v1", "0:ff05::100:0", 5),
				{Bad: "igmp6 4"},
				{Bad: "igmp6 5"},
			},
		},
		{
			// The last line is short: %15c copies 2 bytes, the rest of the
			// previous name stays, and the cut is at its last ':'.
			name: "short device",
			igmp: igmpHeader + "2\tab:cd:efghij:  :     1\n" + "5\tsh" + "\n\t010000E0 1\n",
			want: []groupRow{g4("sh\ncd", "224.0.0.1", 1)},
		},
		{
			name:  "no index",
			igmp:  "Device    : Count Querier\tGroup    Users Timer\tReporter\n" + "lo        :     1      V2\n\t\t\t\t010000E0     1\n",
			igmp6: "",
			want:  []groupRow{g4("lo        ", "224.0.0.1", 1)},
		},
		{
			// A first line without "Device" is an igmp6 file.
			name: "igmp read as igmp6",
			igmp: "1    lo              ff020000000000000000000000000001     1 0000000C 0\n" +
				"2\tv0        :     1      V3\n",
			want: []groupRow{g6("lo", "ff02::1", 1), {Bad: "igmp6 1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseGroups(t, tt.igmp, tt.igmp6)
			if diff := cmp.Diff(tt.want, got, cmpRoute); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGroupReaderFiles(t *testing.T) {
	var r GroupReader
	n := 0
	fn := func(g *Group, bad *GroupLineError) {
		if bad != nil {
			t.Errorf("bogus line in a kernel's table: %v", bad)
		}
		n++
	}
	fsys := NewFS("testdata/groups/real")
	if err := r.Each(fsys, GroupIGMP, fn); err != nil {
		t.Fatal(err)
	}
	if err := r.Each(fsys, GroupIGMP6, fn); err != nil {
		t.Fatal(err)
	}
	b4, _ := os.ReadFile("testdata/groups/real/net/igmp")
	b6, _ := os.ReadFile("testdata/groups/real/net/igmp6")
	if want := strings.Count(string(b4), "\n\t") + strings.Count(string(b6), "\n"); n != want {
		t.Errorf("%d rows, want %d", n, want)
	}
	if err := r.Each(NewFS(t.TempDir()), GroupIGMP, fn); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing igmp: %v", err)
	}
	if err := r.Each(fsys, GroupTable(9), fn); err == nil {
		t.Error("unknown table: no error")
	}
}

func FuzzParseIGMP(f *testing.F) {
	for _, dir := range []string{"real", "broken", "noidx", "igmp-as-igmp6"} {
		b4, _ := os.ReadFile(filepath.Join("testdata/groups", dir, "net/igmp"))
		b6, _ := os.ReadFile(filepath.Join("testdata/groups", dir, "net/igmp6"))
		f.Add(string(b4), string(b6))
	}
	f.Fuzz(func(t *testing.T, igmp, igmp6 string) {
		for _, row := range parseGroups(t, igmp, igmp6) {
			if row.Bad != "" {
				continue
			}
			g := row.Group
			if len(g.Iface) > 15 || !g.Addr.IsValid() ||
				(g.Family == FamilyInet) != g.Addr.Is4() || (g.Family == FamilyInet6) != g.Addr.Is6() {
				t.Fatalf("bad group %+v", g)
			}
		}
	})
}
