/**
 * Which flow records a tick gives an IPFIX collector, with delta counts: for each flow, the
 * kernel's cumulative count at its last export is kept, so that the records of one flow add up to
 * its count. Pure (ticks in, records out); the state is in columns like the tick's, and a FlowRecord
 * is built only for the flows exported.
 *
 * A record goes out when a flow
 * - expires (--idle-timeout: the sampler deleted it this tick): flowEndReason idle timeout;
 * - has been counting for the active timeout since its last record (its first packet for the first):
 *   active timeout, and its count starts again from there;
 * - left the map without expiring (evicted from a full map, or evicted and recreated between two
 *   reads): lack of resources, with what tc-top saw of it up to the read before;
 * - is still there when the run ends (end()): forced end.
 * A flow that counted nothing since its last record gives none.
 *
 * The counts start at the kernel's: a flow already in the map when tc-top attached exports its count
 * since it entered the map, as the JSON's `packets` and the metrics have it.
 */
import { matchRows, monoToWallMs } from '../model/rates.js';
import type { FlowRecord, Snapshot, Tick } from '../model/types.js';
import { END_REASON } from './ipfix-encoder.js';

export interface FlowExport {
  readonly flow: FlowRecord;
  /** Counts since the flow's previous record. */
  readonly packets: number;
  readonly bytes: number;
  /** Wall-clock ms of the first and last packet the record covers (the first: see periodStartNs). */
  readonly startMs: number;
  readonly endMs: number;
  readonly endReason: number;
}

/** Per row of a snapshot: what was exported of the flow, and since when the next record counts. */
interface State {
  readonly snapshot: Snapshot;
  /** Cumulative packets and bytes of the kernel entry already exported. */
  readonly basePackets: Float64Array;
  readonly baseBytes: Float64Array;
  /**
   * Start of the period the next record covers (CLOCK_MONOTONIC ns): the flow's first packet, or
   * the read that exported its previous record (its next packet came after that read).
   */
  readonly periodStartNs: Float64Array;
}

export class FlowExportState {
  private last: State | undefined;

  /** @param activeTimeoutNs a flow counting for this long since its last record gets a new one */
  constructor(private readonly activeTimeoutNs: number) {}

  /** The read right after attaching: starts the state, exports nothing. */
  baseline(tick: Tick): void {
    const f = tick.snapshot.flows;
    this.last = {
      snapshot: tick.snapshot,
      basePackets: new Float64Array(f.length),
      baseBytes: new Float64Array(f.length),
      periodStartNs: Float64Array.from(f.firstSeenNs),
    };
  }

  /** The records this tick gives. */
  tick(tick: Tick): FlowExport[] {
    const snap = tick.snapshot;
    const cur = snap.flows;
    const prev = this.last;
    const was = prev?.snapshot.flows;
    const out: FlowExport[] = [];
    const old = matchRows(prev?.snapshot, snap);
    const seen = new Uint8Array(was?.length ?? 0);
    const basePackets = new Float64Array(cur.length);
    const baseBytes = new Float64Array(cur.length);
    const periodStartNs = new Float64Array(cur.length);

    /**
     * [exported packets, exported bytes, period start] for a flow read now with these counters,
     * from row p of the previous read (p < 0: a new flow).
     */
    const carry = (packets: number, bytes: number, firstSeenNs: number, p: number): [number, number, number] => {
      if (!prev || !was || p < 0) return [0, 0, firstSeenNs];
      seen[p] = 1;
      const recreated = packets < (was.packets[p] as number) || bytes < (was.bytes[p] as number) || firstSeenNs > (was.firstSeenNs[p] as number);
      if (!recreated) return [prev.basePackets[p] as number, prev.baseBytes[p] as number, prev.periodStartNs[p] as number];
      // The old entry went between the reads: what was seen of it, then the new entry from zero.
      this.pending(prev, p, END_REASON.lackOfResources, out);
      return [0, 0, firstSeenNs];
    };

    const now = snap.monoNs;
    for (let i = 0; i < cur.length; i++) {
      const packets = cur.packets[i] as number;
      const bytes = cur.bytes[i] as number;
      let [bp, bb, start] = carry(packets, bytes, cur.firstSeenNs[i] as number, old[i] as number);
      if ((packets > bp || bytes > bb) && now - start >= this.activeTimeoutNs) {
        out.push(exportOf(cur.record(i), snap, packets - bp, bytes - bb, start, cur.lastSeenNs[i] as number, END_REASON.activeTimeout));
        bp = packets;
        bb = bytes;
        start = now;
      }
      basePackets[i] = bp;
      baseBytes[i] = bb;
      periodStartNs[i] = start;
    }

    for (const flow of tick.expired) {
      const p = was ? was.indexOfKey(flow.key) : -1;
      const [bp, bb, start] = carry(flow.packets, flow.bytes, flow.firstSeenNs, p);
      if (flow.packets > bp || flow.bytes > bb) out.push(exportOf(flow, snap, flow.packets - bp, flow.bytes - bb, start, flow.lastSeenNs, END_REASON.idleTimeout));
    }

    // Flows of the previous read that are neither here nor expired: evicted from a full map.
    if (prev && was) for (let p = 0; p < was.length; p++) if (!seen[p]) this.pending(prev, p, END_REASON.lackOfResources, out);

    this.last = { snapshot: snap, basePackets, baseBytes, periodStartNs };
    return out;
  }

  /** Every flow's count not exported yet (the end of the run); the state is then empty. */
  end(): FlowExport[] {
    const prev = this.last;
    const out: FlowExport[] = [];
    if (!prev) return out;
    for (let p = 0; p < prev.snapshot.flows.length; p++) this.pending(prev, p, END_REASON.forcedEnd, out);
    this.last = undefined;
    return out;
  }

  /** Row p's count since its last record, as a record, when there is any. */
  private pending(s: State, p: number, reason: number, out: FlowExport[]): void {
    const f = s.snapshot.flows;
    const packets = (f.packets[p] as number) - (s.basePackets[p] as number);
    const bytes = (f.bytes[p] as number) - (s.baseBytes[p] as number);
    if (packets > 0 || bytes > 0) out.push(exportOf(f.record(p), s.snapshot, packets, bytes, s.periodStartNs[p] as number, f.lastSeenNs[p] as number, reason));
  }
}

function exportOf(flow: FlowRecord, snap: Snapshot, packets: number, bytes: number, startNs: number, endNs: number, endReason: number): FlowExport {
  // The kernel's clock is coarse (a jiffy): a period that began at a read may show a last packet just before it.
  const start = Math.min(startNs, endNs);
  return { flow, packets, bytes, startMs: monoToWallMs(start, snap), endMs: monoToWallMs(endNs, snap), endReason };
}
