/**
 * Deltas and rates from two snapshots of cumulative kernel counters. The kernel only ever adds;
 * the model turns "how much so far" into "how much per second now", and owns the edge cases:
 * first read, zero-length interval, and counters that went backwards because a flow was evicted
 * and recreated (or the programs reloaded).
 */
import { joinHealth } from './health.js';
import type { FlowSet } from './flow-set.js';
import { OwnerColumn } from './owners.js';
import { FEW_MOVED, RateTable } from './rate-table.js';
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
export function wasRecreated(cur: FlowSet, i: number, prev: FlowSet, p: number): boolean {
  return (
    (cur.packets[i] as number) < (prev.packets[p] as number) ||
    (cur.bytes[i] as number) < (prev.bytes[p] as number) ||
    (cur.firstSeenNs[i] as number) > (prev.firstSeenNs[p] as number)
  );
}

/** For each row of cur, the row of prev that holds the same flow, or -1 (all -1 without prev). */
export function matchRows(prev: Snapshot | undefined, cur: Snapshot): Int32Array {
  if (prev) {
    const all = prev.flows.matchLater?.(cur.flows);
    if (all) return all;
  }
  const old = new Int32Array(cur.flows.length).fill(-1);
  if (!prev) return old;
  // Rows mostly keep their order from read to read: the row after the last match is the first guess.
  let next = 0;
  for (let j = 0; j < old.length; j++) {
    const p = prev.flows.find(cur.flows, j, next);
    old[j] = p;
    if (p >= 0) next = p + 1;
  }
  return old;
}

/**
 * Per-flow deltas and rates, in cur's row order. Two snapshots are one interval of history, so every
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
export function computeRateTable(prev: Snapshot | undefined, cur: Snapshot, old: Int32Array = matchRows(prev, cur)): RateTable {
  const f = cur.flows;
  const seconds = prev ? intervalSeconds(prev, cur) : (i: number) => Math.max((cur.monoNs - (f.firstSeenNs[i] as number)) / 1e9, MIN_FIRST_READ_S);
  const t = new RateTable(f, seconds);
  if (cur.health) t.health = joinHealth(f, cur.health, prev?.health);
  if (cur.owners) t.owners = OwnerColumn.join(cur, f, cur.owners, cur.monoNs, prev, old);
  const packets = f.packets;
  const bytes = f.bytes;
  if (!prev) {
    t.setDeltas(packets.slice(), bytes.slice());
    return t;
  }
  const isNew = t.isNew;
  // The rows that moved, as a list while they are few (most ticks of many flows); past that, whole columns.
  const limit = t.length * FEW_MOVED;
  const rows: number[] = [];
  const movedPackets: number[] = [];
  const movedBytes: number[] = [];
  let whole: [Float64Array, Float64Array] | undefined;
  // wasRecreated, inlined over columns read once (a million rows a tick).
  const firstSeen = f.firstSeenNs;
  const was = prev.flows;
  const wasPackets = was.packets;
  const wasBytes = was.bytes;
  const wasFirstSeen = was.firstSeenNs;
  for (let i = 0; i < t.length; i++) {
    const p = old[i] as number;
    let dp = packets[i] as number;
    let db = bytes[i] as number;
    if (p < 0) isNew[i] = 1;
    else if (!(dp < (wasPackets[p] as number) || db < (wasBytes[p] as number) || (firstSeen[i] as number) > (wasFirstSeen[p] as number))) {
      dp -= wasPackets[p] as number;
      db -= wasBytes[p] as number;
    }
    if (whole) {
      whole[0][i] = dp;
      whole[1][i] = db;
    } else if (dp !== 0 || db !== 0) {
      rows.push(i);
      movedPackets.push(dp);
      movedBytes.push(db);
      if (rows.length > limit) {
        whole = [new Float64Array(t.length), new Float64Array(t.length)];
        for (let k = 0; k < rows.length; k++) {
          whole[0][rows[k] as number] = movedPackets[k] as number;
          whole[1][rows[k] as number] = movedBytes[k] as number;
        }
      }
    }
  }
  if (whole) t.setDeltas(whole[0], whole[1]);
  else t.setMoved({ rows: Int32Array.from(rows), packets: Float64Array.from(movedPackets), bytes: Float64Array.from(movedBytes) });
  return t;
}

/** computeRateTable's rows as FlowRate objects. */
export function computeRates(prev: Snapshot | undefined, cur: Snapshot): FlowRate[] {
  return [...computeRateTable(prev, cur).all()];
}

/** Every window at one rate. */
export function sameRates(pps: number, bps: number): WindowRates {
  return { pps2: pps, bps2: bps, pps10: pps, bps10: bps, pps40: pps, bps40: bps };
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

/** Rows of flows idle for longer than the timeout (last frame strictly before cur.monoNs - idleTimeoutNs). */
export function expiredRows(cur: Snapshot, idleTimeoutNs: number): number[] {
  const cutoff = cur.monoNs - idleTimeoutNs;
  const last = cur.flows.lastSeenNs;
  const rows: number[] = [];
  for (let i = 0; i < cur.flows.length; i++) if ((last[i] as number) < cutoff) rows.push(i);
  return rows;
}

/** The flows of expiredRows, as records. */
export function expiredFlows(cur: Snapshot, idleTimeoutNs: number): FlowRecord[] {
  return expiredRows(cur, idleTimeoutNs).map((i) => cur.flows.record(i));
}

/** A kernel timestamp (CLOCK_MONOTONIC ns) as wall-clock ms, using the pair taken with the snapshot. */
export function monoToWallMs(monoNs: number, snap: Snapshot): number {
  return snap.wallMs - (snap.monoNs - monoNs) / 1e6;
}
