//go:build !linux || !(amd64 || arm64)

package tracer

import (
	"runtime"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// Open refuses: the tracer's programs read registers and syscall numbers
// that bpf/arch.h knows for x86_64 and arm64 only, and loading programs
// built for another architecture would misread them.
func Open(Config) (*Tracer, error) {
	return nil, &LoadError{Op: "choosing the programs", Err: &UnsupportedArchError{Arch: runtime.GOARCH}}
}

// RemovedCgroupPath knows no path where the tracer does not load.
func (t *Tracer) RemovedCgroupPath(uint64) (string, bool) { return "", false }

// Sweep finds nothing where the tracer does not load.
func (t *Tracer) Sweep(uint64, func(func(*snapshot.Socket)) error, bool) ([]Event, error) {
	return nil, nil
}

// SweepStatus: nothing to sweep where the tracer does not load.
func (t *Tracer) SweepStatus() string { return "not available: the tracer does not load here" }

// SweepRound is empty where the tracer does not load: BeginSweep gives
// none.
type SweepRound struct{}

// BeginSweep has nothing to judge where the tracer does not load.
func (t *Tracer) BeginSweep(uint64) (*SweepRound, error) { return nil, nil }

// Visit takes nothing.
func (r *SweepRound) Visit(uint32) func(*snapshot.Socket) { return func(*snapshot.Socket) {} }

// Walked records nothing.
func (r *SweepRound) Walked(uint32) {}

// End finds nothing.
func (r *SweepRound) End(bool) ([]Event, error) { return nil, nil }
