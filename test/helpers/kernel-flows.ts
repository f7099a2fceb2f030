/**
 * Flows in the kernel's key layout for the model's tests: random keys from small pools of
 * addresses, protocols and ports (so filters, groups and ties hit), as a KernelFlowSet.
 */
import { KernelFlowSet, decodeValues } from '../../src/collectors/kernel-flows.js';
import { FlowKey, FlowValue } from '../../src/ffi/layout.js';
import { prng } from './model-fixtures.js';

export const NAMES: Record<number, string> = { 2: 'eth0', 3: 'veth1' };
export const ifname = (i: number): string => NAMES[i] ?? `if${i}`;

/** A key in the map's layout: IPv4 or IPv6 addresses from a few small pools, so filters and ties hit. */
export function writeKey(buf: Buffer, at: number, random: () => number): void {
  const v6 = random() < 0.3;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  buf[at + FlowKey.family] = v6 ? 6 : 4;
  buf[at + FlowKey.proto] = pick([6, 17, 1, 58, 132, 47]);
  buf[at + FlowKey.dir] = random() < 0.5 ? 0 : 1;
  buf.writeUInt32LE(pick([2, 3]), at + FlowKey.ifindex);
  for (const side of [FlowKey.src, FlowKey.dst]) {
    if (v6) {
      buf.writeUInt32BE(pick([0x20010db8, 0xfe800000, 0]), at + side);
      buf.writeUInt32BE(pick([0, 0x10000]), at + side + 4);
      buf.writeUInt32BE(pick([0, 0xffff]), at + side + 8);
      buf.writeUInt32BE(Math.floor(random() * 4), at + side + 12);
    } else {
      buf.writeUInt32BE(pick([0x0a000001, 0x0a000002, 0x0a0000ff, 0xc0a80105, 0x08080808]), at + side);
    }
  }
  buf.writeUInt16LE(pick([22, 53, 443, 8080, 40000, 65535]), at + FlowKey.sport);
  buf.writeUInt16LE(pick([22, 53, 443, 8080, 40000, 0x0800]), at + FlowKey.dport);
}

/** n distinct random keys and their values (packets, bytes, first and last seen, flags). */
export function kernelSet(n: number, seed: number): { set: KernelFlowSet; keys: Buffer; values: Buffer } {
  const random = prng(seed);
  const keys = Buffer.alloc(n * FlowKey.size);
  const seen = new Set<string>();
  for (let i = 0; i < n; ) {
    writeKey(keys, i * FlowKey.size, random);
    const hex = keys.toString('hex', i * FlowKey.size, (i + 1) * FlowKey.size);
    if (seen.has(hex)) continue;
    seen.add(hex);
    i++;
  }
  const values = Buffer.alloc(n * FlowValue.size);
  for (let i = 0; i < n; i++) {
    const v = i * FlowValue.size;
    values.writeBigUInt64LE(BigInt(1 + Math.floor(random() * 5)), v + FlowValue.packets);
    values.writeBigUInt64LE(BigInt(Math.floor(random() * 3) * 100), v + FlowValue.bytes);
    values.writeBigUInt64LE(BigInt(1_000 + i), v + FlowValue.firstSeen);
    values.writeBigUInt64LE(BigInt(2_000 + i), v + FlowValue.lastSeen);
    values.writeUInt32LE(i & 0xff, v + FlowValue.tcpFlags);
  }
  return { set: new KernelFlowSet(keys, decodeValues(values, n, 1, FlowValue.size), ifname), keys, values };
}

/**
 * A read of the flows of `keys` (FlowKey.size bytes each) listed in `live`, in that order: flow i
 * with packets[i] packets, 100 bytes each, last seen at tick t (a second a tick). A map read as the
 * batch kind gives it: keys in a buffer of their own, so flows are matched by their key bytes.
 */
export function readOf(keys: Buffer, live: readonly number[], packets: Float64Array, t: number): KernelFlowSet {
  const k = Buffer.alloc(live.length * FlowKey.size);
  const v = Buffer.alloc(live.length * FlowValue.size);
  live.forEach((from, to) => {
    keys.copy(k, to * FlowKey.size, from * FlowKey.size, (from + 1) * FlowKey.size);
    v.writeBigUInt64LE(BigInt(packets[from]!), to * FlowValue.size + FlowValue.packets);
    v.writeBigUInt64LE(BigInt(packets[from]! * 100), to * FlowValue.size + FlowValue.bytes);
    v.writeBigUInt64LE(BigInt(t * 1e9), to * FlowValue.size + FlowValue.lastSeen);
  });
  return new KernelFlowSet(k, decodeValues(v, live.length, 1, FlowValue.size), ifname);
}
