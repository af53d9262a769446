/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The paths of removed cgroups. User space names a connection's owner from
 * the cgroup id the state programs record, by asking the kernel for the
 * id's path; a container that exits at once may have its cgroup removed
 * before user space reads the event, and then the id names nothing. So the
 * path of every cgroup v2 cgroup removed while the tracer runs is kept here
 * (the cgroup_rmdir tracepoint computes it, relative to the remover's
 * cgroup namespace), for user space to look up when the kernel no longer
 * knows the id.
 */
#ifndef BPFNETSTAT_CGROUP_H
#define BPFNETSTAT_CGROUP_H

#include "core.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define CGROUP_PATH_LEN 512

struct cgroup_path {
	char path[CGROUP_PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2048);
	__type(key, __u64); /* cgroup id */
	__type(value, struct cgroup_path);
} removed_cgroups SEC(".maps");

/* A path is larger than the BPF stack allows: built here, then copied. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgroup_path);
} cgroup_scratch SEC(".maps");

static __always_inline int on_cgroup_rmdir(struct cgroup *cgrp, const char *path)
{
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0; /* a v1 hierarchy: its ids are not the ones recorded */
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	__u32 zero = 0;
	struct cgroup_path *v = bpf_map_lookup_elem(&cgroup_scratch, &zero);
	if (!v)
		return 0;
	if (bpf_probe_read_kernel_str(v->path, sizeof(v->path), path) < 0)
		return 0;
	bpf_map_update_elem(&removed_cgroups, &id, v, BPF_ANY);
	return 0;
}

#endif
