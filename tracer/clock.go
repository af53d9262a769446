package tracer

import (
	"time"

	"golang.org/x/sys/unix"
)

// monoBase is CLOCK_MONOTONIC read once, just before monoStart.
var monoBase, monoStart = func() (uint64, time.Time) {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano()), time.Now()
}()

// MonotonicNow is CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns
// and of every time in Event, conn.Conn and conn.Transition. It is read through Go's
// own monotonic clock (the same CLOCK_MONOTONIC, through the vDSO): a
// clock_gettime system call per event cost the tracer 14% of its CPU. It
// lags the kernel's by the few hundred ns between the two first reads,
// which errs on the safe side for "everything before this was read".
func MonotonicNow() uint64 {
	return monoBase + uint64(time.Since(monoStart))
}
