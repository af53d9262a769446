#!/usr/bin/env bash
# bench-memory.sh [seconds] [rate]: the resident memory of each refreshing
# view (watch --json, -tanpc --recent, timewait --json) while many TIME_WAIT
# sockets exist and connections keep churning.
#
# Builds bpfnetstat and the load generator (scripts/churn) into a temporary
# directory and makes a private network namespace. For each view, alone:
# starts the view (its tracer sees every connection from the start), runs
# the load at [rate] connections/s (default 5000) for [seconds] (default
# 20), each connection leaving a TIME_WAIT socket that lives 60 s (so about
# rate x seconds of them: 100,000 by default), lets the view refresh 5 s
# more, and reads its VmHWM (peak RSS) and VmRSS from /proc/PID/status, with
# the TIME_WAIT count (ss) at that moment. A view with no socket at all
# takes about 30 MiB (the Go runtime, the BPF objects, the ring buffer).
# The namespace is made afresh for each view, so each starts from no
# TIME_WAIT socket. Prints one line per view and the same figures as
# bench.memory.VIEW.KEY=value lines. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
rate=${2:-5000}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 3 ] || ! [[ $rate =~ ^[0-9]+$ ]]; then
	echo "usage: $0 [seconds] [rate]   (seconds of load per view, at least 3, default 20; connections/s, default 5000)" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "bench-memory: needs root (network namespace, eBPF)" >&2
	exit 1
fi

ns=bpfnetstat-mem-$$
work=$(mktemp -d)
view_pid=

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if [ -n "$view_pid" ]; then
		kill -TERM "$view_pid" 2>/dev/null || true
	fi
	if [ -e "/run/netns/$ns" ]; then
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf 'bench-memory: [%3ds] %s\n' "$SECONDS" "$*" >&2; }

log "building bpfnetstat and scripts/churn"
go build -o "$work/bpfnetstat" ./cmd/bpfnetstat
go build -o "$work/churn" ./scripts/churn

# status PID KEY: a /proc/PID/status field in MiB (it is in kB).
status() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

declare -A views=(
	[watch_json]="watch --json --interval 1s"
	[tanpc_recent]="-tanpc --recent"
	[timewait_json]="timewait --json --interval 1s --count 0"
)
printf '%-14s %10s %10s %10s\n' VIEW TIME_WAIT "PEAK_MiB" "RSS_MiB"
for view in watch_json tanpc_recent timewait_json; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	# shellcheck disable=SC2086 # the view's arguments are words
	ip netns exec "$ns" "$work/bpfnetstat" ${views[$view]} >/dev/null 2>"$work/$view.err" &
	view_pid=$!
	sleep 1
	log "$view: load for ${secs}s at $rate connections/s"
	ip netns exec "$ns" "$work/churn" -duration "${secs}s" -rate "$rate" >"$work/churn.out" 2>&1
	sleep 5
	tw=$(ip netns exec "$ns" ss -Htan state time-wait | wc -l)
	# ip netns exec execs the view: the PID is bpfnetstat's.
	peak=$(status "$view_pid" VmHWM)
	rss=$(status "$view_pid" VmRSS)
	kill -TERM "$view_pid"
	wait "$view_pid" 2>/dev/null || true
	view_pid=
	printf '%-14s %10d %10s %10s\n' "$view" "$tw" "$peak" "$rss"
	printf 'bench.memory.%s.time_wait=%d\nbench.memory.%s.peak_mib=%s\nbench.memory.%s.rss_mib=%s\n' "$view" "$tw" "$view" "$peak" "$view" "$rss" >>"$work/keys"
	log "$view: $(cat "$work/churn.out")"
	for pid in $(ip netns pids "$ns" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	ip netns del "$ns"
done
cat "$work/keys"
