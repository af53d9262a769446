package cgroups

import (
	"strings"
	"testing"
)

func TestIdentify(t *testing.T) {
	cid := strings.Repeat("0123456789abcdef", 4)
	uid := "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	uidU := strings.ReplaceAll(uid, "-", "_")
	for _, tc := range []struct {
		path string
		want Identity
	}{
		{"/", Identity{Path: "/"}},
		{"", Identity{Path: "/"}},
		{"/system.slice/nginx.service", Identity{Path: "/system.slice/nginx.service", Unit: "nginx.service"}},
		{"/system.slice/nginx.service/worker", Identity{Path: "/system.slice/nginx.service/worker", Unit: "nginx.service"}},
		{"/user.slice/user-1000.slice/session-3.scope", Identity{Path: "/user.slice/user-1000.slice/session-3.scope", Unit: "session-3.scope"}},
		{"/system.slice/docker-" + cid + ".scope", Identity{Path: "/system.slice/docker-" + cid + ".scope", ContainerID: cid}},
		{"/docker/" + cid, Identity{Path: "/docker/" + cid, ContainerID: cid}},
		{"/system.slice/containerd.service/kubepods-burstable-pod" + uidU + ".slice:cri-containerd:" + cid,
			Identity{Path: "/system.slice/containerd.service/kubepods-burstable-pod" + uidU + ".slice:cri-containerd:" + cid, Unit: "containerd.service"}},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
			Identity{Path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", ContainerID: cid, PodUID: uid}},
		{"/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-" + cid + ".scope",
			Identity{Path: "/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-" + cid + ".scope", ContainerID: cid, PodUID: uid}},
		{"/kubepods/besteffort/pod" + uid + "/" + cid, Identity{Path: "/kubepods/besteffort/pod" + uid + "/" + cid, ContainerID: cid, PodUID: uid}},
		{"/kubepods/pod" + uid, Identity{Path: "/kubepods/pod" + uid, PodUID: uid}},
		{"/machine.slice/libpod-" + cid + ".scope", Identity{Path: "/machine.slice/libpod-" + cid + ".scope", ContainerID: cid}},
		{"/machine.slice/libpod-conmon-" + cid + ".scope", Identity{Path: "/machine.slice/libpod-conmon-" + cid + ".scope"}},
		{"/system.slice/docker-" + cid[:63] + ".scope", Identity{Path: "/system.slice/docker-" + cid[:63] + ".scope", Unit: "docker-" + cid[:63] + ".scope"}},
		{"/system.slice/docker-" + strings.ToUpper(cid) + ".scope", Identity{Path: "/system.slice/docker-" + strings.ToUpper(cid) + ".scope", Unit: "docker-" + strings.ToUpper(cid) + ".scope"}},
		{"/podman/pod" + uid[:35], Identity{Path: "/podman/pod" + uid[:35]}},
	} {
		if got := Identify(tc.path); got != tc.want {
			t.Errorf("Identify(%q) =\n %+v, want\n %+v", tc.path, got, tc.want)
		}
	}
}
