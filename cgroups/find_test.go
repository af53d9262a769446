package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFilterContains(t *testing.T) {
	f := &Filter{Path: "/system.slice"}
	for path, want := range map[string]bool{
		"/system.slice": true, "/system.slice/nginx.service": true, "/system.slice2": false,
		"/": false, "": false, "/user.slice/system.slice": false,
	} {
		if got := f.Contains(path); got != want {
			t.Errorf("Contains(%q) = %v", path, got)
		}
	}
	root := &Filter{Path: "/"}
	if !root.Contains("/a") || root.Contains("") {
		t.Error("the root filter contains every known path and no unknown one")
	}
	var none *Filter
	if !none.Contains("") {
		t.Error("no filter contains everything")
	}
	if Clean("a/b/") != "/a/b" || Clean("/") != "/" || Clean("") != "/" {
		t.Error("Clean")
	}
}

// TestContainerFilter walks a directory shaped like a cgroup hierarchy.
func TestContainerFilter(t *testing.T) {
	root := t.TempDir()
	a := "ab" + strings.Repeat("0", 62)
	b := "ac" + strings.Repeat("1", 62)
	uid := "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	for _, d := range []string{
		"system.slice/docker-" + a + ".scope/inner",
		"kubepods/besteffort/pod" + uid + "/" + b,
		"system.slice/nginx.service",
	} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := Hierarchy{Layout: LayoutV2, Mount: root}
	f, err := ContainerFilter(h, root, "AB0")
	if err != nil || f.Path != "/system.slice/docker-"+a+".scope" || f.Dir != filepath.Join(root, f.Path) {
		t.Errorf("ab0: %+v, %v", f, err)
	}
	if f, err := ContainerFilter(h, root, b); err != nil || f.Path != "/kubepods/besteffort/pod"+uid+"/"+b {
		t.Errorf("full id: %+v, %v", f, err)
	}
	if _, err := ContainerFilter(h, root, "a"); !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), a[:12]) {
		t.Errorf("ambiguous: %v", err)
	}
	if _, err := ContainerFilter(h, root, "ff"); !errors.Is(err, ErrNoContainer) {
		t.Errorf("none: %v", err)
	}
	if f, err := CgroupFilter(h, "system.slice/"); err != nil || f.Path != "/system.slice" || f.Dir != filepath.Join(root, "system.slice") {
		t.Errorf("cgroup filter: %+v, %v", f, err)
	}
	if _, err := CgroupFilter(h, "/nope"); err == nil {
		t.Error("a cgroup that does not exist was accepted")
	}
}

func TestNamerByPID(t *testing.T) {
	proc := t.TempDir()
	cid := strings.Repeat("0123456789abcdef", 4)
	os.MkdirAll(filepath.Join(proc, "42"), 0o755)
	os.WriteFile(filepath.Join(proc, "42", "cgroup"), []byte("1:name=systemd:/docker/"+cid+"\n"), 0o644)
	n := NewNamer(Hierarchy{Layout: LayoutV1}, proc)
	defer n.Close()
	if n.UsesIDs() || !strings.Contains(n.Method(), "/proc/PID/cgroup") {
		t.Errorf("v1 namer: ids %v, method %q", n.UsesIDs(), n.Method())
	}
	got := n.Of(7, 42)
	if got.ContainerID != cid || got.Path != "/docker/"+cid {
		t.Errorf("pid 42: %+v", got)
	}
	os.RemoveAll(filepath.Join(proc, "42"))
	if n.Of(7, 42) != got {
		t.Error("a pid's identity is not cached")
	}
	if *n.Of(0, 43) != (Identity{}) || *n.Of(0, 0) != (Identity{}) {
		t.Error("an unknown pid has an identity")
	}
}

// TestNamerRemoved: an id the kernel no longer knows is named from the
// removed cgroups' paths, once, and an id nobody knows stays unnamed.
func TestNamerRemoved(t *testing.T) {
	if !InitialNamespace() {
		t.Skip("removed paths are used only in the initial cgroup namespace")
	}
	cid := strings.Repeat("0123456789abcdef", 4)
	n := NewNamer(Hierarchy{Layout: LayoutV2, Mount: t.TempDir()}, t.TempDir())
	defer n.Close()
	calls := 0
	n.SetRemoved(func(id uint64) (string, bool) {
		calls++
		if id == 1<<50 {
			return "/system.slice/docker-" + cid + ".scope", true
		}
		return "", false
	})
	if got := n.Of(1<<50, 0); got.ContainerID != cid || got.Path != "/system.slice/docker-"+cid+".scope" {
		t.Errorf("removed id: %+v", got)
	}
	n.Of(1<<50, 0)
	if calls != 1 {
		t.Errorf("removed paths asked %d times for one id, want once", calls)
	}
	if got := n.Of(1<<51, 0); *got != (Identity{}) {
		t.Errorf("unknown id: %+v", got)
	}
}
