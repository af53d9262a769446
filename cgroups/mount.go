package cgroups

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// Layout is how a host mounts cgroups.
type Layout string

// Layouts.
const (
	LayoutV2     Layout = "v2"     // cgroup2 alone (at /sys/fs/cgroup on most hosts)
	LayoutHybrid Layout = "hybrid" // v1 controllers, cgroup2 beside them (often .../unified)
	LayoutV1     Layout = "v1"     // v1 only: no cgroup v2 id to record
	LayoutNone   Layout = "none"   // no cgroup filesystem mounted
)

// Hierarchy is where the cgroup v2 hierarchy is mounted.
type Hierarchy struct {
	Layout Layout
	// Mount is the cgroup2 mount point, "" without one.
	Mount string
	// Systemd is the v1 name=systemd hierarchy's mount point, "" without
	// one: on a v1-only host, where containers are looked for.
	Systemd string
}

// FindHierarchy reads mountinfo (/proc/self/mountinfo) for the cgroup2
// mount, never assuming a fixed path: pure v2 hosts mount it at
// /sys/fs/cgroup, hybrid ones at /sys/fs/cgroup/unified, containers where
// their runtime puts it.
func FindHierarchy(mountinfo io.Reader) (Hierarchy, error) {
	var h Hierarchy
	v1 := false
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 {
			continue
		}
		switch g[0] {
		case "cgroup2":
			// The first one wins, as the kernel lists mounts in order;
			// /sys/fs/cgroup itself wins over any other.
			mp := unescapeMount(f[4])
			if h.Mount == "" || mp == "/sys/fs/cgroup" {
				h.Mount = mp
			}
		case "cgroup":
			v1 = true
			if len(g) >= 3 && hasOption(g[2], "name=systemd") {
				h.Systemd = unescapeMount(f[4])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return h, err
	}
	switch {
	case h.Mount != "" && v1:
		h.Layout = LayoutHybrid
	case h.Mount != "":
		h.Layout = LayoutV2
	case v1:
		h.Layout = LayoutV1
	default:
		h.Layout = LayoutNone
	}
	return h, nil
}

// FindHostHierarchy reads /proc/self/mountinfo.
func FindHostHierarchy() (Hierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Hierarchy{Layout: LayoutNone}, err
	}
	defer f.Close()
	return FindHierarchy(f)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func lstatDir(p string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// Root is where cgroups are looked for by path: the cgroup2 mount, or on
// a v1-only host the name=systemd hierarchy; "" without either.
func (h Hierarchy) Root() string {
	if h.Mount != "" {
		return h.Mount
	}
	return h.Systemd
}
