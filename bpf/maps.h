/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef BPFNETSTAT_MAPS_H
#define BPFNETSTAT_MAPS_H

/* The tracer's maps and settings, and the ring buffer's reserve and submit. */

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "tracer.h"

/* The network namespace inode to watch, set by user space before load
 * (Config.NetNS); 0 means every namespace. */
volatile const __u32 target_netns = 0;

/* Set by user space before load (Config.EndsOnly) for a consumer that needs
 * one record per socket, not every transition (life, the agent): the state
 * programs still keep each socket's state, but emit only its -> CLOSE (with
 * its birth, owner and counters), none for a listener. */
volatile const __u8 ends_only = 0;

/* Set by user space before load (Config.AcceptInClose), with ends_only, for
 * a consumer that needs a server socket's acceptor only in its close record
 * (life): the accept then makes no record of its own (accept.h). */
volatile const __u8 accept_in_close = 0;

/*
 * Per-socket state, from the socket's first state change to its -> CLOSE.
 *
 * Its first place is sk_slots, an array that the cookie's low bits index
 * (slot_mask): no hashing, no bucket, no allocation, and the lookup is
 * inlined by the verifier. Cookies are handed out in sequence (in batches
 * per CPU), so the sockets alive at once under churn take neighbouring
 * slots, a few hot cache lines. A socket claims its slot with a
 * compare-and-exchange of the slot's cookie from 0 (Linux 5.12+) and frees
 * it at its -> CLOSE the same way; its own events are serialised by the
 * socket's lock, and another socket's never match its cookie. A socket
 * whose slot is taken (by one that lives while slot_mask + 1 newer cookies
 * are handed out) keeps its state in sk_states, a hash keyed by cookie,
 * whose elements come from the kernel's per-CPU BPF allocator caches
 * (BPF_F_NO_PREALLOC). Under maximum loopback churn the hash's updates,
 * lookups and deletes were about 1.4% of the machine, most of it the walk
 * of a bucket that a random key sends to a cold cache line; with the array
 * in front, life ran 2 to 6 points of the untraced rate faster (side by
 * side, 10 rounds; README, Tracer cost). Preallocated, the hash's 65,536
 * entries held 8 MiB of locked kernel memory from the start, idle or not,
 * and ran no faster. Socket storage (sk_infos) allocated,
 * charged to a memory cgroup and freed through RCU two records for every
 * socket, and cloned them into every child of a listener: under
 * connection churn that cost more than the hash. A socket that finds the
 * hash full keeps its state in sk_infos, so there is still no cap.
 * The state is forgotten at the socket's -> CLOSE; a socket whose -> CLOSE
 * was lost keeps its slot or entry until user space closes the tracer (its
 * cookie is never reused).
 */
struct sk_info {
	__u64 birth_ns;
	/* When the socket entered its state; with ends_only, which keeps no
	 * such time, its network namespace's inode instead, for user space's
	 * sweep of states kept for sockets that are gone (tracer/kept.go). */
	__u64 state_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u8 owner_source;
	__u8 active;
	__u8 filtered; /* the owner is outside the cgroup filter: no events */
	__u8 closing; /* a passive socket's -> CLOSE has begun (accept.h) */
	char comm[TASK_COMM_LEN];
	__u64 cgroup_id; /* the owner's cgroup v2 id */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536); /* user space may resize before load */
	__type(key, __u64);         /* the socket's cookie */
	__type(value, struct sk_info);
} sk_states SEC(".maps");

/* A slot of sk_slots: the socket whose cookie holds it, and its state. */
struct sk_slot {
	__u64 cookie; /* 0: free */
	struct sk_info info;
};

/* sk_slots' size less one, set by user space with the map's size (a power
 * of two) before load. */
volatile const __u32 slot_mask = 16384 - 1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384); /* 64 bytes a slot: 1 MiB */
	__type(key, __u32);
	__type(value, struct sk_slot);
} sk_slots SEC(".maps");

/*
 * A server socket's acceptor, where life (accept_in_close) names it in the
 * socket's close record instead of a record of its own (accept.h): an entry
 * per cookie's low bits (acc_of), held by the cookie that claimed it (0:
 * free); ready is that cookie once the owner is written.
 */
struct acc_slot {
	__u64 cookie;
	__u64 ready;
	struct sk_info owner; /* its owner fields only */
};

#define ACC_SLOTS 4096

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ACC_SLOTS); /* 80 bytes an entry: 320 KiB */
	__type(key, __u32);
	__type(value, struct acc_slot);
} acc_slots SEC(".maps");

static __always_inline struct acc_slot *acc_of(__u64 cookie)
{
	__u32 i = (__u32)cookie & (ACC_SLOTS - 1);
	return bpf_map_lookup_elem(&acc_slots, &i);
}

/* Set by user space before load (Config.CgroupFD): only sockets whose owner
 * is in the cgroup at cgroup_filter[0], or below it, reach the ring buffer. */
volatile const __u8 filter_cgroup = 0;

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

/* outside_filter: the current task is outside the cgroup filter. */
static __always_inline __u8 outside_filter(void)
{
	return filter_cgroup && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1;
}

/*
 * How many sockets' states are in the overflow (sk_states, sk_infos), so
 * that on_destroy (state.h), which runs for every socket the kernel frees,
 * looks there only while one may be found. in_hash is exact: counted where
 * an entry is added and where it is deleted. Socket storage is used only
 * once the hash is full and is freed with its socket, not at -> CLOSE, so
 * storage_used stays set from its first use. Under churn a slot collision
 * comes within seconds: a flag set at the first one had every free look in
 * the hash and socket storage, 360 ns a run against 40 without (BPF
 * statistics).
 */
struct overflow {
	__s64 in_hash;
	__u32 storage_used;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct overflow);
} overflow SEC(".maps");

static __always_inline struct overflow *overflow_of(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&overflow, &zero);
}

/* The overflow of sk_states: freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_info);
} sk_infos SEC(".maps");

/*
 * The owners of listening sockets, by network namespace and port: a child
 * of a listener (LISTEN -> SYN_RECV) takes its listener's owner from here
 * until it is accepted. count is the listeners on the port; ambiguous says
 * two processes listen on it (SO_REUSEPORT), when a child's listener is not
 * known and its owner is left unknown. (Socket storage cloned from the
 * listener would name it, at an allocation per connection.)
 */
struct listener_key {
	__u32 netns;
	__u16 port;
	__u16 _pad;
};

struct listener_info {
	struct sk_info owner;
	__u32 count;
	__u32 ambiguous;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct listener_key);
	__type(value, struct listener_info);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* user space may resize before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/*
 * The state events already handled on this CPU, so that the catcher
 * programs on the same tracepoint know whether an earlier program took
 * the event they are called for (see tracer.bpf.c). An event is named by
 * where its tracepoint call keeps its arguments (ctx: a stack address, the
 * same for every program the call runs and different for every call
 * running at once on this CPU) and by its socket and states. HANDLED_MAX
 * bounds the calls that can be under way at once on a CPU (task, softirq,
 * hardirq, NMI) plus the entries of calls whose last program the kernel
 * skipped, which the next call at the same address replaces.
 */
#define HANDLED_MAX 8

struct handled_event {
	__u64 ctx; /* 0: free */
	__u64 sk;
	__u32 states; /* oldstate << 8 | newstate */
	__u32 _pad;
};

struct handled_set {
	struct handled_event e[HANDLED_MAX];
	__u64 spill; /* turns a pointer into a number (see as_u64) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct handled_set);
} handled SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

/*
 * reserve_event takes a zeroed event of the given kind from the ring
 * buffer and counts it, or counts the loss and returns NULL.
 */
static __always_inline struct event *reserve_event(__u8 kind, __u64 now)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_RINGBUF_FULL);
		return NULL;
	}
	count(COUNTER_EVENTS);
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts_ns = now;
	return e;
}

/*
 * submit hands an event to user space, waking the reader only once a batch
 * has piled up: a wake-up per event costs more than the event itself under
 * churn (an irq_work self-IPI; in a virtual machine an APIC write that
 * exits to the hypervisor). The reader is woken when this event takes the
 * unread data across a multiple of wakeup_bytes, not for every event above
 * the mark: at 200,000 events/s that was one IPI per event and 8% of the
 * machine's CPU. A crossing two CPUs race past unseen is caught at the
 * next multiple, and the reader also polls with a short timeout, so a lone
 * event waits at most that long (cilium/ebpf's ringbuf reader drains on
 * timeout).
 */
/* The wake-up batch, set by user space before load (a sixteenth of the
 * ring: Config.RingBytes / 16, 512 KiB for the default 8 MiB). Each
 * wake-up also costs the reader a return from idle, which sets the Go
 * runtime's monitor polling for a millisecond: at 64 KiB, under churn,
 * that was a hundred a second. */
volatile const __u32 wakeup_bytes = 64 << 10;
/* Ring buffer space of one event: an 8-byte header, rounded to 8. */
#define EVENT_RECORD_BYTES ((sizeof(struct event) + 8 + 7) / 8 * 8)

static __always_inline void submit(struct event *e)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA); /* includes e */
	__u64 before = avail > EVENT_RECORD_BYTES ? avail - EVENT_RECORD_BYTES : 0;
	__u32 batch = wakeup_bytes ? wakeup_bytes : 1;
	long flags = avail / batch != before / batch ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

#endif
