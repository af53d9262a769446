package snapshot

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
)

// defaultRoot is the proc file system bpfnetstat reads when no root is given.
const defaultRoot = "/proc"

// FS is a proc file system mounted at a root, /proc unless told otherwise.
// Socket tables are read from ROOT/net/<file>; on a live system /proc/net is
// /proc/self/net, the tables of the caller's network namespace.
//
// The zero FS reads /proc.
type FS struct {
	root string
}

// NewFS returns an FS rooted at root; an empty root means /proc. A test
// points it at a directory of fixtures, a tool at a host's /proc mounted
// elsewhere.
func NewFS(root string) FS {
	if root == "" {
		root = defaultRoot
	}
	return FS{root: root}
}

// Path joins elem to the root: fs.Path("net", "tcp") is "/proc/net/tcp".
func (fs FS) Path(elem ...string) string {
	root := fs.root
	if root == "" {
		root = defaultRoot
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// ErrBogusLine is wrapped by every LineError: a line of a socket table that
// netstat would skip with "warning, got bogus ... line.".
var ErrBogusLine = errors.New("bogus line")

// LineError describes a line of a socket table that netstat would call bogus.
// It formats like
//
//	/proc/net/tcp:17: local_address "0100007G:0016": invalid hex
//
// and wraps ErrBogusLine.
type LineError struct {
	Path  string // file read
	Line  int    // 1-based line number in the file
	Field string // column of the first field that did not parse, named as in the file's header
	Token string // raw text of that field up to the next white space; empty when missing
	Msg   string // what is wrong with it
}

// Error formats the error as path:line: field "token": msg.
func (e *LineError) Error() string {
	if e.Token == "" {
		return fmt.Sprintf("%s:%d: %s: %s", e.Path, e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s %q: %s", e.Path, e.Line, e.Field, e.Token, e.Msg)
}

// Unwrap returns ErrBogusLine.
func (e *LineError) Unwrap() error { return ErrBogusLine }

// netstat reads every /proc table with fgets(buffer, 8192, f) and hands each
// result to its *_do_one parser: a physical line longer than 8191 bytes
// reaches the parser as several "lines". lineReader reproduces those pieces
// so that such a file is judged line by line exactly as netstat judges it.
const fgetsMax = 8192 - 1

// lineReader splits a stream the way netstat's fgets loop does, without
// holding more than one buffer of it and without copying.
type lineReader struct {
	br      *bufio.Reader
	rest    []byte // unreturned part of an over-long line, still in br's buffer
	line    int    // 1-based number of the physical line of the last chunk
	midLine bool   // the last chunk did not end its physical line
}

// The buffer is a multiple of fgetsMax: when a physical line fills it
// (bufio.ErrBufferFull) it holds whole fgets pieces, and the next read
// starts exactly where netstat's next fgets would.
const lineBufSize = 8 * fgetsMax

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, lineBufSize)}
}

// next returns the next piece as netstat's fgets would, cut at the first NUL
// (the C parsers see a string), and its physical line number. The piece is
// valid until the following call. At the end it returns io.EOF.
func (lr *lineReader) next() ([]byte, int, error) {
	if len(lr.rest) == 0 {
		b, err := lr.br.ReadSlice('\n')
		switch {
		case err == nil || err == bufio.ErrBufferFull:
		case err == io.EOF && len(b) > 0:
			// A last line without a newline: fgets returns it too.
		default:
			return nil, lr.line, err
		}
		lr.rest = b
	}
	if !lr.midLine {
		lr.line++
	}
	b := lr.rest
	if len(b) > fgetsMax {
		b = b[:fgetsMax]
	}
	lr.rest = lr.rest[len(b):]
	lr.midLine = b[len(b)-1] != '\n'
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return b, lr.line, nil
}

// readError gives a read error the path of the file it came from, unless it
// already names one (errors from *os.File do).
func readError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: "read", Path: path, Err: err}
}

// netstat parses each line with glibc's sscanf. The helpers below do, by hand
// and without allocating, what the conversions it uses do with a C string:
// skip leading white space (except %[), accept a sign and, in base 16, a 0x
// prefix, and convert like strtoul/strtol, saturating on overflow.

// hexVal maps a byte to its hex digit value, or to noHex.
var hexVal = func() (t [256]uint8) {
	for i := range t {
		t[i] = noHex
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = uint8(c - 'a' + 10)
		t[c-'a'+'A'] = uint8(c - 'a' + 10)
	}
	return t
}()

const noHex = 0xff

// isSpace is C's isspace in the C locale: space, \t, \n, \v, \f, \r.
func isSpace(c byte) bool { return c == ' ' || c-'\t' <= '\r'-'\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanHex is %X / %lX / %p: the value strtoul(…, 16) gives, and where the
// number ends. ok is false when no digit was found (a matching failure).
func scanHex(b []byte, i int) (v uint64, end int, ok bool) {
	i = skipSpace(b, i)
	// Fast path, nearly every field: 1 to 16 plain digits, which cannot
	// overflow.
	j := i
	for ; j < len(b); j++ {
		d := hexVal[b[j]]
		if d == noHex {
			break
		}
		v = v<<4 | uint64(d)
	}
	if n := j - i; n > 0 && n <= 16 && (n > 1 || b[i] != '0' || j == len(b) || b[j]|0x20 != 'x') {
		return v, j, true
	}
	return scanHexSlow(b, i)
}

// scanHexSlow is scanHex with a sign, a 0x prefix or more than 16 digits.
func scanHexSlow(b []byte, i int) (v uint64, end int, ok bool) {
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	digits := 0
	if i+1 < len(b) && b[i] == '0' && b[i+1]|0x20 == 'x' {
		// glibc keeps the 0 as a digit and drops the x even when no hex
		// digit follows ("0xg" reads as 0, leaving "g").
		digits = 1
		i += 2
	}
	over := false
	for ; i < len(b); i++ {
		d := hexVal[b[i]]
		if d == noHex {
			break
		}
		if v > ^uint64(0)>>4 {
			over = true
		}
		v = v<<4 | uint64(d)
		digits++
	}
	switch {
	case digits == 0:
		return 0, i, false
	case over:
		v = ^uint64(0)
	case neg:
		v = -v
	}
	return v, i, true
}

// scanDec reads a decimal number like %lu (unsigned) and %d (signed) do. u is
// strtoul's result, s strtol's; the caller picks the one its conversion uses.
func scanDec(b []byte, i int) (u uint64, s int64, end int, ok bool) {
	i = skipSpace(b, i)
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	start := i
	over := false
	for ; i < len(b) && b[i]-'0' <= 9; i++ {
		d := uint64(b[i] - '0')
		if u > (^uint64(0)-d)/10 {
			over = true
		}
		u = u*10 + d
	}
	if i == start {
		return 0, 0, i, false
	}
	switch {
	case neg && (over || u > 1<<63):
		s = -1 << 63
	case neg:
		s = -int64(u)
	case over || u > 1<<63-1:
		s = 1<<63 - 1
	default:
		s = int64(u)
	}
	if over {
		u = ^uint64(0)
	} else if neg {
		u = -u
	}
	return u, s, i, true
}

// scanHexSet is %64[0-9A-Fa-f]: 1 to 64 hex digits, no white space skipped.
// It also reads the digits the way netstat's "%08X%08X%08X%08X" reads them
// back: w[k] is the value of digits 8k to 8k+7 (fewer at the end of the
// text); words past the text are zero.
func scanHexSet(b []byte, i int) (end int, w [4]uint32, ok bool) {
	end = i
	limit := min(len(b), i+64)
	for k := 0; end < limit; k++ {
		var acc uint32
		n := 0
		if end+8 <= limit {
			acc, n = hex8(b[end : end+8])
		}
		if n == 0 { // fewer than 8 digits left: one at a time
			for j := end; j < min(limit, end+8); j++ {
				d := hexVal[b[j]]
				if d == noHex {
					break
				}
				acc = acc<<4 | uint32(d)
				n++
			}
		}
		if k < 4 {
			w[k] = acc
		}
		end += n
		if n < 8 {
			break
		}
	}
	return end, w, end > i
}

// hex8 converts 8 hex digits at once, the common case of every field of the
// socket tables; n is 8, or 0 when a byte is not a hex digit.
func hex8(b []byte) (v uint32, n int) {
	_ = b[7]
	if hexVal[b[0]]|hexVal[b[1]]|hexVal[b[2]]|hexVal[b[3]]|
		hexVal[b[4]]|hexVal[b[5]]|hexVal[b[6]]|hexVal[b[7]] == noHex {
		return 0, 0 // noHex has all bits set: one stray byte shows
	}
	x := binary.BigEndian.Uint64(b) // first digit in the top byte
	// '0'-'9' are 0x30-0x39, 'A'-'F' 0x41-0x46, 'a'-'f' 0x61-0x66: the low
	// nibble, plus 9 for letters (bit 6 set).
	x = x&0x0f0f0f0f0f0f0f0f + (x>>6&0x0101010101010101)*9
	x = (x | x>>4) & 0x00ff00ff00ff00ff
	x = (x | x>>8) & 0x0000ffff0000ffff
	x = (x | x>>16) & 0x00000000ffffffff
	return uint32(x), 8
}

// token is the text from i (after white space) to the next white space.
func token(b []byte, i int) string {
	i = skipSpace(b, i)
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return string(b[i:j])
}
