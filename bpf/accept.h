/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The exact acceptor: at accept()'s exit, the new fd's socket and its cookie. */
#ifndef BPFNETSTAT_ACCEPT_H
#define BPFNETSTAT_ACCEPT_H

#include "core.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "tracer.h"
#include "maps.h"
#include "pidns.h"
#include "sock.h"
#include "state.h"

/*
 * With accept_in_close (life), the acceptor goes into the socket's close
 * record instead of a record of its own, which saves the ring buffer
 * a record a connection (about 500 ns in the kernel under churn by BPF
 * statistics, and the reader's decoding and join). The acceptor is written into an
 * entry of acc_slots that this cookie claims; the close takes it from there
 * (take_acceptor, state.h). An accept and the close of the same socket can
 * run at once on two CPUs (the peer resets the connection as it is
 * accepted), so the two agree through the entry's ready word and the
 * socket's closing flag:
 *   close:  closing = 1; compare-and-exchange ready c -> 0 (a full barrier);
 *           if it won, the fields are the close's and it frees the entry;
 *   accept: claim the entry (cookie 0 -> c), write the fields, publish
 *           (ready 0 -> c, a full barrier); read closing, then confirm the
 *           slot still holds c; if the socket is closing or gone, take the
 *           fields back (ready c -> 0): if that wins, the close did not see
 *           them, so a record of its own carries them, as without the join.
 * Each side's write comes before its read of the other's, so at least one
 * sees the other; the ready exchange gives the fields to exactly one side,
 * and only that side frees the entry. A socket whose state is not in its
 * slot (sk_states, sk_infos), or whose entry another cookie holds, gets its
 * record as before. join_accept returns 1 when the close will name the
 * acceptor.
 */
static __always_inline int join_accept(__u64 cookie, struct sk_slot *s)
{
	struct acc_slot *a = acc_of(cookie);
	if (!a || __sync_val_compare_and_swap(&a->cookie, 0, cookie) != 0)
		return 0;
	set_owner_current(&a->owner, OWNER_ACCEPT);
	__sync_val_compare_and_swap(&a->ready, 0, cookie);
	__u8 closing = s->info.closing;
	if (!closing && __sync_val_compare_and_swap(&s->cookie, cookie, cookie) == cookie)
		return 1; /* alive: its close takes the acceptor */
	if (__sync_val_compare_and_swap(&a->ready, cookie, 0) != cookie)
		return 1; /* the close took it */
	__sync_val_compare_and_swap(&a->cookie, cookie, 0);
	return 0;
}

/*
 * on_accept_sock reports the socket an accept returned, with the current
 * task as its owner. The cookie was generated at the socket's first state
 * change (on_set_state), so it is already set; user space joins on it.
 * btf says how the socket's fields are read (sock.h).
 */
static __always_inline int on_accept_sock(const int btf, struct sock *sk)
{
	if (!sk)
		return 0;
	/* A socket whose state its slot holds is a TCP socket of the
	 * namespace watched (on_set_state checked at its birth): its checks
	 * are skipped, as on_set_state skips them for its later events. */
	__u64 cookie = SK_READ(btf, sk, __sk_common.skc_cookie.counter);
	struct sk_slot *s = cookie ? slot_of(cookie) : NULL;
	if (s && s->cookie != cookie)
		s = NULL;
	if (!s) {
		if (SK_READ(btf, sk, sk_protocol) != IPPROTO_TCP)
			return 0;
		__u16 family = SK_READ(btf, sk, __sk_common.skc_family);
		if (family != AF_INET && family != AF_INET6)
			return 0;
		if (target_netns && sk_netns(btf, sk) != target_netns)
			return 0;
	}
	if (outside_filter())
		return 0;
	if (!cookie) {
		count(COUNTER_ACCEPT_MISS);
		return 0;
	}
	if (accept_in_close && s && join_accept(cookie, s))
		return 0;

	struct event *e = reserve_event(EVENT_ACCEPT, bpf_ktime_get_ns());
	if (!e)
		return 0;
	e->cookie = cookie;
	current_ids(&e->pid, &e->tid);
	e->cur_pid = e->pid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->owner_source = OWNER_ACCEPT;
	e->active = 0;
	e->new_state = SK_READ(btf, sk, __sk_common.skc_state);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->cgroup_id = bpf_get_current_cgroup_id();
	fill_tuple(btf, e, sk);
	submit(e);
	return 0;
}

/*
 * on_accept_exit resolves fd in the current task's file table
 * (current->files->fdt->fd[fd]->private_data->sk) with a
 * bpf_probe_read_kernel call per field.
 */
static __always_inline int on_accept_exit(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return 0;
	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	return on_accept_sock(0, BPF_CORE_READ(sock, sk));
}

/*
 * on_accept_exit_btf is on_accept_exit with plain loads instead of a
 * bpf_probe_read_kernel call per field (about twenty, most of the
 * program's cost): the current task is a BTF pointer, the fd table's slot
 * is read once, and the file and socket are made BTF pointers with
 * bpf_rdonly_cast (a kfunc, Linux 6.2+; loads through it are guarded like
 * a probe read). Kernels without it load on_accept_exit instead.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

static __always_inline int on_accept_exit_btf(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	void *slot = NULL;
	bpf_probe_read_kernel(&slot, sizeof(slot), &fds[fd]);
	if (!slot)
		return 0;
	struct file *file = bpf_rdonly_cast(slot, bpf_core_type_id_kernel(struct file));
	struct socket *sock = bpf_rdonly_cast(file->private_data, bpf_core_type_id_kernel(struct socket));
	return on_accept_sock(1, sock->sk);
}

#endif
