package names

// serviceDB holds read_services' three lists. Maps replace net-tools'
// linked lists: add2list prepends and searchlist returns the first match,
// so the entry read last wins, which is what overwriting a map key does.
type serviceDB struct {
	tcp, udp, raw map[uint16]string
}

func newServiceDB() *serviceDB {
	return &serviceDB{
		tcp: make(map[uint16]string),
		udp: make(map[uint16]string),
		raw: make(map[uint16]string),
	}
}

// addService records one getservent entry; entries for other protocols
// (sctp, ddp, dccp, ...) are dropped as read_services drops them.
func (db *serviceDB) addService(name, proto string, port uint16) {
	switch proto {
	case "tcp":
		db.tcp[port] = name
	case "udp":
		db.udp[port] = name
	case "raw":
		db.raw[port] = name
	}
}

// addProtocol records one getprotoent entry in the raw list. net-tools
// stores htons(p_proto) and compares it with htons(port), so only the low
// 16 bits of the protocol number count.
func (db *serviceDB) addProtocol(name string, proto uint16) {
	db.raw[proto] = name
}

// lookup is get_sname without its numeric fallback: the name is copied
// into a 64-byte buffer (cut to 63 bytes), and an empty name counts as
// none.
func (db *serviceDB) lookup(port uint16, proto string) (string, bool) {
	var m map[uint16]string
	switch proto {
	case "tcp":
		m = db.tcp
	case "udp":
		m = db.udp
	case "raw":
		m = db.raw
	default:
		return "", false
	}
	name := cut(m[port], serviceBufLen-1)
	return name, name != ""
}
