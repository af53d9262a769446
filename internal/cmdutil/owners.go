package cmdutil

import (
	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// OwnerOptions turns the environment into the owner scan's options.
// BPFNETSTAT_OWNERS=proc (or BPFNETSTAT_SOURCE=proc, everything from /proc)
// always walks /proc; BPFNETSTAT_OWNERS=iter uses the iterator whenever it
// can, under either name. Invoked as netstat, the drop-in loads no BPF.
func OwnerOptions(env Env, asNetstat bool) owners.Options {
	opt := owners.Options{Method: owners.Auto, Privileged: env.Geteuid() == 0}
	switch choice := env.Getenv("BPFNETSTAT_OWNERS"); {
	case choice == "proc" || env.Getenv("BPFNETSTAT_SOURCE") == "proc":
		opt.Method = owners.ProcWalk
	case choice == "iter":
		opt.Method = owners.Iterator
	case asNetstat:
		opt.Method = owners.ProcWalk
	}
	if opt.Method != owners.ProcWalk && CheckFDs("the -p iterator", IteratorFDs) != nil {
		opt.Method = owners.ProcWalk // the walk needs what netstat needs
	}
	return opt
}

// ReadOwners builds the -p owner map.
func ReadOwners(fs snapshot.FS, env Env, asNetstat bool) *owners.Map {
	return owners.Read(fs, OwnerOptions(env, asNetstat))
}
