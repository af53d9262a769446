package owners

import (
	"strconv"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// FromScan builds the map WalkProc builds from the descriptors another
// scan finds (the task_file iterator), given one process after another. A socket shared by several processes goes to the one with the
// lowest PID: the first one the /proc walk finds, since /proc lists PIDs
// in ascending order, whatever order the scan visits them in. Program names
// still come from ROOT/PID/cmdline, read once per process; a process that
// is gone by then is skipped, as the /proc walk skips it. The map is filled
// as the scan goes: nothing is held per descriptor but the map's entry.
func FromScan(fs snapshot.FS, scan func(fn func(pid int32, inode uint64)) error) (*Map, error) {
	o := &Map{byInode: make(map[uint64]int32)}
	cur, idx := int32(-1), int32(-1)
	err := scan(func(pid int32, inode uint64) {
		if pid != cur {
			cur, idx = pid, -1
			if name, ok := programName(fs, strconv.Itoa(int(pid))); ok {
				idx = int32(len(o.procs))
				o.procs = append(o.procs, snapshot.Owner{PID: int(pid), Name: name})
			}
		}
		if idx < 0 {
			return
		}
		if prev, dup := o.byInode[inode]; !dup || o.procs[prev].PID > int(pid) {
			o.byInode[inode] = idx
		}
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}
