/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * PIDs as bpfnetstat's own PID namespace numbers them.
 *
 * bpf_get_current_pid_tgid() gives initial-namespace PIDs. Run inside a
 * container's PID namespace, bpfnetstat must print the PIDs that its own
 * /proc (and netstat -p beside it) shows, so user space sets the inode of
 * its PID namespace and the programs translate: a struct pid carries one
 * (nr, namespace) pair per level, from the initial namespace (level 0)
 * down to the task's own; the pair whose namespace is ours holds the
 * number we want. A task that bpfnetstat's namespace cannot see (the
 * host's, or a sibling container's) gets PID 0: unknown here.
 */
#ifndef BPFNETSTAT_PIDNS_H
#define BPFNETSTAT_PIDNS_H

#include "core.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* 0: bpfnetstat runs in the initial PID namespace; nothing to translate. */
volatile const __u32 pidns_ino = 0;

#define MAX_PID_NS_LEVEL 32 /* include/linux/pid_namespace.h */

static __noinline __u32 pid_in_ns(struct pid *p)
{
	unsigned int level = 0;

	if (!p || bpf_core_read(&level, sizeof(level), &p->level))
		return 0;
	/* Level 0 is the initial namespace: never ours when translating.
	 * A real loop (bounded loops: 5.3+, older than anything else here
	 * needs), not 31 unrolled copies. */
#pragma clang loop unroll(disable)
	for (__u32 i = 1; i < MAX_PID_NS_LEVEL; i++) {
		struct pid_namespace *ns = 0;
		int nr = 0;
		if (i > level)
			break;
		if (bpf_core_read(&ns, sizeof(ns), &p->numbers[i].ns) || !ns)
			return 0;
		if (BPF_CORE_READ(ns, ns.inum) != pidns_ino)
			continue;
		if (bpf_core_read(&nr, sizeof(nr), &p->numbers[i].nr))
			return 0;
		return nr;
	}
	return 0;
}

/* current_ids gives the current task's process and thread IDs. */
static __always_inline void current_ids(__u32 *pid, __u32 *tid)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!pidns_ino) {
		*pid = pid_tgid >> 32;
		*tid = (__u32)pid_tgid;
		return;
	}
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	*tid = pid_in_ns(BPF_CORE_READ(task, thread_pid));
	*pid = pid_in_ns(BPF_CORE_READ(task, group_leader, thread_pid));
}

static __always_inline __u32 current_pid(void)
{
	__u32 pid, tid;
	current_ids(&pid, &tid);
	return pid;
}

#endif
