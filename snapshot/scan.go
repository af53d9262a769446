package snapshot

import (
	"encoding/binary"
	"fmt"
)

// netstat parses what it reads with glibc's sscanf (and, for
// /proc/net/if_inet6 and ip_masquerade, fscanf over the whole stream). This
// file is bpfnetstat's one emulation of it, in two layers:
//
//   - one function per conversion (scanHex, scanDec, scanStr, scanPtr,
//     scanHexSet), which does by hand and without allocating what the
//     conversion does with a C string: skip leading white space (except %c
//     and %[), accept a sign and, in base 16, a 0x prefix, and convert like
//     strtoul/strtol, saturating on overflow;
//   - cScanf, which runs a format compiled by mustScanf directive by
//     directive with glibc's rules for white space, ordinary characters,
//     field widths, assignment suppression, where a failed conversion
//     leaves the input, and the return count (EOF when the input ends before
//     the first conversion).
//
// The socket tables' parsers (scanInet, scanUnix), the hot path of the
// whole tool, call the conversions directly: a row costs no interpretation,
// and a line that stops early can be blamed on its column. Every other
// reader runs its C format through cScanf.

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

func isDigit(c byte) bool { return c-'0' <= 9 }

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
	s, _, _ := scanStr(b, i, 0)
	return string(s)
}

// scanPtr is glibc's %p: a hex number as for %lX, or "(nil)" (the letters in
// any case) when there is neither a digit nor a sign.
func scanPtr(b []byte, i int) (v uint64, end int, ok bool) {
	if v, end, ok = scanHex(b, i); ok {
		return v, end, ok
	}
	j := skipSpace(b, i)
	if len(b)-j >= 5 && b[j] == '(' && b[j+1]|0x20 == 'n' && b[j+2]|0x20 == 'i' && b[j+3]|0x20 == 'l' && b[j+4] == ')' {
		return 0, j + 5, true
	}
	return 0, end, false
}

// scanStr is %Ns (%s when width is 0): after white space, 1 to width bytes
// up to the next white space. A NUL is a byte like any other: sscanf never
// sees one (the readers cut their pieces there, as the C string ends
// there), fscanf copies it, and the C string it stores ends there.
func scanStr(b []byte, i, width int) (s []byte, end int, ok bool) {
	i = skipSpace(b, i)
	end = i
	for end < len(b) && !isSpace(b[end]) && (width == 0 || end-i < width) {
		end++
	}
	return b[i:end], end, end > i
}

// convKind is what one directive of a scanf format does.
type convKind uint8

const (
	convSpace convKind = iota + 1 // white space: skips any white space, none included
	convLit                       // an ordinary character: must come next
	convStr                       // %Ns
	convChars                     // %Nc: N bytes, white space included, no terminator stored
	convSet                       // %N[...]: bytes of the set
	convHex                       // %x, %X, %lX, %hX: strtoul in base 16
	convDec                       // %d, %hd: strtol in base 10
	convUDec                      // %u, %lu, %llu: strtoul in base 10
	convPtr                       // %p
)

// conv is one directive of a compiled scanf format.
type conv struct {
	kind     convKind
	width    int        // 0: none (1 for %c)
	suppress bool       // %*...: converts, assigns nothing, is not counted
	lit      byte       // convLit's character
	set      *[256]bool // convSet's bytes
}

// scanVal is what one assigning conversion stored.
type scanVal struct {
	// str is the text of %s, %c and %[, pointing into the input.
	str []byte
	// num is a number conversion's strtoul (%x, %u, %p) or strtol (%d)
	// result; the C variable keeps its low bits, so the caller converts it
	// to the variable's type (uint32 for %X, int32 for %d, int16 for %hd).
	num uint64
}

// cScanf runs format f over b from offset i as glibc's sscanf runs it over
// the string b[i:], storing each assigned value into vals in order. It
// returns the number of values assigned, or -1 (EOF) when the input ended
// before the first conversion, and the offset where scanning stopped: after
// what a failed conversion consumed (a sign, a "0x"), as fscanf leaves a
// stream, so that fscanf over a stream is cScanf from where the previous
// call stopped.
func cScanf(b []byte, i int, f []conv, vals []scanVal) (n, end int) {
	done := 0
	skip := false // a white space directive waits for the next one
	for _, c := range f {
		switch c.kind {
		case convSpace:
			skip = true
			continue
		case convLit:
			if skip {
				i, skip = skipSpace(b, i), false
			}
			if i >= len(b) {
				return inputFailure(done), i
			}
			if b[i] != c.lit {
				return done, i
			}
			i++
			continue
		}
		if skip || (c.kind != convChars && c.kind != convSet) {
			i = skipSpace(b, i)
		}
		skip = false
		if i >= len(b) {
			return inputFailure(done), i
		}
		lim := b
		if c.width > 0 && i+c.width < len(b) {
			lim = b[:i+c.width]
		}
		var (
			v  scanVal
			j  int
			ok bool
		)
		switch c.kind {
		case convStr:
			v.str, j, ok = scanStr(lim, i, 0)
		case convChars:
			if c.width == 0 {
				lim = b[:i+1]
			}
			v.str, j, ok = lim[i:], len(lim), true
		case convSet:
			for j = i; j < len(lim) && c.set[lim[j]]; j++ {
			}
			v.str, ok = b[i:j], j > i
		case convHex:
			v.num, j, ok = scanHex(lim, i)
		case convDec:
			var s int64
			_, s, j, ok = scanDec(lim, i)
			v.num = uint64(s)
		case convUDec:
			v.num, _, j, ok = scanDec(lim, i)
		case convPtr:
			v.num, j, ok = scanPtr(lim, i)
		}
		i = j
		if !ok {
			return done, i
		}
		if !c.suppress {
			vals[done] = v
			done++
		}
	}
	if skip {
		i = skipSpace(b, i)
	}
	return done, i
}

// inputFailure is scanf's result when the input ends before a directive:
// EOF when nothing was assigned yet.
func inputFailure(done int) int {
	if done == 0 {
		return -1
	}
	return done
}

// mustScanf compiles a scanf format of the conversions above: white space,
// ordinary characters, and %[*][width][length]conversion with the
// conversions d, u, x, X, p, s, c and [set] (ranges a-z and ^ allowed; the
// length modifiers h, hh, l, ll change nothing here, see scanVal.num). It
// panics on anything else: formats are constants of the readers.
func mustScanf(format string) []conv {
	var f []conv
	for i := 0; i < len(format); i++ {
		ch := format[i]
		switch {
		case isSpace(ch):
			if len(f) == 0 || f[len(f)-1].kind != convSpace {
				f = append(f, conv{kind: convSpace})
			}
			continue
		case ch != '%':
			f = append(f, conv{kind: convLit, lit: ch})
			continue
		}
		i++
		var c conv
		if i < len(format) && format[i] == '*' {
			c.suppress = true
			i++
		}
		for ; i < len(format) && isDigit(format[i]); i++ {
			c.width = c.width*10 + int(format[i]-'0')
		}
		for i < len(format) && (format[i] == 'h' || format[i] == 'l') {
			i++
		}
		if i >= len(format) {
			panic(fmt.Sprintf("snapshot: scanf format %q ends in a conversion", format))
		}
		switch format[i] {
		case 'd':
			c.kind = convDec
		case 'u':
			c.kind = convUDec
		case 'x', 'X':
			c.kind = convHex
		case 'p':
			c.kind = convPtr
		case 's':
			c.kind = convStr
		case 'c':
			c.kind = convChars
		case '[':
			c.kind = convSet
			c.set, i = scanSet(format, i+1)
		default:
			panic(fmt.Sprintf("snapshot: scanf format %q: unsupported conversion %%%c", format, format[i]))
		}
		f = append(f, c)
	}
	return f
}

// scanSet compiles the set of a %[ conversion starting at format[i], just
// after the '['; it returns the set and the offset of its closing ']'.
func scanSet(format string, i int) (*[256]bool, int) {
	var set [256]bool
	negate := i < len(format) && format[i] == '^'
	if negate {
		i++
	}
	for first := true; i < len(format); i, first = i+1, false {
		ch := format[i]
		if ch == ']' && !first {
			if negate {
				for k := range set {
					set[k] = !set[k]
				}
			}
			return &set, i
		}
		if i+2 < len(format) && format[i+1] == '-' && format[i+2] != ']' {
			for c := int(ch); c <= int(format[i+2]); c++ {
				set[c] = true
			}
			i += 2
			continue
		}
		set[ch] = true
	}
	panic(fmt.Sprintf("snapshot: scanf format %q: unterminated %%[", format))
}
