#!/usr/bin/env python3
"""Edge-case frames for `tc-top -r`, built and dissected with scapy, independently of tc-top.

Usage: pcap_cases.py OUT.pcap OUT.pcapng
Writes the same frames as pcap and as pcapng (10 ms apart) and prints, as JSON, what tc-top's
documented flow rules make of them, from scapy's own dissection of each frame:
  {"flows": {"proto src sport dst dport": [packets, bytes]}, "non_ip": [packets, bytes],
   "malformed": [packets, bytes]}
Rules (README): up to two VLAN tags; IPv4 (a non-first fragment: ports 0); IPv6 through up to 8
extension headers (a non-first fragment: ports 0); TCP/UDP/UDP-Lite/SCTP ports; ICMP/ICMPv6
type*256+code in dport; other protocols ports 0; a header cut short: malformed; no IP: non-IP.
Bytes are the frame's length.
"""
import json
import sys

from scapy.all import (AH, ARP, fragment, ICMP, IP, SCTP, TCP, UDP, Dot1AD, Dot1Q, Ether, GRE, ICMPv6EchoRequest,
                       IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Raw,
                       PcapNgWriter, wrpcap)

E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
V4 = dict(src="10.9.0.1", dst="10.9.0.2")
V6 = dict(src="2001:db8::1", dst="2001:db8::2")
EXT = {0: IPv6ExtHdrHopByHop, 43: IPv6ExtHdrRouting, 60: IPv6ExtHdrDestOpt}


def frames():
    """(frame, truncated?) pairs: the cut ones are malformed by construction."""
    f = []
    add = lambda p, n=1: f.extend([(bytes(p), False)] * n)
    add(E / IP(**V4) / TCP(sport=40000, dport=443, flags="S"), 3)
    add(E / IP(**V4) / UDP(sport=5353, dport=53) / Raw(b"q" * 100), 2)
    add(E / IP(**V4) / ICMP(type=8) / Raw(b"p" * 56))
    add(E / IP(**V4) / SCTP(sport=3868, dport=3869))
    add(E / IP(**V4) / GRE() / Raw(b"g" * 20))
    add(E / IP(**V4, options=b"\x01" * 12) / UDP(sport=1, dport=2))
    add(E / Dot1Q(vlan=10) / IP(**V4) / UDP(sport=7, dport=8) / Raw(b"v" * 30), 2)
    add(E / Dot1AD(vlan=100) / Dot1Q(vlan=10) / IPv6(**V6) / UDP(sport=7, dport=8))
    add(E / Dot1Q(vlan=1) / Dot1Q(vlan=2) / IP(**V4) / TCP(sport=9, dport=10, flags="A"))
    add(E / Dot1AD(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / IP(**V4) / UDP(sport=7, dport=8))  # third tag: non-IP
    # IPv4 fragments of one datagram: the first keeps the ports, the others are ports 0.
    for p in fragment(IP(**V4, id=77) / UDP(sport=4000, dport=4001) / Raw(b"F" * 3000), fragsize=1000):
        add(E / p)
    add(E / IPv6(**V6) / UDP(sport=5353, dport=53) / Raw(b"6" * 10))
    add(E / IPv6(**V6) / ICMPv6EchoRequest())
    add(E / IPv6(**V6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() / UDP(sport=11, dport=12))
    add(E / IPv6(**V6) / AH(nh=6, payloadlen=4, icv=b"\0" * 12) / TCP(sport=13, dport=14, flags="PA"))
    add(E / IPv6(**V6, nh=59))
    chain = lambda n: [EXT[0]()] + [EXT[60]() for _ in range(n - 1)]
    for n, kind in ((7, "udp"), (8, "udp"), (9, "udp")):
        p = E / IPv6(**V6)
        for h in chain(n):
            p = p / h
        add(p / UDP(sport=20 + n, dport=30))
    add(E / IPv6(**V6) / IPv6ExtHdrFragment(offset=0, m=1, id=5) / UDP(sport=15, dport=16) / Raw(b"a" * 40))
    add(E / IPv6(**V6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(offset=100, id=5, nh=17) / Raw(b"b" * 40))
    add(E / ARP())
    # Headers cut short: malformed by construction.
    cut = lambda p, n: f.append((bytes(p)[:n], True))
    cut(E / IP(**V4) / TCP(sport=1, dport=2), 14 + 20 + 19)
    cut(E / IP(**V4) / UDP(sport=1, dport=2), 14 + 20 + 7)
    cut(E / IP(**V4) / TCP(sport=1, dport=2), 14 + 19)  # the skb test runner refuses this one
    cut(E / IPv6(**V6) / IPv6ExtHdrHopByHop() / UDP(sport=1, dport=2), 14 + 40 + 4)
    cut(E / IPv6(**V6) / TCP(sport=1, dport=2), 14 + 30)  # and this one
    cut(E / Dot1Q(vlan=5) / IP(**V4), 16)
    return f


def rule(frame: bytes):
    """What tc-top's rules make of a whole frame, from scapy's dissection."""
    p = Ether(frame)
    l = p.payload
    for _ in range(2):
        if isinstance(l, (Dot1Q, Dot1AD)):
            l = l.payload
    if isinstance(l, (Dot1Q, Dot1AD)) or not isinstance(l, (IP, IPv6)):
        return "non_ip"
    if isinstance(l, IP):
        proto, src, dst = l.proto, l.src, l.dst
        if l.frag > 0:
            return (proto, src, 0, dst, 0)
        l4 = l.payload
    else:
        src, dst = l.src, l.dst
        l4 = l.payload
        proto = l.nh
        n = 0
        while isinstance(l4, (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrFragment, AH)):
            n += 1
            if n > 8:
                return "malformed"
            proto = l4.nh
            if isinstance(l4, IPv6ExtHdrFragment) and l4.offset > 0:
                return (proto, src, 0, dst, 0)
            l4 = l4.payload
    if isinstance(l4, Raw) and proto in (6, 17, 132):
        l4 = {6: TCP, 17: UDP, 132: SCTP}[proto](bytes(l4))  # scapy leaves what follows AH undecoded
    if isinstance(l4, (TCP, UDP, SCTP)):
        return (proto, src, l4.sport, dst, l4.dport)
    if proto in (1, 58):
        raw = bytes(l4)
        return (proto, src, 0, dst, raw[0] * 256 + raw[1])
    return (proto, src, 0, dst, 0)


def main():
    out = {"flows": {}, "non_ip": [0, 0], "malformed": [0, 0]}
    fs = frames()
    for data, truncated in fs:
        r = "malformed" if truncated else rule(data)
        slot = out[r] if isinstance(r, str) else out["flows"].setdefault(" ".join(map(str, r)), [0, 0])
        slot[0] += 1
        slot[1] += len(data)
    pkts = [Ether(d) for d, _ in fs]
    for i, p in enumerate(pkts):
        p.time = 1_700_000_000 + i / 100
    wrpcap(sys.argv[1], pkts)
    w = PcapNgWriter(sys.argv[2])
    for p in pkts:
        w.write(p)
    w.close()
    print(json.dumps(out))


main()
