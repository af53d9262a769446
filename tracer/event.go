// Package tracer loads bpfnetstat's eBPF programs, attaches them to the TCP
// state-change stream and the accept syscalls, decodes their records and
// keeps the live connection table keyed by socket cookie.
//
// It may use snapshot (for the sockets that existed before it started) but
// never output or the CLI; it prints nothing.
package tracer

import (
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// OwnerSource says how a connection's owner was learnt.
type OwnerSource uint8

// Owner sources, as bpf/tracer.h numbers them.
const (
	OwnerNone     = OwnerSource(tracerOwnerSourceOWNER_NONE)
	OwnerConnect  = OwnerSource(tracerOwnerSourceOWNER_CONNECT)
	OwnerAccept   = OwnerSource(tracerOwnerSourceOWNER_ACCEPT)
	OwnerListener = OwnerSource(tracerOwnerSourceOWNER_LISTENER)
	OwnerClose    = OwnerSource(tracerOwnerSourceOWNER_CLOSE)
	OwnerSnapshot = OwnerSource(tracerOwnerSourceOWNER_SNAPSHOT)
	OwnerListen   = OwnerSource(tracerOwnerSourceOWNER_LISTEN)
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

// rank orders owner sources by trust: an exact owner is never replaced by
// a weaker guess that arrives later.
func (s OwnerSource) rank() int {
	switch s {
	case OwnerConnect, OwnerAccept:
		return 4
	case OwnerSnapshot:
		return 3
	case OwnerClose:
		return 2
	case OwnerListener, OwnerListen:
		return 1
	}
	return 0
}

// EventKind tells a state change from an accept.
type EventKind uint8

// Event kinds, as bpf/tracer.h numbers them.
const (
	KindState  = EventKind(tracerEventKindEVENT_STATE)
	KindAccept = EventKind(tracerEventKindEVENT_ACCEPT)
)

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
}

// Event is one decoded record of the BPF programs.
type Event struct {
	Kind        EventKind
	TimeNs      uint64 // CLOCK_MONOTONIC ns
	Cookie      uint64
	BirthNs     uint64 // 0 when the hook keeps no per-socket state
	StateNs     uint64 // when the socket entered OldState, 0 if unknown
	Family      snapshot.Family
	Local       netip.AddrPort
	Remote      netip.AddrPort
	NetNS       uint32
	OldState    uint8
	NewState    uint8
	Owner       Process
	OwnerSource OwnerSource
	Direction   Direction
	CurPID      uint32
	// TCP counters at the event (state events only).
	BytesSent, BytesReceived, BytesAcked, BytesRetrans uint64
	TotalRetrans                                       uint32
	SRTTus                                             uint32
	SkErr                                              int32
	// PeerFin is set once the peer's FIN was received: the kernel counts
	// it as one byte in BytesReceived.
	PeerFin bool
}

// ErrShortRecord is returned for a ring-buffer record smaller than an event.
var ErrShortRecord = errors.New("short record")

// decodeEvent turns a raw ring-buffer sample into an Event.
func decodeEvent(raw []byte, ev *Event) error {
	if len(raw) < int(unsafe.Sizeof(tracerEvent{})) {
		return fmt.Errorf("decoding event: %w: %d bytes", ErrShortRecord, len(raw))
	}
	r := (*tracerEvent)(unsafe.Pointer(&raw[0]))
	*ev = Event{
		Kind:          EventKind(r.Kind),
		TimeNs:        r.TsNs,
		Cookie:        r.Cookie,
		BirthNs:       r.BirthNs,
		StateNs:       r.StateNs,
		Family:        snapshot.Family(r.Family),
		NetNS:         r.Netns,
		OldState:      r.OldState,
		NewState:      r.NewState,
		OwnerSource:   OwnerSource(r.OwnerSource),
		Direction:     Direction(r.Active),
		CurPID:        r.CurPid,
		BytesSent:     r.BytesSent,
		BytesReceived: r.BytesReceived,
		BytesAcked:    r.BytesAcked,
		BytesRetrans:  r.BytesRetrans,
		TotalRetrans:  r.TotalRetrans,
		SRTTus:        r.SrttUs >> 3,
		SkErr:         r.SkErr,
		PeerFin:       r.PeerFin != 0,
		Owner:         Process{PID: r.Pid, TID: r.Tid, UID: r.Uid, Comm: commString(r.Comm[:])},
	}
	if ev.Family == snapshot.FamilyInet {
		ev.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r.Saddr[:4])), r.Sport)
		ev.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r.Daddr[:4])), r.Dport)
	} else {
		ev.Local = netip.AddrPortFrom(netip.AddrFrom16(r.Saddr), r.Sport)
		ev.Remote = netip.AddrPortFrom(netip.AddrFrom16(r.Daddr), r.Dport)
	}
	return nil
}

func commString(c []int8) string {
	b := make([]byte, 0, len(c))
	for _, ch := range c {
		if ch == 0 {
			break
		}
		b = append(b, byte(ch))
	}
	return string(b)
}
