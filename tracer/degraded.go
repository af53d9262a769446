package tracer

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Roles of the hooks: every event of a role comes from one attached group.
const (
	roleState  = "state"  // TCP state changes; the tracer needs one
	roleAccept = "accept" // accept() exits: the exact owner of server sockets
	roleCgroup = "cgroup" // cgroup removals: paths of ids gone before user space saw them; optional
	roleEnd    = "end"    // sockets freed whose -> CLOSE no state program saw; optional, tp_btf state only
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

// String is the degradation in one clause: "no accept hook attached
// (hook: why): what it costs"; for the state role, whose fallbacks do
// attach, "state hook without per-socket state (hook: why): ...".
func (d Degradation) String() string {
	what := "no " + d.Role + " hook attached"
	if d.Role == roleState {
		what = "state hook without per-socket state"
	}
	return fmt.Sprintf("%s (%s: %v): %s", what, d.Hook, d.Why, d.Owners)
}

// acceptDegrades says what the accept hook's absence costs: the state
// programs give a server connection its listener's owner (kept by
// namespace and port); only accept() exits name the process that took the
// connection.
const acceptDegrades = "a connection accepted by another process than the listener's owner " +
	"(the children of a pre-fork server) is credited to the listener's owner, owner_source \"listener\""

// stateDegrades says what the fallback state hooks cost: they keep no
// per-socket state and read the socket cookie as the kernel has it (0
// until something generates it), so user space follows a socket only once
// its cookie exists and names a server connection's owner only from the
// listener it saw listen.
const stateDegrades = "a socket is followed only once its cookie exists " +
	"(an accept() or SO_COOKIE makes one), and a server connection's owner is at best the listener's " +
	"(owner_source \"listener\"), else unknown"

// Degraded lists what the hooks that attached cannot tell exactly, among
// the outcomes of Open: a role without a hook, or a state role served by
// a fallback without per-socket state; nil when nothing degrades. It
// takes the outcomes (Tracer.Hooks, or HooksOf a failed Open) so that a
// report can say it either way.
func Degraded(hooks []HookStatus) []Degradation {
	var out []Degradation
	for _, role := range []string{roleState, roleAccept} {
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
		if first == nil || first.Attached || role == roleState && !attached {
			// All is well, or (no state hook) the tracer did not open.
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
		d := Degradation{Role: role, Hook: first.Name, Why: why, Fix: fix, Owners: acceptDegrades}
		if role == roleState {
			d.Owners = stateDegrades
		} else if attached {
			continue // a fallback accept hook names acceptors as well
		}
		out = append(out, d)
	}
	return out
}
