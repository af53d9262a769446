// Package conn is bpfnetstat's connection model: a TCP connection as the
// tracer follows it (Conn), one state change of it (Transition), the
// process that owns it (Process) and how that owner was learnt
// (OwnerSource), which side opened it (Direction), and the TCP state type
// (State) every package uses instead of bare numbers.
//
// It is plain data with no behaviour beyond naming its values: it must
// never import the tracer (nor anything that links cilium/ebpf), output,
// or the command layer, so that renderers and future consumers can use the
// model without the BPF loader. It imports snapshot only for the address
// family type, and cgroups only for the owner's identity type.
package conn

import (
	"net/netip"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// OwnerSource says how a connection's owner was learnt. The values are
// those of enum owner_source in bpf/tracer.h; tracer checks at compile
// time that they agree.
type OwnerSource uint8

// Owner sources.
const (
	OwnerNone     OwnerSource = 0
	OwnerConnect  OwnerSource = 1 // the task that called connect()
	OwnerAccept   OwnerSource = 2 // the task whose accept() returned it
	OwnerListener OwnerSource = 3 // not accepted before it ended: the listener's owner
	OwnerClose    OwnerSource = 4 // the task that closed it
	OwnerSnapshot OwnerSource = 5 // a /proc or sock_diag snapshot
	OwnerListen   OwnerSource = 6 // the task that called listen()
)

// String is the source's stable name, as JSON shows it.
func (s OwnerSource) String() string {
	switch s {
	case OwnerConnect:
		return "connect"
	case OwnerAccept:
		return "accept"
	case OwnerListener, OwnerListen:
		return "listener"
	case OwnerClose:
		return "close"
	case OwnerSnapshot:
		return "snapshot"
	}
	return "unknown"
}

// Direction is which side opened the connection.
type Direction uint8

// Directions.
const (
	DirPassive Direction = 0 // accepted
	DirActive  Direction = 1 // connected
	DirUnknown Direction = 2 // older than the tracer
)

// String is "active", "passive" or "unknown".
func (d Direction) String() string {
	switch d {
	case DirActive:
		return "active"
	case DirPassive:
		return "passive"
	}
	return "unknown"
}

// Process identifies an owner.
type Process struct {
	PID  uint32
	TID  uint32
	UID  uint32
	Comm string
	// CgroupID is the owner's cgroup v2 id as the BPF programs recorded it
	// with the owner (0 when unknown, e.g. an owner from a snapshot).
	CgroupID uint64
	// Ident is the owner's cgroup, container, pod and unit, once user
	// space resolved them (nil until then); shared, never modified.
	Ident *cgroups.Identity
}

// Identity is the owner's identity, the zero Identity when unknown.
func (p *Process) Identity() cgroups.Identity {
	if p.Ident == nil {
		return cgroups.Identity{}
	}
	return *p.Ident
}

// Conn is one TCP connection (or listening socket) as the tracer follows
// it, keyed by socket cookie.
type Conn struct {
	Cookie      uint64
	Family      snapshot.Family
	Local       netip.AddrPort
	Remote      netip.AddrPort
	NetNS       uint32
	State       State
	Owner       Process
	OwnerSource OwnerSource
	Direction   Direction
	BirthNs     uint64 // monotonic ns; 0 if older than the tracer
	StateNs     uint64 // when it entered State
	Closed      bool
	CloseNs     uint64
	ClosedFrom  State // the state it left for CLOSE
	// At close: the application's payload bytes, retransmitted segments,
	// smoothed RTT and, for a failed connect, the socket error.
	TxBytes, RxBytes uint64
	Retransmits      uint32
	SRTTus           uint32
	Err              int32
	// ViaTimeWait is set when the connection closed into TIME_WAIT (so its
	// timewait socket, which keeps the cookie, still stands in the tables).
	ViaTimeWait bool
	// Listener is set for a listening socket (not a connection).
	Listener bool
	// EndUnseen is set for a connection whose socket the kernel freed with
	// no -> CLOSE that the tracer saw: its close time is the free's, its
	// error is unknown, and Failure names it FailUnseen.
	EndUnseen bool
	// Shown is set once a refreshing view has listed the connection, live
	// or as a ghost row.
	Shown bool
}

// DurationNs is the connection's life from first sight to close (or to nowNs).
func (c *Conn) DurationNs(nowNs uint64) uint64 {
	end := nowNs
	if c.Closed {
		end = c.CloseNs
	}
	if c.BirthNs == 0 || end < c.BirthNs {
		return 0
	}
	return end - c.BirthNs
}

// Transition is a state change with everything a trace line needs.
type Transition struct {
	Conn      Conn // a copy, as of this transition
	OldState  State
	NewState  State
	TimeNs    uint64
	InOldNs   uint64 // time spent in OldState, 0 if unknown
	CurPID    uint32 // the task that was on the CPU
	NewlyDone bool   // this transition closed the connection
}
