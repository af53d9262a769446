package snapshot

import (
	"bytes"
	"net/netip"
)

// inet_pton, as glibc does it: bpfnetstat's one port, for the readers that
// rebuild an IPv6 address from the hex groups a /proc file splits it into
// (/proc/net/ipv6_route, /proc/net/if_inet6) and read it back the way
// netstat does, so that text netstat rejects is rejected here too.

// groups6 is inet_pton(AF_INET6) on the eight groups joined with ':', as
// netstat builds the text with sprintf("%s:%s:...") and reads it back. The
// kernel writes four hex digits per group, converted here without building
// the text; anything else goes through the text (scratch is reused for it).
// A group is a C string: it ends at its first NUL.
func groups6(g *[8][]byte, scratch *[]byte) (netip.Addr, bool) {
	var a [16]byte
	fast := true
	for i, grp := range g {
		if len(grp) != 4 {
			fast = false
			break
		}
		v, n := uint16(0), 0
		for _, c := range grp {
			d := hexVal[c]
			if d == noHex {
				break
			}
			v = v<<4 | uint16(d)
			n++
		}
		if n != 4 {
			fast = false
			break
		}
		a[2*i], a[2*i+1] = byte(v>>8), byte(v)
	}
	if fast {
		return netip.AddrFrom16(a), true
	}
	*scratch = joinGroups((*scratch)[:0], g)
	a16, ok := inetPton6(*scratch)
	if !ok {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(a16), true
}

func joinGroups(b []byte, g *[8][]byte) []byte {
	for i, s := range g {
		if i > 0 {
			b = append(b, ':')
		}
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		b = append(b, s...)
	}
	return b
}

// inetPton6 is glibc's inet_pton(AF_INET6) (resolv/inet_pton.c): at most
// four hex digits a group, one "::", an optional dotted quad in the last 32
// bits, nothing else (no zone, no white space). ok is false for text it
// rejects, and then the address is not to be used (glibc leaves its
// destination alone).
func inetPton6(src []byte) ([16]byte, bool) {
	var tmp [16]byte
	tp, colonp := 0, -1
	if len(src) == 0 {
		return tmp, false
	}
	i := 0
	if src[0] == ':' {
		i++
		if i == len(src) || src[i] != ':' {
			return tmp, false
		}
	}
	curtok := i
	seen := 0
	val := uint32(0)
	for i < len(src) {
		ch := src[i]
		i++
		if d := hexVal[ch]; d != noHex {
			if seen == 4 {
				return tmp, false
			}
			val = val<<4 | uint32(d)
			seen++
			continue
		}
		if ch == ':' {
			curtok = i
			if seen == 0 {
				if colonp >= 0 {
					return tmp, false
				}
				colonp = tp
				continue
			} else if i == len(src) {
				return tmp, false
			}
			if tp+2 > 16 {
				return tmp, false
			}
			tmp[tp], tmp[tp+1] = byte(val>>8), byte(val)
			tp += 2
			seen, val = 0, 0
			continue
		}
		if ch == '.' && tp+4 <= 16 {
			if v4, ok := inetPton4(src[curtok:]); ok {
				copy(tmp[tp:], v4[:])
				tp += 4
				seen = 0
				break
			}
		}
		return tmp, false
	}
	if seen > 0 {
		if tp+2 > 16 {
			return tmp, false
		}
		tmp[tp], tmp[tp+1] = byte(val>>8), byte(val)
		tp += 2
	}
	if colonp >= 0 {
		if tp == 16 {
			return tmp, false
		}
		n := tp - colonp
		copy(tmp[16-n:], tmp[colonp:tp])
		for k := colonp; k < 16-n; k++ {
			tmp[k] = 0
		}
		tp = 16
	}
	return tmp, tp == 16
}

// inetPton4 is glibc's inet_pton4 (dotted quad, no leading zeros).
func inetPton4(src []byte) ([4]byte, bool) {
	var tmp [4]byte
	tp, octets, sawDigit := 0, 0, false
	for _, ch := range src {
		switch {
		case isDigit(ch):
			v := uint(tmp[tp])*10 + uint(ch-'0')
			if sawDigit && tmp[tp] == 0 || v > 255 {
				return tmp, false
			}
			tmp[tp] = byte(v)
			if !sawDigit {
				octets++
				if octets > 4 {
					return tmp, false
				}
				sawDigit = true
			}
		case ch == '.' && sawDigit:
			if octets == 4 {
				return tmp, false
			}
			tp++
			tmp[tp] = 0
			sawDigit = false
		default:
			return tmp, false
		}
	}
	return tmp, octets == 4
}
