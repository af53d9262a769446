#!/usr/bin/env bash
# bench-churn.sh [seconds] [rounds]: what bpfnetstat's tracer costs at the
# maximum loopback TCP connection churn this machine sustains, measured side
# by side in one run.
#
# Builds bpfnetstat (./cmd/bpfnetstat) and the load generator (scripts/churn)
# into a temporary directory, makes a private network namespace and runs the
# load there, [seconds] (default 5) per run, in [rounds] (default 3) rounds.
# Each round runs every mode once, in an order that rotates from round to
# round (so that no mode always runs first or last):
#   off    no tracer;
#   off2   no tracer either: the untraced load again, as a mode of its own,
#          so that each run says how far it moves by itself (off2 against
#          off should read 1.00; how far it does not is the run's noise,
#          the width within which two modes cannot be told apart);
#   hooks  bpfnetstat built with programs that return first thing
#          (-DBPFNETSTAT_HOOKS_ONLY: see bpf/tracer.bpf.c), running
#          `life --json > /dev/null`: every hook attached as life attaches
#          it, no work done, no event. What the hooks cost by being there
#          (the tracepoints' dispatch, the nested-event catcher, the slow
#          system-call path the accept hook puts every task on) is the part
#          of life's cost that no change to the programs or the reader can
#          take away. Building it needs clang (scripts/install-bpf-deps.sh,
#          run when clang is missing);
#   hooksna  the same without the accept hook (as noaccept): against hooks,
#          what the system-call tracepoint costs by being attached (every
#          task on the slow system-call path), apart from any program;
#   noaccept  `life --json > /dev/null` from a build that attaches no
#          accept hook (go build -tags bpfnetstat_noaccept): server
#          connections credited to the listener's owner or to the task
#          that closes them, as where no accept hook attaches. Against
#          life, what the exact acceptor costs: its program, its record
#          and the system-call tracepoint that puts every task on the slow
#          system-call path. Its lines are checked like life's;
#   life   `bpfnetstat life --json > /dev/null`, as the goal is stated; its
#          lines are counted in the statistics run below, whose output goes
#          to a file on tmpfs: exactly 2 lines per connection (both ends
#          are in the namespace), or the bench fails;
#   trace  `bpfnetstat trace --json > /dev/null`, likewise (one line per
#          transition: counted and reported, not checked);
#   ref    the reference: scripts/bpftrace/tcplife.bt under Debian's
#          bpftrace, a tcplife-style script on the classic
#          sock:inet_sock_set_state tracepoint that prints one line per
#          closed socket with the pid of whatever task is on the CPU. Its
#          lines are counted and the missing ones reported (it may lose
#          some: reported, never a failure).
# For each mode it reports the median connections/s and its ratio to the
# median with the tracer off in the same run, and the median of the
# round-by-round ratios (each run against the run with the tracer off in
# its own round: this machine's speed drifts over minutes, by more than the
# differences to be measured, and a ratio within a round sees less of
# the drift); the reader's user-space CPU
# (utime + stime of the bpfnetstat or bpftrace process, /proc/PID/stat, over
# the load window) in CPU-seconds per 10k connections and in % of one core;
# events per connection (bpfnetstat's closing "N events, lost: ..." line);
# lines per connection; lost events. It fails if bpfnetstat lost any event,
# if a tracer exits with an error, or if life's lines are not exactly 2 per
# connection.
#
# Then one extra run per tracer with the kernel's BPF run-time statistics on
# (kernel.bpf_stats_enabled=1, restored afterwards; never during the
# measured rounds, the statistics cost time): runs, ns per run and runs per
# connection of each program the tracer holds, read from /proc/PID/fdinfo.
#
# BENCH_MODES, a list of the modes above with off among them (e.g.
# BENCH_MODES="off off2 life"), runs only those: more rounds of the ones
# that matter in the same time, for a median that moves less.
#
# Ends with a table, a summary per mode, and the same figures as key=value
# lines (prefix "bench.") for copying. Needs root; installs bpftrace if
# missing (scripts/install-bench-deps.sh) and mounts tracefs if it is not
# mounted (bpftrace's tracepoint needs it; unmounted again on exit). Takes
# about (8 x rounds + 7) x ([seconds] + 3) s with every mode.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: $0 [seconds] [rounds]   (seconds per run, at least 3, default 5; rounds at least 1, default 3)" >&2
	exit 2
}
[ $# -le 2 ] || usage
secs=${1:-5}
rounds=${2:-3}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 3 ] || ! [[ $rounds =~ ^[0-9]+$ ]] || [ "$rounds" -lt 1 ]; then
	usage
fi
if [ "$(id -u)" != 0 ]; then
	echo "bench-churn: needs root (network namespace, eBPF)" >&2
	exit 1
fi

all_modes=(off off2 hooks hooksna noaccept life trace ref)
read -ra modes <<<"${BENCH_MODES:-${all_modes[*]}}"
tracers=()
for m in "${modes[@]}"; do
	case " ${all_modes[*]} " in
	*" $m "*) ;;
	*)
		echo "bench-churn: BENCH_MODES: no mode $m (modes: ${all_modes[*]})" >&2
		exit 2
		;;
	esac
	case $m in off | off2) ;; *) tracers+=("$m") ;; esac
done
case " ${modes[*]} " in *" off "*) ;; *)
	echo "bench-churn: BENCH_MODES must include off, which every ratio is against" >&2
	exit 2
	;;
esac
has_mode() { case " ${modes[*]} " in *" $1 "*) return 0 ;; esac; return 1; }
port=7777
stats_old=
BENCH=churn
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh
bench_alone "$BENCH"
restore_stats() {
	if [ -n "$stats_old" ]; then
		sysctl -qw kernel.bpf_stats_enabled="$stats_old"
	fi
}
bench_extra_cleanup=restore_stats

bench_tracefs

log "building into $work"
go build -o "$work/bpfnetstat" ./cmd/bpfnetstat
go build -o "$work/churn" ./scripts/churn
if has_mode noaccept; then
	go build -tags bpfnetstat_noaccept -o "$work/bpfnetstat-noaccept" ./cmd/bpfnetstat
fi
# The hooks-only builds: the module copied, its tracer objects regenerated
# with -DBPFNETSTAT_HOOKS_ONLY (the go:generate line of tracer/gen.go that
# builds the programs), then built like the others (hooksna without the
# accept hook, as noaccept).
if has_mode hooks || has_mode hooksna; then
	command -v clang >/dev/null || scripts/install-bpf-deps.sh
	mkdir "$work/hooks-src"
	tar --exclude=./.git -cf - . | tar -xf - -C "$work/hooks-src"
	sed -i '/-target amd64,arm64 .*tracer\.bpf\.c/s/ -Werror$/ -Werror -DBPFNETSTAT_HOOKS_ONLY/' "$work/hooks-src/tracer/gen.go"
	grep -q -- '-DBPFNETSTAT_HOOKS_ONLY$' "$work/hooks-src/tracer/gen.go" || {
		log "tracer/gen.go has no go:generate line for bpf/tracer.bpf.c to build the hooks-only objects from"
		exit 1
	}
	(cd "$work/hooks-src/tracer" && go generate -run 'tracer\.bpf\.c' . >/dev/null)
	if has_mode hooks; then
		(cd "$work/hooks-src" && go build -o "$work/bpfnetstat-hooks" ./cmd/bpfnetstat)
	fi
	if has_mode hooksna; then
		(cd "$work/hooks-src" && go build -tags bpfnetstat_noaccept -o "$work/bpfnetstat-hooksna" ./cmd/bpfnetstat)
	fi
	rm -rf "$work/hooks-src"
fi

bench_netns "$port"

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

# tracer_start NAME MODE [OUT]: starts the tracer of MODE (life, trace,
# ref) with its stdout in OUT (bpfnetstat's; default $work/NAME.out) and its
# stderr in $work/NAME.err, and waits until it traces.
tracer_pid=
tracer_start() {
	local name=$1 mode=$2 out=${3:-$work/$1.out} ready
	case $mode in
	life | trace)
		ip netns exec "$ns" "$work/bpfnetstat" "$mode" --json >"$out" 2>"$work/$name.err" &
		ready() { grep -q "^bpfnetstat: tracing" "$work/$1.err" 2>/dev/null; }
		;;
	hooks | hooksna | noaccept)
		ip netns exec "$ns" "$work/bpfnetstat-$mode" life --json >"$out" 2>"$work/$name.err" &
		ready() { grep -q "^bpfnetstat: tracing" "$work/$1.err" 2>/dev/null; }
		;;
	ref)
		# BEGIN prints the header once every probe is attached.
		bpftrace scripts/bpftrace/tcplife.bt "$port" >"$work/$name.out" 2>"$work/$name.err" &
		ready() { grep -q "^PID COMM" "$work/$1.out" 2>/dev/null; }
		;;
	esac
	tracer_pid=$!
	pids+=("$tracer_pid")
	local i
	for i in $(seq 300); do
		ready "$name" && return 0
		kill -0 "$tracer_pid" 2>/dev/null || break
		sleep 0.1
	done
	log "$mode did not start tracing:"
	cat "$work/$name.err" >&2
	exit 1
}

# cpu_ticks PID: utime + stime of PID in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)

# prog_stats PID: "prog_id run_time_ns run_cnt" for each BPF program PID
# holds (from /proc/PID/fdinfo, each program once).
prog_stats() {
	local f
	for f in /proc/"$1"/fdinfo/*; do
		cat "$f" 2>/dev/null || true
	done | awk '
		# Link fds name their program too, but only program fds have
		# run_time_ns, after their prog_id.
		/^prog_id:/ { id = $2 }
		/^run_time_ns:/ { take = !(id in t); if (take) t[id] = $2 }
		/^run_cnt:/ && take { c[id] = $2 }
		END { for (id in t) printf "%d %d %d\n", id, t[id], c[id] }' | LC_ALL=C sort
}

# tracer_stop NAME MODE: stops the tracer (SIGINT: it drains, detaches and,
# for bpfnetstat, prints its loss line). The drain is timed (seconds in
# $work/NAME.drain): a tracer that fell behind shows here.
tracer_stop() {
	local name=$1 mode=$2 t0=$SECONDS i
	kill -INT "$tracer_pid"
	for i in $(seq 1200); do
		kill -0 "$tracer_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$tracer_pid" 2>/dev/null; then
		log "$mode still draining 120 s after SIGINT: killing it"
		kill -KILL "$tracer_pid" 2>/dev/null || true
	fi
	local status=0
	wait "$tracer_pid" || status=$?
	forget "$tracer_pid"
	echo $((SECONDS - t0)) >"$work/$name.drain"
	if [ "$status" != 0 ]; then
		log "$mode exited with status $status:"
		cat "$work/$name.err" >&2
		exit 1
	fi
	if [ "$mode" != ref ] && ! grep -q '^bpfnetstat: [0-9]* events, lost: ' "$work/$name.err"; then
		log "no loss line from bpfnetstat $mode:"
		cat "$work/$name.err" >&2
		exit 1
	fi
}

# loss NAME: "EVENTS LOST DETAIL" from bpfnetstat's loss line, whatever
# counters it lists ("N events, lost: A (why), B (why), ..."): LOST is their
# sum, DETAIL names the non-zero ones (why=N,...), or is "-".
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

# ref_lines NAME: "LINES LOST" from the reference's output: its data lines
# (after the header) and the events bpftrace says it lost ("Lost N events").
ref_lines() {
	awk '
		NR == 1 { next }
		/^Lost [0-9]+ events/ { lost += $2; next }
		$1 ~ /^[0-9]+$/ && NF >= 7 { n++ }
		END { printf "%d %d\n", n, lost }' "$work/$1.out"
}

# is_off MODE: the mode runs no tracer.
is_off() { case $1 in off | off2) return 0 ;; esac; return 1; }

# measure NAME MODE: one measured run; its figures in $work/NAME.res as
# "key value" lines.
measure() {
	local name=$1 mode=$2 c0=0 c1=0 t0 t1
	# bpfnetstat writes to /dev/null here, as the goal is stated (its
	# lines are counted in the statistics run).
	is_off "$mode" || tracer_start "$name" "$mode" /dev/null
	is_off "$mode" || c0=$(cpu_ticks "$tracer_pid")
	t0=$(date +%s%N)
	churn "$work/$name.txt" "$secs"
	if ! is_off "$mode"; then
		sleep 0.5 # the last connections' lines: life holds passive ones <= 250 ms
		c1=$(cpu_ticks "$tracer_pid")
	fi
	t1=$(date +%s%N)
	is_off "$mode" || tracer_stop "$name" "$mode"
	local events=- lost=- detail=- lines=- drain=-
	case $mode in
	hooks | hooksna | noaccept | life | trace)
		read -r events lost detail < <(loss "$name")
		lines=0 # to /dev/null
		drain=$(cat "$work/$name.drain")
		;;
	ref)
		read -r lines lost < <(ref_lines "$name")
		drain=$(cat "$work/$name.drain")
		;;
	esac
	rm -f "$work/$name.out"
	{
		echo "mode $mode"
		echo "cps $(field "$work/$name.txt" conn_per_s)"
		echo "conns $(field "$work/$name.txt" connections)"
		echo "secs $(field "$work/$name.txt" seconds)"
		echo "errors $(field "$work/$name.txt" errors)"
		echo "cpu $(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')"
		echo "window $(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e9 }')"
		echo "events $events"
		echo "lost $lost"
		echo "detail $detail"
		echo "lines $lines"
		echo "drain $drain"
	} >"$work/$name.res"
}

# is_bpfnetstat MODE: the mode runs bpfnetstat (it prints a loss line).
is_bpfnetstat() { case $1 in hooks | hooksna | noaccept | life | trace) return 0 ;; esac; return 1; }

# res NAME KEY: a figure of a measured run.
res() { awk -v k="$2" '$1 == k { print $2 }' "$work/$1.res"; }

median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

log "warm-up (2 s, not counted)"
churn "$work/warmup.txt" 2

runs=()
for r in $(seq "$rounds"); do
	for k in "${!modes[@]}"; do
		mode=${modes[$(((r - 1 + k) % ${#modes[@]}))]}
		name=$mode-$r # (a separator: off2 in round 1 is not off in round 21)
		log "round $r/$rounds: $mode (${secs} s)"
		measure "$name" "$mode"
		runs+=("$name")
	done
done

# The extra runs with the kernel's BPF run-time statistics on.
stats_old=$(sysctl -n kernel.bpf_stats_enabled)
for mode in "${tracers[@]}"; do
	name=stats-$mode
	log "BPF run-time statistics: $mode (${secs} s, not in the medians)"
	tracer_start "$name" "$mode"
	prog_stats "$tracer_pid" >"$work/$name.progs0"
	# Program names, while the programs are loaded (bpftool, if there).
	: >"$work/$name.names"
	while read -r id _; do
		pname=$(bpftool prog show id "$id" 2>/dev/null | sed -n '1s/.* name \([^ ]*\).*/\1/p' || true)
		echo "$id ${pname:-?}" >>"$work/$name.names"
	done <"$work/$name.progs0"
	sysctl -qw kernel.bpf_stats_enabled=1
	churn "$work/$name.txt" "$secs"
	sleep 0.5
	sysctl -qw kernel.bpf_stats_enabled="$stats_old"
	prog_stats "$tracer_pid" >"$work/$name.progs1"
	tracer_stop "$name" "$mode"
	if [ "$mode" != ref ]; then
		read -r _ lost _ < <(loss "$name")
		{
			echo "lost $lost"
			echo "lines $(wc -l <"$work/$name.out")"
			echo "conns $(field "$work/$name.txt" connections)"
			echo "errors $(field "$work/$name.txt" errors)"
		} >"$work/$name.res"
	fi
	rm -f "$work/$name.out"
done
stats_old=

# The table of every run.
fail=()
lost_total=0
errors_total=0
row() { printf '%-10s %-8s %7s %8s %6s %5s %6s %5s %9s %7s %9s %6s %5s %5s  %s\n' "$@"; }
echo
row RUN MODE CONN/S CONNS SECS ERRS CPU_S CPU% EVENTS EV/CONN LINES LN/CON LOST DRAIN LOSS_DETAIL
for name in "${runs[@]}"; do
	mode=$(res "$name" mode)
	conns=$(res "$name" conns)
	errs=$(res "$name" errors)
	errors_total=$((errors_total + errs))
	cpu=$(res "$name" cpu)
	window=$(res "$name" window)
	events=$(res "$name" events)
	lines=$(res "$name" lines)
	lost=$(res "$name" lost)
	cpupct=- evpc=- lnpc=- drain=-
	if ! is_off "$mode"; then
		cpupct=$(awk -v c="$cpu" -v w="$window" 'BEGIN { printf "%.0f", 100 * c / w }')
		lnpc=$(awk -v l="$lines" -v n="$conns" 'BEGIN { printf "%.3f", n ? l / n : 0 }')
		drain=$(res "$name" drain)s
		if [ "$mode" != ref ]; then
			lines=- lnpc=- # to /dev/null
		fi
	else
		cpu=-
	fi
	if is_bpfnetstat "$mode"; then
		evpc=$(awk -v e="$events" -v n="$conns" 'BEGIN { printf "%.2f", n ? e / n : 0 }')
		lost_total=$((lost_total + lost))
		if [ "$lost" != 0 ]; then
			fail+=("$name: bpfnetstat $mode lost $lost events ($(res "$name" detail))")
		fi
	fi
	row "$name" "$mode" "$(res "$name" cps)" "$conns" "$(res "$name" secs)" "$errs" "$cpu" "$cpupct" "$events" "$evpc" \
		"$lines" "$lnpc" "$lost" "$drain" "$(res "$name" detail)"
done
for mode in noaccept life trace; do
	has_mode "$mode" || continue
	lines=$(res "stats-$mode" lines)
	conns=$(res "stats-$mode" conns)
	if [ "$mode" != trace ] && [ "$(res "stats-$mode" errors)" = 0 ] && [ "$lines" != $((2 * conns)) ]; then
		fail+=("stats-$mode: life printed $lines lines for $conns connections (want $((2 * conns)))")
	fi
	lost=$(res "stats-$mode" lost)
	lost_total=$((lost_total + lost))
	if [ "$lost" != 0 ]; then
		fail+=("stats-$mode: bpfnetstat $mode lost $lost events")
	fi
done

# agg MODE: "MEDIAN_CPS CPU_S CONNS WINDOW EVENTS LINES LOST" over the
# mode's runs (sums but the median).
agg() {
	local name cps=() cpu=0 conns=0 window=0 events=0 lines=0 lost=0
	for name in "${runs[@]}"; do
		[ "$(res "$name" mode)" = "$1" ] || continue
		cps+=("$(res "$name" cps)")
		conns=$((conns + $(res "$name" conns)))
		if ! is_off "$1"; then
			cpu=$(awk -v a="$cpu" -v b="$(res "$name" cpu)" 'BEGIN { print a + b }')
			window=$(awk -v a="$window" -v b="$(res "$name" window)" 'BEGIN { print a + b }')
			lines=$((lines + $(res "$name" lines)))
			lost=$((lost + $(res "$name" lost)))
		fi
		if is_bpfnetstat "$1"; then
			events=$((events + $(res "$name" events)))
		fi
	done
	echo "$(median "${cps[@]}") $cpu $conns $window $events $lines $lost"
}

# per_round MODE: the mode's connections/s over tracer off's, round by round.
per_round() {
	local r out=()
	for r in $(seq "$rounds"); do
		out+=("$(awk -v a="$(res "$1-$r" cps)" -v b="$(res "off-$r" cps)" 'BEGIN { printf "%.2f", b ? a / b : 0 }')")
	done
	echo "${out[*]}"
}

# bpf MODE: "NS_PER_RUN RUNS_PER_CONN NS_PER_CONN" over the tracer's
# programs in its statistics run; the programs one per line in
# $work/stats-MODE.table.
bpf() {
	local name=stats-$1
	local conns
	conns=$(field "$work/$name.txt" connections)
	LC_ALL=C join "$work/$name.progs0" "$work/$name.progs1" | LC_ALL=C join - "$work/$name.names" | awk -v n="$conns" -v table="$work/$name.table" '
		{
			t = $4 - $2; c = $5 - $3
			T += t; C += c
			if (c) printf "    %-18s %6d %10d runs %8.1f ns/run %7.2f runs/conn\n", $6, $1, c, t / c, n ? c / n : 0 >table
		}
		END { printf "%.1f %.2f %.0f\n", C ? T / C : 0, n ? C / n : 0, n ? T / n : 0 }'
}

read -r off_cps _ <<<"$(agg off)"
declare -A S
for mode in "${modes[@]}"; do
	read -r cps cpu conns window events lines lost <<<"$(agg "$mode")"
	S[$mode.conn_per_s]=$cps
	S[$mode.ratio]=$(awk -v a="$cps" -v b="$off_cps" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
	S[$mode.connections]=$conns
	[ "$mode" = off ] && continue
	S[$mode.ratio_per_round]=$(per_round "$mode" | tr ' ' ',')
	# shellcheck disable=SC2046 # one figure per round
	S[$mode.ratio_paired]=$(median $(per_round "$mode"))
	is_off "$mode" && continue # off2: ratios only
	S[$mode.cpu_s_per_10k]=$(awk -v c="$cpu" -v n="$conns" 'BEGIN { printf "%.3f", n ? 1e4 * c / n : 0 }')
	S[$mode.cpu_pct]=$(awk -v c="$cpu" -v w="$window" 'BEGIN { printf "%.0f", w ? 100 * c / w : 0 }')
	lconns=$conns
	if [ "$mode" != ref ]; then
		# Counted in the statistics run (the measured runs write to /dev/null).
		lines=$(res "stats-$mode" lines) lconns=$(res "stats-$mode" conns)
	fi
	S[$mode.lines_per_conn]=$(awk -v l="$lines" -v n="$lconns" 'BEGIN { printf "%.3f", n ? l / n : 0 }')
	if [ "$mode" = ref ]; then
		S[$mode.lines_missing]=$((2 * conns - lines))
		S[$mode.lost]=$lost
	else
		S[$mode.events_per_conn]=$(awk -v e="$events" -v n="$conns" 'BEGIN { printf "%.2f", n ? e / n : 0 }')
		S[$mode.lost]=$lost
	fi
	read -r nsrun runspc nspc <<<"$(bpf "$mode")"
	S[$mode.bpf_ns_per_run]=$nsrun
	S[$mode.bpf_runs_per_conn]=$runspc
	S[$mode.bpf_ns_per_conn]=$nspc
done

echo
echo "bench-churn: $(nproc) CPUs, Linux $(uname -r), ${secs} s per run, $rounds rounds, medians"
sum() { printf '  %-8s %8s %6s %6s %10s %6s %8s %8s %9s %8s %8s %9s\n' "$@"; }
sum MODE CONN/S RATIO PAIRED CPU_S/10K CPU% EV/CONN LN/CONN LOST NS/RUN RUNS/CON BPF_NS/CON
for mode in "${modes[@]}"; do
	g() { echo "${S[$mode.$1]:--}"; }
	sum "$mode" "$(g conn_per_s)" "$(g ratio)" "$(g ratio_paired)" "$(g cpu_s_per_10k)" "$(g cpu_pct)" "$(g events_per_conn)" \
		"$(g lines_per_conn)" "$(g lost)" "$(g bpf_ns_per_run)" "$(g bpf_runs_per_conn)" "$(g bpf_ns_per_conn)"
done
for mode in "${modes[@]}"; do
	[ "$mode" = off ] || echo "  $mode/off round by round: ${S[$mode.ratio_per_round]}"
done
echo "  RATIO: median conn/s over off's median; PAIRED: median of the round-by-round ratios (each run"
echo "  against off in the same round, minutes apart at most: steadier when the machine drifts);"
echo "  off2: the untraced load again; its ratios are how far this run moves by itself;"
echo "  SECS: churn's time from start to its last connection's end (longer than the run: a stall);"
echo "  CPU: the reader's utime+stime over the load window; EV/CONN: bpfnetstat's loss line;"
echo "  NS/RUN, RUNS/CON, BPF_NS/CON: kernel BPF run-time statistics, in a separate run per tracer;"
echo "  ref: bpftrace scripts/bpftrace/tcplife.bt, LOST = events bpftrace reported lost;"
if has_mode ref; then
	echo "  ref lines missing (2 per connection expected, not checked): ${S[ref.lines_missing]}"
fi
for mode in "${tracers[@]}"; do
	echo "  BPF programs of $mode (statistics run):"
	cat "$work/stats-$mode.table" 2>/dev/null || true
done

echo
echo "# bench-churn summary (key=value)"
{
	echo "bench.cpus=$(nproc)"
	echo "bench.kernel=$(uname -r)"
	echo "bench.seconds=$secs"
	echo "bench.rounds=$rounds"
	echo "bench.errors=$errors_total"
	for key in "${!S[@]}"; do
		echo "bench.$key=${S[$key]}"
	done | sort
	echo "bench.result=$([ ${#fail[@]} = 0 ] && echo ok || echo fail)"
}

if [ "$errors_total" != 0 ]; then
	log "warning: $errors_total connections failed (see churn's messages above)"
fi
if [ ${#fail[@]} != 0 ]; then
	for f in "${fail[@]}"; do
		log "FAIL: $f"
	done
	exit 1
fi
