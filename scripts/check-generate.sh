#!/usr/bin/env bash
# Checks the BPF C and the objects generated from it:
#  1. every header under bpf/ compiles alone, and before and after each
#     other header, for each architecture the tracer is built for: headers
#     include what they use, so no include order matters; and the programs
#     compile as scripts/bench-churn.sh's hooks mode builds them;
#  2. regenerating the objects (bpf2go, every target) in a scratch copy of
#     the tree gives exactly the committed tracer/*_bpfel.* and *_bpfeb.*
#     files, none more, none fewer.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0

# The flags of tracer/gen.go, less the output.
cflags=(-target bpf -O2 -g -Wall -Werror -Wno-unused-function -fsyntax-only
	-Ibpf -I/usr/include/x86_64-linux-gnu)
headers=(bpf/*.h)
for arch in x86 arm64; do
	for h in "${headers[@]}"; do
		for other in "" "${headers[@]}"; do
			[ "$other" = "$h" ] && continue
			tu="$scratch/tu.c"
			: >"$tu"
			[ -n "$other" ] && echo "#include \"$(basename "$other")\"" >>"$tu"
			echo "#include \"$(basename "$h")\"" >>"$tu"
			if ! clang "${cflags[@]}" -D__TARGET_ARCH_$arch "$tu" 2>"$scratch/err"; then
				echo "check-generate: $h does not compile ${other:+after $other}${other:-alone} ($arch):" >&2
				head -5 "$scratch/err" >&2
				status=1
			fi
		done
	done
done
[ $status -eq 0 ] && echo "check-generate: each of ${#headers[@]} BPF headers compiles alone and in either order with every other (x86, arm64)"

# The programs as scripts/bench-churn.sh's hooks mode builds them (each
# returns first thing), so that the bench's floor keeps building.
for arch in x86 arm64; do
	if ! clang "${cflags[@]}" -D__TARGET_ARCH_$arch -DBPFNETSTAT_HOOKS_ONLY bpf/tracer.bpf.c 2>"$scratch/err"; then
		echo "check-generate: bpf/tracer.bpf.c does not compile with -DBPFNETSTAT_HOOKS_ONLY ($arch):" >&2
		head -5 "$scratch/err" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "check-generate: bpf/tracer.bpf.c compiles for bench-churn's hooks mode (x86, arm64)"

mkdir "$scratch/tree"
cp -r go.mod go.sum bpf tracer "$scratch/tree"/
rm -f "$scratch"/tree/tracer/*_bpfel.* "$scratch"/tree/tracer/*_bpfeb.*
(cd "$scratch/tree/tracer" && go generate ./...)
generated() { (cd "$1" && ls tracer/*_bpfel.* tracer/*_bpfeb.* 2>/dev/null | sort); }
if [ "$(generated .)" != "$(generated "$scratch/tree")" ]; then
	echo "check-generate: the committed generated files are not what 'make generate' makes:" >&2
	diff <(generated .) <(generated "$scratch/tree") >&2 || true
	status=1
fi
for f in $(generated "$scratch/tree"); do
	if ! cmp -s "$f" "$scratch/tree/$f"; then
		echo "check-generate: $f differs from what 'make generate' produces" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "check-generate: BPF objects are up to date ($(generated . | wc -l) files)"
exit $status
