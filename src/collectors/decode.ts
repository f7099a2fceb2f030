/** Kernel map bytes (layouts in src/ffi/layout.ts) to the model's types: addresses and global counters (flows: kernel-flows.ts). */
import { Counters } from '../ffi/layout.js';
import type { GlobalCounters } from '../model/types.js';

/** A little-endian u64 as a number (exact below 2^53), without allocating a BigInt. */
function u64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 0x1_0000_0000;
}

export function formatIpv4(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** RFC 5952 text: lower-case hex, the longest run (>= 2) of zero groups compressed to '::'. */
export function formatIpv6(buf: Buffer, off: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(off + i * 2));
  // IPv4-mapped addresses read better in their dotted form.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(buf, off + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The global counters, summed over the per-CPU slots. */
export function decodeCounters(values: Buffer, cpus: number, slot: number): GlobalCounters {
  const sum = (field: number): number => {
    let total = 0;
    for (let c = 0; c < cpus; c++) total += u64(values, c * slot + field);
    return total;
  };
  return {
    packetsIn: sum(Counters.packetsIn),
    packetsOut: sum(Counters.packetsOut),
    bytesIn: sum(Counters.bytesIn),
    bytesOut: sum(Counters.bytesOut),
    nonIp: sum(Counters.nonIp),
    nonIpBytes: sum(Counters.nonIpBytes),
    malformed: sum(Counters.malformed),
    malformedBytes: sum(Counters.malformedBytes),
    updateFailed: sum(Counters.updateFailed),
    flowsCreated: sum(Counters.flowsCreated),
  };
}
