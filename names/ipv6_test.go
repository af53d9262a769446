package names

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// referenceNtop6 is glibc's inet_ntop(AF_INET6) in the cgo build and nil
// without cgo (set by ipv6_cgo_test.go).
var referenceNtop6 func([16]byte) string

var formatIPv6Tests = []struct {
	in, want string
}{
	{"::", "::"},
	{"::1", "::1"},
	{"::1.2.3.4", "::1.2.3.4"}, // Go's String: "::102:304"
	{"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
	{"::ffff:0.0.0.0", "::ffff:0.0.0.0"},
	{"::ffff:0:1.2.3.4", "::ffff:0:102:304"},
	{"::fffe:1.2.3.4", "::fffe:102:304"},
	{"::0.0.0.5", "::5"}, // groups 0-6 zero: no dotted tail
	{"::1.2.0.0", "::1.2.0.0"},
	{"::0.1.0.0", "::0.1.0.0"},
	{"1:0:0:1:0:0:0:1", "1:0:0:1::1"},
	{"1:0:0:2:0:0:3:4", "1::2:0:0:3:4"}, // equally long runs: the first
	{"1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"},
	{"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"},
	{"1::", "1::"},
	{"2001:db8::", "2001:db8::"},
	{"fe80::1", "fe80::1"},
	{"fe80::1%eth0", "fe80::1"},
	{"2001:DB8:1234:5678:9abc:def0:1234:5678", "2001:db8:1234:5678:9abc:def0:1234:5678"},
	{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
	{"64:ff9b::1.2.3.4", "64:ff9b::102:304"},
	{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	{"0:0:0:0:0:ffff:ffff:ffff", "::ffff:255.255.255.255"},
	{"1.2.3.4", "::ffff:1.2.3.4"}, // IPv4 is formatted as IPv4-mapped
}

func TestFormatIPv6(t *testing.T) {
	for _, tt := range formatIPv6Tests {
		a := netip.MustParseAddr(tt.in)
		if got := FormatIPv6(a); got != tt.want {
			t.Errorf("FormatIPv6(%s) = %q, want %q", tt.in, got, tt.want)
		}
		if referenceNtop6 != nil {
			if ref := referenceNtop6(a.As16()); ref != tt.want {
				t.Errorf("glibc inet_ntop(%s) = %q, table says %q", tt.in, ref, tt.want)
			}
		}
	}
}

func TestFormatIPv6DiffersFromGo(t *testing.T) {
	a := netip.MustParseAddr("::1.2.3.4")
	if got, goText := FormatIPv6(a), a.String(); got == goText {
		t.Errorf("FormatIPv6(%s) = %q, same as netip's String; glibc writes a dotted tail", a, got)
	}
}

func TestFormatIPv6ZeroAddr(t *testing.T) {
	if got := FormatIPv6(netip.Addr{}); got != "::" {
		t.Errorf("FormatIPv6(zero Addr) = %q, want %q", got, "::")
	}
}

// TestFormatIPv6Random compares FormatIPv6 with glibc for many addresses
// rich in zero and ffff groups, where the interesting cases are.
func TestFormatIPv6Random(t *testing.T) {
	if referenceNtop6 == nil {
		t.Skip("no glibc inet_ntop to compare with in a !cgo build")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var b [16]byte
		for i := 0; i < 16; i += 2 {
			switch rng.IntN(4) {
			case 0, 1: // zero group
			case 2:
				b[i], b[i+1] = 0xff, 0xff
			default:
				b[i], b[i+1] = byte(rng.Uint32()), byte(rng.Uint32())
			}
		}
		if got, want := formatIPv6(b), referenceNtop6(b); got != want {
			t.Fatalf("FormatIPv6(% x) = %q, glibc inet_ntop = %q", b, got, want)
		}
	}
}

func TestNumericHost6(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"::ffff:127.0.0.1", "127.0.0.1"},
		{"::ffff:0.0.0.0", "0.0.0.0"},
		{"::1.2.3.4", "::1.2.3.4"}, // IPv4-compatible, not mapped: kept
		{"::1", "::1"},
		{"::", "::"},
		{"2001:db8::1", "2001:db8::1"},
		{"::ffff:0:1.2.3.4", "::ffff:0:102:304"},
		{"10.1.2.3", "10.1.2.3"},
	}
	for _, tt := range tests {
		if got := NumericHost6(netip.MustParseAddr(tt.in)); got != tt.want {
			t.Errorf("NumericHost6(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFixV4Address(t *testing.T) {
	mapped := netip.MustParseAddr("::ffff:10.0.0.1").As16()
	plain := netip.MustParseAddr("2001:db8::1").As16()
	tests := []struct {
		text string
		addr [16]byte
		want string
	}{
		{"::ffff:10.0.0.1", mapped, "10.0.0.1"},
		{"host.example", mapped, "host.example"}, // no ':' before the '.'
		{"localhost", mapped, "localhost"},       // no '.'
		{"ab:cd.ef", mapped, "cd.ef"},
		{"a:b:c.d:e.f", mapped, "c.d:e.f"}, // the last ':' before the FIRST '.'
		{":x.y", mapped, "x.y"},
		{"::ffff:10.0.0.1", plain, "::ffff:10.0.0.1"}, // only mapped addresses
	}
	for _, tt := range tests {
		if got := fixV4Address(tt.text, tt.addr); got != tt.want {
			t.Errorf("fixV4Address(%q, %v) = %q, want %q", tt.text, netip.AddrFrom16(tt.addr), got, tt.want)
		}
	}
}

func FuzzFormatIPv6(f *testing.F) {
	for _, tt := range formatIPv6Tests {
		b := netip.MustParseAddr(tt.in).As16()
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 16 {
			return
		}
		b := [16]byte(in[:16])
		got := formatIPv6(b)
		// inet_ntop text always parses back to the same address.
		back, err := netip.ParseAddr(got)
		if err != nil || back.As16() != b {
			t.Fatalf("FormatIPv6(% x) = %q, which parses back as %v, %v", b, got, back, err)
		}
		if referenceNtop6 != nil {
			if want := referenceNtop6(b); got != want {
				t.Fatalf("FormatIPv6(% x) = %q, glibc inet_ntop = %q", b, got, want)
			}
		}
	})
}

func BenchmarkFormatIPv6(b *testing.B) {
	a := netip.MustParseAddr("2001:db8:0:0:1:0:0:1")
	for b.Loop() {
		_ = FormatIPv6(a)
	}
}
