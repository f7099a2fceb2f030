// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The benchmark's baseline: programs of the same kinds as tc-top's that return at once, so that
 * BPF_PROG_TEST_RUN's own cost per run (the loop, the timer, the context) can be subtracted.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int empty_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int empty_tc(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

/* The owner programs' baseline: a cgroup_skb egress program that allows every packet. */
SEC("cgroup_skb/egress")
int empty_cg_egress(struct __sk_buff *skb)
{
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
