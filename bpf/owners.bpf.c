// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bpfnetstat's socket owner scan for -p: one pass of the kernel's
 * task_file iterator instead of a readlink per descriptor under /proc.
 *
 * It reports what /proc/PID/fd shows netstat: for each process (the thread
 * group leader, whose file table /proc/PID/fd lists), every descriptor
 * that is a socket, as (tgid, fd, socket inode). The kernel visits tasks
 * in ascending PID order, the order /proc is listed in, and within a task
 * descriptors in ascending order. In a PID namespace other than the
 * initial one, PIDs are that namespace's (pidns.h), and processes it
 * cannot see are left out, as its /proc leaves them out.
 */
#include "core.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pidns.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define S_IFMT 00170000
#define S_IFSOCK 0140000

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
};

struct file___owners {
	struct inode *f_inode;
};

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
};

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	u32 fd;
	struct file *file;
};
#pragma clang attribute pop

/* One socket descriptor; 16 bytes, no padding. */
struct socket_fd {
	u64 inode;
	u32 tgid;
	u32 fd;
};

const struct socket_fd *unused_socket_fd __attribute__((unused));

SEC("iter/task_file")
int socket_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	if (!task || !file)
		return 0;
	/* /proc/PID/fd lists the leader's table; a thread that left its
	 * leader's table (unshare(CLONE_FILES)) is not in it. */
	if (task->pid != task->tgid)
		return 0;
	struct inode *inode = ((struct file___owners *)file)->f_inode;
	if (!inode || (inode->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	__u32 tgid = task->tgid;
	if (pidns_ino) {
		tgid = pid_in_ns(task->thread_pid);
		if (!tgid)
			return 0;
	}
	struct socket_fd rec = {
		.inode = inode->i_ino,
		.tgid = tgid,
		.fd = ctx->fd,
	};
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
