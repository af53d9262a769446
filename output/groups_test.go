package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

func TestGroupRow(t *testing.T) {
	groups := []snapshot.Group{
		{Family: snapshot.FamilyInet, Iface: "lo        ", Addr: netip.MustParseAddr("127.0.0.1"), Users: 1},
		{Family: snapshot.FamilyInet, Iface: "averylongifnam0", Addr: netip.MustParseAddr("224.0.0.1"), Users: -3},
		{Family: snapshot.FamilyInet6, Iface: "v0", Addr: netip.MustParseAddr("::1"), Users: 1234567},
		{Family: snapshot.FamilyInet6, Iface: "v\x1b0", Addr: netip.MustParseAddr("::ffff:10.1.0.7"), Users: 2},
	}
	for _, tt := range []struct {
		numeric bool
		want    string
	}{
		{false, "IPv6/IPv4 Group Memberships\n" +
			"Interface       RefCnt Group\n" +
			"--------------- ------ ---------------------\n" +
			"lo              1      localhost\n" +
			"averylongifnam0 -3     224.0.0.1\n" +
			"v0              1234567 localhost\n" +
			"v\\x1b0          2      ::ffff:10.1.0.7\n"},
		{true, "IPv6/IPv4 Group Memberships\n" +
			"Interface       RefCnt Group\n" +
			"--------------- ------ ---------------------\n" +
			"lo              1      127.0.0.1\n" +
			"averylongifnam0 -3     224.0.0.1\n" +
			"v0              1234567 ::1\n" +
			"v\\x1b0          2      10.1.0.7\n"},
	} {
		c := NewClassic(ClassicOptions{NumericHosts: tt.numeric, NumericHost6: func(a netip.Addr) string {
			if a.Is4In6() {
				return a.Unmap().String()
			}
			return a.String()
		}}, fakeNames{}, nil)
		b := GroupsHeader()
		for i := range groups {
			b = c.GroupRow(b, &groups[i])
		}
		if diff := cmp.Diff(tt.want, string(b)); diff != "" {
			t.Errorf("numeric %v (-want +got):\n%s", tt.numeric, diff)
		}
	}
}

// TestGroupJSON checks that groups join the socket listing's array.
func TestGroupJSON(t *testing.T) {
	var b bytes.Buffer
	c := NewClassic(ClassicOptions{}, fakeNames{}, nil)
	j := NewJSONWriter(&b, c)
	j.Socket(&snapshot.Socket{Proto: snapshot.ProtoTCP, Family: snapshot.FamilyInet, Local: ap("127.0.0.1:22"), Remote: ap("0.0.0.0:0"), State: uint8(conn.TCPListen)})
	j.Group(&snapshot.Group{Family: snapshot.FamilyInet, Iface: "lo        ", Addr: netip.MustParseAddr("224.0.0.1"), Users: 1})
	j.Group(&snapshot.Group{Family: snapshot.FamilyInet6, Iface: "v0", Addr: netip.MustParseAddr("ff02::1"), Users: 2})
	j.Close()
	var v []map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatalf("%v:\n%s", err, b.String())
	}
	want := []map[string]any{
		{"iface": "lo", "refcnt": float64(1), "group": "224.0.0.1", "family": "inet"},
		{"iface": "v0", "refcnt": float64(2), "group": "ff02::1", "family": "inet6"},
	}
	if len(v) != 3 || v[0]["protocol"] != "tcp" {
		t.Fatalf("array %v", v)
	}
	if diff := cmp.Diff(want, v[1:]); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	b.Reset()
	j = NewJSONWriter(&b, c)
	j.Group(&snapshot.Group{Family: snapshot.FamilyInet, Iface: "lo", Addr: netip.MustParseAddr("224.0.0.1"), Users: 1})
	j.Close()
	if got := b.String(); got != "[\n{\"iface\":\"lo\",\"refcnt\":1,\"group\":\"224.0.0.1\",\"family\":\"inet\"}\n]\n" {
		t.Errorf("groups alone: %q", got)
	}
}
