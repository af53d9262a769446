package cmdutil

import (
	"runtime"
	"runtime/debug"
)

// refreshGCPercent is the garbage collector's target for the views that
// refresh (watch, timewait, -c): a large live set (the connection table
// and a listing, 100,000 rows with many TIME_WAIT sockets) that changes
// little from refresh to refresh, and little garbage between refreshes.
// Go's default (100) lets the heap grow to twice the live set; at 25 it
// stays within a quarter more, for a collection about once per refresh.
const refreshGCPercent = 25

// TuneForRefresh sets the garbage collector for a view that refreshes,
// unless GOGC says otherwise.
func TuneForRefresh(env Env) {
	if env.Getenv != nil && env.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(refreshGCPercent)
}

// OneProcForEvents runs the rest of a streaming view (trace, life) on one
// P, unless GOMAXPROCS says otherwise. Their
// events are read, joined and written on one goroutine; a second P only
// added the runtime's hand-offs around each blocking wait for the ring
// buffer (an idle thread woken on the other CPU to look for work, and
// parked again), which under churn took time from the very processes being
// traced. Side by side at the maximum loopback churn of a two-CPU machine,
// 12 rounds twice: life --json ran at 0.81 and 0.80 of the untraced rate
// (medians of the round pairs) with two Ps and at 0.86 and 0.86 with one,
// its own CPU time unchanged.
func OneProcForEvents(env Env) {
	if env.Getenv != nil && env.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(1)
}
