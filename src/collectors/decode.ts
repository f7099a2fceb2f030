/**
 * Kernel map bytes (layouts in src/ffi/layout.ts) to the model's types: the global counters (flows:
 * kernel-flows.ts; addresses: the model's formatIPv4/formatIPv6 in src/model/address.ts).
 */
import { Counters } from '../ffi/layout.js';
import type { GlobalCounters } from '../model/types.js';

/** A little-endian u64 as a number (exact below 2^53), without allocating a BigInt. */
function u64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 0x1_0000_0000;
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
