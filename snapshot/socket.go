// Package snapshot takes point-in-time readings of the kernel's socket
// tables: /proc/net/{tcp,tcp6,udp,udp6,udplite,udplite6,raw,raw6,unix} and
// sock_diag; and of the other tables netstat shows: routes, interfaces,
// statistics, multicast groups and conntrack's NAT-ed connections. Which
// process owns a socket is the owners package's question.
//
// It owns the Socket and Owner models that every other source (sock_diag,
// the owner scans, the eBPF tracer) fills too. It is a leaf package: it
// must not import any other bpfnetstat package, and it never prints.
package snapshot

import "net/netip"

// Proto is the transport protocol of a socket table.
type Proto uint8

// The socket tables netstat lists.
const (
	ProtoTCP Proto = iota + 1
	ProtoUDP
	ProtoUDPLite
	ProtoRaw
	ProtoUnix
)

// String returns the protocol's lower-case name as used in JSON output.
func (p Proto) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoUDPLite:
		return "udplite"
	case ProtoRaw:
		return "raw"
	case ProtoUnix:
		return "unix"
	}
	return "unknown"
}

// Family is a socket's address family, with the kernel's AF_* numbers.
type Family uint8

// Address families of the sockets bpfnetstat lists.
const (
	FamilyUnix  Family = 1  // AF_UNIX
	FamilyInet  Family = 2  // AF_INET
	FamilyInet6 Family = 10 // AF_INET6
)

// String returns "unix", "inet" or "inet6".
func (f Family) String() string {
	switch f {
	case FamilyUnix:
		return "unix"
	case FamilyInet:
		return "inet"
	case FamilyInet6:
		return "inet6"
	}
	return "unknown"
}

// Table names one /proc/net socket table: a protocol in a family.
type Table struct {
	Proto  Proto
	Family Family
}

// File is the table's file name under /proc/net, e.g. "tcp6" or "udplite".
func (t Table) File() string {
	name := t.Proto.String()
	if t.Family == FamilyInet6 {
		name += "6"
	}
	return name
}

// The tables in the order netstat reads them.
var (
	TableTCP      = Table{ProtoTCP, FamilyInet}
	TableTCP6     = Table{ProtoTCP, FamilyInet6}
	TableUDP      = Table{ProtoUDP, FamilyInet}
	TableUDP6     = Table{ProtoUDP, FamilyInet6}
	TableUDPLite  = Table{ProtoUDPLite, FamilyInet}
	TableUDPLite6 = Table{ProtoUDPLite, FamilyInet6}
	TableRaw      = Table{ProtoRaw, FamilyInet}
	TableRaw6     = Table{ProtoRaw, FamilyInet6}
	TableUnix     = Table{ProtoUnix, FamilyUnix}
)

// Socket is one row of a socket table, whichever source produced it.
//
// Numbers keep the kernel's meaning: State is the kernel's state number
// (TCP_ESTABLISHED=1 ... TCP_CLOSING=11 for internet sockets, SS_* for UNIX
// sockets); queues are bytes; TimerWhen is in jiffies (clock ticks).
type Socket struct {
	Proto  Proto
	Family Family // family of the table the row came from

	// Internet sockets. An address is 4 bytes when the kernel printed 8 hex
	// digits, 16 otherwise (an IPv4-mapped address in a tcp6 row stays 16).
	Local, Remote netip.AddrPort
	State         uint8
	TxQueue       uint64 // Send-Q
	RxQueue       uint64 // Recv-Q
	TimerCode     int64  // 0 off, 1 on, 2 keepalive, 3 timewait, 4 probe
	TimerWhen     uint64 // jiffies until the timer fires
	Retransmits   uint64
	UID           int64
	Timeout       int64

	Inode  uint64
	Cookie uint64 // socket cookie, 0 when the source does not know it

	// UNIX sockets.
	RefCount  uint64
	UnixProto uint64 // the "Protocol" column, always 0 on Linux
	Flags     uint64 // __SO_ACCEPTCON 0x10000 and friends
	Type      uint64 // SOCK_STREAM=1, SOCK_DGRAM=2, ...
	Path      string // as the kernel shows it: abstract names start with '@'
	// HasInode is false for a /proc/net/unix without the Inode column
	// (kernels before 2.2); the row then shows "-" and the inode as path.
	HasInode bool
}

// Owner is the process that holds (or held) a socket.
type Owner struct {
	PID  int
	Name string // argv[0] as netstat shows it (basename when absolute)
	// Source says how the owner is known: "" for the /proc fd scan;
	// the tracer's sources ("connect", "accept", "listener", ...) or
	// "remembered" (seen at an earlier refresh) for sockets without an
	// inode, such as TIME_WAIT.
	Source string
}
