package tracer

// The BPF objects are generated and committed, so that building and testing
// need no clang; `make generate` rebuilds them and scripts/check-generate.sh
// fails when they differ from what the C produces.
//
//   - tracer: the programs, once per architecture (tracer_x86_bpfel.*,
//     tracer_arm64_bpfel.*); bpf2go's -target defines __TARGET_ARCH_x86 or
//     __TARGET_ARCH_arm64, which pick the registers and syscall numbers
//     (bpf/arch.h). The Go record types (-type) come with them.
//   - the same records, with no program, for every other architecture
//     (tracer_bpfel.*, tracer_bpfeb.*), where Open refuses to load
//     (unsupported.go) but decoding still compiles.
//   - owners: the task_file iterator, which reads no register and runs on
//     any architecture.
//
// The uapi headers want an asm/ directory (for asm/types.h): the x86_64 one
// is named for every target, as all that reaches the objects from it are
// the fixed-size integer types, the same on every architecture, and a
// fixed path keeps the objects the same on every build machine.
//go:generate go tool bpf2go -tags linux -target amd64,arm64 -no-global-types -type event -type owner_source -type event_kind -type counter -type sk_slot -type forget_req -type acc_slot tracer ../bpf/tracer.bpf.c -- -I../bpf -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
//go:generate go tool bpf2go -tags linux,!386,!amd64,!arm64 -target bpfel,bpfeb -no-global-types -type event -type owner_source -type event_kind -type counter tracer ../bpf/records.bpf.c -- -I../bpf -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
//go:generate go tool bpf2go -tags linux -target bpfel,bpfeb -type socket_fd owners ../bpf/owners.bpf.c -- -I../bpf -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
