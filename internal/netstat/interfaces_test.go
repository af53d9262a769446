package netstat

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// The -i fixtures (snapshot/testdata/iface) hold /proc/net/dev and
// /proc/net/if_inet6 texts, and kernel.json: what the ioctls answered in
// the network namespace the goldens were captured in. That namespace is
// made again by -update-ifstats (isIfaceFixtureLinks).

const isIfaceFixtures = "../../snapshot/testdata/iface"

// isFixtureKernel is kernel.json: a recorded InterfaceKernel.
type isFixtureKernel struct {
	Labels     []string                     `json:"labels"`
	Interfaces map[string]snapshot.IfConfig `json:"interfaces"`
	Errors     map[string]syscall.Errno     `json:"errors,omitempty"` // name -> errno of SIOCGIFFLAGS
}

func (k *isFixtureKernel) Fetch(name string) (snapshot.IfConfig, error) {
	if c, ok := k.Interfaces[name]; ok {
		return c, nil
	}
	if e, ok := k.Errors[name]; ok {
		return snapshot.IfConfig{}, e
	}
	return snapshot.IfConfig{}, syscall.ENODEV
}

type isFakeKernel struct {
	*isFixtureKernel
	labelsErr error
	closed    int
}

func (k *isFakeKernel) Labels() ([]string, error) {
	if k.labelsErr != nil {
		return nil, k.labelsErr
	}
	return slices.Clone(k.isFixtureKernel.Labels), nil
}

func (k *isFakeKernel) Close() error { k.closed++; return nil }

func isLoadKernel(t *testing.T) *isFixtureKernel {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(isIfaceFixtures, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var k isFixtureKernel
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return &k
}

// isWithKernel makes runInterfaces use k for the duration of the test.
func isWithKernel(t *testing.T, k snapshot.InterfaceKernel, err error) {
	t.Helper()
	saved := openInterfaceKernel
	openInterfaceKernel = func() (snapshot.InterfaceKernel, error) { return k, err }
	t.Cleanup(func() { openInterfaceKernel = saved })
}

// isIfaceArgs are the command lines every interface fixture is run with.
var isIfaceArgs = []string{"-i", "-ia", "-ie", "-iea", "-iee", "-in", "-iaN", "-iW", "-iv", "-ieaW", "-i -A inet6", "-i -t"}

// isIfaceFixtureLinks makes the fixture namespace: every kind of row netstat
// -i has (alias labels, a 15-byte name, a tun device, interfaces down,
// odd flags, natural sort order), with fixed hardware addresses.
var isIfaceFixtureLinks = [][]string{
	{"link", "set", "lo", "up"},
	{"addr", "add", "2001:db8:1234::5678/64", "dev", "lo", "nodad"},
	{"addr", "add", "::10.1.2.3/96", "dev", "lo", "nodad"},
	{"addr", "add", "fec0::1/64", "dev", "lo", "nodad"},
	{"link", "add", "v0", "address", "02:00:00:00:00:50", "type", "veth", "peer", "name", "v1", "address", "02:00:00:00:00:51"},
	{"link", "add", "averylongifnam0", "address", "02:00:00:00:00:60", "type", "veth", "peer", "name", "p1", "address", "02:00:00:00:00:61"},
	{"link", "add", "dn0", "address", "02:00:00:00:00:70", "type", "veth", "peer", "name", "dn1", "address", "02:00:00:00:00:71"},
	{"link", "add", "n1", "address", "02:00:00:00:00:80", "type", "veth", "peer", "name", "n01", "address", "02:00:00:00:00:81"},
	{"link", "add", "n10", "address", "02:00:00:00:00:90", "type", "veth", "peer", "name", "n2", "address", "02:00:00:00:00:91"},
	{"addr", "add", "192.168.50.2/24", "broadcast", "192.168.50.255", "dev", "v0"},
	{"addr", "add", "192.168.50.9/24", "dev", "v0", "label", "v0:1"},
	{"addr", "add", "192.168.50.10/24", "dev", "v0", "label", "v0:lbl"},
	{"addr", "add", "192.168.51.1/24", "dev", "v1"},
	{"addr", "add", "192.168.60.1/24", "dev", "averylongifnam0"},
	{"link", "set", "v0", "up"},
	{"link", "set", "v1", "up"},
	{"link", "set", "averylongifnam0", "up"},
	{"link", "set", "p1", "up"},
	{"link", "set", "n10", "up", "mtu", "9000", "txqueuelen", "0"},
	{"link", "set", "n2", "up", "dynamic", "on", "promisc", "on"},
	{"link", "set", "n1", "multicast", "off"},
	{"link", "set", "dn0", "promisc", "on"},
	{"link", "set", "dn1", "allmulticast", "on", "arp", "off"},
	{"tuntap", "add", "tun7", "mode", "tun"},
	{"addr", "add", "10.200.0.1", "peer", "10.200.0.2", "dev", "tun7"},
	{"link", "set", "tun7", "up"},
}

// TestInterfacesGolden runs -i on every fixture of snapshot/testdata/iface
// with the recorded kernel answers.
func TestInterfacesGolden(t *testing.T) {
	if *isUpdate {
		isUpdateIfaceFixtures(t)
	}
	k := isLoadKernel(t)
	dirs, err := filepath.Glob(filepath.Join(isIfaceFixtures, "*", "net"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, net := range dirs {
		root := filepath.Dir(net)
		t.Run(filepath.Base(root), func(t *testing.T) {
			for _, want := range isReadGoldens(t, filepath.Join(root, "netstat.isGolden")) {
				fk := &isFakeKernel{isFixtureKernel: k}
				isWithKernel(t, fk, nil)
				isCompare(t, want, isRun(want.args, cmdutil.Env{ProcRoot: root}))
				if fk.closed != 1 {
					t.Errorf("netstat %s: kernel closed %d times, want 1", want.args, fk.closed)
				}
			}
		})
	}
}

// isUpdateIfaceFixtures makes the fixture namespace, records its kernel
// answers and its live /proc/net/dev and if_inet6 (the "live" fixture), and
// captures every golden with the real netstat inside it.
func isUpdateIfaceFixtures(t *testing.T) {
	ns := fmt.Sprintf("bpfnetstat-iface-fixture-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	steps := [][]string{{"netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"}}
	for _, s := range isIfaceFixtureLinks {
		if s[0] == "tuntap" {
			steps = append(steps, append([]string{"netns", "exec", ns, "ip"}, s...))
			continue
		}
		steps = append(steps, append([]string{"-n", ns}, s...))
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	live := filepath.Join(isIfaceFixtures, "live", "net")
	if err := os.MkdirAll(live, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"dev", "if_inet6"} {
		b, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/"+f).Output()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(live, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(isIfaceFixtures, "*", "net"))
	var names []string
	for _, net := range dirs {
		devs, _ := snapshot.NewFS(filepath.Dir(net)).ReadNetDev()
		for _, d := range devs {
			names = append(names, d.Name)
		}
	}
	isRecordKernel(t, ns, names)
	for _, net := range dirs {
		root := filepath.Dir(net)
		var gs []isGolden
		for _, args := range isIfaceArgs {
			gs = append(gs, isRealNetstat(t, root, ns, args))
		}
		isWriteGoldens(t, filepath.Join(root, "netstat.isGolden"), gs)
	}
}

// isRecordKernel writes kernel.json: the ioctl answers in namespace ns for its
// labels and interfaces and for the extra names.
func isRecordKernel(t *testing.T, ns string, names []string) {
	k := isFixtureKernel{Interfaces: map[string]snapshot.IfConfig{}, Errors: map[string]syscall.Errno{}}
	done := make(chan error)
	go func() {
		// This goroutine's thread enters ns and is thrown away after.
		runtime.LockOSThread()
		done <- func() error {
			fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				return err
			}
			io, err := snapshot.OpenIoctls()
			if err != nil {
				return err
			}
			defer io.Close()
			if k.Labels, err = io.Labels(); err != nil {
				return err
			}
			// /proc/self/net is the main thread's namespace.
			devs, err := snapshot.NewFS("/proc/thread-self").ReadNetDev()
			if err != nil {
				return err
			}
			all := append(names, k.Labels...)
			for _, d := range devs {
				all = append(all, d.Name)
			}
			for _, name := range all {
				c, err := io.Fetch(name)
				var errno syscall.Errno
				switch {
				case err == nil:
					k.Interfaces[name] = c
				case errors.As(err, &errno):
					k.Errors[name] = errno
				default:
					return err
				}
			}
			return nil
		}()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// One interface per line keeps the file readable and its diffs small.
	var b strings.Builder
	line := func(prefix string, v any, suffix string) {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s%s%s\n", prefix, j, suffix)
	}
	line(`{"labels": `, k.Labels, ",")
	b.WriteString(`"errors": {` + "\n")
	errNames := slices.Sorted(maps.Keys(k.Errors))
	for i, name := range errNames {
		line(fmt.Sprintf("\t%q: ", name), k.Errors[name], map[bool]string{true: "", false: ","}[i == len(errNames)-1])
	}
	b.WriteString("},\n" + `"interfaces": {` + "\n")
	names = slices.Sorted(maps.Keys(k.Interfaces))
	for i, name := range names {
		line(fmt.Sprintf("\t%q: ", name), k.Interfaces[name], map[bool]string{true: "", false: ","}[i == len(names)-1])
	}
	b.WriteString("}}\n")
	if !json.Valid([]byte(b.String())) {
		t.Fatalf("kernel.json is not JSON:\n%s", b.String())
	}
	if err := os.WriteFile(filepath.Join(isIfaceFixtures, "kernel.json"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// isErrStop ends a continuous run from Sleep.
type isErrStop struct{}

// TestInterfacesContinuous: the title once, the header and rows every round.
func TestInterfacesContinuous(t *testing.T) {
	k := isLoadKernel(t)
	root := filepath.Join(isIfaceFixtures, "live")
	once := isRunWith(t, "-i", root, k, 0)
	for _, tc := range []struct {
		args string
		want string
	}{
		{"-ic", once.stdout + strings.TrimPrefix(once.stdout, "Kernel Interface table\n")},
		{"-iec", func() string {
			one := isRunWith(t, "-ie", root, k, 0).stdout
			return one + strings.TrimPrefix(one, "Kernel Interface table\n")
		}()},
	} {
		got := isRunWith(t, tc.args, root, k, 2)
		if got.stdout != tc.want {
			t.Errorf("netstat %s: stdout\n%s\nwant\n%s", tc.args, got.stdout, tc.want)
		}
	}
}

// isRunWith runs args with the fixture kernel, stopping a continuous
// run at its rounds-th sleep.
func isRunWith(t *testing.T, args, root string, k *isFixtureKernel, rounds int) (g isGolden) {
	t.Helper()
	isWithKernel(t, &isFakeKernel{isFixtureKernel: k}, nil)
	sleeps := 0
	env := cmdutil.Env{ProcRoot: root, Sleep: func(d time.Duration) {
		if d != time.Second {
			t.Errorf("slept %v, want 1s", d)
		}
		if sleeps++; sleeps == rounds {
			panic(isErrStop{})
		}
	}}
	var stdout, stderr strings.Builder
	env.Stdout, env.Stderr = &stdout, &stderr
	env.Getenv = func(string) string { return "" }
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(isErrStop); !ok {
					panic(r)
				}
			}
		}()
		g.status = runNetstat(strings.Fields(args), env)
	}()
	g.args, g.stdout, g.stderr = args, stdout.String(), stderr.String()
	return g
}

func TestInterfacesErrors(t *testing.T) {
	k := isLoadKernel(t)
	root := filepath.Join(isIfaceFixtures, "live")

	isWithKernel(t, nil, syscall.EAFNOSUPPORT)
	g := isRun("-i", cmdutil.Env{ProcRoot: root})
	if g.stdout != "" || g.stderr != "socket: Address family not supported by protocol\n" || g.status != 1 {
		t.Errorf("no socket: %+v", g)
	}

	// Neither /proc/net/dev nor SIOCGIFCONF: nothing to list.
	isWithKernel(t, &isFakeKernel{isFixtureKernel: k, labelsErr: syscall.EINVAL}, nil)
	g = isRun("-i", cmdutil.Env{ProcRoot: t.TempDir()})
	want := isGolden{
		args:   "-i",
		stdout: "Kernel Interface table\nIface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP TX-OVR Flg\n",
		stderr: "Warning: cannot open /proc/net/dev (No such file or directory). Limited output.\n" +
			"SIOCGIFCONF: Invalid argument\nmissing interface information: Invalid argument\n",
		status: 1,
	}
	isCompare(t, want, g)
}

func TestInterfacesJSON(t *testing.T) {
	k := isLoadKernel(t)
	root := filepath.Join(isIfaceFixtures, "live")
	isWithKernel(t, &isFakeKernel{isFixtureKernel: k}, nil)
	g := isRun("-i --json", cmdutil.Env{ProcRoot: root})
	if g.status != 0 || g.stderr != "" {
		t.Fatalf("status %d, stderr %q", g.status, g.stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(g.stdout), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, g.stdout)
	}
	byName := map[string]map[string]any{}
	for _, r := range rows {
		byName[r["iface"].(string)] = r
	}
	if _, ok := byName["dn0"]; ok {
		t.Error("an interface that is down is listed without -a")
	}
	lo := byName["lo"]
	if lo == nil || lo["flags"] != "LRU" || lo["mtu"] != float64(65536) || lo["rx_ok"] == nil {
		t.Errorf("lo: %v", lo)
	}
	if alias := byName["v0:1"]; alias == nil || alias["rx_ok"] != nil || alias["flags"] != "BMRU" {
		t.Errorf("v0:1 (no statistics): %v", alias)
	}
	if _, ok := lo["inet"]; ok {
		t.Error("-i without -e has the long format's fields")
	}

	// netstat shows zeros for a 15-byte name; JSON has the counters.
	isWithKernel(t, &isFakeKernel{isFixtureKernel: k}, nil)
	g = isRun("-i --json", cmdutil.Env{ProcRoot: filepath.Join(isIfaceFixtures, "hostile")})
	if !strings.Contains(g.stdout, `{"iface":"averylongifnam0","mtu":1500,"rx_ok":20,"rx_err":30,`) {
		t.Errorf("15-byte name: the kernel's counters are missing:\n%s", g.stdout)
	}

	isWithKernel(t, &isFakeKernel{isFixtureKernel: k}, nil)
	g = isRun("-iea --json", cmdutil.Env{ProcRoot: root})
	rows = nil
	if err := json.Unmarshal([]byte(g.stdout), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, g.stdout)
	}
	for _, r := range rows {
		byName[r["iface"].(string)] = r
	}
	tun := byName["tun7"]
	if tun == nil || tun["hw_type"] != "unspec" || tun["inet"].(map[string]any)["destination"] != "10.200.0.2" {
		t.Errorf("tun7: %v", tun)
	}
	lo = byName["lo"]
	if lo["inet6"] == nil || lo["rx_bytes"] == nil || lo["flags_value"] != float64(73) {
		t.Errorf("lo with -e: %v", lo)
	}
}
