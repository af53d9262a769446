package cgroups

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Namer gives owners their identity: from the cgroup id the BPF programs
// recorded where the host has a cgroup2 hierarchy, else from the owner's
// /proc/PID/cgroup (a v1-only host records no usable v2 id). Each id and
// each pid is resolved once, at first sight, and its *Identity shared by
// every connection of that cgroup. Safe for concurrent use.
type Namer struct {
	h        Hierarchy
	res      *Resolver // nil without a cgroup2 mount
	procRoot string
	mu       sync.Mutex
	byID     map[uint64]*Identity
	byPID    map[uint32]*Identity
	// removed, when set, knows the paths of cgroups removed before their
	// id was first resolved (the tracer's cgroup_rmdir hook).
	removed func(id uint64) (string, bool)
}

// SetRemoved gives the namer a source of removed cgroups' paths. It is
// used only in the initial cgroup namespace: the paths it knows are as
// the remover saw them, which inside a container are not bpfnetstat's.
func (n *Namer) SetRemoved(removed func(id uint64) (string, bool)) {
	if !InitialNamespace() {
		return
	}
	n.mu.Lock()
	n.removed = removed
	n.mu.Unlock()
}

// initialCgroupNS is the inode of the initial cgroup namespace
// (PROC_CGROUP_INIT_INO).
const initialCgroupNS = 0xEFFFFFFB

// InitialNamespace reports whether bpfnetstat runs in the initial cgroup
// namespace.
func InitialNamespace() bool {
	var st unix.Stat_t
	return unix.Stat("/proc/self/ns/cgroup", &st) == nil && st.Ino == initialCgroupNS
}

// NewNamer names owners on a host with hierarchy h; procRoot is where
// /proc is (for the v1 fallback and for owners from snapshots).
func NewNamer(h Hierarchy, procRoot string) *Namer {
	n := &Namer{h: h, procRoot: procRoot, byID: map[uint64]*Identity{}, byPID: map[uint32]*Identity{}}
	if h.Mount != "" {
		n.res = NewResolver(h.Mount)
	}
	return n
}

// Close releases the resolver's descriptor.
func (n *Namer) Close() error {
	if n.res != nil {
		return n.res.Close()
	}
	return nil
}

// Hierarchy is the host's cgroup layout, as the namer was given it.
func (n *Namer) Hierarchy() Hierarchy { return n.h }

// UsesIDs reports whether owners are named from their cgroup v2 ids.
func (n *Namer) UsesIDs() bool { return n.res != nil }

// Method says in words how owners get their identity, for doctor.
func (n *Namer) Method() string {
	switch {
	case n.res != nil && n.res.ByHandle():
		return "cgroup v2 id -> path by open_by_handle_at, cached at first sight"
	case n.res != nil:
		return "cgroup v2 id -> path by walking the hierarchy (open_by_handle_at needs CAP_DAC_READ_SEARCH), cached"
	case n.h.Layout == LayoutV1:
		return "/proc/PID/cgroup of the owner when it is learnt (v1 only: no cgroup v2 id)"
	}
	return "none: no cgroup filesystem"
}

var unknown = &Identity{}

// ByID is the identity of cgroup v2 id; an id that resolves to no path
// (removed before its first sighting, or outside this cgroup namespace)
// has the empty Identity, never a wrong path.
func (n *Namer) ByID(id uint64) *Identity {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ident, ok := n.byID[id]; ok {
		return ident
	}
	ident := unknown
	if n.res != nil {
		p, err := n.res.Path(id)
		if err != nil && n.removed != nil {
			var ok bool
			if p, ok = n.removed(id); ok {
				err = nil
			}
		}
		if err == nil {
			i := Identify(p)
			ident = &i
		}
	}
	n.byID[id] = ident
	return ident
}

// ByPID is the identity of a process from its /proc/PID/cgroup, cached
// per pid; the empty Identity if the process is gone.
func (n *Namer) ByPID(pid uint32) *Identity {
	if pid == 0 {
		return unknown
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if ident, ok := n.byPID[pid]; ok {
		return ident
	}
	ident := unknown
	if p, err := ProcPath(n.procRoot, int(pid)); err == nil && p != "" {
		i := Identify(p)
		ident = &i
	}
	n.byPID[pid] = ident
	return ident
}

// Of is an owner's identity: by its cgroup id where ids are used and the
// id is known, else by its pid.
func (n *Namer) Of(id uint64, pid uint32) *Identity {
	if n.res != nil && id != 0 {
		return n.ByID(id)
	}
	return n.ByPID(pid)
}
