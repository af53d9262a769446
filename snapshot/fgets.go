package snapshot

import (
	"bytes"
	"io"
)

// netstat reads its /proc files with fgets into fixed-size buffers and hands
// each result to a parser: a physical line longer than the buffer reaches
// the parser as several "lines", each judged on its own. fgetsReader is
// bpfnetstat's one emulation of that loop, shared by every reader; each
// reader passes the size its C code uses:
//
//	fgets(buffer, 8192, f)  socket tables, igmp, nf_conntrack  next(fgetsMax)
//	fgets(buf, 512, f)      /proc/net/dev                      next(512 - 1)
//	fgets(buf, 1024, f)     snmp6, sctp/snmp                   next(1024 - 1)
//	fgets(buf, 511, f)      route and rt_cache headers         next(511 - 1)
//	fgets(buff, 1023, f)    route, rt_cache, ipv6_route rows   next(1023 - 1)
//	fgets(buf, 256, f)      ip_masquerade header               next(256 - 1)

// fgetsMax is what fgets(buffer, 8192, f) returns at most: the socket tables'
// buffer, the largest any reader uses.
const fgetsMax = 8192 - 1

// lineBufSize is the read buffer of the socket tables, which can hold
// hundreds of thousands of rows: eight pieces of the largest size, so a read
// system call fetches a few hundred rows.
const lineBufSize = 8 * fgetsMax

// fgetsReader returns the pieces of a stream that a loop of C's fgets(buf,
// max+1, f) returns, without holding more than one buffer of the stream and
// without copying a piece.
type fgetsReader struct {
	src     io.Reader
	buf     []byte
	r, w    int   // buf[r:w] is read and not yet returned
	err     error // what src said last (io.EOF at the end): returned once the data before it is used up
	line    int   // 1-based number of the physical line of the last piece
	midLine bool  // the last piece did not end its physical line
}

// newFgetsReader reads r through a buffer of size bytes, which must be at
// least the largest max the reader will pass to next.
func newFgetsReader(r io.Reader, size int) *fgetsReader {
	return &fgetsReader{src: r, buf: make([]byte, size)}
}

// reset starts over on r (after a seek to the start of the same file, as
// netstat's proc_guess_fmt does), line numbers included.
func (f *fgetsReader) reset(r io.Reader) {
	*f = fgetsReader{src: r, buf: f.buf}
}

// next returns the next piece as fgets(buf, max+1, f) reads it: up to max
// bytes, ending after the first newline; a last line without a newline is a
// piece too. The piece is cut at its first NUL (the C parser sees a string),
// but the whole of it is consumed. It is valid until the following call.
//
// At the end of the stream next returns io.EOF. A read error is returned in
// place of the piece it interrupted (glibc's fgets returns NULL when a read
// fails, whatever it had read), after the pieces complete before it.
func (f *fgetsReader) next(max int) ([]byte, error) {
	if max < 1 || max > len(f.buf) {
		panic("snapshot: fgets piece size out of range")
	}
	for {
		avail := f.buf[f.r:f.w]
		lim := avail
		if len(lim) > max {
			lim = lim[:max]
		}
		n := bytes.IndexByte(lim, '\n') + 1
		switch {
		case n > 0:
		case len(lim) == max:
			n = max
		case f.err == io.EOF && len(avail) > 0:
			n = len(avail) // the last line, without a newline
		case f.err != nil:
			return nil, f.err
		default:
			f.fill()
			continue
		}
		b := avail[:n]
		f.r += n
		if !f.midLine {
			f.line++
		}
		f.midLine = b[n-1] != '\n'
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		return b, nil
	}
}

// fill moves the unread bytes to the start of the buffer and reads once
// after them (more than once only if the reader returns nothing, as bufio
// does). next calls it only when the buffer has room.
func (f *fgetsReader) fill() {
	if f.r > 0 {
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	for range 100 {
		n, err := f.src.Read(f.buf[f.w:])
		f.w += n
		if err != nil {
			f.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	f.err = io.ErrNoProgress
}
