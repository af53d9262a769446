package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Environment variables read by the suite (see the package comment).
const (
	envRequireRoot = "BPFNETSTAT_REQUIRE_ROOT"
	envOurs        = "BPFNETSTAT_E2E_OURS"
	envKeep        = "BPFNETSTAT_E2E_KEEP"
)

// realNetstat is the reference implementation.
const realNetstat = "/usr/bin/netstat"

// workRoot holds everything the suite builds or binds for this process; it
// is created on first use and removed by TestMain.
var workRoot string

func TestMain(m *testing.M) {
	code := m.Run()
	if workRoot != "" && os.Getenv(envKeep) != "1" {
		os.RemoveAll(workRoot)
	}
	os.Exit(code)
}

// requireRoot is the suite's one root gate: it skips t with the reason when
// the suite cannot run here (not root, tools missing), or fails it instead
// when BPFNETSTAT_REQUIRE_ROOT=1, so that a green CI cannot hide a skip.
func requireRoot(t *testing.T) {
	t.Helper()
	var reasons []string
	if os.Geteuid() != 0 {
		reasons = append(reasons, fmt.Sprintf("needs root for network namespaces and /etc/netns (euid %d)", os.Geteuid()))
	}
	for _, tool := range []string{realNetstat, "ip", "setpriv", "timeout", "go", "strace"} {
		if _, err := exec.LookPath(tool); err != nil {
			reasons = append(reasons, fmt.Sprintf("needs %s (scripts/install-test-deps.sh)", tool))
		}
	}
	if len(reasons) == 0 {
		return
	}
	msg := strings.Join(reasons, "; ")
	if os.Getenv(envRequireRoot) == "1" {
		t.Fatalf("%s, and %s=1 forbids skipping", msg, envRequireRoot)
	}
	t.Skip(msg)
}

// binaries are the programs the suite runs.
type binaries struct {
	// oursDir comes first in PATH for our side; it holds the symlink
	// netstat -> the binary under test.
	oursDir string
	// ours is the binary under test.
	ours string
	// farm is the socket farm (internal/farm).
	farm string
}

var (
	buildOnce sync.Once
	built     *binaries
	buildErr  error
)

// getBinaries builds bpfnetstat and the farm once per test process (or
// takes the binary named by BPFNETSTAT_E2E_OURS) and fails t if that fails.
func getBinaries(t *testing.T) *binaries {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = build() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func build() (*binaries, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	if err := ensureWorkRoot(); err != nil {
		return nil, err
	}
	b := &binaries{
		oursDir: filepath.Join(workRoot, "bin"),
		farm:    filepath.Join(workRoot, "farm", "farm"),
	}
	for _, d := range []string{b.oursDir, filepath.Dir(b.farm)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := goBuild(root, b.farm, "./e2e/internal/farm"); err != nil {
		return nil, err
	}
	if p := os.Getenv(envOurs); p != "" {
		if b.ours, err = filepath.Abs(p); err != nil {
			return nil, err
		}
	} else {
		b.ours = filepath.Join(b.oursDir, "bpfnetstat")
		if err := goBuild(root, b.ours, "./cmd/bpfnetstat"); err != nil {
			return nil, fmt.Errorf("%w\n(while cmd/bpfnetstat is missing, %s=%s checks the harness against netstat itself)",
				err, envOurs, realNetstat)
		}
	}
	if err := os.Symlink(b.ours, filepath.Join(b.oursDir, "netstat")); err != nil {
		return nil, err
	}
	return b, nil
}

func goBuild(dir, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build -o %s %s: %v\n%s", out, pkg, err, buf.String())
	}
	return nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// ensureWorkRoot creates workRoot. Its path must be short (UNIX socket paths
// of 100 bytes live below it) and reachable by uid 65534 (the farm's nobody
// child and netstat -p as nobody exec from it), so $TMPDIR is used only when
// it qualifies, /tmp otherwise.
func ensureWorkRoot() error {
	if workRoot != "" {
		return nil
	}
	base := os.TempDir()
	if len(base) > 24 || !worldTraversable(base) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, fmt.Sprintf("%s%d-", workPrefix, os.Getpid()))
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	workRoot = dir
	return nil
}

// worldTraversable reports whether every directory from / to dir has the
// search bit for others.
func worldTraversable(dir string) bool {
	dir = filepath.Clean(dir)
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if dir == "/" {
			return true
		}
		dir = filepath.Dir(dir)
	}
}

// startTied starts cmd so that the kernel kills it (SIGKILL) when the test
// binary dies, and returns a channel with cmd.Wait's result. The kernel
// sends Pdeathsig when the thread that forked the child ends, not the
// process: a child forked on a pooled thread was killed whenever a helper
// goroutine later locked that thread and ended locked (isInNetns does, to
// keep a thread in another namespace out of the pool), which took agents
// down in the middle of tests. So the fork is made on a thread locked for
// as long as the child lives.
func startTied(cmd *exec.Cmd) (<-chan error, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}
