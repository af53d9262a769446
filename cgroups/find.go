package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// Filter selects owners by cgroup: the cgroup Path and everything below
// it. Dir is its directory under the cgroup2 mount, for the kernel's
// filter ("" on a v1-only host, where only user space filters).
type Filter struct {
	Path string
	Dir  string
}

// Contains reports whether a cgroup path is the filter's or below it.
func (f *Filter) Contains(path string) bool {
	if f == nil {
		return true
	}
	if path == "" {
		return false
	}
	if f.Path == "/" {
		return true
	}
	return path == f.Path || strings.HasPrefix(path, f.Path+"/")
}

// Clean makes a user's cgroup path absolute and clean: "a/b/" is "/a/b".
func Clean(path string) string {
	return filepath.Clean("/" + path)
}

// CgroupFilter is the filter for --cgroup PATH: PATH must be a cgroup
// under the hierarchy's cgroup2 mount.
func CgroupFilter(h Hierarchy, path string) (*Filter, error) {
	f := &Filter{Path: Clean(path)}
	if h.Mount == "" {
		return f, nil // v1 only: user space compares /proc paths
	}
	dir := filepath.Join(h.Mount, f.Path)
	if fi, err := lstatDir(dir); err != nil || !fi {
		return nil, fmt.Errorf("no cgroup %s under %s", f.Path, h.Mount)
	}
	f.Dir = dir
	return f, nil
}

// ErrNoContainer and ErrAmbiguous are why a --container prefix names no
// single container.
var (
	ErrNoContainer = errors.New("no container")
	ErrAmbiguous   = errors.New("ambiguous container id")
)

// ContainerFilter is the filter for --container ID: the cgroup of the one
// container whose id starts with prefix, found by walking the hierarchy
// under root (the cgroup2 mount, or on a v1-only host the name=systemd
// hierarchy's mount).
func ContainerFilter(h Hierarchy, root, prefix string) (*Filter, error) {
	prefix = strings.ToLower(prefix)
	if prefix == "" {
		return nil, fmt.Errorf("%w: empty container id", ErrNoContainer)
	}
	found := map[string]string{} // id -> outermost cgroup path
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		rel := strings.TrimPrefix(p, strings.TrimSuffix(root, "/"))
		if rel == "" {
			rel = "/"
		}
		id := Identify(rel).ContainerID
		if id == "" || !strings.HasPrefix(id, prefix) {
			return nil
		}
		if prev, ok := found[id]; !ok || len(rel) < len(prev) {
			found[id] = rel
		}
		return fs.SkipDir // its sub-cgroups are the same container's
	})
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w with an id starting %q under %s", ErrNoContainer, prefix, root)
	case 1:
	default:
		ids := make([]string, 0, len(found))
		for id := range found {
			ids = append(ids, id[:12])
		}
		sort.Strings(ids)
		return nil, fmt.Errorf("%w %q: it starts %s", ErrAmbiguous, prefix, strings.Join(ids, ", "))
	}
	var f Filter
	for _, p := range found {
		f.Path = p
	}
	if h.Mount != "" && root == h.Mount {
		f.Dir = filepath.Join(h.Mount, f.Path)
	}
	return &f, nil
}
