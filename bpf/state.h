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

/* slot_of gives the slot of sk_slots that a cookie picks. */
static __always_inline struct sk_slot *slot_of(__u64 cookie)
{
	__u32 i = (__u32)cookie & slot_mask;
	return bpf_map_lookup_elem(&sk_slots, &i);
}

/* The socket's state in its slot, else in sk_states, else in their
 * overflow (sk_infos); see maps.h. */
static __always_inline struct sk_info *state_of(struct sock *sk, __u64 cookie)
{
	struct sk_slot *s = slot_of(cookie);
	if (s && s->cookie == cookie)
		return &s->info;
	struct sk_info *info = bpf_map_lookup_elem(&sk_states, &cookie);
	if (info)
		return info;
	return bpf_sk_storage_get(&sk_infos, sk, 0, 0);
}

/* keep_state stores a socket's new state (the caller keeps using its copy):
 * in its slot if the socket holds it or can claim it, else in the hash,
 * else in socket storage. */
static __always_inline void keep_state(struct sock *sk, __u64 cookie, const struct sk_info *v)
{
	struct sk_slot *s = slot_of(cookie);
	if (s && (s->cookie == cookie || __sync_val_compare_and_swap(&s->cookie, 0, cookie) == 0)) {
		__builtin_memcpy(&s->info, v, sizeof(*v));
		return;
	}
	struct overflow *o = overflow_of();
	if (bpf_map_update_elem(&sk_states, &cookie, v, BPF_NOEXIST) == 0) {
		if (o)
			__sync_fetch_and_add(&o->in_hash, 1);
		return;
	}
	if (bpf_map_update_elem(&sk_states, &cookie, v, BPF_EXIST) == 0)
		return; /* a new life of a socket already there */
	if (o && !o->storage_used)
		o->storage_used = 1;
	struct sk_info *info = bpf_sk_storage_get(&sk_infos, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (info)
		__builtin_memcpy(info, v, sizeof(*info));
	else
		count(COUNTER_STORAGE_FAIL);
}

/* forget_state drops a closed socket's state, after its last read: the
 * compare-and-exchange that frees a slot orders every read of it before
 * another socket can claim it. Socket storage would go with the socket, but
 * only at its free, where on_destroy must not find it. */
static __always_inline void forget_state(struct sock *sk, __u64 cookie)
{
	struct sk_slot *s = slot_of(cookie);
	if (s && s->cookie == cookie) {
		__sync_val_compare_and_swap(&s->cookie, cookie, 0);
		return;
	}
	struct overflow *o = overflow_of();
	if (bpf_map_delete_elem(&sk_states, &cookie) == 0) {
		if (o)
			__sync_fetch_and_add(&o->in_hash, -1); /* (v1 instructions: no fetched value) */
	} else if (o && o->storage_used) {
		bpf_sk_storage_delete(&sk_infos, sk);
	}
}

/* At LISTEN -> CLOSE the port is already given back (skc_num 0, as for a
 * failed connect: see fill_counters); inet_sport still has it. */
static __always_inline void listener_key(struct listener_key *k, struct sock *sk)
{
	k->netns = sk_netns(1, sk);
	k->port = sk->__sk_common.skc_num;
	k->_pad = 0;
	if (!k->port) {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
		if (tp)
			k->port = __builtin_bswap16(tp->inet_conn.icsk_inet.inet_sport);
	}
}

/* listen_on records a new listener's owner under its port. */
static __always_inline void listen_on(struct sock *sk, const struct sk_info *owner)
{
	struct listener_key k;
	listener_key(&k, sk);
	struct listener_info *l = bpf_map_lookup_elem(&listeners, &k);
	if (!l) {
		struct listener_info n = {};
		__builtin_memcpy(&n.owner, owner, sizeof(n.owner));
		n.count = 1;
		if (bpf_map_update_elem(&listeners, &k, &n, BPF_NOEXIST) == 0)
			return;
		l = bpf_map_lookup_elem(&listeners, &k);
		if (!l)
			return;
	}
	__sync_fetch_and_add(&l->count, 1);
	if (l->owner.pid != owner->pid)
		l->ambiguous = 1;
}

/* stop_listening forgets a listener; its port's entry goes with the last. */
static __always_inline void stop_listening(struct sock *sk)
{
	struct listener_key k;
	listener_key(&k, sk);
	struct listener_info *l = bpf_map_lookup_elem(&listeners, &k);
	if (!l)
		return;
	__sync_fetch_and_add(&l->count, -1); /* (v1 instructions: no fetched value) */
	if ((__s32)l->count <= 0)
		bpf_map_delete_elem(&listeners, &k);
}

/* listener_owner gives a listener's child its listener's owner. */
static __always_inline void listener_owner(struct sock *child, struct sk_info *info)
{
	struct listener_key k;
	listener_key(&k, child);
	struct listener_info *l = bpf_map_lookup_elem(&listeners, &k);
	if (!l || l->ambiguous)
		return;
	__builtin_memcpy(info, &l->owner, sizeof(*info));
	info->owner_source = OWNER_LISTENER;
}

/* A close by the owner's system call: ESTABLISHED -> FIN_WAIT1 (it closes
 * first) or CLOSE_WAIT -> LAST_ACK (it closes second). */
static __always_inline int closed_by_owner(int oldstate, int newstate)
{
	return (oldstate == TCP_ESTABLISHED && newstate == TCP_FIN_WAIT1) ||
	       (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK);
}

/*
 * ends_only_skips: with ends_only, the transitions that change nothing kept
 * (ESTABLISHED, FIN_WAIT2, CLOSE_WAIT, CLOSING, TIME_WAIT entries) need no
 * work at all: on_set_state returns first thing, after the programs'
 * nested-event bookkeeping (tracer.bpf.c), which must see every event for
 * the loss count to stay exact. The records then carry no time of their
 * last state change (state_ns 0).
 */
static __always_inline int ends_only_skips(int oldstate, int newstate)
{
	if (!ends_only || newstate == TCP_CLOSE || closed_by_owner(oldstate, newstate))
		return 0;
	if (oldstate == TCP_CLOSE && (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN))
		return 0;
	return !(oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV);
}

/*
 * take_acceptor names a server socket's acceptor in its state, at its
 * -> CLOSE, where the accept left it in acc_slots (join_accept, accept.h,
 * which has the handshake between the two).
 */
static __always_inline void take_acceptor(struct sk_info *info, __u64 cookie)
{
	info->closing = 1;
	struct acc_slot *a = acc_of(cookie);
	if (!a || __sync_val_compare_and_swap(&a->ready, cookie, 0) != cookie)
		return;
	const struct sk_info *o = &a->owner;
	info->pid = o->pid;
	info->tid = o->tid;
	info->uid = o->uid;
	__builtin_memcpy(info->comm, o->comm, sizeof(info->comm));
	info->cgroup_id = o->cgroup_id;
	info->owner_source = o->owner_source;
	info->filtered = o->filtered;
	__sync_val_compare_and_swap(&a->cookie, cookie, 0);
}

/* fill_send completes a reserved record of a kept socket (its owner and
 * birth from its state, its tuple and counters from the socket) and sends
 * it. */
static __always_inline void fill_send(struct event *e, struct sock *sk, __u64 cookie, const struct sk_info *info,
				      int oldstate, int newstate)
{
	e->cookie = cookie;
	e->old_state = oldstate;
	e->new_state = newstate;
	e->cur_pid = current_pid();
	e->birth_ns = info->birth_ns;
	e->pid = info->pid;
	e->tid = info->tid;
	e->uid = info->uid;
	e->owner_source = info->owner_source;
	e->active = info->active;
	e->cgroup_id = info->cgroup_id;
	__builtin_memcpy(e->comm, info->comm, sizeof(e->comm));
	fill_tuple(1, e, sk);
	fill_counters(1, e, sk);
	submit(e);
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
	if (ends_only_skips(oldstate, newstate))
		return 0;
	int connect = oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT;
	int listen = oldstate == TCP_CLOSE && newstate == TCP_LISTEN;
	int child = oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV;
	int closing = newstate == TCP_CLOSE;
	int by_owner = closed_by_owner(oldstate, newstate);
	int birth = connect || listen || child;

	/*
	 * A socket whose state its slot holds passed the protocol and
	 * namespace checks below at its birth, and has its cookie: its later
	 * events skip them, and the helper call. Those checks were the
	 * costliest lines of the program under churn (perf samples by source
	 * line, scripts/profile-bpf.sh): the namespace is two loads away from
	 * the socket, and the protocol on a cache line of its own.
	 */
	__u64 cookie = 0;
	struct sk_info *kept = NULL;
	if (!birth) {
		cookie = sk->__sk_common.skc_cookie.counter;
		struct sk_slot *s = cookie ? slot_of(cookie) : NULL;
		if (s && s->cookie == cookie)
			kept = &s->info;
	}
	if (!kept) {
		if (sk->sk_protocol != IPPROTO_TCP)
			return 0; /* MPTCP subflows and others */
		if (target_netns && sk_netns(1, sk) != target_netns)
			return 0;
		/* Forces a cookie now: the timewait socket that may follow
		 * inherits it. */
		cookie = bpf_get_socket_cookie(sk);
	} else if (ends_only && by_owner && kept->owner_source != OWNER_NONE) {
		/* An owner's close of a socket whose owner is known: ends_only
		 * keeps no time of a state change, and emits nothing here. */
		return 0;
	}
	/*
	 * The clock is read only where its time is kept or sent. With
	 * ends_only, an owner's close (ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT ->
	 * LAST_ACK) begins no life and ends none, and no time of a state
	 * change is kept: it reads the clock only for a socket first seen
	 * there. A read costs about 90 ns where the clock is paravirtual
	 * (kvm-clock; BPF statistics under churn), and every connection has
	 * one such close at each end.
	 */
	__u64 now = ends_only && by_owner ? 0 : bpf_ktime_get_ns();

	struct sk_info fresh = {};
	struct sk_info *info;
	if (connect || listen || child) {
		/* A new life: whatever was kept under this cookie (a connect
		 * that failed and is tried again) is replaced. */
		if (child)
			listener_owner(sk, &fresh);
		else
			set_owner_current(&fresh, connect ? OWNER_CONNECT : OWNER_LISTEN);
		fresh.birth_ns = now;
		fresh.state_ns = ends_only ? sk_netns(1, sk) : now;
		fresh.active = connect ? 1 : child ? 0 : 2;
		if (listen)
			listen_on(sk, &fresh);
		keep_state(sk, cookie, &fresh);
		info = &fresh;
	} else {
		info = kept ? kept : state_of(sk, cookie);
		if (!info) {
			/* Older than the tracer: first seen now. */
			if (!now)
				now = bpf_ktime_get_ns();
			fresh.birth_ns = now;
			fresh.state_ns = ends_only ? sk_netns(1, sk) : now;
			fresh.active = 2;
			if (by_owner)
				set_owner_current(&fresh, OWNER_CLOSE);
			if (!closing)
				keep_state(sk, cookie, &fresh);
			info = &fresh;
		} else {
			if (info->owner_source == OWNER_NONE && by_owner)
				set_owner_current(info, OWNER_CLOSE);
			if (accept_in_close && closing && info->active == 0)
				take_acceptor(info, cookie);
		}
	}

	int emit = !info->filtered && /* its owner is outside the cgroup filter */
		   !(ends_only && (!closing || oldstate == TCP_LISTEN));
	struct event *e = emit ? reserve_event(EVENT_STATE, now) : NULL;
	if (e) {
		if (!ends_only)
			e->state_ns = info->state_ns;
		fill_send(e, sk, cookie, info, oldstate, newstate);
	}
	if (closing) {
		/* Only a listener that listen_on counted: one older than the
		 * tracer would take another's count on the same port. */
		if (oldstate == TCP_LISTEN && info->owner_source == OWNER_LISTEN)
			stop_listening(sk);
		forget_state(sk, cookie);
	} else if (!ends_only) {
		info->state_ns = now;
	}
	return 0;
}

/*
 * on_destroy is the last word on a socket whose -> CLOSE no program saw.
 * Every TCP socket goes through -> CLOSE before the kernel frees it
 * (tcp_v4_destroy_sock, tcp:tcp_destroy_sock), and on_set_state forgets a
 * socket's state there; so a socket still kept here had its end hidden from
 * the state programs. That happens: a connect ended by ICMP host unreachable
 * on its retransmitted SYN had, about once in 300 here, no program run for
 * the timer, the retransmission, the ICMP or the -> CLOSE of that socket
 * (README, "A connection's end that no program sees"). The record says
 * so (EVENT_END: user space names its end "unseen") with what is still
 * there: the owner and birth kept, the local port (inet_sport) and the
 * remote address; the remote port and the error are gone by now (the
 * process's connect took the error, tcp_disconnect cleared the port). It
 * also frees the socket's slot, which would otherwise stay taken.
 */
static __always_inline int on_destroy(struct sock *sk)
{
	/* The cookie as the socket has it: the state programs gave every
	 * socket they keep one, so a socket without one (never connected or
	 * listened) is done with here, and gets no cookie it does not need.
	 * No protocol or namespace check: only a socket on_set_state kept
	 * (TCP, in the namespace watched) can be found below. */
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		return 0;
	struct sk_slot *s = slot_of(cookie);
	struct sk_info *info = s && s->cookie == cookie ? &s->info : NULL;
	if (!info) {
		struct overflow *o = overflow_of();
		if (o && (o->in_hash > 0 || o->storage_used))
			info = state_of(sk, cookie);
	}
	if (!info)
		return 0;
	count(COUNTER_END_UNSEEN);
	/* A server socket's acceptor, which its close record would have
	 * taken (accept.h). */
	if (accept_in_close && info->active == 0)
		take_acceptor(info, cookie);
	__u64 now = bpf_ktime_get_ns();
	struct event *e = info->filtered ? NULL : reserve_event(EVENT_END, now);
	if (e)
		fill_send(e, sk, cookie, info, TCP_CLOSE, TCP_CLOSE);
	forget_state(sk, cookie);
	return 0;
}

/*
 * forget_kept drops the state kept for a socket that is gone, for user
 * space's sweep (tracer/kept.go): a socket whose -> CLOSE and free no
 * program saw (on_destroy's comment; a socket that became a timewait one
 * is freed in the same softirq) would hold its slot or hash entry for as
 * long as the tracer runs, and user space could not tell it from a socket
 * still open. The sweep calls it (BPF_PROG_TEST_RUN) for a cookie that the
 * namespace's socket table no longer has. The slot is freed the way a
 * -> CLOSE frees it, by compare-and-exchange: an on_destroy still to come
 * for the socket (its process has not closed it yet) and a new socket's
 * claim of the slot stay exact. where says what was dropped: 1 the slot,
 * 2 the hash entry, 0 nothing (on_destroy was first).
 */
struct forget_req {
	__u64 cookie;
	__u32 where;
	/* Out: 1 when a server socket's acceptor was waiting for its close
	 * record (accept_in_close, accept.h) and is in acceptor now; its
	 * entry is freed. */
	__u32 has_acceptor;
	struct sk_info acceptor;
};

static __always_inline int on_forget_kept(struct forget_req *req)
{
	__u64 cookie = req->cookie;
	req->where = 0;
	req->has_acceptor = 0;
	struct sk_slot *s = slot_of(cookie);
	if (s && __sync_val_compare_and_swap(&s->cookie, cookie, 0) == cookie) {
		req->where = 1;
	} else if (bpf_map_delete_elem(&sk_states, &cookie) == 0) {
		struct overflow *o = overflow_of();
		if (o)
			__sync_fetch_and_add(&o->in_hash, -1);
		req->where = 2;
	}
	if (!req->where || !accept_in_close)
		return 0;
	/* As take_acceptor at a -> CLOSE: the accept published it long ago. */
	struct acc_slot *a = acc_of(cookie);
	if (!a || __sync_val_compare_and_swap(&a->ready, cookie, 0) != cookie)
		return 0;
	__builtin_memcpy(&req->acceptor, &a->owner, sizeof(req->acceptor));
	req->has_acceptor = 1;
	__sync_val_compare_and_swap(&a->cookie, cookie, 0);
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
