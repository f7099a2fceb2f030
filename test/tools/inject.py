#!/usr/bin/env python3
"""Send raw Ethernet frames out of one interface through an AF_PACKET socket.

Usage: inject.py IFACE [REPEAT] < frames   (one frame per line, hex)
Each frame is sent REPEAT times (default 1), in order. Prints the number of frames sent.
Test-only: it runs inside a test-made network namespace on a test-made veth.
"""
import socket
import sys


def main() -> int:
    iface = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    frames = [bytes.fromhex(line.strip()) for line in sys.stdin if line.strip()]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    sent = 0
    for frame in frames:
        for _ in range(repeat):
            sock.send(frame)
            sent += 1
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
