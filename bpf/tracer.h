/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records that cross from the BPF programs to Go. Declared once here and
 * turned into Go types by bpf2go (-type), never copied by hand.
 */
#ifndef BPFNETSTAT_TRACER_H
#define BPFNETSTAT_TRACER_H

#include <linux/types.h>

enum event_kind {
	EVENT_STATE = 1,  /* a TCP state transition (inet_sock_set_state) */
	EVENT_ACCEPT = 2, /* accept()/accept4() returned a TCP socket */
	EVENT_END = 3,    /* a socket freed whose -> CLOSE no program saw (tcp_destroy_sock) */
};

/* How a connection's owner was learnt. */
enum owner_source {
	OWNER_NONE = 0,
	OWNER_CONNECT = 1,  /* the task that moved it CLOSE -> SYN_SENT */
	OWNER_ACCEPT = 2,   /* the task whose accept() returned it */
	OWNER_LISTENER = 3, /* inherited from the listening socket (not accepted yet) */
	OWNER_CLOSE = 4,    /* the task that closed it (sockets older than the tracer) */
	OWNER_SNAPSHOT = 5, /* user space: /proc or sock_diag */
	OWNER_LISTEN = 6,   /* the task that moved it CLOSE -> LISTEN */
};

/* Indexes of the per-CPU loss and activity counters. */
enum counter {
	COUNTER_EVENTS = 0,
	COUNTER_RINGBUF_FULL = 1,   /* bpf_ringbuf_reserve failed: event lost */
	COUNTER_STORAGE_FAIL = 2,   /* no room for a socket's state (hash full, no storage) */
	COUNTER_ACCEPT_MISS = 3,    /* accept returned an fd we could not resolve */
	COUNTER_RECOVERED = 4,      /* state events the second program caught */
	COUNTER_END_UNSEEN = 5,     /* sockets freed with their -> CLOSE unseen (EVENT_END) */
	COUNTER_MAX = 6,
};

#define TASK_COMM_LEN 16

struct event {
	__u64 ts_ns;       /* bpf_ktime_get_ns() at the event */
	__u64 cookie;      /* socket cookie: the key of the connection */
	__u64 birth_ns;    /* first event of the socket */
	__u64 state_ns;    /* when the socket entered old_state */
	__u64 bytes_sent;  /* tcp_sock counters, read at every transition */
	__u64 bytes_received;
	__u64 bytes_acked;
	__u64 bytes_retrans;
	__u32 netns;       /* network namespace inode */
	__u32 pid;         /* owner (tgid) */
	__u32 tid;         /* owner thread */
	__u32 uid;         /* owner uid */
	__u32 cur_pid;     /* the task on the CPU, for reference only */
	__u32 total_retrans;
	__u32 srtt_us;     /* smoothed RTT << 3, as the kernel keeps it */
	__s32 sk_err;
	__u16 family;
	__u16 sport;       /* host byte order */
	__u16 dport;       /* host byte order */
	__u8 kind;         /* enum event_kind */
	__u8 old_state;
	__u8 new_state;
	__u8 owner_source; /* enum owner_source */
	__u8 active;       /* 1: we connected, 0: accepted, 2: unknown */
	__u8 peer_fin;     /* SOCK_DONE: the peer's FIN was received (and counted in bytes_received) */
	__u8 _pad[4];
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[TASK_COMM_LEN];
	__u64 cgroup_id;   /* the owner's cgroup v2 id, where the owner is known */
};

/*
 * bpf2go's -type finds a type only in the object's BTF: these constant
 * pointers put the records there (in .rodata, which the programs' settings
 * create anyway; nothing reads them).
 */
const struct event *const unused_event __attribute__((unused)) = 0;
const enum owner_source *const unused_owner_source __attribute__((unused)) = 0;
const enum event_kind *const unused_event_kind __attribute__((unused)) = 0;
const enum counter *const unused_counter __attribute__((unused)) = 0;

#endif
