package netstat

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/names"
	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// openInterfaceKernel is the ioctl source; tests replace it.
var openInterfaceKernel = func() (snapshot.InterfaceKernel, error) { return snapshot.OpenIoctls() }

// runInterfaces is netstat -i (net-tools' iface_info): the title once, and
// per round the column header (short format) and one row or block per
// interface that is up (all with -a).
func runInterfaces(o *classicOptions, env cmdutil.Env) int {
	k, err := openInterfaceKernel()
	if err != nil {
		fmt.Fprintf(env.Stderr, "socket: %s\n", strerror(err))
		return 1
	}
	defer k.Close()
	r := &ifaceRun{
		o:   o,
		env: env,
		fs:  snapshot.NewFS(env.ProcRoot),
		k:   k,
		out: bufio.NewWriterSize(env.Stdout, 16<<10),
		render: output.NewInterfaces(output.InterfaceOptions{
			Long:  o.exp > 1,
			Host6: names.NumericHost6,
		}),
	}
	if !o.json {
		r.out.WriteString(output.InterfaceTitle)
	}
	return repeat(o, env, func(int) int {
		rc := r.once()
		r.out.Flush()
		return rc
	})
}

type ifaceRun struct {
	o      *classicOptions
	env    cmdutil.Env
	fs     snapshot.FS
	k      snapshot.InterfaceKernel
	out    *bufio.Writer
	render *output.Interfaces
}

// once is one round: if_readlist, then do_if_print for every name.
func (r *ifaceRun) once() int {
	long := r.o.exp > 1
	if !long && !r.o.json {
		r.out.WriteString(output.InterfaceHeader)
	}
	devs, devErr := r.fs.ReadNetDev()
	var lastErr error
	if devErr != nil {
		lastErr = devErr
		if isOpenError(devErr) {
			fmt.Fprintf(r.env.Stderr, "Warning: cannot open /proc/net/dev (%s). Limited output.\n", strerror(devErr))
		} else {
			fmt.Fprintf(r.env.Stderr, "/proc/net/dev: %s\n", strerror(devErr))
		}
	}
	labels, confErr := r.k.Labels()
	if confErr != nil {
		lastErr = confErr
		fmt.Fprintf(r.env.Stderr, "SIOCGIFCONF: %s\n", strerror(confErr))
	}
	if devErr != nil && confErr != nil {
		fmt.Fprintf(r.env.Stderr, "missing interface information: %s\n", strerror(lastErr))
		return 1
	}
	byName := make(map[string]*snapshot.NetDev, len(devs))
	for i := range devs {
		byName[devs[i].Name] = &devs[i]
	}
	var inet6 []snapshot.IfInet6
	if long {
		// netstat reads the file again for every interface; once a
		// round sees the same lines.
		inet6, _ = r.fs.ReadIfInet6()
	}
	var rows []output.InterfaceJSON
	for _, name := range snapshot.InterfaceNames(devs, labels) {
		cfg, err := r.k.Fetch(name)
		if err != nil {
			msg := strerror(err)
			if errors.Is(err, syscall.ENODEV) {
				msg = "Device not found"
			}
			fmt.Fprintf(r.env.Stderr, "%s: error fetching interface information: %s\n", name, msg)
			fmt.Fprintf(r.env.Stderr, "missing interface information: %s\n", strerror(err))
			r.writeJSON(rows)
			return 1
		}
		if cfg.Flags&snapshot.IffUp == 0 && r.o.all == 0 {
			continue
		}
		ifc := snapshot.Interface{Name: name, IfConfig: cfg}
		var kernel *snapshot.NetDevStats
		if d := byName[name]; d != nil {
			ifc.Stats, kernel = &d.Stats, &d.Kernel
		}
		if r.o.json {
			rows = append(rows, output.NewInterfaceJSON(&ifc, kernel, inet6, long, names.NumericHost6))
			continue
		}
		r.out.Write(r.render.Row(&ifc, inet6))
	}
	r.writeJSON(rows)
	return 0
}

// writeJSON prints one round as a JSON array, one interface per line.
func (r *ifaceRun) writeJSON(rows []output.InterfaceJSON) {
	if !r.o.json {
		return
	}
	if len(rows) == 0 {
		r.out.WriteString("[]\n")
		return
	}
	for i := range rows {
		sep := ",\n"
		if i == 0 {
			sep = "[\n"
		}
		r.out.WriteString(sep)
		b, _ := json.Marshal(&rows[i])
		r.out.Write(b)
	}
	r.out.WriteString("\n]\n")
}
