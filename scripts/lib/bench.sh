# shellcheck shell=bash
# scripts/lib/bench.sh: what the tracer benches share (bench-churn.sh,
# bench-nginx.sh). Source it after setting BENCH (the script's name, for
# messages and temporary names); it sets ns, work and pids, installs the
# cleanup trap and defines log, forget, bench_tracefs and bench_netns (and
# bench_alone, from alone.sh). A script may set bench_extra_cleanup to a
# function that cleanup calls first.

# shellcheck source=scripts/lib/alone.sh
. scripts/lib/alone.sh

ns=bpfnetstat-$BENCH-$$
# Tracer output goes to tmpfs: a file there costs the writer a copy and no
# disk write-back, less than a pipe to a counting process.
tmp=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
work=$(mktemp -d "$tmp/bench-$BENCH.XXXXXX")
pids=()
tracefs_mounted=
bench_extra_cleanup=

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	# Anything still in the namespace is ours (load generators, servers).
	if [ -e "/run/netns/$ns" ]; then
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	fi
	if [ -n "$bench_extra_cleanup" ]; then
		"$bench_extra_cleanup" || true
	fi
	if [ -n "$tracefs_mounted" ]; then
		umount /sys/kernel/tracing 2>/dev/null || true
	fi
	rm -rf "/etc/netns/$ns" "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf 'bench-%s: [%3ds] %s\n' "$BENCH" "$SECONDS" "$*" >&2; }

# forget PID: drop a process that has ended from the cleanup list.
forget() {
	local keep=() p
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

# bench_tracefs: installs the bench's packages and mounts tracefs if it is
# not mounted (the reference tracer's tracepoint needs it; unmounted again
# on exit).
bench_tracefs() {
	scripts/install-bench-deps.sh
	if [ ! -e /sys/kernel/tracing/events/sock/inet_sock_set_state ]; then
		log "mounting tracefs at /sys/kernel/tracing (the reference tracer's tracepoint needs it)"
		mount -t tracefs tracefs /sys/kernel/tracing
		tracefs_mounted=1
	fi
}

# bench_netns PORT [SYSCTL...]: the private network namespace, with name
# files that keep every lookup local, lo up, and room for TIME_WAIT churn:
# the whole port range, reuse, and PORT kept out of the range.
bench_netns() {
	local port=$1
	shift
	log "network namespace $ns"
	mkdir -p "/etc/netns/$ns"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"/etc/netns/$ns/hosts"
	printf 'nameserver 127.0.0.1\n' >"/etc/netns/$ns/resolv.conf"
	printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"/etc/netns/$ns/nsswitch.conf"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw \
		net.ipv4.ip_local_port_range="1024 65535" \
		net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_reserved_ports="$port" "$@"
}
