#!/usr/bin/env python3
"""Send raw Ethernet frames out of one interface through an AF_PACKET socket.

Usage: inject.py IFACE [REPEAT] < frames   (one frame per line, hex)
       inject.py IFACE --udp-flows N        (N UDP/IPv4 frames, each a flow of its own)
Each frame is sent REPEAT times (default 1), in order. Prints the number of frames sent.
Test-only: it runs inside a test-made network namespace on a test-made veth.
"""
import socket
import sys


def udp_flows(n: int):
    """Frames from 10.X.Y.Z:P to 192.0.2.1:53, distinct by source address and port."""
    head = bytes.fromhex("02000000000a02000000000b0800")
    for i in range(n):
        ip = bytearray(20)
        ip[0] = 0x45
        ip[2:4] = (28).to_bytes(2, "big")
        ip[8] = 64
        ip[9] = 17
        ip[12:16] = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
        ip[16:20] = bytes([192, 0, 2, 1])
        udp = (1024 + (i >> 24)).to_bytes(2, "big") + (53).to_bytes(2, "big") + (8).to_bytes(2, "big") + bytes(2)
        yield head + bytes(ip) + udp


def main() -> int:
    iface = sys.argv[1]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    if len(sys.argv) > 3 and sys.argv[2] == "--udp-flows":
        sent = 0
        for frame in udp_flows(int(sys.argv[3])):
            sock.send(frame)
            sent += 1
        print(sent)
        return 0
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    frames = [bytes.fromhex(line.strip()) for line in sys.stdin if line.strip()]
    sent = 0
    for frame in frames:
        for _ in range(repeat):
            sock.send(frame)
            sent += 1
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
