package cli

import (
	"fmt"
	"os"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// runMasquerade is netstat -M.
func runMasquerade(o *classicOptions, env Env) int {
	path := snapshot.NewFS(env.ProcRoot).Path("net", "ip_masquerade")
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(env.Stderr, "%s: no support for `ip_masquerade' on this system.\n", o.name)
		return 1
	}
	return notYet(env, "masquerade (-M)")
}
