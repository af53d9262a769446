#!/usr/bin/env bash
# bench-snapshot.sh [N ...]: bpfnetstat's socket listing against netstat
# (net-tools) and ss (iproute2), side by side, at N established loopback
# TCP connections (default: 1000 10000 100000).
#
# For each N it builds a private network namespace (with its own
# /etc/netns/NAME name files: no lookup leaves the machine) and fills it
# with scripts/sockfarm: N connections with both ends open (2N ESTABLISHED
# sockets; IPv4 over 127.0.0.0/8 source addresses, IPv6 over ::1, some
# IPv4 to a dual-stack listener), two listeners per farm process, N/50 UDP
# sockets (20..2000), N/20 UNIX stream connections (20..5000) and N/20
# TIME_WAIT sockets (50..5000, kept up while the benchmark runs), spread
# over at least 4 processes of at most 17,000 sockets each. Then:
#
#   1. output checks: bpfnetstat and netstat, run back to back for -tan,
#      -tuan, -tanp, -tanpe and -xan, must print the same bytes in the same
#      order (a mismatch is reported loudly, with the number of differing
#      lines: speed never changes a byte); ss runs too (it warms up, and its
#      row count shows it saw the same sockets). These runs also warm the
#      page cache for the timed ones.
#   2. timing (scripts/benchrun, inside the namespace): bpfnetstat, netstat
#      and ss for each of -tan -tuan -tanp -tanpe -xan, in alternating
#      rounds, output to /dev/null; 7 runs per command, fewer (at least 3)
#      for one whose first run says 7 would take over 20 s. Per command:
#      the median wall time, and the median peak RSS (the command's own
#      VmHWM at exit; see scripts/benchrun for why not wait4's ru_maxrss).
#
# Other processes' load skews the figures (netstat -p and ss -p most), and
# so do other namespaces' TCP sockets (the kernel's socket tables, which
# every listing walks, are shared): each table says how much CPU other
# processes took while it was timed and how many TCP sockets lived
# elsewhere, with a warning when the machine was not idle.
#
# It prints a table per N (medians, ratios bpf/ss and bpf/netstat, peak RSS,
# bpfnetstat's ns per listed socket, rows listed by each tool, runs), and at
# the end one PASS/FAIL line per target, judged at the largest N (the
# targets are set for 100000):
#   -tan and -tuan: bpfnetstat <= 0.8 x ss;  -tanp: <= 0.1 x ss and
#   <= 0.1 x netstat;  peak RSS -tan <= 1.5 x ss's, -tanp <= netstat's;
#   linear cost: for each option set, ns per socket at the largest N
#   <= 1.5 x the lowest at any smaller N (fixed start-up costs make that
#   figure fall with N for linear code; growth means worse than linear).
# Target misses and output mismatches do not change the exit status: it is
# non-zero only on errors. Needs root; cleans up (namespace, its /etc/netns
# directory, processes, temporary files) on exit, failure or Ctrl-C.
# About 4 minutes for the default Ns on an idle 2-core machine (7.5 on a
# busy one), most of it netstat -p and ss -p at 100000 (6 to 30 s a run).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: $0 [N ...]   (established connections, 100..150000; default 1000 10000 100000)" >&2
	exit 2
}
ns_list=("$@")
[ ${#ns_list[@]} -gt 0 ] || ns_list=(1000 10000 100000)
for n in "${ns_list[@]}"; do
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 100 ] || [ "$n" -gt 150000 ]; then
		usage
	fi
done
if [ "$(id -u)" != 0 ]; then
	echo "bench-snapshot: needs root (network namespaces, other processes' /proc/PID/fd)" >&2
	exit 1
fi
for tool in ip netstat ss go; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench-snapshot: $tool not found (scripts/install-test-deps.sh installs net-tools and iproute2)" >&2
		exit 1
	fi
done
export LC_ALL=C # netstat's and ss's texts untranslated, as bpfnetstat's

flags=(-tan -tuan -tanp -tanpe -xan)
work=$(mktemp -d /tmp/bench-snapshot.XXXXXX)
ns=
farm_pid=
child=
t_start=$(date +%s)

# shellcheck disable=SC2317 # reached through the trap
stop_farm() {
	if [ -n "$farm_pid" ]; then
		kill -TERM "$farm_pid" 2>/dev/null || true
		wait "$farm_pid" 2>/dev/null || true
		farm_pid=
	fi
	if [ -n "$ns" ]; then
		if [ -e "/run/netns/$ns" ]; then
			# Anything still in the namespace is ours.
			local pid
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				kill -KILL "$pid" 2>/dev/null || true
			done
			ip netns del "$ns" 2>/dev/null || true
		fi
		rm -rf "/etc/netns/$ns"
		ns=
	fi
}

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	stop_farm
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "bench-snapshot: [$(($(date +%s) - t_start))s] $*" >&2; }
die() {
	echo "bench-snapshot: error: $*" >&2
	exit 1
}
in_ns() { ip netns exec "$ns" "$@"; }
# bg_wait CMD ...: runs CMD in the background and waits for it: bash runs a
# trap only once its foreground child has ended, and netstat -p at 100000
# takes half a minute; wait returns at once on a signal, and the cleanup
# then stops CMD. CMD must be an external command (a function would run in
# a subshell, and $! would not be its pid).
bg_wait() {
	"$@" &
	child=$!
	local status=0
	wait "$child" || status=$?
	child=
	return "$status"
}
clamp() { # clamp VALUE LO HI
	local v=$1
	[ "$v" -ge "$2" ] || v=$2
	[ "$v" -le "$3" ] || v=$3
	echo "$v"
}
fmt_ms() { awk -v t="$1" 'BEGIN { printf "%.1f ms", t / 1e6 }'; }
fmt_mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "-" }'; }
per_sock() { awk -v t="$1" -v r="$2" 'BEGIN { if (r > 0) printf "%.1f", t / r; else printf "-" }'; }
# tcp_objects: TCP sockets alive in the kernel, all namespaces (slab
# counts: established, listening and TIME_WAIT, IPv4 and IPv6). The tables
# every listing walks are global, so other namespaces' sockets cost too.
tcp_objects() {
	awk '$1 ~ /^(TCP|TCPv6|tw_sock_TCP|tw_sock_TCPv6)$/ { n += $2 } END { print n + 0 }' /proc/slabinfo
}
# cpu_mark VAR: sets VAR to "WALL BUSY OURS" in seconds: the time, the
# CPU time all CPUs spent busy (/proc/stat, steal included), and the CPU
# time of this script's reaped children (bash's times: benchrun and,
# through it, every run; called in this shell, as a subshell has no
# children of its own). Two marks give the CPU share other processes took
# meanwhile.
cpu_mark() {
	local wall busy ours
	times >"$work/times.txt"
	wall=$(date +%s.%N)
	busy=$(awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat)
	ours=$(tail -n 1 "$work/times.txt" | awk '{
		for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
		printf "%.2f", t }')
	printf -v "$1" '%s %s %s' "$wall" "$busy" "$ours"
}
# others_share MARK0 MARK1: percent of all CPUs used by other processes.
others_share() {
	awk -v n="$(nproc)" -v a="$1" -v b="$2" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		wall = y[1] - x[1]; other = (y[2] - x[2]) - (y[3] - x[3])
		if (other < 0) other = 0
		share = 0
		if (wall > 0) share = 100 * other / (wall * n)
		printf "%.0f", share }'
}

log "building into $work"
go build -o "$work/bpfnetstat" ./cmd/bpfnetstat
go build -o "$work/sockfarm" ./scripts/sockfarm
go build -o "$work/benchrun" ./scripts/benchrun

# Results, keyed "N TOOL FLAG" (TOOL: b bpfnetstat, n netstat, s ss).
declare -A med rss runs rows
declare -A mismatch # "N FLAG" -> differing lines

# ns_up N: the namespace for one N, with its name files and sysctls.
ns_up() {
	ns=bpfnetstat-bench-$$-$1
	mkdir -p "/etc/netns/$ns"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"/etc/netns/$ns/hosts"
	printf 'nameserver 127.0.0.1\n' >"/etc/netns/$ns/resolv.conf"
	printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"/etc/netns/$ns/nsswitch.conf"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	# Listeners on 2000+ and 3000+, below the ephemeral range; big accept
	# queues for the farm's connect-then-accept batches; TIME_WAIT sockets
	# are not recycled by new connections.
	in_ns sysctl -qw \
		net.core.somaxconn=65535 \
		net.ipv4.tcp_max_syn_backlog=65535 \
		net.ipv4.ip_local_port_range="10000 65535" \
		net.ipv4.tcp_tw_reuse=0
}

# farm_up N: starts the sockfarm in the namespace and waits for its ready line.
farm_line=
farm_up() {
	local n=$1 dir=$work/$1
	mkdir -p "$dir/unix"
	rm -f "$work/ready"
	mkfifo "$work/ready"
	# ip itself, not the in_ns function: $! must be the farm's own pid.
	ip netns exec "$ns" "$work/sockfarm" -conns "$n" \
		-udp "$(clamp $((n / 50)) 20 2000)" \
		-unix "$(clamp $((n / 20)) 20 5000)" \
		-tw "$(clamp $((n / 20)) 50 5000)" \
		-dir "$dir/unix" >"$work/ready" 2>"$dir/farm.err" &
	farm_pid=$!
	if ! read -r -t 600 farm_line <"$work/ready" || [[ $farm_line != ready* ]]; then
		cat "$dir/farm.err" >&2
		die "the socket farm did not get ready"
	fi
}

# count_diff A B: lines that differ, position by position (a missing line
# counts as differing).
count_diff() {
	awk 'NR == FNR { a[FNR] = $0; na = FNR; next }
		{ if (!(FNR in a) || a[FNR] != $0) d++; nb = FNR }
		END { if (na > nb) d += na - nb; print d + 0 }' "$1" "$2"
}

# check N: the output checks (see the top).
check() {
	local n=$1 dir=$work/$1 f
	for f in "${flags[@]}"; do
		bg_wait ip netns exec "$ns" "$work/bpfnetstat" "$f" >"$dir/b$f.out"
		bg_wait ip netns exec "$ns" netstat "$f" >"$dir/n$f.out"
		case $f in -tanp | -tanpe) ;; *) bg_wait ip netns exec "$ns" ss "$f" >"$dir/s$f.out" ;; esac
		rows["$n b $f"]=$(($(wc -l <"$dir/b$f.out") - 2))
		rows["$n n $f"]=$(($(wc -l <"$dir/n$f.out") - 2))
		if [ -e "$dir/s$f.out" ]; then
			rows["$n s $f"]=$(($(wc -l <"$dir/s$f.out") - 1))
		else
			rows["$n s $f"]=-
		fi
		if cmp -s "$dir/b$f.out" "$dir/n$f.out"; then
			mismatch["$n $f"]=0
		else
			local d
			d=$(count_diff "$dir/b$f.out" "$dir/n$f.out")
			mismatch["$n $f"]=$d
			{
				echo "!!! OUTPUT MISMATCH at N=$n: bpfnetstat $f differs from netstat $f in $d of $(wc -l <"$dir/n$f.out") lines"
				echo "!!! (bpfnetstat: $(wc -l <"$dir/b$f.out") lines); first differences (diff netstat bpfnetstat):"
				diff "$dir/n$f.out" "$dir/b$f.out" | head -n 12 | sed 's/^/!!!   /'
			}
		fi
	done
}

# bench N: the timed runs, results into med/rss/runs.
bench() {
	local n=$1 dir=$work/$1 f specs=()
	for f in "${flags[@]}"; do
		specs+=("b $f=$work/bpfnetstat $f" "n $f=netstat $f" "s $f=ss $f")
	done
	bg_wait ip netns exec "$ns" "$work/benchrun" -reps 7 -min-reps 3 -budget 20s "${specs[@]}" >"$dir/bench.txt"
	local tool flag rest
	while read -r tool flag rest; do
		local k="$n $tool $flag"
		med[$k]=$(sed -n 's/.*median_ns=\([0-9]*\).*/\1/p' <<<"$rest")
		rss[$k]=$(sed -n 's/.* rss_kb=\([0-9]*\).*/\1/p' <<<"$rest")
		runs[$k]=$(sed -n 's/.*runs=\([0-9]*\).*/\1/p' <<<"$rest")
	done <"$dir/bench.txt"
}

# table N: the results for one N.
table() {
	local n=$1 f
	{
		echo
		echo "== N=$n established connections (${farm_line#ready }); $(nproc) CPUs, Linux $(uname -r)"
		echo "   setup ${t_setup}s, checks ${t_check}s, timing ${t_bench}s; TIME_WAIT refills while timing: $refills"
		echo "   machine while timing: other processes took ${busy_others}% of the $(nproc) CPUs; TCP sockets outside this namespace (the tables every listing walks are shared): ~$others"
		if [ "$others" -gt $((n / 10 + 1000)) ] || [ "$busy_others" -gt 10 ]; then
			echo "   warning: the machine was not idle: absolute times are inflated, and ratios move too (netstat -p and ss -p suffer most)"
		fi
		printf '%-7s %11s %11s %11s %7s %8s %9s %9s %9s %8s  %-22s %s\n' \
			command bpfnetstat netstat ss bpf/ss bpf/nst 'RSS bpf' 'RSS nst' 'RSS ss' 'ns/sock' 'rows bpf/nst/ss' 'runs bpf/nst/ss'
		for f in "${flags[@]}"; do
			local b=${med["$n b $f"]} nn=${med["$n n $f"]} s=${med["$n s $f"]}
			local perSock
			perSock=$(per_sock "$b" "${rows["$n b $f"]}")
			printf '%-7s %11s %11s %11s %7s %8s %9s %9s %9s %8s  %-22s %s\n' "$f" \
				"$(fmt_ms "$b")" "$(fmt_ms "$nn")" "$(fmt_ms "$s")" \
				"$(ratio "$b" "$s")" "$(ratio "$b" "$nn")" \
				"$(fmt_mib "${rss["$n b $f"]}")" "$(fmt_mib "${rss["$n n $f"]}")" "$(fmt_mib "${rss["$n s $f"]}")" \
				"$perSock" "${rows["$n b $f"]}/${rows["$n n $f"]}/${rows["$n s $f"]}" \
				"${runs["$n b $f"]}/${runs["$n n $f"]}/${runs["$n s $f"]}"
		done
		local bad=()
		for f in "${flags[@]}"; do
			[ "${mismatch["$n $f"]}" = 0 ] || bad+=("$f: ${mismatch["$n $f"]} lines")
		done
		if [ ${#bad[@]} = 0 ]; then
			echo "   output: bpfnetstat = netstat, byte for byte, for ${flags[*]}"
		else
			echo "   !!! OUTPUT MISMATCH bpfnetstat vs netstat: ${bad[*]}"
		fi
	}
}

for n in "${ns_list[@]}"; do
	log "N=$n: namespace and socket farm"
	t0=$(date +%s)
	ns_up "$n"
	farm_up "$n"
	t1=$(date +%s)
	log "N=$n: ${farm_line}; output checks"
	check "$n"
	t2=$(date +%s)
	log "N=$n: timing"
	refills0=$(grep -c 'TIME_WAIT refill' "$work/$n/farm.err" || true)
	others=$(($(tcp_objects) - ${rows["$n b -tan"]}))
	[ "$others" -ge 0 ] || others=0
	mark0='' mark1=''
	cpu_mark mark0
	bench "$n"
	cpu_mark mark1
	busy_others=$(others_share "$mark0" "$mark1")
	t3=$(date +%s)
	refills=$(($(grep -c 'TIME_WAIT refill' "$work/$n/farm.err" || true) - refills0))
	t_setup=$((t1 - t0)) t_check=$((t2 - t1)) t_bench=$((t3 - t2))
	log "N=$n: done; stopping the farm"
	stop_farm
	table "$n"
done

top=${ns_list[-1]}
for n in "${ns_list[@]}"; do [ "$n" -le "$top" ] || top=$n; done
echo
echo "== targets at N=$top$([ "$top" = 100000 ] || echo " (they are set for N=100000)")"
verdict() { # verdict OK TEXT
	if [ "$1" = 1 ]; then echo "PASS  $2"; else echo "FAIL  $2"; fi
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }
target_time() { # target_time FLAG TOOL FACTOR
	local b=${med["$top b $1"]} o=${med["$top $2 $1"]} name
	[ "$2" = s ] && name=ss || name=netstat
	verdict "$(le "$b" "$(awk -v o="$o" -v f="$3" 'BEGIN { print o * f }')")" \
		"$(printf '%-6s time: bpfnetstat %s <= %s x %s %s (ratio %s)' "$1" "$(fmt_ms "$b")" "$3" "$name" "$(fmt_ms "$o")" "$(ratio "$b" "$o")")"
}
target_rss() { # target_rss FLAG TOOL FACTOR
	local b=${rss["$top b $1"]} o=${rss["$top $2 $1"]} name
	[ "$2" = s ] && name=ss || name=netstat
	verdict "$(le "$b" "$(awk -v o="$o" -v f="$3" 'BEGIN { print o * f }')")" \
		"$(printf '%-6s peak RSS: bpfnetstat %s <= %s x %s %s (ratio %s)' "$1" "$(fmt_mib "$b")" "$3" "$name" "$(fmt_mib "$o")" "$(ratio "$b" "$o")")"
}
target_time -tan s 0.8
target_time -tuan s 0.8
target_time -tanp s 0.1
target_time -tanp n 0.1
target_rss -tan s 1.5
target_rss -tanp n 1
if [ ${#ns_list[@]} -lt 2 ]; then
	echo "(linear cost: needs at least two Ns)"
else
	for f in "${flags[@]}"; do
		detail='' lowest='' prev_n='' prev_t='' prev_r=''
		for n in "${ns_list[@]}"; do
			ps=$(per_sock "${med["$n b $f"]}" "${rows["$n b $f"]}")
			detail+=" N=$n: $ps"
			if [ -n "$prev_n" ] && [ "${rows["$n b $f"]}" != "$prev_r" ]; then
				detail+=" (marginal $(awk -v t1="$prev_t" -v t2="${med["$n b $f"]}" -v r1="$prev_r" -v r2="${rows["$n b $f"]}" \
					'BEGIN { printf "%.1f", (t2 - t1) / (r2 - r1) }'))"
			fi
			detail+=";"
			if [ "$n" != "$top" ] && { [ -z "$lowest" ] || [ "$(le "$ps" "$lowest")" = 1 ]; }; then
				lowest=$ps
			fi
			prev_n=$n prev_t=${med["$n b $f"]} prev_r=${rows["$n b $f"]}
		done
		top_ps=$(per_sock "${med["$top b $f"]}" "${rows["$top b $f"]}")
		if [ -z "$lowest" ]; then
			echo "(linear $f: needs two different Ns)"
			continue
		fi
		verdict "$(le "$top_ps" "$(awk -v l="$lowest" 'BEGIN { print l * 1.5 }')")" \
			"$(printf '%-6s linear: ns per socket%s at N=%s <= 1.5 x %s' "$f" "${detail%;}" "$top" "$lowest")"
	done
fi
nbad=0
for k in "${!mismatch[@]}"; do
	[ "${mismatch[$k]}" = 0 ] || nbad=$((nbad + 1))
done
if [ "$nbad" != 0 ]; then
	echo "!!! OUTPUT MISMATCH: bpfnetstat and netstat printed different bytes in $nbad (N, option) checks (see above)"
else
	echo "output: bpfnetstat = netstat byte for byte in every check (${flags[*]} at N = ${ns_list[*]})"
fi
log "total $(($(date +%s) - t_start))s"
