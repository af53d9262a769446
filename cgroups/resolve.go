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
	"time"

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
	// missing holds ids that named no cgroup visible here: removed before
	// their first sighting, or outside this cgroup namespace. Cgroup ids
	// are never reused, so the answer stays true.
	missing map[uint64]struct{}
	fd      int // the mount, for open_by_handle_at; -1 if not open
	// lastWalk is when the fallback last walked the hierarchy: at most
	// one walk per walkEvery, so unknown ids do not cost a walk each.
	lastWalk time.Time
}

// walkEvery bounds how often the fallback walks the whole hierarchy.
const walkEvery = time.Second

// NewResolver resolves ids under the cgroup2 mount point mount.
func NewResolver(mount string) *Resolver {
	r := &Resolver{mount: mount, paths: map[uint64]string{}, missing: map[uint64]struct{}{}, fd: -1}
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
	if _, ok := r.missing[id]; ok {
		return "", fmt.Errorf("cgroup id %d: %w", id, ErrUnknown)
	}
	p, err := r.byHandle(id)
	switch {
	case err == nil:
		r.paths[id] = p
		return p, nil
	case errors.Is(err, unix.ESTALE) || errors.Is(err, unix.ENOENT) || errors.Is(err, errOutside):
		// Gone, or not below this mount (another cgroup namespace's).
		r.missing[id] = struct{}{}
		return "", fmt.Errorf("cgroup id %d: %w", id, ErrUnknown)
	}
	// Without CAP_DAC_READ_SEARCH (or on a kernel without kernfs
	// handles): walk the hierarchy, learning every id in it, at most
	// once per walkEvery.
	if time.Since(r.lastWalk) >= walkEvery {
		r.walk()
		r.lastWalk = time.Now()
	}
	if p, ok := r.paths[id]; ok {
		return p, nil
	}
	return "", fmt.Errorf("cgroup id %d: %w", id, ErrUnknown)
}

// ByHandle reports whether ids resolve through open_by_handle_at here
// (it needs CAP_DAC_READ_SEARCH), rather than by walking the hierarchy.
func (r *Resolver) ByHandle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var st unix.Stat_t
	if r.fd < 0 || unix.Fstat(r.fd, &st) != nil {
		return false
	}
	_, err := r.byHandle(st.Ino)
	return err == nil
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

// errOutside: a path that is not below the mount.
var errOutside = errors.New("outside the cgroup2 mount")

func (r *Resolver) relative(abs string) (string, error) {
	m := strings.TrimSuffix(r.mount, "/")
	rel, ok := strings.CutPrefix(abs, m)
	if !ok || rel != "" && rel[0] != '/' {
		return "", fmt.Errorf("cgroup %s: %w %s", abs, errOutside, r.mount)
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
