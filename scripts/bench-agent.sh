#!/usr/bin/env bash
# bench-agent.sh [seconds] [rounds]: what `bpfnetstat agent` costs at the
# maximum loopback TCP connection churn this machine sustains, its memory
# after a million connections, and the time of a scrape with the label
# limit reached.
#
# Builds bpfnetstat and the load generator (scripts/churn) into a
# temporary directory and makes a private network namespace for the load
# (sysctls as scripts/bench-churn.sh). The agent runs in the root
# namespace with --netns (as the e2e tests run it), its audit log on tmpfs.
#   1. [rounds] rounds (default 3) of [seconds] (default 5) each, alternating
#      the agent off and on: connections/s (medians, and their ratio), the
#      agent's CPU (utime + stime over the load window, in % of one core and
#      CPU-seconds per 10k connections), its peak RSS (VmHWM), audit records
#      (exactly 2 per connection, both ends being in the namespace, or the
#      bench fails) and lost events (any loss fails the bench).
#   2. One long run until a million connections have closed, the audit log
#      to /dev/null (2 million records would not fit tmpfs): RSS (VmRSS,
#      VmHWM) after it, table size and evictions from /metrics.
#   3. The label limit: churn run under 30 program names (more than the
#      default --top-n 20) towards 40 destinations, then 20 scrapes of
#      /metrics timed with curl: series count and median/max scrape time.
# Ends with a table and bench.* key=value lines. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: $0 [seconds] [rounds]   (seconds at least 3, default 5; rounds at least 1, default 3)" >&2
	exit 2
}
[ $# -le 2 ] || usage
secs=${1:-5}
rounds=${2:-3}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 3 ] || ! [[ $rounds =~ ^[0-9]+$ ]] || [ "$rounds" -lt 1 ]; then
	usage
fi
if [ "$(id -u)" != 0 ]; then
	echo "bench-agent: needs root (network namespace, eBPF)" >&2
	exit 1
fi
for tool in curl ip; do
	command -v "$tool" >/dev/null || { echo "bench-agent: needs $tool" >&2; exit 1; }
done
# shellcheck source=scripts/lib/alone.sh
. scripts/lib/alone.sh
bench_alone agent

port=7777
mport=19847
ns=bpfnetstat-agentbench-$$
tmp=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
work=$(mktemp -d "$tmp/bench-agent.XXXXXX")
agent_pid=

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	[ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
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

log() { printf 'bench-agent: [%3ds] %s\n' "$SECONDS" "$*" >&2; }

log "building into $work"
go build -o "$work/bpfnetstat" ./cmd/bpfnetstat
go build -o "$work/churn" ./scripts/churn

mkdir -p "/etc/netns/$ns"
printf '127.0.0.1\tlocalhost\n' >"/etc/netns/$ns/hosts"
printf 'hosts: files\n' >"/etc/netns/$ns/nsswitch.conf"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1 \
	net.ipv4.ip_local_reserved_ports="$port"

field() { sed -n "s/.*[ :]$2=\([0-9.]*\).*/\1/p" "$1"; }
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# agent_start AUDIT [flags...]
agent_start() {
	local audit=$1
	shift
	"$work/bpfnetstat" agent --netns "/run/netns/$ns" --listen "127.0.0.1:$mport" --socket "$work/run/agent.sock" \
		--audit-log "$audit" --audit-max-size 0 "$@" 2>"$work/agent.err" &
	agent_pid=$!
	local i
	for i in $(seq 300); do
		grep -q "agent tracing" "$work/agent.err" 2>/dev/null && return 0
		kill -0 "$agent_pid" 2>/dev/null || break
		sleep 0.1
	done
	log "the agent did not start:"
	cat "$work/agent.err" >&2
	exit 1
}

agent_stop() {
	kill -TERM "$agent_pid"
	wait "$agent_pid" || { log "the agent failed:"; cat "$work/agent.err" >&2; exit 1; }
	agent_pid=
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

off_rates=() on_rates=() cpu_pct=() cpu_per10k=() hwm=()
for r in $(seq "$rounds"); do
	order="off on"
	[ $((r % 2)) = 0 ] && order="on off"
	for mode in $order; do
		out="$work/churn-$r-$mode"
		if [ "$mode" = on ]; then
			agent_start "$work/audit.jsonl"
			t0=$(cpu_ticks "$agent_pid")
		fi
		ip netns exec "$ns" "$work/churn" -duration "${secs}s" -port "$port" >"$out"
		rate=$(field "$out" conn_per_s)
		conns=$(field "$out" connections)
		if [ "$mode" = on ]; then
			sleep 1.5 # the last records out of the ring buffer
			t1=$(cpu_ticks "$agent_pid")
			peak=$(status_kb "$agent_pid" VmHWM)
			agent_stop
			lines=$(grep -c '"cookie"' "$work/audit.jsonl" || true)
			lost=$(sed -n 's/.*lost: \([0-9]*\) (ring.*/\1/p' "$work/agent.err")
			rm -f "$work/audit.jsonl"
			if [ "$lines" != $((2 * conns)) ] || [ "${lost:-x}" != 0 ]; then
				log "round $r: $lines audit records for $conns connections (want $((2 * conns))), $lost lost"
				cat "$work/agent.err" >&2
				exit 1
			fi
			on_rates+=("$rate")
			cpu_pct+=("$(awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.1f", 100 * t / hz / (s + 1.5) }')")
			cpu_per10k+=("$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$conns" 'BEGIN { printf "%.3f", t / hz / n * 10000 }')")
			hwm+=("$peak")
			log "round $r on: $rate conn/s, $conns connections, $lines records, agent ${cpu_pct[-1]}% of a core, VmHWM ${peak} kB"
		else
			off_rates+=("$rate")
			log "round $r off: $rate conn/s"
		fi
	done
done
off=$(printf '%s\n' "${off_rates[@]}" | median)
on=$(printf '%s\n' "${on_rates[@]}" | median)
pct=$(printf '%s\n' "${cpu_pct[@]}" | median)
per10k=$(printf '%s\n' "${cpu_per10k[@]}" | median)
peak=$(printf '%s\n' "${hwm[@]}" | sort -n | tail -1)

log "a million connections (audit log to /dev/null)"
agent_start /dev/null
total=0 run=0
while [ "$total" -lt 1000000 ]; do
	run=$((run + 1))
	ip netns exec "$ns" "$work/churn" -duration 10s -port "$port" >"$work/million-$run"
	total=$((total + $(field "$work/million-$run" connections)))
	log "  $total connections"
done
sleep 1.5
rss_m=$(status_kb "$agent_pid" VmRSS)
hwm_m=$(status_kb "$agent_pid" VmHWM)
curl -s "http://127.0.0.1:$mport/metrics" >"$work/million.metrics"
table=$(awk '$1 == "bpfnetstat_table_connections" { print $2 }' "$work/million.metrics")
evict=$(awk '$1 == "bpfnetstat_table_evictions_total" { printf "%d", $2 }' "$work/million.metrics")
closed=$(awk '/^bpfnetstat_connections_closed_total/ { s += $2 } END { printf "%d", s }' "$work/million.metrics")
agent_stop
lost=$(sed -n 's/.*lost: \([0-9]*\) (ring.*/\1/p' "$work/agent.err")

log "label limit: 30 program names, 40 destinations"
agent_start /dev/null
for i in $(seq -w 1 30); do
	cp "$work/churn" "$work/load$i"
	ip netns exec "$ns" "$work/load$i" -duration 300ms -port "$port" -procs 1 -clients 4 -dsts 40 >/dev/null
done
sleep 1
times=()
for i in $(seq 20); do
	times+=("$(curl -s -o "$work/scrape.metrics" -w '%{time_total}' "http://127.0.0.1:$mport/metrics")")
done
series=$(grep -vc '^#' "$work/scrape.metrics")
bseries=$(grep -c '^bpfnetstat_' "$work/scrape.metrics")
comms=$(grep '^bpfnetstat_connections_closed_total' "$work/scrape.metrics" | sed 's/.*comm="\([^"]*\)".*/\1/' | sort -u | wc -l)
bytes=$(wc -c <"$work/scrape.metrics")
scrape_med=$(printf '%s\n' "${times[@]}" | median)
scrape_max=$(printf '%s\n' "${times[@]}" | sort -g | tail -1)
agent_stop

ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')
cat <<REPORT

| figure | value |
|---|---|
| connections/s, agent off (median of $rounds) | $off |
| connections/s, agent on | $on ($ratio of off) |
| agent CPU at that churn | $pct% of one core, $per10k CPU-s per 10k connections |
| agent peak RSS during the rounds | $((peak / 1024)) MiB |
| after $((closed / 2)) connections ($closed sockets closed, both ends) | VmRSS $((rss_m / 1024)) MiB, VmHWM $((hwm_m / 1024)) MiB, table $table, evictions $evict, lost ${lost:-?} |
| scrape with the label limit ($comms comm values, $bseries bpfnetstat series, $series in all, $bytes bytes) | median $(awk -v s="$scrape_med" 'BEGIN { printf "%.1f", s * 1000 }') ms, max $(awk -v s="$scrape_max" 'BEGIN { printf "%.1f", s * 1000 }') ms |

REPORT
echo "bench.agent.off_conn_per_s=$off"
echo "bench.agent.on_conn_per_s=$on"
echo "bench.agent.ratio=$ratio"
echo "bench.agent.cpu_pct=$pct"
echo "bench.agent.cpu_s_per_10k=$per10k"
echo "bench.agent.peak_rss_kb=$peak"
echo "bench.agent.million.connections=$closed"
echo "bench.agent.million.rss_kb=$rss_m"
echo "bench.agent.million.hwm_kb=$hwm_m"
echo "bench.agent.million.evictions=$evict"
echo "bench.agent.scrape.series=$series"
echo "bench.agent.scrape.median_s=$scrape_med"
echo "bench.agent.scrape.max_s=$scrape_max"
