package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// nlErrorMsg is an NLMSG_ERROR message carrying errno (0 for an ACK).
func nlErrorMsg(errno int32) []byte {
	return nlMessage(unix.NLMSG_ERROR, binary.NativeEndian.AppendUint32(make([]byte, 0, 20), uint32(-errno)))
}

func TestEachNetlinkMessage(t *testing.T) {
	data := func(typ uint16, s string) []byte { return nlMessage(typ, []byte(s)) }
	cat := func(m ...[]byte) []byte { return bytes.Join(m, nil) }
	tests := []struct {
		name  string
		in    []byte
		want  []string // payloads handed to fn, as "type:payload"
		done  bool
		errno unix.Errno // the kernel's error, or 0
		bad   bool       // a malformed datagram
	}{
		{name: "messages then DONE", in: cat(data(20, "ab"), data(21, "cdefg"), data(unix.NLMSG_DONE, "\x00\x00\x00\x00"), data(22, "late")),
			want: []string{"20:ab", "21:cdefg"}, done: true},
		{name: "no DONE yet: more datagrams follow", in: cat(data(20, "a"), data(unix.NLMSG_NOOP, "")), want: []string{"20:a"}},
		{name: "error ends the dump", in: cat(data(20, "a"), nlErrorMsg(int32(unix.EPERM)), data(21, "b")), want: []string{"20:a"}, done: true, errno: unix.EPERM},
		{name: "errno 0 is an ACK: the end, no error", in: cat(nlErrorMsg(0), data(20, "after")), done: true},
		{name: "short NLMSG_ERROR ends it too", in: data(unix.NLMSG_ERROR, "\x01"), done: true},
		{name: "trailing bytes shorter than a header", in: cat(data(20, "a"), []byte{1, 2, 3}), want: []string{"20:a"}},
		{name: "length past the datagram", in: []byte{200, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, bad: true},
		{name: "length under a header", in: []byte{8, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, bad: true},
		{name: "unaligned last message", in: []byte{17, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x'}, want: []string{"20:x"}},
		{name: "empty", in: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			done, err := eachNetlinkMessage(tt.in, func(typ uint16, payload []byte) error {
				got = append(got, string(rune('0'+typ/10))+string(rune('0'+typ%10))+":"+string(payload))
				return nil
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("payloads (-want +got):\n%s", diff)
			}
			if done != tt.done {
				t.Errorf("done = %v, want %v", done, tt.done)
			}
			switch {
			case tt.errno != 0:
				var ne *netlinkError
				if !errors.As(err, &ne) || !errors.Is(err, tt.errno) || err.Error() != tt.errno.Error() {
					t.Errorf("err = %v, want the kernel's %v", err, tt.errno)
				}
			case tt.bad:
				if !errors.Is(err, errMalformedNetlink) {
					t.Errorf("err = %v, want a malformed message", err)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			}
		})
	}
	stop := errors.New("stop")
	done, err := eachNetlinkMessage(cat(data(20, "a"), data(21, "b")), func(typ uint16, _ []byte) error {
		if typ == 20 {
			return stop
		}
		t.Error("called after an error")
		return nil
	})
	if done || err != stop {
		t.Errorf("fn's error: done %v, err %v; want false, the error as is", done, err)
	}
}

func TestEachAttr(t *testing.T) {
	type attr struct {
		Typ uint16
		V   string
	}
	tests := []struct {
		name string
		in   []byte
		want []attr
	}{
		{"flat", append(nlAttr(1, []byte("abc")), nlAttr(2, be32(7))...), []attr{{1, "abc"}, {2, "\x00\x00\x00\x07"}}},
		{"flags masked", nested(3, nlAttr(1, nil)), []attr{{3, "\x04\x00\x01\x00"}}},
		{"byte-order flag masked", nlAttr(0x4000|5, []byte{9}), []attr{{5, "\x09"}}},
		{"length past the end stops", append(nlAttr(1, []byte("a")), 99, 0, 2, 0), []attr{{1, "a"}}},
		{"length under a header stops", append([]byte{2, 0, 1, 0}, nlAttr(1, nil)...), nil},
		{"unaligned last attribute", []byte{5, 0, 1, 0, 'z'}, []attr{{1, "z"}}},
		{"short tail ignored", append(nlAttr(1, nil), 1, 2), []attr{{1, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []attr
			eachAttr(tt.in, func(typ uint16, v []byte) { got = append(got, attr{typ, string(v)}) })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzNetlink walks any bytes as a datagram and as attributes: nothing
// panics, every payload and value lies inside the input, a walk that is not
// over has seen no DONE or ERROR, and only a malformed datagram or the
// kernel's error is an error.
func FuzzNetlink(f *testing.F) {
	f.Add(append(nlMessage(20, nlAttr(1, []byte("abc"))), nlErrorMsg(0)...))
	f.Add(append(nlMessage(20, nested(2, nlAttr(1, be16(80)))), nlMessage(unix.NLMSG_DONE, make([]byte, 4))...))
	f.Fuzz(func(t *testing.T, b []byte) {
		inside := func(p []byte) bool {
			if len(p) == 0 {
				return true
			}
			lo, hi := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[len(b)-1]))
			return uintptr(unsafe.Pointer(&p[0])) >= lo && uintptr(unsafe.Pointer(&p[len(p)-1])) <= hi
		}
		done, err := eachNetlinkMessage(b, func(typ uint16, payload []byte) error {
			if typ == unix.NLMSG_DONE || typ == unix.NLMSG_ERROR || typ == unix.NLMSG_NOOP || !inside(payload) {
				t.Fatalf("fn got type %d, payload inside %v", typ, inside(payload))
			}
			eachAttr(payload, func(_ uint16, v []byte) {
				if !inside(v) {
					t.Fatal("attribute value outside the input")
				}
			})
			return nil
		})
		var ne *netlinkError
		if err != nil && !errors.Is(err, errMalformedNetlink) && !errors.As(err, &ne) {
			t.Fatalf("unexpected error %v", err)
		}
		if ne != nil && (!done || ne.Errno == 0) {
			t.Fatalf("kernel error %v with done %v", ne.Errno, done)
		}
	})
}

// TestDiagError checks how EachTCPDiag names the shared loop's errors: the
// kernel's "no handler" errnos are ErrDiagUnsupported, the rest say
// sock_diag and keep their errno.
func TestDiagError(t *testing.T) {
	tests := []struct {
		in          error
		text        string
		unsupported bool
	}{
		{&netlinkError{Errno: unix.ENOENT}, "sock_diag: not supported: no such file or directory", true},
		{&netlinkError{Errno: unix.EOPNOTSUPP}, "sock_diag: not supported: operation not supported", true},
		{&netlinkError{Errno: unix.EPERM}, "sock_diag: operation not permitted", false},
		{fmt.Errorf("receive: %w", unix.ENOENT), "sock_diag: receive: no such file or directory", false},
	}
	for _, tt := range tests {
		err := diagError(tt.in)
		if err.Error() != tt.text || errors.Is(err, ErrDiagUnsupported) != tt.unsupported || !errors.Is(err, tt.in) && !tt.unsupported {
			t.Errorf("diagError(%v) = %q (unsupported %v), want %q (%v)", tt.in, err, errors.Is(err, ErrDiagUnsupported), tt.text, tt.unsupported)
		}
	}
}
