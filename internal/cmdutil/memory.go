package cmdutil

import (
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
