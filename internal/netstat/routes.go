package netstat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/names"
	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// netstat's route_info and printers' statuses (lib/net-support.h).
const (
	eNotFound = 8
	eOptErr   = 3
)

// routeRun is one invocation of netstat -r: the family list walked every
// round, one name cache for the whole run (netstat's INET_nn).
type routeRun struct {
	o      *classicOptions
	env    cmdutil.Env
	fs     snapshot.FS
	out    *bufio.Writer
	render *output.Routes
	json   *output.JSONArray
	fib    bool
	cache  bool
}

// runRoutes is netstat -r: for each family of the list (default inet),
// the FIB unless only -C was given, then the cache with -C; -c repeats the
// whole, titles included, every second until a round fails.
func runRoutes(o *classicOptions, env cmdutil.Env) int {
	r := &routeRun{
		o:     o,
		env:   env,
		fs:    snapshot.NewFS(env.ProcRoot),
		out:   bufio.NewWriterSize(env.Stdout, 64<<10),
		fib:   o.fib || !o.cache,
		cache: o.cache,
	}
	r.render = output.NewRoutes(output.RouteOptions{
		Numeric:      o.numHost || o.sym,
		Ext:          output.RouteExt(o.exp - 1),
		NumericHost6: names.NumericHost6,
	}, names.New())
	return repeat(o, env, func(int) int {
		if o.json {
			r.json = output.NewJSONArray(r.out)
		}
		rc := r.once()
		if r.json != nil {
			// Even after a failing family: stdout stays one array a round.
			r.json.Close()
		}
		r.out.Flush()
		return rc
	})
}

// text writes netstat's text; JSON mode keeps stdout for the array.
func (r *routeRun) text(b []byte) {
	if r.json == nil {
		r.out.Write(b)
	}
}

// notice is one of the messages netstat prints on stdout when a table is
// missing; in JSON mode they go to stderr.
func (r *routeRun) notice(msg string) {
	if r.json != nil {
		io.WriteString(r.env.Stderr, msg)
		return
	}
	io.WriteString(r.out, msg)
}

// once is route_info: the list in order, empty elements skipped, the first
// failing family ends the round with its status.
func (r *routeRun) once() int {
	af := r.o.afname
	if af == "" {
		af = "inet"
	}
	if len(af) > 255 {
		af = af[:255]
	}
	found := eNotFound
	for _, name := range strings.Split(af, ",") {
		if name == "" {
			continue
		}
		var rc int
		switch name {
		case "inet":
			rc = r.inet()
		case "inet6":
			rc = r.inet6()
		case "unix", "ec", "ash":
			fmt.Fprintf(r.env.Stderr, "No routing for address family `%s'.\n", name)
			return eOptErr
		case "ax25", "netrom", "rose", "x25", "ipx", "ddp":
			rc = r.legacy(name)
		default:
			fmt.Fprintf(r.env.Stderr, "Address family `%s' not supported.\n", name)
			return eOptErr
		}
		found = 0
		if rc != 0 {
			return rc
		}
	}
	return found
}

// perror writes what C's perror(prefix) writes for err.
func (r *routeRun) perror(prefix string, err error) {
	if prefix == "" {
		fmt.Fprintf(r.env.Stderr, "%s\n", strerror(err))
		return
	}
	fmt.Fprintf(r.env.Stderr, "%s: %s\n", prefix, strerror(err))
}

// inet is INET_rprint: the FIB, then the cache.
func (r *routeRun) inet() int {
	if r.fib {
		if rc := r.fib4(); rc != 0 {
			return rc
		}
	}
	if r.cache {
		return r.cache4()
	}
	return 0
}

func (r *routeRun) fib4() int {
	rr, err := r.fs.OpenRoutes(snapshot.RouteFIB4)
	if err != nil {
		r.perror("/proc/net/route", err)
		r.notice("INET (IPv4) not configured in this system.\n")
		return 1
	}
	defer rr.Close()
	r.text(r.render.FIB4Header())
	err = rr.Each(func(rt *snapshot.Route) {
		if r.json != nil {
			r.json.Add(output.FIB4JSON(rt))
			return
		}
		r.out.Write(r.render.FIB4Row(rt))
	})
	return r.tableError(err, "/proc/net/route")
}

// tableError turns a reader's error into netstat's message and status:
// a header without a needed column is a warning and status 1, an empty
// file status 1 alone.
func (r *routeRun) tableError(err error, path string) int {
	var fe *snapshot.RouteFieldError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &fe):
		fmt.Fprintf(r.env.Stderr, "warning: %s does not contain required field %s\n", path, fe.Field)
		return 1
	case errors.Is(err, snapshot.ErrNoRouteHeader):
		return 1
	}
	fmt.Fprintf(r.env.Stderr, "%s: %v\n", r.o.name, err)
	return 1
}

func (r *routeRun) cache4() int {
	rr, err := r.fs.OpenRoutes(snapshot.RouteCache4)
	if err != nil {
		r.perror("/proc/net/rt_cache", err)
		r.notice("INET (IPv4) not configured in this system.\n")
		return 1
	}
	defer rr.Close()
	layout, err := rr.GuessCacheLayout()
	r.text(r.render.Cache4Title())
	if err != nil {
		// proc_guess_fmt's -1: netstat perrors and exits with -1. After
		// an empty file errno still holds an earlier failure's ENOENT
		// (observed, whatever the locale).
		if err == io.EOF {
			err = unix.ENOENT
		}
		r.perror("/proc/net/rt_cache", err)
		return -1
	}
	if layout != snapshot.RouteCacheLayout22 && layout != snapshot.RouteCacheLayout20 {
		r.text(r.render.Cache4Unknown(layout))
	}
	r.text(r.render.Cache4Header(layout))
	err = rr.Each(func(rt *snapshot.Route) {
		if r.json != nil {
			r.json.Add(output.Cache4JSON(rt, layout))
			return
		}
		r.out.Write(r.render.Cache4Row(rt, layout))
	})
	if errors.Is(err, snapshot.ErrNoRouteHeader) {
		return 0 // rprint_cache does not check proc_gen_fmt's result
	}
	var fe *snapshot.RouteFieldError
	if errors.As(err, &fe) {
		fmt.Fprintf(r.env.Stderr, "warning: /proc/net/rt_cache does not contain required field %s\n", fe.Field)
		return 0
	}
	return r.tableError(err, "/proc/net/rt_cache")
}

// inet6 is INET6_rprint: the FIB, then with -C the cache, which (without
// /proc/net/ndisc, absent since Linux 2.4) is the FIB file's cached
// routes.
func (r *routeRun) inet6() int {
	if r.fib {
		if rc := r.fib6(false); rc != 0 {
			return rc
		}
	}
	if r.cache {
		return r.fib6(true)
	}
	return 0
}

func (r *routeRun) fib6(cache bool) int {
	rr, err := r.fs.OpenRoutes(snapshot.RouteFIB6)
	if err != nil {
		r.perror("/proc/net/ipv6_route", err)
		r.notice("INET6 (IPv6) not configured in this system.\n")
		return 1
	}
	defer rr.Close()
	rr.IPv6Cache = cache
	r.text(r.render.FIB6Header(cache))
	err = rr.Each(func(rt *snapshot.Route) {
		if r.json != nil {
			r.json.Add(output.FIB6JSON(rt, cache))
			return
		}
		r.out.Write(r.render.FIB6Row(rt))
	})
	return r.tableError(err, "/proc/net/ipv6_route")
}

// legacy covers the families whose routing tables current kernels no
// longer have: netstat's messages when their files are missing. When a
// file does exist, bpfnetstat says it cannot list it.
func (r *routeRun) legacy(name string) int {
	exists := func(rel string) error {
		f, err := snapshot.OpenFile(r.fs.Path("net", rel))
		if err == nil {
			f.Close()
		}
		return err
	}
	unsupported := func() int {
		fmt.Fprintf(r.env.Stderr, "%s: listing the %s routing table is not supported\n", r.o.name, name)
		return 1
	}
	switch name {
	case "ax25":
		if err := exists("ax25_route"); err != nil {
			r.perror("/proc/net/ax25_route", err)
			r.notice("AX.25 not configured in this system.\n")
			return 1
		}
	case "netrom":
		e1, e2 := exists("nr_nodes"), exists("nr_neigh")
		if e1 != nil {
			r.perror("/proc/net/nr_nodes", e1)
			// perror itself dups stderr and fdopens it "w+": on a
			// write-only stderr that fails with EINVAL, which the next
			// perror reports instead of the open's errno.
			if e2 != nil && !stderrReadWrite(r.env.Stderr) {
				e2 = unix.EINVAL
			}
		}
		if e2 != nil {
			r.perror("/proc/net/nr_neigh", e2)
		}
		if e1 != nil || e2 != nil {
			r.notice("NET/ROM not configured in this system.\n")
			return 1
		}
	case "rose":
		if err := exists("rose_nodes"); err != nil {
			r.perror("/proc/net/rose_nodes", err)
			io.WriteString(r.env.Stderr, "ROSE not configured in this system.\n")
			return 1
		}
	case "x25":
		if exists("x25/route") != nil && exists("x25_routes") != nil {
			r.notice("X.25 not configured in this system.\n")
			return 1
		}
	case "ipx":
		err := exists("ipx/route")
		if err != nil {
			err = exists("ipx_route")
		}
		if err != nil {
			r.perror("", err)
			r.notice("IPX routing not in file /proc/net/ipx/route or /proc/net/ipx_route found.\n")
			return 1
		}
	case "ddp":
		if err := exists("atalk_route"); err != nil {
			r.perror("Error opening /proc/net/atalk_route", err)
			io.WriteString(r.env.Stderr, "DDP (AppleTalk) not configured on this system.\n")
			return 1
		}
	}
	return unsupported()
}

// stderrReadWrite reports whether w is a file opened for reading and
// writing (a terminal usually is; a pipe never is).
func stderrReadWrite(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_ACCMODE == unix.O_RDWR
}
