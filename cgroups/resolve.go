package cgroups

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileidKernfs is the file handle type of kernfs (cgroupfs) nodes: the
// handle is the node id, which is the cgroup id bpf_get_current_cgroup_id
// returns (include/linux/exportfs.h FILEID_KERNFS).
const fileidKernfs = 0xfe

// Resolver turns cgroup ids into paths relative to the cgroup2 mount. It
// remembers every id it resolved, so a cgroup removed after its first
// sighting still resolves. Safe for concurrent use.
type Resolver struct {
	mount string
	mu    sync.Mutex
	paths map[uint64]string
	fd    int // the mount, for open_by_handle_at; -1 if not open
}

// NewResolver resolves ids under the cgroup2 mount point mount.
func NewResolver(mount string) *Resolver {
	r := &Resolver{mount: mount, paths: map[uint64]string{}, fd: -1}
	if fd, err := unix.Open(mount, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		r.fd = fd
	}
	return r
}

// Close releases the mount's descriptor.
func (r *Resolver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
	return nil
}

// ErrUnknown is returned for an id that names no cgroup, now or before.
var ErrUnknown = errors.New("no such cgroup")

// Path returns the path of cgroup id relative to the mount ("/" for the
// root), from the cache or, at first sight, from the kernel.
func (r *Resolver) Path(id uint64) (string, error) {
	if id == 0 {
		return "", ErrUnknown
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.paths[id]; ok {
		return p, nil
	}
	p, err := r.byHandle(id)
	if err != nil {
		// Without CAP_DAC_READ_SEARCH (or on a kernel without kernfs
		// handles): walk the hierarchy once, learning every id in it.
		r.walk()
		var ok bool
		if p, ok = r.paths[id]; !ok {
			return "", fmt.Errorf("cgroup id %d: %w", id, ErrUnknown)
		}
		return p, nil
	}
	r.paths[id] = p
	return p, nil
}

// Remember records a path for an id learnt elsewhere (/proc/PID/cgroup).
func (r *Resolver) Remember(id uint64, path string) {
	r.mu.Lock()
	r.paths[id] = path
	r.mu.Unlock()
}

// byHandle opens the cgroup's directory by its id and reads back its path.
func (r *Resolver) byHandle(id uint64) (string, error) {
	if r.fd < 0 {
		return "", ErrUnknown
	}
	var h [8]byte
	binary.NativeEndian.PutUint64(h[:], id)
	fd, err := unix.OpenByHandleAt(r.fd, unix.NewFileHandle(fileidKernfs, h[:]), unix.O_RDONLY|unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	abs, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	return r.relative(abs)
}

func (r *Resolver) relative(abs string) (string, error) {
	rel, ok := strings.CutPrefix(abs, strings.TrimSuffix(r.mount, "/"))
	if !ok {
		return "", fmt.Errorf("cgroup %s is outside %s", abs, r.mount)
	}
	if rel == "" {
		rel = "/"
	}
	return rel, nil
}

// walk learns the id of every cgroup under the mount: a cgroup's id is
// its directory's inode number.
func (r *Resolver) walk() {
	filepath.WalkDir(r.mount, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			if rel, err := r.relative(path); err == nil {
				r.paths[st.Ino] = rel
			}
		}
		return nil
	})
}
