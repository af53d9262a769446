package names

import (
	"bufio"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// host4Tests are what netstat prints for these IPv4 addresses given the
// private hosts and networks files (hostsFixture, networksFixture).
var host4Tests = []struct {
	addr, want string
}{
	{"0.0.0.0", "0.0.0.0"},
	{"10.0.0.1", "first-a"},
	{"10.0.0.2", "mapped-v4"},
	{"127.0.0.1", "ns-loopback"},
	{"10.0.0.3", ""},
	{"10.0.0.5", strings.Repeat("a", 126) + "."}, // netstat's 128-byte buffer
	{"10.0.0.7", "10.0.0.7"},
	{"10.0.0.20", "host.example"},
	{"1.2.3.4", "1.2.3.4"},
	{"192.0.2.7", "192.0.2.7"}, // a miss; hosts: files, so no DNS
	{"::ffff:10.0.0.1", "first-a"},
	// First octet 0: a network lookup.
	{"0.1.2.0", "net012"},
	{"0.2.0.0", "netx"},
	{"0.3.0.0", "net3"},
	{"0.4.5.6", "net4"},
	{"0.9.9.9", "0.9.9.9"},
	{"0.0.0.1", "0.0.0.1"},
	// First octet not 0: a host lookup even where /etc/networks names it.
	{"127.0.0.0", "127.0.0.0"},
}

func TestHost4(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	r := New()
	for round := range 2 { // the second round answers from the cache
		for _, tt := range host4Tests {
			if got := r.Host4(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("round %d: Host4(%s) = %q, want %q", round, tt.addr, got, tt.want)
			}
		}
	}
}

// host6Tests are what netstat prints for these IPv6 addresses given the
// private hosts file.
var host6Tests = []struct {
	addr, want string
}{
	{"::", "[::]"},
	{"2001:db8::1", "v6host.example"},
	{"2001:db8::2", "2001:db8::2"}, // 130 bytes: getnameinfo overflows 128
	{"2001:db8::3", strings.Repeat("b", 123) + ".com"},
	{"2001:db8::4", ""},
	{"2001:db8::99", "2001:db8::99"},
	{"::1", "ns-loopback"},
	{"::ffff:10.0.0.2", "mapped-v4"},
	{"::ffff:127.0.0.1", "127.0.0.1"}, // the IPv4 line does not count
	{"::ffff:10.0.0.9", "10.0.0.9"},
	{"::ffff:10.0.0.20", "host.example"},
	{"::ffff:10.0.0.21", "cd.ef"}, // fix_v4_address applies to names too
	{"::1.2.3.4", "v4compat"},
	{"::1.2.3.5", "::1.2.3.5"},
	{"fe80::1", "fe80::1"},
	{"fe80::1%lo", "fe80::1"},
	{"10.0.0.9", "10.0.0.9"}, // IPv4 is looked up in its mapped form
}

func TestHost6(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	r := New()
	for round := range 2 {
		for _, tt := range host6Tests {
			if got := r.Host6(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("round %d: Host6(%s) = %q, want %q", round, tt.addr, got, tt.want)
			}
		}
	}
}

func TestHostInvalidAddr(t *testing.T) {
	r := New()
	if got := r.Host4(netip.Addr{}); got != "invalid IP" {
		t.Errorf("Host4(zero Addr) = %q, want %q", got, "invalid IP")
	}
	if got := r.Host6(netip.Addr{}); got != "invalid IP" {
		t.Errorf("Host6(zero Addr) = %q, want %q", got, "invalid IP")
	}
	if got := r.Host4(netip.MustParseAddr("2001:db8::1")); got != "2001:db8::1" {
		t.Errorf("Host4(2001:db8::1) = %q, want the address unchanged", got)
	}
}

// TestServiceFixture checks the service answers for the private services
// and protocols files: in the cgo build, that glibc's getservent and
// getprotoent agree with the parser tests.
func TestServiceFixture(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	r := New()
	for _, tt := range serviceTests {
		name, found := r.Service(tt.port, tt.proto)
		if name != tt.name || found != tt.found {
			t.Errorf("Service(%d, %q) = %q, %v; want %q, %v", tt.port, tt.proto, name, found, tt.name, tt.found)
		}
	}
}

func TestUserFixture(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	r := New()
	for _, tt := range passwdTests {
		name, found := r.User(int64(tt.uid))
		if name != tt.name || found != tt.found {
			t.Errorf("User(%d) = %q, %v; want %q, %v", tt.uid, name, found, tt.name, tt.found)
		}
	}
}

// TestConcurrentLookups runs real lookups from many goroutines (for -race).
func TestConcurrentLookups(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	r := New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, tt := range host4Tests {
				if got := r.Host4(netip.MustParseAddr(tt.addr)); got != tt.want {
					t.Errorf("Host4(%s) = %q, want %q", tt.addr, got, tt.want)
				}
			}
			for _, tt := range host6Tests {
				if got := r.Host6(netip.MustParseAddr(tt.addr)); got != tt.want {
					t.Errorf("Host6(%s) = %q, want %q", tt.addr, got, tt.want)
				}
			}
			if name, _ := r.Service(22, "tcp"); name != "ssh" {
				t.Errorf("Service(22, tcp) = %q, want ssh", name)
			}
			if name, _ := r.User(0); name != "root" {
				t.Errorf("User(0) = %q, want root", name)
			}
		})
	}
	wg.Wait()
}

// nssSources returns the sources /etc/nsswitch.conf lists for db.
func nssSources(t *testing.T, db string) []string {
	t.Helper()
	f, err := os.Open("/etc/nsswitch.conf")
	if err != nil {
		return []string{"files"} // glibc's default for these databases
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "#")
		key, rest, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(key) == db {
			return strings.Fields(rest)
		}
	}
	return []string{"files"}
}

// filesFirst skips t unless the system's db lookups start with the files
// module, so that an answer the files hold is final and nothing is asked
// of the network.
func filesFirst(t *testing.T, db string) {
	t.Helper()
	if src := nssSources(t, db); len(src) == 0 || src[0] != "files" {
		t.Skipf("nsswitch.conf %s: %v does not start with files", db, src)
	}
}

// TestHost4LocalhostMatchesSystem checks Host4(127.0.0.1) on this machine's
// real files against /etc/hosts and getent. It only runs when /etc/hosts
// names 127.0.0.1, so that no lookup reaches DNS.
func TestHost4LocalhostMatchesSystem(t *testing.T) {
	filesFirst(t, "hosts")
	if _, err := os.Stat(nscdSocket); err == nil {
		t.Skipf("%s exists: nscd could answer from DNS", nscdSocket)
	}
	f, err := os.Open("/etc/hosts")
	if err != nil {
		t.Skipf("no /etc/hosts: %v", err)
	}
	localhost := netip.MustParseAddr("127.0.0.1")
	want, found, err := hostsLookup(f, localhost)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Skip("/etc/hosts does not name 127.0.0.1; looking it up would ask DNS")
	}
	want = cut(want, hostBufLen-1)

	if getent, err := exec.LookPath("getent"); err == nil {
		out, err := exec.Command(getent, "hosts", "127.0.0.1").Output()
		if err != nil {
			t.Fatalf("getent hosts 127.0.0.1: %v", err)
		}
		// "ADDRESS CANONICAL-NAME ALIASES..."
		if fields := strings.Fields(string(out)); len(fields) < 2 || fields[1] != want {
			t.Errorf("getent hosts 127.0.0.1 = %q; /etc/hosts says %q", out, want)
		}
	}
	if got := New().Host4(localhost); got != want {
		t.Errorf("Host4(127.0.0.1) = %q, /etc/hosts says %q", got, want)
	}
}

func TestServiceSystem(t *testing.T) {
	r := New()
	tests := []struct {
		port  uint16
		proto string
		want  string
	}{
		{22, "tcp", "ssh"},
		{58, "raw", "ipv6-icmp"},
		{1, "raw", "icmp"},
	}
	for _, tt := range tests {
		if got, ok := r.Service(tt.port, tt.proto); got != tt.want || !ok {
			t.Errorf("Service(%d, %q) = %q, %v; want %q, true", tt.port, tt.proto, got, ok, tt.want)
		}
	}
	for _, proto := range []string{"sctp", "TCP", ""} {
		if got, ok := r.Service(22, proto); ok || got != "" {
			t.Errorf("Service(22, %q) = %q, %v; want \"\", false", proto, got, ok)
		}
	}
}

// TestServiceMatchesFiles compares every port with what the parser makes of
// the system's /etc/services and /etc/protocols (in the cgo build: glibc
// against the parser on real files).
func TestServiceMatchesFiles(t *testing.T) {
	for _, db := range []string{"services", "protocols"} {
		for _, src := range nssSources(t, db) {
			// Debian lists "db files"; without the db module or its
			// database files, glibc falls through to files.
			if src != "files" && !(src == "db" && !exists("/var/lib/misc/"+db+".db")) {
				t.Skipf("nsswitch.conf %s lists %q; the files alone may not be the answer", db, src)
			}
		}
	}
	want := newServiceDB()
	for path, read := range map[string]func(*os.File) error{
		"/etc/services":  func(f *os.File) error { return readServicesFile(f, want.addService) },
		"/etc/protocols": func(f *os.File) error { return readProtocolsFile(f, want.addProtocol) },
	} {
		f, err := os.Open(path)
		if err != nil {
			t.Skipf("no %s: %v", path, err)
		}
		err = read(f)
		f.Close()
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
	}
	r := New()
	for _, proto := range []string{"tcp", "udp", "raw"} {
		for port := range 1 << 16 {
			wantName, wantOK := want.lookup(uint16(port), proto)
			if got, ok := r.Service(uint16(port), proto); got != wantName || ok != wantOK {
				t.Errorf("Service(%d, %q) = %q, %v; files say %q, %v", port, proto, got, ok, wantName, wantOK)
			}
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestUserSystem(t *testing.T) {
	r := New()
	if got, ok := r.User(0); got != "root" || !ok {
		t.Errorf("User(0) = %q, %v; want root, true", got, ok)
	}
	// Far above every uid range in use (and below (uid_t)-1).
	const unlikely = 3_999_999_999
	if got, ok := r.User(unlikely); ok || got != "" {
		t.Errorf("User(%d) = %q, %v; want \"\", false", unlikely, got, ok)
	}
}

// TestUserMatchesPasswd compares the system's /etc/passwd, read by the
// parser, with User for every uid in it.
func TestUserMatchesPasswd(t *testing.T) {
	filesFirst(t, "passwd")
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Skipf("no /etc/passwd: %v", err)
	}
	r := New()
	n := 0
	for line := range strings.Lines(string(data)) {
		fields := strings.Split(line, ":")
		if len(fields) < 3 {
			continue
		}
		uid, end := strtoul(fields[2], 10)
		if end == 0 || end != len(fields[2]) || uid > 1<<32-1 {
			continue
		}
		want, found, err := passwdLookup(strings.NewReader(string(data)), uint32(uid))
		if err != nil || !found {
			t.Fatalf("passwdLookup(%d) = %q, %v, %v for line %q", uid, want, found, err, line)
		}
		if got, ok := r.User(int64(uid)); got != want || !ok {
			t.Errorf("User(%d) = %q, %v; /etc/passwd says %q", uid, got, ok, want)
		}
		n++
	}
	if n == 0 {
		t.Skip("no users in /etc/passwd")
	}
}

// TestHost4Cache checks that an answer is kept per (address, host or net)
// and reused without asking again. No lookup happens: the cache is seeded.
func TestHost4Cache(t *testing.T) {
	r := New()
	r.host4 = map[host4Key]string{
		{addr: [4]byte{192, 0, 2, 1}, host: true}: "seeded-host",
		{addr: [4]byte{0, 0, 2, 1}, host: false}:  "seeded-net",
	}
	r.host6 = map[[16]byte]string{netip.MustParseAddr("2001:db8::7").As16(): "seeded6"}
	r.users = map[uint32]userEntry{4_000_000_001: {"seeded-user", true}}
	tests := []struct{ addr, want string }{
		{"192.0.2.1", "seeded-host"},
		{"0.0.2.1", "seeded-net"},
	}
	for _, tt := range tests {
		if got := r.Host4(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Host4(%s) = %q, want %q from the cache", tt.addr, got, tt.want)
		}
	}
	if got := r.Host6(netip.MustParseAddr("2001:db8::7")); got != "seeded6" {
		t.Errorf("Host6(2001:db8::7) = %q, want seeded6 from the cache", got)
	}
	if got, ok := r.User(4_000_000_001); got != "seeded-user" || !ok {
		t.Errorf("User(4000000001) = %q, %v; want seeded-user from the cache", got, ok)
	}
	// uid is netstat's int converted to uid_t.
	if got, ok := r.User(4_000_000_001 - 1<<32); got != "seeded-user" || !ok {
		t.Errorf("User(%d) = %q, %v; want the uid_t it converts to", int64(4_000_000_001-1<<32), got, ok)
	}
}

func TestZeroResolver(t *testing.T) {
	var r Resolver
	if got := r.Host4(netip.IPv4Unspecified()); got != "0.0.0.0" {
		t.Errorf("Host4(0.0.0.0) = %q", got)
	}
	if got := r.Host6(netip.IPv6Unspecified()); got != "[::]" {
		t.Errorf("Host6(::) = %q", got)
	}
	if _, ok := r.Service(1, "raw"); !ok {
		t.Errorf("Service(1, raw) on a zero Resolver: not found")
	}
}

func BenchmarkHost4Cached(b *testing.B) {
	r := New()
	a := netip.MustParseAddr("192.0.2.1")
	// Seeded, so the benchmark never looks anything up.
	r.host4 = map[host4Key]string{{addr: a.As4(), host: true}: "seeded"}
	for b.Loop() {
		_ = r.Host4(a)
	}
}

func BenchmarkHost4CachedParallel(b *testing.B) {
	r := New()
	a := netip.MustParseAddr("192.0.2.1")
	r.host4 = map[host4Key]string{{addr: a.As4(), host: true}: "seeded"}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = r.Host4(a)
		}
	})
}

func BenchmarkService(b *testing.B) {
	r := New()
	r.Service(22, "tcp") // the one read of the databases
	for b.Loop() {
		_, _ = r.Service(22, "tcp")
		_, _ = r.Service(6, "raw")
		_, _ = r.Service(60000, "udp")
	}
}

func BenchmarkReadServices(b *testing.B) {
	for b.Loop() {
		sysReadServices(newServiceDB())
	}
}
