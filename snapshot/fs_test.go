package snapshot

import (
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestFSPath(t *testing.T) {
	tests := []struct {
		fs   FS
		elem []string
		want string
	}{
		{NewFS(""), []string{"net", "tcp"}, "/proc/net/tcp"},
		{FS{}, []string{"net", "unix"}, "/proc/net/unix"},
		{NewFS("testdata/proc"), []string{"net", "tcp6"}, "testdata/proc/net/tcp6"},
		{NewFS("/host/proc/"), []string{"net", "udp"}, "/host/proc/net/udp"},
		{NewFS("/proc"), nil, "/proc"},
	}
	for _, tt := range tests {
		if got := tt.fs.Path(tt.elem...); got != tt.want {
			t.Errorf("FS{%q}.Path(%q) = %q, want %q", tt.fs.root, tt.elem, got, tt.want)
		}
	}
}

func TestLineError(t *testing.T) {
	e := &LineError{Path: "/proc/net/tcp", Line: 17, Field: "local_address", Token: "0100007G:0016", Msg: "invalid hex"}
	if got, want := e.Error(), `/proc/net/tcp:17: local_address "0100007G:0016": invalid hex`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &LineError{Path: "/proc/net/udp", Line: 3, Field: "tx_queue:rx_queue", Msg: "missing"}
	if got, want := e.Error(), `/proc/net/udp:3: tx_queue:rx_queue: missing`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var err error = e
	if !errors.Is(err, ErrBogusLine) {
		t.Errorf("errors.Is(%v, ErrBogusLine) = false", err)
	}
}

// piece is one result of lineReader.next.
type piece struct {
	Text string
	Line int
}

func readPieces(t *testing.T, r io.Reader) []piece {
	t.Helper()
	lr := newLineReader(r)
	var got []piece
	for {
		b, line, err := lr.next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		got = append(got, piece{string(b), line})
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("a", fgetsMax)
	huge := strings.Repeat("b", 3*lineBufSize+5) // over several buffers
	var hugeWant []piece
	for rest := huge + "\n"; rest != ""; {
		n := min(fgetsMax, len(rest))
		hugeWant = append(hugeWant, piece{rest[:n], 2})
		rest = rest[n:]
	}
	tests := []struct {
		name string
		in   string
		want []piece
	}{
		{"empty", "", nil},
		{"lines", "a\nb\n", []piece{{"a\n", 1}, {"b\n", 2}}},
		{"no final newline", "a\nb", []piece{{"a\n", 1}, {"b", 2}}},
		{"blank lines", "\n\nx\n", []piece{{"\n", 1}, {"\n", 2}, {"x\n", 3}}},
		{"exactly fgetsMax with newline", long[1:] + "\n", []piece{{long[1:] + "\n", 1}}},
		{"fgetsMax then newline", long + "\nz\n", []piece{{long, 1}, {"\n", 1}, {"z\n", 2}}},
		{"over fgetsMax", long + "xy\n", []piece{{long, 1}, {"xy\n", 1}}},
		{"NUL ends the C string", "ab\x00cd\nef\n", []piece{{"ab", 1}, {"ef\n", 2}}},
		{"over several buffers", "h\n" + huge + "\nlast\n", append(append([]piece{{"h\n", 1}}, hugeWant...), piece{"last\n", 3})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time too: pieces must not depend on read sizes.
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				if diff := cmp.Diff(tt.want, readPieces(t, r)); diff != "" {
					t.Errorf("pieces (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestLineReaderError(t *testing.T) {
	boom := errors.New("boom")
	lr := newLineReader(io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(boom)))
	if _, _, err := lr.next(); err != nil {
		t.Fatalf("first next: %v", err)
	}
	if _, _, err := lr.next(); !errors.Is(err, boom) {
		t.Fatalf("second next: %v, want %v", err, boom)
	}
	err := readError("/proc/net/tcp", boom)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/proc/net/tcp" || !errors.Is(err, boom) {
		t.Errorf("readError = %#v, want a *fs.PathError for /proc/net/tcp wrapping boom", err)
	}
	if again := readError("/other", err); again != err {
		t.Errorf("readError re-wrapped a *fs.PathError: %v", again)
	}
}

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
