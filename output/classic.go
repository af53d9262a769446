// Package output renders sockets for people and programs: the classic
// netstat text, byte-identical to net-tools 2.10, and JSON.
//
// It is pure rendering to an io.Writer: it opens no files and does no
// lookups of its own. Names (hosts, services, users) and owners are passed
// in, so the same rows render the same way whatever source produced them.
// It imports conn and snapshot (the models it renders), and cgroups for
// the identity type, and must never
// import tracer, merged, owners or the command layer: go list -deps
// ./output names no cilium package.
package output

import (
	"net/netip"
	"strconv"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// Names answers the name lookups netstat makes. The results must be the
// text netstat would print, so a Names implementation follows glibc.
type Names interface {
	// Host4 is the text for a non-zero IPv4 address when names are wanted.
	Host4(a netip.Addr) string
	// Host6 is the text for an IPv6 address when names are wanted.
	Host6(a netip.Addr) string
	// Service is the name of a port in the "tcp", "udp" or "raw" database.
	Service(port uint16, proto string) (string, bool)
	// User is the login name of a uid.
	User(uid int64) (string, bool)
}

// OwnerLookup finds the process that holds a socket inode.
type OwnerLookup interface {
	Lookup(inode uint64) (snapshot.Owner, bool)
}

// SocketOwnerLookup can also name the owner of a socket that has no inode
// (TIME_WAIT, orphans), from its addresses.
type SocketOwnerLookup interface {
	OwnerLookup
	LookupSocket(s *snapshot.Socket) (snapshot.Owner, bool)
}

// ownerOf is the owner shown for a row.
func (c *Classic) ownerOf(s *snapshot.Socket) (snapshot.Owner, bool) {
	switch o := c.owners.(type) {
	case nil:
		return snapshot.Owner{}, false
	case SocketOwnerLookup:
		return o.LookupSocket(s)
	default:
		return o.Lookup(s.Inode)
	}
}

// ClassicOptions are the netstat flags that shape socket rows.
type ClassicOptions struct {
	NumericHosts bool // -n, --numeric-hosts
	NumericPorts bool // -n, --numeric-ports
	NumericUsers bool // -n, --numeric-users
	Wide         bool // -W: no host:port truncation
	Extend       bool // -e: User and Inode columns
	Programs     bool // -p: PID/Program name column
	Timers       bool // -o: Timer column
	All          bool // -a
	Listening    bool // -l
	// ClockTicks is sysconf(_SC_CLK_TCK), the unit of TCP timers.
	ClockTicks int64
	// NumericHost6 formats an IPv6 address as netstat does with -n
	// (glibc inet_ntop, IPv4-mapped shown dotted).
	NumericHost6 func(netip.Addr) string
	// Identity, when set, names a row owner's cgroup, container, pod and
	// unit: JSON rows then carry them (bpfnetstat -p --json), and with
	// IdentityColumns Internet text rows end with them (--identity).
	// Never set under the netstat name.
	Identity        func(pid int) cgroups.Identity
	IdentityColumns bool
}

// Classic renders netstat's socket tables. Rows are appended to an internal
// buffer that the caller flushes; the zero value is not usable, see NewClassic.
type Classic struct {
	opt    ClassicOptions
	names  Names
	owners OwnerLookup
	buf    []byte
	// scratch for the host and port texts of one cell
	hostBuf, portBuf []byte
}

// NewClassic returns a renderer. owners may be nil when -p is not given.
func NewClassic(opt ClassicOptions, names Names, owners OwnerLookup) *Classic {
	if opt.ClockTicks == 0 {
		opt.ClockTicks = 100
	}
	return &Classic{opt: opt, names: names, owners: owners, buf: make([]byte, 0, 256)}
}

// Options are the renderer's options.
func (c *Classic) Options() ClassicOptions { return c.opt }

// SetOptions replaces them (bpfnetstat's identity additions).
func (c *Classic) SetOptions(o ClassicOptions) { c.opt = o }

// SetOwners replaces the owner source (netstat rebuilds it every -c round).
func (c *Classic) SetOwners(o OwnerLookup) { c.owners = o }

func (c *Classic) listTitle() string {
	switch {
	case c.opt.All:
		return "(servers and established)"
	case c.opt.Listening:
		return "(only servers)"
	}
	return "(w/o servers)"
}

// InetHeader returns the two header lines of the Internet table.
func (c *Classic) InetHeader() []byte {
	b := c.buf[:0]
	b = append(b, "Active Internet connections "...)
	b = append(b, c.listTitle()...)
	b = append(b, "\nProto Recv-Q Send-Q Local Address           Foreign Address         State      "...)
	if c.opt.Extend {
		b = append(b, " User       Inode     "...)
	}
	if c.opt.Programs {
		b = append(b, " PID/Program name    "...)
	}
	if c.opt.Timers {
		b = append(b, " Timer"...)
	}
	if c.opt.IdentityColumns && c.opt.Identity != nil {
		b = append(b, ' ')
		b = append(b, IdentityHeader...)
	}
	b = append(b, '\n')
	c.buf = b
	return b
}

// UnixHeader returns the two header lines of the UNIX table.
func (c *Classic) UnixHeader() []byte {
	b := c.buf[:0]
	b = append(b, "Active UNIX domain sockets "...)
	b = append(b, c.listTitle()...)
	b = append(b, "\nProto RefCnt Flags       Type       State         I-Node  "...)
	if c.opt.Programs {
		b = append(b, " PID/Program name    "...)
	}
	b = append(b, " Path\n"...)
	c.buf = b
	return b
}

// InetListed reports whether netstat's -a/-l rules show the row: TCP
// "servers" are rows without a remote port, UDP and raw "servers" rows
// without a remote address.
func (c *Classic) InetListed(s *snapshot.Socket) bool {
	if c.opt.All {
		return true
	}
	var server bool
	if s.Proto == snapshot.ProtoTCP {
		server = s.Remote.Port() == 0
	} else {
		server = s.Remote.Addr().IsUnspecified() || !s.Remote.Addr().IsValid()
	}
	return server == c.opt.Listening
}

// UnixListed reports whether netstat's -a/-l rules show a UNIX row: servers
// are unconnected sockets with the ACC flag.
func (c *Classic) UnixListed(s *snapshot.Socket) bool {
	if c.opt.All {
		return true
	}
	server := s.State == 1 && s.Flags&unixAcceptCon != 0
	return server == c.opt.Listening
}

const (
	unixAcceptCon = 0x10000 // __SO_ACCEPTCON
	unixWaitData  = 0x20000 // __SO_WAITDATA
	unixNoSpace   = 0x40000 // __SO_NOSPACE
)

// protoName is the Proto column text of an Internet row.
func protoName(s *snapshot.Socket) string {
	v6 := s.Family == snapshot.FamilyInet6
	switch s.Proto {
	case snapshot.ProtoTCP:
		if v6 {
			return "tcp6"
		}
		return "tcp"
	case snapshot.ProtoUDP:
		if v6 {
			return "udp6"
		}
		return "udp"
	case snapshot.ProtoUDPLite:
		if v6 {
			return "udpl6"
		}
		return "udpl"
	case snapshot.ProtoRaw:
		if v6 {
			return "raw6"
		}
		return "raw"
	}
	return "?"
}

// serviceDB is the services database netstat consults for a protocol.
func serviceDB(p snapshot.Proto) string {
	switch p {
	case snapshot.ProtoTCP:
		return "tcp"
	case snapshot.ProtoRaw:
		return "raw"
	}
	return "udp"
}

// InetRow appends one Internet row (with its newline) and returns the
// buffer; the caller writes it before the next call.
func (c *Classic) InetRow(s *snapshot.Socket) []byte {
	b := c.buf[:0]
	name := protoName(s)
	if s.Proto == snapshot.ProtoUDP || s.Proto == snapshot.ProtoUDPLite {
		b = appendLeft(b, name, 5)
		b = append(b, ' ')
	} else {
		b = appendLeft(b, name, 4)
		b = append(b, "  "...)
	}
	// net-tools prints the queues with %ld.
	b = appendRightInt(b, int64(s.RxQueue), 6)
	b = append(b, ' ')
	b = appendRightInt(b, int64(s.TxQueue), 6)
	b = append(b, ' ')
	db := serviceDB(s.Proto)
	b = c.appendHostPort(b, s.Local, db)
	b = append(b, ' ')
	b = c.appendHostPort(b, s.Remote, db)
	b = append(b, ' ')
	switch s.Proto {
	case snapshot.ProtoTCP:
		b = appendLeft(b, conn.State(s.State).String(), 11)
	case snapshot.ProtoRaw:
		b = appendLeft(b, strconv.Itoa(int(s.State)), 11)
	default:
		switch s.State {
		case 1:
			b = appendLeft(b, "ESTABLISHED", 11)
		case 7:
			b = appendLeft(b, "", 11)
		default:
			b = appendLeft(b, "UNKNOWN", 11)
		}
	}
	if c.opt.Extend {
		b = append(b, ' ')
		user, ok := "", false
		if !c.opt.NumericUsers {
			user, ok = c.names.User(s.UID)
		}
		if !ok {
			user = strconv.FormatInt(s.UID, 10)
		}
		b = appendLeft(b, user, 10)
		b = append(b, ' ')
		b = appendLeftUint(b, s.Inode, 10)
	}
	if c.opt.Programs {
		b = append(b, ' ')
		b = c.appendProgram(b, s)
	}
	if c.opt.Timers {
		b = append(b, ' ')
		b = c.appendTimer(b, s)
	}
	if c.opt.IdentityColumns && c.opt.Identity != nil {
		b = append(b, ' ')
		b = append(b, IdentityText(c.identityOf(s))...)
	}
	b = append(b, '\n')
	c.buf = b
	return b
}

// identityOf is the identity of a row's owner, empty when none is known.
func (c *Classic) identityOf(s *snapshot.Socket) cgroups.Identity {
	if ow, ok := c.ownerOf(s); ok && c.opt.Identity != nil {
		return c.opt.Identity(ow.PID)
	}
	return cgroups.Identity{}
}

// OwnerOf is the owner shown for a row, if any.
func (c *Classic) OwnerOf(s *snapshot.Socket) (snapshot.Owner, bool) { return c.ownerOf(s) }

// appendProgram appends the PID/Program name cell: "PID/name" cut to 19
// bytes (before escaping, as netstat cuts the raw bytes), left-aligned in 20.
func (c *Classic) appendProgram(b []byte, s *snapshot.Socket) []byte {
	ow, ok := c.ownerOf(s)
	if !ok {
		return appendLeft(b, "-", 20)
	}
	start := len(b)
	b = strconv.AppendInt(b, int64(ow.PID), 10)
	b = append(b, '/')
	b = append(b, ow.Name...)
	if len(b)-start > 19 {
		b = b[:start+19]
	}
	cell := string(b[start:])
	b = b[:start]
	return appendLeft(b, Escape(cell), 20)
}

func (c *Classic) appendTimer(b []byte, s *snapshot.Socket) []byte {
	retr := s.Retransmits
	div := float64(100)
	if s.Proto == snapshot.ProtoTCP {
		div = float64(c.opt.ClockTicks)
	} else if s.Proto != snapshot.ProtoRaw {
		retr = 0 // netstat's udp_do_one zeroes it
	}
	secs := func(b []byte) []byte {
		return strconv.AppendFloat(b, float64(s.TimerWhen)/div, 'f', 2, 64)
	}
	tail := func(b []byte) []byte {
		b = append(b, '/')
		b = strconv.AppendUint(b, retr, 10)
		b = append(b, '/')
		b = strconv.AppendInt(b, s.Timeout, 10)
		return append(b, ')')
	}
	if s.TimerCode == 0 {
		b = append(b, "off (0.00"...)
		return tail(b)
	}
	if s.Proto == snapshot.ProtoTCP {
		switch s.TimerCode {
		case 1:
			b = append(b, "on ("...)
		case 2:
			b = append(b, "keepalive ("...)
		case 3:
			b = append(b, "timewait ("...)
		case 4:
			b = append(b, "probe ("...)
		default:
			b = append(b, "unkn-"...)
			b = strconv.AppendInt(b, s.TimerCode, 10)
			b = append(b, " ("...)
		}
	} else {
		switch s.TimerCode {
		case 1, 2:
			b = append(b, "on"...)
		default:
			b = append(b, "unkn-"...)
		}
		b = strconv.AppendInt(b, s.TimerCode, 10)
		b = append(b, " ("...)
	}
	return tail(secs(b))
}

// appendHostPort appends netstat's "host:port" cell, truncated to 23
// columns without -W (net-tools' addr_do_one), padded to 23. Host and port
// are formatted into scratch buffers: no allocation per row.
func (c *Classic) appendHostPort(b []byte, ap netip.AddrPort, db string) []byte {
	host := c.appendHost(c.hostBuf[:0], ap.Addr())
	c.hostBuf = host
	port := c.portBuf[:0]
	switch {
	case ap.Port() == 0:
		port = append(port, '*')
	case c.opt.NumericPorts:
		port = strconv.AppendUint(port, uint64(ap.Port()), 10)
	default:
		if name, ok := c.names.Service(ap.Port(), db); ok {
			port = append(port, name...)
		} else {
			port = strconv.AppendUint(port, uint64(ap.Port()), 10)
		}
	}
	c.portBuf = port
	start := len(b)
	if !c.opt.Wide && len(host)+len(port) > 22 {
		pl := min(len(port), 18)
		hl := min(22-pl, len(host))
		b = append(b, host[:hl]...)
		b = append(b, ':')
		b = append(b, port[:pl]...)
	} else {
		b = append(b, host...)
		b = append(b, ':')
		b = append(b, port...)
		// net-tools formats the cell into a 128-byte buffer.
		if len(b)-start > 127 {
			b = b[:start+127]
		}
	}
	for len(b)-start < 23 {
		b = append(b, ' ')
	}
	return b
}

// appendHost appends the host part of an Internet address as netstat
// prints it.
func (c *Classic) appendHost(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		if c.opt.NumericHosts || a.IsUnspecified() {
			return a.AppendTo(b)
		}
		return append(b, c.names.Host4(a)...)
	}
	if c.opt.NumericHosts {
		if a.Is4In6() {
			return a.Unmap().AppendTo(b) // inet_ntop's ::ffff:a.b.c.d, cut at the last ':'
		}
		return append(b, c.opt.NumericHost6(a)...)
	}
	if a.IsUnspecified() {
		return append(b, "[::]"...)
	}
	return append(b, c.names.Host6(a)...)
}

// GhostRow renders a connection that opened and closed between two
// refreshes (bpfnetstat -c --recent): an Internet row whose state is
// CLOSED, with its owner and, after the last column, its lifetime.
func (c *Classic) GhostRow(s *snapshot.Socket, owner *snapshot.Owner, lifetimeMs float64) []byte {
	saved := c.owners
	c.owners = fixedOwner{owner}
	b := c.InetRow(s)
	c.owners = saved
	// The state column holds netstat's "CLOSE" (state 7): make it CLOSED.
	const col = 6 + 7 + 7 // Proto, Recv-Q, Send-Q with their spaces
	if i := bytesIndexAfter(b, "CLOSE      ", col); i >= 0 {
		copy(b[i:], "CLOSED     ")
	}
	b = b[:len(b)-1]
	b = append(b, " lifetime="...)
	b = strconv.AppendFloat(b, lifetimeMs, 'f', 3, 64)
	b = append(b, "ms\n"...)
	c.buf = b
	return b
}

type fixedOwner struct{ o *snapshot.Owner }

func (f fixedOwner) Lookup(uint64) (snapshot.Owner, bool) {
	if f.o == nil {
		return snapshot.Owner{}, false
	}
	return *f.o, true
}

func bytesIndexAfter(b []byte, sub string, from int) int {
	for i := from; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == sub {
			return i
		}
	}
	return -1
}

// UnixRow appends one UNIX row (with its newline) and returns the buffer.
func (c *Classic) UnixRow(s *snapshot.Socket) []byte {
	b := c.buf[:0]
	if s.UnixProto == 0 {
		b = append(b, "unix  "...)
	} else {
		b = append(b, "??    "...)
	}
	b = appendLeft(b, strconv.FormatInt(int64(s.RefCount), 10), 6) // %-6ld
	b = append(b, ' ')
	flags := "[ "
	if s.Flags&unixAcceptCon != 0 {
		flags += "ACC "
	}
	if s.Flags&unixWaitData != 0 {
		flags += "W "
	}
	if s.Flags&unixNoSpace != 0 {
		flags += "N "
	}
	flags += "]"
	b = appendLeft(b, flags, 11)
	b = append(b, ' ')
	b = appendLeft(b, unixTypeName(s.Type), 10)
	b = append(b, ' ')
	b = appendLeft(b, unixStateName(s), 13)
	b = append(b, ' ')
	path := s.Path
	if s.HasInode {
		b = appendLeftUint(b, s.Inode, 8)
	} else {
		b = append(b, "-       "...)
		path = strconv.FormatUint(s.Inode, 10)
	}
	if c.opt.Programs {
		b = append(b, ' ')
		if s.HasInode {
			b = c.appendProgram(b, s)
		} else {
			b = appendLeft(b, "-", 20)
		}
	}
	b = append(b, ' ')
	b = append(b, Escape(path)...)
	b = append(b, '\n')
	c.buf = b
	return b
}

func unixTypeName(t uint64) string {
	switch t {
	case 1:
		return "STREAM"
	case 2:
		return "DGRAM"
	case 3:
		return "RAW"
	case 4:
		return "RDM"
	case 5:
		return "SEQPACKET"
	}
	return "UNKNOWN"
}

func unixStateName(s *snapshot.Socket) string {
	switch s.State {
	case 0:
		return "FREE"
	case 1:
		if s.Flags&unixAcceptCon != 0 {
			return "LISTENING"
		}
		return ""
	case 2:
		return "CONNECTING"
	case 3:
		return "CONNECTED"
	case 4:
		return "DISCONNECTING"
	}
	return "UNKNOWN"
}
