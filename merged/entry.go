package merged

import (
	"net/netip"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// entry is a connection as the table keeps it: 144 bytes without a
// pointer, where a conn.Conn takes 200 bytes and three pointers (two
// addresses and the task name, which was a string of its own per event).
// Table.Get and the transitions hand out conn.Conn copies made from it.
type entry struct {
	cookie                    uint64
	birthNs, stateNs, closeNs uint64
	tx, rx                    uint64
	cgroup                    uint64 // the owner's cgroup v2 id, 0 if unknown
	local, remote             [16]byte
	netns, pid, tid, uid      uint32
	retrans, srtt             uint32
	err                       int32
	lport, rport              uint16
	// comm is the owner's name when it fits (task names always do);
	// a longer one (a program name from a snapshot) is in Table.long.
	comm        [16]byte
	family      snapshot.Family
	state       conn.State
	closedFrom  conn.State
	ownerSource conn.OwnerSource
	direction   conn.Direction
	flags       entryFlags
}

type entryFlags uint16

const (
	fClosed      entryFlags = 1 << iota
	fViaTimeWait            // closed into TIME_WAIT
	fListener               // a listening socket
	fShown                  // a refreshing view listed it
	fV4                     // its addresses are IPv4
	fLocalValid             // local is set
	fRemoteValid            // remote is set
	fLongComm               // the owner's name is in Table.long
	fEndUnseen              // freed with its -> CLOSE unseen (tracer.KindEnd)
)

func (e *entry) has(f entryFlags) bool { return e.flags&f != 0 }

func (e *entry) set(f entryFlags, on bool) {
	if on {
		e.flags |= f
	} else {
		e.flags &^= f
	}
}

func addrOf(b [16]byte, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return netip.AddrFrom16(b)
}

// localAP and remoteAP are the endpoints, invalid until set.
func (e *entry) localAP() netip.AddrPort {
	if !e.has(fLocalValid) {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addrOf(e.local, e.has(fV4)), e.lport)
}

func (e *entry) remoteAP() netip.AddrPort {
	if !e.has(fRemoteValid) {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addrOf(e.remote, e.has(fV4)), e.rport)
}

// setLocal and setRemote keep an endpoint; both of a connection are of
// one family, so one flag says which.
func (e *entry) setLocal(ap netip.AddrPort) {
	e.local, e.lport = ap.Addr().As16(), ap.Port()
	e.set(fV4, ap.Addr().Is4())
	e.set(fLocalValid, ap.IsValid())
}

func (e *entry) setRemote(ap netip.AddrPort) {
	e.remote, e.rport = ap.Addr().As16(), ap.Port()
	e.set(fV4, ap.Addr().Is4())
	e.set(fRemoteValid, ap.IsValid())
}

func (e *entry) tupleKey() tuple {
	return tuple{local: e.local, remote: e.remote, lport: e.lport, rport: e.rport, v4: e.has(fV4)}
}

// slab holds the entries in chunks of fixed size, so that growing never
// copies (nor holds twice) the whole table, and reuses freed slots.
type slab struct {
	chunks []*[slabChunk]entry
	free   []uint32
	next   uint32 // slots below next have been handed out once
}

const slabChunk = 1024

func (s *slab) alloc() uint32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		return i
	}
	i := s.next
	if int(i/slabChunk) == len(s.chunks) {
		s.chunks = append(s.chunks, new([slabChunk]entry))
	}
	s.next++
	return i
}

func (s *slab) at(i uint32) *entry { return &s.chunks[i/slabChunk][i%slabChunk] }

func (s *slab) release(i uint32) {
	*s.at(i) = entry{}
	s.free = append(s.free, i)
}
