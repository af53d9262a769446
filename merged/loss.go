package merged

import "github.com/bpfnetstat/bpfnetstat/tracer"

// Loss counts events lost, per reason: everything the closing loss line
// of trace and life reports as lost.
type Loss struct {
	RingFull         uint64 // the ring buffer was full
	SocketStorage    uint64 // per-socket state could not be stored
	AcceptUnresolved uint64 // an accept whose socket could not be resolved
	KernelRecursion  uint64 // the kernel ran no program (another was running)
	UserSpace        uint64 // records user space could not decode
	TableEvictions   uint64 // connections dropped because the table was full
}

// LossOf gathers the counts of a tracer and of the table its events go to.
func LossOf(c tracer.Counters, userDrops, evictions uint64) Loss {
	return Loss{RingFull: c.RingFull, SocketStorage: c.StorageFail, AcceptUnresolved: c.AcceptMiss,
		KernelRecursion: c.RecursionLost, UserSpace: userDrops, TableEvictions: evictions}
}

// Total is the number of events lost for any reason.
func (l Loss) Total() uint64 {
	return l.RingFull + l.SocketStorage + l.AcceptUnresolved + l.KernelRecursion + l.UserSpace + l.TableEvictions
}

// Sub is what l counts beyond an earlier reading o (counters only grow).
func (l Loss) Sub(o Loss) Loss {
	d := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	return Loss{d(l.RingFull, o.RingFull), d(l.SocketStorage, o.SocketStorage), d(l.AcceptUnresolved, o.AcceptUnresolved),
		d(l.KernelRecursion, o.KernelRecursion), d(l.UserSpace, o.UserSpace), d(l.TableEvictions, o.TableEvictions)}
}

// LossReport is the loss of a window of time, monotonic ns (FromNs, ToNs].
type LossReport struct {
	FromNs, ToNs uint64
	Loss
}

// LossWatch turns cumulative loss counters, read now and then, into
// reports while losses happen: at most one per interval, each covering
// the time since the last reading that found nothing new, so that the
// reports add up to the counters and a reader sees where the gap is.
type LossWatch struct {
	every    uint64 // ns between two reports
	reported Loss   // counters as of the last report
	fromNs   uint64 // the window of the next report starts here
	lastNs   uint64 // when the last report was made; 0: none yet
}

// NewLossWatch starts watching at startNs (monotonic), reporting at most
// once per everyNs.
func NewLossWatch(startNs, everyNs uint64) *LossWatch {
	return &LossWatch{every: everyNs, fromNs: startNs}
}

// Check takes the counters read at nowNs and returns a report when there
// is new loss and the last report is at least an interval old (the first
// one goes out at once).
func (w *LossWatch) Check(nowNs uint64, cur Loss) (LossReport, bool) {
	d := cur.Sub(w.reported)
	if d.Total() == 0 {
		w.fromNs = nowNs
		return LossReport{}, false
	}
	if w.lastNs != 0 && nowNs-w.lastNs < w.every {
		return LossReport{}, false
	}
	return w.take(nowNs, cur, d), true
}

// Final returns what no report has covered yet, at the end.
func (w *LossWatch) Final(nowNs uint64, cur Loss) (LossReport, bool) {
	d := cur.Sub(w.reported)
	if d.Total() == 0 {
		w.fromNs = nowNs
		return LossReport{}, false
	}
	return w.take(nowNs, cur, d), true
}

func (w *LossWatch) take(nowNs uint64, cur, d Loss) LossReport {
	r := LossReport{FromNs: w.fromNs, ToNs: nowNs, Loss: d}
	w.reported, w.fromNs, w.lastNs = cur, nowNs, nowNs
	return r
}
