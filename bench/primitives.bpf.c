// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The benchmark's price list: XDP programs that each do one of the things tc-top's programs do per
 * packet, on nothing else, so that the data-plane table can say where the nanoseconds go. The key
 * and value have tc-top's sizes (48 and 40 bytes, bpf/tc_top.h).
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct key48 {
	__u64 w[6];
};

struct value40 {
	__u64 packets;
	__u64 bytes;
	__u64 first_seen;
	__u64 last_seen;
	__u32 tcp_flags;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct key48);
	__type(value, struct value40);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct value40);
} percpu_counter SEC(".maps");

/* The clock tc-top reads once per packet for first/last seen. */
SEC("xdp")
int prim_ktime(struct xdp_md *ctx)
{
	volatile __u64 now = bpf_ktime_get_ns();

	(void)now;
	return XDP_PASS;
}

/* The coarse clock (jiffies resolution, kernel 5.11+): what tc-top could read instead. */
SEC("xdp")
int prim_ktime_coarse(struct xdp_md *ctx)
{
	volatile __u64 now = bpf_ktime_get_coarse_ns();

	(void)now;
	return XDP_PASS;
}

/* One per-CPU array lookup and two plain adds: tc-top's global counters. */
SEC("xdp")
int prim_counter(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct value40 *v = bpf_map_lookup_elem(&percpu_counter, &zero);

	if (v) {
		v->packets += 1;
		v->bytes += ctx->data_end - ctx->data;
	}
	return XDP_PASS;
}

/* A hit in an LRU hash with a 48-byte key (created on the first run). */
SEC("xdp")
int prim_lookup(struct xdp_md *ctx)
{
	struct key48 k = {};
	struct value40 nv = {};

	k.w[0] = 0x0604;
	if (!bpf_map_lookup_elem(&lru, &k))
		bpf_map_update_elem(&lru, &k, &nv, BPF_NOEXIST);
	return XDP_PASS;
}

/* The same hit, then two atomic adds and a store on the value: tc-top's update of a flow. */
SEC("xdp")
int prim_lookup_atomic(struct xdp_md *ctx)
{
	struct key48 k = {};
	struct value40 nv = {};
	struct value40 *v;

	k.w[0] = 0x0604;
	v = bpf_map_lookup_elem(&lru, &k);
	if (!v) {
		bpf_map_update_elem(&lru, &k, &nv, BPF_NOEXIST);
		return XDP_PASS;
	}
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, ctx->data_end - ctx->data);
	v->last_seen = 1;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
