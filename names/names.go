// Package names owns the name databases netstat consults when it prints a
// socket table without -n: host names (IPv4 and IPv6), network names for the
// odd first-octet-0 address, service and protocol names for ports, and user
// names for -e. Its answers are exactly the text net-tools 2.10 prints,
// because it asks glibc the same questions in the same way (INET_rresolve,
// INET6_rresolve, read_services and getpwuid in net-tools' lib/inet.c,
// lib/inet6.c and netstat.c), and it caches them the way netstat does.
//
// With cgo (the default build) every lookup goes through glibc, so
// /etc/nsswitch.conf is honoured: reverse host lookups may send DNS queries
// and take as long as the system resolver takes. Without cgo (a build with
// CGO_ENABLED=0) the package reads /etc/hosts, /etc/networks, /etc/services,
// /etc/protocols and /etc/passwd itself with glibc's "files" semantics and
// never sends a DNS query; addresses that only DNS could name print
// numerically there.
//
// The package must not do output formatting beyond the host and port text
// netstat builds (column widths and truncation belong to the renderers), must
// not read /proc, and must not import anything else from this module.
package names

import (
	"net/netip"
	"sync"
)

// Buffer sizes of net-tools 2.10 that cut or reject names.
const (
	// hostBufLen is the buffer INET_sprint and INET6_sprint hand to
	// INET_rresolve and INET6_rresolve: safe_strncpy keeps hostBufLen-1
	// bytes of an IPv4 name, and getnameinfo fails with EAI_OVERFLOW (so the
	// numeric text is printed) for an IPv6 name that does not fit.
	hostBufLen = 128
	// serviceBufLen is get_sname's static buffer: names are cut to
	// serviceBufLen-1 bytes.
	serviceBufLen = 64
)

// Resolver answers netstat's name questions and remembers the answers for
// its whole life, as netstat does for one process (also across -c
// iterations). The zero value is ready to use; New is provided for clarity.
// A Resolver is safe for concurrent use.
type Resolver struct {
	mu    sync.Mutex
	host4 map[host4Key]string
	host6 map[[16]byte]string
	users map[uint32]userEntry

	servicesOnce sync.Once
	services     *serviceDB
}

// host4Key is INET_rresolve's cache key: the address and whether it was
// looked up as a host (gethostbyaddr) or a network (getnetbyaddr).
type host4Key struct {
	addr [4]byte
	host bool
}

type userEntry struct {
	name string
	ok   bool
}

// New returns an empty Resolver.
func New() *Resolver {
	return &Resolver{}
}

// Host4 returns the text netstat prints for the IPv4 address a in a socket
// table when names are wanted (INET_rresolve with netmask 0xffffff00):
//
//   - 0.0.0.0 is "0.0.0.0";
//   - an address whose first octet is 0 is looked up as a network with
//     getnetbyaddr (/etc/networks): INET_rresolve tests the host bits on
//     the address in network byte order, so on little-endian machines (the
//     amd64 netstat this package imitates everywhere) only the first octet
//     counts;
//   - any other address is looked up with gethostbyaddr and its canonical
//     name (h_name, empty for a hosts line without names) is returned, cut
//     to 127 bytes like netstat's buffer;
//   - with no answer, the dotted quad.
//
// An IPv4-mapped IPv6 address is treated as the IPv4 address it maps.
// Anything else that is not IPv4 (including the zero Addr) yields
// a.String(). Results are cached for the life of r.
func (r *Resolver) Host4(a netip.Addr) string {
	a = a.Unmap()
	if !a.Is4() {
		return a.String()
	}
	b := a.As4()
	if b == [4]byte{} {
		return "0.0.0.0"
	}
	key := host4Key{addr: b, host: b[0] != 0}

	r.mu.Lock()
	name, ok := r.host4[key]
	r.mu.Unlock()
	if ok {
		return name
	}

	// The lookup runs unlocked: it may wait for DNS, and two goroutines
	// asking for the same address at once get the same answer anyway.
	var found bool
	if key.host {
		name, found = sysHost4(b)
	} else {
		name, found = sysNet4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	}
	if found {
		name = cut(name, hostBufLen-1)
	} else {
		name = a.String()
	}

	r.mu.Lock()
	if r.host4 == nil {
		r.host4 = make(map[host4Key]string)
	}
	r.host4[key] = name
	r.mu.Unlock()
	return name
}

// Host6 returns the text netstat prints for the IPv6 address a in a socket
// table when names are wanted (INET6_rresolve, then fix_v4_address):
//
//   - :: is "[::]";
//   - otherwise getnameinfo without flags on a sockaddr_in6 with scope id 0
//     (hosts file, then DNS, per nsswitch); a name of 128 bytes or more does
//     not fit netstat's buffer, so the numeric text is used instead, as it
//     is when there is no name;
//   - for an IPv4-mapped address the result goes through fix_v4_address:
//     numeric "::ffff:1.2.3.4" becomes "1.2.3.4" (a name found for the
//     mapped address is kept, unless a ':' comes before its first '.').
//
// An IPv4 address is treated as its IPv4-mapped form; the zone is ignored
// (netstat never shows scope ids); the zero Addr yields a.String(). netstat
// does not cache IPv6 names, r does: the answers are the same.
func (r *Resolver) Host6(a netip.Addr) string {
	if !a.IsValid() {
		return a.String()
	}
	b := a.As16()
	if b == [16]byte{} {
		return "[::]"
	}

	r.mu.Lock()
	text, ok := r.host6[b]
	r.mu.Unlock()
	if ok {
		return text
	}

	text, found := sysHost6(b)
	if !found || len(text) >= hostBufLen {
		text = formatIPv6(b)
	}
	text = fixV4Address(text, b)

	r.mu.Lock()
	if r.host6 == nil {
		r.host6 = make(map[[16]byte]string)
	}
	r.host6[b] = text
	r.mu.Unlock()
	return text
}

// Service returns the name netstat's get_sname prints for port of proto
// ("tcp", "udp" or "raw"; for raw sockets the "port" is the IP protocol
// number), or "", false when there is none and netstat prints the number.
//
// The first call reads the whole services database (setservent,
// getservent, endservent) and then the protocols database (setprotoent,
// getprotoent, endprotoent) once, like read_services: services with
// protocol tcp, udp or raw go to their lists, every protocol goes to the
// raw list after the raw services, a later entry for the same number wins,
// and names are cut to 63 bytes.
//
// Service does not special-case port 0: get_sname prints "*" for it before
// looking anything up, and callers must do the same.
func (r *Resolver) Service(port uint16, proto string) (string, bool) {
	r.servicesOnce.Do(func() {
		db := newServiceDB()
		sysReadServices(db)
		r.services = db
	})
	return r.services.lookup(port, proto)
}

// User returns the login name of uid as getpwuid reports it (nsswitch
// "passwd", e.g. files then systemd), or "", false when there is none and
// netstat prints the number. uid is converted to the 32-bit uid_t as
// netstat's int is. Results are cached for the life of r.
func (r *Resolver) User(uid int64) (string, bool) {
	id := uint32(uid)

	r.mu.Lock()
	e, ok := r.users[id]
	r.mu.Unlock()
	if ok {
		return e.name, e.ok
	}

	e.name, e.ok = sysUser(id)

	r.mu.Lock()
	if r.users == nil {
		r.users = make(map[uint32]userEntry)
	}
	r.users[id] = e
	r.mu.Unlock()
	return e.name, e.ok
}

// cut returns the first n bytes of s, as strncpy into an n+1 byte buffer
// does (even in the middle of a UTF-8 sequence).
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
