package snapshot

import (
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// OpenFile opens a /proc or /sys file for reading, like os.Open but
// without the runtime's poller. Such files are never pollable, yet the
// first os.Open of a process starts the poller, which takes two
// descriptors (epoll and eventfd) and ends the process with a fatal error
// when the open-file limit leaves none. netstat lists sockets with one
// free descriptor; so must every reader here. Errors are os.Open's
// (*fs.PathError, op "open").
func OpenFile(path string) (*os.File, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		// A blocking descriptor handed to os.NewFile is not registered
		// with the poller.
		return os.NewFile(uintptr(fd), path), nil
	}
}

// ReadFile is os.ReadFile through OpenFile.
func ReadFile(path string) ([]byte, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
