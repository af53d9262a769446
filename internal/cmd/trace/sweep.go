package trace

import (
	"github.com/bpfnetstat/bpfnetstat/agent"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// sweeper sweeps the tracer's kept states for the sockets whose end no
// program saw (tracer.SweepRound): merged.Sweeper in the one namespace
// watched, hostSweeper in every namespace.
type sweeper interface {
	Due(nowNs uint64) bool
	Sweep(nowNs uint64, final bool) ([]tracer.Event, error)
	Close()
}

// hostSweeper sweeps every network namespace of the host, for life
// --all-namespaces (its kept states hold their sockets' namespaces: with
// EndsOnly, bpf/maps.h): the namespaces the agent's snapshot walks, each
// dumped through sock_diag from a thread that joins it. A namespace that
// cannot be read is not judged; note says why, once for each (the
// snapshotter names a lasting failure once).
type hostSweeper struct {
	tr   *tracer.Tracer
	snap *agent.Snapshotter
	last uint64
	note func(error)
}

func newHostSweeper(tr *tracer.Tracer, nowNs uint64, note func(error)) *hostSweeper {
	return &hostSweeper{tr: tr, snap: agent.NewHostSnapshotter("/proc"), last: nowNs, note: note}
}

func (s *hostSweeper) Due(nowNs uint64) bool { return nowNs-s.last >= uint64(merged.SweepEvery) }

func (s *hostSweeper) Sweep(nowNs uint64, final bool) ([]tracer.Event, error) {
	s.last = nowNs
	round, err := s.tr.BeginSweep(nowNs)
	if err != nil || round == nil {
		return nil, err
	}
	if err := s.snap.Each(func(ns agent.NS) func(*snapshot.Socket) { return round.Visit(ns.Ino) }); err != nil {
		s.note(err)
	}
	for _, ino := range s.snap.Full() {
		round.Walked(ino)
	}
	return round.End(final)
}

func (s *hostSweeper) Close() { s.snap.Close() }
