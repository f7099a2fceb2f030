/**
 * A tick's rates in columns, one row per flow of its snapshot (the same row numbers as the
 * snapshot's FlowSet). Views select and order rows by these columns and turn into FlowRate
 * objects only the rows they show; all() builds every one, for the views that need them all.
 */
import type { FlowSet } from './flow-set.js';
import type { FlowRate, FlowRecord } from './types.js';

/** The per-row numbers of a tick, beyond the snapshot's own counters. */
export const RATE_COLUMNS = [
  'deltaPackets',
  'deltaBytes',
  'pps',
  'bps',
  'pps2',
  'bps2',
  'pps10',
  'bps10',
  'pps40',
  'bps40',
  'peakPps',
  'peakBps',
] as const;

export type RateColumn = (typeof RATE_COLUMNS)[number];

export class RateTable {
  readonly length: number;
  readonly deltaPackets: Float64Array;
  readonly deltaBytes: Float64Array;
  readonly pps: Float64Array;
  readonly bps: Float64Array;
  readonly pps2: Float64Array;
  readonly bps2: Float64Array;
  readonly pps10: Float64Array;
  readonly bps10: Float64Array;
  readonly pps40: Float64Array;
  readonly bps40: Float64Array;
  readonly peakPps: Float64Array;
  readonly peakBps: Float64Array;
  /** 1 when the flow was not in the previous snapshot. */
  readonly isNew: Uint8Array;
  private readonly built: (FlowRate | undefined)[] = [];
  private everything: FlowRate[] | undefined;

  /** Zeroed columns for every row of `flows`, for the model to fill in. */
  constructor(readonly flows: FlowSet) {
    const n = flows.length;
    this.length = n;
    this.deltaPackets = new Float64Array(n);
    this.deltaBytes = new Float64Array(n);
    this.pps = new Float64Array(n);
    this.bps = new Float64Array(n);
    this.pps2 = new Float64Array(n);
    this.bps2 = new Float64Array(n);
    this.pps10 = new Float64Array(n);
    this.bps10 = new Float64Array(n);
    this.pps40 = new Float64Array(n);
    this.bps40 = new Float64Array(n);
    this.peakPps = new Float64Array(n);
    this.peakBps = new Float64Array(n);
    this.isNew = new Uint8Array(n);
  }

  /** Row i as a FlowRate, built on first use; the same object every call. */
  row(i: number): FlowRate {
    let r = this.built[i];
    if (!r) {
      r = flowRate(this.flows.record(i), this, i);
      this.built[i] = r;
    }
    return r;
  }

  /** Every row, in row order. */
  all(): readonly FlowRate[] {
    if (!this.everything) {
      const out = new Array<FlowRate>(this.length);
      for (let i = 0; i < this.length; i++) out[i] = this.row(i);
      this.everything = out;
    }
    return this.everything;
  }
}

function flowRate(flow: FlowRecord, t: RateTable, i: number): FlowRate {
  // Fields copied one by one: an object spread is ten times slower on this V8.
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
    deltaPackets: t.deltaPackets[i] as number,
    deltaBytes: t.deltaBytes[i] as number,
    pps: t.pps[i] as number,
    bps: t.bps[i] as number,
    isNew: t.isNew[i] === 1,
    pps2: t.pps2[i] as number,
    bps2: t.bps2[i] as number,
    pps10: t.pps10[i] as number,
    bps10: t.bps10[i] as number,
    pps40: t.pps40[i] as number,
    bps40: t.bps40[i] as number,
    peakPps: t.peakPps[i] as number,
    peakBps: t.peakBps[i] as number,
  };
}
