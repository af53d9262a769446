package cmdutil

import "github.com/bpfnetstat/bpfnetstat/tracer"

// DegradedLines are the stderr lines of a view that runs the tracer with a
// role missing: which owners are no longer exact, and why. None when every
// role has a hook.
func DegradedLines(hooks []tracer.HookStatus) []string {
	var out []string
	for _, d := range tracer.Degraded(hooks) {
		out = append(out, "bpfnetstat: degraded: "+d.String())
	}
	return out
}
