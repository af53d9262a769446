package snapshot

import (
	"errors"
	"testing"
)

func TestFSPath(t *testing.T) {
	tests := []struct {
		fs   FS
		elem []string
		want string
	}{
		{NewFS(""), []string{"net", "tcp"}, "/proc/net/tcp"},
		{FS{}, []string{"net", "unix"}, "/proc/net/unix"},
		{NewFS("testdata/proc"), []string{"net", "tcp6"}, "testdata/proc/net/tcp6"},
		{NewFS("/host/proc/"), []string{"net", "udp"}, "/host/proc/net/udp"},
		{NewFS("/proc"), nil, "/proc"},
	}
	for _, tt := range tests {
		if got := tt.fs.Path(tt.elem...); got != tt.want {
			t.Errorf("FS{%q}.Path(%q) = %q, want %q", tt.fs.root, tt.elem, got, tt.want)
		}
	}
}

func TestLineError(t *testing.T) {
	e := &LineError{Path: "/proc/net/tcp", Line: 17, Field: "local_address", Token: "0100007G:0016", Msg: "invalid hex"}
	if got, want := e.Error(), `/proc/net/tcp:17: local_address "0100007G:0016": invalid hex`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &LineError{Path: "/proc/net/udp", Line: 3, Field: "tx_queue:rx_queue", Msg: "missing"}
	if got, want := e.Error(), `/proc/net/udp:3: tx_queue:rx_queue: missing`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var err error = e
	if !errors.Is(err, ErrBogusLine) {
		t.Errorf("errors.Is(%v, ErrBogusLine) = false", err)
	}
}
