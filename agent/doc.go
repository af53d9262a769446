// Package agent is what `bpfnetstat agent` runs for as long as the host
// does: the connection audit log (life's JSON lines, or OCSF Network
// Activity records) with rotation, reopening and loss records; the
// Prometheus collector whose metric names are a contract
// (bpfnetstat_connections_opened_total, ...), with labels bounded by a top
// N; the periodic snapshot that attributes TIME_WAIT sockets and ephemeral
// ports to owners; and the root-only local socket through which the
// command line asks for the owners of connections the agent saw close.
//
// It imports conn, merged, output, snapshot and tracer. It must never
// import the command layer (internal/...), and it handles no signals: the
// agent command turns SIGHUP and SIGTERM into calls (Reopen, cancelling
// Run's context). It prints only to the writers it is given.
package agent
