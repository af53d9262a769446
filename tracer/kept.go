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
// socket is gone from the namespace's socket table, and drops their state.
// dump gives that table (every TCP socket of the namespace the tracer
// watches, with its cookie: sock_diag). A kept socket older than
// SweepMinAge is gone when the table has it only as a timewait socket (its
// full socket was freed: no program saw its -> CLOSE), or when two dumps
// one after the other both lack it (one dump can skip a socket: it resumes
// a hash bucket by position) and its state was kept before the first and
// after the second, unchanged.
//
// A socket gone with no timewait socket may still be held by its process
// (a connect that failed, not yet closed): its end hook will report it,
// with its local port and remote address, once the process closes it. So
// it is reported only by the next sweep that still finds it kept and gone,
// or by a final one (the tracer stops).
//
// Each gone socket comes back as a KindEnd event, as on_destroy would have
// sent it: its owner, birth and direction from its state; its tuple from
// the timewait socket when there is one, with the end time that socket's
// timer gives, else the time of the sweep and no tuple (family inet,
// addresses 0.0.0.0 port 0). Filtered sockets (owner outside the cgroup
// filter) are dropped without an event.
func (t *Tracer) Sweep(nowNs uint64, dump func(fn func(*snapshot.Socket)) error, final bool) ([]Event, error) {
	if t.slots == nil || !t.keepsSocketState() {
		return nil, nil
	}
	if t.netns == 0 {
		return nil, ErrSweepAllNetNS
	}
	before, err := t.kept()
	if err != nil {
		return nil, err
	}
	minAge := uint64(SweepMinAge)
	for c, s := range before {
		if _, done := t.swept[c]; done || s.Info.BirthNs == 0 || s.Info.BirthNs+minAge > nowNs {
			delete(before, c)
		}
	}
	if len(before) == 0 {
		return nil, nil
	}
	timeWait := map[uint64]snapshot.Socket{}
	present := map[uint64]bool{}
	look := func(s *snapshot.Socket) {
		if _, ok := before[s.Cookie]; !ok {
			return
		}
		if s.State == stateTimeWait {
			timeWait[s.Cookie] = *s
		} else {
			present[s.Cookie] = true
		}
	}
	if err := dump(look); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if len(present)+len(timeWait) < len(before) {
		first := present
		present = map[uint64]bool{}
		if err := dump(look); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		for c := range first {
			present[c] = true
		}
	}
	after, err := t.kept()
	if err != nil {
		return nil, err
	}
	var out []Event
	suspects := map[uint64]uint64{}
	for c, s := range before {
		tw, isTW := timeWait[c]
		if present[c] && !isTW {
			continue
		}
		if a, ok := after[c]; !ok || a != s {
			continue // its -> CLOSE came, or a new life began
		}
		if !isTW && !final && t.suspects[c] != s.Info.BirthNs {
			suspects[c] = s.Info.BirthNs
			continue
		}
		if err := t.forgetKept(c); err != nil {
			return out, err
		}
		if s.Info.Filtered != 0 {
			continue
		}
		out = append(out, t.sweptEvent(nowNs, &s, tw, isTW))
	}
	t.suspects = suspects
	t.sweptEnds.Add(uint64(len(out)))
	return out, nil
}

// sweptEvent is the KindEnd record of a gone socket.
func (t *Tracer) sweptEvent(nowNs uint64, s *keptState, tw snapshot.Socket, isTW bool) Event {
	i := &s.Info
	ev := Event{
		Kind:        KindEnd,
		TimeNs:      nowNs,
		Cookie:      s.Cookie,
		BirthNs:     i.BirthNs,
		NetNS:       t.netns,
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
// (bpf/state.h); where that program did not load, it remembers the cookie
// so that no later sweep reports it again.
func (t *Tracer) forgetKept(cookie uint64) error {
	if t.forgetProg == nil {
		if t.swept == nil {
			t.swept = map[uint64]struct{}{}
		}
		t.swept[cookie] = struct{}{}
		return nil
	}
	req := tracerForgetReq{Cookie: cookie}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&req)), unsafe.Sizeof(req))
	if _, err := t.forgetProg.Run(&ebpf.RunOptions{Context: buf, ContextOut: buf}); err != nil {
		return fmt.Errorf("sweep: dropping the state of socket %d: %w", cookie, err)
	}
	return nil
}
