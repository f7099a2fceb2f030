#!/usr/bin/env bash
# What the tests need on a Debian or Ubuntu machine, as root: the kernel tools, the peers the
# end-to-end tests run against (Prometheus, nfcapd, tshark) and the test beds' tools. The README's
# test command and CI (.ci/run) both run this, so a new machine gets what CI has.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then echo "test/install-deps.sh: run as root (sudo bash test/install-deps.sh)" >&2; exit 1; fi

apt-get update -qq
# The BPF toolchain checks the committed objects against their sources (npm run check:bpf).
apt-get install -y -qq --no-install-recommends \
  libbpf1 bpftool iproute2 python3 tmux clang llvm libbpf-dev linux-libc-dev >/dev/null
# ping and nsenter: the owner tests (a ping socket's owner; tc-top started with nsenter keeps the cgroup mount).
apt-get install -y -qq --no-install-recommends iputils-ping util-linux >/dev/null
# Peers whose packages start a service: policy-rc.d keeps them stopped (Prometheus would listen on
# 0.0.0.0:9090, nfcapd on a UDP port); the tests start their own instances inside test namespaces.
policy_added=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
fi
trap '[ -n "$policy_added" ] && rm -f /usr/sbin/policy-rc.d' EXIT
# Prometheus: the exporter's end-to-end test. nfdump (nfcapd) and tshark: the IPFIX export's.
apt-get install -y -qq --no-install-recommends prometheus nfdump tshark >/dev/null
# scapy and tcpdump: the captures `tc-top -r` is tested on (test/pcap.test.ts).
apt-get install -y -qq --no-install-recommends python3-scapy tcpdump >/dev/null

# nftables and iperf3: the health tests' loss, drops and bulk TCP (test/health-kernel.test.ts).
apt-get install -y -qq --no-install-recommends nftables iperf3 >/dev/null
# npm run test:kernels: QEMU (TCG) and a static busybox for the guests' initramfs.
apt-get install -y -qq --no-install-recommends qemu-system-x86 busybox-static >/dev/null
