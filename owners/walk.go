package owners

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// procSockets is what one process contributes to the owner map.
type procSockets struct {
	owner  snapshot.Owner
	inodes []uint64
	denied bool
	// emfile: the open-file limit refused a descriptor on the way.
	emfile bool
}

// WalkProc scans ROOT/[0-9]*/fd/* for sockets and ROOT/PID/cmdline for
// the program name, as netstat -p does. Processes that vanish during the
// scan are skipped. Processes are read in parallel, but the result is the
// one a sequential scan in readdir order gives.
func WalkProc(fs snapshot.FS) *Map {
	o := &Map{}
	dir, err := snapshot.OpenFile(fs.Path())
	if err != nil {
		o.ProcErr = err
		return o
	}
	// netstat holds /proc open for the whole walk; so does this, so that
	// under a tight open-file limit the walk finds what netstat finds.
	defer dir.Close()
	names, err := dir.Readdirnames(-1) // readdir order, unsorted, as netstat walks it
	if err != nil && len(names) == 0 {
		o.ProcErr = err
		return o
	}
	pids := names[:0]
	for _, n := range names {
		if isDigits(n) {
			pids = append(pids, n)
		}
	}

	results := make([]procSockets, len(pids))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(pids) {
		workers = len(pids)
	}
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10) // getdents buffer, reused
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(pids) {
					return
				}
				results[i] = readProcSockets(fs, pids[i], buf)
			}
		}()
	}
	wg.Wait()
	// The workers together hold more descriptors than netstat's one
	// process at a time: what the open-file limit refused them is read
	// again one process at a time, as netstat reads it.
	for i := range results {
		if results[i].emfile {
			results[i] = readProcSockets(fs, pids[i], make([]byte, 32<<10))
		}
	}

	total := 0
	for i := range results {
		total += len(results[i].inodes)
	}
	o.byInode = make(map[uint64]int32, total)
	for i := range results {
		r := &results[i]
		if r.denied {
			o.Denied = true
		}
		if len(r.inodes) == 0 {
			continue
		}
		idx := int32(len(o.procs))
		o.procs = append(o.procs, r.owner)
		for _, ino := range r.inodes {
			if _, dup := o.byInode[ino]; !dup {
				o.byInode[ino] = idx
			}
		}
		r.inodes = nil
	}
	return o
}

// readProcSockets lists the socket inodes of one process, in fd order.
// It reads the fd directory with getdents and the links with readlinkat
// into the worker's buffers: no allocation per fd.
func readProcSockets(fs snapshot.FS, pid string, buf []byte) procSockets {
	var ps procSockets
	fdPath := fs.Path() + "/" + pid + "/fd"
	dfd, err := unix.Open(fdPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		ps.denied = errors.Is(err, syscall.EACCES)
		ps.emfile = errors.Is(err, syscall.EMFILE)
		return ps
	}
	defer unix.Close(dfd)
	var link [32]byte
	haveName := false
	for {
		n, err := unix.Getdents(dfd, buf)
		if err != nil || n <= 0 {
			break
		}
		for off := 0; off+19 < n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen == 0 || off+reclen > n {
				break
			}
			name := buf[off+19 : off+reclen] // NUL-terminated, NUL-padded
			off += reclen
			if name[0] < '0' || name[0] > '9' {
				continue
			}
			// netstat reads at most 29 bytes of the link target.
			r, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dfd),
				uintptr(unsafe.Pointer(&name[0])), uintptr(unsafe.Pointer(&link[0])), 29, 0, 0)
			if errno != 0 {
				continue
			}
			ino, ok := socketInode(link[:r])
			if !ok {
				continue
			}
			if !haveName {
				name, err := readProgramName(fs, pid)
				if err != nil {
					ps.emfile = ps.emfile || errors.Is(err, syscall.EMFILE)
					// netstat retries the cmdline at the next socket fd.
					continue
				}
				pidNum, _ := strconv.Atoi(pid)
				ps.owner = snapshot.Owner{PID: pidNum, Name: name}
				haveName = true
			}
			ps.inodes = append(ps.inodes, ino)
		}
	}
	return ps
}

// ProgramName is the name netstat -p shows for a process, from
// ROOT/PID/cmdline; false when the process is gone.
func ProgramName(fs snapshot.FS, pid int) (string, bool) {
	return programName(fs, strconv.Itoa(pid))
}

// programName reads ROOT/PID/cmdline as netstat does: at most 511 bytes,
// argv[0] up to the first NUL, and the part after the last '/' when argv[0]
// starts with '/'.
func programName(fs snapshot.FS, pid string) (string, bool) {
	name, err := readProgramName(fs, pid)
	return name, err == nil
}

func readProgramName(fs snapshot.FS, pid string) (string, error) {
	f, err := snapshot.OpenFile(fs.Path() + "/" + pid + "/cmdline")
	if err != nil {
		return "", err
	}
	var b [511]byte
	n, err := f.Read(b[:])
	f.Close()
	if err != nil && err != io.EOF {
		return "", err
	}
	arg0 := b[:n]
	if i := bytes.IndexByte(arg0, 0); i >= 0 {
		arg0 = arg0[:i]
	}
	if len(arg0) > 0 && arg0[0] == '/' {
		arg0 = arg0[bytes.LastIndexByte(arg0, '/')+1:]
	}
	return string(arg0), nil
}

// socketInode extracts INODE from a link target "socket:[INODE]" or the old
// "[0000]:INODE", with netstat's strtoul(base 0) rules.
func socketInode(target []byte) (uint64, bool) {
	var digits []byte
	switch {
	case len(target) >= len("socket:[")+3 && bytes.HasPrefix(target, []byte("socket:[")) && target[len(target)-1] == ']':
		digits = target[len("socket:[") : len(target)-1]
	case len(target) >= len("[0000]:")+1 && bytes.HasPrefix(target, []byte("[0000]:")):
		digits = target[len("[0000]:"):]
	default:
		return 0, false
	}
	v, ok := parseUintBase0(digits)
	if !ok || v == ^uint64(0) {
		return 0, false
	}
	return v, true
}

// parseUintBase0 is strtoul(s, &end, 0) demanding that all of s is used:
// "0x" hex, a leading 0 octal, else decimal. It does not allocate.
func parseUintBase0(s []byte) (uint64, bool) {
	base := uint64(10)
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base || v > (^uint64(0)-d)/base {
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
