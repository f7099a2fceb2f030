/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract of tc-top's health object (tc_top_health.bpf.c): RTT and retransmissions per TCP
 * socket, drops per flow and reason. A header of its own beside tc_top.h, because the health
 * object is built, loaded and left out (--no-tcp-stats) on its own; it uses tc_top.h's flow_key.
 * Mirrored in src/ffi/layout.ts (HealthKey, HealthValue, DropKey, HealthConfig); the collector
 * checks the loaded maps' sizes against the mirror.
 *
 * Multi-byte fields are host byte order, addresses as on the wire.
 */
#ifndef TC_TOP_HEALTH_H
#define TC_TOP_HEALTH_H

#include "tc_top.h"

/*
 * health map key, 40 bytes: a TCP socket seen from its own side. Zero-initialised before filling.
 * A socket has no interface and no direction: userspace joins it to the flows of every watched
 * interface whose key is (local -> remote) at egress or (remote -> local) at ingress.
 *
 *   off size field
 *     0    1 family   4 or 6 (an IPv6 socket with IPv4-mapped addresses is 4, as its packets are)
 *     1    1 proto    6
 *     2    2 pad0     0
 *     4   16 local    IPv6 address, or IPv4 in bytes 0..3 and zeros after
 *    20   16 remote   same
 *    36    2 lport    local port
 *    38    2 rport    remote port
 */
struct health_key {
	__u8 family;
	__u8 proto;
	__u16 pad0;
	__u8 local[16];
	__u8 remote[16];
	__u16 lport;
	__u16 rport;
};

/*
 * One interval's RTT samples, 16 bytes. Valid only when epoch is the interval's and samples > 0.
 *
 *   off size field
 *     0    4 epoch    the value of `epoch` (.bss) the samples were taken under
 *     4    4 min_us   lowest smoothed RTT seen, microseconds
 *     8    4 max_us   highest
 *    12    4 samples  RTT samples (ACKs) in the interval
 */
struct rtt_bank {
	__u32 epoch;
	__u32 min_us;
	__u32 max_us;
	__u32 samples;
};

/*
 * health map value, 56 bytes, one per CPU (an LRU per-CPU hash: a CPU only writes its own copy, so
 * min/max need no atomics; userspace takes the min of mins, the max of maxes, the sum of the
 * retransmits and the last RTT of the CPU that saw it latest).
 *
 *   off size field
 *     0    8 retrans      retransmitted segments since the entry was made (tcp_skb_pcount of each
 *                         successful retransmission, as TcpRetransSegs and tcpi_total_retrans count)
 *     8    8 rtt_ns       bpf_ktime_get_ns() of the latest RTT sample on this CPU
 *    16    4 rtt_last_us  the smoothed RTT (srtt_us >> 3) at that sample
 *    20    4 pad0
 *    24   32 bank[2]      struct rtt_bank: samples go to bank[epoch & 1]; userspace advances
 *                         `epoch` before each read, then reads the bank it left
 */
struct health_value {
	__u64 retrans;
	__u64 rtt_ns;
	__u32 rtt_last_us;
	__u32 pad0;
	struct rtt_bank bank[2];
};

/*
 * drops map key, 56 bytes: the dropped packet's flow as the counter programs key it, with dir 0
 * (kfree_skb does not know the direction: userspace joins it to both directions' flows of that
 * interface), and the drop reason (enum skb_drop_reason, named from the running kernel's BTF).
 * Value: a __u64, packets (skbs) freed with that reason, added atomically.
 */
struct drop_key {
	struct flow_key flow;
	__u32 reason;
	__u32 pad0;
};

/* Load-time configuration, the whole .rodata section of the health object. */
struct health_config {
	__u32 netns_ino;            /* tc-top's network namespace (inode of /proc/self/ns/net) */
	__u32 reason_not_dropped;   /* SKB_NOT_DROPPED_YET, SKB_CONSUMED, SKB_DROP_REASON_NOT_SPECIFIED: */
	__u32 reason_consumed;      /* not counted; their values come from the kernel's BTF */
	__u32 reason_not_specified;
};

#ifdef __bpf__
_Static_assert(sizeof(struct health_key) == 40, "health_key layout");
_Static_assert(sizeof(struct rtt_bank) == 16, "rtt_bank layout");
_Static_assert(sizeof(struct health_value) == 56, "health_value layout");
_Static_assert(sizeof(struct drop_key) == 56, "drop_key layout");
_Static_assert(sizeof(struct health_config) == 16, "health_config layout");
#endif

#endif /* TC_TOP_HEALTH_H */
