package e2e

import (
	"os"
	"strings"
	"testing"
)

// systemViewCases are the routing, interface, statistics, group and
// masquerade views. They belong to a later issue; until then they only run
// with BPFNETSTAT_E2E_SYSTEM_VIEWS=1.
var systemViewCases = []string{
	"-r",
	"-rn",
	"-re",
	"-ree",
	"-reee",
	"-reeee",
	"-rC",
	"-rCee",
	"-rFCn",
	"-rN",
	"-rW",
	"-r -6",
	"-rn -6",
	"-r -A inet6,inet",
	"-x -r",
	"-r -A bluetooth",
	"-r -A econet",
	"-r --ax25",
	"-r --netrom",
	"-r --rose",
	"-r --x25",
	"-r --ipx",
	"-r --ddp",
	"-i",
	"-ia",
	"-ie",
	"-iea",
	"-in",
	"-s",
	"-st",
	"-su",
	"-sw",
	"-sU",
	"-s6",
	"-st6",
	"-su -6",
	"-s -A inet,inet6",
	"-s -x",
	"-g",
	"-gn",
	"-g -A inet",
	"-g -6",
	"-M",
	"-Me",
}

// systemViewContinuousCases run under timeout like TestContinuous's.
var systemViewContinuousCases = []string{"-ic", "-rc", "-sc", "-Mc"}

// systemViewHosts adds the gateway name the route cases look up.
const systemViewHosts = "192.168.50.5	gw-with-a-very-long-name.example\n"

// TestSystemViews compares the non-socket views in a quiet namespace (no
// farm: no traffic, so counters stay put) with two veth pairs and routes.
func TestSystemViews(t *testing.T) {
	if os.Getenv(envSystemViews) != "1" {
		t.Skipf("routes/interfaces/statistics views: issue 6 (set %s=1 to run)", envSystemViews)
	}
	requireRoot(t)
	s := newScenario(t, scenarioOpts{setup: systemViewsSetup})
	for _, c := range systemViewCases {
		inv := invocation{args: strings.Fields(c)}
		t.Run(caseName(inv), func(t *testing.T) { compareRuns(t, s, inv) })
	}
	for _, c := range systemViewContinuousCases {
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
