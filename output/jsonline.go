package output

import (
	"math"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonLine appends one JSON object, field by field, to a reused buffer:
// trace and life write a line per event, and encoding/json's reflection
// was most of their user-space CPU under churn. The bytes are those
// json.Marshal gives for the same struct (TestJSONLineMatchesMarshal and
// FuzzJSONString hold them to it), HTML-safe escaping included.
type jsonLine struct {
	b     []byte
	first bool
	// The last time's text up to the seconds, and its zone, for the next
	// time in the same second: formatting the date is most of a time.
	sec        int64
	secLoc     *time.Location
	secText    []byte
	zoneText   []byte
	secTextSet bool
}

func (j *jsonLine) begin(buf []byte) {
	j.b = append(buf[:0], '{')
	j.first = true
}

func (j *jsonLine) key(k string) {
	if j.first {
		j.first = false
		j.b = append(j.b, '"')
	} else {
		j.b = append(j.b, ',', '"')
	}
	j.b = append(j.b, k...)
	j.b = append(j.b, '"', ':')
}

// addr writes an address as a string (its text never needs escaping).
func (j *jsonLine) addr(k string, a netip.Addr) {
	j.key(k)
	j.b = append(j.b, '"')
	j.b = a.Unmap().AppendTo(j.b)
	j.b = append(j.b, '"')
}

func (j *jsonLine) str(k, v string) {
	j.key(k)
	j.b = appendJSONString(j.b, v)
}

func (j *jsonLine) uint(k string, v uint64) {
	j.key(k)
	j.b = strconv.AppendUint(j.b, v, 10)
}

func (j *jsonLine) float(k string, v float64) {
	j.key(k)
	j.b = appendJSONFloat(j.b, v)
}

// time writes t as time.RFC3339Nano does.
func (j *jsonLine) time(k string, t time.Time) {
	j.key(k)
	j.b = append(j.b, '"')
	if sec := t.Unix(); !j.secTextSet || sec != j.sec || t.Location() != j.secLoc {
		// "2006-01-02T15:04:05" then the zone ("Z" or "-07:00").
		j.secText = t.AppendFormat(j.secText[:0], "2006-01-02T15:04:05")
		j.zoneText = t.AppendFormat(j.zoneText[:0], "Z07:00")
		j.sec, j.secLoc, j.secTextSet = sec, t.Location(), true
	}
	j.b = append(j.b, j.secText...)
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
		j.b = append(j.b, d[:n]...)
	}
	j.b = append(j.b, j.zoneText...)
	j.b = append(j.b, '"')
}

// end closes the object and the line.
func (j *jsonLine) end() []byte {
	j.b = append(j.b, '}', '\n')
	return j.b
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
