#!/usr/bin/env bash
# bench-nginx.sh [seconds]: what bpfnetstat's tracer costs a real server,
# and whether it names the right process: Debian's nginx with 4 workers
# under `ab -c 16` (one request per connection, no keep-alive), with no
# tracer, under `bpfnetstat life --json`, and under the reference tracer
# (scripts/bpftrace/tcplife.bt, the pid of whatever task is on the CPU when
# a socket closes), alternating, 3 rounds.
#
# nginx runs with its own configuration, pid file, error log and document
# root in a temporary directory, listening on 127.0.0.1 only, in a private
# network namespace (never the system's nginx service). A 2 s warm-up with
# no tracer sets the request count N of every run: about [seconds]
# (default 5) of work at the untraced rate. Each round runs every mode once,
# in an order that rotates from round to round.
#
# Reports requests/s (ab's mean) per mode, its median and ratio to the
# untraced median, the tracer's CPU (utime + stime over the load window, in
# % of one core), and "exact owner: X of Y": of the Y server-side
# connections a tracer printed, X name an nginx worker process (not the
# master, not ab, not whoever was on the CPU); Y is held against the
# kernel's count of passive opens in the namespace. Fails if ab saw a
# failed request, if life lost an event, printed other than the kernel's
# count of server-side connections or named anything but a worker for one
# of them. The
# reference is reported, never checked. Ends with key=value lines (prefix
# "nginx."). Needs root; installs nginx, ab and bpftrace if missing
# (scripts/install-bench-deps.sh); mounts tracefs if needed (unmounted on
# exit).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: $0 [seconds]   (seconds of load per run, at least 2; default 5)" >&2
	exit 2
}
[ $# -le 1 ] || usage
secs=${1:-5}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 2 ]; then
	usage
fi
if [ "$(id -u)" != 0 ]; then
	echo "bench-nginx: needs root (network namespace, eBPF)" >&2
	exit 1
fi

rounds=3
modes=(off life ref)
port=8080
BENCH=nginx
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh
bench_alone "$BENCH"

bench_tracefs

log "building into $work"
go build -o "$work/bpfnetstat" ./cmd/bpfnetstat

bench_netns "$port" net.core.somaxconn=4096

# nginx's own tree: the workers run as nobody and must read the page.
mkdir -p "$work/nginx/html" "$work/nginx/tmp"
chmod 755 "$work" "$work/nginx" "$work/nginx/html"
printf 'bpfnetstat bench page\n' >"$work/nginx/html/index.html"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 4;
user nobody nogroup;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events {
	worker_connections 4096;
}
http {
	access_log off;
	keepalive_timeout 0;
	client_body_temp_path $work/nginx/tmp/body;
	proxy_temp_path $work/nginx/tmp/proxy;
	fastcgi_temp_path $work/nginx/tmp/fastcgi;
	uwsgi_temp_path $work/nginx/tmp/uwsgi;
	scgi_temp_path $work/nginx/tmp/scgi;
	server {
		listen 127.0.0.1:$port backlog=4096;
		root $work/nginx/html;
	}
}
EOF

log "nginx (4 workers) on 127.0.0.1:$port in the namespace"
ip netns exec "$ns" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" \
	>"$work/nginx/stdout" 2>&1 &
master=$!
pids+=("$master")
workers=
for _ in $(seq 100); do
	workers=$(pgrep -P "$master" | sort -n | tr '\n' ' ' || true)
	if [ "$(wc -w <<<"$workers")" = 4 ] && ip netns exec "$ns" ss -Htln "sport = :$port" | grep -q .; then
		break
	fi
	kill -0 "$master" 2>/dev/null || break
	sleep 0.1
done
if [ "$(wc -w <<<"$workers")" != 4 ]; then
	log "nginx did not start 4 workers:"
	cat "$work/nginx/stdout" "$work/nginx/error.log" >&2 2>/dev/null || true
	exit 1
fi
workers=${workers% }
log "nginx master $master, workers $workers"

run() {
	"$@" &
	local pid=$!
	pids+=("$pid")
	local status=0
	wait "$pid" || status=$?
	forget "$pid"
	return "$status"
}

# ab_run OUT N|-t SECONDS: one ab run in the namespace.
ab_run() {
	local out=$1
	shift
	run ip netns exec "$ns" ab -q -c 16 "$@" "http://127.0.0.1:$port/" >"$out" 2>&1 || {
		log "ab failed:"
		cat "$out" >&2
		exit 1
	}
}
ab_field() { sed -n "s/^$2: *\([0-9.]*\).*/\1/p" "$1"; }

tracer_pid=
tracer_start() {
	local name=$1 mode=$2 ready
	case $mode in
	life)
		ip netns exec "$ns" "$work/bpfnetstat" life --json >"$work/$name.out" 2>"$work/$name.err" &
		ready() { grep -q "^bpfnetstat: tracing" "$work/$1.err" 2>/dev/null; }
		;;
	ref)
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

tracer_stop() {
	local name=$1 mode=$2 i
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
	if [ "$status" != 0 ]; then
		log "$mode exited with status $status:"
		cat "$work/$name.err" >&2
		exit 1
	fi
	if [ "$mode" = life ] && ! grep -q '^bpfnetstat: [0-9]* events, lost: ' "$work/$name.err"; then
		log "no loss line from bpfnetstat life:"
		cat "$work/$name.err" >&2
		exit 1
	fi
}

# passive_opens: the namespace's count of server-side connections the
# kernel has opened (PassiveOpens in /proc/net/snmp, which is per network
# namespace): the truth the tracers' server-side lines are held against.
# ab opens a few connections more than it sends requests (the last ones of
# its concurrency slots), so the request count is not.
passive_opens() {
	ip netns exec "$ns" awk '
		/^Tcp:/ && !h { for (i = 1; i <= NF; i++) if ($i == "PassiveOpens") c = i; h = 1; next }
		/^Tcp:/ { print $c }' /proc/net/snmp
}

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)

# owners NAME MODE: "SERVER WORKER" from the tracer's output: its
# server-side connections (local port $port) and how many of them name an
# nginx worker.
owners() {
	case $2 in
	life)
		awk -v port="$port" -v workers="$workers" '
			BEGIN { n = split(workers, w, " "); for (i = 1; i <= n; i++) isw[w[i]] = 1 }
			match($0, /[{,]"lport":[0-9]+/) {
				lport = substr($0, RSTART + 9, RLENGTH - 9) + 0
				if (lport != port) next
				server++
				if (match($0, /[{,]"pid":[0-9]+/) && (substr($0, RSTART + 7, RLENGTH - 7) in isw))
					worker++
			}
			END { printf "%d %d\n", server, worker }' "$work/$1.out"
		;;
	ref)
		awk -v port="$port" -v workers="$workers" '
			BEGIN { n = split(workers, w, " "); for (i = 1; i <= n; i++) isw[w[i]] = 1 }
			NR > 1 && $1 ~ /^[0-9]+$/ && NF >= 7 && $(NF - 3) == port {
				server++
				if ($1 in isw) worker++
			}
			END { printf "%d %d\n", server, worker }' "$work/$1.out"
		;;
	esac
}

log "warm-up (2 s, not counted)"
ab_run "$work/warmup.txt" -t 2 -n 10000000
warm_rps=$(ab_field "$work/warmup.txt" 'Requests per second')
n=$(awk -v r="$warm_rps" -v s="$secs" 'BEGIN { n = int(r * s / 1000) * 1000; print (n < 1000 ? 1000 : n) }')
log "warm-up: $warm_rps requests/s: $n requests per run"

fail=()
runs=()
for r in $(seq "$rounds"); do
	for k in 0 1 2; do
		mode=${modes[$(((r - 1 + k) % 3))]}
		name=$mode$r
		log "round $r/$rounds: $mode ($n requests)"
		c0=0 c1=0
		[ "$mode" = off ] || tracer_start "$name" "$mode"
		[ "$mode" = off ] || c0=$(cpu_ticks "$tracer_pid")
		p0=$(passive_opens)
		t0=$(date +%s%N)
		ab_run "$work/$name.txt" -n "$n"
		if [ "$mode" != off ]; then
			sleep 0.5 # life holds passive connections <= 250 ms
			c1=$(cpu_ticks "$tracer_pid")
		fi
		t1=$(date +%s%N)
		[ "$mode" = off ] || tracer_stop "$name" "$mode"
		passive=$(($(passive_opens) - p0))
		rps=$(ab_field "$work/$name.txt" 'Requests per second')
		complete=$(ab_field "$work/$name.txt" 'Complete requests')
		failed=$(ab_field "$work/$name.txt" 'Failed requests')
		non2xx=$(ab_field "$work/$name.txt" 'Non-2xx responses')
		if [ "$complete" != "$n" ] || [ "$failed" != 0 ] || [ "${non2xx:-0}" != 0 ]; then
			fail+=("$name: ab completed $complete of $n requests, $failed failed, ${non2xx:-0} non-2xx")
		fi
		server=- worker=- lost=- cpupct=-
		if [ "$mode" != off ]; then
			read -r server worker < <(owners "$name" "$mode")
			cpupct=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v d=$((t1 - t0)) 'BEGIN { printf "%.0f", 100 * t / hz / (d / 1e9) }')
		fi
		if [ "$mode" = life ]; then
			lost=$(sed -n 's/^bpfnetstat: [0-9]* events, lost: //p' "$work/$name.err" |
				awk -F', ' '{ for (i = 1; i <= NF; i++) s += $i + 0 } END { print s + 0 }')
			[ "$lost" = 0 ] || fail+=("$name: life lost $lost events")
			[ "$server" = "$passive" ] || fail+=("$name: life printed $server server-side connections, the kernel opened $passive")
			[ "$worker" = "$server" ] || fail+=("$name: life named a worker for $worker of $server server-side connections")
		fi
		if [ "$(pgrep -P "$master" | sort -n | tr '\n' ' ')" != "$workers " ]; then
			fail+=("$name: nginx's workers changed during the run")
		fi
		rm -f "$work/$name.out"
		printf '%s %s %s %s %s %s %s %s\n' "$mode" "$rps" "$complete" "$server" "$worker" "$lost" "$cpupct" "$passive" >"$work/$name.res"
		runs+=("$name")
	done
done

median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

echo
row() { printf '%-6s %-5s %10s %9s %8s %8s %8s %6s %5s\n' "$@"; }
row RUN MODE REQ/S REQUESTS PASSIVE SERVER WORKER LOST CPU%
for name in "${runs[@]}"; do
	read -r mode rps complete server worker lost cpupct passive <"$work/$name.res"
	row "$name" "$mode" "$rps" "$complete" "$passive" "$server" "$worker" "$lost" "$cpupct"
done

declare -A S
for mode in "${modes[@]}"; do
	rates=() server=0 worker=0 cpus=() passive=0
	for name in "${runs[@]}"; do
		read -r m rps _ s w _ c p <"$work/$name.res"
		[ "$m" = "$mode" ] || continue
		passive=$((passive + p))
		rates+=("$rps")
		if [ "$mode" != off ]; then
			server=$((server + s))
			worker=$((worker + w))
			cpus+=("$c")
		fi
	done
	S[$mode.req_per_s]=$(median "${rates[@]}")
	S[$mode.req_per_s_runs]=$(
		IFS=,
		echo "${rates[*]}"
	)
	if [ "$mode" != off ]; then
		S[$mode.kernel_passive_opens]=$passive
		S[$mode.server_conns]=$server
		S[$mode.exact_owner]=$worker
		S[$mode.cpu_pct]=$(median "${cpus[@]}")
	fi
done
for mode in "${modes[@]}"; do
	S[$mode.ratio]=$(awk -v a="${S[$mode.req_per_s]}" -v b="${S[off.req_per_s]}" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
done

echo
echo "bench-nginx: $(nproc) CPUs, Linux $(uname -r), nginx 4 workers, ab -c 16 -n $n (no keep-alive), $rounds rounds, medians"
for mode in "${modes[@]}"; do
	line=$(printf '  %-4s %10s req/s  %s of off' "$mode" "${S[$mode.req_per_s]}" "${S[$mode.ratio]}")
	if [ "$mode" != off ]; then
		line="$line  (tracer ${S[$mode.cpu_pct]}% of a core)  exact owner: ${S[$mode.exact_owner]} of ${S[$mode.server_conns]}"
		line="$line  (the kernel opened ${S[$mode.kernel_passive_opens]})"
	fi
	echo "$line"
done
echo "  exact owner: X of Y: of the Y server-side connections (local port $port) the tracer printed,"
echo "  X name an nginx worker; the kernel's count (PassiveOpens) is the truth for Y"

echo
echo "# bench-nginx summary (key=value)"
{
	echo "nginx.cpus=$(nproc)"
	echo "nginx.kernel=$(uname -r)"
	echo "nginx.requests_per_run=$n"
	echo "nginx.rounds=$rounds"
	for key in "${!S[@]}"; do
		echo "nginx.$key=${S[$key]}"
	done | sort
	echo "nginx.result=$([ ${#fail[@]} = 0 ] && echo ok || echo fail)"
}

if [ ${#fail[@]} != 0 ]; then
	for f in "${fail[@]}"; do
		log "FAIL: $f"
	done
	exit 1
fi
