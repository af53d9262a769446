// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bpfnetstat's TCP connection tracer. Entry points only; the work is in
 * state.h (state changes) and accept.h (accept exits). Program names are
 * the kernel's object names: at most 15 characters (BPF_OBJ_NAME_LEN).
 */
#include "core.h"
#include "arch.h"
#include "tracer.h"
#include "maps.h"
#include "state.h"
#include "accept.h"
#include "cgroup.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Preferred: typed tracepoint, no tracefs needed (5.5+).
 *
 * The kernel skips a tp_btf program that is already running on the CPU
 * (__bpf_trace_run's per-program "active" counter, counted as a recursion
 * miss): a softirq that changes another socket's state while set_state_btf
 * runs in process context, or a task preempted inside it, would lose that
 * event. So catchers are attached to the same tracepoint after the first
 * program, in order: set_state_btf2 handles exactly the events that arrive
 * while set_state_btf is running elsewhere on this CPU; set_state_btf3
 * those that arrive while both are (a preempted task inside each; seen
 * about once in seventy runs of the kernel tests with two catchers fewer).
 * Each flag is set for its program's whole run, so a catcher never takes
 * an event that an earlier program handled: the loss is exactly the first
 * program's misses less what the catchers recovered.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf, struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0;
	struct nesting *n = bpf_map_lookup_elem(&in_first, &zero);
	if (n)
		n->first = 1;
	on_set_state(sk, oldstate, newstate);
	if (n)
		n->first = 0;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf2, struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0;
	struct nesting *n = bpf_map_lookup_elem(&in_first, &zero);
	if (!n)
		return 0;
	n->second = 1;
	if (n->first) {
		count(COUNTER_RECOVERED);
		on_set_state(sk, oldstate, newstate);
	}
	n->second = 0;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf3, struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0;
	struct nesting *n = bpf_map_lookup_elem(&in_first, &zero);
	if (!n || !n->first || !n->second)
		return 0; /* an earlier program handled it */
	count(COUNTER_RECOVERED);
	return on_set_state(sk, oldstate, newstate);
}

/* Fallback: the classic tracepoint (needs tracefs), 4.16+. */
struct trace_event_raw_inet_sock_set_state {
	struct trace_entry ent;
	const void *skaddr;
	int oldstate;
	int newstate;
} __attribute__((preserve_access_index));

SEC("tracepoint/sock/inet_sock_set_state")
int set_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return on_set_state_raw((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);
}

/* Last resort for kernels without the tracepoint: tcp_set_state(sk, state). */
SEC("kprobe/tcp_set_state")
int BPF_KPROBE(set_state_kp, struct sock *sk, int state)
{
	return on_set_state_raw(sk, BPF_CORE_READ(sk, __sk_common.skc_state), state);
}

/* Exact acceptor: the accept syscalls' exit. */
SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

/* Without tracefs: every syscall exit, filtered on the syscall number of
 * the architecture the object is built for (arch.h). */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
	if (!is_accept_syscall(regs))
		return 0;
	return on_accept_exit(ret);
}

/* The paths of cgroups removed while the tracer runs (cgroup.h). */
SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	return on_cgroup_rmdir(cgrp, path);
}
