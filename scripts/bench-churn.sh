#!/usr/bin/env bash
# bench-churn.sh [seconds]: the maximum loopback TCP connection churn this
# machine sustains, with bpfnetstat's tracer off and on.
#
# Builds bpfnetstat and the load generator (scripts/churn) into a temporary
# directory, makes a private network namespace, and runs the load there for
# [seconds] (default 10) per run:
#   - tracer off: 3 runs, median connections/s;
#   - tracer on: 3 runs, each under its own `bpfnetstat life --json` (lines
#     counted), median connections/s; events/s from its closing loss line;
#   - one more run under `bpfnetstat life` with a concurrent
#     `bpfnetstat doctor --stats` for ns per event (that run pays for two
#     tracers, so its connections/s is left out of the medians).
# It prints a table and exits non-zero if the tracer lost any event: any
# non-zero count in life's closing loss line. Needs root. Takes about
# 7 x [seconds] + 30 s, plus however long life takes to drain after SIGINT
# (the DRAIN column; a tracer that fell behind shows there).
#
# ns per event is given twice: as doctor reports it for its own programs
# (total run time / total runs), and for life's programs, read from
# /proc/PID/fdinfo while doctor had the kernel's BPF run-time stats on.
# doctor never reads its ring buffer, so once that fills its programs take
# the cheaper "ring buffer full" path: life's figure is the real cost.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: $0 [seconds]   (seconds per run, at least 5; default 10)" >&2
	exit 2
}
[ $# -le 1 ] || usage
secs=${1:-10}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 5 ]; then
	usage
fi
if [ "$(id -u)" != 0 ]; then
	echo "bench-churn: needs root (network namespace, eBPF)" >&2
	exit 1
fi

runs=3
port=7777
ns=bpfnetstat-churn-$$
work=$(mktemp -d /tmp/bench-churn.XXXXXX)
pids=()

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
	# Anything still in the namespace is ours (churn's worker processes).
	if [ -e "/run/netns/$ns" ]; then
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	fi
	rm -rf "/etc/netns/$ns" "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf 'bench-churn: [%3ds] %s\n' "$SECONDS" "$*" >&2; }

# forget PID: drop a process that has ended from the cleanup list.
forget() {
	local keep=() p
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

log "building into $work"
go build -o "$work/bpfnetstat" ./cmd/bpfnetstat
go build -o "$work/churn" ./scripts/churn

log "network namespace $ns"
mkdir -p "/etc/netns/$ns"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"/etc/netns/$ns/hosts"
printf 'nameserver 127.0.0.1\n' >"/etc/netns/$ns/resolv.conf"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"/etc/netns/$ns/nsswitch.conf"
ip netns add "$ns"
ip -n "$ns" link set lo up
# TIME_WAIT pile-up would exhaust the ephemeral ports: more of them, reuse
# them, and keep the listeners' port out of the range.
ip netns exec "$ns" sysctl -qw \
	net.ipv4.ip_local_port_range="1024 65535" \
	net.ipv4.tcp_tw_reuse=1 \
	net.ipv4.ip_local_reserved_ports="$port"

# run CMD...: runs CMD in the background and waits for it, so that a signal
# stops the script at once (bash runs traps only between commands, and wait
# is one). Background commands are simple commands here, never functions,
# so that $! is the process itself (`ip netns exec` execs its command).
run() {
	"$@" &
	local pid=$!
	pids+=("$pid")
	local status=0
	wait "$pid" || status=$?
	forget "$pid"
	return "$status"
}

# churn OUT SECONDS: one load run; its result line in OUT.
churn() {
	run ip netns exec "$ns" "$work/churn" -duration "${2}s" -port "$port" >"$1"
	grep -q '^churn: connections=' "$1"
}

# field FILE KEY: KEY=value from churn's result line.
field() { sed -n "s/.*[ :]$2=\([0-9.]*\).*/\1/p" "$1"; }

# life_start NAME: starts `bpfnetstat life --json` in the namespace, with
# its stdout and stderr in $work/NAME.{out,err}, and waits until it traces.
life_pid=
life_start() {
	ip netns exec "$ns" "$work/bpfnetstat" life --json >"$work/$1.out" 2>"$work/$1.err" &
	life_pid=$!
	pids+=("$life_pid")
	local i
	for i in $(seq 300); do
		grep -q '^bpfnetstat: tracing' "$work/$1.err" && return 0
		kill -0 "$life_pid" 2>/dev/null || break
		sleep 0.1
	done
	log "bpfnetstat life did not start tracing:"
	cat "$work/$1.err" >&2
	exit 1
}

# prog_stats PID: "run_time_ns run_cnt" summed over the BPF programs that
# PID holds (from /proc/PID/fdinfo, each program once).
prog_stats() {
	local f
	for f in /proc/"$1"/fdinfo/*; do
		cat "$f" 2>/dev/null || true
	done | awk '
		# Link fds name their program too, but only program fds have
		# run_time_ns, after their prog_id.
		/^prog_id:/ { id = $2 }
		/^run_time_ns:/ { take = !(id in done); done[id] = 1; if (take) t += $2 }
		/^run_cnt:/ && take { c += $2 }
		END { printf "%d %d\n", t, c }'
}

# life_stop NAME: stops life (SIGINT: it drains, detaches and prints its
# loss line), after recording its programs' counters in $work/NAME.progs.
# The drain is timed (seconds in $work/NAME.drain): a tracer that fell
# behind shows here.
life_stop() {
	prog_stats "$life_pid" >"$work/$1.progs"
	local t0=$SECONDS i
	kill -INT "$life_pid"
	for i in $(seq 1200); do
		kill -0 "$life_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$life_pid" 2>/dev/null; then
		log "bpfnetstat life still draining 120 s after SIGINT: killing it"
		kill -KILL "$life_pid" 2>/dev/null || true
	fi
	local status=0
	wait "$life_pid" || status=$?
	forget "$life_pid"
	echo $((SECONDS - t0)) >"$work/$1.drain"
	if [ "$status" != 0 ]; then
		log "bpfnetstat life exited with status $status:"
		cat "$work/$1.err" >&2
		exit 1
	fi
	if ! grep -q '^bpfnetstat: [0-9]* events, lost: ' "$work/$1.err"; then
		log "no loss line from bpfnetstat life:"
		cat "$work/$1.err" >&2
		exit 1
	fi
}

# loss NAME: "EVENTS LOST DETAIL" from life's loss line, whatever counters
# it lists ("N events, lost: A (why), B (why), ..."): LOST is their sum,
# DETAIL names the non-zero ones (why=N,...), or is "-".
loss() {
	awk '
		/^bpfnetstat: [0-9]+ events, lost: / { line = $0 }
		END {
			sub(/^bpfnetstat: /, "", line)
			events = line + 0
			sub(/^[0-9]+ events, lost: /, "", line)
			n = split(line, part, /, /)
			lost = 0
			detail = ""
			for (i = 1; i <= n; i++) {
				v = part[i] + 0
				why = part[i]
				sub(/^[0-9]+ \(/, "", why)
				sub(/\).*$/, "", why)
				gsub(/ /, "_", why)
				lost += v
				if (v)
					detail = detail (detail == "" ? "" : ",") why "=" v
			}
			printf "%d %d %s\n", events, lost, (detail == "" ? "-" : detail)
		}' "$work/$1.err"
}

median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

log "warm-up (2 s, not counted)"
churn "$work/warmup.txt" 2

off=()
for i in $(seq "$runs"); do
	log "tracer off: run $i/$runs (${secs} s)"
	churn "$work/off$i.txt" "$secs"
	off+=("$(field "$work/off$i.txt" conn_per_s)")
done

on=()
for i in $(seq "$runs"); do
	log "tracer on: run $i/$runs (${secs} s)"
	life_start "on$i"
	churn "$work/on$i.txt" "$secs"
	sleep 0.5 # the last connections' lines: life holds passive ones <= 250 ms
	life_stop "on$i"
	on+=("$(field "$work/on$i.txt" conn_per_s)")
done

log "tracer on + doctor --stats: ns per event (${secs} s)"
life_start doc
prog_stats "$life_pid" >"$work/doc.progs0"
ip netns exec "$ns" "$work/churn" -duration "${secs}s" -port "$port" >"$work/doc.txt" &
churn_pid=$!
pids+=("$churn_pid")
sleep 1
ip netns exec "$ns" "$work/bpfnetstat" doctor --stats "$((secs - 3))s" >"$work/doctor.txt" 2>&1 &
doctor_pid=$!
pids+=("$doctor_pid")
doctor_status=0
wait "$doctor_pid" || doctor_status=$?
forget "$doctor_pid"
doctor_end=$(date +%s%N)
wait "$churn_pid"
forget "$churn_pid"
churn_end=$(date +%s%N)
sleep 0.5
life_stop doc
if [ "$doctor_status" != 0 ]; then
	log "bpfnetstat doctor failed (status $doctor_status):"
	cat "$work/doctor.txt" >&2
	exit 1
fi
if [ "$doctor_end" -gt "$churn_end" ]; then
	log "warning: doctor's stats window outlasted the load: ns/event may be off"
fi
# doctor: sum(RUNS x NS/RUN) / sum(RUNS) over its PROGRAM table.
read -r doc_runs doc_ns < <(awk '
	/^PROGRAM / { table = 1; next }
	table && NF >= 4 && $2 ~ /^[0-9]+$/ { runs += $2; ns += $2 * $4 }
	/^events:/ { table = 0 }
	END { printf "%d %.1f\n", runs, runs ? ns / runs : 0 }' "$work/doctor.txt")
doc_ring=$(sed -n 's/^events: [0-9]*, lost: \([0-9]*\) (ring buffer full).*/\1/p' "$work/doctor.txt")
read -r t0 c0 <"$work/doc.progs0"
read -r t1 c1 <"$work/doc.progs"
life_runs=$((c1 - c0))
life_ns=$(awk -v t=$((t1 - t0)) -v c="$life_runs" 'BEGIN { printf "%.1f", c ? t / c : 0 }')

# The table.
lost_total=0
errors_total=0
ev_rates=()
row() { printf '%-7s %8s %8s %6s %9s %9s %9s %6s %11s %11s  %s\n' "$@"; }
echo
row RUN CONN/S CONNS ERRORS EVENTS EVENTS/S LOST DRAIN LIFE_LINES 2xCONNS LOSS_DETAIL
for name in warmup $(seq -f 'off%g' "$runs") $(seq -f 'on%g' "$runs") doc; do
	f=$work/$name.txt
	conns=$(field "$f" connections)
	errs=$(field "$f" errors)
	dur=$(field "$f" seconds)
	errors_total=$((errors_total + errs))
	if [ ! -e "$work/$name.err" ]; then
		row "$name" "$(field "$f" conn_per_s)" "$conns" "$errs" - - - - - - -
		continue
	fi
	read -r events lost detail < <(loss "$name")
	evps=$(awk -v e="$events" -v d="$dur" 'BEGIN { printf "%.0f", e / d }')
	[ "$name" = doc ] || ev_rates+=("$evps")
	lost_total=$((lost_total + lost))
	row "$name" "$(field "$f" conn_per_s)" "$conns" "$errs" "$events" "$evps" "$lost" \
		"$(cat "$work/$name.drain")s" "$(wc -l <"$work/$name.out")" $((2 * conns)) "$detail"
done

off_med=$(median "${off[@]}")
on_med=$(median "${on[@]}")
ratio=$(awk -v a="$on_med" -v b="$off_med" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
ev_med=$(median "${ev_rates[@]}")
echo
echo "bench-churn: $(nproc) CPUs, Linux $(uname -r), ${secs} s per run, median of $runs"
printf '  %-34s %s\n' \
	"conn/s, tracer off" "$off_med   (runs: ${off[*]})" \
	"conn/s, tracer on" "$on_med   (runs: ${on[*]}; on/off = $ratio)" \
	"events/s (life's loss line)" "$ev_med" \
	"ns/event, life's programs" "$life_ns   ($life_runs runs, during doctor --stats)" \
	"ns/event, doctor's programs" "$doc_ns   ($doc_runs runs; its unread ring: ${doc_ring:-?} ring-full drops)" \
	"lost events (all life runs)" "$lost_total   (sum of every count in life's loss lines)" \
	"failed connections" "$errors_total"
echo "  doc: the run with doctor --stats beside life (two tracers: not in the medians)"
echo "  DRAIN: seconds life took to exit after SIGINT; LIFE_LINES: one per socket,"
echo "  and both ends of each connection are in the namespace: expect 2 x CONNS"
if [ "$errors_total" != 0 ]; then
	log "warning: $errors_total connections failed (see churn's messages above)"
fi
if [ "$lost_total" != 0 ]; then
	log "FAIL: the tracer lost $lost_total events at maximum churn with the default ring buffer"
	exit 1
fi
