package tracer

import "golang.org/x/sys/unix"

// initialPIDNamespaceIno is the inode of the initial PID namespace, fixed
// by the kernel (PROC_PID_INIT_INO in include/linux/proc_ns.h).
const initialPIDNamespaceIno = 0xEFFFFFFC

// OwnPIDNamespace returns the inode of bpfnetstat's PID namespace and
// whether it is the initial one, whose PIDs the kernel's BPF helpers and
// iterators report. Elsewhere (a container) the tracer's programs
// translate the PIDs they record into this namespace's numbers, so that
// they are the ones its /proc shows.
//
// /proc/self exists only in a /proc of this namespace or an ancestor's (a
// descendant's cannot see us), and is then this process: so when it is
// the initial namespace, /proc numbers processes as the kernel does.
func OwnPIDNamespace() (ino uint32, initial bool, err error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return 0, false, err
	}
	return uint32(st.Ino), st.Ino == initialPIDNamespaceIno, nil
}
