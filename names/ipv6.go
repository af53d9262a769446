package names

import (
	"net/netip"
	"strconv"
	"strings"
)

// FormatIPv6 returns a as glibc's inet_ntop(AF_INET6) writes it: lower-case
// hex groups without leading zeros; the longest run of two or more zero
// groups (the first of equally long runs) becomes "::"; the last 32 bits are
// written as a dotted quad when groups 0-5 are zero and group 6 is not
// ("::1.2.3.4") or groups 0-4 are zero and group 5 is ffff
// ("::ffff:1.2.3.4"). It differs from netip.Addr.String for the first form
// (Go writes "::102:304") and never shows a zone. An IPv4 address is
// formatted in its IPv4-mapped form; the zero Addr as "::".
func FormatIPv6(a netip.Addr) string {
	return formatIPv6(a.As16())
}

// NumericHost6 returns the host text netstat prints for a in an IPv6 socket
// table with -n: FormatIPv6 followed by fix_v4_address, so an IPv4-mapped
// address prints as its dotted quad ("::ffff:127.0.0.1" -> "127.0.0.1").
func NumericHost6(a netip.Addr) string {
	b := a.As16()
	return fixV4Address(formatIPv6(b), b)
}

// formatIPv6 follows inet_ntop6 in glibc's resolv/inet_ntop.c step by step.
func formatIPv6(b [16]byte) string {
	var words [8]uint16
	for i := range words {
		words[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}

	// Find the longest run of zero words; a later run must be strictly
	// longer to replace an earlier one.
	bestBase, bestLen := -1, 0
	curBase, curLen := -1, 0
	for i, w := range words {
		if w == 0 {
			if curBase == -1 {
				curBase, curLen = i, 1
			} else {
				curLen++
			}
			continue
		}
		if curBase != -1 {
			if bestBase == -1 || curLen > bestLen {
				bestBase, bestLen = curBase, curLen
			}
			curBase = -1
		}
	}
	if curBase != -1 && (bestBase == -1 || curLen > bestLen) {
		bestBase, bestLen = curBase, curLen
	}
	if bestBase != -1 && bestLen < 2 {
		bestBase = -1
	}

	buf := make([]byte, 0, len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"))
	for i := 0; i < len(words); i++ {
		if bestBase != -1 && i >= bestBase && i < bestBase+bestLen {
			if i == bestBase {
				buf = append(buf, ':')
			}
			continue
		}
		if i != 0 {
			buf = append(buf, ':')
		}
		if i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff)) {
			buf = netip.AddrFrom4([4]byte(b[12:16])).AppendTo(buf)
			break
		}
		buf = strconv.AppendUint(buf, uint64(words[i]), 16)
	}
	if bestBase != -1 && bestBase+bestLen == len(words) {
		buf = append(buf, ':')
	}
	return string(buf)
}

// fixV4Address is fix_v4_address from net-tools' lib/inet6.c: for an
// IPv4-mapped address whose text contains a '.', it drops everything up to
// and including the last ':' before the first '.'; text without such a ':'
// (a host name, say) is returned unchanged.
func fixV4Address(text string, b [16]byte) string {
	if !netip.AddrFrom16(b).Is4In6() {
		return text
	}
	dot := strings.IndexByte(text, '.')
	if dot < 0 {
		return text
	}
	colon := strings.LastIndexByte(text[:dot], ':')
	if colon < 0 {
		return text
	}
	return text[colon+1:]
}
