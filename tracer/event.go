// Package tracer is bpfnetstat's BPF loader and decoder: it loads the eBPF
// programs, attaches them to the TCP state-change stream and the accept
// syscalls, and decodes their records into Events carrying the conn
// model's types; it also runs the -p owner iterator (ScanSocketFDs). What
// is made of the events (the connection table, owners of rows, ghost
// rows) is the merged package's.
//
// It imports conn and snapshot (for the address family); it must never
// import merged, owners, output or the command layer, and it prints
// nothing.
package tracer

import (
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// EventKind tells a state change from an accept, and from a socket's end
// that no state change showed.
type EventKind uint8

// Event kinds, as bpf/tracer.h numbers them.
const (
	KindState  = EventKind(tracerEventKindEVENT_STATE)
	KindAccept = EventKind(tracerEventKindEVENT_ACCEPT)
	// KindEnd: the socket was freed and no state program saw its -> CLOSE
	// (bpf/state.h, on_destroy). It carries the kept owner and birth, the
	// local port and the remote address; its remote port and error are gone.
	KindEnd = EventKind(tracerEventKindEVENT_END)
)

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
	OldState    conn.State
	NewState    conn.State
	Owner       conn.Process
	OwnerSource conn.OwnerSource
	Direction   conn.Direction
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

// commCache turns task names into strings once: a machine runs few
// distinct names, and a string per event was garbage at every event. It
// holds at most commCacheMax names (then starts afresh).
type commCache map[[16]int8]string

const commCacheMax = 4096

func (cc *commCache) name(c [16]int8) string {
	if s, ok := (*cc)[c]; ok {
		return s
	}
	if *cc == nil || len(*cc) >= commCacheMax {
		*cc = make(commCache)
	}
	s := commString(c[:])
	(*cc)[c] = s
	return s
}

// decodeEvent turns a raw ring-buffer sample into an Event.
func decodeEvent(raw []byte, ev *Event) error {
	var cc commCache
	return cc.decode(raw, ev)
}

// decode turns a raw ring-buffer sample into an Event, its task name from
// the cache.
func (cc *commCache) decode(raw []byte, ev *Event) error {
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
		OldState:      conn.State(r.OldState),
		NewState:      conn.State(r.NewState),
		OwnerSource:   conn.OwnerSource(r.OwnerSource),
		Direction:     conn.Direction(r.Active),
		CurPID:        r.CurPid,
		BytesSent:     r.BytesSent,
		BytesReceived: r.BytesReceived,
		BytesAcked:    r.BytesAcked,
		BytesRetrans:  r.BytesRetrans,
		TotalRetrans:  r.TotalRetrans,
		SRTTus:        r.SrttUs >> 3,
		SkErr:         r.SkErr,
		PeerFin:       r.PeerFin != 0,
		Owner:         conn.Process{PID: r.Pid, TID: r.Tid, UID: r.Uid, Comm: cc.name(r.Comm), CgroupID: r.CgroupId},
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
