package cmdutil

import (
	"errors"
	"fmt"
	"syscall"
)

// WriteError is the error a command ends with when its output cannot be
// written (a full disk, a reader that went away with SIGPIPE ignored):
// "writing output: no space left on device". The file name that os.File
// adds ("write /dev/stdout") says nothing the operator does not know, so
// only the system's reason is kept; errors.Is still reaches it. A lost
// line is lost data: every command that streams records stops at the
// first write that fails.
func WriteError(err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("writing output: %w", errno)
	}
	return fmt.Errorf("writing output: %w", err)
}
