package snapshot

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
)

// EachInet reads the internet socket table t from ROOT/net/t.File()
// (/proc/net/tcp, tcp6, udp, udp6, udplite, udplite6, raw or raw6) and calls
// fn once per data line, in file order; the header line is skipped.
//
// For a line netstat's tcp_do_one, udp_do_one or raw_do_one accepts, fn gets
// the socket and a nil *LineError. The *Socket is reused for the next line:
// fn must copy what it keeps (a Socket value copy is enough). For a line
// netstat would report as bogus ("warning, got bogus tcp line."), fn gets a
// nil socket and a *LineError, and the walk goes on.
//
// The file is streamed, never held whole, and a good line costs no
// allocation. An error opening the file is returned as is (an *fs.PathError:
// test it with errors.Is(err, fs.ErrNotExist) or errors.Is(err,
// syscall.EACCES), the two errors netstat takes for "no support"); so is a
// read error.
func (fs FS) EachInet(t Table, fn func(s *Socket, bad *LineError)) error {
	if _, err := inetMinFields(t); err != nil {
		return err
	}
	path := fs.Path("net", t.File())
	f, err := OpenFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return parseInet(f, path, t, fn)
}

// inetMinFields is how many conversions of netstat's sscanf must succeed for
// a line of t not to be bogus: 11 in tcp_do_one, 10 in udp_do_one (UDP and
// UDP-Lite) and raw_do_one.
func inetMinFields(t Table) (int, error) {
	if t.Family != FamilyInet && t.Family != FamilyInet6 {
		return 0, fmt.Errorf("snapshot: table %s/%s is not an internet socket table", t.Proto, t.Family)
	}
	switch t.Proto {
	case ProtoTCP:
		return 11, nil
	case ProtoUDP, ProtoUDPLite, ProtoRaw:
		return 10, nil
	}
	return 0, fmt.Errorf("snapshot: table %s/%s is not an internet socket table", t.Proto, t.Family)
}

// parseInet parses the text of an internet socket table read from path (used
// in errors only) for EachInet.
func parseInet(r io.Reader, path string, t Table, fn func(s *Socket, bad *LineError)) error {
	need, err := inetMinFields(t)
	if err != nil {
		return err
	}
	lr := newFgetsReader(r, lineBufSize)
	var s Socket
	for first := true; ; first = false {
		b, err := lr.next(fgetsMax)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(path, err)
		}
		if first {
			continue // netstat skips its line 0 whatever it holds
		}
		s = Socket{Proto: t.Proto, Family: t.Family}
		if n, stop := scanInet(b, &s); n < need {
			fn(nil, stop.lineError(b, path, lr.line, inetFields[:]))
			continue
		}
		fn(&s, nil)
	}
}

// The conversions of netstat's format
//
//	"%d: %64[0-9A-Fa-f]:%X %64[0-9A-Fa-f]:%X %X %lX:%lX %X:%lX %lX %d %d %lu %*s\n"
//
// grouped into the columns of the kernel's header, for error messages.
var inetFields = [...]string{
	"sl",
	"local_address", "local_address",
	"rem_address", "rem_address",
	"st",
	"tx_queue:rx_queue", "tx_queue:rx_queue",
	"tr:tm->when", "tr:tm->when",
	"retrnsmt",
	"uid",
	"timeout",
	"inode",
}

// scanStop says why a line's sscanf stopped early: the column named
// fields[field] (which starts at byte start) did not convert.
type scanStop struct {
	field int
	start int
	msg   string
}

func (st scanStop) lineError(b []byte, path string, line int, fields []string) *LineError {
	e := &LineError{Path: path, Line: line, Field: fields[st.field], Token: token(b, st.start), Msg: st.msg}
	if e.Token == "" {
		e.Msg = "missing"
	}
	return e
}

// colonMsg explains a ':' the format wants at b[i] but the line lacks: a
// field that ends early, or one with a stray character (bad).
func colonMsg(b []byte, i int, bad string) string {
	if i >= len(b) || isSpace(b[i]) {
		return `missing ":"`
	}
	return bad
}

// scanInet does netstat's sscanf on one line, storing each conversion into s
// as it succeeds, then decodes the addresses the way tcp_do_one does. It
// returns the number of conversions that succeeded (the sscanf result) and,
// when that is not all 14, why it stopped.
//
// Each field holds what netstat's C variable holds: State is saturated at 255
// (netstat names no state beyond that either), ports keep their low 16 bits
// (what htons keeps), TimerCode, UID and Timeout are C ints (a uid printed as
// 4294967295 reads as -1, as netstat shows it).
func scanInet(b []byte, s *Socket) (n int, stop scanStop) {
	var (
		v   uint64
		sv  int64
		i   int
		col int // start of the column being read, for errors
		ok  bool
	)
	// "%d:" (sl)
	if _, _, i, ok = scanDec(b, 0); !ok {
		return 0, scanStop{0, 0, "invalid number"}
	}
	if i >= len(b) || b[i] != ':' {
		return 1, scanStop{0, 0, colonMsg(b, i, "invalid number")}
	}
	i++
	// " %64[0-9A-Fa-f]:%X" twice (local_address, rem_address)
	var addr [2][]byte
	var words [2][4]uint32
	var port [2]uint16
	for k := range 2 {
		conv := 1 + 2*k // conversions done before this column
		col = skipSpace(b, i)
		end, w, ok := scanHexSet(b, col)
		if !ok {
			return conv, scanStop{conv, col, "invalid hex"}
		}
		addr[k], words[k] = b[col:end], w
		if end >= len(b) || b[end] != ':' {
			msg := colonMsg(b, end, "invalid hex")
			if end < len(b) && hexVal[b[end]] != noHex {
				msg = "more than 64 hex digits"
			}
			return conv + 1, scanStop{conv, col, msg}
		}
		if v, i, ok = scanHex(b, end+1); !ok {
			return conv + 1, scanStop{conv, col, "invalid hex"}
		}
		port[k] = uint16(v)
	}
	// " %X" (st)
	col = skipSpace(b, i)
	if v, i, ok = scanHex(b, col); !ok {
		return 5, scanStop{5, col, "invalid hex"}
	}
	s.State = uint8(min(v&0xffffffff, 255))
	// " %lX:%lX" (tx_queue:rx_queue)
	col = skipSpace(b, i)
	if s.TxQueue, i, ok = scanHex(b, col); !ok {
		return 6, scanStop{6, col, "invalid hex"}
	}
	if i >= len(b) || b[i] != ':' {
		return 7, scanStop{6, col, colonMsg(b, i, "invalid hex")}
	}
	if s.RxQueue, i, ok = scanHex(b, i+1); !ok {
		return 7, scanStop{6, col, "invalid hex"}
	}
	// " %X:%lX" (tr:tm->when)
	col = skipSpace(b, i)
	if v, i, ok = scanHex(b, col); !ok {
		return 8, scanStop{8, col, "invalid hex"}
	}
	s.TimerCode = int64(int32(uint32(v)))
	if i >= len(b) || b[i] != ':' {
		return 9, scanStop{8, col, colonMsg(b, i, "invalid hex")}
	}
	if s.TimerWhen, i, ok = scanHex(b, i+1); !ok {
		return 9, scanStop{8, col, "invalid hex"}
	}
	// Ten conversions: a UDP or raw line is good whatever follows.
	decodeAddrs(addr, words, port, s)
	// " %lX" (retrnsmt)
	col = skipSpace(b, i)
	if s.Retransmits, i, ok = scanHex(b, col); !ok {
		return 10, scanStop{10, col, "invalid hex"}
	}
	// " %d %d" (uid, timeout)
	col = skipSpace(b, i)
	if _, sv, i, ok = scanDec(b, col); !ok {
		return 11, scanStop{11, col, "invalid number"}
	}
	s.UID = int64(int32(sv))
	col = skipSpace(b, i)
	if _, sv, i, ok = scanDec(b, col); !ok {
		return 12, scanStop{12, col, "invalid number"}
	}
	s.Timeout = int64(int32(sv))
	// " %lu" (inode)
	col = skipSpace(b, i)
	if s.Inode, _, _, ok = scanDec(b, col); !ok {
		return 13, scanStop{13, col, "invalid number"}
	}
	return 14, scanStop{}
}

// decodeAddrs turns the two hex addresses into s.Local and s.Remote the way
// tcp_do_one (and udp_do_one, raw_do_one) do: the length of the LOCAL text
// alone decides the family of both. Longer than 8 digits: IPv6, read as
// "%08X%08X%08X%08X", four 32-bit words in host byte order (little endian:
// each 8-digit group is byte-reversed); groups missing from a short text keep
// the previous value (zero for the local address, the local address's word
// for the remote one, since netstat reuses one in6_addr). Otherwise IPv4, one
// 32-bit number in host byte order read with "%X" ("0100007F" = 127.0.0.1); a
// longer remote text then converts like strtoul and keeps the low 32 bits.
//
// words holds each text's 8-digit groups as scanHexSet read them.
func decodeAddrs(addr [2][]byte, words [2][4]uint32, port [2]uint16, s *Socket) {
	if len(addr[0]) > 8 {
		var a [16]byte
		for k := range 2 {
			for w := 0; w < 4 && 8*w < len(addr[k]); w++ {
				binary.LittleEndian.PutUint32(a[4*w:], words[k][w])
			}
			ap := netip.AddrPortFrom(netip.AddrFrom16(a), port[k])
			if k == 0 {
				s.Local = ap
			} else {
				s.Remote = ap
			}
		}
		return
	}
	var a [4]byte
	binary.LittleEndian.PutUint32(a[:], words[0][0])
	s.Local = netip.AddrPortFrom(netip.AddrFrom4(a), port[0])
	r := words[1][0]
	if len(addr[1]) > 8 {
		v, _, _ := scanHex(addr[1], 0) // strtoul: hex digits only, saturating
		r = uint32(v)
	}
	binary.LittleEndian.PutUint32(a[:], r)
	s.Remote = netip.AddrPortFrom(netip.AddrFrom4(a), port[1])
}
