package merged

import "net/netip"

// tuple is a connection's 4-tuple as a map key: 37 bytes without
// pointers. A [2]netip.AddrPort takes 64 bytes and holds two pointers
// that the garbage collector follows in every entry of every map keyed by
// it; with 100,000 TIME_WAIT sockets the difference is counted in
// megabytes and in collection time.
type tuple struct {
	local, remote [16]byte
	lport, rport  uint16
	v4            bool // IPv4 addresses, as opposed to IPv6 (IPv4-mapped ones too)
}

// tupleOf keys a connection by its local and remote address and port.
// Zones are not kept: the kernel's TCP tables carry none.
func tupleOf(local, remote netip.AddrPort) tuple {
	return tuple{local: local.Addr().As16(), remote: remote.Addr().As16(), lport: local.Port(), rport: remote.Port(), v4: local.Addr().Is4()}
}

// nsTuple is a 4-tuple in one network namespace (its inode).
type nsTuple struct {
	netns uint32
	tuple
}
