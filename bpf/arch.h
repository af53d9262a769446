/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What differs between the architectures the tracer is built for: the
 * registers a kprobe or the raw sys_exit tracepoint sees (struct pt_regs)
 * and the accept syscalls' numbers. bpf2go's -target amd64,arm64 compiles
 * the programs once per architecture and defines __TARGET_ARCH_x86 or
 * __TARGET_ARCH_arm64; any other architecture stops the build here, and
 * user space refuses to load the tracer there (tracer/unsupported.go).
 *
 * libbpf's bpf_tracing.h (BPF_KPROBE, PT_REGS_PARM*) reads the same
 * registers: it is included here, after __VMLINUX_H__, which makes it use
 * the kernel's field names (di, si on x86) that the declarations below
 * carry. Include bpf_tracing.h only through this header.
 */
#ifndef BPFNETSTAT_ARCH_H
#define BPFNETSTAT_ARCH_H

#if defined(__BPF_TRACING_H__) && !defined(__VMLINUX_H__)
#error "bpf/bpf_tracing.h was included before arch.h: include arch.h instead"
#endif

#include <linux/types.h>
#include <bpf/bpf_core_read.h>

#define __VMLINUX_H__ 1
#include <bpf/bpf_tracing.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

#if defined(__TARGET_ARCH_x86)

/* arch/x86/entry/syscalls/syscall_64.tbl */
#define NR_ACCEPT 43
#define NR_ACCEPT4 288

/* arch/x86/include/asm/ptrace.h: orig_ax holds the syscall number. */
struct pt_regs {
	unsigned long di;
	unsigned long si;
	unsigned long orig_ax;
};

#define PT_REGS_SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)

#elif defined(__TARGET_ARCH_arm64)

/* include/uapi/asm-generic/unistd.h, which arm64 uses */
#define NR_ACCEPT 202
#define NR_ACCEPT4 242

/* arch/arm64/include/uapi/asm/ptrace.h: what bpf_tracing.h's
 * PT_REGS_PARM* read on arm64 (x0..x30). */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};

/* arch/arm64/include/asm/ptrace.h: syscallno holds the syscall number. */
struct pt_regs {
	__s32 syscallno;
};

#define PT_REGS_SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)

#else
#error "bpfnetstat's tracer knows the registers and syscall numbers of x86_64 and arm64 only (bpf2go -target amd64,arm64)"
#endif

#pragma clang attribute pop

/*
 * A 32-bit task's syscall numbers (x86's ia32, arm64's AArch32) are not
 * told apart here: the classic sys_exit_accept* tracepoints, preferred
 * whenever tracefs is there, never fire for them (the kernel's syscall
 * tracing skips compat syscalls), but tp_btf/sys_exit would take such a
 * task's syscall 43 (ia32: times) for accept.
 */
static __always_inline int is_accept_syscall(struct pt_regs *regs)
{
	long nr = PT_REGS_SYSCALL_NR(regs);
	return nr == NR_ACCEPT || nr == NR_ACCEPT4;
}

#endif
