/**
 * Legacy filters go at a fixed handle in a small band of priorities, so that a later run can find
 * tc-top filters left by a killed one (leftovers.ts) without a netlink dump. The band sits before
 * tc's default priorities (49152 and below), so tc-top sees packets before other filters act.
 */
export const TC_HANDLE = 0x7c70;
export const TC_PRIORITIES: readonly number[] = Array.from({ length: 16 }, (_, i) => 0x2c70 + i);
