// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc-top's counter programs: XDP ingress, TC ingress and TC egress share one parser that reduces
 * every frame to a flow key, then count packets and bytes per flow. They observe and never decide:
 * XDP returns XDP_PASS, TC returns TC_ACT_UNSPEC, which is also TCX_NEXT (-1), so that the
 * programs and filters after tc-top on the same hook still run.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tc_top.h"
#ifndef TC_TOP_REPLAY
#include "tc_top_owner.h"
#endif

#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef ENOENT
#define ENOENT 2
#endif
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_MH_ 135
#define IPPROTO_HIP_ 139
#define IPPROTO_SHIM6_ 140

/* IPv6 extension headers walked; a chain with more is counted as malformed. */
#define MAX_EXT_HEADERS 8
/* Bytes of a non-linear skb made linear so that the headers can be read. */
#define PULL_LEN 256

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* or LRU_PERCPU_HASH, chosen by userspace before load */
	__uint(max_entries, 65536);          /* --max-flows, set by userspace before load */
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

/* The mmap map kind: flow key -> slot, and the slots (see tc_top.h). Both get --max-flows entries
 * from userspace (one each when another kind is chosen): a slot's old flow leaves flow_index before
 * its new one enters, so flow_index never holds more keys than there are slots. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, __u32);
} flow_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct flow_slot);
} flow_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4096); /* config.evicted, set by userspace before load */
	__type(key, __u32);
	__type(value, struct evicted_key);
} flow_evicted SEC(".maps");

/* Where the next new flow's slot search starts; advanced SLOT_PROBES at a time, so that CPUs
 * searching at once look at different slots. */
__u32 slot_hand = 0;

/* Entries the TC egress hook wrote to `owners` (never in the replay build): tc-top reads that map
 * again when this or the owner programs' own count moved. */
__u64 owners_written = 0;

/* Flows evicted from their slot so far: the next one goes to flow_evicted[evicted_head % config.evicted]. */
__u64 evicted_head = 0;

/* The owner object's maps (tc_top_owner.h: sock_owners, owners) are created with this object and
 * reused by it; `owners` has one entry when config.owners is 0 (--no-processes). */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

/* TCP handshakes being timed (tc_top.h); one entry when config.handshakes is 0. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HANDSHAKE_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct handshake);
} handshakes SEC(".maps");

const volatile struct tc_top_config config = {};

enum parse_result {
	PARSE_FLOW,
	PARSE_NON_IP,
	PARSE_MALFORMED,
};

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

/* Ports (or ICMP type/code) and TCP flags from the transport header at pos. */
static __always_inline int parse_l4(void *pos, void *end, struct flow_key *k, __u32 *tcp_flags)
{
	__u8 *p = pos;

	switch (k->proto) {
	case IPPROTO_TCP:
		/* The fixed 20-byte header; data offset below 5 words is not TCP. */
		if (p + 20 > (__u8 *)end || (p[12] >> 4) < 5)
			return PARSE_MALFORMED;
		k->sport = (__u16)p[0] << 8 | p[1];
		k->dport = (__u16)p[2] << 8 | p[3];
		*tcp_flags = p[13];
		return PARSE_FLOW;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		if (p + 8 > (__u8 *)end)
			return PARSE_MALFORMED;
		k->sport = (__u16)p[0] << 8 | p[1];
		k->dport = (__u16)p[2] << 8 | p[3];
		return PARSE_FLOW;
	case IPPROTO_SCTP:
		/* The 12-byte common header: ports, verification tag, checksum. */
		if (p + 12 > (__u8 *)end)
			return PARSE_MALFORMED;
		k->sport = (__u16)p[0] << 8 | p[1];
		k->dport = (__u16)p[2] << 8 | p[3];
		return PARSE_FLOW;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6_:
		/* Type, code and checksum; NetFlow's convention puts type * 256 + code in dport. */
		if (p + 4 > (__u8 *)end)
			return PARSE_MALFORMED;
		k->dport = (__u16)p[0] << 8 | p[1];
		return PARSE_FLOW;
	default:
		/* No header read here, so nothing above caught a header before it that runs past the
		 * end (an IPv6 extension header's length). Off the TCP/UDP path. */
		if (p > (__u8 *)end)
			return PARSE_MALFORMED;
		return PARSE_FLOW; /* a flow with ports 0 */
	}
}

static __always_inline int parse_ipv4(void *pos, void *end, struct flow_key *k, __u32 *tcp_flags)
{
	struct iphdr *ip = pos;
	__u32 hlen;

	if ((void *)(ip + 1) > end)
		return PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	if (pos + hlen > end)
		return PARSE_MALFORMED; /* options cut off */
	if (bpf_ntohs(ip->tot_len) < hlen && ip->tot_len != 0)
		return PARSE_MALFORMED; /* 0 is allowed: BIG TCP super-packets carry it */

	k->family = 4;
	k->proto = ip->protocol;
	__builtin_memcpy(k->src, &ip->saddr, 4);
	__builtin_memcpy(k->dst, &ip->daddr, 4);
	/* A non-first fragment has no transport header: the flow with ports 0. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return PARSE_FLOW;
	return parse_l4(pos + hlen, end, k, tcp_flags);
}

static __always_inline int parse_ipv6(void *pos, void *end, struct flow_key *k, __u32 *tcp_flags)
{
	struct ipv6hdr *ip6 = pos;
	__u8 nexthdr;

	if ((void *)(ip6 + 1) > end)
		return PARSE_MALFORMED;
	if (ip6->version != 6)
		return PARSE_MALFORMED;

	k->family = 6;
	__builtin_memcpy(k->src, &ip6->saddr, 16);
	__builtin_memcpy(k->dst, &ip6->daddr, 16);
	nexthdr = ip6->nexthdr;
	pos = ip6 + 1;

#pragma unroll
	for (int i = 0; i < MAX_EXT_HEADERS; i++) {
		struct ipv6_ext *ext = pos;
		struct ipv6_frag *frag = pos;

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_MH_:
		case IPPROTO_HIP_:
		case IPPROTO_SHIM6_:
			if ((void *)(ext + 1) > end)
				return PARSE_MALFORMED;
			nexthdr = ext->nexthdr;
			pos += (ext->hdrlen + 1) * 8;
			break;
		case IPPROTO_AH:
			if ((void *)(ext + 1) > end)
				return PARSE_MALFORMED;
			nexthdr = ext->nexthdr;
			pos += (ext->hdrlen + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if ((void *)(frag + 1) > end)
				return PARSE_MALFORMED;
			nexthdr = frag->nexthdr;
			pos = frag + 1;
			if (frag->frag_off & bpf_htons(0xfff8)) {
				k->proto = nexthdr; /* non-first fragment: ports 0 */
				return PARSE_FLOW;
			}
			break;
		default:
			k->proto = nexthdr;
			return parse_l4(pos, end, k, tcp_flags);
		}
	}
	/* MAX_EXT_HEADERS walked: what follows is read like the end of any shorter chain, unless it is
	 * one more extension header. Only frames with that many headers get here. */
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_MH_:
	case IPPROTO_HIP_:
	case IPPROTO_SHIM6_:
	case IPPROTO_AH:
	case IPPROTO_FRAGMENT:
		return PARSE_MALFORMED; /* a longer chain than any real stack sends */
	default:
		k->proto = nexthdr;
		return parse_l4(pos, end, k, tcp_flags);
	}
}

static __always_inline int parse_frame(void *data, void *end, struct flow_key *k, __u32 *tcp_flags)
{
	struct ethhdr *eth = data;
	void *pos;
	__be16 proto;

	if ((void *)(eth + 1) > end)
		return PARSE_MALFORMED;
	proto = eth->h_proto;
	pos = eth + 1;

	/* Up to two tags (802.1ad outer, 802.1Q inner). At TC ingress the kernel has usually
	 * moved the outer tag into skb metadata already; the parser sees what is left. */
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_hdr *vh = pos;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > end)
			return PARSE_MALFORMED;
		proto = vh->encap_proto;
		pos = vh + 1;
	}

	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(pos, end, k, tcp_flags);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(pos, end, k, tcp_flags);
	return PARSE_NON_IP;
}

static __always_inline void add(__u64 *counter, __u64 n)
{
	if (config.map_mode == TC_TOP_MAP_PERCPU)
		*counter += n;
	else
		__sync_fetch_and_add(counter, n);
}

/* What count_into and the new-flow paths return when the frame gave the flow a TCP flag it did not
 * have (or opened it), or'ed with the flags it had: the handshake timer looks at those frames only. */
#define FLAGS_NEW (1u << 31)

static __always_inline __u32 count_into(struct flow_value *v, __u64 len, __u64 pkts, __u32 tcp_flags, __u64 now)
{
	__u32 had;

	add(&v->packets, pkts);
	add(&v->bytes, len);
	/* Per-CPU: this CPU's slot may be fresh although the flow is not. */
	if (config.map_mode == TC_TOP_MAP_PERCPU && v->first_seen == 0)
		v->first_seen = now;
	v->last_seen = now; /* a racy store of a timestamp: either writer's value is right */
	had = v->tcp_flags;
	if ((had & tcp_flags) == tcp_flags)
		return 0;
	if (config.map_mode == TC_TOP_MAP_PERCPU)
		v->tcp_flags |= tcp_flags;
	else
		__sync_fetch_and_or(&v->tcp_flags, tcp_flags);
	return had | FLAGS_NEW;
}

/*
 * Make a slot claimed at `seq` (then made seq + 1) even again: seq + 2. A compare-and-swap, not an
 * add: an add whose result is unused compiles to an atomic without ordering (arm64's STADD), and
 * the slot's new contents must be visible before its even seq is.
 */
static __always_inline void publish(struct flow_slot *s, __u32 seq)
{
	__sync_val_compare_and_swap(&s->value.seq, seq + 1, seq + 2);
}

/* A claim of the slot that changed nothing: seq back to what it was (its key did not move). */
static __always_inline void unclaim(struct flow_slot *s, __u32 seq)
{
	__sync_val_compare_and_swap(&s->value.seq, seq + 1, seq);
}

/* The flow in slot `slot` (claimed, seq odd; `seq` its even value) is evicted: its key to flow_evicted. */
static __always_inline void write_evicted(struct flow_slot *s, __u32 slot, __u32 seq)
{
	struct evicted_key *e;
	__u64 k;
	__u32 i;

	if (config.evicted == 0)
		return;
	k = __sync_fetch_and_add(&evicted_head, 1);
	i = k & (config.evicted - 1);
	e = bpf_map_lookup_elem(&flow_evicted, &i);
	if (!e)
		return;
	__sync_lock_test_and_set(&e->stamp, 0);
	e->key = s->key;
	e->slot = slot;
	e->seq = seq;
	__sync_lock_test_and_set(&e->stamp, k + 1);
}

/* The slot flow_index gives the flow, or NULL. */
static __always_inline struct flow_slot *slot_of(struct flow_key *k)
{
	__u32 *at = bpf_map_lookup_elem(&flow_index, k);

	return at ? bpf_map_lookup_elem(&flow_slots, at) : NULL;
}

/*
 * The mmap map kind: find the flow's slot, or give the new flow one. Returns 0 when counted.
 * A new flow takes, among SLOT_PROBES slots from the hand, a free one or else the one whose flow
 * was seen longest ago (an approximate LRU, like Redis's sampled eviction), and claims it by
 * making its seq odd with a compare-and-swap, so that no other CPU and no reader uses it meanwhile.
 */
static __always_inline __u32 count_slot(struct flow_key *k, struct counters *c, __u64 len, __u64 pkts, __u32 tcp_flags, __u64 now)
{
	struct flow_slot *s;
	__u32 i, idx, start, best = 0, best_seq = 0, seq;
	__u64 oldest = ~0ULL;
	int found = 0, ret;

	s = slot_of(k);
	if (s)
		return count_into(&s->value, len, pkts, tcp_flags, now);
	if (config.slots == 0)
		goto failed;
	start = __sync_fetch_and_add(&slot_hand, SLOT_PROBES);
	for (i = 0; i < SLOT_PROBES; i++) {
		idx = (start + i) % config.slots;
		s = bpf_map_lookup_elem(&flow_slots, &idx);
		if (!s)
			break;
		seq = s->value.seq;
		if (seq & 1)
			continue; /* being written by someone else */
		if (s->key.family == 0) {
			best = idx;
			best_seq = seq;
			found = 1;
			break;
		}
		if (s->value.last_seen < oldest) {
			oldest = s->value.last_seen;
			best = idx;
			best_seq = seq;
			found = 1;
		}
	}
	if (!found)
		goto failed;
	s = bpf_map_lookup_elem(&flow_slots, &best);
	if (!s || __sync_val_compare_and_swap(&s->value.seq, best_seq, best_seq + 1) != best_seq)
		goto failed; /* another CPU or userspace took it first */
	/* Ours now. Evict its flow, if it has one, before the slot holds another; if the index
	 * refuses (busy), leave the slot to its flow. */
	if (s->key.family != 0) {
		ret = bpf_map_delete_elem(&flow_index, &s->key);
		if (ret != 0 && ret != -ENOENT) {
			unclaim(s, best_seq);
			goto failed;
		}
		write_evicted(s, best, best_seq);
	}
	s->key = *k;
	s->value.packets = pkts;
	s->value.bytes = len;
	s->value.first_seen = now;
	s->value.last_seen = now;
	s->value.tcp_flags = tcp_flags;
	ret = bpf_map_update_elem(&flow_index, k, &best, BPF_NOEXIST);
	if (ret == 0) {
		c->flows_created += 1;
		publish(s, best_seq);
		return FLAGS_NEW;
	}
	/* Not published: free the slot again. */
	s->key.family = 0;
	s->value.packets = 0;
	s->value.bytes = 0;
	publish(s, best_seq);
	/* Another CPU created the flow between our lookup and update: count into theirs. */
	if (ret == -EEXIST) {
		s = slot_of(k);
		if (s)
			return count_into(&s->value, len, pkts, tcp_flags, now);
	}
failed:
	c->update_failed += pkts;
	return 0;
}

#define TCP_SYN 0x02
#define TCP_ACK 0x10

/*
 * Time a TCP handshake as the hook sees it pass (tc_top.h, `handshakes`): the SYN, the SYN-ACK of
 * the reverse flow, and the SYN direction's first ACK. Called only for the frames that gave their
 * flow a new flag (`had`, from count_into). The fine clock is read here, not per packet.
 */
static __always_inline void handshake(struct flow_key *k, __u32 tcp_flags, __u32 had, __u64 frame_ns)
{
	struct handshake *h, nh = {};
	struct flow_key r = {};
	__u64 now;

#ifdef TC_TOP_REPLAY
	now = frame_ns;
#else
	now = bpf_ktime_get_ns();
#endif
	switch (tcp_flags & (TCP_SYN | TCP_ACK)) {
	case TCP_SYN:
		nh.syn_ns = now;
		bpf_map_update_elem(&handshakes, k, &nh, BPF_NOEXIST);
		return;
	case TCP_SYN | TCP_ACK:
		r.family = k->family;
		r.proto = k->proto;
		r.dir = k->dir ^ 1;
		r.ifindex = k->ifindex;
		__builtin_memcpy(r.src, k->dst, sizeof(r.src));
		__builtin_memcpy(r.dst, k->src, sizeof(r.dst));
		r.sport = k->dport;
		r.dport = k->sport;
		h = bpf_map_lookup_elem(&handshakes, &r);
		if (!h) {
			/* A capture with no direction marks every frame ingress: the SYN's dir is this one. */
			r.dir = k->dir;
			h = bpf_map_lookup_elem(&handshakes, &r);
		}
		if (h && h->synack_ns == 0)
			h->synack_ns = now;
		return;
	case TCP_ACK:
		if (had & TCP_ACK)
			return;
		h = bpf_map_lookup_elem(&handshakes, k);
		if (h && h->synack_ns != 0 && h->ack_ns == 0)
			h->ack_ns = now;
		return;
	}
}

#ifndef TC_TOP_REPLAY
/*
 * A new flow leaving through TC egress from a local socket: publish the flow under the owner the
 * socket carries (sock_owners, kept by the owner programs in process context), as the key the join
 * looks up (tc_top_owner.h): a connected UDP socket's 4-tuple, an unconnected one's local end
 * (every peer it talks to), the two addresses of a ping or raw socket's echo request. TCP is
 * published by the owner object's sockops program, at both ends. Runs once per new flow, never
 * on a flow's other packets; forwarded frames have no socket and the kernel's own sockets (RSTs,
 * ICMP errors) no storage, so they get no owner.
 */
static __always_inline void own_egress(struct __sk_buff *skb, const struct flow_key *f)
{
	struct owner_key k = {};
	struct sock_owner *so;
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return;
	switch (f->proto) {
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		k.lport = f->sport;
		if (sk->dst_port != 0) {
			k.rport = f->dport;
			__builtin_memcpy(k.raddr, f->dst, 16);
		}
		break;
	case IPPROTO_ICMP:
		if (f->dport >> 8 != 8)
			return; /* only echo requests: the kernel answers the others itself */
		__builtin_memcpy(k.raddr, f->dst, 16);
		break;
	case IPPROTO_ICMPV6_:
		if (f->dport >> 8 != 128)
			return;
		__builtin_memcpy(k.raddr, f->dst, 16);
		break;
	default:
		return;
	}
	so = bpf_sk_storage_get(&sock_owners, sk, 0, 0);
	if (!so)
		return; /* not of the watched namespace's processes, or the kernel's own */
	k.family = f->family;
	k.proto = f->proto;
	__builtin_memcpy(k.laddr, f->src, 16);
	if (owner_publish(so, &k))
		__sync_fetch_and_add(&owners_written, 1);
}
#endif

/* Count one frame (pkts > 1 for a GSO super-packet) of len bytes, exactly once. The replay
 * build (TC_TOP_REPLAY) stamps it with frame_ns, the capture's time of the frame; the live one
 * ignores frame_ns and reads the clock. */
static __always_inline __u32 count(struct flow_key *key, void *data, void *end, __u32 ifindex, __u8 dir, __u64 len, __u64 pkts, __u64 frame_ns)
{
	struct flow_key k = {};
	struct flow_value *v;
	struct counters *c;
	__u32 zero = 0, tcp_flags = 0, had;
	__u64 now;
	int ret;

	c = bpf_map_lookup_elem(&counters, &zero);
	if (!c)
		return 0;
	/* counters is per-CPU: plain adds are exact. */
	c->packets[dir & 1] += pkts;
	c->bytes[dir & 1] += len;

	ret = parse_frame(data, end, &k, &tcp_flags);
	if (ret == PARSE_NON_IP) {
		c->non_ip += pkts;
		c->non_ip_bytes += len;
		return 0;
	}
	if (ret != PARSE_FLOW) {
		c->malformed += pkts;
		c->malformed_bytes += len;
		return 0;
	}
	k.dir = dir;
	k.ifindex = ifindex;
#ifdef TC_TOP_REPLAY
	now = frame_ns;
#else
	/* The coarse clock (CLOCK_MONOTONIC_COARSE, one jiffy behind at most) costs half as much per
	 * packet as bpf_ktime_get_ns(); first/last seen need no better than milliseconds. */
	now = bpf_ktime_get_coarse_ns();
#endif

	if (config.map_mode == TC_TOP_MAP_MMAP) {
		had = count_slot(&k, c, len, pkts, tcp_flags, now);
		goto counted;
	}
	v = bpf_map_lookup_elem(&flows, &k);
	if (!v) {
		struct flow_value nv = {
			.packets = pkts,
			.bytes = len,
			.first_seen = now,
			.last_seen = now,
			.tcp_flags = tcp_flags,
		};

		ret = bpf_map_update_elem(&flows, &k, &nv, BPF_NOEXIST);
		if (ret == 0) {
			c->flows_created += 1;
			had = FLAGS_NEW;
			goto counted;
		}
		/* Another CPU created it between our lookup and update: count into theirs. */
		if (ret == -EEXIST)
			v = bpf_map_lookup_elem(&flows, &k);
		if (!v) {
			c->update_failed += pkts;
			return 0;
		}
	}
	had = count_into(v, len, pkts, tcp_flags, now);
counted:
	if (config.handshakes && had && k.proto == IPPROTO_TCP)
		handshake(&k, tcp_flags, had, frame_ns);
	*key = k;
	return had;
}

#ifndef TC_TOP_REPLAY
SEC("xdp")
int tctop_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct flow_key k;

	count(&k, data, end, ctx->ingress_ifindex, TC_TOP_INGRESS, end - data, 1, 0);
	return XDP_PASS;
}

static __always_inline void count_skb(struct __sk_buff *skb, __u8 dir)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 segs = skb->gso_segs;
	struct flow_key k;
	__u32 had;

	/* Headers in paged fragments: make the start linear (a no-op for the usual skb). */
	if (end - data < PULL_LEN && skb->len > end - data) {
		bpf_skb_pull_data(skb, skb->len < PULL_LEN ? skb->len : PULL_LEN);
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}
	had = count(&k, data, end, skb->ifindex, dir, skb->len, segs > 1 ? segs : 1, 0);
	/* A flow's first frame only (count_into gives FLAGS_NEW alone for no other frame of a
	 * non-TCP flow). */
	if (config.owners && dir == TC_TOP_EGRESS && had == FLAGS_NEW)
		own_egress(skb, &k);
}

SEC("tc")
int tctop_tc_in(struct __sk_buff *skb)
{
	count_skb(skb, TC_TOP_INGRESS);
	return TC_ACT_UNSPEC; /* == TCX_NEXT */
}

SEC("tc")
int tctop_tc_eg(struct __sk_buff *skb)
{
	count_skb(skb, TC_TOP_EGRESS);
	return TC_ACT_UNSPEC; /* == TCX_NEXT */
}
#else
/*
 * One frame of a batch, the packet as it stands: counted as count_skb or tctop_xdp count it (a
 * test run's frame is linear, with one segment). Returns 0, uncounted, when the frame was given
 * cut and did not parse within what was given (it must run whole). Global, so that the verifier
 * checks it once, not once per frame of the batch loop.
 */
__noinline int replay_frame(struct xdp_md *ctx, __u32 dir, __u32 wire, __u64 time_ns, __u32 cut)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct flow_key k = {};
	__u32 tcp_flags = 0;

	if (cut && parse_frame(data, end, &k, &tcp_flags) == PARSE_MALFORMED)
		return 0;
	count(&k, data, end, ctx->ingress_ifindex, dir & 1, wire, 1, time_ns);
	return 1;
}

/* tc-top -r: up to TC_TOP_BATCH_MAX frames a test run (tc_top.h, struct tc_top_batch). */
SEC("xdp")
int tctop_replay_batch(struct xdp_md *ctx)
{
	__u32 i, n, len, pad, span, start, flags;
	int done = 0;

	for (i = 0; i < TC_TOP_BATCH_MAX; i++) {
		void *data = (void *)(long)ctx->data;
		void *end = (void *)(long)ctx->data_end;
		struct tc_top_batch *b = data;
		struct tc_top_batch_frame *f;
		__u64 time_ns;
		__u32 wire;

		if ((void *)(b + 1) > end)
			return done;
		n = b->n;
		if (i >= n)
			return done;
		f = data + sizeof(*b) + i * sizeof(*f);
		if ((void *)(f + 1) > end)
			return done;
		flags = f->len_flags;
		wire = f->wire;
		time_ns = (__u64)f->time_hi << 32 | f->time_lo;
		len = flags & TC_TOP_BATCH_LEN;
		pad = (len + 3) & ~3u;
		span = end - data;
		/* The frame, at the end of what is left, must lie past the records. */
		if (len < ETH_HLEN || pad + sizeof(*b) + n * sizeof(*f) > span)
			return done;
		start = span - pad;
		if (bpf_xdp_adjust_head(ctx, start))
			return done;
		if (pad != len && bpf_xdp_adjust_tail(ctx, -(int)(pad - len)))
			return done;
		if (!replay_frame(ctx, flags & TC_TOP_BATCH_EGRESS ? TC_TOP_EGRESS : TC_TOP_INGRESS, wire, time_ns, flags & TC_TOP_BATCH_CUT))
			return done;
		done++;
		/* Back to the records, without the frame. */
		if (bpf_xdp_adjust_head(ctx, -(int)start) || bpf_xdp_adjust_tail(ctx, -(int)len))
			return done;
	}
	return done;
}
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";
