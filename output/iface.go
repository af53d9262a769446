package output

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// InterfaceTitle is printed once before netstat -i's table (once per
// process under -c).
const InterfaceTitle = "Kernel Interface table\n"

// InterfaceHeader is the column header of the short format, printed every
// -c round.
const InterfaceHeader = "Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP TX-OVR Flg\n"

// InterfaceOptions shape netstat -i rows.
type InterfaceOptions struct {
	// Long selects the ifconfig-style blocks of -ie (lib/interface.c's
	// ife_print_long) instead of one row per interface.
	Long bool
	// Host6 formats an IPv6 address numerically (glibc inet_ntop,
	// IPv4-mapped shown dotted).
	Host6 func(netip.Addr) string
}

// Interfaces renders netstat -i. Rows are appended to an internal buffer
// that the caller writes out before asking for the next one.
type Interfaces struct {
	opt InterfaceOptions
	buf []byte
	// inet6 is ife_print_long's if_inet6 variables, which live on from one
	// interface to the next.
	inet6 inet6State
}

// NewInterfaces returns a renderer.
func NewInterfaces(opt InterfaceOptions) *Interfaces {
	return &Interfaces{opt: opt, buf: make([]byte, 0, 1024)}
}

// Row renders one interface: a line of the short format, or a block of the
// long one (followed by an empty line). inet6 is /proc/net/if_inet6; the
// long format shows the lines of this interface's name.
func (r *Interfaces) Row(ifc *snapshot.Interface, inet6 []snapshot.IfInet6) []byte {
	if r.opt.Long {
		r.buf = r.long(r.buf[:0], ifc, inet6)
	} else {
		r.buf = shortRow(r.buf[:0], ifc)
	}
	return r.buf
}

// flagLetters is ife_print_short's order; two flags print P.
var flagLetters = []struct {
	bit    uint16
	letter byte
}{
	{snapshot.IffAllMulti, 'A'}, {snapshot.IffBroadcast, 'B'}, {snapshot.IffDebug, 'D'},
	{snapshot.IffLoopback, 'L'}, {snapshot.IffMulticast, 'M'}, {snapshot.IffDynamic, 'd'},
	{snapshot.IffPromisc, 'P'}, {snapshot.IffNoTrailers, 'N'}, {snapshot.IffNoARP, 'O'},
	{snapshot.IffPointToPt, 'P'}, {snapshot.IffSlave, 's'}, {snapshot.IffMaster, 'm'},
	{snapshot.IffRunning, 'R'}, {snapshot.IffUp, 'U'},
}

// flagNames is ife_print_long's order.
var flagNames = []struct {
	bit  uint16
	name string
}{
	{snapshot.IffUp, "UP"}, {snapshot.IffBroadcast, "BROADCAST"}, {snapshot.IffDebug, "DEBUG"},
	{snapshot.IffLoopback, "LOOPBACK"}, {snapshot.IffPointToPt, "POINTOPOINT"},
	{snapshot.IffNoTrailers, "NOTRAILERS"}, {snapshot.IffRunning, "RUNNING"},
	{snapshot.IffNoARP, "NOARP"}, {snapshot.IffPromisc, "PROMISC"},
	{snapshot.IffAllMulti, "ALLMULTI"}, {snapshot.IffSlave, "SLAVE"}, {snapshot.IffMaster, "MASTER"},
	{snapshot.IffMulticast, "MULTICAST"}, {snapshot.IffDynamic, "DYNAMIC"},
}

// FlagLetters is the Flg column: "BMRU", or "[NO FLAGS]".
func FlagLetters(flags uint16) string {
	if flags == 0 {
		return "[NO FLAGS]"
	}
	var b []byte
	for _, f := range flagLetters {
		if flags&f.bit != 0 {
			b = append(b, f.letter)
		}
	}
	return string(b)
}

// FlagNames are the names of the set flags in the long format's order.
func FlagNames(flags uint16) []string {
	names := []string{}
	for _, f := range flagNames {
		if flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	return names
}

const noStatistics = "     - no statistics available -"

// shortRow is ife_print_short.
func shortRow(b []byte, ifc *snapshot.Interface) []byte {
	name := ifc.Name
	if len(name) > 15 {
		name = name[:15]
	}
	b = appendLeft(b, Escape(name), 15)
	b = append(b, ' ')
	b = appendRight(b, strconv.Itoa(int(ifc.MTU)), 5)
	b = append(b, ' ')
	if s := ifc.Stats; s != nil {
		for _, c := range []struct {
			v     uint64
			width int
			left  bool
		}{
			{s.RxPackets, 8, false}, {s.RxErrors, 6, false}, {s.RxDropped, 6, false}, {s.RxFIFO, 6, true},
			{s.TxPackets, 8, false}, {s.TxErrors, 6, false}, {s.TxDropped, 6, false}, {s.TxFIFO, 6, false},
		} {
			if c.left {
				b = appendLeft(b, strconv.FormatUint(c.v, 10), c.width)
			} else {
				b = appendRight(b, strconv.FormatUint(c.v, 10), c.width)
			}
			b = append(b, ' ')
		}
	} else {
		b = appendLeft(b, noStatistics, 56)
	}
	b = append(b, FlagLetters(ifc.Flags)...)
	return append(b, '\n')
}

// hwType is an entry of net-tools' hardware table (lib/hw.c) as compiled
// into Debian 12's netstat: name, title, address length, how the address
// prints (nil: not at all) and whether an all-zero address is hidden.
type hwType struct {
	typ          int16
	name, title  string
	alen         int
	print        func(a []byte) string
	suppressNull bool
}

// hwTypes is hw.c's hwtypes[] in order: the first entry of a type wins,
// unspec (-1) is the fallback. Types are compared as C shorts.
var hwTypes = []hwType{
	{772, "loop", "Local Loopback", 0, nil, false},
	{256, "slip", "Serial Line IP", 0, nil, false},
	{257, "cslip", "VJ Serial Line IP", 0, nil, false},
	{258, "slip6", "6-bit Serial Line IP", 0, nil, false},
	{259, "cslip6", "VJ 6-bit Serial Line IP", 0, nil, false},
	{264, "adaptive", "Adaptive Serial Line IP", 0, nil, false},
	{781, "ash", "Ash", 64, printAsh, true},
	{1, "ether", "Ethernet", 6, hwHexJoin("%02x", ":", 6), false},
	{3, "ax25", "AMPR AX.25", 7, printAX25, false},
	{0, "netrom", "AMPR NET/ROM", 7, printAX25, false},
	{270, "rose", "AMPR ROSE", 10, printROSE, false},
	{768, "tunnel", "IPIP Tunnel", 0, func([]byte) string { return "" }, false},
	{512, "ppp", "Point-to-Point Protocol", 0, nil, false},
	{513, "hdlc", "(Cisco)-HDLC", 0, nil, false},
	{516, "lapb", "LAPB", 0, nil, false},
	{7, "arcnet", "ARCnet", 1, hwHexJoin("%02X", "", 1), false},
	{15, "dlci", "Frame Relay DLCI", 3, printDLCI, false},
	{770, "frad", "Frame Relay Access Device", 0, nil, false},
	{776, "sit", "IPv6-in-IPv4", 0, nil, false},
	{774, "fddi", "Fiber Distributed Data Interface", 6, hwHexJoin("%02X", "-", 6), false},
	{780, "hippi", "HIPPI", 6, hwHexJoin("%02X", ":", 6), false},
	{783, "irda", "IrLAP", 2, printIrDA, false},
	{271, "x25", "generic X.25", 16, printX25, false},
	{27, "eui64", "Generic EUI-64", 8, hwHexJoin("%02X", ":", 8), false},
	{-1, "unspec", "UNSPEC", 0, hwHexJoin("%02X", "-", 16), false},
}

func lookupHW(typ uint16) *hwType {
	for i := range hwTypes {
		if hwTypes[i].typ == int16(typ) {
			return &hwTypes[i]
		}
	}
	return &hwTypes[len(hwTypes)-1]
}

// hwBytes is net-tools' hwaddr: 8 bytes from the kernel, then zeros (64
// bytes, as far as the longest address format reads).
func hwBytes(ifc *snapshot.Interface) []byte {
	b := make([]byte, 64)
	copy(b, ifc.HWAddr[:])
	return b
}

func hwHexJoin(format, sep string, n int) func([]byte) string {
	return func(a []byte) string {
		var b []byte
		for i := range n {
			if i > 0 {
				b = append(b, sep...)
			}
			b = fmt.Appendf(b, format, a[i])
		}
		return string(b)
	}
}

// printAsh is ash.c's pr_ash: its stop bytes are never seen through a
// signed char, so all 64 bytes print as sign-extended %1x.
func printAsh(a []byte) string {
	b := []byte{'['}
	for _, c := range a[:64] {
		b = fmt.Appendf(b, "%x", uint32(int32(int8(c))))
	}
	return string(append(b, ']'))
}

// printAX25 is ax25.c's AX25_print (netrom.c's is the same): shifted call
// sign letters, a space ends them, then "-SSID" if not zero.
func printAX25(a []byte) string {
	var call []byte
	for i := range 6 {
		c := a[i] >> 1
		if c == ' ' {
			c = 0
		}
		call = append(call, c)
	}
	for i, c := range call {
		if c == 0 {
			call = call[:i]
			break
		}
	}
	if ssid := (a[6] & 0x1e) >> 1; ssid != 0 {
		call = fmt.Appendf(call, "-%d", ssid)
	}
	return Escape(string(call))
}

func printROSE(a []byte) string {
	return fmt.Sprintf("%02x%02x%02x%02x%02x", a[0], a[1], a[2], a[3], a[4])
}

// printDLCI is frame.c's pr_dlci: the first two bytes as a native short.
func printDLCI(a []byte) string {
	return strconv.Itoa(int(int16(uint16(a[0]) | uint16(a[1])<<8)))
}

// printIrDA is irda.c's irda_print: signed chars in %02x, then cut to the
// 11 characters of its buffer.
func printIrDA(a []byte) string {
	s := fmt.Sprintf("%02x:%02x:%02x:%02x", uint32(int32(int8(a[3]))), uint32(int32(int8(a[2]))),
		uint32(int32(int8(a[1]))), uint32(int32(int8(a[0]))))
	if len(s) > 11 {
		s = s[:11]
	}
	return s
}

// printX25 is x25.c's X25_print: the address bytes as a string.
func printX25(a []byte) string {
	n := 0
	for n < 16 && a[n] != 0 {
		n++
	}
	return Escape(string(a[:n]))
}

// inet4Text is INET_sprint with numeric output.
func inet4Text(s snapshot.Sockaddr4) string {
	switch s.Family {
	case 0, 0xffff:
		return "[NONE SET]"
	case 2: // AF_INET
		return netip.AddrFrom4(s.Addr).String()
	}
	return "(null)" // INET_sprint returned NULL to printf
}

// portText is interface.c's if_port_text[port][0].
var portText = []string{"unknown", "10base2", "10baseT", "AUI", "100baseT", "100baseTX", "100baseFX"}

// byteUnit is ife_print_long's X.Y UNIT of a byte count: truncated, never
// rounded, with the C code's uint64 arithmetic.
func byteUnit(v uint64) string {
	t, unit := v*10, "B"
	switch {
	case v > 1<<60:
		t, unit = v/115292150460684697, "EiB"
	case v > 1<<50:
		t, unit = t/(1<<50), "PiB"
	case v > 1<<40:
		t, unit = t/(1<<40), "TiB"
	case v > 1<<30:
		t, unit = t/(1<<30), "GiB"
	case v > 1<<20:
		t, unit = t/(1<<20), "MiB"
	case v > 1024:
		t, unit = t/1024, "KiB"
	}
	return fmt.Sprintf("%d.%d %s", t/10, t%10, unit)
}

// long is ife_print_long.
func (r *Interfaces) long(b []byte, ifc *snapshot.Interface, inet6 []snapshot.IfInet6) []byte {
	name := Escape(ifc.Name)
	b = append(b, name...)
	b = fmt.Appendf(b, ": flags=%d<", int16(ifc.Flags))
	if ifc.Flags == 0 {
		b = append(b, '>')
	}
	for _, f := range flagNames {
		if ifc.Flags&f.bit != 0 {
			b = append(b, f.name...)
			b = append(b, ',')
		}
	}
	// The last character becomes '>' if it is a comma, else it is removed
	// (so no flags gives "flags=0<").
	if b[len(b)-1] == ',' {
		b[len(b)-1] = '>'
	} else {
		b = b[:len(b)-1]
	}
	b = fmt.Appendf(b, "  mtu %d", ifc.MTU)
	if ifc.Outfill != 0 || ifc.Keepalive != 0 {
		b = fmt.Appendf(b, "  outfill %d  keepalive %d", ifc.Outfill, ifc.Keepalive)
	}
	b = append(b, '\n')

	if ifc.HasIPv4 {
		b = append(b, "        inet "...)
		b = append(b, inet4Text(ifc.Addr)...)
		b = append(b, "  netmask "...)
		b = append(b, inet4Text(ifc.Netmask)...)
		if ifc.Flags&snapshot.IffBroadcast != 0 {
			b = append(b, "  broadcast "...)
			b = append(b, inet4Text(ifc.BroadAddr)...)
		}
		if ifc.Flags&snapshot.IffPointToPt != 0 {
			b = append(b, "  destination "...)
			b = append(b, inet4Text(ifc.DstAddr)...)
		}
		b = append(b, '\n')
	}

	for _, l := range r.inet6.lines(inet6, ifc.Name) {
		b = append(b, "        inet6 "...)
		b = append(b, r.opt.Host6(l.addr)...)
		b = fmt.Appendf(b, "  prefixlen %d  scopeid 0x%x", l.prefixLen, l.scope)
		if len(l.tags) > 0 {
			b = append(b, '<')
			for i, t := range l.tags {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, t...)
			}
			b = append(b, '>')
		}
		b = append(b, '\n')
	}

	hw := lookupHW(ifc.HWType)
	addr := hwBytes(ifc)
	if hw.print != nil && !(hw.suppressNull && hwAllZero(addr, hw.alen)) {
		b = append(b, "        "...)
		b = append(b, hw.name...)
		b = append(b, ' ')
		b = append(b, hw.print(addr)...)
	} else {
		b = append(b, "        "...)
		b = append(b, hw.name...)
	}
	if ifc.TxQueueLen != -1 {
		b = fmt.Appendf(b, "  txqueuelen %d", ifc.TxQueueLen)
	}
	b = append(b, "  ("...)
	b = append(b, hw.title...)
	b = append(b, ")\n"...)

	if ifc.Flags&snapshot.IffPortSel != 0 {
		b = append(b, "        media "...)
		if int(ifc.Map.Port) < len(portText) {
			b = append(b, portText[ifc.Map.Port]...)
		} else {
			b = append(b, "(null)"...)
		}
		if ifc.Flags&snapshot.IffAutoMedia != 0 {
			b = append(b, "autoselect"...)
		}
		b = append(b, '\n')
	}

	if s := ifc.Stats; s != nil {
		compress := hw.typ == 257 || hw.typ == 259 // cslip, cslip6
		b = fmt.Appendf(b, "        RX packets %d  bytes %d (%s)\n", s.RxPackets, s.RxBytes, byteUnit(s.RxBytes))
		if compress {
			b = fmt.Appendf(b, "        RX compressed:%d\n", s.RxCompressed)
		}
		b = fmt.Appendf(b, "        RX errors %d  dropped %d  overruns %d  frame %d\n", s.RxErrors, s.RxDropped, s.RxFIFO, s.RxFrame)
		b = fmt.Appendf(b, "        TX packets %d  bytes %d (%s)\n", s.TxPackets, s.TxBytes, byteUnit(s.TxBytes))
		if compress {
			b = fmt.Appendf(b, "        TX compressed %d\n", s.TxCompressed)
		}
		b = fmt.Appendf(b, "        TX errors %d  dropped %d overruns %d  carrier %d  collisions %d\n", s.TxErrors, s.TxDropped, s.TxFIFO, s.TxCarrier, s.Collisions)
	}

	m := ifc.Map
	if m.IRQ != 0 || m.MemStart != 0 || m.DMA != 0 || m.BaseAddr >= 0x100 {
		b = append(b, "        device "...)
		if m.IRQ != 0 {
			b = fmt.Appendf(b, "interrupt %d  ", m.IRQ)
		}
		if m.BaseAddr >= 0x100 {
			b = fmt.Appendf(b, "base 0x%x  ", m.BaseAddr)
		}
		if m.MemStart != 0 {
			b = fmt.Appendf(b, "memory 0x%x-%x  ", m.MemStart, m.MemEnd)
		}
		if m.DMA != 0 {
			b = fmt.Appendf(b, "  dma 0x%x", m.DMA)
		}
		b = append(b, '\n')
	}
	return append(b, '\n')
}

// inet6Line is one "inet6" line of the long format.
type inet6Line struct {
	addr      netip.Addr
	prefixLen int32
	scope     uint32
	tags      []string // compat, global, link, site, host
}

// inet6State holds the two variables of ife_print_long's if_inet6 loop
// that the parser cannot know: the scope, from which a printed line
// subtracts the IPv4-compatible bit, and the address, which is set only for
// lines of the interface printed and stays when inet_pton fails. Like the C
// stack slots, they carry over from one interface to the next.
type inet6State struct {
	scope uint32
	addr  [16]byte
}

// lines replays the loop over /proc/net/if_inet6 for one interface. For a
// well-formed file this is simply the lines of the interface, in file
// order.
func (st *inet6State) lines(inet6 []snapshot.IfInet6, name string) []inet6Line {
	var lines []inet6Line
	for i := range inet6 {
		a := &inet6[i]
		if a.Fields >= 11 { // the scope is the 11th conversion
			st.scope = a.Scope
		}
		if a.Device != name {
			continue
		}
		if a.AddrOK {
			st.addr = a.Addr.As16()
		}
		scope := st.scope
		l := inet6Line{addr: netip.AddrFrom16(st.addr), prefixLen: int32(a.PrefixLen), scope: scope, tags: []string{}}
		if scope&0x80 != 0 {
			l.tags = append(l.tags, "compat")
			scope -= 0x80
			st.scope = scope
		}
		if scope == 0 {
			l.tags = append(l.tags, "global")
		}
		for _, t := range []struct {
			bit  uint32
			name string
		}{{0x20, "link"}, {0x40, "site"}, {0x10, "host"}} {
			if scope&t.bit != 0 {
				l.tags = append(l.tags, t.name)
			}
		}
		lines = append(lines, l)
	}
	return lines
}

func hwAllZero(b []byte, n int) bool {
	for i := 0; i < n && i < len(b); i++ {
		if b[i] != 0 {
			return false
		}
	}
	return true
}

// InterfaceJSON is the stable machine form of one netstat -i row (--json).
// The counters are absent for a name that is not in /proc/net/dev (an
// alias label); the fields of the long format (-ie) are only present with
// -e. They are the kernel's counters, also for a 15-byte name, for which
// netstat's text shows zeros.
type InterfaceJSON struct {
	Name      string   `json:"iface"`
	MTU       int32    `json:"mtu"`
	RxOK      *uint64  `json:"rx_ok,omitempty"`
	RxErr     *uint64  `json:"rx_err,omitempty"`
	RxDrp     *uint64  `json:"rx_drp,omitempty"`
	RxOvr     *uint64  `json:"rx_ovr,omitempty"`
	TxOK      *uint64  `json:"tx_ok,omitempty"`
	TxErr     *uint64  `json:"tx_err,omitempty"`
	TxDrp     *uint64  `json:"tx_drp,omitempty"`
	TxOvr     *uint64  `json:"tx_ovr,omitempty"`
	Flags     string   `json:"flags"`      // the Flg column: "BMRU"
	FlagNames []string `json:"flag_names"` // ["UP","BROADCAST","RUNNING","MULTICAST"]

	// -e only.
	FlagsValue   *int16           `json:"flags_value,omitempty"` // the signed 16-bit flag word
	Inet         *InterfaceInet   `json:"inet,omitempty"`
	Inet6        []InterfaceInet6 `json:"inet6,omitzero"`
	HWType       string           `json:"hw_type,omitempty"` // ether, loop, unspec, ...
	HWAddress    string           `json:"hw_address,omitempty"`
	TxQueueLen   *int32           `json:"tx_queue_len,omitempty"`
	RxBytes      *uint64          `json:"rx_bytes,omitempty"`
	TxBytes      *uint64          `json:"tx_bytes,omitempty"`
	RxFrame      *uint64          `json:"rx_frame,omitempty"`
	TxCarrier    *uint64          `json:"tx_carrier,omitempty"`
	TxCollisions *uint64          `json:"tx_collisions,omitempty"`
}

// InterfaceInet is the IPv4 address of an interface label.
type InterfaceInet struct {
	Address     string `json:"address"`
	Netmask     string `json:"netmask"`
	Broadcast   string `json:"broadcast,omitempty"`   // only with the BROADCAST flag
	Destination string `json:"destination,omitempty"` // only with the POINTOPOINT flag
}

// InterfaceInet6 is one line of /proc/net/if_inet6 for the interface.
type InterfaceInet6 struct {
	Address   string   `json:"address"`
	PrefixLen int32    `json:"prefix_len"`
	ScopeID   uint32   `json:"scope_id"`
	Scope     []string `json:"scope"` // compat, global, link, site, host
}

// NewInterfaceJSON builds the JSON row of an interface; kernel are its
// counters as the kernel gave them (nil: none), long adds the -e fields,
// host6 formats IPv6 addresses.
func NewInterfaceJSON(ifc *snapshot.Interface, kernel *snapshot.NetDevStats, inet6 []snapshot.IfInet6, long bool, host6 func(netip.Addr) string) InterfaceJSON {
	j := InterfaceJSON{
		Name: Escape(ifc.Name), MTU: ifc.MTU,
		Flags: FlagLetters(ifc.Flags), FlagNames: FlagNames(ifc.Flags),
	}
	if s := kernel; s != nil {
		j.RxOK, j.RxErr, j.RxDrp, j.RxOvr = &s.RxPackets, &s.RxErrors, &s.RxDropped, &s.RxFIFO
		j.TxOK, j.TxErr, j.TxDrp, j.TxOvr = &s.TxPackets, &s.TxErrors, &s.TxDropped, &s.TxFIFO
		if long {
			j.RxBytes, j.TxBytes, j.RxFrame = &s.RxBytes, &s.TxBytes, &s.RxFrame
			j.TxCarrier, j.TxCollisions = &s.TxCarrier, &s.Collisions
		}
	}
	if !long {
		return j
	}
	fv := int16(ifc.Flags)
	j.FlagsValue = &fv
	if ifc.HasIPv4 {
		in := &InterfaceInet{Address: inet4Text(ifc.Addr), Netmask: inet4Text(ifc.Netmask)}
		if ifc.Flags&snapshot.IffBroadcast != 0 {
			in.Broadcast = inet4Text(ifc.BroadAddr)
		}
		if ifc.Flags&snapshot.IffPointToPt != 0 {
			in.Destination = inet4Text(ifc.DstAddr)
		}
		j.Inet = in
	}
	j.Inet6 = []InterfaceInet6{}
	var st inet6State
	for _, l := range st.lines(inet6, ifc.Name) {
		j.Inet6 = append(j.Inet6, InterfaceInet6{Address: host6(l.addr), PrefixLen: l.prefixLen, ScopeID: l.scope, Scope: l.tags})
	}
	hw := lookupHW(ifc.HWType)
	j.HWType = hw.name
	if hw.print != nil {
		addr := hwBytes(ifc)
		if !(hw.suppressNull && hwAllZero(addr, hw.alen)) {
			j.HWAddress = hw.print(addr)
		}
	}
	if ifc.TxQueueLen != -1 {
		q := ifc.TxQueueLen
		j.TxQueueLen = &q
	}
	return j
}
