# shellcheck shell=bash
# scripts/lib/alone.sh: bench_alone NAME refuses to measure beside another
# tracer. A bpfnetstat (the agent too) or a bpftrace started elsewhere
# keeps its hooks attached through every mode of a bench, the untraced one
# included, so every ratio would be against a traced machine, with nothing
# in the figures to show it. Sourced by bench.sh and by bench-agent.sh.
bench_alone() {
	local others
	# Two short patterns: pgrep warns on any longer than a process name
	# (15 characters), though it matches.
	others=$({ pgrep -a '^bpfnetstat'; pgrep -a '^bpftrace'; } || true)
	if [ -n "$others" ]; then
		printf 'bench-%s: another tracer is running; its hooks would be attached in every mode, the untraced one included:\n%s\n' "$1" "$others" >&2
		exit 1
	fi
}
