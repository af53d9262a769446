package cli

import "fmt"

// runStatistics is netstat -s.
func runStatistics(o *classicOptions, env Env) int {
	af := o.afname
	if af == "" {
		af = "inet"
	}
	if af != "inet" && af != "inet6" {
		fmt.Fprintf(env.Stdout, "netstat: No statistics support for specified address family: %s\n", af)
		return 1
	}
	return notYet(env, "statistics (-s)")
}
