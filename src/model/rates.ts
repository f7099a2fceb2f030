/**
 * Deltas and rates from two snapshots of cumulative kernel counters. The kernel only ever adds;
 * the model turns "how much so far" into "how much per second now", and owns the edge cases:
 * first read, zero-length interval, and counters that went backwards because a flow was evicted
 * and recreated (or the programs reloaded).
 */
import type { FlowRate, FlowRecord, Peaks, Snapshot, WindowRates } from './types.js';

/** Floor for a flow's lifetime on the first read, so a flow born just now cannot give Infinity. */
const MIN_FIRST_READ_S = 1e-3;

/** Seconds between two snapshots; 0 when the clock did not advance (or went backwards). */
export function intervalSeconds(prev: Snapshot, cur: Snapshot): number {
  const seconds = (cur.monoNs - prev.monoNs) / 1e9;
  return seconds > 0 && Number.isFinite(seconds) ? seconds : 0;
}

/** count / seconds, or 0 when there is no interval to divide by: rates are never NaN or Infinity. */
export function perSecond(count: number, seconds: number): number {
  return seconds > 0 ? count / seconds : 0;
}

/** cur - prev, or all of cur when the counter went backwards (reset: counting started again). */
export function counterDelta(cur: number, prev: number): number {
  return cur >= prev ? cur - prev : cur;
}

/**
 * A flow that kept its key but is not the same kernel entry: evicted and recreated between reads.
 * A later first-seen catches it even when the new entry already counted more than the old one.
 */
export function wasRecreated(cur: FlowRecord, prev: FlowRecord): boolean {
  return cur.packets < prev.packets || cur.bytes < prev.bytes || cur.firstSeenNs > prev.firstSeenNs;
}

/**
 * Per-flow deltas and rates, in cur's order. Two snapshots are one interval of history, so every
 * window's rate and the peaks are the interval's (windows.ts refines them from a longer history).
 *
 * - Both snapshots hold the flow: delta = cur - prev over the snapshot interval; a recreated
 *   entry (see wasRecreated) counts its whole cumulative value as the delta.
 * - Only cur holds it (isNew): it began after prev was read, so its cumulative counters are the delta.
 * - No prev (first read): each flow's cumulative counters over its own lifetime
 *   (cur.monoNs - firstSeenNs, at least 1 ms), so the first frame already shows plausible rates.
 *   isNew is false: nothing is known to have appeared, and flagging every row would be noise.
 * - A zero-length interval gives rates 0 (deltas are still reported).
 */
export function computeRates(prev: Snapshot | undefined, cur: Snapshot): FlowRate[] {
  if (!prev) {
    return cur.flows.map((flow) => {
      const lifetime = Math.max((cur.monoNs - flow.firstSeenNs) / 1e9, MIN_FIRST_READ_S);
      return withRates(flow, flow.packets, flow.bytes, lifetime, false);
    });
  }
  const before = new Map(prev.flows.map((flow) => [flow.key, flow]));
  const seconds = intervalSeconds(prev, cur);
  return cur.flows.map((flow) => {
    const old = before.get(flow.key);
    if (!old) return withRates(flow, flow.packets, flow.bytes, seconds, true);
    if (wasRecreated(flow, old)) return withRates(flow, flow.packets, flow.bytes, seconds, false);
    return withRates(flow, flow.packets - old.packets, flow.bytes - old.bytes, seconds, false);
  });
}

function withRates(flow: FlowRecord, deltaPackets: number, deltaBytes: number, seconds: number, isNew: boolean): FlowRate {
  const pps = perSecond(deltaPackets, seconds);
  const bps = perSecond(deltaBytes * 8, seconds);
  return flowRate(flow, { deltaPackets, deltaBytes, pps, bps, isNew }, sameRates(pps, bps), { peakPps: pps, peakBps: bps });
}

/** Every window at one rate. */
function sameRates(pps: number, bps: number): WindowRates {
  return { pps2: pps, bps2: bps, pps10: pps, bps10: bps, pps40: pps, bps40: bps };
}

type Interval = Pick<FlowRate, 'deltaPackets' | 'deltaBytes' | 'pps' | 'bps' | 'isNew'>;

/** A FlowRate from its record, its interval's numbers, its window rates and its peaks. */
export function flowRate(flow: FlowRecord, i: Interval, w: WindowRates, p: Peaks): FlowRate {
  // Fields copied one by one: an object spread here is ten times slower at 100k flows (V8 slow path).
  return {
    key: flow.key,
    family: flow.family,
    proto: flow.proto,
    src: flow.src,
    dst: flow.dst,
    sport: flow.sport,
    dport: flow.dport,
    dir: flow.dir,
    ifindex: flow.ifindex,
    ifname: flow.ifname,
    packets: flow.packets,
    bytes: flow.bytes,
    firstSeenNs: flow.firstSeenNs,
    lastSeenNs: flow.lastSeenNs,
    tcpFlags: flow.tcpFlags,
    deltaPackets: i.deltaPackets,
    deltaBytes: i.deltaBytes,
    pps: i.pps,
    bps: i.bps,
    isNew: i.isNew,
    pps2: w.pps2,
    bps2: w.bps2,
    pps10: w.pps10,
    bps10: w.bps10,
    pps40: w.pps40,
    bps40: w.bps40,
    peakPps: p.peakPps,
    peakBps: p.peakBps,
  };
}

/** The header line's numbers: cumulative totals, rates over the last interval and the windows, map health. */
export interface Totals extends Peaks {
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Packets and bits per second over the last interval; 0 on the first read. */
  readonly ppsIn: number;
  readonly ppsOut: number;
  readonly bpsIn: number;
  readonly bpsOut: number;
  /** Rates over the windows, per direction; the peaks are of in + out. */
  readonly windowsIn: WindowRates;
  readonly windowsOut: WindowRates;
  readonly activeFlows: number;
  /** Flows the LRU map dropped silently to make room: created - live - deleted by us. */
  readonly evictions: number;
  readonly nonIp: number;
  readonly malformed: number;
  readonly updateFailed: number;
}

/**
 * Totals from the global counters (which also count frames no flow holds: non-IP, malformed,
 * update failures), so the header stays right even when the flows map is full.
 */
export function computeTotals(prev: Snapshot | undefined, cur: Snapshot): Totals {
  const c = cur.counters;
  const seconds = prev ? intervalSeconds(prev, cur) : 0;
  const rate = (now: number, then: number | undefined, scale: number): number =>
    then === undefined ? 0 : perSecond(counterDelta(now, then) * scale, seconds);
  const p = prev?.counters;
  const ppsIn = rate(c.packetsIn, p?.packetsIn, 1);
  const ppsOut = rate(c.packetsOut, p?.packetsOut, 1);
  const bpsIn = rate(c.bytesIn, p?.bytesIn, 8);
  const bpsOut = rate(c.bytesOut, p?.bytesOut, 8);
  return {
    packetsIn: c.packetsIn,
    packetsOut: c.packetsOut,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    ppsIn,
    ppsOut,
    bpsIn,
    bpsOut,
    windowsIn: sameRates(ppsIn, bpsIn),
    windowsOut: sameRates(ppsOut, bpsOut),
    peakPps: ppsIn + ppsOut,
    peakBps: bpsIn + bpsOut,
    activeFlows: cur.flows.length,
    evictions: Math.max(0, c.flowsCreated - cur.flows.length - cur.flowsDeleted),
    nonIp: c.nonIp,
    malformed: c.malformed,
    updateFailed: c.updateFailed,
  };
}

/** Flows idle for longer than the timeout (last frame strictly before cur.monoNs - idleTimeoutNs). */
export function expiredFlows(cur: Snapshot, idleTimeoutNs: number): FlowRecord[] {
  const cutoff = cur.monoNs - idleTimeoutNs;
  return cur.flows.filter((flow) => flow.lastSeenNs < cutoff);
}

/** A kernel timestamp (CLOCK_MONOTONIC ns) as wall-clock ms, using the pair taken with the snapshot. */
export function monoToWallMs(monoNs: number, snap: Snapshot): number {
  return snap.wallMs - (snap.monoNs - monoNs) / 1e6;
}
