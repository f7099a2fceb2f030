// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc-top's health programs: they run per event, not per packet, so the counter programs
 * (tc_top.bpf.c) stay as they are.
 *
 *  - tp_btf/tcp_probe (each segment an established TCP socket receives): the socket's own
 *    smoothed RTT (srtt_us >> 3, what `ss -ti` shows), per interval: last, min, max.
 *  - tp_btf/tcp_retransmit_skb: the segments of each successful retransmission.
 *  - tp_btf/kfree_skb: packets freed with a drop reason, on a watched interface of tc-top's network
 *    namespace, by flow and reason.
 *
 * Socket events are keyed by the socket's addresses and ports (struct health_key), never by the
 * task that happens to run. Kernel structures are read with CO-RE (preserve_access_index on the
 * few fields declared below, relocated by libbpf against the running kernel's BTF), so the object
 * needs no vmlinux.h of one kernel version.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tc_top_health.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_ICMPV6_ 58
#define IPV6_EXT_MAX 4

/* The kernel's own types, only the fields read here; offsets come from the kernel's BTF. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	int ifindex;
	possible_net_t nd_net;
} __attribute__((preserve_access_index));

struct dst_entry {
	struct net_device *dev;
} __attribute__((preserve_access_index));

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct tcp_sock {
	__u32 srtt_us;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct net_device *dev;
	unsigned long _skb_refdst;
	char cb[48];
	unsigned char *head;
	__u16 network_header;
	__be16 protocol;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct health_key);
	__type(value, struct health_value);
} health SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct drop_key);
	__type(value, __u64);
} drops SEC(".maps");

/* The watched interfaces (ifindex -> 1), filled by userspace before the programs attach. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} watched SEC(".maps");

/* The RTT interval: userspace adds 1 before each read and reads the bank samples went to before. */
__u32 epoch = 0;

const volatile struct health_config config = {};

static __always_inline int in_our_netns(possible_net_t *pnet)
{
	return BPF_CORE_READ(pnet, net, ns.inum) == config.netns_ino;
}

/* ::ffff:a.b.c.d, as a dual-stack socket holds an IPv4 peer. */
static __always_inline int v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

/*
 * The socket's key; 0 for another namespace or family. sk is a tracepoint argument (a trusted BTF
 * pointer): its fields are read with plain loads, cheaper than bpf_probe_read_kernel calls.
 */
static __always_inline int socket_key(struct sock *sk, struct health_key *k)
{
	struct sock_common *c = &sk->__sk_common;
	unsigned short family = c->skc_family;
	struct net *net = c->skc_net.net;

	if (!net || net->ns.inum != config.netns_ino)
		return 0;
	if (family == AF_INET) {
		k->family = 4;
		*(__u32 *)k->local = c->skc_rcv_saddr;
		*(__u32 *)k->remote = c->skc_daddr;
	} else if (family == AF_INET6) {
		__builtin_memcpy(k->local, &c->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(k->remote, &c->skc_v6_daddr, 16);
		if (v4_mapped(k->local) && v4_mapped(k->remote)) {
			k->family = 4;
			__builtin_memcpy(k->local, k->local + 12, 4);
			__builtin_memcpy(k->remote, k->remote + 12, 4);
			__builtin_memset(k->local + 4, 0, 12);
			__builtin_memset(k->remote + 4, 0, 12);
		} else {
			k->family = 6;
		}
	} else {
		return 0;
	}
	k->proto = IPPROTO_TCP;
	k->lport = c->skc_num;
	k->rport = bpf_ntohs(c->skc_dport);
	return 1;
}

/* This CPU's value of the socket's entry, made when missing. */
static __always_inline struct health_value *health_of(struct health_key *k)
{
	struct health_value *v = bpf_map_lookup_elem(&health, k);

	if (v)
		return v;
	struct health_value zero = {};
	/* Another CPU may have made it meanwhile: then this CPU's copy (zeroed) is there anyway. */
	bpf_map_update_elem(&health, k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&health, k);
}

SEC("tp_btf/tcp_probe")
int tctop_rtt(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	struct health_key k = {};

	if (!socket_key(sk, &k))
		return 0;
	__u32 srtt = BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3;
	if (srtt == 0)
		return 0; /* no RTT measured yet */
	struct health_value *v = health_of(&k);
	if (!v)
		return 0;
	__u32 e = epoch;
	struct rtt_bank *b = &v->bank[e & 1];
	if (b->epoch != e || b->samples == 0) {
		b->epoch = e;
		b->min_us = srtt;
		b->max_us = srtt;
		b->samples = 0;
	}
	if (srtt < b->min_us)
		b->min_us = srtt;
	if (srtt > b->max_us)
		b->max_us = srtt;
	b->samples++;
	v->rtt_last_us = srtt;
	v->rtt_ns = bpf_ktime_get_ns();
	return 0;
}

/* The segments one retransmitted skb carried: tcp_skb_pcount(), tcp_skb_cb.tcp_gso_segs in cb[8]. */
static __always_inline int count_retransmit(struct sock *sk, struct sk_buff *skb)
{
	struct health_key k = {};
	__u16 segs = 0;

	if (!socket_key(sk, &k))
		return 0;
	bpf_probe_read_kernel(&segs, sizeof(segs), (char *)skb + bpf_core_field_offset(struct sk_buff, cb) + 8);
	struct health_value *v = health_of(&k);
	if (v)
		v->retrans += segs ? segs : 1;
	return 0;
}

/* Kernels whose tracepoint is (sk, skb): it fires only after a retransmission went out. */
SEC("tp_btf/tcp_retransmit_skb")
int tctop_retrans(__u64 *ctx)
{
	return count_retransmit((struct sock *)ctx[0], (struct sk_buff *)ctx[1]);
}

/* Kernels whose tracepoint is (sk, skb, err) (6.14 on): it fires for failures too; those not counted. */
SEC("tp_btf/tcp_retransmit_skb")
int tctop_retrans_err(__u64 *ctx)
{
	if ((int)ctx[2] != 0)
		return 0;
	return count_retransmit((struct sock *)ctx[0], (struct sk_buff *)ctx[1]);
}

/* Ports (or ICMP type * 256 + code) of the transport header at p, as the counter programs key them. */
static __always_inline void read_ports(unsigned char *p, struct flow_key *k)
{
	struct {
		__be16 a;
		__be16 b;
	} w = {};

	switch (k->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
		bpf_probe_read_kernel(&w, sizeof(w), p);
		k->sport = bpf_ntohs(w.a);
		k->dport = bpf_ntohs(w.b);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6_:
		bpf_probe_read_kernel(&w.a, sizeof(w.a), p);
		k->dport = bpf_ntohs(w.a); /* type << 8 | code */
		break;
	}
}

/* The flow of the skb's IP header; 0 when it has none that can be read. */
static __always_inline int skb_flow(struct sk_buff *skb, struct flow_key *k)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	__be16 proto = skb->protocol;

	if (!head || nh == (__u16)~0U)
		return 0;
	unsigned char *p = head + nh;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), p) || ip.version != 4 || ip.ihl < 5)
			return 0;
		k->family = 4;
		k->proto = ip.protocol;
		__builtin_memcpy(k->src, &ip.saddr, 4);
		__builtin_memcpy(k->dst, &ip.daddr, 4);
		/* A non-first fragment is the flow with ports 0. */
		if (!(ip.frag_off & bpf_htons(0x1fff)))
			read_ports(p + ip.ihl * 4, k);
		return 1;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), p) || ip6.version != 6)
			return 0;
		k->family = 6;
		__builtin_memcpy(k->src, &ip6.saddr, 16);
		__builtin_memcpy(k->dst, &ip6.daddr, 16);
		__u8 next = ip6.nexthdr;
		p += sizeof(ip6);
		/* The usual extension headers; a longer chain is the flow with ports 0. */
		for (int i = 0; i < IPV6_EXT_MAX; i++) {
			__u8 ext[2] = {};
			if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT)
				break;
			if (bpf_probe_read_kernel(ext, 2, p))
				return 0;
			if (next == IPPROTO_FRAGMENT) {
				__be16 off = 0;
				bpf_probe_read_kernel(&off, 2, p + 2);
				if (off & bpf_htons(0xfff8)) {
					k->proto = ext[0];
					return 1; /* a non-first fragment */
				}
				p += 8;
			} else {
				p += (ext[1] + 1) * 8;
			}
			next = ext[0];
		}
		k->proto = next;
		read_ports(p, k);
		return 1;
	}
	return 0;
}

SEC("tp_btf/kfree_skb")
int tctop_drop(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	__u32 reason = (__u32)ctx[2];

	if (reason == config.reason_not_specified || reason == config.reason_consumed || reason == config.reason_not_dropped)
		return 0;
	/* skb is a tracepoint argument: plain loads. dev may hold UDP's dev_scratch instead of a
	 * pointer once a datagram is queued; a load through it that faults reads 0 and fails the checks. */
	struct net_device *dev = skb->dev;
	__u32 ifindex;
	if (dev) {
		struct net *net = dev->nd_net.net;
		if (!net || net->ns.inum != config.netns_ino)
			return 0;
		ifindex = dev->ifindex;
	} else {
		/* Dropped on the way out before a device was set (LOCAL_OUT): the route's device. */
		struct dst_entry *dst = (struct dst_entry *)(skb->_skb_refdst & ~1UL);
		if (!dst)
			return 0;
		dev = BPF_CORE_READ(dst, dev);
		if (!dev || !in_our_netns(&dev->nd_net))
			return 0;
		ifindex = BPF_CORE_READ(dev, ifindex);
	}
	if (!bpf_map_lookup_elem(&watched, &ifindex))
		return 0;
	struct drop_key k = {};
	if (!skb_flow(skb, &k.flow))
		return 0;
	k.flow.ifindex = ifindex;
	k.reason = reason;
	__u64 *n = bpf_map_lookup_elem(&drops, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return 0;
	}
	__u64 one = 1;
	if (bpf_map_update_elem(&drops, &k, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&drops, &k);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
