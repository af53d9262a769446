package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
)

// GroupTable is one of the multicast membership files netstat -g reads.
type GroupTable uint8

// The membership tables, in the order netstat reads them.
const (
	GroupIGMP  GroupTable = iota + 1 // /proc/net/igmp
	GroupIGMP6                       // /proc/net/igmp6
)

// File is the table's file name below /proc/net.
func (t GroupTable) File() string {
	switch t {
	case GroupIGMP:
		return "igmp"
	case GroupIGMP6:
		return "igmp6"
	}
	return ""
}

// Group is one multicast group membership of an interface.
type Group struct {
	Family Family
	// Iface is the interface name as netstat prints it. From
	// /proc/net/igmp it is the 15 bytes after the index cut at their last
	// ':', so it usually ends in the kernel's padding blanks; renderers
	// pad it to 15 columns, which hides them.
	Iface string
	Addr  netip.Addr
	// Users is the group's user count (netstat's RefCnt column).
	Users int32
}

// GroupLineError is a line netstat's igmp_do_one calls bogus.
type GroupLineError struct {
	LineError
	// IPv6 is set when the line was judged by the igmp6 parser: netstat
	// then says "bogus igmp6 line".
	IPv6 bool
	// Index is netstat's 0-based line counter, the N of its message.
	Index int
}

// GroupReader reads the membership files the way netstat's igmp_do_one
// does, with the state that function keeps in static variables: whether the
// file in hand is an igmp6 file (decided from the first line of a file:
// one without "Device" is), whether device lines carry an index, and the
// current device, a 16-byte buffer that IPv4 device lines fill with %15c
// (no terminator) and IPv6 lines with %15s.
//
// netstat never resets the igmp6 decision, which garbles the IPv4 file
// from the second -c round on; use a new GroupReader for every listing to
// get correct rows instead.
type GroupReader struct {
	igmp6  bool
	idx    bool
	device [16]byte
	in6    [4]uint32
}

// Each reads table t below fs's root and calls fn for every row netstat
// prints and every line it reports as bogus, in file order. A failed open
// is returned as is (an *fs.PathError); netstat treats ENOENT and EACCES as
// "no support" for igmp and ignores any failure for igmp6.
func (g *GroupReader) Each(fs FS, t GroupTable, fn func(*Group, *GroupLineError)) error {
	if t.File() == "" {
		return fmt.Errorf("snapshot: unknown group table %d", t)
	}
	path := fs.Path("net", t.File())
	f, err := OpenFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return g.parse(f, path, fn)
}

// parse reads one file: netstat's INFO_GUTS loop, fgets into an 8192-byte
// buffer, the line counter starting at 0 for each file.
func (g *GroupReader) parse(r io.Reader, path string, fn func(*Group, *GroupLineError)) error {
	lr := newFgetsReader(r, lineBufSize)
	var grp Group
	for lnr := 0; ; lnr++ {
		b, err := lr.next(fgetsMax)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(path, err)
		}
		bad := func(field, msg string) {
			fn(nil, &GroupLineError{
				LineError: LineError{Path: path, Line: lr.line, Field: field, Token: token(b, 0), Msg: msg},
				IPv6:      g.igmp6,
				Index:     lnr,
			})
		}
		if lnr == 0 {
			if !bytes.Contains(b, []byte("Device")) {
				g.igmp6 = true
			} else {
				g.idx = bytes.HasPrefix(b, []byte("Idx"))
				continue
			}
		}
		if g.igmp6 {
			if msg := g.igmp6Line(b, &grp); msg != "" {
				bad("igmp6", msg)
				continue
			}
			fn(&grp, nil)
			continue
		}
		if len(b) == 0 || b[0] != '\t' {
			if !g.deviceLine(b) {
				bad("device", "no device name")
			}
			continue
		}
		if msg := g.groupLine(b, &grp); msg != "" {
			bad("group", msg)
			continue
		}
		fn(&grp, nil)
	}
}

// deviceName is the device buffer as a C string.
func (g *GroupReader) deviceName() string {
	n := bytes.IndexByte(g.device[:], 0)
	if n < 0 {
		n = len(g.device)
	}
	return string(g.device[:n])
}

// igmp_do_one's formats.
var (
	igmpDeviceFormat    = mustScanf("%d\t%15c")
	igmpDeviceFormatOld = mustScanf("%15c") // a kernel whose header has no Idx
	igmpGroupFormat     = mustScanf("\t%8[0-9A-Fa-f] %d")
	igmp6Format         = mustScanf("%d %15s %64[0-9A-Fa-f] %d")
)

// deviceLine is sscanf(line, "%d\t%15c", &idx, device) (or "%15c" without
// the index), then the cut at the last ':'. It reports false for netstat's
// bogus line.
func (g *GroupReader) deviceLine(b []byte) bool {
	format, want := igmpDeviceFormatOld, 1
	if g.idx {
		format, want = igmpDeviceFormat, 2
	}
	var vals [2]scanVal
	if n, _ := cScanf(b, 0, format, vals[:]); n < want {
		return false
	}
	// %15c copies up to 15 bytes and stores no terminator: bytes of the
	// previous name past a short copy stay. device[15] is never written
	// by it, so the buffer is always a C string.
	copy(g.device[:15], vals[want-1].str)
	c := bytes.IndexByte(g.device[:], 0)
	if k := bytes.LastIndexByte(g.device[:c], ':'); k >= 0 {
		g.device[k] = 0
	}
	return true
}

// groupLine is sscanf(line, "\t%8[0-9A-Fa-f] %d", addr, &refcnt), the
// address read back with %X: 8 hex digits of the address in host byte
// order.
func (g *GroupReader) groupLine(b []byte, grp *Group) string {
	var vals [2]scanVal
	n, _ := cScanf(b, 0, igmpGroupFormat, vals[:])
	switch {
	case n < 1:
		return "no group address"
	case n < 2:
		return "no user count"
	}
	v, _, _ := scanHex(vals[0].str, 0)
	*grp = Group{
		Family: FamilyInet,
		Iface:  g.deviceName(),
		Addr:   netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}),
		Users:  int32(vals[1].num),
	}
	return ""
}

// igmp6Line is sscanf(line, "%d %15s %64[0-9A-Fa-f] %d", &idx, device,
// addr, &refcnt) with all four stored, the address read back with
// "%08X%08X%08X%08X" into words in network byte order.
func (g *GroupReader) igmp6Line(b []byte, grp *Group) string {
	var vals [4]scanVal
	n, _ := cScanf(b, 0, igmp6Format, vals[:])
	switch {
	case n < 1:
		return "no index"
	case n < 2:
		return "no device"
	}
	// %15s stores the name and its terminator even if a later
	// conversion fails.
	k := copy(g.device[:], vals[1].str)
	g.device[k] = 0
	if n < 3 {
		return "no group address"
	}
	// "%08X" four times: a word is stored only if digits are left for
	// it; then netstat applies htonl to all four words in place. A word
	// not stored is the uninitialised stack slot, in practice what the
	// previous call left there (already swapped once, so swapped back
	// now) unless something in between overwrote it: after a bogus line
	// netstat's value cannot be predicted.
	hex := vals[2].str
	_, w, _ := scanHexSet(hex, 0)
	for k := range 4 {
		if k*8 < len(hex) {
			g.in6[k] = w[k]
		}
		g.in6[k] = bits.ReverseBytes32(g.in6[k])
	}
	if n < 4 {
		return "no user count"
	}
	var a [16]byte
	for k, word := range g.in6 {
		binary.LittleEndian.PutUint32(a[4*k:], word) // the words in memory
	}
	*grp = Group{Family: FamilyInet6, Iface: g.deviceName(), Addr: netip.AddrFrom16(a), Users: int32(vals[3].num)}
	return ""
}
