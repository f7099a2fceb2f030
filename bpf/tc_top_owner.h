/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract of tc-top's owner object (bpf/tc_top_owner.bpf.c): who owns a socket, keyed by the
 * socket's addresses and ports. Mirrored in src/ffi/layout.ts (OwnerKey, OwnerValue); tc-top checks
 * the loaded map's key and value sizes against the mirror. Userspace joins these entries to the
 * flows by the socket's 5-tuple.
 *
 * Both objects write `owners`: the owner programs on socket events, and the counter programs' TC
 * egress hook once per new flow, from the sending socket's storage (no program runs per packet
 * for it). The owner object reuses the counter object's `owners` and `sock_owners` maps.
 *
 * Multi-byte fields are host byte order, except addresses (as on the wire).
 */
#ifndef TC_TOP_OWNER_H
#define TC_TOP_OWNER_H

/*
 * owners map key, 40 bytes, zero-initialised before filling. A socket as a flow sees it from the
 * local side: egress flows are local -> remote, ingress flows remote -> local.
 *
 *   off size field
 *     0    1 family   4 or 6 (an IPv4-mapped IPv6 socket address is keyed as family 4)
 *     1    1 proto    IP protocol (6 tcp, 17 udp, 136 udplite, 1 icmp, 58 icmpv6)
 *     2    2 lport    local port; 0 for ICMP
 *     4    2 rport    remote port; 0 for ICMP and for a wildcard entry
 *     6    2 pad      0
 *     8   16 laddr    local address (IPv4 in bytes 0..3); all zero: any local address
 *    24   16 raddr    remote address; all zero with rport 0: any remote (an unconnected UDP socket)
 */
struct owner_key {
	__u8 family;
	__u8 proto;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

/*
 * owners map value, 40 bytes: the process that last used the socket in process context (created,
 * bound, connected, sent or received on it), or that held it when tc-top started.
 *
 *   off size field
 *     0    4 tgid       thread group id (the pid)
 *     4    4 uid        real uid
 *     8    8 cgroup_id  cgroup v2 id (the inode number of its directory in the cgroup2 mount)
 *    16   16 comm       the task's comm, NUL-padded
 *    32    8 recorded   bpf_ktime_get_coarse_ns() when it was recorded
 */
struct owner_value {
	__u32 tgid;
	__u32 uid;
	__u64 cgroup_id;
	char comm[16];
	__u64 recorded;
};

/*
 * sock_owners (SK_STORAGE) value: a socket's owner and the last key it published (its hash, and
 * the owner generation then). Only the programs read it.
 */
struct sock_owner {
	struct owner_value owner;
	__u32 gen;
	__u32 published;
	__u32 published_gen;
	__u32 pad;
};

/* Load-time configuration, the object's .rodata. */
struct owner_config {
	__u64 netns_cookie; /* only sockets of this network namespace are recorded */
};

#ifdef __bpf__
/*
 * The maps both objects use, defined once here (each object declares them; the owner object reuses
 * the counter object's): a socket's owner (SK_STORAGE, cloned to accepted sockets), and socket key
 * -> owner, read by tc-top every tick (LRU: a host's sockets, not its flows).
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct sock_owner);
} sock_owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct owner_key);
	__type(value, struct owner_value);
} owners SEC(".maps");

/* Write the key with the socket's owner, unless it is the socket's last key (FNV-1a of its words)
 * under the same owner generation. Returns 1 when `owners` was written. */
static __always_inline int owner_publish(struct sock_owner *so, const struct owner_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = 0x811c9dc5;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*k) / 4); i++)
		h = (h ^ w[i]) * 0x01000193;
	if (so->published == h && so->published_gen == so->gen)
		return 0;
	if (bpf_map_update_elem(&owners, k, &so->owner, BPF_ANY) != 0)
		return 0;
	so->published = h;
	so->published_gen = so->gen;
	return 1;
}

_Static_assert(sizeof(struct owner_key) == 40, "owner_key layout");
_Static_assert(sizeof(struct owner_value) == 40, "owner_value layout");
_Static_assert(sizeof(struct owner_config) == 8, "owner_config layout");
#endif

#endif /* TC_TOP_OWNER_H */
