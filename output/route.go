package output

import (
	"math/bits"
	"net/netip"
	"strconv"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// RouteNames answers the lookups of netstat -r. The answers must be what
// net-tools' INET_rresolve and INET6_rresolve give (snapshot/names).
type RouteNames interface {
	// RouteDest4 is an IPv4 route's destination: "default", "0.0.0.0",
	// a host or network name, or the dotted quad.
	RouteDest4(a, mask netip.Addr, hostRoute bool) string
	// RouteGateway4 is an IPv4 gateway: "0.0.0.0", a host name or the
	// dotted quad.
	RouteGateway4(a netip.Addr) string
	// Host4 is an address of the IPv4 routing cache, as in socket tables.
	Host4(a netip.Addr) string
	// Host6 is an IPv6 destination or next hop ("[::]" for ::).
	Host6(a netip.Addr) string
}

// RouteOptions are the flags that shape netstat -r's text.
type RouteOptions struct {
	// Numeric is -n, --numeric-hosts or -N: no lookups.
	Numeric bool
	// Ext is the column set (0 to 3) that the number of -e selects:
	// RouteExt.
	Ext int
	// NumericHost6 formats an IPv6 address as inet_ntop does (IPv4-mapped
	// shown dotted); names.NumericHost6.
	NumericHost6 func(netip.Addr) string
}

// RouteExt is the column set netstat -r uses for e -e options: 2 without
// -e, 1 with one, 3 with two, 0 (title only) with three, and so on in a
// cycle of four (netstat swaps flag_exp 1 and 2, then keeps its low two
// bits).
func RouteExt(e int) int {
	v := e + 1
	switch v {
	case 1:
		v = 2
	case 2:
		v = 1
	}
	return v & 3
}

// Routes renders netstat -r's tables. Rows are built in an internal buffer
// that the caller writes before the next call.
type Routes struct {
	opt   RouteOptions
	names RouteNames
	buf   []byte
}

// NewRoutes returns a renderer; names may be nil when opt.Numeric is set.
func NewRoutes(opt RouteOptions, names RouteNames) *Routes {
	if opt.NumericHost6 == nil {
		opt.NumericHost6 = func(a netip.Addr) string { return a.String() }
	}
	return &Routes{opt: opt, names: names, buf: make([]byte, 0, 256)}
}

// IPv4 FIB column headers by ext (rprint_fib).
var fib4Headers = [4]string{
	1: "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n",
	2: "Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface\n",
	3: "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface    MSS   Window irtt\n",
}

// FIB4Header is the title of the IPv4 table and the column header of the
// column set (none for ext 0).
func (r *Routes) FIB4Header() []byte {
	b := append(r.buf[:0], "Kernel IP routing table\n"...)
	b = append(b, fib4Headers[r.opt.Ext]...)
	r.buf = b
	return b
}

// FIB4Flags is the Flags text of an IPv4 FIB route: U and G, all replaced
// by ! for a reject route, then the other letters in rprint_fib's order.
func FIB4Flags(f uint32) string {
	var b []byte
	if f&snapshot.RTFUp != 0 {
		b = append(b, 'U')
	}
	if f&snapshot.RTFGateway != 0 {
		b = append(b, 'G')
	}
	if f&snapshot.RTFReject != 0 {
		b = append(b[:0], '!')
	}
	for _, l := range fib4Letters {
		if f&l.bit != 0 {
			b = append(b, l.letters...)
		}
	}
	return string(b)
}

type flagLetter struct {
	bit     uint32
	letters string
	name    string
}

var fib4Letters = []flagLetter{
	{snapshot.RTFHost, "H", "host"}, {snapshot.RTFReinstate, "R", "reinstate"},
	{snapshot.RTFDynamic, "D", "dynamic"}, {snapshot.RTFModified, "M", "modified"},
	{snapshot.RTFDefault, "d", "default"}, {snapshot.RTFAllOnLink, "a", "allonlink"},
	{snapshot.RTFAddrConf, "c", "addrconf"}, {snapshot.RTFNoNextHop, "o", "nonexthop"},
	{snapshot.RTFExpires, "e", "expires"}, {snapshot.RTFCache, "c", "cache"},
	{snapshot.RTFFlow, "f", "flow"}, {snapshot.RTFPolicy, "p", "policy"},
	{snapshot.RTFLocal, "l", "local"}, {snapshot.RTFMTU, "u", "mtu"},
	{snapshot.RTFWindow, "w", "window"}, {snapshot.RTFIRTT, "i", "irtt"},
	{snapshot.RTFNotCached, "n", "notcached"},
}

var fib4UpGatewayReject = []flagLetter{
	{snapshot.RTFUp, "U", "up"}, {snapshot.RTFGateway, "G", "gateway"}, {snapshot.RTFReject, "!", "reject"},
}

// fib4Names are the JSON names of an IPv4 FIB route's flags.
func fib4Names(f uint32) []string {
	return appendFlagNames(appendFlagNames([]string{}, f, fib4UpGatewayReject), f, fib4Letters)
}

// appendFlagNames appends the names of the bits of f in ls, in ls's order.
func appendFlagNames(names []string, f uint32, ls []flagLetter) []string {
	for _, l := range ls {
		if f&l.bit != 0 {
			names = append(names, l.name)
		}
	}
	return names
}

// routeCut is what netstat's buffers leave of a name: safe_strncpy into 128
// bytes, then, for the FIB's destination and gateway, a NUL at 15.
func routeCut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (r *Routes) dest4(rt *snapshot.Route) string {
	if r.opt.Numeric {
		return rt.Dest.String()
	}
	return Escape(routeCut(r.names.RouteDest4(rt.Dest, rt.Mask, rt.Flags&snapshot.RTFHost != 0), 15))
}

func (r *Routes) gateway4(rt *snapshot.Route) string {
	if r.opt.Numeric {
		return rt.Gateway.String()
	}
	return Escape(routeCut(r.names.RouteGateway4(rt.Gateway), 15))
}

// host4 is INET_sprint as the routing cache calls it.
func (r *Routes) host4(a netip.Addr) string {
	if r.opt.Numeric {
		return a.String()
	}
	return Escape(routeCut(r.names.Host4(a), 127))
}

// FIB4Row is one row of the IPv4 table in the column set; nil for ext 0.
func (r *Routes) FIB4Row(rt *snapshot.Route) []byte {
	if r.opt.Ext == 0 {
		return nil
	}
	b := r.buf[:0]
	b = appendLeft(b, r.dest4(rt), 15)
	b = append(b, ' ')
	reject := rt.Flags&snapshot.RTFReject != 0
	if reject {
		b = append(b, "-               "...)
	} else {
		b = appendLeft(b, r.gateway4(rt), 15)
		b = append(b, ' ')
	}
	b = appendLeft(b, rt.Mask.String(), 15)
	b = append(b, ' ')
	b = appendLeft(b, FIB4Flags(rt.Flags), 5)
	b = append(b, ' ')
	b = r.appendTail(b, rt, reject, routeTailFIB)
	b = append(b, '\n')
	r.buf = b
	return b
}

// routeTail says which table a row's tail belongs to: the FIB, or the
// routing cache in its layout.
type routeTail snapshot.RouteCacheLayout

// routeTailFIB is the FIB's tail; no cache layout has this value.
const routeTailFIB routeTail = -1

// appendTail appends the columns after Flags in the column set (Ext 1 to
// 3), which the IPv4 FIB (rprint_fib) and cache (rprint_cache) share but
// for two things: a reject route of the FIB prints "-" where it has no
// gateway, reference or interface, and in the widest set the FIB ends
// with irtt where the cache pads it and adds the columns of its layout.
func (r *Routes) appendTail(b []byte, rt *snapshot.Route, reject bool, t routeTail) []byte {
	iface := Escape(rt.Iface)
	switch r.opt.Ext {
	case 1:
		b = appendLeftInt(b, int64(rt.Metric), 6)
		b = append(b, ' ')
		if reject {
			b = append(b, "-  "...)
			b = appendRightInt(b, int64(rt.Use), 7)
			return append(b, " -"...)
		}
		b = appendLeftInt(b, int64(rt.RefCnt), 2)
		b = append(b, ' ')
		b = appendRightInt(b, int64(rt.Use), 7)
		b = append(b, ' ')
		return append(b, iface...)
	case 2:
		if reject {
			return append(b, "    - -          - -"...)
		}
		b = appendRightInt(b, int64(rt.MTU), 5)
		b = append(b, ' ')
		b = appendLeftInt(b, int64(rt.Window), 5)
		b = append(b, ' ')
		b = appendRightInt(b, int64(rt.IRTT), 6)
		b = append(b, ' ')
		return append(b, iface...)
	}
	b = appendLeftInt(b, int64(rt.Metric), 6)
	b = append(b, ' ')
	if reject {
		b = append(b, "-  "...)
		b = appendRightInt(b, int64(rt.Use), 7)
		return append(b, " -        -     -      -"...)
	}
	b = appendLeftInt(b, int64(rt.RefCnt), 3)
	b = append(b, ' ')
	b = appendRightInt(b, int64(rt.Use), 6)
	b = append(b, ' ')
	// %-6.6s: the interface cut to 6 bytes.
	b = appendLeft(b, Escape(routeCut(rt.Iface, 6)), 6)
	b = append(b, "   "...)
	b = appendLeftInt(b, int64(rt.MTU), 5)
	b = append(b, ' ')
	b = appendLeftInt(b, int64(rt.Window), 6)
	b = append(b, ' ')
	if t == routeTailFIB {
		return strconv.AppendInt(b, int64(rt.IRTT), 10)
	}
	b = appendLeftInt(b, int64(rt.IRTT), 5)
	b = append(b, ' ')
	if snapshot.RouteCacheLayout(t) == snapshot.RouteCacheLayout20 {
		b = appendLeftInt(b, int64(rt.HH), 3)
		b = append(b, ' ')
		return strconv.AppendInt(b, int64(rt.ARP), 10)
	}
	b = appendLeftInt(b, int64(rt.TOS), 3)
	b = append(b, ' ')
	b = appendLeftInt(b, int64(rt.HHRef), 3)
	b = append(b, "   "...)
	b = appendLeftInt(b, int64(rt.HHUptod), 3)
	b = append(b, ' ')
	return appendRight(b, r.host4(rt.SpecDst), 15)
}

// Cache4Title is the title of the IPv4 routing cache.
func (r *Routes) Cache4Title() []byte {
	r.buf = append(r.buf[:0], "Kernel IP routing cache\n"...)
	return r.buf
}

// Cache4Unknown is the line rprint_cache prints for a layout it does not
// know.
func (r *Routes) Cache4Unknown(layout snapshot.RouteCacheLayout) []byte {
	b := append(r.buf[:0], "ERROR: proc_guess_fmt(/proc/net/rt_cache,... returned: "...)
	b = strconv.AppendInt(b, int64(layout), 10)
	b = append(b, '\n')
	r.buf = b
	return b
}

// Cache4Header is the cache's column header for the column set and layout.
func (r *Routes) Cache4Header(layout snapshot.RouteCacheLayout) []byte {
	b := r.buf[:0]
	switch r.opt.Ext {
	case 1:
		b = append(b, "Source          Destination     Gateway         Flags Metric Ref    Use Iface\n"...)
	case 2:
		b = append(b, "Source          Destination     Gateway         Flags   MSS Window  irtt Iface\n"...)
	case 3:
		switch layout {
		case snapshot.RouteCacheLayout20:
			b = append(b, "Source          Destination     Gateway         Flags Metric Ref    Use Iface    MSS   Window irtt  HH  Arp\n"...)
		case snapshot.RouteCacheLayout22:
			b = append(b, "Source          Destination     Gateway         Flags Metric Ref    Use Iface    MSS   Window irtt  TOS HHRef HHUptod     SpecDst\n"...)
		}
	}
	r.buf = b
	return b
}

// Routing cache flags (lib/net-support.h RTCF_*).
var cache4Letters = []flagLetter{
	{0x00010000, "n", "notify"}, {0x00020000, "d", "directdst"}, {0x00080000, "t", "tproxy"},
	{0x00200000, "f", "fast"}, {0x00400000, "q", "masq"}, {0x00800000, "Ns", "snat"},
	{0x01000000, "r", "doredirect"}, {0x04000000, "i", "directsrc"}, {0x08000000, "Nd", "dnat"},
	{0x10000000, "b", "broadcast"}, {0x20000000, "m", "multicast"}, {0x40000000, "#", "reject"},
	{0x80000000, "l", "local"},
}

// cache4Flags is rprint_cache's flag text (letters) and the JSON names.
func cache4Flags(f uint32, layout snapshot.RouteCacheLayout) (string, []string) {
	var b []byte
	names := []string{}
	add := func(bit uint32, l, n string) {
		if f&bit != 0 {
			b = append(b, l...)
			names = append(names, n)
		}
	}
	if layout == snapshot.RouteCacheLayout20 {
		add(snapshot.RTFUp, "U", "up")
		add(snapshot.RTFHost, "H", "host")
	}
	add(snapshot.RTFGateway, "G", "gateway")
	if f&snapshot.RTFReject != 0 {
		b = append(b[:0], '!')
		names = append(names, "reject")
	}
	add(snapshot.RTFReinstate, "R", "reinstate")
	add(snapshot.RTFDynamic, "D", "dynamic")
	add(snapshot.RTFModified, "M", "modified")
	if layout == snapshot.RouteCacheLayout22 {
		add(0x1, "-", "dead")
		add(0x4, "o", "onlink")
	}
	for _, l := range cache4Letters {
		add(l.bit, l.letters, l.name)
	}
	return string(b), names
}

// Cache4Row is one row of the IPv4 routing cache; nil for ext 0.
func (r *Routes) Cache4Row(rt *snapshot.Route, layout snapshot.RouteCacheLayout) []byte {
	if r.opt.Ext == 0 {
		return nil
	}
	flags, _ := cache4Flags(rt.Flags, layout)
	b := r.buf[:0]
	b = appendLeft(b, r.host4(rt.Source), 15)
	b = append(b, ' ')
	b = appendLeft(b, r.host4(rt.Dest), 15)
	b = append(b, ' ')
	b = appendLeft(b, r.host4(rt.Gateway), 15)
	b = append(b, ' ')
	b = appendLeft(b, flags, 5)
	b = append(b, ' ')
	b = r.appendTail(b, rt, false, routeTail(layout))
	b = append(b, '\n')
	r.buf = b
	return b
}

// FIB6Header is the IPv6 title (FIB or cache) and its one column header.
func (r *Routes) FIB6Header(cache bool) []byte {
	b := r.buf[:0]
	if cache {
		b = append(b, "Kernel IPv6 routing cache\n"...)
	} else {
		b = append(b, "Kernel IPv6 routing table\n"...)
	}
	b = append(b, "Destination                    Next Hop                   Flag Met Ref  Use If\n"...)
	r.buf = b
	return b
}

var fib6Letters = []flagLetter{
	{snapshot.RTFUp, "U", "up"}, {snapshot.RTFReject, "!", "reject"},
	{snapshot.RTFGateway, "G", "gateway"}, {snapshot.RTFHost, "H", "host"},
	{snapshot.RTFDefault, "D", "default"}, {snapshot.RTFAddrConf, "A", "addrconf"},
	{snapshot.RTFCache, "C", "cache"}, {snapshot.RTFAllOnLink, "a", "allonlink"},
	{snapshot.RTFExpires, "e", "expires"}, {snapshot.RTFModified, "m", "modified"},
	{snapshot.RTFNoNextHop, "n", "nonexthop"}, {snapshot.RTFFlow, "f", "flow"},
}

// FIB6Flags is the Flag text of an IPv6 route (rprint_fib6's order).
func FIB6Flags(f uint32) string {
	var b []byte
	for _, l := range fib6Letters {
		if f&l.bit != 0 {
			b = append(b, l.letters...)
		}
	}
	return string(b)
}

func fib6Names(f uint32) []string { return appendFlagNames([]string{}, f, fib6Letters) }

// host6 is INET6_sprint.
func (r *Routes) host6(a netip.Addr) string {
	if r.opt.Numeric {
		return r.opt.NumericHost6(a)
	}
	return Escape(r.names.Host6(a))
}

// FIB6Row is one IPv6 row: destination/prefix L30, next hop L26, flags L4,
// metric L3, ref L1, use R6, interface; nothing is cut but to netstat's
// 127-byte buffers.
func (r *Routes) FIB6Row(rt *snapshot.Route) []byte {
	b := r.buf[:0]
	start := len(b)
	b = append(b, r.host6(rt.Dest)...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(rt.PrefixLen), 10)
	if len(b)-start > 127 {
		b = b[:start+127]
	}
	for len(b)-start < 30 {
		b = append(b, ' ')
	}
	b = append(b, ' ')
	b = appendLeft(b, routeCut(r.host6(rt.Gateway), 127), 26)
	b = append(b, ' ')
	b = appendLeft(b, FIB6Flags(rt.Flags), 4)
	b = append(b, ' ')
	b = appendLeftInt(b, int64(rt.Metric), 3)
	b = append(b, ' ')
	b = appendLeftInt(b, int64(rt.RefCnt), 1)
	b = append(b, ' ')
	b = appendRightInt(b, int64(rt.Use), 6)
	b = append(b, ' ')
	b = append(b, Escape(rt.Iface)...)
	b = append(b, '\n')
	r.buf = b
	return b
}

// RouteJSON is the stable machine form of one route (--json). Addresses
// are numeric.
type RouteJSON struct {
	Family      string `json:"family"` // inet, inet6
	Table       string `json:"table"`  // fib, cache
	Destination string `json:"destination"`
	// Genmask is the IPv4 FIB's netmask; PrefixLen its length when the mask
	// is contiguous, and the IPv6 prefix length.
	Genmask   string `json:"genmask,omitempty"`
	PrefixLen *int32 `json:"prefix_len,omitempty"`
	// Source is the IPv4 cache's source address.
	Source  string `json:"source,omitempty"`
	Gateway string `json:"gateway"`
	// Flags are netstat's letters, FlagNames the same bits named.
	Flags     string   `json:"flags"`
	FlagNames []string `json:"flag_names"`
	Metric    int32    `json:"metric"`
	Ref       int32    `json:"refcnt"`
	Use       int32    `json:"use"`
	Iface     string   `json:"iface"`
	// MSS (the kernel's MTU column), Window and IRTT: IPv4 only.
	MSS    *int32 `json:"mss,omitempty"`
	Window *int32 `json:"window,omitempty"`
	IRTT   *int32 `json:"irtt,omitempty"`
	// The IPv4 cache's 2.2 layout extras.
	TOS     *int32 `json:"tos,omitempty"`
	HHRef   *int32 `json:"hhref,omitempty"`
	HHUptod *int32 `json:"hhuptod,omitempty"`
	SpecDst string `json:"specdst,omitempty"`
}

// FIB4JSON is an IPv4 FIB route's JSON form.
func FIB4JSON(rt *snapshot.Route) RouteJSON {
	mtu, window, irtt := rt.MTU, rt.Window, rt.IRTT
	out := RouteJSON{
		Family: "inet", Table: "fib",
		Destination: rt.Dest.String(), Genmask: rt.Mask.String(), Gateway: rt.Gateway.String(),
		Flags: FIB4Flags(rt.Flags), FlagNames: fib4Names(rt.Flags),
		Metric: rt.Metric, Ref: rt.RefCnt, Use: rt.Use, Iface: Escape(rt.Iface),
		MSS: &mtu, Window: &window, IRTT: &irtt,
	}
	if rt.Mask.Is4() {
		m := rt.Mask.As4()
		v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
		ones := int32(bits.LeadingZeros32(^v))
		if v<<ones == 0 {
			out.PrefixLen = &ones
		}
	}
	return out
}

// Cache4JSON is an IPv4 routing cache entry's JSON form.
func Cache4JSON(rt *snapshot.Route, layout snapshot.RouteCacheLayout) RouteJSON {
	mtu, window, irtt := rt.MTU, rt.Window, rt.IRTT
	flags, names := cache4Flags(rt.Flags, layout)
	out := RouteJSON{
		Family: "inet", Table: "cache",
		Destination: rt.Dest.String(), Source: rt.Source.String(), Gateway: rt.Gateway.String(),
		Flags: flags, FlagNames: names,
		Metric: rt.Metric, Ref: rt.RefCnt, Use: rt.Use, Iface: Escape(rt.Iface),
		MSS: &mtu, Window: &window, IRTT: &irtt,
	}
	if layout == snapshot.RouteCacheLayout22 {
		tos, hhref, hhuptod := rt.TOS, rt.HHRef, rt.HHUptod
		out.TOS, out.HHRef, out.HHUptod = &tos, &hhref, &hhuptod
		out.SpecDst = rt.SpecDst.String()
	}
	return out
}

// FIB6JSON is an IPv6 route's JSON form; cache says which view listed it.
func FIB6JSON(rt *snapshot.Route, cache bool) RouteJSON {
	plen := rt.PrefixLen
	table := "fib"
	if cache {
		table = "cache"
	}
	return RouteJSON{
		Family: "inet6", Table: table,
		Destination: jsonAddr(rt.Dest), PrefixLen: &plen, Gateway: jsonAddr(rt.Gateway),
		Flags: FIB6Flags(rt.Flags), FlagNames: fib6Names(rt.Flags),
		Metric: rt.Metric, Ref: rt.RefCnt, Use: rt.Use, Iface: Escape(rt.Iface),
	}
}
