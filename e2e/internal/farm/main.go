// Command farm opens a fixed, varied set of real sockets in the network
// namespace it runs in, so that the end-to-end suite can compare netstat with
// bpfnetstat on them.
//
// The parent process re-executes itself a few times (with chosen argv[0]s and
// user ids) so that several processes own sockets, one pre-fork listener is
// shared by several processes, and the -p column meets long, relative, empty
// and path-like program names. Once every socket has reached its final,
// stable state the parent prints the line "ready" on stdout; it then keeps
// everything open until its stdin reaches EOF or it is killed. Children die
// with it (their stdin is a pipe from the parent, and Pdeathsig backs that up).
//
// The farm never sleeps to synchronise: every wait polls the kernel for the
// state it needs (TCP_INFO, SO_MEMINFO, /proc/net/tcp) with a deadline.
// It must not send anything after "ready": the raw ICMP sockets would count
// any stray ICMP in their Recv-Q.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// Environment variables that select a child's role and where it puts its
// UNIX sockets. The parent is the process without FARM_ROLE.
const (
	envRole = "FARM_ROLE"
	envDir  = "FARM_DIR"
)

// child describes one re-executed farm process.
type child struct {
	role  string
	argv0 string
	uid   int // -1: keep root
	// shared is passed as fd 3 (the pre-fork listener) when true.
	shared bool
}

// Owners other than root, with entries in the private passwd file written by
// the suite: 4242 has a name longer than the 10-column User field, 4243 has
// no entry at all (printed as a number), 65534 is nobody.
const (
	uidLongName = 4242
	uidNoName   = 4243
	uidNobody   = 65534
)

func main() {
	if role := os.Getenv(envRole); role != "" {
		runChild(role, os.Getenv(envDir))
		return
	}
	dir := flag.String("dir", "", "directory for UNIX socket paths (must exist)")
	nobody := flag.Bool("nobody", false, "also start a child running as uid 65534 that owns a listener")
	hostile := flag.Bool("hostile", false, "also make names with control characters, newlines and invalid UTF-8")
	flag.Parse()
	if *dir == "" {
		fatalf("-dir is required")
	}

	// The pre-fork listener: created before the children exist, then handed
	// to two of them, so three processes hold the same socket.
	shared := tcpListen(inet4("0.0.0.0", 22), false)

	children := []child{
		{role: "long", argv0: "averyveryverylongprogramname", uid: -1, shared: true},
		{role: "rel", argv0: "./rel prog", uid: -1, shared: true},
		{role: "daemon", argv0: "/opt/my daemon/sshd: wörker [priv]", uid: uidLongName},
		{role: "empty", argv0: "", uid: uidNoName},
	}
	if *nobody {
		children = append(children, child{role: "nobody", argv0: "/usr/local/bin/nobody-daemon", uid: uidNobody})
	}
	if *hostile {
		children = append(children,
			child{role: "hostile", argv0: "evil\x1b[31m\xffname\nline", uid: -1},
			child{role: "slash", argv0: "/usr/bin/", uid: -1})
	}
	var readies []*bufio.Reader
	for _, c := range children {
		readies = append(readies, startChild(c, *dir, shared))
	}

	parentSockets(*dir, *hostile)

	for i, r := range readies {
		line, err := r.ReadString('\n')
		if line != "ready\n" {
			fatalf("child %q did not get ready (read %q, %v)", children[i].role, line, err)
		}
	}
	fmt.Println("ready")
	waitForEOF()
}

// startChild re-executes the farm binary in the given role and returns the
// reader on which the child will announce readiness.
func startChild(c child, dir string, shared int) *bufio.Reader {
	exe, err := os.Executable()
	if err != nil {
		fatalf("finding own executable: %v", err)
	}
	cmd := &exec.Cmd{
		Path:   exe,
		Args:   []string{c.argv0},
		Env:    []string{envRole + "=" + c.role, envDir + "=" + dir, "PATH=/usr/bin:/bin"},
		Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if c.uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.uid), Groups: []uint32{}}
	}
	if c.shared {
		cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(shared), "shared-listener")}
	}
	// The parent never writes to the child's stdin; the pipe only tells the
	// child when the parent is gone.
	if _, err := cmd.StdinPipe(); err != nil {
		fatalf("child %s: stdin pipe: %v", c.role, err)
	}
	out, w, err := os.Pipe()
	if err != nil {
		fatalf("child %s: stdout pipe: %v", c.role, err)
	}
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		fatalf("starting child %s: %v", c.role, err)
	}
	w.Close()
	keepAlive = append(keepAlive, cmd, out)
	// A child that dies takes its sockets with it: the farm as a whole is
	// then no longer what the suite expects, so it ends too.
	go func() {
		err := cmd.Wait()
		fatalf("child %s exited: %v", c.role, err)
	}()
	return bufio.NewReader(out)
}

// keepAlive holds values whose finalizers must never run while the farm lives.
var keepAlive []any

func runChild(role, dir string) {
	switch role {
	case "long":
		longSockets()
	case "rel":
		relSockets(dir)
	case "daemon":
		daemonSockets()
	case "empty":
		emptySockets()
	case "nobody":
		nobodySockets()
	case "hostile":
		hostileSockets()
	case "slash":
		slashSockets()
	default:
		fatalf("unknown role %q", role)
	}
	fmt.Println("ready")
	waitForEOF()
}

// waitForEOF blocks until stdin is closed: the farm's only way to end, apart
// from being killed.
func waitForEOF() {
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

func fatalf(format string, args ...any) {
	role := os.Getenv(envRole)
	if role == "" {
		role = "parent"
	}
	fmt.Fprintf(os.Stderr, "farm (%s): %s\n", role, fmt.Sprintf(format, args...))
	os.Exit(1)
}
