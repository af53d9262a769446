package snapshot

import (
	"bytes"
	"hash/maphash"
	"io"
)

// EachUnix reads the UNIX socket table ROOT/net/unix (/proc/net/unix) and
// calls fn once per data line, in file order.
//
// The first line is the header; when it contains "Inode" (every kernel since
// 2.2) the rows carry HasInode. For a line netstat's unix_do_one accepts, fn
// gets the socket and a nil *LineError; the *Socket is reused for the next
// line, so fn must copy what it keeps (a Socket value copy is enough: Path is
// an immutable string). For a line netstat would report as bogus ("warning,
// got bogus unix line."), fn gets a nil socket and a *LineError, and the walk
// goes on.
//
// Path is the first white-space-delimited token after the inode, byte for
// byte as the kernel wrote it (abstract names start with '@'; a path with a
// space is cut there, as netstat's %s cuts it); it is "" when absent.
//
// The file is streamed; a good line allocates at most its Path string. Open
// and read errors are returned as for EachInet.
func (fs FS) EachUnix(fn func(s *Socket, bad *LineError)) error {
	path := fs.Path("net", TableUnix.File())
	f, err := OpenFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return parseUnix(f, path, fn)
}

// parseUnix parses the text of a UNIX socket table read from path (used in
// errors only) for EachUnix.
func parseUnix(r io.Reader, path string, fn func(s *Socket, bad *LineError)) error {
	lr := newFgetsReader(r, lineBufSize)
	var s Socket
	hasInode := false
	var paths pathCache
	for first := true; ; first = false {
		b, err := lr.next(fgetsMax)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(path, err)
		}
		if first {
			hasInode = bytes.Contains(b, []byte("Inode"))
			continue
		}
		s = Socket{Proto: ProtoUnix, Family: FamilyUnix, HasInode: hasInode}
		n, stop, p := scanUnix(b, &s)
		if n < 6 {
			fn(nil, stop.lineError(b, path, lr.line, unixFields[:]))
			continue
		}
		if len(p) > 0 {
			s.Path = paths.get(p)
		}
		fn(&s, nil)
	}
}

// The conversions of netstat's format "%p: %lX %lX %lX %X %X %lu %s", named
// as in the kernel's header, for error messages.
var unixFields = [...]string{"Num", "RefCount", "Protocol", "Flags", "Type", "St", "Inode", "Path"}

// scanUnix does unix_do_one's sscanf on one line, storing each conversion
// into s as it succeeds. It returns the number of conversions that succeeded,
// why it stopped when that is not all 8, and the path token (nil when absent).
//
// As for scanInet, fields hold netstat's C variables: Type is the C int's bit
// pattern, State is saturated at 255 (unix_do_one names only 0 to 4).
func scanUnix(b []byte, s *Socket) (n int, stop scanStop, path []byte) {
	var (
		v   uint64
		i   int
		col int
		ok  bool
	)
	// "%p:" (Num, the kernel address of the socket, not kept)
	if _, i, ok = scanPtr(b, 0); !ok {
		return 0, scanStop{0, 0, "invalid hex"}, nil
	}
	if i >= len(b) || b[i] != ':' {
		return 1, scanStop{0, 0, colonMsg(b, i, "invalid hex")}, nil
	}
	i++
	// " %lX %lX %lX %X %X"
	for k := 1; k <= 5; k++ {
		col = skipSpace(b, i)
		if v, i, ok = scanHex(b, col); !ok {
			return k, scanStop{k, col, "invalid hex"}, nil
		}
		switch k {
		case 1:
			s.RefCount = v
		case 2:
			s.UnixProto = v
		case 3:
			s.Flags = v
		case 4:
			s.Type = v & 0xffffffff
		case 5:
			s.State = uint8(min(v&0xffffffff, 255))
		}
	}
	// " %lu" (Inode)
	col = skipSpace(b, i)
	if s.Inode, _, i, ok = scanDec(b, col); !ok {
		return 6, scanStop{6, col, "invalid number"}, nil
	}
	// " %s" (Path)
	col = skipSpace(b, i)
	if path, _, ok = scanStr(b, col, 0); !ok {
		return 7, scanStop{7, col, "missing"}, nil
	}
	return 8, scanStop{}, path
}

// pathCache shares one string among the rows of a table that have the same
// path (dozens of sockets connect to /run/systemd/journal/stdout, say): a
// small direct-mapped cache, so a repeated path costs no allocation and a
// table of distinct paths costs no more than one string each.
type pathCache [64]string

var pathSeed = maphash.MakeSeed()

func (c *pathCache) get(p []byte) string {
	slot := &c[maphash.Bytes(pathSeed, p)%uint64(len(c))]
	if *slot != string(p) {
		*slot = string(p)
	}
	return *slot
}
