#!/bin/bash
# profile-bpf.sh [seconds] [mode]: where the tracer's BPF programs spend
# their time, by line of bpf/*.c and bpf/*.h, under bench-churn's load.
#
# Runs bpfnetstat [mode] (life, the default, or trace) with its output to
# /dev/null and scripts/churn in a private namespace, samples every CPU with
# perf for [seconds] (default 5) in the middle of the load, and, while the
# programs are still loaded, maps the samples that fell in them to source
# lines (scripts/bpflines: the kernel's JIT address of each BTF line; this
# kernel's perf cannot annotate BPF). Then the share of all samples in the
# programs and in the bpfnetstat process, for scale. Needs root and perf
# (Debian's linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
	echo "usage: $0 [seconds] [life|trace]   (seconds of sampling, at least 1, default 5; default life)" >&2
	exit 2
}
[ $# -le 2 ] || usage
secs=${1:-5}
mode=${2:-life}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
	usage
fi
case "$mode" in life | trace) ;; *) usage ;; esac
if [ "$(id -u)" != 0 ]; then
	echo "profile-bpf: needs root (network namespace, eBPF, perf -a)" >&2
	exit 1
fi
if ! command -v perf >/dev/null; then
	echo "profile-bpf: needs perf (apt-get install linux-perf)" >&2
	exit 1
fi
BENCH=profile
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh
bench_alone "$BENCH"
port=7777
go build -o "$work/bpfnetstat" ./cmd/bpfnetstat
go build -o "$work/churn" ./scripts/churn
go build -o "$work/bpflines" ./scripts/bpflines
bench_netns "$port"

ip netns exec "$ns" "$work/bpfnetstat" "$mode" --json >/dev/null 2>"$work/tracer.err" &
tracer=$!
pids+=("$tracer")
for _ in $(seq 100); do
	grep -q tracing "$work/tracer.err" && break
	sleep 0.1
done
grep -q tracing "$work/tracer.err" || {
	cat "$work/tracer.err" >&2
	exit 1
}
log "load for $((secs + 3)) s, perf for $secs s of it"
ip netns exec "$ns" "$work/churn" -duration "$((secs + 3))s" -port "$port" >"$work/churn.out" &
load=$!
pids+=("$load")
sleep 1.5
perf record -a -o "$work/perf.data" -- sleep "$secs" >/dev/null 2>&1
perf script -i "$work/perf.data" -F ip,sym 2>/dev/null >"$work/samples"
"$work/bpflines" <"$work/samples"
wait "$load"
forget "$load"
cat "$work/churn.out"
total=$(wc -l <"$work/samples")
inbpf=$(grep -c ' bpf_prog_' "$work/samples" || true)
echo "samples: $total; in BPF programs: $inbpf ($((inbpf * 1000 / (total > 0 ? total : 1))) per mille)"
perf report -i "$work/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E 'bpfnetstat|churn' | sed 's/^ */  /' || true
