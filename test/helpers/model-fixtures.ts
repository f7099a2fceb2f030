/** Builders for model tests: a flow or snapshot with sensible defaults and only the fields a case cares about. */
import { RecordFlowSet, type FlowRate, type FlowRecord, type FlowSet, type GlobalCounters, type Snapshot } from '../../src/model/index.js';

export function flow(over: Partial<FlowRecord> = {}): FlowRecord {
  return {
    key: 'k1',
    family: 4,
    proto: 6,
    src: '10.0.0.1',
    dst: '10.0.0.2',
    sport: 40000,
    dport: 443,
    dir: 'egress',
    ifindex: 2,
    ifname: 'eth0',
    packets: 0,
    bytes: 0,
    firstSeenNs: 0,
    lastSeenNs: 0,
    tcpFlags: 0,
    ...over,
  };
}

export function rate(over: Partial<FlowRate> = {}): FlowRate {
  const zero = { deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0, pps2: 0, bps2: 0, pps10: 0, bps10: 0, pps40: 0, bps40: 0, peakPps: 0, peakBps: 0 };
  return { ...flow(over), ...zero, isNew: false, ...over };
}

export function counters(over: Partial<GlobalCounters> = {}): GlobalCounters {
  return {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    nonIp: 0,
    nonIpBytes: 0,
    malformed: 0,
    malformedBytes: 0,
    updateFailed: 0,
    flowsCreated: 0,
    ...over,
  };
}

/** A snapshot; its flows may be given as records. */
export function snapshot(over: Partial<Omit<Snapshot, 'flows'>> & { readonly flows?: readonly FlowRecord[] | FlowSet } = {}): Snapshot {
  const { flows = [], ...rest } = over;
  return { monoNs: 0, wallMs: 0, counters: counters(), maxFlows: 65536, flowsDeleted: 0, ...rest, flows: 'record' in flows ? flows : new RecordFlowSet(flows) };
}

/** Deterministic PRNG (mulberry32) so random-data tests fail the same way every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
