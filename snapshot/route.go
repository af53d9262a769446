package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// RouteTable is one of the routing tables netstat -r reads.
type RouteTable uint8

// The routing tables of netstat -r (lib/inet_gr.c, lib/inet6_gr.c).
const (
	RouteFIB4   RouteTable = iota + 1 // /proc/net/route
	RouteCache4                       // /proc/net/rt_cache
	RouteFIB6                         // /proc/net/ipv6_route (FIB and cache)
)

// File is the table's file name below /proc/net.
func (t RouteTable) File() string {
	switch t {
	case RouteFIB4:
		return "route"
	case RouteCache4:
		return "rt_cache"
	case RouteFIB6:
		return "ipv6_route"
	}
	return ""
}

// Route flags netstat decodes (lib/net-support.h, linux/route.h,
// linux/ipv6_route.h, linux/in_route.h).
const (
	RTFUp        = 0x0001
	RTFGateway   = 0x0002
	RTFHost      = 0x0004
	RTFReinstate = 0x0008
	RTFDynamic   = 0x0010
	RTFModified  = 0x0020
	RTFMTU       = 0x0040
	RTFWindow    = 0x0080
	RTFIRTT      = 0x0100
	RTFReject    = 0x0200
	RTFNotCached = 0x0400
	RTFDefault   = 0x00010000
	RTFAllOnLink = 0x00020000
	RTFAddrConf  = 0x00040000
	RTFNoNextHop = 0x00200000
	RTFExpires   = 0x00400000
	RTFCache     = 0x01000000
	RTFFlow      = 0x02000000
	RTFPolicy    = 0x04000000
	RTFLocal     = 0x80000000
)

// Route is one row of a routing table, with the values netstat prints for
// it. Numbers are C ints, as netstat's sscanf stores them.
type Route struct {
	Family Family
	Iface  string
	// Dest is the destination; PrefixLen its prefix length (IPv6 only).
	Dest      netip.Addr
	PrefixLen int32
	// Gateway is the gateway (IPv4) or next hop (IPv6).
	Gateway netip.Addr
	// Mask is the IPv4 FIB's genmask.
	Mask netip.Addr
	// Source is the IPv4 cache's source, or the IPv6 source prefix
	// (SourceLen long).
	Source    netip.Addr
	SourceLen int32
	Flags     uint32
	Metric    int32
	RefCnt    int32
	Use       int32
	// MTU, Window and IRTT are the IPv4 columns netstat shows as MSS,
	// Window and irtt.
	MTU, Window, IRTT int32
	// The IPv4 cache's extra columns: TOS, HHRef, HHUptod and SpecDst in
	// the 2.2 layout, HH and ARP in the 2.0 one.
	TOS, HHRef, HHUptod int32
	SpecDst             netip.Addr
	HH, ARP             int32
}

// RouteCacheLayout is the layout of /proc/net/rt_cache, guessed from its
// header as netstat's proc_guess_fmt does.
type RouteCacheLayout int

// The layouts netstat knows; any other value (the bit mask it computed)
// is an unknown layout.
const (
	RouteCacheLayout22 RouteCacheLayout = 63 // Linux 2.2 and later
	RouteCacheLayout20 RouteCacheLayout = 97 // Linux 2.0
)

// ErrNoRouteHeader is returned by RouteReader.Each when the file has no
// header line: netstat then stops the table silently with status 1.
var ErrNoRouteHeader = errors.New("no header line")

// RouteFieldError is proc_gen_fmt's complaint about a header that lacks a
// column netstat needs, in the order it needs them.
type RouteFieldError struct {
	Path  string
	Field string
}

// Error is netstat's text after "warning: ".
func (e *RouteFieldError) Error() string {
	return fmt.Sprintf("%s does not contain required field %s", e.Path, e.Field)
}

// RouteReader reads one routing table file as netstat -r does. Open it with
// FS.OpenRoutes, read it with Each once, and Close it.
type RouteReader struct {
	// IPv6Cache selects, in /proc/net/ipv6_route, the cached routes
	// (RTF_CACHE) that netstat -6 -rC lists instead of the others.
	IPv6Cache bool

	table  RouteTable
	path   string
	src    io.ReadSeeker
	closer io.Closer
	in     *fgetsReader
	layout RouteCacheLayout
}

// OpenRoutes opens the file of table t below ROOT/net. The error of a
// failed open is returned as is (an *fs.PathError): netstat prints it with
// perror and says the family is not configured.
func (fs FS) OpenRoutes(t RouteTable) (*RouteReader, error) {
	if t.File() == "" {
		return nil, fmt.Errorf("snapshot: unknown routing table %d", t)
	}
	path := fs.Path("net", t.File())
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	r := newRouteReader(t, path, f)
	r.closer = f
	return r, nil
}

// newRouteReader reads table t from src; path names it in errors.
func newRouteReader(t RouteTable, path string, src io.ReadSeeker) *RouteReader {
	return &RouteReader{table: t, path: path, src: src, in: newFgetsReader(src, routeBufSize), layout: RouteCacheLayout22}
}

// Close closes the file.
func (r *RouteReader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// GuessCacheLayout is proc_guess_fmt on rt_cache's header: a bit mask of the
// column names IRTT (1), TOS (2), HHRef (4), HHUptod (8), SpecDst (16), HH
// (32) and ARP (64) found anywhere in the first line. Each then parses the
// file with that layout. An empty file gives io.EOF (netstat's -1).
func (r *RouteReader) GuessCacheLayout() (RouteCacheLayout, error) {
	line, err := r.in.next(routeHeaderMax)
	if err != nil {
		return 0, err
	}
	r.layout = guessCacheLayout(line)
	if _, err := r.src.Seek(0, io.SeekStart); err != nil {
		return r.layout, err
	}
	r.in.reset(r.src)
	return r.layout, nil
}

func guessCacheLayout(line []byte) RouteCacheLayout {
	var flag RouteCacheLayout
	for _, n := range []struct {
		name string
		bit  RouteCacheLayout
	}{{"IRTT", 1}, {"TOS", 2}, {"HHRef", 4}, {"HHUptod", 8}, {"SpecDst", 16}, {"HH", 32}, {"ARP", 64}} {
		if bytes.Contains(line, []byte(n.name)) {
			flag |= n.bit
		}
	}
	return flag
}

// Each calls fn for every row netstat prints, in file order. The *Route is
// reused: fn must copy what it keeps.
//
// IPv4 FIB: the header names the columns (proc_gen_fmt); a line whose
// sscanf stores fewer than 10 values, or without RTF_UP, is skipped
// silently. IPv4 cache: the same with the layout GuessCacheLayout found
// and 12 values (an unknown layout gives no rows). IPv6: there is no
// header, and every line is a row, however little of it parses.
//
// netstat keeps the values of one line in variables that the next line's
// sscanf may not overwrite, and addresses it cannot parse leave the
// previous address in place; Each reproduces that (where netstat reads
// uninitialised memory, Each has zero).
func (r *RouteReader) Each(fn func(*Route)) error {
	switch r.table {
	case RouteFIB4:
		return parseFIB4(r.in, r.path, fn)
	case RouteCache4:
		return parseCache4(r.in, r.path, r.layout, fn)
	case RouteFIB6:
		return parseFIB6(r.in, r.path, r.IPv6Cache, fn)
	}
	return fmt.Errorf("snapshot: unknown routing table %d", r.table)
}

// routeField is a column proc_gen_fmt looks for, with its conversion.
type routeField struct {
	name string
	conv conv
}

var (
	str15   = conv{kind: convStr, width: 15}
	str127  = conv{kind: convStr, width: 127}
	hexU    = conv{kind: convHex}
	decI    = conv{kind: convDec}
	skipStr = conv{kind: convStr, suppress: true} // %*s
)

// The columns rprint_fib and rprint_cache ask proc_gen_fmt for, in order.
var (
	fib4Fields = []routeField{
		{"Iface", str15}, {"Destination", str127}, {"Gateway", str127}, {"Flags", hexU},
		{"RefCnt", decI}, {"Use", decI}, {"Metric", decI}, {"Mask", str127},
		{"MTU", decI}, {"Window", decI}, {"IRTT", decI},
	}
	cache22Fields = []routeField{
		{"Iface", str15}, {"Destination", str127}, {"Gateway", str127}, {"Flags", hexU},
		{"RefCnt", decI}, {"Use", decI}, {"Metric", decI}, {"Source", str127},
		{"MTU", decI}, {"Window", decI}, {"IRTT", decI}, {"TOS", decI},
		{"HHRef", decI}, {"HHUptod", decI}, {"SpecDst", str127},
	}
	cache20Fields = []routeField{
		{"Iface", str15}, {"Destination", str127}, {"Gateway", str127}, {"Flags", hexU},
		{"RefCnt", decI}, {"Use", decI}, {"Metric", decI}, {"Source", str127},
		{"MTU", decI}, {"Window", decI}, {"IRTT", decI}, {"HH", decI}, {"ARP", decI},
	}
)

// genFmt is proc_gen_fmt (lib/proc.c): the header's words, split at blanks
// and '|', are matched in order against the wanted names; a matching word
// gets the name's conversion, any other word a %*s. It returns the name of
// the first wanted column not found ("" when all were).
func genFmt(header []byte, want []routeField) ([]conv, string) {
	buf := append(bytes.Clone(header), ' ')
	var convs []conv
	k := 0
	for hdr := 0; hdr >= 0; {
		for hdr < len(buf) && (isSpace(buf[hdr]) || buf[hdr] == '|') {
			hdr++
		}
		head := buf[hdr:]
		if i := bytes.IndexAny(head, "| \t\n"); i >= 0 {
			head = head[:i]
			hdr += i + 1
		} else {
			hdr = -1
		}
		if string(head) == want[k].name {
			convs = append(convs, want[k].conv)
			k++
			if k == len(want) {
				break
			}
		} else {
			convs = append(convs, skipStr)
		}
	}
	if k < len(want) {
		return convs, want[k].name
	}
	return convs, ""
}

// getsock4 is INET_getsock: the first 8 characters are the address in
// hex, in host byte order; anything else fails (and netstat keeps the
// previous address).
func getsock4(s []byte) (netip.Addr, bool) {
	if len(s) < 8 {
		return netip.Addr{}, false
	}
	var a [4]byte
	for i := range 4 {
		hi, lo := hexVal[s[2*i]], hexVal[s[2*i+1]]
		if hi == noHex || lo == noHex {
			return netip.Addr{}, false
		}
		a[3-i] = hi<<4 | lo
	}
	return netip.AddrFrom4(a), true
}

// The fgets sizes of the route printers: the header, read by proc_gen_fmt
// and proc_guess_fmt with fgets into a 512-byte buffer of which they pass
// 511, and the rows, fgets(buff, 1023, fp).
const (
	routeHeaderMax = 511 - 1
	routeLineMax   = 1023 - 1
	routeBufSize   = 4096
)

// routeHeader reads the header line as proc_gen_fmt does and builds the
// conversions.
func routeHeader(in *fgetsReader, path string, want []routeField) ([]conv, error) {
	header, err := in.next(routeHeaderMax)
	if err == io.EOF {
		return nil, ErrNoRouteHeader
	}
	if err != nil {
		return nil, readError(path, err)
	}
	convs, missing := genFmt(header, want)
	if missing != "" {
		return nil, &RouteFieldError{Path: path, Field: missing}
	}
	return convs, nil
}

func parseFIB4(in *fgetsReader, path string, fn func(*Route)) error {
	convs, err := routeHeader(in, path, fib4Fields)
	if err != nil {
		return err
	}
	var (
		vals                [11]scanVal
		r                   = Route{Family: FamilyInet}
		dest, gw, mask      = netip.IPv4Unspecified(), netip.IPv4Unspecified(), netip.IPv4Unspecified()
		ifaces              = map[string]string{}
		mtu, window, irtt   int32
		iface               string
		flags               uint32
		refcnt, use, metric int32
		destS, gwS, maskS   []byte
	)
	for {
		line, err := in.next(routeLineMax)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(path, err)
		}
		num, _ := cScanf(line, 0, convs, vals[:])
		// Values stored before a failed conversion stay in netstat's
		// variables; those after it keep the previous line's.
		for k := 0; k < num; k++ {
			v := vals[k]
			switch k {
			case 0:
				iface = intern(ifaces, v.str)
			case 1:
				destS = v.str
			case 2:
				gwS = v.str
			case 3:
				flags = uint32(v.num)
			case 4:
				refcnt = int32(v.num)
			case 5:
				use = int32(v.num)
			case 6:
				metric = int32(v.num)
			case 7:
				maskS = v.str
			case 8:
				mtu = int32(v.num)
			case 9:
				window = int32(v.num)
			case 10:
				irtt = int32(v.num)
			}
		}
		if num < 10 || flags&RTFUp == 0 {
			continue
		}
		// netstat reads the address texts only for rows it prints;
		// num >= 10 means all three were stored by this line.
		if a, ok := getsock4(destS); ok {
			dest = a
		}
		if a, ok := getsock4(gwS); ok {
			gw = a
		}
		if a, ok := getsock4(maskS); ok {
			mask = a
		}
		r = Route{
			Family: FamilyInet, Iface: iface, Dest: dest, Gateway: gw, Mask: mask,
			Flags: flags, RefCnt: refcnt, Use: use, Metric: metric,
			MTU: mtu, Window: window, IRTT: irtt,
		}
		fn(&r)
	}
}

// intern returns b as a string, allocating once per distinct interface
// name.
func intern(m map[string]string, b []byte) string {
	if s, ok := m[string(b)]; ok {
		return s
	}
	if len(m) > 4096 {
		return string(b)
	}
	s := string(b)
	m[s] = s
	return s
}

func parseCache4(in *fgetsReader, path string, layout RouteCacheLayout, fn func(*Route)) error {
	want := cache22Fields
	switch layout {
	case RouteCacheLayout22:
	case RouteCacheLayout20:
		want = cache20Fields
	default:
		return nil
	}
	convs, err := routeHeader(in, path, want)
	if err != nil {
		return err
	}
	var (
		vals                         [15]scanVal
		ifaces                       = map[string]string{}
		r                            = Route{Family: FamilyInet}
		texts                        [4][]byte // destination, gateway, source, specdst
		snet                         = netip.IPv4Unspecified()
		iface                        string
		flags                        uint32
		refcnt, use, metric          int32
		mtu, window, irtt            int32
		tos, hhref, hhuptod, hh, arp int32
	)
	for {
		line, err := in.next(routeLineMax)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(path, err)
		}
		num, _ := cScanf(line, 0, convs, vals[:])
		for k := 0; k < num; k++ {
			v := vals[k]
			switch k {
			case 0:
				iface = intern(ifaces, v.str)
			case 1:
				texts[0] = append(texts[0][:0], v.str...)
			case 2:
				texts[1] = append(texts[1][:0], v.str...)
			case 3:
				flags = uint32(v.num)
			case 4:
				refcnt = int32(v.num)
			case 5:
				use = int32(v.num)
			case 6:
				metric = int32(v.num)
			case 7:
				texts[2] = append(texts[2][:0], v.str...)
			case 8:
				mtu = int32(v.num)
			case 9:
				window = int32(v.num)
			case 10:
				irtt = int32(v.num)
			case 11:
				if layout == RouteCacheLayout22 {
					tos = int32(v.num)
				} else {
					hh = int32(v.num)
				}
			case 12:
				if layout == RouteCacheLayout22 {
					hhref = int32(v.num)
				} else {
					arp = int32(v.num)
				}
			case 13:
				hhuptod = int32(v.num)
			case 14:
				texts[3] = append(texts[3][:0], v.str...)
			}
		}
		if num < 12 {
			continue
		}
		// rprint_cache parses all four addresses into one sockaddr: a
		// text that does not parse shows the address parsed before it.
		var addrs [4]netip.Addr
		for i, t := range texts {
			if a, ok := getsock4(t); ok {
				snet = a
			}
			addrs[i] = snet
		}
		// netstat overwrites the texts with what it prints (a dotted quad
		// or a name), which INET_getsock rejects: a later row that does
		// not store SpecDst keeps the address parsed before it. (A name
		// starting with 8 hex digits would parse; bpfnetstat ignores that.)
		texts[3] = texts[3][:0]
		r = Route{
			Family: FamilyInet, Iface: iface, Dest: addrs[0], Gateway: addrs[1], Source: addrs[2],
			Flags: flags, RefCnt: refcnt, Use: use, Metric: metric, MTU: mtu, Window: window, IRTT: irtt,
			TOS: tos, HHRef: hhref, HHUptod: hhuptod, HH: hh, ARP: arp,
		}
		if layout == RouteCacheLayout22 {
			r.SpecDst = addrs[3]
		}
		fn(&r)
	}
}

// fib6Convs is rprint_fib6's fixed format: destination, prefix length,
// source, source prefix length, next hop, metric, refcnt, use, flags and
// interface.
var fib6Convs = mustScanf("%4s%4s%4s%4s%4s%4s%4s%4s %02x " +
	"%4s%4s%4s%4s%4s%4s%4s%4s %02x " +
	"%4s%4s%4s%4s%4s%4s%4s%4s %08x %08x %08x %08x %15s\n")

// fib6State is what rprint_fib6 keeps between lines.
type fib6State struct {
	dest, src, next [8][]byte
	plen, slen      uint32
	metric, refcnt  uint32
	use, flags      uint32
	iface           string
	destA, nextA    netip.Addr
}

func parseFIB6(in *fgetsReader, path string, cache bool, fn func(*Route)) error {
	var (
		vals   [31]scanVal
		st     = fib6State{destA: netip.IPv6Unspecified(), nextA: netip.IPv6Unspecified()}
		ifaces = map[string]string{}
		r      Route
		text   []byte
	)
	for {
		line, err := in.next(routeLineMax)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(path, err)
		}
		num, _ := cScanf(line, 0, fib6Convs, vals[:])
		for k := 0; k < num; k++ {
			v := vals[k]
			switch {
			case k < 8:
				st.dest[k] = append(st.dest[k][:0], v.str...)
			case k == 8:
				st.plen = uint32(v.num)
			case k < 17:
				st.src[k-9] = append(st.src[k-9][:0], v.str...)
			case k == 17:
				st.slen = uint32(v.num)
			case k < 26:
				st.next[k-18] = append(st.next[k-18][:0], v.str...)
			case k == 26:
				st.metric = uint32(v.num)
			case k == 27:
				st.refcnt = uint32(v.num)
			case k == 28:
				st.use = uint32(v.num)
			case k == 29:
				st.flags = uint32(v.num)
			case k == 30:
				st.iface = intern(ifaces, v.str)
			}
		}
		// The other view's routes are skipped before their addresses are
		// read.
		if (st.flags&RTFCache != 0) != cache {
			continue
		}
		// The groups are joined with ':' and read back with inet_pton;
		// an address that does not parse leaves the previous one.
		if a, ok := groups6(&st.dest, &text); ok {
			st.destA = a
		}
		if a, ok := groups6(&st.next, &text); ok {
			st.nextA = a
		}
		src := netip.IPv6Unspecified()
		if a, ok := groups6(&st.src, &text); ok {
			src = a
		}
		r = Route{
			Family: FamilyInet6, Iface: st.iface, Dest: st.destA, PrefixLen: int32(st.plen),
			Gateway: st.nextA, Source: src, SourceLen: int32(st.slen),
			Flags: st.flags, Metric: int32(st.metric), RefCnt: int32(st.refcnt), Use: int32(st.use),
		}
		fn(&r)
	}
}
