/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel/user contract of tc-top: the layouts of the keys and values in its maps.
 *
 * Shared by bpf/tc_top.bpf.c and mirrored byte for byte in src/ffi/layout.ts; tc-top checks the
 * loaded maps' key and value sizes against that mirror at start-up. Change both sides together and
 * bump TC_TOP_ABI.
 *
 * All multi-byte fields are in host byte order (little-endian on x86_64/arm64), except addresses,
 * which are the 4 or 16 bytes as they appear on the wire.
 */
#ifndef TC_TOP_H
#define TC_TOP_H

#define TC_TOP_ABI 4

enum tc_top_dir {
	TC_TOP_INGRESS = 0,
	TC_TOP_EGRESS = 1,
};

/*
 * flows map key, 48 bytes. Zero-initialised before filling: padding is part of a hash key.
 *
 *   off size field
 *     0    1 family    4 or 6
 *     1    1 proto     IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6, 132 sctp, 136 udplite, ...)
 *     2    1 dir       enum tc_top_dir
 *     3    1 pad0      always 0
 *     4    4 ifindex   interface the hook runs on
 *     8   16 src       IPv6 address, or IPv4 address in bytes 0..3 and zeros after
 *    24   16 dst       same
 *    40    2 sport     source port; 0 for protocols without ports and for non-first fragments
 *    42    2 dport     destination port; ICMP/ICMPv6: type * 256 + code (as NetFlow does)
 *    44    4 pad1      always 0
 */
struct flow_key {
	__u8 family;
	__u8 proto;
	__u8 dir;
	__u8 pad0;
	__u32 ifindex;
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u32 pad1;
};

/*
 * flows map value, 40 bytes (per CPU in the per-CPU map: userspace sums packets and bytes, takes
 * the earliest first_seen and latest last_seen, ORs the flags). Also the counters of a flow_slot.
 *
 *   off size field
 *     0    8 packets       frames counted (TC: a GSO/GRO skb as its gso_segs; XDP can't: one)
 *     8    8 bytes         frame length as the hook sees it (XDP: data_end - data; TC: skb->len)
 *    16    8 first_seen    bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE) of the first frame
 *    24    8 last_seen     the same, of the latest frame
 *    32    4 tcp_flags     OR of the TCP flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10
 *                          URG 0x20 ECE 0x40 CWR 0x80) of every segment
 *    36    4 seq           in a flow_slot: even while the slot is stable, odd while a program or
 *                          userspace (re)writes it; +2 for each flow the slot holds. 0 elsewhere.
 */
struct flow_value {
	__u64 packets;
	__u64 bytes;
	__u64 first_seen;
	__u64 last_seen;
	__u32 tcp_flags;
	__u32 seq;
};

/*
 * flow_slots (the mmap map kind): a BPF_F_MMAPABLE array of these, 88 bytes each, that userspace
 * reads through shared memory; flow_index maps a flow_key to its slot (a __u32). A slot is free
 * when key.family is 0. Who changes which slot a key has first makes seq odd with a compare-and-swap
 * (from the even value it saw), then writes, then adds 1: readers skip odd slots and slots whose seq
 * changed while they read them. A program that needs a slot for a new flow probes SLOT_PROBES slots
 * from a shared hand and takes a free one, else the one seen longest ago (its flow is evicted:
 * deleted from flow_index first, and its key written to flow_evicted before the slot is rewritten).
 * A claim that changes nothing (the index refused the delete) puts seq back as it was, so that a
 * slot's seq moves only when its key does: userspace reads a key in place, in the slot, for as
 * long as the slot's seq is the one it read, and from flow_evicted (or its own copy, when it freed
 * the slot itself) after.
 *
 *   off size field
 *     0   48 key    struct flow_key
 *    48   40 value  struct flow_value (seq as above)
 */
struct flow_slot {
	struct flow_key key;
	struct flow_value value;
};

/*
 * flow_evicted (the mmap map kind): a BPF_F_MMAPABLE array of config.evicted entries (a power of
 * two), used as a ring: the k-th flow a program evicts from a slot (k from 0, counted by the .bss
 * __u64 evicted_head) goes to entry k % config.evicted, with the slot it left and the seq the slot
 * had while it held it. stamp is 0 while the entry is written and k + 1 once it is whole: a reader
 * takes an entry whose stamp reads k + 1 before and after it copies the key (a later lap of the
 * ring rewrites it, which the reader then sees as a lost key).
 *
 *   off size field
 *     0   48 key
 *    48    4 slot
 *    52    4 seq
 *    56    8 stamp
 */
struct evicted_key {
	struct flow_key key;
	__u32 slot;
	__u32 seq;
	__u64 stamp;
};

/*
 * counters map: a per-CPU array with one entry (key 0) of this struct, 80 bytes. Every frame a
 * program sees is added to packets/bytes[dir] and to exactly one of: a flow (or flows_created when
 * it opens one), non_ip, malformed, update_failed. So, per CPU summed:
 *   packets[0] + packets[1] == sum(flow packets ever counted) + non_ip + malformed + update_failed
 *
 *   off size field
 *     0    8 packets[ingress]
 *     8    8 packets[egress]
 *    16    8 bytes[ingress]
 *    24    8 bytes[egress]
 *    32    8 non_ip         frames that carry no IPv4/IPv6 (ARP, LLDP, a third VLAN tag, ...)
 *    40    8 malformed      IP frames too short for the headers they announce, or with bad header fields
 *    48    8 update_failed  frames whose new flow could not be inserted in the map
 *    56    8 flows_created  flows inserted; minus live and deleted-by-userspace gives LRU evictions
 *    64    8 non_ip_bytes
 *    72    8 malformed_bytes
 */
struct counters {
	__u64 packets[2];
	__u64 bytes[2];
	__u64 non_ip;
	__u64 malformed;
	__u64 update_failed;
	__u64 flows_created;
	__u64 non_ip_bytes;
	__u64 malformed_bytes;
};

enum tc_top_map_mode {
	TC_TOP_MAP_LRU = 0,    /* flows: BPF_MAP_TYPE_LRU_HASH, atomic adds */
	TC_TOP_MAP_PERCPU = 1, /* flows: BPF_MAP_TYPE_LRU_PERCPU_HASH, plain adds */
	TC_TOP_MAP_MMAP = 2,   /* flow_index + flow_slots, atomic adds; flows unused */
};

/* Slots a new flow's search looks at (from the hand on). */
#define SLOT_PROBES 8

/* Load-time configuration, the whole .rodata section (const volatile in the program). */
struct tc_top_config {
	__u32 map_mode;   /* enum tc_top_map_mode */
	__u32 slots;      /* flow_slots' max_entries (mmap mode) */
	__u32 handshakes; /* 1: time TCP handshakes into `handshakes` (off with --no-tcp-stats) */
	__u32 owners;     /* 1: TC egress publishes a new flow's socket owner (tc_top_owner.h; off with --no-processes) */
	__u32 evicted;    /* flow_evicted's max_entries, a power of two (mmap mode; 0: evictions are not written) */
};

/*
 * handshakes map (LRU hash, HANDSHAKE_ENTRIES): key struct flow_key of the direction that sent the
 * SYN, as the hook saw it; value this struct, 24 bytes, times on the programs' clock
 * (bpf_ktime_get_ns(), or the frame's capture time in the replay build). Written only by the
 * frames that give a TCP flow a flag it did not have (a SYN opening a flow, the SYN-ACK opening
 * the reverse flow, the first ACK of the SYN's direction), never on a flow's other packets.
 * Userspace takes a complete entry (ack_ns set) and deletes it; handshake RTT = ack_ns - syn_ns.
 *
 *   off size field
 *     0    8 syn_ns     the first SYN (a retransmitted SYN keeps it, as Karn's rule says)
 *     8    8 synack_ns  the first SYN-ACK of the reverse direction, 0 until then
 *    16    8 ack_ns     the SYN direction's first ACK after the SYN-ACK, 0 until then
 */
#define HANDSHAKE_ENTRIES 16384

struct handshake {
	__u64 syn_ns;
	__u64 synack_ns;
	__u64 ack_ns;
};

/*
 * The replay build (tc_top_replay.bpf.o: the same source with -DTC_TOP_REPLAY) has one program,
 * tctop_replay_batch (XDP), which tc-top -r runs with BPF_PROG_TEST_RUN on a batch of a capture's
 * frames: this head and `n` records at the start of the data, the frames at its end, the first one
 * last (each frame padded to 4 bytes). Each record brings its frame's capture time (ns on the
 * snapshots' clock), the length to count (the frame's length on the wire, which can be more than
 * the bytes given when the capture cut the frame or only a prefix is given) and its direction. The
 * program shows each frame as the whole packet in turn (moving the packet's head and tail, never
 * growing it) and counts it with the counter programs' count(), in order. It returns how many it
 * counted: fewer than n when a frame given cut (CUT: a prefix of the frame) did not parse within
 * its prefix; that frame is not counted and must run whole.
 */
#define TC_TOP_BATCH_MAX 64
#define TC_TOP_BATCH_LEN 0xffff
#define TC_TOP_BATCH_EGRESS (1u << 16)
#define TC_TOP_BATCH_CUT (1u << 17)

struct tc_top_batch {
	__u32 n;
	__u32 pad[3];
};

struct tc_top_batch_frame {
	__u32 len_flags; /* bytes given (TC_TOP_BATCH_LEN), EGRESS, CUT */
	__u32 wire;	 /* length to count */
	__u32 time_lo;
	__u32 time_hi;
};

#ifdef __bpf__
_Static_assert(sizeof(struct tc_top_batch) == 16, "batch layout");
_Static_assert(sizeof(struct tc_top_batch_frame) == 16, "batch frame layout");
_Static_assert(sizeof(struct flow_key) == 48, "flow_key layout");
_Static_assert(sizeof(struct flow_value) == 40, "flow_value layout");
_Static_assert(sizeof(struct flow_slot) == 88, "flow_slot layout");
_Static_assert(sizeof(struct evicted_key) == 64, "evicted_key layout");
_Static_assert(sizeof(struct counters) == 80, "counters layout");
_Static_assert(sizeof(struct tc_top_config) == 20, "config layout");
_Static_assert(sizeof(struct handshake) == 24, "handshake layout");
#endif

#endif /* TC_TOP_H */
