package owners

import "github.com/bpfnetstat/bpfnetstat/snapshot"

// Map maps socket inodes to the process that holds them, as one scan found
// them: processes in /proc readdir order (or the iterator's, resolved to
// the same answer), and for an inode held by several processes (a forked
// server) the first one /proc lists wins.
type Map struct {
	// byInode indexes procs: an int32 per socket instead of a copy of the
	// owner keeps -p's memory near netstat's at 200k sockets.
	byInode map[uint64]int32
	procs   []snapshot.Owner
	// Denied is set when some /proc/PID/fd could not be opened for lack of
	// permission (EACCES): netstat then warns that it is not complete.
	Denied bool
	// ProcErr is set when the proc root itself could not be listed.
	ProcErr error
}

// Lookup returns the owner of the socket with the given inode.
func (o *Map) Lookup(inode uint64) (snapshot.Owner, bool) {
	if o == nil {
		return snapshot.Owner{}, false
	}
	i, ok := o.byInode[inode]
	if !ok {
		return snapshot.Owner{}, false
	}
	return o.procs[i], true
}

// Each calls fn for every socket inode with a known owner, in no order.
func (o *Map) Each(fn func(inode uint64, owner snapshot.Owner)) {
	if o == nil {
		return
	}
	for ino, i := range o.byInode {
		fn(ino, o.procs[i])
	}
}

// Len is the number of socket inodes with a known owner.
func (o *Map) Len() int {
	if o == nil {
		return 0
	}
	return len(o.byInode)
}
