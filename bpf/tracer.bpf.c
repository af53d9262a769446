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
 * scripts/bench-churn.sh's "hooks" mode builds these programs with
 * -DBPFNETSTAT_HOOKS_ONLY: each returns first thing, so that the bench
 * measures what the hooks cost by being attached (the tracepoints'
 * dispatch, the catchers, the slow system-call path the accept hook puts
 * every task on) apart from the programs' work. The committed objects are
 * built without it.
 */
#ifdef BPFNETSTAT_HOOKS_ONLY
#define HOOK_ENTRY() return 0
#else
#define HOOK_ENTRY() do { } while (0)
#endif

/*
 * Preferred: typed tracepoint, no tracefs needed (5.5+).
 *
 * The kernel skips a tp_btf program that is already running on the CPU
 * (__bpf_trace_run's per-program "active" counter, counted as a recursion
 * miss). A state change in process context (connect, close, a listener's
 * close resetting its children) runs set_state_btf with interrupts on; an
 * interrupt that arrives while it runs (the timer, or the ring buffer's
 * own wake-up: an irq_work self-IPI) runs the pending softirqs on its way
 * out, and the TCP receive path there changes other sockets' states while
 * set_state_btf is still "active" on this CPU. So catchers are attached to
 * the same tracepoint after the first program, in order: set_state_btf2
 * and set_state_btf3 take the events that no earlier program took; the
 * third is for an interrupt that arrives while the second runs, which only
 * a PREEMPT_RT kernel allows (user space attaches it there only: see
 * nestsTwice in tracer/hooks.go).
 *
 * Which events an earlier program took is recorded by event, not by "the
 * first program is running" flags: the kernel's active window is wider than
 * any flag a program can set (it opens before the program's first
 * instruction and closes after its last), and an interrupt in those edges
 * lost every event of the softirqs it ran. An event is named by its
 * tracepoint call (see struct handled_set), which each program of one call
 * sees alike and no other call under way on the CPU shares, so the check
 * holds wherever the interrupt lands. The loss is then exactly the first
 * program's misses less what the catchers recovered. That needs every event
 * marked and checked, those ends_only makes no record of included: the
 * kernel counts a skipped first run on one of them as a miss like any
 * other, and a catcher that returned before its check never counted it
 * recovered, so it was reported lost though nothing was (a "kernel
 * recursion" loss that life printed under load). on_set_state returns for
 * them after the bookkeeping.
 */
struct event_id {
	__u64 ctx;
	__u64 sk;
	__u32 states;
};

/* as_u64 gives a pointer's value as a number, to store and compare: through
 * a map value, which the verifier lets a privileged program store a pointer
 * in and reads back as a scalar. */
static __always_inline __u64 as_u64(struct handled_set *h, const void *p)
{
	*(const void *volatile *)&h->spill = p;
	return *(volatile __u64 *)&h->spill;
}

static __always_inline struct handled_set *handled_set(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&handled, &zero);
}

static __always_inline void event_id(struct handled_set *h, struct event_id *id, const void *ctx,
				     const struct sock *sk, int oldstate, int newstate)
{
	id->ctx = as_u64(h, ctx);
	id->sk = as_u64(h, sk);
	id->states = (__u32)(oldstate & 0xff) << 8 | (newstate & 0xff);
}

/*
 * An event's home entry is the one its call's address picks: the first
 * program marks it there unless another call holds it, and the catcher
 * looks there first, so that the common case (no other call under way on
 * the CPU) reads one entry, not HANDLED_MAX: the catcher went from about
 * 85 to 65 ns a run under churn (BPF statistics). Elsewhere only when the
 * home is taken (scan_handled, mark_handled's scan).
 */
static __always_inline __u32 home_of(const struct event_id *id)
{
	return (__u32)(id->ctx >> 3) % HANDLED_MAX;
}

static __always_inline int same_event(const struct handled_event *e, const struct event_id *id)
{
	return e->ctx == id->ctx && e->sk == id->sk && e->states == id->states;
}

static __always_inline int scan_handled(struct handled_set *h, const struct event_id *id, int forget)
{
	int found = 0;
#pragma unroll
	for (int i = 0; i < HANDLED_MAX; i++) {
		struct handled_event *e = &h->e[i];
		if (same_event(e, id)) {
			found = 1;
			if (forget)
				e->ctx = 0;
		}
	}
	return found;
}

static __always_inline int is_handled(struct handled_set *h, const struct event_id *id, int forget)
{
	__u32 home = home_of(id);
	if (home < HANDLED_MAX && same_event(&h->e[home], id)) {
		if (forget)
			h->e[home].ctx = 0;
		return 1;
	}
	return scan_handled(h, id, forget);
}

/*
 * mark_handled records the event in its home entry when that is free or
 * holds an earlier call at the same address (over: two calls under way at
 * once never share one); else in the entry of an earlier call at the same
 * address, else in a free entry, else (never seen: more entries than calls
 * can be under way) in the home entry. An entry of an earlier call at the
 * same address left elsewhere (its call's last program was skipped) stays
 * until replaced; it cannot hide a miss of this call from its catcher
 * unless it names the same socket and states too, and that miss is still
 * reported as lost (the kernel counted it; no catcher counted it recovered).
 */
static __always_inline void mark_handled(struct handled_set *h, const struct event_id *id)
{
	__u32 home = home_of(id);
	if (home < HANDLED_MAX && (h->e[home].ctx == 0 || h->e[home].ctx == id->ctx)) {
		h->e[home].ctx = id->ctx;
		h->e[home].sk = id->sk;
		h->e[home].states = id->states;
		return;
	}
	int slot = -1, free = -1;
#pragma unroll
	for (int i = 0; i < HANDLED_MAX; i++) {
		if (h->e[i].ctx == id->ctx)
			slot = i;
		else if (h->e[i].ctx == 0)
			free = i;
	}
	if (slot < 0)
		slot = free;
	if (slot < 0)
		slot = home;
	if (slot < 0 || slot >= HANDLED_MAX)
		return; /* for the verifier */
	h->e[slot].ctx = id->ctx;
	h->e[slot].sk = id->sk;
	h->e[slot].states = id->states;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf, struct sock *sk, int oldstate, int newstate)
{
	HOOK_ENTRY();
	struct handled_set *h = handled_set();
	if (h) {
		struct event_id id;
		event_id(h, &id, ctx, sk, oldstate, newstate);
		mark_handled(h, &id);
	}
	return on_set_state(sk, oldstate, newstate);
}

/* Set by user space before load: 1 when set_state_btf3 is not attached
 * (see nestsTwice in tracer/hooks.go), so that set_state_btf2 is the last
 * program of a call and forgets the event, as set_state_btf3 does. */
volatile const __u8 one_catcher = 0;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf2, struct sock *sk, int oldstate, int newstate)
{
	HOOK_ENTRY();
	struct handled_set *h = handled_set();
	if (!h)
		return 0;
	struct event_id id;
	event_id(h, &id, ctx, sk, oldstate, newstate);
	if (is_handled(h, &id, one_catcher))
		return 0; /* set_state_btf took it; the last program forgets it */
	count(COUNTER_RECOVERED);
	if (!one_catcher)
		mark_handled(h, &id);
	return on_set_state(sk, oldstate, newstate);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf3, struct sock *sk, int oldstate, int newstate)
{
	HOOK_ENTRY();
	struct handled_set *h = handled_set();
	if (!h)
		return 0;
	struct event_id id;
	event_id(h, &id, ctx, sk, oldstate, newstate);
	if (is_handled(h, &id, 1))
		return 0; /* an earlier program took it */
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
	HOOK_ENTRY();
	return on_set_state_raw((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);
}

/* Last resort for kernels without the tracepoint: tcp_set_state(sk, state). */
SEC("kprobe/tcp_set_state")
int BPF_KPROBE(set_state_kp, struct sock *sk, int state)
{
	HOOK_ENTRY();
	return on_set_state_raw(sk, BPF_CORE_READ(sk, __sk_common.skc_state), state);
}

/*
 * Exact acceptor, preferred: the BPF LSM's sock_graft hook. The accept path
 * calls it in the accepting task with the new socket (inet_accept ->
 * sock_graft), for every way of accepting (accept, accept4, io_uring), and
 * with no system-call tracepoint: attaching one of those puts every task on
 * the machine on the slow system-call path for as long as it is attached.
 * LSM programs attach through BPF trampolines, which a kernel without
 * fentry refuses; the syscall tracepoints below are the fallback. User
 * space attaches it only while the BPF LSM is active (bpf in
 * /sys/kernel/security/lsm): otherwise the kernel would take the program
 * and never run it.
 */
SEC("lsm/sock_graft")
int BPF_PROG(sock_graft, struct sock *sk, struct socket *parent)
{
	HOOK_ENTRY();
	return on_accept_sock(1, sk);
}

/* Exact acceptor, fallback: the accept syscalls' exit, with plain loads
 * (6.2+)... */
SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_plain(struct trace_event_raw_sys_exit *ctx)
{
	HOOK_ENTRY();
	return on_accept_exit_btf(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_plain(struct trace_event_raw_sys_exit *ctx)
{
	HOOK_ENTRY();
	return on_accept_exit_btf(ctx->ret);
}

/* ... or with CO-RE reads. */
SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	HOOK_ENTRY();
	return on_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	HOOK_ENTRY();
	return on_accept_exit(ctx->ret);
}

/* Without tracefs: every syscall exit, filtered on the syscall number of
 * the architecture the object is built for (arch.h). */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
	HOOK_ENTRY();
	if (!is_accept_syscall(regs))
		return 0;
	return on_accept_exit(ret);
}

/* A socket freed whose -> CLOSE no state program saw (state.h, on_destroy). */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(destroy_btf, struct sock *sk)
{
	HOOK_ENTRY();
	return on_destroy(sk);
}

/* User space's sweep drops a gone socket's kept state (state.h). */
SEC("syscall")
int forget_kept(struct forget_req *req)
{
	return on_forget_kept(req);
}

/* The paths of cgroups removed while the tracer runs (cgroup.h). */
SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	HOOK_ENTRY();
	return on_cgroup_rmdir(cgrp, path);
}
