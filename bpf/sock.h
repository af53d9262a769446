/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A socket's addresses and counters, copied into an event. */
#ifndef BPFNETSTAT_SOCK_H
#define BPFNETSTAT_SOCK_H

#include "core.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "tracer.h"

/*
 * Socket fields are read one of two ways. The tp_btf programs get a trusted
 * BTF pointer (btf = 1): a field is then a plain load, CO-RE-relocated,
 * which the verifier guards. Every other hook has an untrusted address
 * (btf = 0) and reads through bpf_probe_read_kernel, a helper call per
 * field: about twenty of them per event, most of the programs' cost. btf
 * is a constant at every call site, so each program keeps one of the two.
 */
#define SK_READ(btf, p, path) ((btf) ? (p)->path : BPF_CORE_READ(p, path))

static __always_inline __u32 sk_netns(const int btf, struct sock *sk)
{
	return btf ? sk->__sk_common.skc_net.net->ns.inum : BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* fill_tuple copies the addresses, ports, family and namespace. */
static __always_inline void fill_tuple(const int btf, struct event *e, struct sock *sk)
{
	e->family = SK_READ(btf, sk, __sk_common.skc_family);
	e->sport = SK_READ(btf, sk, __sk_common.skc_num);
	e->dport = __builtin_bswap16(SK_READ(btf, sk, __sk_common.skc_dport));
	e->netns = sk_netns(btf, sk);
	if (e->family == AF_INET) {
		__u32 s = SK_READ(btf, sk, __sk_common.skc_rcv_saddr);
		__u32 d = SK_READ(btf, sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->saddr, &s, 4);
		__builtin_memcpy(e->daddr, &d, 4);
	} else if (btf) {
		__builtin_memcpy(e->saddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(e->daddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
	} else {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

/* fill_counters copies the byte and error counters; after fill_tuple. */
static __always_inline void fill_counters(const int btf, struct event *e, struct sock *sk)
{
	struct tcp_sock *tp;
	if (btf) {
		tp = bpf_skc_to_tcp_sock(sk);
		if (!tp)
			return;
	} else {
		tp = (struct tcp_sock *)sk;
	}
	/*
	 * A connect that failed (refused, timed out, unreachable, abandoned)
	 * reaches the -> CLOSE tracepoint after tcp_set_state() gave its port
	 * back: inet_put_port() clears skc_num first. inet_sport keeps the port
	 * the SYNs carried (only tcp_disconnect() clears it, and later).
	 */
	if (!e->sport)
		e->sport = __builtin_bswap16(SK_READ(btf, tp, inet_conn.icsk_inet.inet_sport));
	e->bytes_sent = SK_READ(btf, tp, bytes_sent);
	e->bytes_received = SK_READ(btf, tp, bytes_received);
	e->bytes_acked = SK_READ(btf, tp, bytes_acked);
	e->bytes_retrans = SK_READ(btf, tp, bytes_retrans);
	e->total_retrans = SK_READ(btf, tp, total_retrans);
	e->srtt_us = SK_READ(btf, tp, srtt_us);
	e->sk_err = SK_READ(btf, sk, sk_err);
	unsigned long flags = SK_READ(btf, sk, __sk_common.skc_flags);
	e->peer_fin = (flags >> bpf_core_enum_value(enum sock_flags, SOCK_DONE)) & 1;
}

#endif
