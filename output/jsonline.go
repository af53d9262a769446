package output

import (
	"math"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// Trace and life write a JSON line per event: each line is appended to a
// reused buffer, key by key, in straight-line code (encoding/json's
// reflection was most of their user-space CPU under churn, and a builder
// with a method per field still cost a third of a line). The bytes are
// those json.Marshal gives for the same struct (TestJSONLineMatchesMarshal
// and FuzzJSONString hold them to it), HTML-safe escaping included.

// appendAddr appends an address as a JSON string (its text never needs
// escaping).
func appendAddr(b []byte, a netip.Addr) []byte {
	b = append(b, '"')
	b = a.Unmap().AppendTo(b)
	return append(b, '"')
}

// appendUint appends v in decimal, two digits a step from the right.
// strconv.AppendUint took the general path for most numbers of a line
// (2 to 10 digits), and a third of a life line's cost went to it.
func appendUint(b []byte, v uint64) []byte {
	if v < 10 {
		return append(b, byte('0'+v))
	}
	var d [20]byte
	i := len(d)
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		d[i], d[i+1] = digitPairs[r], digitPairs[r+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		d[i], d[i+1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		i--
		d[i] = byte('0' + v)
	}
	return append(b, d[i:]...)
}

const digitPairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" + "30313233343536373839" +
	"40414243444546474849" + "50515253545556575859" + "60616263646566676869" + "70717273747576777879" +
	"80818283848586878889" + "90919293949596979899"

// appendText appends a name from the system (a task name, a cgroup path,
// a unit) as Escape and appendJSONString would together. A name that
// needs neither (printable ASCII, none of the characters JSON or HTML-safe
// escaping changes), as names almost always are, takes one scan.
func appendText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendJSONString(b, Escape(s))
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// timeText appends times as time.RFC3339Nano does, keeping the last
// time's text up to the seconds and its zone for the next time in the same
// second: formatting the date is most of a time's cost.
type timeText struct {
	sec   int64
	loc   *time.Location
	date  []byte // "2006-01-02T15:04:05"
	zone  []byte // "Z" or "-07:00"
	valid bool
}

func (tt *timeText) append(b []byte, t time.Time) []byte {
	if sec := t.Unix(); !tt.valid || sec != tt.sec || t.Location() != tt.loc {
		tt.date = t.AppendFormat(tt.date[:0], "2006-01-02T15:04:05")
		tt.zone = t.AppendFormat(tt.zone[:0], "Z07:00")
		tt.sec, tt.loc, tt.valid = sec, t.Location(), true
	}
	b = append(b, tt.date...)
	if ns := t.Nanosecond(); ns != 0 {
		// The fraction without its trailing zeros, as .999999999 gives.
		var d [10]byte
		d[0] = '.'
		for i := 9; i >= 1; i-- {
			d[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return append(b, tt.zone...)
}

// appendJSONFloat formats as encoding/json does: the shortest 'f' form,
// or 'e' outside [1e-6, 1e21) with a two-digit-free exponent.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendMillis appends ns nanoseconds as milliseconds, exactly as
// appendJSONFloat(b, float64(ns)/1e6) does, without the float: below 1e15 ns
// (11 days) the quotient's shortest round-trip form is its decimal
// ns/1e6 with the fraction's trailing zeros cut, because the double
// nearest that decimal is within 2^-23 of it and every other decimal with
// at most six fraction digits is at least 1e-6 away. Above, the float.
func appendMillis(b []byte, ns uint64) []byte {
	if ns >= 1e15 {
		return appendJSONFloat(b, float64(ns)/1e6)
	}
	b = appendUint(b, ns/1e6)
	frac := ns % 1e6
	if frac == 0 {
		return b
	}
	var d [7]byte
	d[0] = '.'
	for i := 6; i >= 1; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := len(d)
	for d[n-1] == '0' {
		n--
	}
	return append(b, d[:n]...)
}

// appendName appends a name the code itself spells (a family, a direction,
// an owner source, a TCP state: lower- or upper-case letters, digits and
// '_' only) as a JSON string: nothing in it needs escaping.
func appendName(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONString quotes s as encoding/json does with HTML escaping on.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
