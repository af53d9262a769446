package merged

import (
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
