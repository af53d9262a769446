#!/usr/bin/env python3
"""Capture real /proc/net socket tables as fixtures for the snapshot tests.

Run as root; it makes a private network namespace so only its own sockets
show up:

    unshare -n python3 capture_fixtures.py proc/net

It opens TCP (v4, v6, IPv4-mapped v6, listening and established, with queued
bytes), UDP, UDP-Lite and raw sockets on loopback, and UNIX sockets with file,
abstract, spaced and maximum-length names, then copies
/proc/net/{tcp,tcp6,udp,udp6,udplite,udplite6,raw,raw6,unix} into the
directory given.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

out = os.path.abspath(sys.argv[1])
os.makedirs(out, exist_ok=True)
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
keep = []


def tcp_pair(family, listen_addr, connect_addr):
    lst = socket.socket(family, socket.SOCK_STREAM)
    lst.bind((listen_addr, 0))
    lst.listen(8)
    c = socket.socket(family if ":" in connect_addr else socket.AF_INET, socket.SOCK_STREAM)
    c.connect((connect_addr, lst.getsockname()[1]))
    s, _ = lst.accept()
    c.sendall(b"x" * 1234)  # left unread: Recv-Q of s
    keep.extend([lst, c, s])


tcp_pair(socket.AF_INET, "127.0.0.1", "127.0.0.1")
tcp_pair(socket.AF_INET6, "::1", "::1")
tcp_pair(socket.AF_INET6, "::", "127.0.0.1")  # accepted as ::ffff:127.0.0.1 in tcp6
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    lst = socket.socket(fam, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((addr, 22 if fam == socket.AF_INET else 80))
    lst.listen(1)
    keep.append(lst)

for proto in (socket.IPPROTO_UDP, 136):  # 136 = IPPROTO_UDPLITE
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        a = socket.socket(fam, socket.SOCK_DGRAM, proto)
        a.bind((addr, 0))
        b = socket.socket(fam, socket.SOCK_DGRAM, proto)
        b.bind((addr, 0))
        b.connect(a.getsockname())
        b.send(b"hello")
        keep.extend([a, b])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", 53))
keep.append(u)

keep.append(socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
keep.append(socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 89)  # OSPF, connected
r.connect(("127.0.0.1", 0))
keep.append(r)

tmp = tempfile.mkdtemp(prefix="bpfnetstat-fixture-")
os.chdir(tmp)
for name in ("plain.sock", "with space.sock", "x" * 100):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(os.path.join(tmp, name)[:107])
    s.listen(1)
    keep.append(s)
for name in (b"\0abstract-listener", b"\0abs\0with\0nul"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(name)
    s.listen(1)
    keep.append(s)
lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lst.bind("\0connected")
lst.listen(1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect("\0connected")
keep.extend([lst, c, lst.accept()[0]])
keep.extend(socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM))
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d.bind(os.path.join(tmp, "dgram.sock"))
keep.append(d)

for name in ("tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6", "unix"):
    shutil.copyfile("/proc/net/" + name, os.path.join(out, name))
shutil.rmtree(tmp)
