package cmdutil

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/conn"
)

// IdentityFlags are the identity options the tracer views share: show the
// owner's container, pod, unit and cgroup in text (--identity; JSON always
// has them), and keep only owners in a cgroup (--cgroup) or a container
// (--container). The names collide with no netstat option.
type IdentityFlags struct {
	Show      bool
	Cgroup    string
	Container string
}

// Add registers the flags: --identity only with show (a view that
// always shows containers has no use for it).
func (f *IdentityFlags) Add(fs *pflag.FlagSet, show bool) {
	if show {
		fs.BoolVar(&f.Show, "identity", false, "show each owner's container, Kubernetes pod, systemd unit and cgroup (JSON always has them)")
	}
	fs.StringVar(&f.Cgroup, "cgroup", "", "only connections whose owner is in this cgroup (path relative to the cgroup2 root) or below it")
	fs.StringVar(&f.Container, "container", "", "only connections whose owner is in this container (a unique prefix of its id)")
}

// Identities names owners and applies the identity filter.
type Identities struct {
	Namer *cgroups.Namer
	// Filter is nil without --cgroup or --container.
	Filter *cgroups.Filter
}

// ErrBothFilters: --cgroup and --container select the same thing twice.
var ErrBothFilters = errors.New("--cgroup and --container cannot be used together")

// Open finds the host's cgroup hierarchy, starts naming owners and
// resolves the filter: an error (one line) when the cgroup does not exist
// or the container prefix names none or several.
func (f *IdentityFlags) Open(env Env) (*Identities, error) {
	if f.Cgroup != "" && f.Container != "" {
		return nil, ErrBothFilters
	}
	h, _ := cgroups.FindHostHierarchy()
	ids := &Identities{Namer: cgroups.NewNamer(h, env.ProcRoot)}
	var err error
	switch {
	case f.Cgroup != "":
		ids.Filter, err = cgroups.CgroupFilter(h, f.Cgroup)
	case f.Container != "":
		if h.Root() == "" {
			err = fmt.Errorf("--container: no cgroup hierarchy is mounted")
			break
		}
		ids.Filter, err = cgroups.ContainerFilter(h, h.Root(), f.Container)
	}
	if err != nil {
		ids.Namer.Close()
		return nil, err
	}
	return ids, nil
}

// Close releases the namer.
func (ids *Identities) Close() {
	if ids != nil {
		ids.Namer.Close()
	}
}

// CgroupDir is the directory the kernel filters on, "" for none.
func (ids *Identities) CgroupDir() string {
	if ids == nil || ids.Filter == nil {
		return ""
	}
	return ids.Filter.Dir
}

// Name gives an owner its identity, at first sight of its cgroup id (or,
// without ids, of its pid); an owner with neither keeps none.
func (ids *Identities) Name(p *conn.Process) {
	if ids == nil || p.Ident != nil || p.CgroupID == 0 && p.PID == 0 {
		return
	}
	p.Ident = ids.Namer.Of(p.CgroupID, p.PID)
}

// Wants reports whether an owner passes the filter: its cgroup is the
// filter's or below it. An owner not known passes no filter.
func (ids *Identities) Wants(p *conn.Process) bool {
	if ids == nil || ids.Filter == nil {
		return true
	}
	return ids.Filter.Contains(p.Identity().Path)
}

// WantsRow reports whether a merged row's owner passes the filter.
func (ids *Identities) WantsRow(id *cgroups.Identity) bool {
	if ids == nil || ids.Filter == nil {
		return true
	}
	return id != nil && ids.Filter.Contains(id.Path)
}
