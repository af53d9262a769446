package merged

import (
	"fmt"
	"io"
	"time"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// SweepEvery is how often a long-running view sweeps the tracer's kept
// states for sockets that are gone (tracer.Tracer.Sweep): a socket whose
// end no program saw is reported within about this long.
const SweepEvery = 10 * time.Second

// Sweeper runs the tracer's sweep against the socket table of the
// caller's network namespace, the one the tracer watches, through one
// sock_diag socket that it opens again after a failed dump.
type Sweeper struct {
	tr   *tracer.Tracer
	diag *snapshot.Diag
	last uint64
}

// NewSweeper sweeps tr's kept states; nowNs starts the first period.
func NewSweeper(tr *tracer.Tracer, nowNs uint64) *Sweeper {
	return &Sweeper{tr: tr, last: nowNs}
}

// Due says whether a period has passed since the last sweep.
func (s *Sweeper) Due(nowNs uint64) bool { return nowNs-s.last >= uint64(SweepEvery) }

// Sweep gives the ends no program saw of the sockets gone since the last
// sweep, as tracer.KindEnd events to apply like the ring buffer's; final
// is the last sweep, as the tracer stops.
func (s *Sweeper) Sweep(nowNs uint64, final bool) ([]tracer.Event, error) {
	s.last = nowNs
	if s.diag == nil {
		d, err := snapshot.OpenDiag()
		if err != nil {
			return nil, err
		}
		s.diag = d
	}
	evs, err := s.tr.Sweep(nowNs, s.diag.EachTCPEither, final)
	if err != nil {
		// The socket may hold the rest of a failed dump.
		s.Close()
	}
	return evs, err
}

// Close closes the sock_diag socket.
func (s *Sweeper) Close() {
	if s.diag != nil {
		s.diag.Close()
		s.diag = nil
	}
}

// SweepFailure is a failed sweep of a live view's tracer: its error, and
// the number of the run of consecutive failures it belongs to (from 1),
// so that a view says each run once.
type SweepFailure struct {
	Err error
	Run uint64
}

// Line is a view's one line about the failure.
func (f *SweepFailure) Line() string {
	return fmt.Sprintf("bpfnetstat: sweeping the kept socket states: %v; trying again every %v, and until then a socket whose end no program saw is not reported", f.Err, SweepEvery)
}

// noteSweep records a sweep's outcome.
func (l *Live) noteSweep(err error) {
	if err == nil {
		l.sweepFail.Store(nil)
		return
	}
	if l.sweepFail.Load() == nil {
		l.sweepRuns++
	}
	l.sweepFail.Store(&SweepFailure{Err: err, Run: l.sweepRuns})
}

// SweepFailing gives the last sweep's failure, or nil when it worked or
// none has run yet.
func (l *Live) SweepFailing() *SweepFailure { return l.sweepFail.Load() }

// SweepNotes says each run of a live view's failed sweeps once, as it
// begins: a view that prints lines checks it at every refresh.
type SweepNotes struct{ said uint64 }

// Check writes the line of a run of failures not said yet (nothing for a
// view without a tracer, l nil).
func (n *SweepNotes) Check(l *Live, w io.Writer) {
	if l == nil {
		return
	}
	f := l.SweepFailing()
	if f == nil || f.Run == n.said {
		return
	}
	n.said = f.Run
	fmt.Fprintln(w, f.Line())
}
