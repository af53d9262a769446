package netstat

// Option describes one classic command-line option for shell completion
// and the manual page. The parser never reads this table: it parses with
// netstatShort and netstatLong, and a test keeps the two in step.
type Option struct {
	Short   string // the letter of -X, "" when there is none
	Long    string // the name of --name, "" when there is none
	Arg     string // the argument's name (-A <af>), "" for a flag
	Usage   string // what it does, one line
	Section string // "mode", "format", "socket", "family" or "bpfnetstat"
}

// Options lists the options worth offering: every option of netstat's
// table but -d (accepted and ignored), -? (a shell glob character that
// only prints the usage) and --tcpip (always an internal error in
// net-tools), plus bpfnetstat's --json and --recent. The order is the
// manual's.
func Options() []Option {
	return []Option{
		{"r", "route", "", "display the routing table", "mode"},
		{"i", "interfaces", "", "display the interface table", "mode"},
		{"g", "groups", "", "display multicast group memberships", "mode"},
		{"s", "statistics", "", "display networking statistics (like SNMP)", "mode"},
		{"M", "masquerade", "", "display masqueraded (NAT) connections", "mode"},
		{"h", "help", "", "print the usage text (and bpfnetstat's subcommands) and exit", "mode"},
		{"V", "version", "", "print the version and exit", "mode"},

		{"v", "verbose", "", "be verbose: warn about missing /proc files", "format"},
		{"W", "wide", "", "don't truncate IP addresses", "format"},
		{"n", "numeric", "", "don't resolve names", "format"},
		{"", "numeric-hosts", "", "don't resolve host names", "format"},
		{"", "numeric-ports", "", "don't resolve port names", "format"},
		{"", "numeric-users", "", "don't resolve user names", "format"},
		{"N", "symbolic", "", "resolve hardware names (makes routing tables numeric)", "format"},
		{"e", "extend", "", "display other/more information (User and Inode; twice: more route columns)", "format"},
		{"p", "programs", "", "display PID/Program name for sockets", "format"},
		{"o", "timers", "", "display timers", "format"},
		{"c", "continuous", "", "continuous listing, every second", "format"},
		{"l", "listening", "", "display listening server sockets", "format"},
		{"a", "all", "", "display all sockets (default: connected)", "format"},
		{"F", "fib", "", "display Forwarding Information Base (default)", "format"},
		{"C", "cache", "", "display routing cache instead of FIB", "format"},
		{"Z", "context", "", "display SELinux security context for sockets (fails: no SELinux)", "format"},

		{"t", "tcp", "", "TCP sockets", "socket"},
		{"u", "udp", "", "UDP sockets", "socket"},
		{"U", "udplite", "", "UDP-Lite sockets", "socket"},
		{"S", "sctp", "", "SCTP sockets", "socket"},
		{"w", "raw", "", "raw sockets", "socket"},
		{"x", "unix", "", "UNIX domain sockets (same as -A unix)", "socket"},
		{"2", "l2cap", "", "Bluetooth L2CAP sockets (not supported)", "socket"},
		{"f", "rfcomm", "", "Bluetooth RFCOMM sockets (not supported)", "socket"},

		{"A", "protocol", "af", "address families, comma separated (see FAMILIES)", "family"},
		{"4", "", "", "IPv4 only (same as -A inet)", "family"},
		{"6", "", "", "IPv6 only (same as -A inet6)", "family"},
		{"", "inet", "", "same as -A inet", "family"},
		{"", "ip", "", "same as -A inet", "family"},
		{"", "inet6", "", "same as -A inet6", "family"},
		{"", "ipx", "", "same as -A ipx", "family"},
		{"", "ax25", "", "same as -A ax25", "family"},
		{"", "netrom", "", "same as -A netrom", "family"},
		{"", "x25", "", "same as -A x25", "family"},
		{"", "rose", "", "same as -A rose", "family"},
		{"", "ddp", "", "same as -A ddp", "family"},
		{"", "appletalk", "", "same as -A ddp", "family"},
		{"", "bluetooth", "", "same as -A bluetooth", "family"},

		{"", "json", "", "print the listing or view as JSON (bpfnetstat)", "bpfnetstat"},
		{"", "recent", "", "with -c: also list connections that opened and closed between two refreshes (bpfnetstat)", "bpfnetstat"},
	}
}

// Families are the address-family names -A and --protocol accept, with
// what each selects.
func Families() [][2]string {
	return [][2]string{
		{"inet", "IPv4 (DARPA Internet)"},
		{"inet6", "IPv6"},
		{"unix", "UNIX domain"},
		{"ipx", "Novell IPX"},
		{"ax25", "AMPR AX.25"},
		{"netrom", "AMPR NET/ROM"},
		{"rose", "AMPR ROSE"},
		{"x25", "CCITT X.25"},
		{"ddp", "Appletalk DDP"},
		{"bluetooth", "Bluetooth (not supported)"},
		{"ip", "same as inet"},
		{"tcpip", "same as inet"},
		{"ip6", "same as inet6"},
		{"appletalk", "same as ddp"},
		{"econet", "Econet (selects no sockets)"},
		{"ash", "Ash (selects no sockets)"},
	}
}
