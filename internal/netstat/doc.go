// Package netstat is the classic netstat command line of net-tools 2.10,
// byte for byte: the getopt_long emulation with netstat's option table,
// messages and argument permutation, the views (sockets, routes -r,
// interfaces -i, statistics -s, groups -g, masquerade -M), netstat's exit
// statuses, and the one -c loop they share. Under the name bpfnetstat the
// socket listing with -c also joins the tracer (merged) for TIME_WAIT
// owners and --recent's ghost rows.
//
// It takes everything from cmdutil.Env. It is a command package: only the
// root command imports it, and it must never import a subcommand package.
package netstat
