package tracer

// The BPF objects are generated and committed, so that building and testing
// need no clang; `make generate` rebuilds them and CI checks that nothing
// changes.
//go:generate go tool bpf2go -tags linux -target bpfel -type event -type sk_info -type owner_source -type event_kind -type counter tracer ../bpf/tracer.bpf.c -- -I../bpf -I/usr/include/x86_64-linux-gnu -D__TARGET_ARCH_x86 -O2 -g -Wall -Werror
//go:generate go tool bpf2go -tags linux -target bpfel -type socket_fd owners ../bpf/owners.bpf.c -- -I../bpf -I/usr/include/x86_64-linux-gnu -D__TARGET_ARCH_x86 -O2 -g -Wall -Werror
