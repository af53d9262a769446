// Package merged joins what the tracer streams with point-in-time
// snapshots, for the views that refresh (netstat -c, watch, timewait) and
// the ones that stream (trace, life): the live connection table keyed by
// socket cookie, the stream that holds a server connection's first
// transitions until accept() names its owner, the owners of rows that have
// no inode (TIME_WAIT), and the ghost rows of connections that lived and
// died between two refreshes.
//
// It imports tracer (events), snapshot (the tables), owners (the -p
// map) and cgroups (owners' identities); it must never import output or the command layer, and it prints
// nothing.
package merged
