/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel structures bpfnetstat's programs read, declared with
 * preserve_access_index so that clang emits CO-RE relocations: libbpf
 * (here: cilium/ebpf) moves every field access to the running kernel's
 * offset from /sys/kernel/btf/vmlinux. Only the fields we read are listed;
 * their order and the structs' sizes do not matter. Registers (pt_regs)
 * differ between architectures: they are in arch.h.
 */
#ifndef BPFNETSTAT_CORE_H
#define BPFNETSTAT_CORE_H

#include <linux/types.h>

/* The kernel's constants that the programs compare against. */
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* include/net/tcp_states.h */
enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT,
	TCP_SYN_RECV,
	TCP_FIN_WAIT1,
	TCP_FIN_WAIT2,
	TCP_TIME_WAIT,
	TCP_CLOSE,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
	TCP_LISTEN,
	TCP_CLOSING,
};

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be32 u6_addr32[4];
	} in6_u;
};

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

typedef struct {
	s64 counter;
} atomic64_t;

struct sock_common {
	union {
		struct {
			__be32 skc_daddr;
			__be32 skc_rcv_saddr;
		};
	};
	union {
		struct {
			__be16 skc_dport;
			__u16 skc_num;
		};
	};
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	atomic64_t skc_cookie;
	unsigned long skc_flags; /* sk_flags: enum sock_flags bits */
};

enum sock_flags {
	SOCK_DEAD = 0,
	SOCK_DONE = 1, /* set by tcp_fin(): the peer's FIN was processed */
};

struct socket;

struct sock {
	struct sock_common __sk_common;
	int sk_err;
	struct socket *sk_socket;
	u16 sk_protocol;
};

struct inet_sock {
	__be16 inet_sport;
};

struct inet_connection_sock {
	struct inet_sock icsk_inet;
};

struct tcp_sock {
	struct inet_connection_sock inet_conn;
	u64 bytes_sent;
	u64 bytes_received;
	u64 bytes_acked;
	u64 bytes_retrans;
	u32 total_retrans;
	u32 srtt_us;
};

struct socket {
	struct sock *sk;
};

struct file {
	void *private_data;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct pid_namespace {
	struct ns_common ns;
};

struct upid {
	int nr;
	struct pid_namespace *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct task_struct {
	int pid;
	int tgid;
	struct files_struct *files;
	struct pid *thread_pid;
	struct task_struct *group_leader;
};

struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

/* Cgroups (cgroup.h): a cgroup's id is its kernfs node's (5.5+). */
struct kernfs_node {
	__u64 id;
};

struct cgroup_root {
	int hierarchy_id; /* 0: the cgroup v2 (default) hierarchy */
};

struct cgroup {
	struct kernfs_node *kn;
	struct cgroup_root *root;
};

/* The classic syscalls/sys_exit_* tracepoints' context. */
struct trace_event_raw_sys_exit {
	struct trace_entry ent;
	long id;
	long ret;
};

#pragma clang attribute pop

#endif
