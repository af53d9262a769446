// Package term is the only place that touches the terminal: whether a
// stream is one, its size, and the full-screen mode of watch (alternate
// screen, hidden cursor, unbuffered keys without echo).
//
// It must never import any other bpfnetstat package; commands pass it the
// streams from their environment.
package term

import (
	"fmt"
	"io"
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

// Rows is the terminal's height, 24 when it cannot be asked.
func Rows(w any) int {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return 24
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row == 0 {
		return 24
	}
	return int(ws.Row)
}

// Cols is the terminal's width, 80 when it cannot be asked.
func Cols(w any) int {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return 80
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 80
	}
	return int(ws.Col)
}

// EnterScreen switches out to the alternate screen with the cursor hidden
// and, when in is a terminal, its keyboard unbuffered without echo; the
// returned function puts everything back.
func EnterScreen(in io.Reader, out io.Writer) (func(), error) {
	restoreTerm := func() {}
	if f, ok := in.(*os.File); ok && f != nil {
		fd := int(f.Fd())
		if old, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			raw := *old
			raw.Lflag &^= unix.ICANON | unix.ECHO // keep ISIG: Ctrl-C stays a signal
			raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
				return nil, fmt.Errorf("setting up the terminal: %w", err)
			}
			restoreTerm = func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }
		}
	}
	io.WriteString(out, "\x1b[?1049h\x1b[?25l")
	return func() {
		io.WriteString(out, "\x1b[?25h\x1b[?1049l")
		restoreTerm()
	}, nil
}

// ReadKeys sends the bytes read from in to keys, one by one, until in
// fails.
func ReadKeys(in io.Reader, keys chan<- byte) {
	var b [1]byte
	for {
		n, err := in.Read(b[:])
		if err != nil {
			return
		}
		if n == 1 {
			keys <- b[0]
		}
	}
}
