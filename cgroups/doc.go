// Package cgroups says which cgroup, container, Kubernetes pod and systemd
// unit a process lived in: it finds the cgroup v2 hierarchy from
// /proc/self/mountinfo (pure v2, hybrid or none), resolves the cgroup ids
// that the BPF programs record (bpf_get_current_cgroup_id) to paths,
// caching each id at first sight so that a cgroup removed right after its
// connection still resolves, reads /proc/PID/cgroup where there is no v2
// id, and derives container ids, pod UIDs and units from paths.
//
// It reads /proc and the cgroup filesystem only; it must never import the
// tracer, output or the command layer.
package cgroups
