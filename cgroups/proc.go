package cgroups

import (
	"bufio"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// ProcPath reads a process's cgroup v2 path from /proc/PID/cgroup (the
// "0::" line), under procRoot: where no v2 id can be recorded (a v1-only
// host), the owner's cgroup is read when the owner is learnt. On a
// v1-only host it returns the name=systemd hierarchy's path, which is the
// one that names units and container scopes.
func ProcPath(procRoot string, pid int) (string, error) {
	f, err := snapshot.OpenFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	return parseProcCgroup(f)
}

func parseProcCgroup(r io.Reader) (string, error) {
	var v2, systemd string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ctrl, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && ctrl == "":
			v2 = path
		case ctrl == "name=systemd":
			systemd = path
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if v2 != "" {
		return v2, nil
	}
	return systemd, nil
}
