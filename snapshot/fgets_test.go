package snapshot

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// piece is one result of fgetsReader.next, with its physical line.
type piece struct {
	Text string
	Line int
}

func readPieces(t *testing.T, r io.Reader) []piece {
	t.Helper()
	lr := newFgetsReader(r, lineBufSize)
	var got []piece
	for {
		b, err := lr.next(fgetsMax)
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		got = append(got, piece{string(b), lr.line})
	}
}

// fgetsPieces is what netstat's fgets(buffer, 8192, f) loop hands its
// parser from text, in order.
func fgetsPieces(text []byte) [][]byte {
	lr := newFgetsReader(bytes.NewReader(text), lineBufSize)
	var out [][]byte
	for {
		b, err := lr.next(fgetsMax)
		if err != nil {
			return out
		}
		out = append(out, bytes.Clone(b))
	}
}

// TestFgetsLines reads with the socket tables' buffer: pieces of at most
// fgetsMax bytes numbered by physical line.
func TestFgetsLines(t *testing.T) {
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

func TestFgetsReadError(t *testing.T) {
	boom := errors.New("boom")
	lr := newFgetsReader(io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(boom)), lineBufSize)
	if _, err := lr.next(fgetsMax); err != nil {
		t.Fatalf("first next: %v", err)
	}
	if _, err := lr.next(fgetsMax); !errors.Is(err, boom) {
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

func TestFgetsReader(t *testing.T) {
	in := newFgetsReader(strings.NewReader("abc\ndefgh\n\x00xy\nlast"), 16)
	var got []string
	for {
		b, err := in.next(4)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	// Up to 4 bytes a piece; a NUL ends what the parser sees of a piece.
	want := []string{"abc\n", "defg", "h\n", "", "last"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pieces (-want +got):\n%s", diff)
	}
}

// onceErrReader returns its text, then err once, then io.EOF: an error a
// reader reports only once must still reach the caller.
type onceErrReader struct {
	text string
	err  error
}

func (r *onceErrReader) Read(p []byte) (int, error) {
	if r.text != "" {
		n := copy(p, r.text)
		r.text = r.text[n:]
		return n, nil
	}
	if err := r.err; err != nil {
		r.err = nil
		return 0, err
	}
	return 0, io.EOF
}

func TestFgetsReadErrorOnce(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name, text string
		want       []string // pieces before the error
	}{
		// The error comes with whole lines still buffered: they go first.
		{"after whole lines", "a\nb\n", []string{"a\n", "b\n"}},
		// The error interrupts a piece: fgets returns NULL, not the
		// part it read.
		{"mid-line", "a\nbc", []string{"a\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFgetsReader(&onceErrReader{tt.text, boom}, 16)
			var got []string
			var err error
			for {
				var b []byte
				if b, err = f.next(8); err != nil {
					break
				}
				got = append(got, string(b))
			}
			if !errors.Is(err, boom) {
				t.Errorf("err = %v, want %v", err, boom)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pieces (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFgetsSizes changes the piece size from call to call as the route
// reader does (a 510-byte header, then 1022-byte rows), and reads after a
// reset as GuessCacheLayout does.
func TestFgetsSizes(t *testing.T) {
	text := "header-long\nrow1\nrow-number-two\n"
	f := newFgetsReader(strings.NewReader(text), 24)
	var got []piece
	for _, max := range []int{6, 20, 4, 4, 4, 4, 20} {
		b, err := f.next(max)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, piece{string(b), f.line})
	}
	want := []piece{{"header", 1}, {"-long\n", 1}, {"row1", 2}, {"\n", 2}, {"row-", 3}, {"numb", 3}, {"er-two\n", 3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pieces (-want +got):\n%s", diff)
	}
	f.reset(strings.NewReader(text))
	if b, err := f.next(20); err != nil || string(b) != "header-long\n" || f.line != 1 {
		t.Errorf("after reset: %q, line %d, %v", b, f.line, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a piece larger than the buffer did not panic")
		}
	}()
	f.next(25)
}

// fgetsModel is fgets over a whole text, the simplest way: what
// fgetsReader must return whatever its buffer and the reads.
func fgetsModel(text []byte, maxAt func(k int) int) []piece {
	var out []piece
	line, mid := 0, false
	for k := 0; len(text) > 0; k++ {
		n := min(len(text), maxAt(k))
		if i := bytes.IndexByte(text[:n], '\n'); i >= 0 {
			n = i + 1
		}
		p := text[:n]
		text = text[n:]
		if !mid {
			line++
		}
		mid = p[n-1] != '\n'
		if i := bytes.IndexByte(p, 0); i >= 0 {
			p = p[:i]
		}
		out = append(out, piece{string(p), line})
	}
	return out
}

// FuzzFgets checks fgetsReader against fgetsModel with piece sizes from 1 to
// 40 that change from call to call, buffers from 16 bytes (bufio's least)
// up, and reads of one byte or of any size.
func FuzzFgets(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), []byte{3}, uint8(0), false)
	f.Add([]byte("Iface\tDestination\n\x00x\nlong line without end"), []byte{5, 39, 0}, uint8(7), true)
	f.Fuzz(func(t *testing.T, text, sizes []byte, extra uint8, oneByte bool) {
		if len(text) > 4096 {
			return // longer says nothing new with pieces of 40 bytes at most
		}
		if len(sizes) == 0 {
			sizes = []byte{0}
		}
		maxAt := func(k int) int { return int(sizes[k%len(sizes)])%40 + 1 }
		var r io.Reader = bytes.NewReader(text)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		fr := newFgetsReader(r, 40+int(extra%64))
		var got []piece
		for k := 0; ; k++ {
			b, err := fr.next(maxAt(k))
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, piece{string(b), fr.line})
		}
		if want := fgetsModel(text, maxAt); !slices.Equal(want, got) {
			t.Fatalf("pieces (-model +reader):\n%s", cmp.Diff(want, got))
		}
	})
}
