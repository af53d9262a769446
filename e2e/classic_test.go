package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// classicCases are the socket-listing and command-line cases, compared on
// the full farm. Each string is split at blanks into argv[1:].
var classicCases = []string{
	// default listing and the socket kinds, with and without -n
	"",
	"-n",
	"-t",
	"-tn",
	"-u",
	"-un",
	"-w",
	"-wn",
	"-U",
	"-Un",
	"-x",
	"-xn",
	"--unix",
	"-x -t",
	// -a / -l
	"-a",
	"-an",
	"-l",
	"-ln",
	"-l -a",
	"-aa -tt",
	"-ta",
	"-tan",
	"-tl",
	"-tln",
	"-ua",
	"-uan",
	"-ul",
	"-Ua",
	"-Ual",
	"-wa",
	"-wan",
	"-wl",
	"-xa",
	"-xl",
	"-xln",
	// -p, -e
	"-tulpn",
	"-tulp",
	"-tanpe",
	"-tanpee",
	"-tape",
	"-xap",
	"-xlp",
	"-xp",
	"-ap",
	"-apn",
	"-ae",
	"-aen",
	"-e",
	"-e -n -x",
	"-xe",
	"-tae --numeric-users",
	"-tae --numeric-hosts",
	"-tae --numeric-ports",
	"-tap --numeric-hosts --numeric-ports",
	// address families
	"-A inet",
	"-A inet -n",
	"-A inet6",
	"-A inet6 -an",
	"-A inet,unix",
	"-A unix,inet6 -n",
	"-A inet,inet6 -l",
	"-A ip6 -t",
	"-Ainet6",
	"-Ainet6 -l",
	"-A ddp",
	"-A econet -t",
	"--inet",
	"--inet6 -a",
	"--ip -n",
	"-4",
	"-6 -a",
	"-4 -6",
	"-4 -t",
	"-6 -u",
	"-u -4 -l",
	"-t -A inet6",
	"--ddp",
	// long options and prefixes
	"--tcp --udp --listening --numeric --programs",
	"--numeric-hosts",
	"--numeric-ports -ta",
	"--prog -t",
	"--numeric-h -t",
	"--wide --extend --timers -t",
	"--all --raw",
	"--protocol=inet6 -l",
	"--protocol inet",
	// -W
	"-W",
	"-tW",
	"-taW",
	"-tanW",
	"-uaW",
	"-waW",
	"-xW",
	// -o
	"-o",
	"-tano",
	"-tao",
	"-taoW",
	"-uanoep",
	"-wano",
	"-Uao",
	// flags without effect on socket tables
	"-d -t",
	"-N -t",
	"-C -F -t",
	// no-support paths
	"-v",
	"-vn -l",
	"-S",
	"-Su",
	"-Sa",
	"-S -t",
	"--ipx",
	"--ax25",
	"--netrom",
	"--x25",
	"--rose",
	"--bluetooth",
	"-2",
	"-f",
	"-Z",
	"-tZ",
	// version and help
	"-h",
	"--help",
	"-h -Q",
	"-?",
	// errors
	"-Q",
	"-Q -h",
	"--bogus",
	"-A",
	"--protocol",
	"-A bogus",
	"-A inet,bogus",
	"-A inet,,unix",
	"--ver",
	"--tcp=x",
	"--pro",
	"-rr",
	"-ii",
	"-i -r",
	"-r -s",
	"-M -i",
	"-tlny -x",
	// argument handling
	"--tcpip -tln",
	"foo -tln bar",
	"-- -t",
	"-t -- -u",
	"-t -A",
	// a mistyped bpfnetstat subcommand is a stray word to netstat
	"trcae -tn",
	"lfie",
	// bpfnetstat's own options are unknown to the netstat name
	"--json",
	"-tan --json",
	"-tanp --recent",
	"--rec",
}

// classicEnvCases need more than argv.
var classicEnvCases = []invocation{
	{args: []string{"-t", "foo", "-u"}, env: []string{"POSIXLY_CORRECT=1"}},
	{args: []string{"-t", "foo", "-u"}},
	{args: []string{"-tanp"}, env: []string{"LC_ALL=C.UTF-8"}},
	{args: []string{"-x", "", "-l"}},
	// The suite's -p cases take owners from the task_file iterator (see
	// scenario.runErr); these keep the /proc/*/fd walk compared too, and
	// the /proc TCP tables.
	{args: []string{"-tanp"}, env: []string{"BPFNETSTAT_OWNERS=proc"}},
	{args: []string{"-ap"}, env: []string{"BPFNETSTAT_OWNERS=proc"}},
	{args: []string{"-tulpnee"}, env: []string{"BPFNETSTAT_SOURCE=proc"}},
}

// TestClassic compares netstat and bpfnetstat on the full farm.
func TestClassic(t *testing.T) {
	requireRoot(t)
	s := newScenario(t, scenarioOpts{farm: true})
	var cases []invocation
	for _, c := range classicCases {
		cases = append(cases, invocation{args: strings.Fields(c)})
	}
	cases = append(cases, classicEnvCases...)
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	t.Run("farm_sanity", func(t *testing.T) { checkFarm(t, s) })
	for _, inv := range cases {
		t.Run(caseName(inv), func(t *testing.T) {
			s.fresh(t, 5*time.Second)
			compareRuns(t, s, inv)
		})
	}
}

// farmMustShow lists what netstat must print about the farm, per argument
// list: if the farm stops making these sockets (or a kernel shows them
// differently), the comparisons would silently test less.
var farmMustShow = map[string][]string{
	"-anW": {
		`(?m)^tcp        2      0 127\.0\.0\.1:40000 +0\.0\.0\.0:\* +LISTEN`,
		`(?m)^tcp      100      0 127\.0\.0\.1:8080 +127\.0\.0\.1:\d+ +ESTABLISHED`,
		`(?m)^tcp        0 +[1-9]\d* 127\.0\.0\.1:\d+ +127\.0\.0\.1:7000 +ESTABLISHED`,
		`(?m)^tcp .* 127\.0\.0\.1:4444 +TIME_WAIT`,
		`(?m)^tcp6 .* ::1:4445 +TIME_WAIT`,
		`(?m)^tcp .* 127\.0\.0\.1:4446 +FIN_WAIT2`,
		`(?m)^tcp        1      0 127\.0\.0\.1:4446 .* CLOSE_WAIT`,
		`(?m)^tcp6       1      0 ::1:631 .* CLOSE_WAIT`,
		`(?m)^tcp6 .* 127\.0\.0\.1:3306 +127\.0\.0\.1:\d+ +ESTABLISHED`,
		`(?m)^tcp6 .* 2001:db8:1234:5678:9abc:def0:1234:5678:12345 +:::\* +LISTEN`,
		`(?m)^tcp6 .* ::10\.1\.2\.3:443 `,
		`(?m)^udp +[1-9]\d{6,} +0 127\.0\.0\.1:9998 `,
		`(?m)^udp +[1-9]\d* +0 127\.0\.0\.1:9999 `,
		`(?m)^udp6 +[1-9]\d* +0 :::5001 `,
		`(?m)^udpl +[1-9]\d* +0 127\.0\.0\.1:7777 `,
		`(?m)^udpl6 .* ::1:7778 `,
		`(?m)^raw +[1-9]\d* +0 0\.0\.0\.0:1 `,
		`(?m)^raw6 +[1-9]\d* +0 :::58 `,
		`(?m)^raw .* 127\.0\.0\.5:\* +1 `,
		`(?m)^unix .* SEQPACKET +LISTENING .*/seq\.sock$`,
		`(?m)^unix .* LISTENING .* @abstract-listener$`,
		`(?m)^unix .* LISTENING .* @abs@with@nul$`,
		`(?m)^unix .* LISTENING .*/with$`,
		`(?m)^unix .* DGRAM .* @[0-9a-f]{5}$`,
		`(?m)^unix .* LISTENING .*/long-d+\.sock$`,
	},
	"-tanpeo": {
		`(?m) keepalive \(\d+\.\d\d/0/0\)$`,
		`(?m) probe \(\d+\.\d\d/\d+/\d+\)$`,
		`(?m) timewait \(\d+\.\d\d/0/0\)$`,
		`(?m) \d+/averyveryvery`, // cut to 19 bytes with the PID
		`(?m) \d+/\./rel prog `,
		`(?m) \d+/sshd: w`,
		`(?m) 4243 +\d+ +\d+/ +off`,
		`(?m)^tcp .* 0\.0\.0\.0:22 .* \d+/farm `,
	},
	"-tae": {
		`(?m) averyveryverylongusername \d+ *$`,
		`(?m) this-is-a-very-long:nfs `,
		`(?m) v6long\.example\.or:12345 `,
	},
}

// checkFarm asserts farmMustShow against the real netstat.
func checkFarm(t *testing.T, s *scenario) {
	for args, patterns := range farmMustShow {
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

// caseName names a subtest after its command line.
func caseName(inv invocation) string {
	if len(inv.args) == 0 && len(inv.env) == 0 && !inv.nobody {
		return "no_args"
	}
	return strings.TrimPrefix(strings.Replace(inv.String(), "netstat ", "", 1), "netstat")
}

// hostileCases list what hostile names reach: UNIX paths and -p names.
var hostileCases = []string{
	"-x",
	"-xa",
	"-xl",
	"-xlp",
	"-xap",
	"-tlp",
	"-tlnp",
	"-ulp",
	"-ap",
}

// TestHostileNames compares outputs that carry names a process controls:
// an escape sequence, a newline, bytes that are not UTF-8, an argv[0]
// ending in '/'. netstat prints them raw (a newline in a UNIX path even
// splits its /proc/net/unix line); bpfnetstat must print exactly netstat's
// bytes with its one documented difference applied: control and invalid
// bytes escaped as \xHH (see README, "Intended differences").
func TestHostileNames(t *testing.T) {
	requireRoot(t)
	s := newScenario(t, scenarioOpts{farm: true, hostile: true})
	for _, c := range hostileCases {
		inv := invocation{args: strings.Fields(c), expect: escapedLikeBpfnetstat}
		t.Run(caseName(inv), func(t *testing.T) {
			s.fresh(t, 5*time.Second)
			compareRuns(t, s, inv)
		})
	}
}
