package cli

// runInterfaces is netstat -i.
func runInterfaces(o *classicOptions, env Env) int {
	return notYet(env, "the interface table (-i)")
}
