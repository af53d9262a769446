package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestFindHierarchy(t *testing.T) {
	const v1 = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	for _, tc := range []struct {
		what, mountinfo string
		want            Hierarchy
	}{
		{"pure v2", "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", Hierarchy{Layout: LayoutV2, Mount: "/sys/fs/cgroup"}},
		{"hybrid", "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n" + v1 + "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", Hierarchy{Layout: LayoutHybrid, Mount: "/sys/fs/cgroup/unified"}},
		{"v1 only", v1, Hierarchy{Layout: LayoutV1, Mount: ""}},
		{"v1 with systemd", v1 + "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n", Hierarchy{Layout: LayoutV1, Systemd: "/sys/fs/cgroup/systemd"}},
		{"none", "22 1 0:21 / /proc rw - proc proc rw\n", Hierarchy{Layout: LayoutNone, Mount: ""}},
		{"escaped, optional fields", "50 23 0:40 / /mnt/cg\\040two rw shared:5 master:1 - cgroup2 none rw\n", Hierarchy{Layout: LayoutV2, Mount: "/mnt/cg two"}},
		{"two mounts, /sys/fs/cgroup wins", "50 23 0:40 / /mnt/cg rw - cgroup2 none rw\n51 23 0:40 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", Hierarchy{Layout: LayoutV2, Mount: "/sys/fs/cgroup"}},
		{"garbage lines", "nonsense\n\n1 2 3\n", Hierarchy{Layout: LayoutNone, Mount: ""}},
	} {
		got, err := FindHierarchy(strings.NewReader(tc.mountinfo))
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.what, got, err, tc.want)
		}
	}
}

// TestResolverLiveCgroup makes a cgroup under the host's cgroup2 mount,
// resolves its id, removes it and resolves it again from the cache.
func TestResolverLiveCgroup(t *testing.T) {
	h, err := FindHostHierarchy()
	if err != nil || h.Mount == "" || os.Geteuid() != 0 {
		if os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
			t.Fatalf("needs root and a cgroup2 mount (%+v, %v), and BPFNETSTAT_REQUIRE_ROOT=1 forbids skipping", h, err)
		}
		t.Skipf("needs root and a cgroup2 mount (%+v, %v)", h, err)
	}
	dir := filepath.Join(h.Mount, "bpfnetstat-test-"+strings.ReplaceAll(t.Name(), "/", "-"))
	os.Remove(dir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	for _, viaWalk := range []bool{false, true} {
		r := NewResolver(h.Mount)
		if viaWalk {
			r.Close() // no handle: the walk must find it
		}
		p, err := r.Path(st.Ino)
		if want := "/" + filepath.Base(dir); err != nil || p != want {
			t.Errorf("walk %v: Path(%d) = %q, %v; want %q", viaWalk, st.Ino, p, err, want)
		}
		if viaWalk {
			continue
		}
		if p, err := r.byHandle(st.Ino); err != nil || p != "/"+filepath.Base(dir) {
			t.Errorf("open_by_handle_at: %q, %v", p, err)
		}
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if p2, err := r.Path(st.Ino); err != nil || p2 != p {
			t.Errorf("after removal: Path = %q, %v; want the cached %q", p2, err, p)
		}
		if _, err := r.Path(st.Ino + 1<<40); err == nil {
			t.Error("an id that never existed resolved")
		}
		os.Mkdir(dir, 0o755) // again, for the walk
		syscall.Stat(dir, &st)
		r.Close()
	}
	os.Remove(dir)
}

func TestParseProcCgroup(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0::/system.slice/nginx.service\n", "/system.slice/nginx.service"},
		{"9:name=systemd:/docker/abc\n4:memory:/x\n0::/\n", "/"},
		{"9:name=systemd:/system.slice/sshd.service\n4:memory:/x\n", "/system.slice/sshd.service"},
		{"", ""},
		{"garbage\n", ""},
	} {
		if got, err := parseProcCgroup(strings.NewReader(tc.in)); err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if p, err := ProcPath("/proc", os.Getpid()); err != nil || !strings.HasPrefix(p, "/") {
		t.Errorf("own cgroup: %q, %v", p, err)
	}
}
