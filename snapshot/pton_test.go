package snapshot

import (
	"net/netip"
	"strings"
	"testing"
)

func TestInetPton6(t *testing.T) {
	for _, s := range []string{
		"::", "::1", "1::", "2001:db8::1", "fe80:0000:0000:0000:cc7a:b8ff:fed9:82f7",
		"::ffff:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "0:0:0:0:0:0:0:0",
	} {
		got, ok := inetPton6([]byte(s))
		if !ok || netip.AddrFrom16(got) != netip.MustParseAddr(s) {
			t.Errorf("inetPton6(%q) = %v, %v", s, netip.AddrFrom16(got), ok)
		}
	}
	for _, s := range []string{
		"", ":", ":1", "1:", "1:::2", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
		"::01.2.3.4", "::1.2.3", "::256.1.1.1", "g::", "1::2%eth0", "1:2:3:4:5:6:7:8::",
	} {
		if got, ok := inetPton6([]byte(s)); ok {
			t.Errorf("inetPton6(%q) = %v, want failure", s, netip.AddrFrom16(got))
		}
	}
}

func TestGroups6(t *testing.T) {
	g := func(s string) *[8][]byte {
		var out [8][]byte
		for i, p := range strings.Split(s, " ") {
			out[i] = []byte(p)
		}
		return &out
	}
	tests := []struct {
		name, groups string
		want         string // "" for a failure
	}{
		{"kernel text", "fe80 0000 0000 0000 cc7a b8ff fed9 82f7", "fe80::cc7a:b8ff:fed9:82f7"},
		{"upper case", "2001 0DB8 0000 0000 0000 0000 0000 0001", "2001:db8::1"},
		{"short groups go through the text", "1 2 3 4 5 6 7 8", "1:2:3:4:5:6:7:8"},
		{"a group with a NUL ends there", "1 2 3 4 5 6 7 8\x00zz", "1:2:3:4:5:6:7:8"},
		{"not hex", "zz 00 80 lo 0000 0000 0000 0000", ""},
		{"missing groups", "fe80 0000 0000", ""},
		{"a group of ':' makes a '::'", ": 1 2 3 4 5 6 7", "::1:2:3:4:5:6:7"},
		{"two of them make two", ": 1 : 2 3 4 5 6", ""},
	}
	var scratch []byte
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := groups6(g(tt.groups), &scratch)
			if tt.want == "" {
				if ok {
					t.Errorf("groups6 = %v, want a failure", a)
				}
				return
			}
			if !ok || a != netip.MustParseAddr(tt.want) {
				t.Errorf("groups6 = %v, %v; want %s", a, ok, tt.want)
			}
		})
	}
}

// FuzzInetPton6 holds inetPton6 to Go's parser, which accepts the same IPv6
// text as glibc's inet_pton (a zone aside, which inet_pton rejects), and
// checks that every address it reads reads back the same from Go's text.
func FuzzInetPton6(f *testing.F) {
	for _, s := range []string{"::", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1::2::3", "::01.2.3.4", "fe80::1%eth0", "1:2:3:4:5:6:7:8::"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := inetPton6(b)
		want, err := netip.ParseAddr(string(b))
		wantOK := err == nil && want.Is6() && want.Zone() == ""
		if ok != wantOK || (ok && got != want.As16()) {
			t.Fatalf("inetPton6(%q) = %v, %v; netip.ParseAddr says %v, %v", b, netip.AddrFrom16(got), ok, want, err)
		}
		if ok {
			again, ok2 := inetPton6([]byte(netip.AddrFrom16(got).String()))
			if !ok2 || again != got {
				t.Fatalf("%q reads back as %v, %v", b, netip.AddrFrom16(again), ok2)
			}
		}
	})
}
