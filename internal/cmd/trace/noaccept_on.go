//go:build bpfnetstat_noaccept

package trace

// noAcceptBuild: in this build, made by scripts/bench-churn.sh for its
// "noaccept" mode, trace and life attach no accept hook, so that the bench
// measures what the exact acceptor costs (its program, its record, the
// system-call tracepoint). Server connections are then credited to the
// listener's owner, or to the task that closes them, as on a kernel where
// no accept hook attaches.
const noAcceptBuild = true
