package tracer

import (
	"errors"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/bpfnetstat/bpfnetstat/conn"
)

func TestDecodeEvent(t *testing.T) {
	var r tracerEvent
	r.Kind = uint8(KindState)
	r.TsNs, r.Cookie, r.BirthNs = 2000, 77, 1000
	r.Family, r.Sport, r.Dport = 2, 40000, 8080
	copy(r.Saddr[:], []byte{127, 0, 0, 1})
	copy(r.Daddr[:], []byte{127, 0, 0, 2})
	r.OldState, r.NewState = uint8(conn.TCPSynSent), uint8(conn.TCPEstablished)
	r.Pid, r.Tid, r.Uid = 10, 11, 1000
	r.OwnerSource, r.Active = uint8(conn.OwnerConnect), 1
	r.SrttUs = 8 << 3
	for i, c := range "curl" {
		r.Comm[i] = int8(c)
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
	var ev Event
	if err := decodeEvent(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Local != netip.MustParseAddrPort("127.0.0.1:40000") || ev.Remote != netip.MustParseAddrPort("127.0.0.2:8080") {
		t.Errorf("tuple %v -> %v", ev.Local, ev.Remote)
	}
	if ev.Owner != (conn.Process{PID: 10, TID: 11, UID: 1000, Comm: "curl"}) || ev.OwnerSource != conn.OwnerConnect || ev.Direction != conn.DirActive || ev.SRTTus != 8 {
		t.Errorf("decoded %+v", ev)
	}

	r.Family = 10
	copy(r.Saddr[:], netip.MustParseAddr("2001:db8::1").AsSlice())
	if err := decodeEvent(raw, &ev); err != nil || ev.Local.Addr() != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("v6: %v %v", ev.Local, err)
	}
	if err := decodeEvent(raw[:10], &ev); !errors.Is(err, ErrShortRecord) {
		t.Errorf("short record: err = %v", err)
	}
}
