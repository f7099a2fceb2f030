// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc-top's owner programs: which process and cgroup own the socket behind a flow. They run on
 * socket events, never on tc-top's counter path (tc_top.bpf.c is unchanged), and never decide
 * anything: every cgroup program returns 1 (allow).
 *
 * Two steps, so that the owner is always taken in process context and the key always comes from
 * the socket:
 *  1. The owner goes into the socket's storage (sock_owners, an SK_STORAGE map cloned to accepted
 *     children) when a process creates, binds or connects the socket: cgroup/sock_create,
 *     post_bind4/6, connect4/6. At start, iter/task_file gives each existing socket the task that
 *     holds it.
 *  2. The socket's addresses and ports are published with its owner into `owners` (struct
 *     owner_key) once they are known: TCP by sockops when it connects or is established (both
 *     ends); a bound UDP socket at bind (post_bind) as a wildcard on its local address and port;
 *     a UDP socket's first send to a peer (connected: its 4-tuple, unconnected: its local end) and
 *     a ping or raw socket's echo request by the counter programs' TC egress hook, once per new
 *     flow (tc_top.bpf.c, own_egress). No program here runs per packet, and none per send or
 *     receive: a socket's owner is the process that created, bound or connected it (or held it
 *     when tc-top started).
 * Both maps are the counter object's, reused by this one (tc_top_owner.h).
 * Sockets the kernel makes itself (RSTs, ICMP errors: its control sockets) have no storage, and
 * forwarded or injected frames no socket: they get no owner.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tc_top_owner.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_ICMPV6_ 58

/* The kernel's own types, only the fields read here; offsets come from the kernel's BTF (CO-RE). */
struct in6_addr {
	__u8 s6_addr[16];
} __attribute__((preserve_access_index));

struct net {
	__u64 net_cookie;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

struct socket {
	struct sock *sk;
} __attribute__((preserve_access_index));

struct file;

struct kernfs_node {
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));

typedef struct {
	__u32 val;
} kuid_t;

struct cred {
	kuid_t uid;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	char comm[16];
	const struct cred *cred;
	struct css_set *cgroups;
} __attribute__((preserve_access_index));

struct bpf_iter_meta {
	void *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
} __attribute__((preserve_access_index));

/* Entries written to `owners`: tc-top reads the map again only when this moved. */
__u64 owners_written = 0;

const volatile struct owner_config config = {};

/* Write the key with the socket's owner, unless it is the socket's last key under this owner. */
static __always_inline void publish(struct sock_owner *so, struct owner_key *k)
{
	if (owner_publish(so, k))
		__sync_fetch_and_add(&owners_written, 1);
}

/* The current task as the socket's owner (process context only); a new owner republishes. */
static __always_inline void own_current(struct sock_owner *so)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (so->owner.tgid == tgid && so->gen != 0)
		return;
	so->owner.tgid = tgid;
	so->owner.uid = (__u32)bpf_get_current_uid_gid();
	so->owner.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(so->owner.comm, sizeof(so->owner.comm));
	so->owner.recorded = bpf_ktime_get_coarse_ns();
	so->gen += 1;
}

static __always_inline int is_v4_mapped(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/*
 * Fill the addresses of a key from a socket's (IPv6 in 4 words, or IPv4 in one); an IPv4-mapped
 * IPv6 socket address is keyed as IPv4, the way its packets' flows are.
 */
static __always_inline void key_addrs(struct owner_key *k, __u32 family, __u32 l4, const __u32 *l6, __u32 r4, const __u32 *r6)
{
	__u32 *la = (__u32 *)k->laddr;
	__u32 *ra = (__u32 *)k->raddr;

	if (family == AF_INET) {
		k->family = 4;
		la[0] = l4;
		ra[0] = r4;
		return;
	}
	k->family = 6;
	if (is_v4_mapped(l6) && (is_v4_mapped(r6) || (r6[0] | r6[1] | r6[2] | r6[3]) == 0)) {
		k->family = 4;
		la[0] = l6[3];
		ra[0] = r6[3];
		return;
	}
	la[0] = l6[0];
	la[1] = l6[1];
	la[2] = l6[2];
	la[3] = l6[3];
	ra[0] = r6[0];
	ra[1] = r6[1];
	ra[2] = r6[2];
	ra[3] = r6[3];
}

static __always_inline int is_udp(__u32 proto)
{
	return proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE;
}

/*
 * A bound UDP socket's local end, as a wildcard key (any remote). `family` is a constant where the
 * hook says it: a post_bind program may read only the local fields of its own family.
 */
static __always_inline void publish_bound_udp(struct sock_owner *so, struct bpf_sock *sk, __u32 family)
{
	struct owner_key k = {};
	__u32 l6[4], r6[4] = {};

	if (family == AF_INET6) {
		l6[0] = sk->src_ip6[0];
		l6[1] = sk->src_ip6[1];
		l6[2] = sk->src_ip6[2];
		l6[3] = sk->src_ip6[3];
		key_addrs(&k, AF_INET6, 0, l6, 0, r6);
	} else {
		key_addrs(&k, AF_INET, sk->src_ip4, l6, 0, r6);
	}
	k.proto = sk->protocol;
	k.lport = sk->src_port;
	if (k.lport == 0)
		return; /* not bound to a port yet */
	publish(so, &k);
}

static __always_inline int ours(void *ctx)
{
	return bpf_get_netns_cookie(ctx) == config.netns_cookie;
}

SEC("cgroup/sock_create")
int tctop_own_create(struct bpf_sock *sk)
{
	struct sock_owner *so;

	if (!ours(sk))
		return 1;
	so = bpf_sk_storage_get(&sock_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (so)
		own_current(so);
	return 1;
}

/* After bind: a UDP socket is now a receiver on its local address and port. */
static __always_inline int on_bind(struct bpf_sock *sk, __u32 family)
{
	struct sock_owner *so;

	if (!ours(sk))
		return 1;
	so = bpf_sk_storage_get(&sock_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!so)
		return 1;
	own_current(so);
	if (is_udp(sk->protocol))
		publish_bound_udp(so, sk, family);
	return 1;
}

SEC("cgroup/post_bind4")
int tctop_own_bind4(struct bpf_sock *sk)
{
	return on_bind(sk, AF_INET);
}

SEC("cgroup/post_bind6")
int tctop_own_bind6(struct bpf_sock *sk)
{
	return on_bind(sk, AF_INET6);
}

/* connect: the process connecting the socket now owns it. */
static __always_inline int on_connect(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct sock_owner *so;

	if (!sk || !ours(ctx))
		return 1;
	so = bpf_sk_storage_get(&sock_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!so)
		return 1;
	own_current(so);
	return 1;
}

SEC("cgroup/connect4")
int tctop_own_conn4(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx);
}

SEC("cgroup/connect6")
int tctop_own_conn6(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx);
}

/*
 * A connection accepted by a listener that has no storage (it existed before tc-top, and the
 * iterator published it as a wildcard key instead): the connection gets the listener's owner,
 * found by its local address and port, or by any address (IPv4, or dual-stack IPv6).
 */
static __always_inline struct sock_owner *from_listener(struct bpf_sock_ops *skops, struct bpf_sock *sk)
{
	struct owner_key k = {};
	struct owner_value *ov;
	struct sock_owner *so;
	__u32 l6[4], r6[4] = {};

	if (skops->family == AF_INET6) {
		l6[0] = skops->local_ip6[0];
		l6[1] = skops->local_ip6[1];
		l6[2] = skops->local_ip6[2];
		l6[3] = skops->local_ip6[3];
		key_addrs(&k, AF_INET6, 0, l6, 0, r6);
	} else {
		key_addrs(&k, AF_INET, skops->local_ip4, l6, 0, r6);
	}
	k.proto = IPPROTO_TCP;
	k.lport = skops->local_port;
	ov = bpf_map_lookup_elem(&owners, &k);
	if (!ov) {
		__builtin_memset(k.laddr, 0, sizeof(k.laddr));
		ov = bpf_map_lookup_elem(&owners, &k);
	}
	if (!ov && k.family == 4) {
		k.family = 6;
		ov = bpf_map_lookup_elem(&owners, &k);
	}
	if (!ov)
		return NULL;
	so = bpf_sk_storage_get(&sock_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!so)
		return NULL;
	so->owner = *ov;
	so->gen += 1;
	return so;
}

/* TCP: both ends of a connection once they are known, with the owner the socket carries (an
 * accepted socket's is its listener's, cloned). */
SEC("sockops")
int tctop_own_tcp(struct bpf_sock_ops *skops)
{
	struct owner_key k = {};
	struct sock_owner *so;
	struct bpf_sock *sk;
	__u32 l6[4], r6[4], rp;

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		break;
	default:
		return 1;
	}
	sk = skops->sk;
	if (!sk)
		return 1;
	so = bpf_sk_storage_get(&sock_owners, sk, 0, 0);
	if (!so && skops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		so = from_listener(skops, sk);
	if (!so)
		return 1; /* not of our namespace, or the kernel's own */
	if (skops->family == AF_INET6) {
		l6[0] = skops->local_ip6[0];
		l6[1] = skops->local_ip6[1];
		l6[2] = skops->local_ip6[2];
		l6[3] = skops->local_ip6[3];
		r6[0] = skops->remote_ip6[0];
		r6[1] = skops->remote_ip6[1];
		r6[2] = skops->remote_ip6[2];
		r6[3] = skops->remote_ip6[3];
		key_addrs(&k, AF_INET6, 0, l6, 0, r6);
	} else {
		key_addrs(&k, AF_INET, skops->local_ip4, l6, skops->remote_ip4, r6);
	}
	k.proto = IPPROTO_TCP;
	k.lport = skops->local_port;
	/* remote_port is the big-endian port shifted up 16 bits on some kernels, in the low 16 on others. */
	rp = bpf_ntohl(skops->remote_port);
	k.rport = rp >> 16 ? rp >> 16 : rp;
	publish(so, &k);
	return 1;
}

/*
 * At start: every socket a task holds, owned by that task (a socket held by several, by the last
 * one met), published under its key: a connection's 4-tuple, a listener's or an unconnected UDP
 * socket's local end (any remote). No storage is given here: a kernel may refuse a socket reached
 * from a file as the storage's owner (6.18 does), and the keys say what is needed: a listener's
 * later connections find its owner by their local end (sockops, from_listener), an unconnected
 * socket's flows match its local end. A ping socket that existed before tc-top has no owner.
 */
SEC("iter/task_file")
int tctop_own_iter(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct owner_key k = {};
	struct owner_value ov = {};
	struct socket *sock;
	struct sock *sk;
	__u32 family, proto, l6[4], r6[4];
	__u16 dport;

	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk;
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie) != config.netns_cookie)
		return 0;
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto != IPPROTO_TCP && !is_udp(proto))
		return 0; /* ping/raw: no key without a remote */
	dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&l6, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&r6, sk, __sk_common.skc_v6_daddr);
		key_addrs(&k, AF_INET6, 0, l6, 0, r6);
	} else {
		key_addrs(&k, AF_INET, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr), l6, BPF_CORE_READ(sk, __sk_common.skc_daddr), r6);
	}
	k.proto = proto;
	k.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	k.rport = bpf_ntohs(dport);
	if (k.rport == 0)
		__builtin_memset(k.raddr, 0, sizeof(k.raddr)); /* a listener or an unconnected socket: its local end */
	if (k.lport == 0)
		return 0;
	ov.tgid = BPF_CORE_READ(task, tgid);
	ov.uid = BPF_CORE_READ(task, cred, uid.val);
	ov.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	BPF_CORE_READ_STR_INTO(&ov.comm, task, comm);
	ov.recorded = bpf_ktime_get_ns(); /* iterators may not read the coarse clock */
	if (bpf_map_update_elem(&owners, &k, &ov, BPF_ANY) == 0)
		__sync_fetch_and_add(&owners_written, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
