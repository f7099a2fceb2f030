/**
 * Deltas and rates from two snapshots of cumulative kernel counters. The kernel only ever adds;
 * the model turns "how much so far" into "how much per second now", and owns the edge cases:
 * first read, zero-length interval, and counters that went backwards because a flow was evicted
 * and recreated (or the programs reloaded).
 */
import type { FlowRate, FlowRecord, Snapshot } from './types.js';

/** Floor for a flow's lifetime on the first read, so a flow born just now cannot give Infinity. */
const MIN_FIRST_READ_S = 1e-3;

/** Seconds between two snapshots; 0 when the clock did not advance (or went backwards). */
export function intervalSeconds(prev: Snapshot, cur: Snapshot): number {
  const seconds = (cur.monoNs - prev.monoNs) / 1e9;
  return seconds > 0 && Number.isFinite(seconds) ? seconds : 0;
}

/** count / seconds, or 0 when there is no interval to divide by: rates are never NaN or Infinity. */
function perSecond(count: number, seconds: number): number {
  return seconds > 0 ? count / seconds : 0;
}

/** cur - prev, or all of cur when the counter went backwards (reset: counting started again). */
function counterDelta(cur: number, prev: number): number {
  return cur >= prev ? cur - prev : cur;
}

/**
 * A flow that kept its key but is not the same kernel entry: evicted and recreated between reads.
 * A later first-seen catches it even when the new entry already counted more than the old one.
 */
function wasRecreated(cur: FlowRecord, prev: FlowRecord): boolean {
  return cur.packets < prev.packets || cur.bytes < prev.bytes || cur.firstSeenNs > prev.firstSeenNs;
}

/**
 * Per-flow deltas and rates, in cur's order.
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

function withRates(
  flow: FlowRecord,
  deltaPackets: number,
  deltaBytes: number,
  seconds: number,
  isNew: boolean,
): FlowRate {
  return {
    ...flow,
    deltaPackets,
    deltaBytes,
    pps: perSecond(deltaPackets, seconds),
    bps: perSecond(deltaBytes * 8, seconds),
    isNew,
  };
}

/** The header line's numbers: cumulative totals, rates over the last interval, map health. */
export interface Totals {
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Packets and bits per second over the last interval; 0 on the first read. */
  readonly ppsIn: number;
  readonly ppsOut: number;
  readonly bpsIn: number;
  readonly bpsOut: number;
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
  return {
    packetsIn: c.packetsIn,
    packetsOut: c.packetsOut,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    ppsIn: rate(c.packetsIn, p?.packetsIn, 1),
    ppsOut: rate(c.packetsOut, p?.packetsOut, 1),
    bpsIn: rate(c.bytesIn, p?.bytesIn, 8),
    bpsOut: rate(c.bytesOut, p?.bytesOut, 8),
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
