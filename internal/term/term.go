// Package term answers the one question the commands ask of a stream:
// whether it is a terminal. The full screen of watch is drawn by Bubble
// Tea (internal/cmd/watch), which owns the terminal's modes, size and
// resizes while it runs; nothing else here switches modes.
//
// It must never import any other bpfnetstat package; commands pass it the
// streams from their environment.
package term

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
