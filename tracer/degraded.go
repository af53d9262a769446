package tracer

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The roles of the hooks, as HookStatus.Role and Degradation.Role name them.
const (
	RoleState  = roleState
	RoleAccept = roleAccept
)

// Degradation is what the tracer cannot learn exactly because no hook of a
// role attached.
type Degradation struct {
	Role string // the role without a hook, e.g. "accept"
	// Owners says which owners degrade and to what.
	Owners string
	// Hook is the preferred hook of the role, Why its error.
	Hook string
	Why  error
	// Fix is what would make the preferred hook attach.
	Fix string
}

// String is the degradation in one clause: "no accept hook (why): owners".
func (d Degradation) String() string {
	return fmt.Sprintf("no %s hook attached (%s: %v): %s", d.Role, d.Hook, d.Why, d.Owners)
}

// acceptDegrades says what the accept hook's absence costs: the state
// programs clone a server connection's socket storage, and with it its
// owner, from the listener (inet_csk_clone_lock); only accept() exits
// name the process that took the connection.
const acceptDegrades = "a connection accepted by another process than the listener's owner " +
	"(the children of a pre-fork server) is credited to the listener's owner, owner_source \"listener\""

// Degraded lists the roles without an attached hook among the outcomes of
// Open, with what each costs: nil when every role has one. It takes the
// outcomes (Tracer.Hooks, or HooksOf a failed Open) so that a report can
// say it either way.
func Degraded(hooks []HookStatus) []Degradation {
	var out []Degradation
	for _, role := range []string{roleAccept} {
		var first *HookStatus
		attached := false
		for i := range hooks {
			h := &hooks[i]
			if h.Role != role {
				continue
			}
			if first == nil {
				first = h
			}
			attached = attached || h.Attached
		}
		if first == nil || attached {
			continue
		}
		why := first.Err
		if why == nil {
			why = errors.New("not attached")
		}
		fix := first.Fix
		var lim unix.Rlimit
		if errors.Is(why, unix.EMFILE) && unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil {
			fix = fmt.Sprintf("raise the open-file limit (ulimit -n, now %d)", lim.Cur)
		}
		out = append(out, Degradation{Role: role, Owners: acceptDegrades, Hook: first.Name, Why: why, Fix: fix})
	}
	return out
}
