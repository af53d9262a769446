package snapshot

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The scanners must do what glibc's sscanf conversions do; the golden tests
// in inet_test.go and unix_test.go check whole lines, these the corners.
func TestScanHex(t *testing.T) {
	type result struct {
		V   uint64
		End int
		OK  bool
	}
	tests := []struct {
		in   string
		want result
	}{
		{"1F", result{0x1f, 2, true}},
		{"  \t1f:", result{0x1f, 5, true}},
		{"0x1F", result{0x1f, 4, true}},
		{"0X", result{0, 2, true}},
		{"0xg", result{0, 2, true}}, // glibc drops the x with the number
		{"0", result{0, 1, true}},
		{"-1", result{^uint64(0), 2, true}},
		{"+10", result{0x10, 3, true}},
		{"FFFFFFFFFFFFFFFF", result{^uint64(0), 16, true}},
		{"10000000000000000", result{^uint64(0), 17, true}}, // saturates
		{"-10000000000000000", result{^uint64(0), 18, true}},
		{"000000000000000000001", result{1, 21, true}},
		{"", result{0, 0, false}},
		{"  ", result{0, 2, false}},
		{"-", result{0, 1, false}},
		{"g", result{0, 0, false}},
	}
	for _, tt := range tests {
		v, end, ok := scanHex([]byte(tt.in), 0)
		if diff := cmp.Diff(tt.want, result{v, end, ok}); diff != "" {
			t.Errorf("scanHex(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestScanDec(t *testing.T) {
	type result struct {
		U   uint64
		S   int64
		End int
		OK  bool
	}
	tests := []struct {
		in   string
		want result
	}{
		{"42", result{42, 42, 2, true}},
		{" -1 ", result{^uint64(0), -1, 3, true}},
		{"+7", result{7, 7, 2, true}},
		{"0x10", result{0, 0, 1, true}}, // base 10: the x is not part of it
		{"18446744073709551615", result{^uint64(0), 1<<63 - 1, 20, true}},
		{"18446744073709551616", result{^uint64(0), 1<<63 - 1, 20, true}},
		{"-9223372036854775808", result{1 << 63, -1 << 63, 20, true}},
		{"-9223372036854775809", result{1<<63 - 1, -1 << 63, 20, true}},
		{"-99999999999999999999", result{^uint64(0), -1 << 63, 21, true}},
		{"", result{0, 0, 0, false}},
		{"+", result{0, 0, 1, false}},
		{"a", result{0, 0, 0, false}},
	}
	for _, tt := range tests {
		u, s, end, ok := scanDec([]byte(tt.in), 0)
		if diff := cmp.Diff(tt.want, result{u, s, end, ok}); diff != "" {
			t.Errorf("scanDec(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestCScanf(t *testing.T) {
	convs := mustScanf("%15s %*s %X %d %2x %4s")
	vals := make([]scanVal, 6)
	tests := []struct {
		in   string
		want int
	}{
		{"", -1},
		{"   ", -1},
		{"a", 1},
		{"a b", 1},
		{"a b c", 2}, // c is a hex digit
		{"a b g", 1},
		{"a b 0x1f -3 fff abcdef", 5},
		{"abcdefghijklmnopq b 1 2 3 4", 5},
	}
	for _, tt := range tests {
		if got, _ := cScanf([]byte(tt.in), 0, convs, vals); got != tt.want {
			t.Errorf("cScanf(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	cScanf([]byte("a b 0x1f -3 fff abcdef"), 0, convs, vals)
	if vals[1].num != 0x1f || int32(vals[2].num) != -3 || vals[3].num != 0xff || string(vals[4].str) != "f" {
		t.Errorf("values %+v", vals)
	}
	cScanf([]byte("abcdefghijklmnopq b 1 2 3 4"), 0, convs, vals)
	if string(vals[0].str) != "abcdefghijklmno" {
		t.Errorf("%%15s stored %q", vals[0].str)
	}
}

func TestMustScanf(t *testing.T) {
	hexSet := func() *[256]bool {
		var s [256]bool
		for _, c := range "0123456789ABCDEFabcdef" {
			s[c] = true
		}
		return &s
	}()
	tests := []struct {
		format string
		want   []conv
	}{
		{"%d: %64[0-9A-Fa-f]:%X", []conv{{kind: convDec}, {kind: convLit, lit: ':'}, {kind: convSpace},
			{kind: convSet, width: 64, set: hexSet}, {kind: convLit, lit: ':'}, {kind: convHex}}},
		{"%*s%lu %llu%hd %hX%02x", []conv{{kind: convStr, suppress: true}, {kind: convUDec}, {kind: convSpace},
			{kind: convUDec}, {kind: convDec}, {kind: convSpace}, {kind: convHex}, {kind: convHex, width: 2}}},
		{" \t%15c\n", []conv{{kind: convSpace}, {kind: convChars, width: 15}, {kind: convSpace}}},
		{"%p%s", []conv{{kind: convPtr}, {kind: convStr}}},
	}
	for _, tt := range tests {
		got := mustScanf(tt.format)
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(conv{})); diff != "" {
			t.Errorf("mustScanf(%q) (-want +got):\n%s", tt.format, diff)
		}
	}
	neg := mustScanf("%[^]a-c]")[0].set
	for c, want := range map[byte]bool{']': false, 'a': false, 'b': false, 'c': false, 'd': true, ' ': true} {
		if neg[c] != want {
			t.Errorf("%%[^]a-c] has %q: %v, want %v", c, neg[c], want)
		}
	}
	for _, bad := range []string{"%", "%f", "%[abc", "%5"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("mustScanf(%q) did not panic", bad)
				}
			}()
			mustScanf(bad)
		}()
	}
}

// TestCScanfRules checks the rules of glibc's vfscanf that cScanf applies
// around the conversions: EOF, white space, ordinary characters, %c and %[
// that skip no white space, and where a call stops.
func TestCScanfRules(t *testing.T) {
	type result struct {
		N    int
		End  int
		Vals []string // %s, %c, %[ as text, numbers in decimal
	}
	tests := []struct {
		name, format, in string
		want             result
	}{
		{"empty input is EOF", "%d", "", result{-1, 0, nil}},
		{"blank input is EOF", "%d", " \t\n", result{-1, 3, nil}},
		{"EOF after suppressed conversions", "%*s %d", "x ", result{-1, 2, nil}},
		{"matching failure first is 0", "%d", "x", result{0, 0, nil}},
		{"a lone sign is consumed", "%d", " -x", result{0, 2, nil}},
		{"input ends later", "%d %d", "1 ", result{1, 2, []string{"1"}}},
		{"literal matches", "%d:%d", "1:2", result{2, 3, []string{"1", "2"}}},
		{"no white space before a literal", "%d:%d", "1 :2", result{1, 1, []string{"1"}}},
		{"white space directive before a literal", "%d :%d", "1 \t:2", result{2, 5, []string{"1", "2"}}},
		{"literal at EOF", "%d:", "1", result{1, 1, []string{"1"}}},
		{"literal first at EOF", ":%d", "", result{-1, 0, nil}},
		{"%c takes white space", "%3c", " ab", result{1, 3, []string{" ab"}}},
		{"%c after white space directive", " %3c", "  abcd", result{1, 5, []string{"abc"}}},
		{"%c short at the end", "%d\t%15c", "3\teth0", result{2, 6, []string{"3", "eth0"}}},
		{"%c without width is one byte", "%c%c", "ab", result{2, 2, []string{"a", "b"}}},
		{"%[ skips no white space", "%8[0-9a-f]", " ab", result{0, 0, nil}},
		{"%[ width", "%2[0-9a-f]%s", "abc", result{2, 3, []string{"ab", "c"}}},
		{"%[ at EOF", "%d %[a]", "1 ", result{1, 2, []string{"1"}}},
		{"%s width", "%4s%4s", "abcdefghij", result{2, 8, []string{"abcd", "efgh"}}},
		{"%s keeps a NUL", "%s", "a\x00b c", result{1, 3, []string{"a\x00b"}}},
		{"%x width counts sign and 0x", "%3x%s", "-0x1f", result{2, 5, []string{"0", "1f"}}},
		{"%hd keeps strtol", "%hd", "70000", result{1, 5, []string{"70000"}}},
		{"%lu of a negative number", "%lu", "-1", result{1, 2, []string{"18446744073709551615"}}},
		{"%p nil", "%p:", "(nil):", result{1, 6, []string{"0"}}},
		{"trailing white space directive", "%d\n", "5 \n\n7", result{1, 4, []string{"5"}}},
		{"no trailing skip after a failure", "%d %d\n", "5 x ", result{1, 2, []string{"5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustScanf(tt.format)
			vals := make([]scanVal, len(f))
			n, end := cScanf([]byte(tt.in), 0, f, vals)
			got := result{N: n, End: end}
			for k, c := range assigned(f, n) {
				switch c.kind {
				case convStr, convChars, convSet:
					got.Vals = append(got.Vals, string(vals[k].str))
				default:
					got.Vals = append(got.Vals, fmt.Sprint(vals[k].num))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("cScanf(%q, %q) (-want +got):\n%s", tt.format, tt.in, diff)
			}
		})
	}
}

// TestCScanfGolden runs netstat's own formats through cScanf over every
// piece of testdata/sscanf/*.txt and compares the count and the values with
// what glibc's sscanf made of them (netstat_sscanf.c wrote the goldens):
// the format interpreter is held to glibc as scanInet and scanUnix are.
func TestCScanfGolden(t *testing.T) {
	inetFormat := mustScanf("%d: %64[0-9A-Fa-f]:%X %64[0-9A-Fa-f]:%X %X %lX:%lX %X:%lX %lX %d %d %lu %*s\n")
	unixFormat := mustScanf("%p: %lX %lX %lX %X %X %lu %s")
	for _, tc := range []struct {
		name   string
		header bool // the golden has a line for the header
		line   func(b []byte) string
	}{
		{"inet", false, func(b []byte) string {
			var v [14]scanVal
			n, _ := cScanf(b, 0, inetFormat, v[:])
			line := fmt.Sprintf("n=%d", n)
			if n < 10 {
				return line
			}
			s := Socket{
				State:   uint8(min(v[5].num&0xffffffff, 255)),
				TxQueue: v[6].num, RxQueue: v[7].num,
				TimerCode: int64(int32(v[8].num)), TimerWhen: v[9].num,
			}
			if n > 10 {
				s.Retransmits = v[10].num
			}
			if n > 11 {
				s.UID = int64(int32(v[11].num))
			}
			if n > 12 {
				s.Timeout = int64(int32(v[12].num))
			}
			if n > 13 {
				s.Inode = v[13].num
			}
			var words [2][4]uint32
			_, words[0], _ = scanHexSet(v[1].str, 0)
			_, words[1], _ = scanHexSet(v[3].str, 0)
			decodeAddrs([2][]byte{v[1].str, v[3].str}, words, [2]uint16{uint16(v[2].num), uint16(v[4].num)}, &s)
			return line + " " + formatGolden(&s)
		}},
		{"unix", true, func(b []byte) string {
			var v [8]scanVal
			n, _ := cScanf(b, 0, unixFormat, v[:])
			line := fmt.Sprintf("n=%d", n)
			if n < 6 {
				return line
			}
			s := Socket{RefCount: v[1].num, UnixProto: v[2].num, Flags: v[3].num,
				Type: v[4].num & 0xffffffff, State: uint8(min(v[5].num&0xffffffff, 255))}
			if n > 6 {
				s.Inode = v[6].num
			}
			if n > 7 {
				s.Path = string(v[7].str)
			}
			return line + " " + formatUnixGolden(&s)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.ReadFile("testdata/sscanf/" + tc.name + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			golden := readGolden(t, "testdata/sscanf/"+tc.name+".golden")
			if tc.header {
				golden = golden[1:]
			}
			var got []string
			for k, b := range fgetsPieces(in) {
				if k > 0 {
					got = append(got, fmt.Sprintf("%d %s", k, tc.line(b)))
				}
			}
			if diff := cmp.Diff(golden, got); diff != "" {
				t.Errorf("cScanf vs glibc (-want +got):\n%s", diff)
			}
		})
	}
}

// scanFuzzFormats are the formats the readers run through cScanf, and a few
// that use every directive.
var scanFuzzFormats = []string{
	"%4s%4s%4s%4s%4s%4s%4s%4s %02x %4s%4s%4s%4s%4s%4s%4s%4s %02x %4s%4s%4s%4s%4s%4s%4s%4s %08x %08x %08x %08x %15s\n",
	"%4s%4s%4s%4s%4s%4s%4s%4s %08x %02x %02x %02x %20s\n",
	" %s %x:%hX %x:%hX %hX %lX %hd %hd %lu",
	"%d\t%15c",
	"\t%8[0-9A-Fa-f] %d",
	"%d %15s %64[0-9A-Fa-f] %d",
	"%s %llu",
	"%15s %*s %X %d %*s %127s %d",
	"%p: %lX %3u%2c%[^:]:%*[ab]%*c %d\n",
}

// FuzzCScanf runs those formats over any text and checks what must hold
// whatever the input: the count is EOF, or at most the number of assigning
// conversions; the stop is inside the text; each text value lies in the
// input, within its width, of the bytes its conversion takes; and a call
// from the offset where the previous one stopped (fscanf over a stream)
// does the same.
func FuzzCScanf(f *testing.F) {
	f.Add([]byte("fe800000000000000000000000000001 40 00000000000000000000000000000000 00 :: 00000100 00000001 00000000 00000001 eth0\n"), uint8(0))
	f.Add([]byte("TCP 0A000001:1F90 0A000002:0050 C350 00000000 0 0 12345\n"), uint8(2))
	f.Add([]byte("1\tlo        :1\n"), uint8(3))
	f.Add([]byte("0000: 00000002 0 10000 -5x(nil)::a?\n"), uint8(8))
	formats := make([][]conv, len(scanFuzzFormats))
	for i, s := range scanFuzzFormats {
		formats[i] = mustScanf(s)
	}
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		format := formats[int(which)%len(formats)]
		assigning := len(assigned(format, len(format)))
		vals := make([]scanVal, assigning)
		for p, calls := 0, 0; calls < 64; calls++ {
			n, end := cScanf(b, p, format, vals)
			if n < -1 || n > assigning || end < p || end > len(b) {
				t.Fatalf("cScanf from %d: n %d, end %d of %d", p, n, end, len(b))
			}
			if n == -1 && !bytes.Equal(bytes.TrimLeft(b[p:end], " \t\n\v\f\r"), nil) {
				t.Fatalf("EOF after %q", b[p:end])
			}
			for k, c := range assigned(format, n) {
				s := vals[k].str
				switch c.kind {
				case convStr, convSet, convChars:
					if len(s) == 0 || (c.width > 0 && len(s) > c.width) || !bytes.Contains(b[p:end], s) {
						t.Fatalf("%q from %q: empty, too long or not in the input", s, b[p:end])
					}
				}
				if c.kind == convStr && bytes.ContainsAny(s, " \t\n\v\f\r") {
					t.Fatalf("%%s stored white space: %q", s)
				}
				if c.kind == convSet {
					for _, ch := range s {
						if !c.set[ch] {
							t.Fatalf("%%[ stored %q, not in its set", ch)
						}
					}
				}
			}
			if n <= 0 || end == p {
				break
			}
			p = end
		}
	})
}

// assigned lists the first n conversions of f that assign a value: those
// whose values cScanf stores into vals, in order.
func assigned(f []conv, n int) []conv {
	var out []conv
	for _, c := range f {
		if len(out) >= n {
			break
		}
		if c.kind != convSpace && c.kind != convLit && !c.suppress {
			out = append(out, c)
		}
	}
	return out
}
