package cli

import (
	"fmt"
	"strings"
)

// runRoutes is netstat -r.
func runRoutes(o *classicOptions, env Env) int {
	af := o.afname
	if af == "" {
		af = "inet"
	}
	for _, name := range strings.Split(af, ",") {
		switch name {
		case "unix", "ec", "ash":
			fmt.Fprintf(env.Stderr, "No routing for address family `%s'.\n", name)
			return 3
		case "bluetooth":
			fmt.Fprintf(env.Stderr, "Address family `%s' not supported.\n", name)
			return 3
		}
	}
	return notYet(env, "the routing table (-r)")
}
