//go:build linux && (amd64 || arm64)

package tracer

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// The sweep: the state programs keep a socket's state from its birth to
// its -> CLOSE (bpf/maps.h), and the end hook reports a socket freed with
// its state still kept (bpf/state.h, on_destroy). Rarely the kernel runs
// no program at all for a socket's last transitions and its free, as when
// a client's FIN_WAIT1 -> FIN_WAIT2 and FIN_WAIT2 -> CLOSE come in one
// softirq that also frees it for its timewait socket (README, "A
// connection's end that no program sees"). Its state would then stay
// kept, its connection open to user space, for as long as the tracer runs.
// Sweep finds such sockets by asking the namespace's socket table
// (sock_diag) for the cookies of the sockets whose state is kept.

// stateTimeWait is TCP_TIME_WAIT as sock_diag gives it.
const stateTimeWait = 6

// timeWaitLen is how long Linux keeps a timewait socket (TCP_TIMEWAIT_LEN).
const timeWaitLen = 60 * time.Second

// keptState is a socket's kept state as the programs have it.
type keptState = tracerSkSlot

// kept reads the states the programs keep, in the slot array and in the
// hash (those in socket storage, the overflow of a full hash, cannot be
// listed), by cookie.
func (t *Tracer) kept() (map[uint64]keptState, error) {
	out := map[uint64]keptState{}
	n := int(t.slots.MaxEntries())
	const chunk = 4096
	keys := make([]uint32, min(n, chunk))
	vals := make([]keptState, len(keys))
	var cursor ebpf.MapBatchCursor
	for {
		got, err := t.slots.BatchLookup(&cursor, keys, vals, nil)
		for _, v := range vals[:got] {
			if v.Cookie != 0 {
				out[v.Cookie] = v
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading sk_slots: %w", err)
		}
	}
	var cookie uint64
	var s keptState
	it := t.states.Iterate()
	info := unsafe.Slice((*byte)(unsafe.Pointer(&s.Info)), unsafe.Sizeof(s.Info))
	for it.Next(&cookie, info) {
		s.Cookie = cookie
		out[cookie] = s
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading sk_states: %w", err)
	}
	return out, nil
}

// Sweep reports the sockets whose state the programs keep though the
// socket is gone from the namespace's socket table, and drops their state:
// one SweepRound over the one namespace the tracer watches, whose table
// dump gives (every TCP socket with its cookie: sock_diag). A final sweep
// (the tracer stops) dumps twice where a socket is missing.
func (t *Tracer) Sweep(nowNs uint64, dump func(fn func(*snapshot.Socket)) error, final bool) ([]Event, error) {
	if t.netns == 0 && t.keepsSocketState() {
		return nil, ErrSweepAllNetNS
	}
	r, err := t.BeginSweep(nowNs)
	if r == nil || err != nil {
		return nil, err
	}
	for range 2 {
		if err := dump(r.Visit(t.netns)); err != nil {
			return nil, fmt.Errorf("reading the socket table: %w", err)
		}
		r.Walked(t.netns)
		if !final || !r.missing() {
			break
		}
	}
	return r.End(final)
}

// SweepRound is one look at the namespaces' socket tables for the sockets
// whose state the programs keep (BeginSweep, Visit and Walked for each
// namespace, End). A kept socket, in a namespace walked in full, is gone
// when the table has it only as a timewait socket (its full socket was
// freed: no program saw its -> CLOSE), or, older than SweepMinAge, when it
// is not there at all in two rounds in a row (one dump can skip a socket:
// it resumes a hash bucket by position); and its state must be the same
// before and after the round. Where the tracer watches every namespace,
// a kept socket's namespace is known only with EndsOnly (bpf/maps.h); the
// others are not judged.
//
// A socket gone with no timewait socket may also still be held by its
// process (a connect that failed, not yet closed): its end hook reports
// it, with its local port and remote address, once the process closes it.
// The second round is the time it gets.
//
// Each gone socket comes back as a KindEnd event, as on_destroy would have
// sent it: its owner, birth and direction from its state; its tuple from
// the timewait socket when there is one, with the end time that socket's
// timer gives, else the time of the round and no tuple (family inet,
// addresses 0.0.0.0 port 0). Filtered sockets (owner outside the cgroup
// filter) are dropped without an event.
type SweepRound struct {
	t        *Tracer
	nowNs    uint64
	before   map[uint64]keptState
	netnsOf  map[uint64]uint32
	byNetNS  map[uint32]int // candidates per namespace
	walked   map[uint32]int // times walked in full
	seen     map[uint32]map[uint64]bool
	present  map[uint64]bool // in every walk of its namespace
	timeWait map[uint64]snapshot.Socket
}

// BeginSweep reads the kept states; a nil round has nothing to judge.
func (t *Tracer) BeginSweep(nowNs uint64) (*SweepRound, error) {
	if t.slots == nil || !t.keepsSocketState() {
		return nil, nil
	}
	before, err := t.kept()
	if err != nil {
		return nil, err
	}
	r := &SweepRound{t: t, nowNs: nowNs, before: before, netnsOf: map[uint64]uint32{}, byNetNS: map[uint32]int{},
		walked: map[uint32]int{}, seen: map[uint32]map[uint64]bool{}, present: map[uint64]bool{}, timeWait: map[uint64]snapshot.Socket{}}
	for c, s := range before {
		ns := t.netns
		if ns == 0 && t.endsOnly {
			ns = uint32(s.Info.StateNs)
		}
		if _, done := t.swept[c]; done || ns == 0 || s.Info.BirthNs == 0 || s.Info.BirthNs > nowNs {
			delete(before, c)
			continue
		}
		r.netnsOf[c] = ns
		r.byNetNS[ns]++
	}
	if len(before) == 0 {
		return nil, nil
	}
	return r, nil
}

// Visit gives the function that takes each TCP socket of namespace netns;
// Walked then says that its table was read in full.
func (r *SweepRound) Visit(netns uint32) func(*snapshot.Socket) {
	if r.byNetNS[netns] == 0 {
		return func(*snapshot.Socket) {}
	}
	seen := map[uint64]bool{}
	r.seen[netns] = seen
	return func(s *snapshot.Socket) {
		if r.netnsOf[s.Cookie] != netns {
			return
		}
		if s.State == stateTimeWait {
			r.timeWait[s.Cookie] = *s
		} else {
			seen[s.Cookie] = true
		}
	}
}

// Walked records that the last Visit of netns saw its whole table: a
// socket counts as present if one full walk saw it.
func (r *SweepRound) Walked(netns uint32) {
	if r.byNetNS[netns] == 0 {
		return
	}
	r.walked[netns]++
	for c := range r.seen[netns] {
		r.present[c] = true
	}
}

// missing says whether a socket of a walked namespace was in no walk.
func (r *SweepRound) missing() bool {
	for c, ns := range r.netnsOf {
		if _, tw := r.timeWait[c]; r.walked[ns] > 0 && !r.present[c] && !tw {
			return true
		}
	}
	return false
}

// End judges the round: it reads the kept states again, drops those of
// the sockets gone and gives their records. In a final round (the tracer
// stops) a socket missing from two walks of its namespace is gone without
// waiting for another round.
func (r *SweepRound) End(final bool) ([]Event, error) {
	t := r.t
	after, err := t.kept()
	if err != nil {
		return nil, err
	}
	var out []Event
	suspects := map[uint64]uint64{}
	for c, s := range r.before {
		ns := r.netnsOf[c]
		tw, isTW := r.timeWait[c]
		if !isTW && (r.walked[ns] == 0 || r.present[c]) {
			continue
		}
		if a, ok := after[c]; !ok || a != s {
			continue // its -> CLOSE came, or a new life began
		}
		if !isTW {
			minAge := uint64(SweepMinAge)
			if final {
				minAge = uint64(SweepFinalMinAge)
			}
			if s.Info.BirthNs+minAge > r.nowNs {
				continue // maybe not in the table yet
			}
			if t.suspects[c] != s.Info.BirthNs && !(final && r.walked[ns] > 1) {
				suspects[c] = s.Info.BirthNs
				continue
			}
		}
		req, err := t.forgetKept(c)
		if err != nil {
			return out, err
		}
		if req.HasAcceptor != 0 {
			// A server socket's acceptor, which its close record would
			// have named (life: accept_in_close).
			a := &req.Acceptor
			s.Info.Pid, s.Info.Tid, s.Info.Uid, s.Info.Comm, s.Info.CgroupId = a.Pid, a.Tid, a.Uid, a.Comm, a.CgroupId
			s.Info.OwnerSource, s.Info.Filtered = a.OwnerSource, a.Filtered
		}
		if s.Info.Filtered != 0 {
			continue
		}
		out = append(out, t.sweptEvent(r.nowNs, &s, ns, tw, isTW))
	}
	t.suspects = suspects
	t.sweptEnds.Add(uint64(len(out)))
	return out, nil
}

// sweptEvent is the KindEnd record of a gone socket.
func (t *Tracer) sweptEvent(nowNs uint64, s *keptState, netns uint32, tw snapshot.Socket, isTW bool) Event {
	i := &s.Info
	ev := Event{
		Kind:        KindEnd,
		TimeNs:      nowNs,
		Cookie:      s.Cookie,
		BirthNs:     i.BirthNs,
		NetNS:       netns,
		OldState:    conn.TCPClose,
		NewState:    conn.TCPClose,
		OwnerSource: conn.OwnerSource(i.OwnerSource),
		Direction:   conn.Direction(i.Active),
		Owner:       conn.Process{PID: i.Pid, TID: i.Tid, UID: i.Uid, Comm: commString(i.Comm[:]), CgroupID: i.CgroupId},
	}
	if !isTW {
		unknown := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		ev.Family, ev.Local, ev.Remote = snapshot.FamilyInet, unknown, unknown
	} else {
		// The timewait socket lives timeWaitLen from its full socket's
		// end; its timer says how much of that is left (in 10 ms).
		ev.OldState = conn.TCPTimeWait
		ev.Family, ev.Local, ev.Remote = tw.Family, tw.Local, tw.Remote
		left := uint64(tw.TimerWhen) * uint64(10*time.Millisecond)
		if left < uint64(timeWaitLen) {
			if end := nowNs - (uint64(timeWaitLen) - left); end > i.BirthNs {
				ev.TimeNs = end
			}
		}
	}
	return ev
}

// forgetKept drops a gone socket's kept state through forget_kept
// (bpf/state.h), which also hands over a server socket's acceptor still
// waiting for its close record; where that program did not load, it
// remembers the cookie so that no later sweep reports it again.
func (t *Tracer) forgetKept(cookie uint64) (tracerForgetReq, error) {
	req := tracerForgetReq{Cookie: cookie}
	if t.forgetProg == nil {
		if t.swept == nil {
			t.swept = map[uint64]struct{}{}
		}
		t.swept[cookie] = struct{}{}
		return req, nil
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&req)), unsafe.Sizeof(req))
	if _, err := t.forgetProg.Run(&ebpf.RunOptions{Context: buf, ContextOut: buf}); err != nil {
		return req, fmt.Errorf("dropping the state of socket %d: %w", cookie, err)
	}
	return req, nil
}

// SweepStatus says, for doctor, what the sweep can do with these hooks.
func (t *Tracer) SweepStatus() string {
	switch {
	case !t.keepsSocketState():
		return "not needed: the state hook attached keeps no per-socket state in the kernel"
	case t.forgetProg == nil:
		return fmt.Sprintf("reports only: forget_kept did not load (%v); a gone socket's kept state stays, and bpfnetstat remembers its cookie", t.forgetErr)
	}
	return "works; forget_kept loaded"
}
