package output

import (
	"unicode/utf8"
)

// Escape makes process- and peer-controlled text (program names, UNIX
// socket paths) safe for a terminal. It is bpfnetstat's one intended
// difference from net-tools, which prints such bytes raw.
//
// The rule is fixed: every C0 control byte (0x00-0x1f), DEL (0x7f), every
// byte of a C1 control character (U+0080-U+009F, which terminals also
// obey) and every byte that is not part of valid UTF-8 becomes \xHH (two
// lower-case hex digits). Everything else, including printable UTF-8 and the
// backslash itself, is kept as is, so names without such bytes stay
// byte-identical to netstat's.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if !(r == utf8.RuneError && size <= 1) && !(r >= 0x80 && r <= 0x9f) {
				i += size
				continue
			}
		}
		return escapeFrom(s, i)
	}
	return s
}

const hexDigits = "0123456789abcdef"

func escapeFrom(s string, i int) string {
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		switch {
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
			i++
			continue
		case c >= 0x80:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !(r == utf8.RuneError && size <= 1) && !(r >= 0x80 && r <= 0x9f) {
				b = append(b, s[i:i+size]...)
				i += size
				continue
			}
			for j := 0; j < size; j++ {
				b = append(b, '\\', 'x', hexDigits[s[i+j]>>4], hexDigits[s[i+j]&0xf])
			}
			i += size
			continue
		}
		b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		i++
	}
	return string(b)
}
