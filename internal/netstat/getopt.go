package netstat

import (
	"fmt"
	"io"
	"strings"
)

// longOpt is one entry of a getopt_long table.
type longOpt struct {
	name   string
	hasArg bool
	val    rune // short letter, or afTrans for the address-family aliases
}

// afTrans marks the --<af> long options, which netstat dispatches by their
// index in the table (getopt_long returns 1 for them).
const afTrans rune = 1

// netstatShort is netstat's getopt short-option string.
const netstatShort = "A:CFMacdeghilnNoprsStuUvVWw2fx64?Z"

// netstatLong is netstat 2.10's long-option table, in its order: the order
// matters for abbreviations and for the "ambiguous" message.
var netstatLong = []longOpt{
	{"ax25", false, afTrans}, {"x25", false, afTrans}, {"ip", false, afTrans},
	{"ipx", false, afTrans}, {"appletalk", false, afTrans}, {"netrom", false, afTrans},
	{"inet", false, afTrans}, {"inet6", false, afTrans}, {"ddp", false, afTrans},
	{"rose", false, afTrans}, {"unix", false, afTrans}, {"bluetooth", false, afTrans},
	{"tcpip", false, afTrans},
	{"version", false, 'V'}, {"interfaces", false, 'i'}, {"help", false, 'h'},
	{"route", false, 'r'}, {"masquerade", false, 'M'}, {"protocol", true, 'A'},
	{"tcp", false, 't'}, {"sctp", false, 'S'}, {"udp", false, 'u'},
	{"udplite", false, 'U'}, {"raw", false, 'w'}, {"unix", false, 'x'},
	{"l2cap", false, '2'}, {"rfcomm", false, 'f'}, {"listening", false, 'l'},
	{"all", false, 'a'}, {"timers", false, 'o'}, {"continuous", false, 'c'},
	{"extend", false, 'e'}, {"programs", false, 'p'}, {"verbose", false, 'v'},
	{"statistics", false, 's'}, {"wide", false, 'W'}, {"numeric", false, 'n'},
	{"numeric-hosts", false, '!'}, {"numeric-ports", false, '@'},
	{"numeric-users", false, '#'}, {"symbolic", false, 'N'}, {"cache", false, 'C'},
	{"fib", false, 'F'}, {"groups", false, 'g'}, {"context", false, 'Z'},
}

// afTransCount is net-tools' AFTRANS_CNT: the last alias (--tcpip) is past
// it, which is why netstat reports an internal error for --tcpip.
const afTransCount = 12

// parsedOpt is one option as getopt_long returned it.
type parsedOpt struct {
	val    rune   // short letter, afTrans, or '?' for an error
	arg    string // option argument
	index  int    // index in the long table for long options, else -1
	errMsg string // getopt's own message (already prefixed), for '?'
}

// getopt walks args (without argv[0]) like glibc's getopt_long with
// argument permutation, calling fn for each option in order until fn
// returns false. Non-option words are skipped; "--" ends the options; with
// posixlyCorrect the first non-option word ends them.
func getopt(prog string, args []string, short string, long []longOpt, posixlyCorrect bool, fn func(parsedOpt) bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return
		}
		if len(a) < 2 || a[0] != '-' {
			if posixlyCorrect {
				return
			}
			continue
		}
		if a[1] == '-' {
			o := parseLong(prog, a[2:], long)
			if o.val != '?' && o.index >= 0 && long[o.index].hasArg && !strings.Contains(a[2:], "=") {
				if i+1 < len(args) {
					i++
					o.arg = args[i]
				} else {
					o = parsedOpt{val: '?', index: -1, errMsg: fmt.Sprintf("%s: option '--%s' requires an argument\n", prog, long[o.index].name)}
				}
			}
			if !fn(o) {
				return
			}
			continue
		}
		// A cluster of short options.
		for j := 1; j < len(a); j++ {
			c := a[j]
			k := strings.IndexByte(short, c)
			if k < 0 || c == ':' || c == ';' {
				if !fn(parsedOpt{val: '?', index: -1, errMsg: fmt.Sprintf("%s: invalid option -- '%s'\n", prog, string([]byte{c}))}) {
					return
				}
				continue
			}
			if k+1 < len(short) && short[k+1] == ':' {
				o := parsedOpt{val: rune(c), index: -1}
				switch {
				case j+1 < len(a):
					o.arg = a[j+1:]
				case i+1 < len(args):
					i++
					o.arg = args[i]
				default:
					o = parsedOpt{val: '?', index: -1, errMsg: fmt.Sprintf("%s: option requires an argument -- '%s'\n", prog, string([]byte{c}))}
				}
				if !fn(o) {
					return
				}
				break
			}
			if !fn(parsedOpt{val: rune(c), index: -1}) {
				return
			}
		}
	}
}

// parseLong matches "name[=value]" against the table: an exact match wins,
// else a unique abbreviation; abbreviations of options that behave the same
// (same argument kind and value) are not ambiguous, as in glibc.
func parseLong(prog, text string, long []longOpt) parsedOpt {
	name, value, hasValue := strings.Cut(text, "=")
	found := -1
	for i, o := range long {
		if o.name == name {
			found = i
			break
		}
	}
	if found < 0 {
		var ambig []int
		for i, o := range long {
			if !strings.HasPrefix(o.name, name) {
				continue
			}
			if found < 0 {
				found = i
				continue
			}
			p := long[found]
			if p.hasArg != o.hasArg || p.val != o.val {
				if ambig == nil {
					ambig = append(ambig, found)
				}
				ambig = append(ambig, i)
			}
		}
		if ambig != nil {
			var b strings.Builder
			fmt.Fprintf(&b, "%s: option '--%s' is ambiguous; possibilities:", prog, text)
			for _, i := range ambig {
				fmt.Fprintf(&b, " '--%s'", long[i].name)
			}
			b.WriteByte('\n')
			return parsedOpt{val: '?', index: -1, errMsg: b.String()}
		}
	}
	if found < 0 {
		return parsedOpt{val: '?', index: -1, errMsg: fmt.Sprintf("%s: unrecognized option '--%s'\n", prog, text)}
	}
	o := long[found]
	if hasValue {
		if !o.hasArg {
			return parsedOpt{val: '?', index: -1, errMsg: fmt.Sprintf("%s: option '--%s' doesn't allow an argument\n", prog, o.name)}
		}
		return parsedOpt{val: o.val, arg: value, index: found}
	}
	return parsedOpt{val: o.val, index: found}
}

// writeUsage prints netstat's usage text; the family list goes to stderr
// even when the rest goes to stdout (-h), as net-tools does.
func writeUsage(w, stderr io.Writer) {
	io.WriteString(w, usageText)
	io.WriteString(stderr, usageFamilies)
}

const usageText = `usage: netstat [-vWeenNcCF] [<Af>] -r         netstat {-V|--version|-h|--help}
       netstat [-vWnNcaeol] [<Socket> ...]
       netstat { [-vWeenNac] -i | [-cnNe] -M | -s [-6tuw] }

        -r, --route              display routing table
        -i, --interfaces         display interface table
        -g, --groups             display multicast group memberships
        -s, --statistics         display networking statistics (like SNMP)
        -M, --masquerade         display masqueraded connections

        -v, --verbose            be verbose
        -W, --wide               don't truncate IP addresses
        -n, --numeric            don't resolve names
        --numeric-hosts          don't resolve host names
        --numeric-ports          don't resolve port names
        --numeric-users          don't resolve user names
        -N, --symbolic           resolve hardware names
        -e, --extend             display other/more information
        -p, --programs           display PID/Program name for sockets
        -o, --timers             display timers
        -c, --continuous         continuous listing

        -l, --listening          display listening server sockets
        -a, --all                display all sockets (default: connected)
        -F, --fib                display Forwarding Information Base (default)
        -C, --cache              display routing cache instead of FIB
        -Z, --context            display SELinux security context for sockets

  <Socket>={-t|--tcp} {-u|--udp} {-U|--udplite} {-S|--sctp} {-w|--raw}
           {-x|--unix} --ax25 --ipx --netrom
  <AF>=Use '-6|-4' or '-A <af>' or '--<af>'; default: inet
  List of possible address families (which support routing):
`

const usageFamilies = "    inet (DARPA Internet) inet6 (IPv6) ax25 (AMPR AX.25) \n" +
	"    netrom (AMPR NET/ROM) rose (AMPR ROSE) ipx (Novell IPX) \n" +
	"    ddp (Appletalk DDP) x25 (CCITT X.25) \n"
