package cgroups

import (
	"strings"
)

// Identity is what a cgroup path says about who lived in it. Fields are
// empty where they do not apply.
type Identity struct {
	// Path is relative to the cgroup2 root as bpfnetstat sees it ("/" for
	// the root), so inside a container's cgroup namespace it is the path
	// the container sees.
	Path string
	// ContainerID is the runtime's 64-hex container id.
	ContainerID string
	// PodUID is the Kubernetes pod UID, with dashes.
	PodUID string
	// Unit is the innermost systemd .service or .scope, unless that scope
	// is a container's.
	Unit string
}

// containerScopes are the prefixes the runtimes give a container's
// systemd scope (the cgroup "systemd" driver); -conmon- scopes hold the
// runtime's monitor, not the container.
var containerScopes = []string{"docker-", "cri-containerd-", "crio-", "libpod-", "containerd-"}

// Identify derives the container, pod and unit from a cgroup path, for
// Docker, containerd (CRI), CRI-O and Podman under either cgroup driver:
//
//	/system.slice/docker-<id>.scope                        Docker, systemd driver
//	/docker/<id>                                           Docker, cgroupfs driver
//	/kubepods.slice/kubepods-besteffort.slice/
//	    kubepods-besteffort-pod<uid_with_underscores>.slice/
//	    cri-containerd-<id>.scope                          Kubernetes, systemd driver
//	/kubepods/burstable/pod<uid>/<id>                      Kubernetes, cgroupfs driver
//	/machine.slice/libpod-<id>.scope                       Podman
//	/system.slice/nginx.service                            a unit
func Identify(path string) Identity {
	id := Identity{Path: path}
	if path == "" {
		id.Path = "/"
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for _, p := range parts {
		if uid, ok := podUID(p); ok {
			id.PodUID = uid
		}
		if c, ok := containerID(p); ok {
			id.ContainerID = c
		}
	}
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if strings.HasSuffix(p, ".service") || strings.HasSuffix(p, ".scope") {
			if _, isContainer := containerID(p); !isContainer && !isConmon(p) {
				id.Unit = p
			}
			break
		}
	}
	return id
}

// containerID recognises one path component that names a container.
func containerID(p string) (string, bool) {
	if strings.HasSuffix(p, ".scope") {
		name := strings.TrimSuffix(p, ".scope")
		for _, pre := range containerScopes {
			if rest, ok := strings.CutPrefix(name, pre); ok && isHex64(rest) {
				return rest, true
			}
		}
		return "", false
	}
	// cgroupfs driver: the bare id as a directory (/docker/<id>,
	// /kubepods/.../pod<uid>/<id>), or docker-<id> without .scope.
	if isHex64(p) {
		return p, true
	}
	if rest, ok := strings.CutPrefix(p, "docker-"); ok && isHex64(rest) {
		return rest, true
	}
	return "", false
}

func isConmon(p string) bool {
	return strings.Contains(p, "-conmon-")
}

// podUID recognises kubepods' pod directory: pod<uid> (cgroupfs) or
// kubepods[-qos]-pod<uid_with_underscores>.slice (systemd).
func podUID(p string) (string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(p, "kubepods") && strings.HasSuffix(p, ".slice"):
		i := strings.LastIndex(p, "-pod")
		if i < 0 {
			return "", false
		}
		rest = strings.ReplaceAll(strings.TrimSuffix(p[i+len("-pod"):], ".slice"), "_", "-")
	case strings.HasPrefix(p, "pod"):
		rest = p[len("pod"):]
	default:
		return "", false
	}
	if !isUUID(rest) {
		return "", false
	}
	return rest, true
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// isUUID accepts the 8-4-4-4-12 form in lower-case hex.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}
