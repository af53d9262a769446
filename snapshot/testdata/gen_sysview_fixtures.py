#!/usr/bin/env python3
"""Write the hand-made /proc fixtures of netstat's system views:

    route/<case>/net/{route,rt_cache,ipv6_route}
    groups/<case>/net/{igmp,igmp6}
    masq/<case>/net/ip_masquerade
    conntrack/<case>/net/nf_conntrack

Each <case> directory is a /proc root. route/real and groups/real are not
written here: they are tables of a real kernel, captured from the e2e routes
namespace with

    BPFNETSTAT_E2E_CAPTURE=1 go test ./e2e/ -run TestSystemViewsCapture

The e2e test TestSystemViewsFixtures copies every case over a tmpfs /proc
and compares /usr/bin/netstat with bpfnetstat on it; the unit tests read
the same files. A file that a case leaves out is a missing file. Run from
this directory: python3 gen_sysview_fixtures.py
"""
import os
import shutil

ROUTE_HDR = ("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
             + " " * 55 + "\n")
CACHE22_HDR = ("Iface\tDestination\tGateway \tFlags\t\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow"
               "\tIRTT\tTOS\tHHRef\tHHUptod\tSpecDst" + " " * 26 + "\n")
CACHE20_HDR = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow\tIRTT\tHH\tARP\n"
IGMP_HDR = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"


def route_row(iface, dest, gw, flags, refcnt=0, use=0, metric=0, mask="FFFFFFFF", mtu=0, window=0, irtt=0):
    line = "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s" % (
        iface, dest, gw, flags, refcnt, use, metric, mask, mtu, window, irtt)
    return line.ljust(127) + "\n"


def v6row(dest, plen, nexthop="0" * 32, metric="00000100", ref="00000001", use="00000000",
          flags="00000001", iface="eth0", src="0" * 32, slen="00"):
    return "%s %s %s %s %s %s %s %s %s %8s\n" % (dest, plen, src, slen, nexthop, metric, ref, use, flags, iface)


def write(case, name, text):
    d = os.path.join(case, "net")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(text.encode("latin-1") if isinstance(text, str) else text)


def fresh(case):
    shutil.rmtree(case, ignore_errors=True)
    os.makedirs(os.path.join(case, "net"))
    # git keeps no empty directory: a case without files still needs net/
    open(os.path.join(case, "net", ".gitkeep"), "w").close()


# ---------------------------------------------------------------- routes

fresh("route/broken")
write("route/broken", "route", ROUTE_HDR + "".join([
    route_row("eth0", "0000000A", "0132A8C0", "0003", mask="000000FF", irtt=77),
    # 10 values: IRTT keeps the previous line's 77
    "eth0\t0000140A\t0132A8C0\t0003\t1\t2\t3\t0000FFFF\t1500\t64\n",
    # not up: skipped
    route_row("eth0", "0000150A", "00000000", "0000", mask="0000FFFF"),
    # too short: skipped
    "eth0\t0000160A\n",
    # a destination that does not parse keeps the previous one (10.20.0.0)
    route_row("eth0", "zzzzzzzz", "0132A8C0", "0001", mask="0000FFFF"),
    # every flag, with and without reject
    route_row("eth1", "0000170A", "00000000", "FFFFFFFF", mask="0000FFFF", metric=9, use=12),
    route_row("eth1", "0000180A", "00000000", "7FFFFDFF", mask="0000FFFF"),
    # numbers as C ints: signs, overflow
    route_row("eth1", "0000190A", "00000000", "0001", refcnt=-5, use=99999999999, metric=4294967295,
              mask="0000FFFF", mtu=-1, window=2147483648, irtt=-2147483649),
    # an interface longer than %15s: the rest is read as the destination
    route_row("averyveryverylongname", "00001A0A", "00000000", "0001", mask="0000FFFF"),
    # lower-case hex, a 0x prefix on the flags
    route_row("eth2", "0a00a8c0", "0132a8c0", "0x3", mask="00ffffff"),
    "\n",
    # a NUL ends the C string: only 9 values
    "eth2\t00001B0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\x00\t0\t0\n",
    # a short address text keeps the previous address
    route_row("eth2", "0A", "00000000", "0001", mask="0000FFFF"),
    # a non-contiguous mask: host bits set, so a host lookup
    route_row("eth2", "0000370A", "0532A8C0", "0003", mask="FF00FF00"),
    # 0.0.0.0 with a mask that is not 0: no "default"
    route_row("eth2", "00000000", "0132A8C0", "0003", mask="000000FF"),
    # host bits under a /16: a host lookup (MixedCase-Host.Example)
    route_row("eth2", "0700010A", "0232A8C0", "0003", mask="0000FFFF"),
    # the long network name and the long gateway name
    route_row("eth2", "0000370A", "0532A8C0", "0003", mask="0000FFFF", metric=1),
    # a reject host route with a name
    route_row("*", "0100460A", "00000000", "0205", metric=3, use=4),
    # blanks instead of tabs, extra fields at the end
    "   eth3   0000480A   00000000   1   0   0   0   0000FFFF   0   0   0   extra   fields\n",
    # 8 values: skipped
    "eth3\t0000490A\t00000000\t1\t0\t0\t0\t0000FFFF\n",
    # a reject route with metric and use
    route_row("*", "00004A0A", "00000000", "0201", metric=42, use=7, mask="0000FFFF"),
    # longer than netstat's 1022-byte fgets: the rest is a line of its own
    "eth4\t" + " " * 1030 + "00004B0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\tlo\t00004C0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\n",
    # a destination longer than %127s
    "eth5\t" + "0" * 130 + "\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n",
    # the last line without a newline
    "eth6\t00004D0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
]))
write("route/broken", "rt_cache", CACHE22_HDR + "".join([
    "eth0\t0100007F\t0100007F\t80000000\t0\t5\t0\t0100007F\t1500\t0\t0\t10\t-1\t1\t0100007F\n",
    # 12 values: HHRef, HHUptod and SpecDst keep the previous ones
    "eth0\t0200007F\t00000000\t0002\t1\t2\t3\t0500007F\t0\t0\t0\t0\n",
    # 11 values: skipped
    "eth0\t0300007F\t00000000\t0002\t1\t2\t3\t0500007F\t0\t0\t0\n",
    # addresses that do not parse show the address parsed before them
    "eth1\tzzzz\t0132A8C0\tFFFFFFFF\t0\t0\t0\tqq\t0\t0\t0\t0\t0\t0\txx\n",
    "eth1\t0700010A\t0532A8C0\t40000205\t-1\t4294967295\t7\t0000000A\t576\t8\t9\t1\t2\t3\t0232A8C0\n",
]))
write("route/broken", "ipv6_route", "".join([
    v6row("20010db8005000000000000000000000", "40"),
    # short lines keep the previous line's values
    "fe80\n",
    "\n",
    v6row("20010db8000100000000000000000000", "ff", flags="01000001", iface="cache0"),
    # (after a row of the same view: before any, the address would be
    # netstat's uninitialised memory)
    v6row("zzzz0db8005000000000000000000000", "30", metric="ffffffff", flags="FFFFFFFF"),
    v6row("00000000000000000000ffff0a010007", "80", nexthop="20010db8005000000000000000000001",
          flags="00000003"),
    v6row("20010db8123456789abcdef012345678", "80", metric="00000000", ref="00000004", flags="80200001",
          iface="lo"),
    v6row("20010db8000200000000000000000000", "0x", metric="7fffffff", ref="0000000a", use="0000ffff",
          iface="averyveryverylongname"),
    # 31 digits: %4s shifts everything after
    "20010db800030000000000000000000 40 " + "0" * 32 + " 00 " + "0" * 32 + " 00000100 00000001 00000000 00000001     eth0\n",
    v6row("20010db8000400000000000000000000", "40", iface="x" * 3).rstrip("\n") + " " * 1000 + "tail\n",
    v6row("ff000000000000000000000000000000", "08", metric="00000100", ref="00000002", flags="00000001",
          iface="eth0"),
]))

fresh("route/header-only")
write("route/header-only", "route", ROUTE_HDR)
write("route/header-only", "rt_cache", CACHE22_HDR)
write("route/header-only", "ipv6_route", "")

fresh("route/empty")
write("route/empty", "route", "")
write("route/empty", "ipv6_route", "")
write("route/empty", "rt_cache", "")

fresh("route/missing-field")
write("route/missing-field", "route",
      ROUTE_HDR.replace("\tIRTT", "") + route_row("eth0", "0000000A", "00000000", "0001", mask="000000FF"))
write("route/missing-field", "rt_cache", CACHE22_HDR.replace("\tMetric", ""))

fresh("route/reordered")
write("route/reordered", "route",
      "Destination\tIface\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      + "0000000A\teth0\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n")
write("route/reordered", "rt_cache",
      "Iface\tGateway\tDestination\tFlags\tRefCnt\tUse\tMetric\tSource\tMTU\tWindow\tIRTT\tTOS\tHHRef\tHHUptod\tSpecDst\n")

fresh("route/extra-columns")
write("route/extra-columns", "route",
      "Iface|Destination|Extra|Gateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\tMore\n"
      + "eth0\t0000000A\tx\t0132A8C0\t0003\t1\t2\t3\t000000FF\t4\t5\t6\ty\n"
      + "eth0\t0000140A\tx\t0132A8C0\t0003\t1\t2\t3\t0000FFFF\t4\t5\n"
      + "eth0 0000370A x 0532A8C0 0003 1 2 3 0000FFFF 4 5 6 y\n")
write("route/extra-columns", "rt_cache", CACHE20_HDR + "".join([
    "eth0\t0100007F\t00000000\t0005\t1\t2\t3\t0100007F\t4\t5\t6\t7\t8\n",
    "eth0\t0100007F\t0132A8C0\tFFFFFFFF\t1\t2\t3\t0100007F\t4\t5\t6\t7\n",
    "eth0\t0100007F\t0132A8C0\t0002\t1\t2\t3\t0100007F\t4\t5\t6\n",
]))

fresh("route/cache-unknown")
write("route/cache-unknown", "route", ROUTE_HDR)
write("route/cache-unknown", "rt_cache", "Iface\tDestination\tGateway\tFlags\n")

fresh("route/long-header")
write("route/long-header", "route",
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT" + " " * 520
      + "eth9 0000000A 00000000 0001 0 0 0 000000FF 0 0 0\n"
      + route_row("eth0", "0000140A", "00000000", "0001", mask="0000FFFF"))

fresh("route/none")

# ---------------------------------------------------------------- groups

fresh("groups/broken")
write("groups/broken", "igmp", IGMP_HDR + "".join([
    # a group before any device: the device is empty
    "\t\t\t\t010000E0     1 0:00000000\t\t0\n",
    "1\tlo        :     1      V3\n",
    "\t\t\t\tZZ0000E0     1 0:00000000\t\t0\n",
    "\t\t\t\t010000E0\n",
    "\t\t\t\t010000E0 x\n",
    "\t\t\t\t0100E0     7 0:00000000\t\t0\n",
    "x\tbogus device\n",
    # the cut is at the last ':' of the 15 bytes
    "2\tab:cd:efghij:  :     1      V3\n",
    "\t\t\t\t020000E0     -3 0:00000000\t\t0\n",
    "   3   \t  averylongifnam0:     2      V2\n",
    "\t\t\t\t040201EF     2 0:00000000\t\t0\n",
    "4\t\n",
    "\t\t\t\t050000E0     99999999999 0:00000000\t\t0\n",
    # a short last line: the bytes of the previous name stay
    "5\tsh",
]))
write("groups/broken", "igmp6", "".join([
    "1    lo              ff020000000000000000000000000001     1 0000000C 0\n",
    "x    lo              ff020000000000000000000000000001     1 0000000C 0\n",
    # %15s cuts the name; the rest is not hex: bogus, but the name is kept
    "2    averyveryverylongname ff020000000000000000000000000001     1 0000000C 0\n",
    "3    v0              ff02000000000000000000000001     4 0 0\n",
    "4    v1              ff05     5 0 0\n",
    "5    v1              ff0200000000000000000000000000011111 1 0 0\n",
    "6    v1              ff020000000000000000000000000002\n",
    "\n",
    "7 v2 ff020000000000000000000000000002 3 x\n",
    "8    v3              ff02000000000000000000000000000a -7 0 0\n",
    "9    v3              00000000000000000000ffff0a010007 1 0 0\n",
    "10   v3              ff020000000000000000000000000000 1 0 0\n",
]))

fresh("groups/noidx")
write("groups/noidx", "igmp",
      "Device    : Count Querier\tGroup    Users Timer\tReporter\n"
      + "lo        :     1      V2\n"
      + "\t\t\t\t010000E0     1 0:00000000\t\t0\n"
      + "eth0      :     1      V2\n"
      + "\t\t\t\t010000E0     1 0:00000000\t\t0\n")

fresh("groups/igmp-as-igmp6")
# A first line without "Device" makes the IPv4 file an igmp6 file (what
# netstat's -c bug does to it from the second round on, where the short
# addresses of its group lines keep words of netstat's uninitialised
# memory: not reproducible, so not here).
write("groups/igmp-as-igmp6", "igmp",
      "1    lo              ff020000000000000000000000000001     1 0000000C 0\n"
      + "2\tv0        :     1      V3\n"
      + "3 v0 ff0200000000000000000001ff000002 2 0 0\n")
write("groups/igmp-as-igmp6", "igmp6",
      "1    lo              ff020000000000000000000000000001     1 0000000C 0\n")

fresh("groups/noigmp")
write("groups/noigmp", "igmp6", "1    lo              ff020000000000000000000000000001     1 0000000C 0\n")

fresh("groups/noigmp6")
write("groups/noigmp6", "igmp", IGMP_HDR + "1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n")

fresh("groups/empty")
write("groups/empty", "igmp", "")
write("groups/empty", "igmp6", "")

fresh("groups/none")

# ---------------------------------------------------------------- masquerade

MASQ_PD = "Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta PDelta Expires (free=0,0,0)\n"
MASQ = "Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta Expires (free=0,0,0)\n"

fresh("masq/pdelta")
write("masq/pdelta", "ip_masquerade", MASQ_PD + "".join([
    "TCP C0A80102:0400 0A000001:0016 F001 00000000 0 0 90000\n",
    "UDP C0A80102:0401 0A000001:0035 F002 12345678 -1 1 3000\n",
    "ICMP C0A80102:0000 0A000001:0000 F003 00000000 0 0 59\n",
    "IP 7F000001:0000 00000000:0000 0000 FFFFFFFF -5 32767 123456789\n",
    "GRE 0A010007:0001 0A370001:0002 0003 0 70000 -70000 600100\n",
    "ESP 0A010007:FFFF 0A370001:FFFF FFFF 0 0 0 4294967295\n",
]))

fresh("masq/nopdelta")
write("masq/nopdelta", "ip_masquerade", MASQ + "".join([
    "TCP C0A80102:0400 0A000001:0016 F001 00000000 0 90000\n",
    "UDP C0A80102:0401 0A000001:0035 F002 00000001 4 100\n",
]))

fresh("masq/multiline")
write("masq/multiline", "ip_masquerade", MASQ + "TCP\nC0A80102:0400\n\n  0A000001:0016 F001\t00000000 0 90000 UDP C0A80102:0401 0A000001:0035 F002 00000001 4 100")

fresh("masq/many")
write("masq/many", "ip_masquerade", MASQ + "".join(
    "TCP C0A801%02X:%04X 0A000001:0050 %04X 00000000 0 %d\n" % (i, 1024 + i, 61000 + i, i * 1234)
    for i in range(20)))

fresh("masq/format-error")
write("masq/format-error", "ip_masquerade", MASQ + "TCP C0A80102:0400 0A000001:0016 F001 00000000 0 90000\n"
      + "UDP C0A80102-0401 0A000001:0035 F002 00000001 4 100\n")

fresh("masq/unknown-type")
write("masq/unknown-type", "ip_masquerade", MASQ + "SCTP C0A80102:0400 0A000001:0016 F001 00000000 0 90000\n"
      + "UDP C0A80102-0401 0A000001:0035 F002 00000001 4 100\n")

fresh("masq/truncated")
write("masq/truncated", "ip_masquerade", MASQ + "TCP C0A80102:0400 0A000001:0016 F001 00000000 0 90000\nUDP C0A80102:0401\n")

fresh("masq/header-only")
write("masq/header-only", "ip_masquerade", MASQ)

fresh("masq/empty")
write("masq/empty", "ip_masquerade", "")

# ---------------------------------------------------------------- conntrack

fresh("conntrack/nat")
write("conntrack/nat", "nf_conntrack", "".join([
    # masqueraded TCP: the reply goes to the router's 10.88.2.1, port 40001
    "ipv4     2 tcp      6 431999 ESTABLISHED src=10.88.1.2 dst=10.88.2.2 sport=40000 dport=7 "
    "src=10.88.2.2 dst=10.88.2.1 sport=7 dport=40001 [ASSURED] mark=0 zone=0 use=2\n",
    # not NAT-ed
    "ipv4     2 udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=5000 dport=53 "
    "[UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=53 dport=5000 mark=0 zone=0 use=2\n",
    # masqueraded UDP with accounting
    "ipv4     2 udp      17 170 src=10.88.1.2 dst=10.88.2.2 sport=33333 dport=9 packets=1 bytes=29 "
    "[UNREPLIED] src=10.88.2.2 dst=10.88.2.1 sport=9 dport=33333 packets=0 bytes=0 mark=0 zone=0 use=2\n",
    # port forward (DNAT): 192.0.2.1:80 goes to 10.88.2.2:8080
    "ipv4     2 tcp      6 100 SYN_SENT src=198.51.100.7 dst=192.0.2.1 sport=50000 dport=80 "
    "[UNREPLIED] src=10.88.2.2 dst=198.51.100.7 sport=8080 dport=50000 mark=0 zone=0 use=2\n",
    # ICMP echo with a new id
    "ipv4     2 icmp     1 29 src=10.88.1.2 dst=10.88.2.2 type=8 code=0 id=17 "
    "src=10.88.2.2 dst=10.88.2.1 type=0 code=0 id=1017 mark=0 zone=0 use=2\n",
    # GRE, generic protocols, IPv6 NAT
    "ipv4     2 gre      47 179 timeout=180, stream_timeout=180 src=10.88.1.2 dst=10.88.2.2 srckey=0x0 dstkey=0x0 "
    "src=10.88.2.2 dst=10.88.2.1 srckey=0x0 dstkey=0x0 [ASSURED] mark=0 zone=0 use=2\n",
    "ipv4     2 unknown  50 599 src=10.88.1.2 dst=10.88.2.2 src=10.88.2.2 dst=10.88.2.1 mark=0 zone=0 use=2\n",
    "ipv6     10 tcp      6 60 SYN_RECV src=fd00::2 dst=2001:db8::1 sport=41000 dport=22 "
    "src=2001:db8::1 dst=2001:db8:ffff::1 sport=22 dport=41000 mark=0 zone=0 use=2\n",
    # offloaded: no timeout
    "ipv4     2 tcp      6 src=10.88.1.3 dst=10.88.2.2 sport=1 dport=2 src=10.88.2.2 dst=10.88.2.1 sport=2 dport=3 [OFFLOAD] mark=0 zone=0 use=3\n",
    # broken
    "ipv4     2 tcp\n",
    "ipv9     2 tcp 6 1 src=1.2.3.4 dst=1.2.3.4 src=1.2.3.4 dst=1.2.3.4\n",
    "ipv4     2 tcp 6 1 src=1.2.3.4 dst=1.2.3.999 src=1.2.3.4 dst=1.2.3.4\n",
]))

fresh("conntrack/none-nat")
write("conntrack/none-nat", "nf_conntrack",
      "ipv4     2 udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=5000 dport=53 "
      "[UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=53 dport=5000 mark=0 zone=0 use=2\n")
