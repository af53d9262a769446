package names

import (
	"bufio"
	"io"
	"math"
	"net/netip"
	"strings"
)

// This file reads the files behind glibc's nss "files" module the way that
// module (glibc 2.36, nss/nss_files/files-*.c and files-parse.c) parses
// them, field macro by field macro. The !cgo build answers every lookup from
// these functions; the cgo build uses them only in tests, where they are
// checked against glibc itself.

// eachLine calls fn with every line of r that glibc's internal_getent would
// parse: leading white space skipped, empty lines and lines starting with
// '#' ignored, the line cut at the first byte in eolset (the LINE_PARSER
// comment characters). fn returns false to stop early.
func eachLine(r io.Reader, eolset string, fn func(line string) bool) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if i := strings.IndexByte(line, 0); i >= 0 {
				line = line[:i] // C strings end here
			}
			line = strings.TrimRight(line, "\n")
			line = strings.TrimLeft(line, " \t\n\v\f\r")
			if line != "" && line[0] != '#' {
				if eolset != "" {
					if i := strings.IndexAny(line, eolset); i >= 0 {
						line = line[:i]
					}
				}
				if !fn(line) {
					return nil
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// isSpace is C isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// spaceField is STRING_FIELD(variable, isspace, 1): the text up to the next
// white space, and the rest after all the white space that follows.
func spaceField(line string) (field, rest string) {
	i := 0
	for i < len(line) && !isSpace(line[i]) {
		i++
	}
	field = line[:i]
	for i < len(line) && isSpace(line[i]) {
		i++
	}
	return field, line[i:]
}

// colonField is STRING_FIELD(variable, ISCOLON, 0): the text up to the next
// ':' and the rest after that one ':'.
func colonField(line string) (field, rest string) {
	if i := strings.IndexByte(line, ':'); i >= 0 {
		return line[:i], line[i+1:]
	}
	return line, ""
}

// intField is INT_FIELD(variable, term, swallow, base, ): a strtoul number
// that must end at term or at the end of the line; ok is false where glibc
// rejects the whole line. glibc 2.36 also rejects values above 32 bits,
// which includes every negative number but "-0" (observed with getent: the
// older sources clamp them instead).
func intField(line string, base int, term func(byte) bool, swallow bool) (v uint32, rest string, ok bool) {
	val, end := strtoul(line, base)
	if end == 0 || val > math.MaxUint32 {
		return 0, "", false
	}
	if end < len(line) {
		if !term(line[end]) {
			return 0, "", false
		}
		end++
		for swallow && end < len(line) && term(line[end]) {
			end++
		}
	}
	return uint32(val), line[end:], true
}

// strtoul is C strtoul on a 64-bit machine: leading white space, an
// optional sign (a minus negates modulo 2^64), base 0 picks 16 for "0x", 8
// for a leading 0, else 10; overflow gives ULONG_MAX. end is the index just
// past the number, or 0 when there is none (C's endptr == nptr).
func strtoul(s string, base int) (v uint64, end int) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if (base == 0 || base == 16) && i+2 < len(s) && s[i] == '0' && s[i+1]|0x20 == 'x' && digitValue(s[i+2]) < 16 {
		base = 16
		i += 2
	} else if base == 0 {
		base = 10
		if i < len(s) && s[i] == '0' {
			base = 8
		}
	}
	start, overflow := i, false
	for ; i < len(s); i++ {
		d := uint64(digitValue(s[i]))
		if d >= uint64(base) {
			break
		}
		if v > (math.MaxUint64-d)/uint64(base) {
			overflow = true
		}
		v = v*uint64(base) + d
	}
	if i == start {
		return 0, 0
	}
	switch {
	case overflow:
		v = math.MaxUint64
	case neg:
		v = -v
	}
	return v, i
}

// digitValue is the value of c as a digit in bases up to 36, or 36.
func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'z':
		return int(c|0x20-'a') + 10
	}
	return 36
}

// parsePton parses an address as inet_pton(AF_INET) or inet_pton(AF_INET6)
// accepts it; both, like netip, reject IPv4 parts with leading zeros, and
// neither accepts a zone.
func parsePton(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

var ipv6Loopback = netip.IPv6Loopback()

// hostsLookup answers gethostbyaddr from a hosts file: the h_name (second
// field, possibly empty) of the first line whose address equals a. For an
// IPv4 a, IPv4-mapped lines count as their IPv4 address and "::1" as
// 127.0.0.1 (files-hosts.c parse_line with af AF_INET); for an IPv6 a only
// IPv6 lines count (as observed with glibc 2.36: "127.0.0.1 localhost" does
// not name ::ffff:127.0.0.1).
func hostsLookup(r io.Reader, a netip.Addr) (name string, found bool, err error) {
	err = eachLine(r, "#", func(line string) bool {
		text, rest := spaceField(line)
		ip, ok := parsePton(text)
		if !ok {
			return true
		}
		if a.Is4() {
			switch {
			case ip.Is4In6():
				ip = ip.Unmap()
			case ip == ipv6Loopback:
				ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
			}
		}
		if ip != a {
			return true
		}
		name, _ = spaceField(rest)
		found = true
		return false
	})
	return name, found, err
}

// networksLookup answers getnetbyaddr(net, AF_INET) from a networks file:
// the name of the first line whose number, padded to four parts with ".0"
// and read by inet_network (files-network.c), equals net.
func networksLookup(r io.Reader, net uint32) (name string, found bool, err error) {
	err = eachLine(r, "#", func(line string) bool {
		n, rest := spaceField(line)
		addr, _ := spaceField(rest)
		if parts := min(strings.Count(addr, ".")+1, 4); parts < 4 {
			addr += strings.Repeat(".0", 4-parts)
		}
		if inetNetwork(addr) != net {
			return true
		}
		name, found = n, true
		return false
	})
	return name, found, err
}

// inetNetwork is glibc's inet_network (inet/inet_net.c), including its
// 32-bit arithmetic; it returns INADDR_NONE (0xffffffff) for bad input.
func inetNetwork(s string) uint32 {
	const none = math.MaxUint32
	var parts [4]uint32
	n := 0
	i := 0
	for {
		var val uint32
		base, digit := uint32(10), false
		if i < len(s) && s[i] == '0' {
			base, digit = 8, true
			i++
		}
		if i < len(s) && (s[i] == 'x' || s[i] == 'X') {
			base, digit = 16, false
			i++
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c >= '0' && c <= '9' {
				if base == 8 && (c == '8' || c == '9') {
					return none
				}
				val = val*base + uint32(c-'0')
				digit = true
				continue
			}
			if base == 16 && digitValue(c) < 16 {
				val = val<<4 + uint32(digitValue(c))
				digit = true
				continue
			}
			break
		}
		if !digit || n >= 4 || val > 0xff {
			return none
		}
		if i < len(s) && s[i] == '.' {
			parts[n] = val
			n++
			i++
			continue
		}
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i < len(s) {
			return none
		}
		parts[n] = val
		n++
		break
	}
	var v uint32
	for _, p := range parts[:n] {
		v = v<<8 | p&0xff
	}
	return v
}

func isSlash(c byte) bool { return c == '/' }
func isColon(c byte) bool { return c == ':' }

// readServicesFile calls add for every entry of a services file in file
// order, as getservent returns them (files-service.c): name, then a number
// strtoul reads with base 0 ending at '/', then the protocol. add gets the
// port as htons would keep it, its low 16 bits.
func readServicesFile(r io.Reader, add func(name, proto string, port uint16)) error {
	return eachLine(r, "#", func(line string) bool {
		name, rest := spaceField(line)
		port, rest, ok := intField(rest, 0, isSlash, true)
		if ok {
			proto, _ := spaceField(rest)
			add(name, proto, uint16(port))
		}
		return true
	})
}

// readProtocolsFile calls add for every entry of a protocols file in file
// order, as getprotoent returns them (files-proto.c), with the low 16 bits
// of the number (net-tools keeps htons(p_proto)).
func readProtocolsFile(r io.Reader, add func(name string, proto uint16)) error {
	return eachLine(r, "#", func(line string) bool {
		name, rest := spaceField(line)
		proto, _, ok := intField(rest, 10, isSpace, true)
		if ok {
			add(name, uint16(proto))
		}
		return true
	})
}

// passwdLookup answers getpwuid from a passwd file: the name of the first
// well-formed line with that uid, skipping the "+"/"-" compat entries as
// the files module does (pwd/fgetpwent_r.c parser, files-pwd.c lookup).
func passwdLookup(r io.Reader, uid uint32) (name string, found bool, err error) {
	err = eachLine(r, "", func(line string) bool {
		n, rest := colonField(line)
		if n != "" && (n[0] == '+' || n[0] == '-') {
			return true
		}
		_, rest = colonField(rest) // password
		u, rest, ok := intField(rest, 10, isColon, false)
		if !ok {
			return true
		}
		if _, _, ok := intField(rest, 10, isColon, false); !ok { // gid
			return true
		}
		if u != uid {
			return true
		}
		name, found = n, true
		return false
	})
	return name, found, err
}
