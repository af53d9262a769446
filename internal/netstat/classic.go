package netstat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/names"
	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// classicOptions are netstat's flags after parsing, with net-tools' names
// and counting semantics (most flags are counters).
type classicOptions struct {
	all, lst, cnt, igmp, exp, prg, intf, wide, opt, rou, mas, sta int
	numHost, numPort, numUser, sym, verbose                       bool
	cache, fib                                                    bool
	tcp, sctp, udp, udplite, raw, l2cap, rfcomm                   int
	inet, inet6, unx, ipx, ax25, netrom, x25, rose, ddp, ec, ash  int
	bluetooth                                                     int
	afname                                                        string
	json                                                          bool
	recent                                                        bool // --recent: ghost rows of connections between refreshes
	// bpfnetstat only: --identity (identity columns), --cgroup and
	// --container (only sockets whose owner is in the cgroup).
	identity          bool
	cgroup, container string

	// help follows the usage text for -h when not invoked as netstat:
	// bpfnetstat's subcommands.
	help string

	// name prefixes bpfnetstat's own stderr messages: "netstat" under that
	// name (byte-compatible), "bpfnetstat" otherwise.
	name string

	noprot bool // protocols switched on implicitly by a family option
	arg    int  // number of explicitly selected socket kinds
}

// parseClassic processes argv like netstat's main: options left to right,
// with -h, -V, -Z, a bad family and getopt errors acting at once.
func parseClassic(prog string, args []string, env cmdutil.Env, help string) (*classicOptions, error) {
	o := &classicOptions{exp: 1, name: "bpfnetstat", help: help}
	classic := filepath.Base(prog) == "netstat"
	if classic {
		o.name = "netstat"
	}
	// --json and --recent are bpfnetstat's: under the name netstat they are
	// unknown options, with net-tools' usage error, so that the drop-in
	// never accepts a command line the real netstat refuses; so are the
	// identity options, which would also change what netstat's
	// abbreviations of its own options mean.
	long := netstatLong
	if !classic {
		long = append(netstatLong[:len(netstatLong):len(netstatLong)], longOpt{"json", false, 'J'}, longOpt{"recent", false, 'R'},
			longOpt{"identity", false, 'I'}, longOpt{"cgroup", true, 'G'}, longOpt{"container", true, 'K'})
	}
	var stop error
	getopt(prog, args, netstatShort, long, env.Getenv("POSIXLY_CORRECT") != "", func(p parsedOpt) bool {
		switch p.val {
		case afTrans:
			if p.index >= afTransCount {
				fmt.Fprint(env.Stderr, "netstat.c: Internal Error `longopts 1 range'.\n")
				return true
			}
			if o.afTrans(long[p.index].name, env.Stderr) {
				stop = cmdutil.ExitError{Code: 1}
			}
		case 'A':
			if o.afTrans(p.arg, env.Stderr) {
				stop = cmdutil.ExitError{Code: 1}
			}
		case '6':
			if o.afTrans("inet6", env.Stderr) {
				stop = cmdutil.ExitError{Code: 1}
			}
		case '4':
			if o.afTrans("inet", env.Stderr) {
				stop = cmdutil.ExitError{Code: 1}
			}
		case 'x':
			if o.afTrans("unix", env.Stderr) {
				stop = cmdutil.ExitError{Code: 1}
			}
		case 'M':
			o.mas++
		case 'a':
			o.all++
		case 'l':
			o.lst++
		case 'c':
			o.cnt++
		case 'd':
		case 'g':
			o.igmp++
		case 'e':
			o.exp++
		case 'p':
			o.prg++
		case 'i':
			o.intf++
		case 'W':
			o.wide++
		case 'n':
			o.numHost, o.numPort, o.numUser = true, true, true
		case '!':
			o.numHost = true
		case '@':
			o.numPort = true
		case '#':
			o.numUser = true
		case 'N':
			o.sym = true
		case 'C':
			o.cache = true
		case 'F':
			o.fib = true
		case 'o':
			o.opt++
		case 'V':
			io.WriteString(env.Stdout, cmdutil.VersionText())
			stop = cmdutil.ExitError{Code: 0}
		case 'v':
			o.verbose = true
		case 'r':
			o.rou++
		case 't':
			o.tcp++
		case 'S':
			o.sctp++
		case 'u':
			o.udp++
		case 'U':
			o.udplite++
		case 'w':
			o.raw++
		case '2':
			o.l2cap++
		case 'f':
			o.rfcomm++
		case 'Z':
			fmt.Fprint(env.Stderr, "SELinux is not enabled on this machine.\n")
			stop = cmdutil.ExitError{Code: 1}
		case 'J':
			o.json = true
		case 'R':
			o.recent = true
		case 'I':
			o.identity = true
		case 'G':
			o.cgroup = p.arg
		case 'K':
			o.container = p.arg
		case '?':
			io.WriteString(env.Stderr, p.errMsg)
			writeUsage(env.Stderr, env.Stderr)
			stop = cmdutil.ExitError{Code: 3}
		case 'h':
			writeUsage(env.Stdout, env.Stderr)
			if !classic {
				io.WriteString(env.Stdout, o.help)
			}
			stop = cmdutil.ExitError{Code: 0}
		case 's':
			o.sta++
		}
		return stop == nil
	})
	if stop != nil {
		return nil, stop
	}
	if o.intf+o.rou+o.mas+o.sta > 1 {
		writeUsage(env.Stderr, env.Stderr)
		return nil, cmdutil.ExitError{Code: 3}
	}
	if (o.inet > 0 || o.inet6 > 0 || o.sta > 0) && o.tcp+o.sctp+o.udp+o.udplite+o.raw == 0 {
		o.noprot = true
		o.tcp, o.sctp, o.udp, o.udplite, o.raw = 1, 1, 1, 1, 1
	}
	if o.tcp+o.sctp+o.udp+o.udplite+o.raw+o.igmp > 0 && o.inet+o.inet6 == 0 {
		o.inet, o.inet6 = 1, 1
	}
	if o.bluetooth > 0 && o.l2cap+o.rfcomm == 0 {
		o.l2cap, o.rfcomm = 1, 1
	}
	o.arg = o.tcp + o.sctp + o.udplite + o.udp + o.raw + o.unx + o.ipx + o.ax25 +
		o.netrom + o.igmp + o.x25 + o.rose + o.l2cap + o.rfcomm
	return o, nil
}

// afAliases is net-tools' aftrans table: alias, canonical name, flag.
var afAliases = []struct{ alias, name string }{
	{"ax25", "ax25"}, {"ip", "inet"}, {"ip6", "inet6"}, {"ipx", "ipx"},
	{"rose", "rose"}, {"appletalk", "ddp"}, {"netrom", "netrom"},
	{"inet", "inet"}, {"inet6", "inet6"}, {"ddp", "ddp"}, {"unix", "unix"},
	{"tcpip", "inet"}, {"econet", "ec"}, {"x25", "x25"}, {"ash", "ash"},
	{"bluetooth", "bluetooth"},
}

// afTrans is net-tools' aftrans_opt: it reports true when the program must
// exit with status 1.
func (o *classicOptions) afTrans(arg string, stderr io.Writer) bool {
	if len(arg) > 255 {
		arg = arg[:255]
	}
	for _, elem := range strings.Split(arg, ",") {
		var name string
		for _, a := range afAliases {
			if a.alias == elem {
				name = a.name
				break
			}
		}
		if name == "" {
			fmt.Fprintf(stderr, "Unknown address family `%s'.\n", elem)
			return true
		}
		if len(name)+len(o.afname)+1 >= 256 {
			fmt.Fprint(stderr, "Too much address family arguments.\n")
			return false
		}
		switch name {
		case "ax25":
			o.ax25++
		case "inet":
			o.inet++
		case "inet6":
			o.inet6++
		case "ipx":
			o.ipx++
		case "rose":
			o.rose++
		case "ddp":
			o.ddp++
		case "netrom":
			o.netrom++
		case "unix":
			o.unx++
		case "ec":
			o.ec++
		case "x25":
			o.x25++
		case "ash":
			o.ash++
		case "bluetooth":
			o.bluetooth++
		}
		if o.afname != "" {
			o.afname += ","
		}
		o.afname += name
	}
	return false
}

// Run is the classic netstat command line: prog is argv[0] (messages and
// exit statuses are netstat's own under the name "netstat"), args the rest;
// help is printed after the usage text for -h when not invoked as netstat.
// A non-zero exit status comes back as a cmdutil.ExitError, its messages
// already printed.
func Run(prog string, args []string, env cmdutil.Env, help string) error {
	o, err := parseClassic(prog, args, env, help)
	if err != nil {
		return err
	}
	if rc := runClassic(o, env); rc != 0 {
		return cmdutil.ExitError{Code: rc}
	}
	return nil
}

// repeat is the -c loop every view shares: round runs once without -c,
// else every second until it returns a non-zero status. A negative status
// (fatal in net-tools' terms) exits 255.
func repeat(o *classicOptions, env cmdutil.Env, round func(n int) int) int {
	for n := 0; ; n++ {
		rc := round(n)
		if rc != 0 || o.cnt == 0 {
			if rc < 0 {
				return 255
			}
			return rc
		}
		env.Sleep(time.Second)
	}
}

// runClassic runs the parsed netstat command line and returns the exit status.
func runClassic(o *classicOptions, env cmdutil.Env) int {
	switch {
	case o.mas > 0:
		return runMasquerade(o, env)
	case o.sta > 0:
		return runStatistics(o, env)
	case o.rou > 0:
		return runRoutes(o, env)
	case o.intf > 0:
		return runInterfaces(o, env)
	}
	return runSockets(o, env)
}

// socketRun is one invocation of the socket listing.
type socketRun struct {
	o      *classicOptions
	env    cmdutil.Env
	fs     snapshot.FS
	out    *bufio.Writer
	render *output.Classic
	jsonw  *output.JSONWriter
	owners *owners.Map
	loaded bool
	// listing is set in bpfnetstat's continuous mode: owners for TIME_WAIT
	// rows from the tracer or earlier refreshes, and ghost rows (--recent).
	listing *merged.Listing
	// live is the listing's tracer, if it runs; sweepNotes says its failed
	// sweeps on stderr.
	live       *merged.Live
	sweepNotes merged.SweepNotes
	// ids names owners for -p --json and --identity, and holds the
	// --cgroup/--container filter; nil when neither is asked for, so
	// that plain -p does no cgroup lookup at all.
	ids *cmdutil.Identities
	// namer names owners by pid for one listing.
	namer *cgroups.Namer
	// held keeps the IPv6 rows of a one-dump listing until the IPv4 rows
	// are out; reused from listing to listing.
	held []snapshot.Socket
}

// identityAsked: rows carry identities (-p --json, --identity) or are
// filtered by them.
func (o *classicOptions) identityAsked() bool {
	return o.prg > 0 && o.json || o.identity || o.cgroup != "" || o.container != ""
}

// wanted applies --cgroup/--container to a row: its owner must be known
// and in the cgroup.
func (r *socketRun) wanted(s *snapshot.Socket) bool {
	if r.ids == nil || r.ids.Filter == nil {
		return true
	}
	ow, ok := r.render.OwnerOf(s)
	if !ok {
		return false
	}
	return r.ids.Filter.Contains(r.namer.ByPID(uint32(ow.PID)).Path)
}

func runSockets(o *classicOptions, env cmdutil.Env) int {
	resolver := names.New()
	var ids *cmdutil.Identities
	if o.identityAsked() {
		var err error
		flags := cmdutil.IdentityFlags{Show: o.identity, Cgroup: o.cgroup, Container: o.container}
		if ids, err = flags.Open(env); err != nil {
			fmt.Fprintf(env.Stderr, "%s: %v\n", o.name, err)
			return 1
		}
		defer ids.Close()
	}
	r := &socketRun{
		ids: ids,
		o:   o,
		env: env,
		fs:  snapshot.NewFS(env.ProcRoot),
		out: bufio.NewWriterSize(env.Stdout, 64<<10),
	}
	r.render = output.NewClassic(output.ClassicOptions{
		NumericHosts: o.numHost,
		NumericPorts: o.numPort,
		NumericUsers: o.numUser,
		Wide:         o.wide > 0,
		Extend:       o.exp > 1,
		Programs:     o.prg > 0,
		Timers:       o.opt > 0,
		All:          o.all > 0,
		Listening:    o.lst > 0,
		ClockTicks:   100,
		NumericHost6: names.NumericHost6,
	}, resolver, nil)
	if ids != nil {
		opt := r.render.Options()
		opt.IdentityColumns = o.identity
		opt.Identity = func(pid int) cgroups.Identity { return *r.namer.ByPID(uint32(pid)) }
		r.render.SetOptions(opt)
	}
	if o.cnt > 0 && o.name != "netstat" {
		r.startMerged()
		defer r.listing.Close()
	} else if o.prg > 0 && o.name != "netstat" {
		// One listing: TIME_WAIT owners only from an agent, when one runs.
		if remote := cmdutil.AgentOwners(env); remote != nil {
			r.listing = merged.NewListing(r.fs, nil, false)
			r.listing.Owners.SetRemote(remote)
		}
	}
	return repeat(o, env, func(int) int {
		r.loaded = false
		r.owners = nil
		r.render.SetOwners(nil)
		if ids != nil {
			// Per listing: a pid's cgroup is read once per refresh.
			r.namer = cgroups.NewNamer(cgroups.Hierarchy{}, env.ProcRoot)
		}
		if o.json {
			r.jsonw = output.NewJSONWriter(r.out, r.render)
		}
		rc := r.once()
		if r.jsonw != nil && rc == 0 {
			r.jsonw.Close()
		}
		r.out.Flush()
		r.sweepNotes.Check(r.live, r.env.Stderr)
		return rc
	})
}

// startMerged starts the tracer for bpfnetstat's continuous mode, or says
// once what is missing without it.
func (r *socketRun) startMerged() {
	cmdutil.TuneForRefresh(r.env)
	var live *merged.Live
	if r.o.prg > 0 || r.o.recent || r.ids != nil && r.ids.Filter != nil {
		var err error
		var hooks []tracer.HookStatus
		var name func(*conn.Process)
		if r.ids != nil {
			name = r.ids.Name
		}
		if live, hooks, err = cmdutil.StartLive(tracer.Config{NetNS: cmdutil.OwnNetNS(), CgroupDir: r.ids.CgroupDir()}, r.o.recent, name); err != nil {
			fmt.Fprintf(r.env.Stderr, "bpfnetstat: %s; TIME_WAIT owners come only from earlier refreshes, and connections that live between two refreshes are not shown\n", cmdutil.WhyNoBPF(r.env, err))
		} else if r.ids != nil {
			r.ids.Namer.SetRemoved(live.RemovedCgroupPath)
		}
		for _, l := range cmdutil.DegradedLines(hooks) {
			fmt.Fprintln(r.env.Stderr, l)
		}
	}
	r.live = live
	r.listing = merged.NewListing(r.fs, live, r.o.recent)
	r.listing.Owners.SetRemote(cmdutil.AgentOwners(r.env))
}

// ghostRows prints, after the live rows, the TCP connections that opened
// and closed since the previous listing (--recent): state CLOSED, with
// their lifetime.
func (r *socketRun) ghostRows() {
	if r.listing == nil {
		return
	}
	ghosts := r.listing.Ghosts(func(s *snapshot.Socket) bool {
		v6 := s.Family == snapshot.FamilyInet6
		if (v6 && r.o.arg != 0 && r.o.inet6 == 0) || (!v6 && r.o.arg != 0 && r.o.inet == 0) {
			return false
		}
		return r.render.InetListed(s)
	})
	for i := range ghosts {
		g := &ghosts[i]
		if r.jsonw != nil {
			r.jsonw.Ghost(&g.Sock, g.Owner, g.LifetimeMs)
			continue
		}
		r.out.Write(r.render.GhostRow(&g.Sock, g.Owner, g.LifetimeMs))
	}
}

// once prints one listing, in netstat's block order, and returns its status.
func (r *socketRun) once() int {
	o := r.o
	explicitInet := o.tcp+o.sctp+o.udp+o.udplite+o.raw > 0
	if o.arg == 0 || explicitInet {
		r.loadOwners()
		r.text(r.render.InetHeader())
	}
	type block struct {
		on   bool
		name string
		v4   snapshot.Table
		v6   snapshot.Table
	}
	if o.arg == 0 || o.tcp > 0 {
		if rc := r.inetBlock("AF INET (tcp)", snapshot.TableTCP, snapshot.TableTCP6); rc != 0 {
			return rc
		}
	}
	if o.arg == 0 || o.sctp > 0 {
		if rc := r.sctpBlock(); rc != 0 {
			return rc
		}
	}
	for _, b := range []block{
		{o.arg == 0 || o.udp > 0, "AF INET (udp)", snapshot.TableUDP, snapshot.TableUDP6},
		{o.arg == 0 || o.udplite > 0, "AF INET (udplite)", snapshot.TableUDPLite, snapshot.TableUDPLite6},
		{o.arg == 0 || o.raw > 0, "AF INET (raw)", snapshot.TableRaw, snapshot.TableRaw6},
	} {
		if b.on {
			if rc := r.inetBlock(b.name, b.v4, b.v6); rc != 0 {
				return rc
			}
		}
	}
	if o.recent && (o.arg == 0 || o.tcp > 0) {
		r.ghostRows()
	}
	if o.igmp > 0 {
		if rc := r.groupsBlock(); rc != 0 {
			return rc
		}
	}
	if o.arg == 0 || o.unx > 0 {
		r.loadOwners()
		if rc := r.unixBlock(); rc != 0 {
			return rc
		}
	}
	rc := 0
	for _, b := range []struct {
		on    bool
		name  string
		files []string
	}{
		{o.arg == 0 || o.ipx > 0, "AF IPX", []string{"ipx/socket", "ipx"}},
		{o.arg == 0 || o.ax25 > 0, "AF AX25", []string{"ax25"}},
		{o.arg == 0 || o.x25 > 0, "AF X25", []string{"x25"}},
		{o.arg == 0 || o.netrom > 0, "AF NETROM", []string{"nr"}},
		{o.arg == 0 || o.rose > 0, "AF ROSE", []string{"rose"}},
	} {
		if !b.on {
			continue
		}
		if rc = r.legacyBlock(b.name, b.files); rc != 0 {
			return rc
		}
	}
	if o.arg == 0 || o.l2cap > 0 || o.rfcomm > 0 {
		if o.arg > 0 {
			rc = 1
			fmt.Fprint(r.env.Stderr, r.o.name+": feature `AF BLUETOOTH' not supported.\n"+
				"Please recompile `net-tools' with newer kernel source or full configuration.\n")
		}
	}
	return rc
}

func (r *socketRun) text(b []byte) {
	if r.jsonw == nil {
		r.out.Write(b)
	}
}

// loadOwners builds the -p owner map once per listing, with netstat's
// warnings when some processes could not be read.
func (r *socketRun) loadOwners() {
	if r.loaded || r.o.prg == 0 && r.ids == nil {
		return
	}
	r.loaded = true
	r.owners = cmdutil.ReadOwners(r.fs, r.env, r.o.name == "netstat")
	if r.listing != nil {
		r.listing.Owners.Refresh(r.owners)
		r.render.SetOwners(r.listing.Owners)
	} else {
		r.render.SetOwners(r.owners)
	}
	switch {
	case r.owners.ProcErr != nil || (r.owners.Denied && r.owners.Len() == 0):
		fmt.Fprintf(r.env.Stderr, "(No info could be read for \"-p\": geteuid()=%d but you should be root.)\n", r.env.Geteuid())
	case r.owners.Denied:
		fmt.Fprint(r.env.Stderr, "(Not all processes could be identified, non-owned process info\n"+
			" will not be shown, you would have to be root to see it all.)\n")
	}
}

// openFailed handles a table that could not be opened the way net-tools'
// INFO_GUTS1 does: ENOENT and EACCES mean "no support", anything else is
// fatal (status -1, shown as 255).
func (r *socketRun) openFailed(err error, path, name string) int {
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.EACCES) {
		fmt.Fprintf(r.env.Stderr, "%s: %s\n", path, strerror(err))
		return -1
	}
	if !r.o.noprot && (r.o.arg > 0 || r.o.verbose) {
		fmt.Fprintf(r.env.Stderr, "%s: no support for `%s' on this system.\n", r.o.name, name)
	}
	if !r.o.noprot && r.o.arg > 0 {
		return 1
	}
	return 0
}

func (r *socketRun) inetBlock(name string, v4, v6 snapshot.Table) int {
	if v4.Proto == snapshot.ProtoTCP && r.useDiag() {
		if rc, ok := r.tcpFromDiag(); ok {
			return rc
		}
	}
	rc := 0
	if r.o.arg == 0 || r.o.inet > 0 {
		if err := r.fs.EachInet(v4, r.inetRow); err != nil {
			if rc = r.tableError(err, v4.File(), name); rc < 0 {
				return rc
			}
		}
	}
	if r.o.arg == 0 || r.o.inet6 > 0 {
		r.fs.EachInet(v6, r.inetRow) // netstat skips a missing IPv6 table silently
	}
	return rc
}

// useDiag says whether TCP comes from sock_diag: by default when reading
// the live /proc (a fixture root has no netlink), unless
// BPFNETSTAT_SOURCE=proc asks for the /proc text tables.
func (r *socketRun) useDiag() bool {
	return r.env.ProcRoot == "/proc" && r.env.Getenv("BPFNETSTAT_SOURCE") != "proc"
}

// tcpFromDiag lists TCP from sock_diag; ok is false when the kernel said
// no before any row was printed, and the caller falls back to /proc.
func (r *socketRun) tcpFromDiag() (rc int, ok bool) {
	d, err := snapshot.OpenDiag()
	if err != nil {
		return 0, false
	}
	defer d.Close()
	opt := snapshot.DiagOptions{Timers: r.o.opt > 0}
	want4, want6 := r.o.arg == 0 || r.o.inet > 0, r.o.arg == 0 || r.o.inet6 > 0
	if want4 && want6 {
		if rc, ok := r.tcpBoth(d, opt); ok {
			return rc, true
		}
	}
	return r.tcpPerFamily(d, opt, want4, want6)
}

// heldV6Max bounds the IPv6 rows tcpBoth holds back: 4096 copies, under a
// MiB. Past it the walk's IPv6 rows are dropped and dumped again after
// the IPv4 rows, where the second walk costs little next to the rows.
var heldV6Max = 4096

// eachTCPBoth is the one dump of both families; tests wrap it.
var eachTCPBoth = (*snapshot.Diag).EachTCPBoth

// tcpBoth lists both families from one dump: the kernel walks its
// established hash, which every namespace shares, once instead of twice.
// netstat prints all tcp rows, then all tcp6 rows, each family in the
// kernel's order; the one dump visits the same buckets in the same order
// for both families (snapshot.Diag.EachTCPBoth), so IPv4 rows are printed
// as they come and the listed IPv6 rows are held to follow them. ok is
// false when no IPv4 row was printed before the dump failed: the caller
// then dumps each family, as on a kernel without the old request.
func (r *socketRun) tcpBoth(d *snapshot.Diag, opt snapshot.DiagOptions) (rc int, ok bool) {
	rows4, overflow := 0, false
	r.held = r.held[:0]
	err := eachTCPBoth(d, opt, func(s *snapshot.Socket) {
		if s.Family == snapshot.FamilyInet {
			rows4++
			r.inetRow(s, nil)
			return
		}
		if !r.sawInet(s) || overflow {
			return
		}
		if len(r.held) == heldV6Max {
			overflow, r.held = true, r.held[:0]
			return
		}
		r.held = append(r.held, *s)
	})
	if err != nil {
		r.held = r.held[:0]
		if rows4 == 0 {
			return 0, false
		}
		fmt.Fprintf(r.env.Stderr, "%s: %v\n", r.o.name, err)
		return 0, true
	}
	if overflow {
		// An IPv6-less kernel: netstat skips a missing tcp6 silently.
		d.EachTCP(snapshot.FamilyInet6, opt, func(s *snapshot.Socket) { r.inetRow(s, nil) })
		return 0, true
	}
	for i := range r.held {
		r.emitInet(&r.held[i])
	}
	clear(r.held) // no row outlives its listing
	r.held = r.held[:0]
	return 0, true
}

// tcpPerFamily lists the families asked for, one dump each.
func (r *socketRun) tcpPerFamily(d *snapshot.Diag, opt snapshot.DiagOptions, want4, want6 bool) (rc int, ok bool) {
	rows := 0
	row := func(s *snapshot.Socket) { rows++; r.inetRow(s, nil) }
	if want4 {
		if err := d.EachTCP(snapshot.FamilyInet, opt, row); err != nil {
			if rows == 0 {
				return 0, false
			}
			fmt.Fprintf(r.env.Stderr, "%s: %v\n", r.o.name, err)
			return 0, true
		}
	}
	if want6 {
		if err := d.EachTCP(snapshot.FamilyInet6, opt, row); err != nil {
			// An IPv6-less kernel: netstat skips a missing tcp6 silently.
			return 0, true
		}
	}
	return 0, true
}

// tableError sorts a reader error into an open failure or a read failure.
func (r *socketRun) tableError(err error, file, name string) int {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == "open" {
		return r.openFailed(err, "/proc/net/"+file, name)
	}
	fmt.Fprintf(r.env.Stderr, "bpfnetstat: %v\n", err)
	return 0
}

func (r *socketRun) inetRow(s *snapshot.Socket, bad *snapshot.LineError) {
	if bad != nil {
		fmt.Fprintf(r.env.Stderr, "warning, got bogus %s line.\n", bogusName(bad))
		return
	}
	if r.sawInet(s) {
		r.emitInet(s)
	}
}

// sawInet records a row of the listing and says whether -a/-l list it.
func (r *socketRun) sawInet(s *snapshot.Socket) bool {
	if r.listing != nil {
		r.listing.Saw(s)
	}
	return r.render.InetListed(s)
}

// emitInet prints a listed row that the --cgroup/--container filter keeps.
func (r *socketRun) emitInet(s *snapshot.Socket) {
	if !r.wanted(s) {
		return
	}
	if r.jsonw != nil {
		r.jsonw.Socket(s)
		return
	}
	r.out.Write(r.render.InetRow(s))
}

func bogusName(bad *snapshot.LineError) string {
	switch {
	case strings.HasSuffix(bad.Path, "/tcp"), strings.HasSuffix(bad.Path, "/tcp6"):
		return "tcp"
	case strings.HasSuffix(bad.Path, "/raw"), strings.HasSuffix(bad.Path, "/raw6"):
		return "raw"
	case strings.HasSuffix(bad.Path, "/unix"):
		return "unix"
	}
	return "udp"
}

// sctpBlock: net-tools lists SCTP endpoints (with -a or -l) and
// associations (with -a or without -l). This kernel family has no SCTP
// tables; when they exist bpfnetstat does not list them yet.
func (r *socketRun) sctpBlock() int {
	o := r.o
	check := func(v4, v6 string) int {
		rc := 0
		if o.arg == 0 || o.inet > 0 {
			if _, err := os.Stat(r.fs.Path("net", v4)); err != nil {
				if rc = r.openFailed(err, "/proc/net/"+v4, "AF INET (sctp)"); rc < 0 {
					return rc
				}
			}
		}
		return rc
	}
	if o.all > 0 || o.lst > 0 {
		if rc := check("sctp/eps", "sctp6/eps"); rc != 0 {
			return rc
		}
	}
	if o.all > 0 || o.lst == 0 {
		return check("sctp/assocs", "sctp6/assocs")
	}
	return 0
}

func (r *socketRun) unixBlock() int {
	r.text(r.render.UnixHeader())
	err := r.fs.EachUnix(func(s *snapshot.Socket, bad *snapshot.LineError) {
		if bad != nil {
			fmt.Fprint(r.env.Stderr, "warning, got bogus unix line.\n")
			return
		}
		if !r.render.UnixListed(s) || !r.wanted(s) {
			return
		}
		if r.jsonw != nil {
			r.jsonw.Socket(s)
			return
		}
		r.out.Write(r.render.UnixRow(s))
	})
	if err != nil {
		return r.tableError(err, "unix", "AF UNIX")
	}
	return 0
}

// legacyBlock covers IPX, AX.25, X.25, NET/ROM and ROSE, whose tables
// current kernels no longer have. They ignore the implicit-protocol rule.
func (r *socketRun) legacyBlock(name string, files []string) int {
	var err error
	for _, f := range files {
		if _, err = os.Stat(r.fs.Path("net", f)); err == nil {
			return 0
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(r.env.Stderr, "/proc/net/%s: %s\n", files[0], strerror(err))
		return -1
	}
	if r.o.arg > 0 || r.o.verbose {
		fmt.Fprintf(r.env.Stderr, "%s: no support for `%s' on this system.\n", r.o.name, name)
	}
	if r.o.arg > 0 {
		return 1
	}
	return 0
}

// strerror gives glibc's text for an errno ("Permission denied").
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}
