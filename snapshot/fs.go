package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// defaultRoot is the proc file system bpfnetstat reads when no root is given.
const defaultRoot = "/proc"

// FS is a proc file system mounted at a root, /proc unless told otherwise.
// Socket tables are read from ROOT/net/<file>; on a live system /proc/net is
// /proc/self/net, the tables of the caller's network namespace.
//
// The zero FS reads /proc.
type FS struct {
	root string
}

// NewFS returns an FS rooted at root; an empty root means /proc. A test
// points it at a directory of fixtures, a tool at a host's /proc mounted
// elsewhere.
func NewFS(root string) FS {
	if root == "" {
		root = defaultRoot
	}
	return FS{root: root}
}

// Path joins elem to the root: fs.Path("net", "tcp") is "/proc/net/tcp".
func (fs FS) Path(elem ...string) string {
	root := fs.root
	if root == "" {
		root = defaultRoot
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// ErrBogusLine is wrapped by every LineError: a line of a socket table that
// netstat would skip with "warning, got bogus ... line.".
var ErrBogusLine = errors.New("bogus line")

// LineError describes a line of a socket table that netstat would call bogus.
// It formats like
//
//	/proc/net/tcp:17: local_address "0100007G:0016": invalid hex
//
// and wraps ErrBogusLine.
type LineError struct {
	Path  string // file read
	Line  int    // 1-based line number in the file
	Field string // column of the first field that did not parse, named as in the file's header
	Token string // raw text of that field up to the next white space; empty when missing
	Msg   string // what is wrong with it
}

// Error formats the error as path:line: field "token": msg.
func (e *LineError) Error() string {
	if e.Token == "" {
		return fmt.Sprintf("%s:%d: %s: %s", e.Path, e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s %q: %s", e.Path, e.Line, e.Field, e.Token, e.Msg)
}

// Unwrap returns ErrBogusLine.
func (e *LineError) Unwrap() error { return ErrBogusLine }

// readError gives a read error the path of the file it came from, unless it
// already names one (errors from *os.File do).
func readError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: "read", Path: path, Err: err}
}
