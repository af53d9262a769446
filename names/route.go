package names

import "net/netip"

// The routing table's names come from INET_rresolve (net-tools lib/inet.c)
// called with flags socket tables do not use: 0x8000 (print 0.0.0.0/0 as
// "default") and 0x4000 (look the address up as a host whatever its host
// bits), and with the route's netmask instead of the socket tables'
// 0xffffff00. The answers share Host4's cache, keyed like netstat's by
// address and by host-or-network lookup.

// RouteDest4 returns the Destination text netstat -r prints for an IPv4
// route (INET_sprintmask with 0x8000, and 0x4000 for host routes), before
// its cut to 15 characters:
//
//   - 0.0.0.0 with mask 0.0.0.0 is "default"; 0.0.0.0 with another mask is
//     "0.0.0.0" (no lookup);
//   - a host route (RTF_HOST), or an address with bits set outside the
//     mask, is looked up as a host (gethostbyaddr: hosts file, then DNS);
//   - any other address as a network (getnetbyaddr: /etc/networks);
//   - with no answer, the dotted quad.
//
// Anything that is not an IPv4 address yields a.String().
func (r *Resolver) RouteDest4(a, mask netip.Addr, hostRoute bool) string {
	a = a.Unmap()
	if !a.Is4() {
		return a.String()
	}
	b := a.As4()
	if b == [4]byte{} {
		if m := mask.Unmap(); !m.Is4() || m.As4() == [4]byte{} {
			return "default"
		}
		return "0.0.0.0"
	}
	var m [4]byte
	if mm := mask.Unmap(); mm.Is4() {
		m = mm.As4()
	}
	host := hostRoute
	for i := range b {
		if b[i]&^m[i] != 0 {
			host = true
		}
	}
	return r.resolve4(b, host)
}

// RouteGateway4 returns the Gateway text netstat -r prints (INET_sprint
// with 0x4000), before its cut to 15 characters: "0.0.0.0" for 0.0.0.0,
// otherwise always a host lookup, the dotted quad without an answer.
func (r *Resolver) RouteGateway4(a netip.Addr) string {
	a = a.Unmap()
	if !a.Is4() {
		return a.String()
	}
	b := a.As4()
	if b == [4]byte{} {
		return "0.0.0.0"
	}
	return r.resolve4(b, true)
}

// Net4 returns the name /etc/networks (getnetbyaddr, AF_INET) gives the
// network number of a, with its bits in host order as netstat passes them.
func (r *Resolver) Net4(a netip.Addr) (string, bool) {
	a = a.Unmap()
	if !a.Is4() {
		return "", false
	}
	b := a.As4()
	return sysNet4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
}

// resolve4 is the lookup half of INET_rresolve: the cache, then
// gethostbyaddr or getnetbyaddr, the name cut to netstat's buffer, the
// dotted quad when there is no answer.
func (r *Resolver) resolve4(b [4]byte, host bool) string {
	key := host4Key{addr: b, host: host}
	r.mu.Lock()
	name, ok := r.host4[key]
	r.mu.Unlock()
	if ok {
		return name
	}
	var found bool
	if host {
		name, found = sysHost4(b)
	} else {
		name, found = sysNet4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	}
	if found {
		name = cut(name, hostBufLen-1)
	} else {
		name = netip.AddrFrom4(b).String()
	}
	r.mu.Lock()
	if r.host4 == nil {
		r.host4 = make(map[host4Key]string)
	}
	r.host4[key] = name
	r.mu.Unlock()
	return name
}
