package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The interface table (netstat -i) comes from three places, read the way
// net-tools' lib/interface.c reads them: the names and counters of
// /proc/net/dev, the IPv4 labels that SIOCGIFCONF lists (alias labels such
// as "v0:1" exist only there), and, per name, the SIOCGIF* ioctls. The long
// format adds /proc/net/if_inet6.

// NetDevStats are the counters of one /proc/net/dev line.
type NetDevStats struct {
	RxBytes, RxPackets, RxErrors, RxDropped, RxFIFO, RxFrame, RxCompressed, RxMulticast  uint64
	TxBytes, TxPackets, TxErrors, TxDropped, TxFIFO, Collisions, TxCarrier, TxCompressed uint64
}

// NetDev is one interface of /proc/net/dev.
type NetDev struct {
	Name string
	// Stats are the counters as netstat reads them (zero for a 15-byte
	// name, see parseNetDev); Kernel are the counters the line has, read
	// after the whole name.
	Stats, Kernel NetDevStats
}

// ReadNetDev reads /proc/net/dev (ROOT/net/dev). Opening errors are
// returned as they are; on a read error the interfaces read before it are
// returned with it.
func (fs FS) ReadNetDev() ([]NetDev, error) {
	path := fs.Path("net", "dev")
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseNetDev(f, path)
}

// netDevChunk is what interface.c's fgets(buf, 512, f) reads at most: longer
// lines reach its parser in pieces, each taken for an interface line.
const netDevChunk = 512 - 1

// parseNetDev parses /proc/net/dev text read from path (used in errors
// only) like interface.c's if_readlist_proc, with Debian 12's fixed
// get_name (CVE-2025-46836):
//
//   - the first two pieces are the header; the second decides the column
//     layout: with "compressed" 16 counters, with "bytes" 13 (no
//     compressed, no multicast), else 11 (no bytes either);
//   - the name is the text after leading white space up to white space or
//     ':', at most 15 bytes; an alias "name:digits:" keeps "name:digits";
//     the ':' after the name is skipped, but a name cut at 15 bytes leaves
//     the rest of it in front of the numbers, so none of them is read: a
//     15-byte interface name always shows zero counters, as on Debian 12;
//   - the counters are read with sscanf: they stop at the first field that
//     is not a number, and the rest keep their values;
//   - a name seen again updates the first entry.
func parseNetDev(r io.Reader, path string) ([]NetDev, error) {
	c := newFgetsReader(r, 4096)
	layout := 1
	var devs []NetDev
	index := map[string]int{}
	for n := 0; ; n++ {
		b, err := c.next(netDevChunk)
		if err == io.EOF {
			return devs, nil
		}
		if err != nil {
			return devs, readError(path, err)
		}
		if n < 2 {
			layout = netDevLayout(b)
			continue
		}
		name, rest := netDevName(b, ifNameMax)
		i, ok := index[name]
		if !ok {
			i = len(devs)
			index[name] = i
			devs = append(devs, NetDev{Name: name})
		}
		scanNetDevFields(b, rest, layout, &devs[i].Stats)
		_, rest = netDevName(b, len(b))
		scanNetDevFields(b, rest, layout, &devs[i].Kernel)
	}
}

// netDevLayout is interface.c's procnetdev_version.
func netDevLayout(header []byte) int {
	switch {
	case bytes.Contains(header, []byte("compressed")):
		return 3
	case bytes.Contains(header, []byte("bytes")):
		return 2
	}
	return 1
}

// ifNameMax is IFNAMSIZ - 1.
const ifNameMax = 15

// netDevName is Debian's get_name with at most max bytes of name
// (ifNameMax there): the name and where the numbers start.
func netDevName(b []byte, max int) (string, int) {
	p := skipSpace(b, 0)
	name := make([]byte, 0, ifNameMax)
	for p < len(b) && !isSpace(b[p]) && len(name) < max {
		if b[p] == ':' {
			dot := p
			p++
			for p < len(b) && isDigit(b[p]) {
				p++
			}
			if p < len(b) && b[p] == ':' {
				p = dot
				name = append(name, b[p])
				p++
				for p < len(b) && isDigit(b[p]) && len(name) < max {
					name = append(name, b[p])
					p++
				}
			} else {
				p = dot
			}
			if p < len(b) && b[p] == ':' {
				p++
			}
			break
		}
		name = append(name, b[p])
		p++
	}
	return string(name), p
}

// netDevColumns are get_dev_fields' sscanf formats per layout, as indexes
// into (*NetDevStats).fields.
var netDevColumns = [...][]uint8{
	1: {1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14},
	2: {0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14},
	3: {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
}

// fields lists the counters in /proc/net/dev's column order.
func (s *NetDevStats) fields() [16]*uint64 {
	return [16]*uint64{&s.RxBytes, &s.RxPackets, &s.RxErrors, &s.RxDropped, &s.RxFIFO, &s.RxFrame, &s.RxCompressed, &s.RxMulticast,
		&s.TxBytes, &s.TxPackets, &s.TxErrors, &s.TxDropped, &s.TxFIFO, &s.Collisions, &s.TxCarrier, &s.TxCompressed}
}

// scanNetDevFields is get_dev_fields: sscanf from b[i:], then the counters
// a layout lacks are zeroed (rx_multicast, and the byte counts for 11
// columns; the compressed counters are left alone, as there).
func scanNetDevFields(b []byte, i, layout int, s *NetDevStats) {
	f := s.fields()
	for _, col := range netDevColumns[layout] {
		v, _, end, ok := scanDec(b, i)
		if !ok {
			break
		}
		*f[col], i = v, end
	}
	switch layout {
	case 2:
		s.RxMulticast = 0
	case 1:
		s.RxBytes, s.TxBytes, s.RxMulticast = 0, 0, 0
	}
}

// IfInet6 is what one fscanf call of ife_print_long made of
// /proc/net/if_inet6: normally one whole line.
type IfInet6 struct {
	// Addr is the address when the eight groups read in this call make
	// one (inet_pton); AddrOK is false when they do not.
	Addr      netip.Addr
	AddrOK    bool
	Index     uint32
	PrefixLen uint32
	Scope     uint32 // IPV6_ADDR_* scope bits, 0x80 for IPv4-compatible
	Flags     uint32
	Device    string
	// Fields is how many of the 13 conversions this call made (13 for a
	// good line). The values of the others are those of the previous
	// call, as netstat's variables keep them.
	Fields int
}

// IfInet6Fields is the number of conversions of a good if_inet6 line.
const IfInet6Fields = 13

// ReadIfInet6 reads /proc/net/if_inet6 (ROOT/net/if_inet6). A missing file
// (a kernel without IPv6) is an empty result.
func (fs FS) ReadIfInet6() ([]IfInet6, error) {
	path := fs.Path("net", "if_inet6")
	b, err := ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseIfInet6(b), nil
}

// ifInet6Format is ife_print_long's fscanf format.
var ifInet6Format = mustScanf("%4s%4s%4s%4s%4s%4s%4s%4s %08x %02x %02x %02x %20s\n")

// parseIfInet6 reads if_inet6 text the way ife_print_long does: a loop of
// fscanf(f, ifInet6Format) over the whole stream, until it returns EOF. A
// call that stops early still yields an entry, made of the values it did
// convert and those left from the previous call. The eight address groups
// are joined with ':' for inet_pton. (What a short first call keeps is
// whatever netstat's stack held; here it is zero.)
func parseIfInet6(b []byte) []IfInet6 {
	var (
		out     []IfInet6
		groups  [8][]byte
		cur     IfInet6
		vals    [IfInet6Fields]scanVal
		scratch []byte
	)
	for p := 0; ; {
		var n int
		n, p = cScanf(b, p, ifInet6Format, vals[:])
		if n <= 0 {
			return out // EOF before the first conversion: fscanf says EOF
		}
		for k, v := range vals[:n] {
			switch {
			case k < 8:
				groups[k] = v.str
			case k == 8:
				cur.Index = uint32(v.num)
			case k == 9:
				cur.PrefixLen = uint32(v.num)
			case k == 10:
				cur.Scope = uint32(v.num)
			case k == 11:
				cur.Flags = uint32(v.num)
			case k == 12:
				// fscanf copies a NUL; the C string ends there.
				dev := v.str
				if i := bytes.IndexByte(dev, 0); i >= 0 {
					dev = dev[:i]
				}
				cur.Device = string(dev)
			}
		}
		cur.Addr, cur.AddrOK = groups6(&groups, &scratch)
		cur.Fields = n
		out = append(out, cur)
	}
}

// InterfaceNames is the list netstat -i walks: the names of /proc/net/dev
// in file order, then the SIOCGIFCONF labels, each inserted into a list kept
// sorted by CompareInterfaceNames (interface.c's if_cache_add: the insertion
// point is searched from the end, equal names are merged).
func InterfaceNames(devs []NetDev, labels []string) []string {
	var list []string
	add := func(name string) {
		i := len(list)
		for ; i > 0; i-- {
			c := CompareInterfaceNames(list[i-1], name)
			if c == 0 {
				return
			}
			if c < 0 {
				break
			}
		}
		list = append(list, "")
		copy(list[i+1:], list[i:])
		list[i] = name
	}
	for _, d := range devs {
		add(d.Name)
	}
	for _, l := range labels {
		add(l)
	}
	return list
}

// CompareInterfaceNames is net-tools' nstrcmp, an order that knows about
// numbers and alias suffixes: eth1 < eth13 < eth20 < eth100, eth0 < eth0:1 <
// eth0:2 < eth1, eth01 < eth1. It returns -1, 0 or 1 (0 only for equal
// names).
func CompareInterfaceNames(a, b string) int {
	a, aAlias, aHas := cutAlias(a)
	b, bAlias, bHas := cutAlias(b)
	ai, bi := lastNonDigit(a), lastNonDigit(b)
	if c := bytes.Compare([]byte(a[:min(ai, bi)]), []byte(b[:min(ai, bi)])); c != 0 {
		return c
	}
	switch {
	case ai > bi:
		return 1
	case ai < bi:
		return -1
	}
	if c := cmpInt(atoi(a[ai:]), atoi(b[bi:])); c != 0 {
		return c
	}
	if a != b {
		return cmpStrings(a, b)
	}
	av, bv := int32(-1), int32(-1)
	if aHas {
		av = atoi(aAlias)
	}
	if bHas {
		bv = atoi(bAlias)
	}
	if c := cmpInt(av, bv); c != 0 {
		return c
	}
	if aHas && bHas {
		return cmpStrings(aAlias, bAlias)
	}
	return 0
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cutAlias is nstrcmp.c's cutalias: a trailing ":digits" (at least one
// digit) is split off.
func cutAlias(name string) (stem, alias string, ok bool) {
	digit := false
	for pos := len(name); pos > 0; pos-- {
		c := name[pos-1]
		if c == ':' && digit {
			return name[:pos-1], name[pos:], true
		}
		if !isDigit(c) {
			break
		}
		digit = true
	}
	return name, "", false
}

// lastNonDigit is nstrcmp.c's rindex_nondigit: the length of name without
// its trailing digits.
func lastNonDigit(name string) int {
	pos := len(name)
	for ; pos > 0; pos-- {
		if !isDigit(name[pos-1]) {
			return pos
		}
	}
	return 0
}

// atoi is glibc's atoi, (int)strtol(s, NULL, 10), for the digit strings
// nstrcmp gives it: strtol saturates at LONG_MAX, the cast keeps the low 32
// bits.
func atoi(s string) int32 {
	_, v, _, ok := scanDec([]byte(s), 0)
	if !ok {
		return 0
	}
	return int32(v)
}

// Interface flags (the 16 bits of struct ifreq's ifr_flags).
const (
	IffUp         = 0x1
	IffBroadcast  = 0x2
	IffDebug      = 0x4
	IffLoopback   = 0x8
	IffPointToPt  = 0x10
	IffNoTrailers = 0x20
	IffRunning    = 0x40
	IffNoARP      = 0x80
	IffPromisc    = 0x100
	IffAllMulti   = 0x200
	IffMaster     = 0x400
	IffSlave      = 0x800
	IffMulticast  = 0x1000
	IffPortSel    = 0x2000
	IffAutoMedia  = 0x4000
	IffDynamic    = 0x8000
)

// Sockaddr4 is an IPv4 socket address as an ioctl returned it. Family is
// AF_INET when the kernel filled it, 0 when the ioctl failed.
type Sockaddr4 struct {
	Family uint16
	Addr   [4]byte
}

// IfMap is struct ifmap (SIOCGIFMAP).
type IfMap struct {
	MemStart, MemEnd uint64
	BaseAddr         uint16
	IRQ, DMA, Port   uint8
}

// IfConfig is what interface.c's if_fetch asks the kernel about one name.
type IfConfig struct {
	Flags  uint16 // ifr_flags: the low 16 bits of the device flags
	HWType uint16 // ARPHRD_* (ifr_hwaddr.sa_family)
	// HWAddr is the start of the hardware address: net-tools copies only
	// 8 bytes of sa_data; zero when SIOCGIFHWADDR failed.
	HWAddr [8]byte
	MTU    int32 // 0 when SIOCGIFMTU failed
	// Outfill and Keepalive are the SLIP timers (SIOCGOUTFILL,
	// SIOCGKEEPALIVE), asked only of SLIP-type devices.
	Outfill, Keepalive int32
	Map                IfMap
	TxQueueLen         int32 // -1 when SIOCGIFTXQLEN failed
	HasIPv4            bool  // SIOCGIFADDR found an IPv4 address with this label
	Addr               Sockaddr4
	DstAddr            Sockaddr4
	BroadAddr          Sockaddr4
	Netmask            Sockaddr4
}

// Interface is one row of netstat -i.
type Interface struct {
	Name string
	IfConfig
	Stats *NetDevStats // nil: the name is not in /proc/net/dev (alias labels)
}

// InterfaceKernel asks the kernel about interfaces; Ioctls is the real one.
type InterfaceKernel interface {
	// Labels lists the labels that have an IPv4 address (SIOCGIFCONF).
	Labels() ([]string, error)
	// Fetch does if_fetch's ioctls for a name. Only the flags are
	// required: their error (a syscall.Errno) is returned.
	Fetch(name string) (IfConfig, error)
	Close() error
}

// Ioctls is an InterfaceKernel for the caller's network namespace, through
// an AF_INET datagram socket.
type Ioctls struct {
	fd int
}

// OpenIoctls opens the socket the ioctls go through.
func OpenIoctls() (*Ioctls, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &Ioctls{fd: fd}, nil
}

// Close closes the socket; closing twice is fine.
func (k *Ioctls) Close() error {
	if k.fd < 0 {
		return nil
	}
	err := unix.Close(k.fd)
	k.fd = -1
	return err
}

// ifreq is struct ifreq: a name and a 24-byte union.
type ifreq struct {
	name [unix.IFNAMSIZ]byte
	u    [24]byte
}

// setName is safe_strncpy(ifr.ifr_name, name, IFNAMSIZ).
func (r *ifreq) setName(name string) {
	r.name = [unix.IFNAMSIZ]byte{}
	copy(r.name[:unix.IFNAMSIZ-1], name)
	if i := bytes.IndexByte(r.name[:], 0); i >= 0 {
		clear(r.name[i:])
	}
}

func (k *Ioctls) ioctl(req uint, p unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(k.fd), uintptr(req), uintptr(p))
	if e != 0 {
		return e
	}
	return nil
}

// Labels does if_readconf's SIOCGIFCONF: the buffer grows until the
// answer no longer fills it.
func (k *Ioctls) Labels() ([]string, error) {
	const reqSize = int(unsafe.Sizeof(ifreq{}))
	for n := 30; ; n *= 2 {
		buf := make([]byte, n*reqSize)
		ifc := struct {
			len int32
			_   int32
			buf uintptr
		}{len: int32(len(buf)), buf: uintptr(unsafe.Pointer(&buf[0]))}
		err := k.ioctl(unix.SIOCGIFCONF, unsafe.Pointer(&ifc))
		runtime.KeepAlive(buf)
		if err != nil {
			return nil, err
		}
		if int(ifc.len) == len(buf) {
			continue
		}
		var labels []string
		for off := 0; off+reqSize <= int(ifc.len); off += reqSize {
			name := buf[off : off+unix.IFNAMSIZ]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			labels = append(labels, string(name))
		}
		return labels, nil
	}
}

// Fetch does if_fetch's ioctls in its order, on one struct ifreq whose
// union keeps what the previous call left (SIOCGIFADDR's answer is the
// address the following SIOCGIFDSTADDR, SIOCGIFBRDADDR and SIOCGIFNETMASK
// match against, as the kernel's devinet_ioctl does).
func (k *Ioctls) Fetch(name string) (IfConfig, error) {
	var c IfConfig
	var r ifreq
	ne := binary.NativeEndian
	r.setName(name)
	if err := k.ioctl(unix.SIOCGIFFLAGS, unsafe.Pointer(&r)); err != nil {
		return c, err
	}
	c.Flags = ne.Uint16(r.u[0:2])
	r.setName(name)
	if k.ioctl(unix.SIOCGIFHWADDR, unsafe.Pointer(&r)) == nil {
		copy(c.HWAddr[:], r.u[2:10])
	}
	// On failure the type is what is left in the union, as in net-tools.
	c.HWType = ne.Uint16(r.u[0:2])
	r.setName(name)
	if k.ioctl(unix.SIOCGIFMTU, unsafe.Pointer(&r)) == nil {
		c.MTU = int32(ne.Uint32(r.u[0:4]))
	}
	switch c.HWType {
	case 256, 257, 258, 259, 264: // ARPHRD_SLIP, CSLIP, SLIP6, CSLIP6, ADAPT
		// The SLIP driver's private ioctls (linux/if_slip.h) answer in
		// the union's first unsigned long; net-tools keeps an int.
		for _, q := range []struct {
			req uint
			dst *int32
		}{{unix.SIOCDEVPRIVATE + 3, &c.Outfill}, {unix.SIOCDEVPRIVATE + 1, &c.Keepalive}} {
			r.setName(name)
			if k.ioctl(q.req, unsafe.Pointer(&r)) == nil {
				*q.dst = int32(ne.Uint64(r.u[0:8]))
			}
		}
	}
	for range 2 { // net-tools asks twice
		r.setName(name)
		if k.ioctl(unix.SIOCGIFMAP, unsafe.Pointer(&r)) == nil {
			c.Map = IfMap{
				MemStart: ne.Uint64(r.u[0:8]), MemEnd: ne.Uint64(r.u[8:16]),
				BaseAddr: ne.Uint16(r.u[16:18]), IRQ: r.u[18], DMA: r.u[19], Port: r.u[20],
			}
		} else {
			c.Map = IfMap{}
		}
	}
	r.setName(name)
	c.TxQueueLen = -1
	if k.ioctl(unix.SIOCGIFTXQLEN, unsafe.Pointer(&r)) == nil {
		c.TxQueueLen = int32(ne.Uint32(r.u[0:4]))
	}
	r.setName(name)
	ne.PutUint16(r.u[0:2], unix.AF_INET) // sa_family: the kernel then matches the label's addresses too
	if k.ioctl(unix.SIOCGIFADDR, unsafe.Pointer(&r)) != nil {
		return c, nil
	}
	c.HasIPv4 = true
	c.Addr = sockaddr4(r.u[:])
	for _, q := range []struct {
		req uint
		dst *Sockaddr4
	}{{unix.SIOCGIFDSTADDR, &c.DstAddr}, {unix.SIOCGIFBRDADDR, &c.BroadAddr}, {unix.SIOCGIFNETMASK, &c.Netmask}} {
		r.setName(name)
		if k.ioctl(q.req, unsafe.Pointer(&r)) == nil {
			*q.dst = sockaddr4(r.u[:])
		}
	}
	return c, nil
}

func sockaddr4(u []byte) Sockaddr4 {
	// struct sockaddr_in: family (host order), port, address.
	return Sockaddr4{Family: binary.NativeEndian.Uint16(u[0:2]), Addr: [4]byte(u[4:8])}
}
