package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// routeCases are the routing table views (-r), compared in the routes
// namespace. Each string is split at blanks into argv[1:].
var routeCases = []string{
	// column sets: the number of -e cycles 2, 1, 3, 0
	"-r", "-rn", "-re", "-ree", "-reee", "-reeee", "-reeeee", "-reeeeee", "-reeeeeee",
	"-rne", "-rnee", "-rneee", "--route --extend",
	// numeric: -n, --numeric-hosts and -N make routes numeric; the others do not
	"-rN", "-rNe", "-rNee", "-r --symbolic", "-r --numeric-hosts", "-r --numeric-ports",
	"-r --numeric-users", "--route --numeric", "-rNn",
	// flags without effect on routes
	"-rW", "-rWn", "-rWee", "-rv", "-rvn", "-r -d", "-r -a", "-r -l", "-r -o", "-r -p",
	"-r -t", "-r -u", "-r -w", "-r -g", "-r -Z",
	// FIB and cache
	"-rF", "-rFn", "-r --fib", "-rC", "-rCn", "-rCe", "-rCee", "-rCeee", "-r --cache",
	"-rFC", "-rFCn", "-rFCe", "-rFCee", "-rCF -A inet6",
	// IPv6
	"-r -6", "-rn -6", "-r -6 -e", "-r -6 -ee", "-r -6 -eee", "-r -6 -N", "-r -6 -W",
	"-r -6 -C", "-r -6 -Cn", "-r -6 -FC", "-r -6 -FCn", "-r -A inet6", "-r -A inet6 -n",
	"-r -Ainet6", "-r --inet6", "-r --inet6 -n", "-r -A ip6", "-r --protocol=inet6",
	// family lists, in order
	"-r -4", "-r -4 -n", "-r --inet", "-r -A ip", "-r -A tcpip", "-r -A inet6,inet",
	"-r -A inet,inet6 -n", "-r -4 -6", "-r -6 -4 -e", "-r -A inet,inet", "-r -A inet6 -A inet -C",
	"-r -6 -4 -ee -F -C",
	// families without routes, or without a table on this kernel
	"-x -r", "-r -x -4", "-r -4 -x", "-r -A unix", "-r -A inet6,unix", "-r -A bluetooth",
	"-r -A inet,bluetooth", "-r --bluetooth", "-r -A econet", "-r -A ash",
	"-r --ax25", "-r --netrom", "-r --rose", "-r --x25", "-r --ipx", "-r --ddp",
	"-r -A appletalk", "-r -A inet,ax25", "-r -A ipx,inet", "-r -A inet6,rose -n",
	"-r -A netrom,inet",
}

// groupCases are the multicast membership listings (-g).
var groupCases = []string{
	"-g", "-gn", "--groups", "--groups --numeric", "-g --numeric-hosts", "-g --numeric-ports",
	"-g -N", "-g -e", "-g -ee", "-g -W", "-g -v", "-g -a", "-g -l", "-g -o", "-g -p",
	"-g -4", "-g -4 -n", "-g -6", "-g -6 -n", "-g -A inet", "-g -A inet6", "-g -A inet6 -n",
	"-g -A inet,inet6", "-g --inet", "-g --inet6", "-g -A unix", "-g -x", "-g -t", "-gu",
	"-g -w", "-g -tu -4", "-g --ipx", "-g -S", "-g -A ddp", "-g -C", "-g -F",
}

// masqCases are -M without NAT in the namespace: netstat's error.
var masqCases = []string{
	"-M", "-Me", "-Mee", "-Mn", "-Mne", "--masquerade", "-M --numeric-ports", "-M -6",
	"-M -A inet", "-M -x", "-M -t", "-M -g", "-Mv", "-MW", "-MN", "-MC",
}

// systemViewContinuousCases run under timeout like TestContinuous's; those
// that fail in their first round end by themselves.
var systemViewContinuousCases = []string{
	"-rc", "-rnc", "-rCc", "-reeec", "-r -6 -c", "-r -A inet6,inet -c", "-rFC -c -n",
	"-Mc", "-Mec", "-r -A unix -c", "-r --ax25 -c", "-r -A inet,x25 -c",
}

// ifStatsCases are the interface and statistics views, compared in the
// quiet namespace; they belong to another issue and run only with
// BPFNETSTAT_E2E_SYSTEM_VIEWS=1.
var ifStatsCases = []string{
	"-i", "-ia", "-ie", "-iea", "-in",
	"-s", "-st", "-su", "-sw", "-sU", "-s6", "-st6", "-su -6", "-s -A inet,inet6", "-s -x",
}

var ifStatsContinuousCases = []string{"-ic", "-sc"}

// systemViewHosts adds the gateway names the route cases look up.
const systemViewHosts = "192.168.50.5	gw-with-a-very-long-name.example\n"

// routeHosts and routeNetworks are appended to the routes namespace's
// /etc/hosts and /etc/networks. Networks may be written with fewer than four
// parts (glibc pads them with .0); the long names are cut to 15 columns.
const (
	routeHosts = systemViewHosts +
		"192.168.51.2	gw51\n" +
		"10.70.0.1	rejected-host.example\n" +
		"2001:db8:50::1	v6gw.example\n" +
		"2001:db8:77::1	host77.example\n" +
		"ff15::1:4	v6group.example\n" +
		"239.1.2.4	group4.example\n"
	routeNetworks = "net192		192.168.50.0\n" +
		"net1020		10.20\n" +
		"net172		172.16\n" +
		"net10010	10.100.10\n"
)

// TestSystemViews compares the routing table, multicast group and
// masquerade views in a namespace with veth pairs, a tun device, an alias
// address, static IPv4 and IPv6 routes of every kind and multicast groups
// joined by the kernel and by sockets (two on one group: RefCnt 2).
func TestSystemViews(t *testing.T) {
	requireRoot(t)
	s := newScenario(t, scenarioOpts{setup: routesSetup})
	holdMemberships(t, s.ns.name)
	t.Run("namespace_sanity", func(t *testing.T) { checkRoutesNamespace(t, s) })
	var cases []invocation
	for _, list := range [][]string{routeCases, groupCases, masqCases} {
		for _, c := range list {
			cases = append(cases, invocation{args: strings.Fields(c)})
		}
	}
	for _, inv := range cases {
		t.Run(caseName(inv), func(t *testing.T) { compareRuns(t, s, inv) })
	}
	t.Run("json", func(t *testing.T) { checkJSON(t, s) })
	for _, c := range systemViewContinuousCases {
		inv := invocation{args: strings.Fields(c)}
		t.Run(caseName(inv), func(t *testing.T) {
			t.Parallel()
			compareContinuous(t, s, inv)
		})
	}
	for _, c := range []string{"-gc", "-gnc", "-gc -6"} {
		inv := invocation{args: strings.Fields(c)}
		t.Run(caseName(inv), func(t *testing.T) {
			t.Parallel()
			compareGroupsContinuous(t, s, inv)
		})
	}
}

// routesSetup builds the routes namespace. IPv6 duplicate address
// detection is off so that every address, and its local route, is there
// at once.
func routesSetup(ns string) error {
	etc := filepath.Join(etcNetns, ns)
	if err := os.WriteFile(filepath.Join(etc, "hosts"), []byte(hostsFile+routeHosts), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(etc, "networks"), []byte(networksFile+routeNetworks), 0o644); err != nil {
		return err
	}
	steps := [][]string{
		{"netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"},
		{"netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"},
		{"-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"-n", ns, "link", "add", "averylongifnam0", "type", "veth", "peer", "name", "p1"},
		// IPv4 device lines of /proc/net/igmp pad names to 10: these
		// straddle netstat's 15-byte cut at the last ':'.
		{"-n", ns, "link", "add", "elevenchars", "type", "veth", "peer", "name", "fourteenchars1"},
		{"-n", ns, "tuntap", "add", "dev", "tun7", "mode", "tun"},
		{"-n", ns, "addr", "add", "192.168.50.2/24", "dev", "v0"},
		{"-n", ns, "addr", "add", "192.168.50.9/24", "dev", "v0", "label", "v0:1"},
		{"-n", ns, "addr", "add", "192.168.51.1/24", "dev", "v1"},
		{"-n", ns, "addr", "add", "192.168.60.1/24", "dev", "averylongifnam0"},
		{"-n", ns, "addr", "add", "10.200.0.1", "peer", "10.200.0.2", "dev", "tun7"},
		{"-n", ns, "addr", "add", "2001:db8:50::2/64", "dev", "v0", "nodad"},
		{"-n", ns, "addr", "add", "2001:db8:51::1/64", "dev", "v1", "nodad"},
		{"-n", ns, "link", "set", "v0", "up"},
		{"-n", ns, "link", "set", "v1", "up"},
		{"-n", ns, "link", "set", "averylongifnam0", "up"},
		{"-n", ns, "link", "set", "p1", "up"},
		{"-n", ns, "link", "set", "elevenchars", "up"},
		{"-n", ns, "link", "set", "fourteenchars1", "up"},
		{"-n", ns, "link", "set", "tun7", "up"},
		// IPv4: default, gateway, host, reject (unreachable, prohibit),
		// blackhole, throw, metric, MSS/window/rtt, names of every length.
		{"-n", ns, "route", "add", "default", "via", "192.168.50.1"},
		{"-n", ns, "route", "add", "0.0.0.0/1", "via", "192.168.51.2", "metric", "7"},
		{"-n", ns, "route", "add", "10.9.9.9", "via", "192.168.50.1"},
		{"-n", ns, "route", "add", "10.1.0.7", "via", "192.168.51.2"},
		{"-n", ns, "route", "add", "10.0.0.0/8", "via", "192.168.51.2", "metric", "300"},
		{"-n", ns, "route", "add", "10.20.0.0/16", "via", "192.168.50.1", "advmss", "1360", "window", "32000", "rtt", "400"},
		{"-n", ns, "route", "add", "10.55.0.0/16", "via", "192.168.50.5"},
		{"-n", ns, "route", "add", "unreachable", "10.66.0.0/16"},
		{"-n", ns, "route", "add", "prohibit", "10.67.0.0/16", "metric", "5"},
		{"-n", ns, "route", "add", "blackhole", "10.68.0.0/16"},
		{"-n", ns, "route", "add", "throw", "10.69.0.0/16"},
		{"-n", ns, "route", "add", "unreachable", "10.70.0.1"},
		{"-n", ns, "route", "add", "10.77.0.0/16", "via", "192.168.60.254"},
		{"-n", ns, "route", "add", "10.100.10.0/24", "dev", "tun7"},
		{"-n", ns, "route", "add", "169.254.0.0/16", "dev", "v0", "scope", "link"},
		{"-n", ns, "route", "add", "172.16.0.0/12", "via", "192.168.50.1", "metric", "100"},
		{"-n", ns, "route", "add", "224.0.0.0/4", "dev", "v1"},
		// IPv6: default, gateway, host, reject, names.
		{"-n", ns, "-6", "route", "add", "default", "via", "2001:db8:50::1"},
		{"-n", ns, "-6", "route", "add", "2001:db8:99::/48", "via", "2001:db8:50::1", "metric", "50"},
		{"-n", ns, "-6", "route", "add", "2001:db8:77::1/128", "via", "2001:db8:50::1"},
		{"-n", ns, "-6", "route", "add", "unreachable", "2001:db8:dead::/48"},
		{"-n", ns, "-6", "route", "add", "prohibit", "2001:db8:66::/48"},
		{"-n", ns, "-6", "route", "add", "2001:db8:1234:5678::/64", "dev", "v1"},
		// Groups the kernel joins for an address.
		{"-n", ns, "addr", "add", "239.1.2.3/32", "dev", "v0", "autojoin"},
		{"-n", ns, "addr", "add", "ff05::1:3/128", "dev", "v0", "autojoin"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// holdMemberships joins 239.1.2.4 and ff15::1:4 on v0 with two sockets
// each (RefCnt 2), made inside the namespace, until the test ends.
func holdMemberships(t *testing.T, ns string) {
	t.Helper()
	var fds []int
	err := inNetns(ns, func() error {
		link, err := netInterfaceIndex("v0")
		if err != nil {
			return err
		}
		for range 2 {
			fd4, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			fds = append(fds, fd4)
			mreq := &unix.IPMreqn{Multiaddr: [4]byte{239, 1, 2, 4}, Ifindex: int32(link)}
			if err := unix.SetsockoptIPMreqn(fd4, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
				return fmt.Errorf("IP_ADD_MEMBERSHIP: %w", err)
			}
			fd6, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			fds = append(fds, fd6)
			m6 := &unix.IPv6Mreq{Multiaddr: netip.MustParseAddr("ff15::1:4").As16(), Interface: uint32(link)}
			if err := unix.SetsockoptIPv6Mreq(fd6, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, m6); err != nil {
				return fmt.Errorf("IPV6_JOIN_GROUP: %w", err)
			}
		}
		return nil
	})
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	if err != nil {
		t.Fatalf("joining multicast groups in %s: %v", ns, err)
	}
}

// inNetns runs fn on a thread moved into namespace ns; sockets it makes
// stay in ns.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread goes back to its namespace afterwards: it may be the
		// main thread, whose namespace is the process's (ip netns pids,
		// which the namespace's teardown kills, looks at that). If it
		// cannot, it stays locked and the runtime ends it with the
		// goroutine.
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// netInterfaceIndex is if_nametoindex in the calling thread's namespace.
func netInterfaceIndex(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("SIOCGIFINDEX %s: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}

// routesMustShow is what the real netstat must print in the routes
// namespace; if the setup stops making these (or a kernel shows them
// differently), the comparisons would silently test less.
var routesMustShow = map[string][]string{
	"-r": {
		`(?m)^default +192\.168\.50\.1 +0\.0\.0\.0 +UG `,
		`(?m)^0\.0\.0\.0 +gw51 +128\.0\.0\.0 +UG `,
		`(?m)^averyveryverylo gw-with-a-very- 255\.255\.0\.0 +UG `,
		`(?m)^net1020 .* 1400 32000 +50 v0$`,
		`(?m)^10\.66\.0\.0 +- +255\.255\.0\.0 +! +- - +- -$`,
		`(?m)^rejected-host\.e - +255\.255\.255\.255 !H `,
		`(?m)^MixedCase-Host\. gw51 `,
		`(?m)^net10 +gw51 +255\.0\.0\.0 `,
		`(?m)^link-local `,
		`(?m)^net10010 +0\.0\.0\.0 .* tun7$`,
		`(?m) averylongifnam0$`,
		`(?m)^10\.68\.0\.0 +0\.0\.0\.0 +255\.255\.0\.0 +U .* \*$`,
	},
	"-ree": {`(?m) averyl   0 `},
	"-r -6": {
		`(?m)^\[::\]/0 +v6gw\.example +UG `,
		`(?m)^host77\.example/128 +v6gw\.example +UGH? `,
		`(?m)^2001:db8:dead::/48 +\[::\] +!n `,
		`(?m)^localhost/128 `,
		`(?m)^v6long\.example\.org/128 `,
		`(?m) -1 +\d +\d+ lo$`,
	},
	"-g": {
		`(?m)^v0 +1 +239\.1\.2\.3$`,
		`(?m)^v0 +2 +group4\.example$`,
		`(?m)^v0 +2 +v6group\.example$`,
		`(?m)^elevenchars +1 +224\.0\.0\.1$`,
		`(?m)^fourteenchars1 +1 +224\.0\.0\.1$`,
		`(?m)^averylongifnam0 1 +ip6-allnodes$`,
	},
}

func checkRoutesNamespace(t *testing.T, s *scenario) {
	for args, patterns := range routesMustShow {
		out := s.run(t, realSide, invocation{args: strings.Fields(args)}).stdout
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(out) {
				t.Errorf("netstat %s shows nothing matching %s", args, p)
			}
		}
		if t.Failed() {
			t.Logf("netstat %s:\n%s", args, showEnds(out))
		}
	}
}

// checkJSON checks that --json gives a JSON array with the documented
// fields for every view (no netstat to compare with).
func checkJSON(t *testing.T, s *scenario) {
	for _, c := range []struct {
		args   string
		fields []string
		want   string // a value some element must have
	}{
		{"-r --json", []string{"family", "table", "destination", "genmask", "prefix_len", "gateway", "flags", "flag_names", "metric", "refcnt", "use", "iface", "mss", "window", "irtt"}, `"destination":"10.20.0.0"`},
		{"-r -6 --json", []string{"family", "destination", "prefix_len", "gateway", "flags", "flag_names", "metric", "refcnt", "use", "iface"}, `"gateway":"2001:db8:50::1"`},
		{"-r -A inet,inet6 -C --json", nil, ""},
		{"-g --json", []string{"iface", "refcnt", "group", "family"}, `"group":"ff15::1:4"`},
	} {
		r := s.run(t, oursSide, invocation{args: strings.Fields(c.args), bpfnetstat: true})
		if r.status != "exit status 0" || r.stderr != "" {
			t.Errorf("%s: status %s, stderr %q", c.args, r.status, r.stderr)
			continue
		}
		var arr []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &arr); err != nil {
			t.Errorf("%s: not a JSON array: %v\n%s", c.args, err, r.stdout)
			continue
		}
		if c.fields != nil && len(arr) == 0 {
			t.Errorf("%s: empty array", c.args)
			continue
		}
		for _, f := range c.fields {
			if _, ok := arr[0][f]; !ok {
				t.Errorf("%s: first element has no %q: %v", c.args, f, arr[0])
			}
		}
		if c.want != "" && !strings.Contains(r.stdout, c.want) {
			t.Errorf("%s: no element with %s:\n%s", c.args, c.want, r.stdout)
		}
		kind := "routes"
		if strings.HasPrefix(c.args, "-g") {
			kind = "groups"
		}
		validateArray(t, kind, "bpfnetstat "+c.args, r.stdout)
	}
}

// compareGroupsContinuous checks -g -c, where netstat cannot be copied:
// from its second round on it parses /proc/net/igmp as igmp6 (its static
// igmp6_flag is never reset) and prints garbage rows and "bogus igmp6 line"
// warnings. bpfnetstat prints every round like netstat's first one, with
// no warning: so its first two rounds must each equal netstat's first, and
// its stderr must be empty.
func compareGroupsContinuous(t *testing.T, s *scenario, inv invocation) {
	t.Helper()
	inv.continuous = true
	for attempt := 1; ; attempt++ {
		var real, ours result
		var realErr, oursErr error
		var wg sync.WaitGroup
		wg.Go(func() { real, realErr = s.runErr(realSide, inv) })
		wg.Go(func() { ours, oursErr = s.runErr(oursSide, inv) })
		wg.Wait()
		if realErr != nil || oursErr != nil {
			t.Fatal(realErr, oursErr)
		}
		first, err := firstIterations(real, 1)
		if err != nil {
			t.Fatalf("netstat: %v", err)
		}
		want := result{stdout: first + first, status: real.status}
		got, err := firstIterations(ours, 2)
		if err != nil {
			t.Fatalf("bpfnetstat: %v\n%s", err, showEnds(ours.stdout))
		}
		ours.stdout = got
		if ours.equal(want) {
			if !strings.Contains(real.stderr, "bogus igmp6 line") {
				t.Logf("netstat's -c bug did not show this time (stderr %q)", real.stderr)
			}
			return
		}
		if attempt == 2 {
			t.Error(mismatchReport(inv, want, ours))
			return
		}
		t.Logf("attempt %d differs, retrying:\n%s", attempt, mismatchReport(inv, want, ours))
	}
}

// TestSystemViewsFixtures runs netstat and bpfnetstat on fixed /proc
// tables: each fixture directory (snapshot/testdata/{route,groups,masq}/*)
// is copied onto a tmpfs mounted over /proc in a private mount namespace,
// inside the routes namespace (for its name files). This reaches what no
// kernel writes: broken lines, other header layouts, missing files, the
// Linux 2.0/2.2 routing cache and ip_masquerade.
func TestSystemViewsFixtures(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := newScenario(t, scenarioOpts{setup: routesSetup})
	n := 0
	for _, fc := range fixtureCases {
		dirs, _ := filepath.Glob(filepath.Join(root, "snapshot", "testdata", fc.glob))
		if len(dirs) == 0 {
			t.Errorf("no fixture matches %s", fc.glob)
		}
		for _, dir := range dirs {
			rel, _ := filepath.Rel(filepath.Join(root, "snapshot", "testdata"), dir)
			for _, args := range fc.args {
				inv := invocation{args: strings.Fields(args)}
				n++
				t.Run(rel+"/"+caseName(inv), func(t *testing.T) {
					if why, ok := fixtureSkips[rel]; ok && strings.Contains(args, "C") && args != "-rn -6 -C" {
						t.Skip(why)
					}
					want := runOnFixture(t, s, realSide, dir, inv)
					got := runOnFixture(t, s, oursSide, dir, inv)
					if !got.equal(want) {
						t.Error(mismatchReport(inv, want, got))
					}
				})
			}
		}
	}
	t.Logf("%d fixture comparisons", n)
}

// TestSystemViewsCapture rewrites the "real" fixtures
// (snapshot/testdata/route/real and groups/real) from the routes
// namespace when BPFNETSTAT_E2E_CAPTURE=1.
func TestSystemViewsCapture(t *testing.T) {
	if os.Getenv("BPFNETSTAT_E2E_CAPTURE") != "1" {
		t.Skip("set BPFNETSTAT_E2E_CAPTURE=1 to rewrite the real fixtures")
	}
	requireRoot(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := newScenario(t, scenarioOpts{setup: routesSetup})
	holdMemberships(t, s.ns.name)
	for dir, files := range map[string][]string{
		"route/real/net":  {"route", "rt_cache", "ipv6_route"},
		"groups/real/net": {"igmp", "igmp6"},
	} {
		out := filepath.Join(root, "snapshot", "testdata", dir)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := exec.Command("ip", "netns", "exec", s.ns.name, "cat", "/proc/net/"+f).Output()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fixtureCases pair fixture directories with the options run on them.
var fixtureCases = []struct {
	glob string
	args []string
}{
	{"route/*", []string{
		"-rn", "-r", "-rne", "-rnee", "-rneee", "-ree", "-re",
		"-rnC", "-rnCe", "-rnCee", "-rC", "-rCee", "-rnFC",
		"-rn -6", "-r -6", "-rn -6 -C", "-r -A inet6,inet -n", "-r -A inet,inet6 -C",
	}},
	{"groups/*", []string{"-g", "-gn", "-g -4", "-g -6 -n", "-g -A inet", "-g -x", "-gv"}},
	{"masq/*", []string{"-M", "-Mn", "-Me", "-Mne", "-M --numeric-ports", "-M --numeric-hosts"}},
}

// fixtureSkips are fixtures whose routing cache (-C) netstat cannot show
// reproducibly.
var fixtureSkips = map[string]string{
	"route/cache-unknown": "for an rt_cache layout it does not know, netstat prints rows of uninitialised memory (bpfnetstat: none)",
}

// runOnFixture runs one side with dir's contents as /proc.
func runOnFixture(t *testing.T, s *scenario, who side, dir string, inv invocation) result {
	t.Helper()
	script := `mount -t tmpfs tmpfs /proc && cp -R "$0"/. /proc/ && exec netstat "$@"`
	args := append([]string{"netns", "exec", s.ns.name, "unshare", "-m", "--", "sh", "-c", script, dir}, inv.args...)
	path := "/usr/bin:/bin:/usr/sbin:/sbin"
	if who == oursSide {
		path = s.bins.oursDir + ":" + path
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = []string{"PATH=" + path, "LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s: %v", who, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), status: cmd.ProcessState.String()}
}

// TestSystemViewsMasquerade makes real NAT-ed connections and checks that
// bpfnetstat -M lists them in netstat's -M columns, while netstat itself
// still has no support: the one view where bpfnetstat shows more.
//
// Three namespaces: a client (172.29.1.2), a router that masquerades
// 172.29.1.0/24 out of its 172.29.2.1, and a server (172.29.2.2) listening on
// TCP 7 and UDP 9 ("echo" and "discard" in /etc/services).
func TestSystemViewsMasquerade(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (Debian package nftables) to make a NAT rule")
	}
	router := newScenario(t, scenarioOpts{})
	client, server := newNetns(t), newNetns(t)
	t.Cleanup(func() { client.close(); server.close() })
	r, c, sv := router.ns.name, client.name, server.name
	steps := [][]string{
		{"link", "add", "nat0", "netns", r, "type", "veth", "peer", "name", "cl0", "netns", c},
		{"link", "add", "nat1", "netns", r, "type", "veth", "peer", "name", "sv0", "netns", sv},
		{"-n", r, "addr", "add", "172.29.1.1/24", "dev", "nat0"},
		{"-n", r, "addr", "add", "172.29.2.1/24", "dev", "nat1"},
		{"-n", c, "addr", "add", "172.29.1.2/24", "dev", "cl0"},
		{"-n", sv, "addr", "add", "172.29.2.2/24", "dev", "sv0"},
		{"-n", r, "link", "set", "nat0", "up"},
		{"-n", r, "link", "set", "nat1", "up"},
		{"-n", c, "link", "set", "cl0", "up"},
		{"-n", sv, "link", "set", "sv0", "up"},
		{"-n", c, "route", "add", "default", "via", "172.29.1.1"},
		{"netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	rules := "table ip nat {\n chain post {\n  type nat hook postrouting priority 100;\n  oifname \"nat1\" masquerade\n }\n}\n"
	cmd := exec.Command("ip", "netns", "exec", r, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("nft cannot make a NAT rule here: %v: %s", err, out)
	}
	// netstat -M before any NAT-ed connection: both print the error.
	compareRuns(t, router, invocation{args: []string{"-M"}})

	// A TCP connection (kept open) and a UDP exchange through the router.
	var tcpFd, udpFd int
	errs := make(chan error, 1)
	if err := inNetns(sv, func() error {
		var err error
		if tcpFd, err = listenOn(unix.SOCK_STREAM, 7); err != nil {
			return err
		}
		udpFd, err = listenOn(unix.SOCK_DGRAM, 9)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tcpFd)
	defer unix.Close(udpFd)
	var conns []int
	defer func() {
		for _, fd := range conns {
			unix.Close(fd)
		}
	}()
	go func() {
		errs <- inNetns(c, func() error {
			for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
				fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					return err
				}
				conns = append(conns, fd)
				port := 7
				if typ == unix.SOCK_DGRAM {
					port = 9
				}
				if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{172, 29, 2, 2}}); err != nil {
					return fmt.Errorf("connect to 172.29.2.2:%d: %w", port, err)
				}
				if typ == unix.SOCK_DGRAM {
					if _, err := unix.Write(fd, []byte("x")); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	real := router.run(t, realSide, invocation{args: []string{"-M"}})
	if real.stderr != "netstat: no support for `ip_masquerade' on this system.\n" || real.status != "exit status 1" {
		t.Errorf("netstat -M with NAT: %+v", real)
	}
	for _, c := range []struct {
		args string
		want []string
	}{
		{"-M", []string{
			`^IP masquerading entries\nprot   expire source               destination          ports\n`,
			`(?m)^tcp +\d+:\d\d\.\d\d 172\.29\.1\.2 +172\.29\.2\.2 +\d+ -> echo \(\d+\)$`,
			`(?m)^udp +\d+:\d\d\.\d\d 172\.29\.1\.2 +172\.29\.2\.2 +\d+ -> discard \(\d+\)$`,
		}},
		{"-Mn", []string{`(?m)^tcp +\d+:\d\d\.\d\d 172\.29\.1\.2 +172\.29\.2\.2 +\d+ -> 7 \(\d+\)$`}},
		{"-Me", []string{
			`(?m)^prot   expire    initseq delta prevd source               destination          ports$`,
			`(?m)^tcp +\d+:\d\d\.\d\d +0 +0 +0 172\.29\.1\.2 +172\.29\.2\.2 +\d+ -> echo \(\d+\)$`,
		}},
		{"-M --json", []string{`"protocol":"tcp"`, `"nat":\["snat"\]`, `"dport":7`, `"reply_daddr":"172\.29\.2\.1"`}},
	} {
		got := router.run(t, oursSide, invocation{args: strings.Fields(c.args), bpfnetstat: strings.HasSuffix(c.args, "--json")})
		if got.status != "exit status 0" || got.stderr != "" {
			t.Errorf("bpfnetstat %s: status %s, stderr %q", c.args, got.status, got.stderr)
		}
		for _, p := range c.want {
			if !regexp.MustCompile(p).MatchString(got.stdout) {
				t.Errorf("bpfnetstat %s shows nothing matching %s:\n%s", c.args, p, showEnds(got.stdout))
			}
		}
		if strings.HasSuffix(c.args, "--json") {
			validateArray(t, "masquerade", "bpfnetstat "+c.args, got.stdout)
		}
	}
	// /proc/net/nf_conntrack, the fallback without netlink, says the same.
	viaProc := router.run(t, oursSide, invocation{args: []string{"-Mn"}, env: []string{"BPFNETSTAT_SOURCE=proc"}})
	if !regexp.MustCompile(`(?m)^tcp +\d+:\d\d\.\d\d 172\.29\.1\.2 +172\.29\.2\.2 +\d+ -> 7 \(\d+\)$`).MatchString(viaProc.stdout) {
		t.Errorf("bpfnetstat -Mn from /proc/net/nf_conntrack:\n%s\nstderr %q", showEnds(viaProc.stdout), viaProc.stderr)
	}
}

// listenOn makes a socket of typ bound to port on all addresses (and
// listening, for TCP).
func listenOn(typ, port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, 8); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// TestSystemViewsIfStats compares the interface and statistics views in
// the route scenario's quiet namespace (no traffic, so counters stay put);
// e2e/ifstats_test.go covers them with traffic.
func TestSystemViewsIfStats(t *testing.T) {
	requireRoot(t)
	s := newScenario(t, scenarioOpts{setup: systemViewsSetup})
	for _, c := range ifStatsCases {
		inv := invocation{args: strings.Fields(c)}
		t.Run(caseName(inv), func(t *testing.T) { compareRuns(t, s, inv) })
	}
	for _, c := range ifStatsContinuousCases {
		inv := invocation{args: strings.Fields(c)}
		t.Run(caseName(inv), func(t *testing.T) {
			t.Parallel()
			compareContinuous(t, s, inv)
		})
	}
}

// systemViewsSetup gives the namespace links and routes. IPv6 stays off on
// the veths so that no neighbour discovery or MLD traffic moves counters.
func systemViewsSetup(ns string) error {
	if err := os.WriteFile("/etc/netns/"+ns+"/hosts", []byte(hostsFile+systemViewHosts), 0o644); err != nil {
		return err
	}
	steps := [][]string{
		{"netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"},
		{"-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"-n", ns, "link", "add", "averylongifnam0", "type", "veth", "peer", "name", "p1"},
		{"-n", ns, "addr", "add", "192.168.50.2/24", "dev", "v0"},
		{"-n", ns, "addr", "add", "192.168.50.9/24", "dev", "v0", "label", "v0:1"},
		{"-n", ns, "addr", "add", "192.168.51.1/24", "dev", "v1"},
		{"-n", ns, "addr", "add", "192.168.60.1/24", "dev", "averylongifnam0"},
		{"-n", ns, "link", "set", "v0", "up"},
		{"-n", ns, "link", "set", "v1", "up"},
		{"-n", ns, "link", "set", "averylongifnam0", "up"},
		{"-n", ns, "route", "add", "default", "via", "192.168.50.1"},
		{"-n", ns, "route", "add", "10.9.9.9", "via", "192.168.50.1"},
		{"-n", ns, "route", "add", "10.20.0.0/16", "via", "192.168.50.1", "mtu", "1400", "window", "32000"},
		{"-n", ns, "route", "add", "10.55.0.0/16", "via", "192.168.50.5"},
		{"-n", ns, "route", "add", "unreachable", "10.66.0.0/16"},
		{"-n", ns, "route", "add", "10.77.0.0/16", "via", "192.168.60.254"},
		{"-n", ns, "route", "add", "172.16.0.0/12", "via", "192.168.50.1", "metric", "100"},
		{"-n", ns, "-6", "route", "add", "2001:db8:99::/48", "dev", "lo"},
		{"-n", ns, "-6", "route", "add", "unreachable", "2001:db8:66::/48"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}
