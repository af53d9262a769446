/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* TCP state changes: the connection's lifecycle and its owner. */
#ifndef BPFNETSTAT_STATE_H
#define BPFNETSTAT_STATE_H

#include "core.h"
#include <bpf/bpf_helpers.h>
#include "tracer.h"
#include "maps.h"
#include "pidns.h"
#include "sock.h"

static __always_inline void set_owner_current(struct sk_info *info, __u8 source)
{
	current_ids(&info->pid, &info->tid);
	info->uid = (__u32)bpf_get_current_uid_gid();
	info->owner_source = source;
	bpf_get_current_comm(info->comm, sizeof(info->comm));
	info->cgroup_id = bpf_get_current_cgroup_id();
	info->filtered = outside_filter();
}

/*
 * on_set_state runs in the context of whoever caused the transition: for a
 * server socket's SYN_RECV -> ESTABLISHED that is softirq, i.e. a random
 * task. So the owner is only taken from current where the transition is
 * made by a system call of the owner: connect (CLOSE -> SYN_SENT) and
 * listen (CLOSE -> LISTEN); a close by the owner (ESTABLISHED -> FIN_WAIT1,
 * CLOSE_WAIT -> LAST_ACK) is used only for sockets older than the tracer.
 */
static __always_inline int on_set_state(struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0; /* MPTCP subflows and others */
	if (target_netns && sk_netns(1, sk) != target_netns)
		return 0;

	/* Forces a cookie now: the timewait socket that may follow inherits it. */
	__u64 cookie = bpf_get_socket_cookie(sk);
	__u64 now = bpf_ktime_get_ns();

	struct sk_info *info = bpf_sk_storage_get(&sk_infos, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!info) {
		count(COUNTER_STORAGE_FAIL);
	} else {
		if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) {
			/* A child of a listener (inet_csk_clone_lock): the storage
			 * was cloned from the listener; it is ours from now on. */
			info->birth_ns = now;
			info->state_ns = now;
			info->active = 0;
			if (info->owner_source == OWNER_LISTEN)
				info->owner_source = OWNER_LISTENER;
		} else if (info->birth_ns == 0) {
			info->birth_ns = now;
			info->state_ns = now;
			info->active = 2;
		}
		if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
			info->active = 1;
			info->birth_ns = now;
			info->state_ns = now;
			set_owner_current(info, OWNER_CONNECT);
		} else if (oldstate == TCP_CLOSE && newstate == TCP_LISTEN) {
			set_owner_current(info, OWNER_LISTEN);
		} else if (info->owner_source == OWNER_NONE &&
			   ((oldstate == TCP_ESTABLISHED && newstate == TCP_FIN_WAIT1) ||
			    (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK))) {
			set_owner_current(info, OWNER_CLOSE);
		}
	}

	if (info && info->filtered) {
		info->state_ns = now; /* its owner is outside the cgroup filter */
		return 0;
	}
	if (ends_only && (newstate != TCP_CLOSE || oldstate == TCP_LISTEN)) {
		if (info)
			info->state_ns = now;
		return 0;
	}
	struct event *e = reserve_event(EVENT_STATE, now);
	if (!e) {
		if (info)
			info->state_ns = now;
		return 0;
	}
	e->cookie = cookie;
	e->old_state = oldstate;
	e->new_state = newstate;
	e->cur_pid = current_pid();
	if (info) {
		e->birth_ns = info->birth_ns;
		e->state_ns = info->state_ns;
		e->pid = info->pid;
		e->tid = info->tid;
		e->uid = info->uid;
		e->owner_source = info->owner_source;
		e->active = info->active;
		e->cgroup_id = info->cgroup_id;
		__builtin_memcpy(e->comm, info->comm, sizeof(e->comm));
		info->state_ns = now;
	} else {
		e->active = 2;
	}
	fill_tuple(1, e, sk);
	fill_counters(1, e, sk);
	submit(e);
	return 0;
}

/*
 * on_set_state_raw serves the hooks whose socket pointer is not trusted
 * (the classic tracepoint, the kprobe): no socket storage and no cookie
 * helper there, so the event carries the cookie as the kernel has it (0 if
 * never generated) and the owner only where current is the owner; user
 * space keeps the rest of the connection's state.
 */
static __always_inline int on_set_state_raw(struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (target_netns && sk_netns(0, sk) != target_netns)
		return 0;
	/* No per-socket state here: ends_only cannot apply, every transition
	 * goes to user space, which keeps the connection's state. */
	struct event *e = reserve_event(EVENT_STATE, bpf_ktime_get_ns());
	if (!e)
		return 0;
	e->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	e->old_state = oldstate;
	e->new_state = newstate;
	e->cur_pid = current_pid();
	e->active = 2;
	if (oldstate == TCP_CLOSE && (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN)) {
		struct sk_info info = {};
		set_owner_current(&info, newstate == TCP_SYN_SENT ? OWNER_CONNECT : OWNER_LISTEN);
		e->pid = info.pid;
		e->tid = info.tid;
		e->uid = info.uid;
		e->owner_source = info.owner_source;
		e->active = newstate == TCP_SYN_SENT;
		e->cgroup_id = info.cgroup_id;
		__builtin_memcpy(e->comm, info.comm, sizeof(e->comm));
	}
	fill_tuple(0, e, sk);
	fill_counters(0, e, sk);
	submit(e);
	return 0;
}

#endif
