/**
 * A tick's rates in columns, one row per flow of its snapshot (the same row numbers as the
 * snapshot's FlowSet). Views select and order rows by these columns and turn into FlowRate
 * objects only the rows they show; all() builds every one, for the views that need them all.
 *
 * The interval's deltas are stored; the rates are computed on demand from what the model gives
 * (RateSource), a whole column when a view sorts by it, one row when a view shows it: a table of
 * a million flows is then 17 MB instead of 100, and a column nobody sorts by costs nothing.
 */
import type { FlowSet } from './flow-set.js';
import type { RowIdentity } from './group-ids.js';
import { healthRow, type HealthColumns, type HealthRow } from './health.js';
import type { Owner, OwnerColumn } from './owners.js';
import type { FlowRate, FlowRecord, Peaks, WindowRates } from './types.js';

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

/** The window rates (WindowRates' names). */
export const WINDOW_RATES = ['pps2', 'bps2', 'pps10', 'bps10', 'pps40', 'bps40'] as const;
export type WindowRate = (typeof WINDOW_RATES)[number];

/** Rows asked for at once up to which windowsOf() sums their windows alone (the source's own limit is its choice). */
const FEW_ROWS = 1024;

/** The columns computed from a source: the windows and the peaks. */
export type WindowColumn = Exclude<RateColumn, 'deltaPackets' | 'deltaBytes' | 'pps' | 'bps'>;

/** How the windows and peaks of a table's rows are computed. */
export interface RateSource {
  /** The whole column. */
  column(name: WindowColumn): Float64Array;
  /** These rows' windows and peaks, in their order. */
  at(rows: readonly number[]): (WindowRates & Peaks)[];
}

/** Every window and peak at the interval's rate: the rates of a table with no longer history. */
export function intervalSource(table: RateTable): RateSource {
  return {
    column: (name) => (name.startsWith('pps') || name === 'peakPps' ? table.pps : table.bps),
    at: (rows) =>
      rows.map((i) => {
        const pps = table.pps[i] as number;
        const bps = table.bps[i] as number;
        return { pps2: pps, bps2: bps, pps10: pps, bps10: bps, pps40: pps, bps40: bps, peakPps: pps, peakBps: bps };
      }),
  };
}

/** The rows that counted in an interval, ascending, with their deltas. */
export interface MovedRows {
  readonly rows: Int32Array;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
}

const NOTHING_MOVED: MovedRows = { rows: new Int32Array(0), packets: new Float64Array(0), bytes: new Float64Array(0) };

/** Rows that moved, as a share of all, up to which the deltas are kept as a list (else as whole columns). */
export const FEW_MOVED = 1 / 4;

/** How many of the first n rows have deltas that are not both 0. */
function movedCount(packets: Float64Array, bytes: Float64Array, n: number): number {
  let moved = 0;
  for (let i = 0; i < n; i++) if (packets[i] !== 0 || bytes[i] !== 0) moved++;
  return moved;
}

/** The `moved` rows whose deltas are not both 0, ascending, with their deltas. */
function listMoved(packets: Float64Array, bytes: Float64Array, moved: number): MovedRows {
  const out = { rows: new Int32Array(moved), packets: new Float64Array(moved), bytes: new Float64Array(moved) };
  for (let i = 0, k = 0; k < moved; i++) {
    if (packets[i] === 0 && bytes[i] === 0) continue;
    out.rows[k] = i;
    out.packets[k] = packets[i] as number;
    out.bytes[k++] = bytes[i] as number;
  }
  return out;
}

export class RateTable {
  readonly length: number;
  /** 1 when the flow was not in the previous snapshot. */
  readonly isNew: Uint8Array;
  /** Seconds the interval rates are over, per row (a first read takes each flow's lifetime). */
  private readonly seconds: (i: number) => number;
  private source: RateSource;
  /** The flows' RTT, retransmits and drops, when the snapshot has them (set once, like the source). */
  health: HealthColumns | undefined;
  /** The flows' owners, when the snapshot has them (set once, like the source). */
  owners: OwnerColumn | undefined;
  /** Who each row is across the ticks of its history (set once by windows.ts; undefined outside one). */
  identity: RowIdentity | undefined;
  private readonly cache = new Map<RateColumn, Float64Array>();
  private readonly built: (FlowRate | undefined)[] = [];
  private everything: FlowRate[] | undefined;
  /**
   * The interval's deltas: the rows that moved, when few do (a tick of a million flows where a
   * hundredth move keeps 200 kB, not 16 MB), else whole columns.
   */
  private moved: MovedRows = NOTHING_MOVED;
  private whole: [packets: Float64Array, bytes: Float64Array] | undefined;

  /**
   * No deltas yet (setDeltas gives them) for every row of `flows`; rates over `seconds` (a number
   * for every row, or one per row). Windows and peaks are the interval's until withSource() gives
   * them a history.
   */
  constructor(
    readonly flows: FlowSet,
    seconds: number | ((i: number) => number),
  ) {
    const n = flows.length;
    this.length = n;
    this.isNew = new Uint8Array(n);
    this.seconds = typeof seconds === 'number' ? () => seconds : seconds;
    this.source = intervalSource(this);
  }

  /**
   * The interval's deltas, one per row (set once, before any view reads the table). Returns whether
   * the table keeps these arrays (else it copied the rows that moved, and the caller may reuse them).
   */
  setDeltas(packets: Float64Array, bytes: Float64Array): boolean {
    const n = this.length;
    const moved = movedCount(packets, bytes, n);
    if (moved > n * FEW_MOVED) {
      this.whole = [packets.length === n ? packets : packets.subarray(0, n), bytes.length === n ? bytes : bytes.subarray(0, n)];
      return true;
    }
    this.moved = listMoved(packets, bytes, moved);
    return false;
  }

  /** The interval's deltas as the rows that moved, ascending (set once, instead of setDeltas). */
  setMoved(moved: MovedRows): void {
    this.moved = moved;
  }

  /** The rows whose deltas are not both 0, ascending, with their deltas. */
  movedRows(): MovedRows {
    if (!this.whole) return this.moved;
    const [packets, bytes] = this.whole;
    return listMoved(packets, bytes, movedCount(packets, bytes, this.length));
  }

  /** Packets and bytes counted during the interval, per row (whole columns, made on first use when few moved). */
  get deltaPackets(): Float64Array {
    return this.wholeDeltas()[0];
  }
  get deltaBytes(): Float64Array {
    return this.wholeDeltas()[1];
  }

  private wholeDeltas(): [Float64Array, Float64Array] {
    if (!this.whole) {
      const packets = new Float64Array(this.length);
      const bytes = new Float64Array(this.length);
      const m = this.moved;
      for (let k = 0; k < m.rows.length; k++) {
        packets[m.rows[k] as number] = m.packets[k] as number;
        bytes[m.rows[k] as number] = m.bytes[k] as number;
      }
      this.whole = [packets, bytes];
    }
    return this.whole;
  }

  /** Where row i is in the list of rows that moved, or -1 (its deltas are 0). */
  private movedAt(i: number): number {
    const rows = this.moved.rows;
    let lo = 0;
    let hi = rows.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rows[mid] as number;
      if (r === i) return mid;
      if (r < i) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Windows and peaks from a history (set once, before any view reads the table). */
  withSource(source: RateSource): this {
    this.source = source;
    return this;
  }

  private cached(name: RateColumn, make: () => Float64Array): Float64Array {
    let column = this.cache.get(name);
    if (!column) {
      column = make();
      this.cache.set(name, column);
    }
    return column;
  }

  /** Per row, its delta (packets, or bytes when `bytes`) times scale over its seconds, or 0 when there is no interval to divide by. */
  private perSecond(bytes: boolean, scale: number): Float64Array {
    const out = new Float64Array(this.length);
    const rate = (i: number, count: number): void => {
      const s = this.seconds(i);
      out[i] = s > 0 ? (count * scale) / s : 0;
    };
    if (this.whole) {
      const counts = this.whole[bytes ? 1 : 0];
      for (let i = 0; i < this.length; i++) rate(i, counts[i] as number);
    } else {
      // The rows that did not move are 0 at any interval (as 0 * scale / s is).
      const m = this.moved;
      const counts = bytes ? m.bytes : m.packets;
      for (let k = 0; k < m.rows.length; k++) rate(m.rows[k] as number, counts[k] as number);
    }
    return out;
  }

  /** A window or peak column, from the source, once. */
  private window(name: WindowColumn): Float64Array {
    return this.cached(name, () => this.source.column(name));
  }

  /** Packets and bits per second over the interval. */
  get pps(): Float64Array {
    return this.cached('pps', () => this.perSecond(false, 1));
  }
  get bps(): Float64Array {
    return this.cached('bps', () => this.perSecond(true, 8));
  }
  get pps2(): Float64Array {
    return this.window('pps2');
  }
  get bps2(): Float64Array {
    return this.window('bps2');
  }
  get pps10(): Float64Array {
    return this.window('pps10');
  }
  get bps10(): Float64Array {
    return this.window('bps10');
  }
  get pps40(): Float64Array {
    return this.window('pps40');
  }
  get bps40(): Float64Array {
    return this.window('bps40');
  }
  get peakPps(): Float64Array {
    return this.window('peakPps');
  }
  get peakBps(): Float64Array {
    return this.window('peakBps');
  }

  /**
   * These rows' window rates, one array per window column in the rows' order: read from the columns
   * already made, the others summed for these rows alone when they are few (as rows() does), so
   * that showing a few rows never makes a whole window column. Equal to the columns to the last bit.
   */
  windowsOf(rows: readonly number[]): Record<WindowRate, Float64Array> {
    const out = {} as Record<WindowRate, Float64Array>;
    const missing = WINDOW_RATES.filter((name) => !this.cache.has(name));
    const few = missing.length > 0 && rows.length <= FEW_ROWS ? this.source.at(rows) : undefined;
    for (const name of WINDOW_RATES) {
      const column = few && !this.cache.has(name) ? undefined : this.window(name);
      out[name] = column ? Float64Array.from(rows, (i) => column[i] as number) : Float64Array.from(few as WindowRates[], (w) => w[name]);
    }
    return out;
  }

  /**
   * These rows' interval deltas and rates, one array per column in the rows' order, equal to the
   * columns to the last bit: read per row when they are few (from the rows that moved, when few
   * did), so that a few rows never make a whole column; from the columns for many.
   */
  intervalOf(rows: readonly number[]): Record<'deltaPackets' | 'deltaBytes' | 'pps' | 'bps', Float64Array> {
    const n = rows.length;
    if (n > FEW_ROWS) {
      const gather = (column: Float64Array): Float64Array => Float64Array.from(rows, (i) => column[i] as number);
      return { deltaPackets: gather(this.deltaPackets), deltaBytes: gather(this.deltaBytes), pps: gather(this.pps), bps: gather(this.bps) };
    }
    const deltaPackets = new Float64Array(n);
    const deltaBytes = new Float64Array(n);
    const pps = new Float64Array(n);
    const bps = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const i = rows[k] as number;
      const dp = this.deltaAt(i, false);
      const db = this.deltaAt(i, true);
      const s = this.seconds(i);
      deltaPackets[k] = dp;
      deltaBytes[k] = db;
      // As perSecond() makes the columns.
      pps[k] = s > 0 ? (dp * 1) / s : 0;
      bps[k] = s > 0 ? (db * 8) / s : 0;
    }
    return { deltaPackets, deltaBytes, pps, bps };
  }

  /** Row i's delta of packets (or bytes), without making whole columns when few moved. */
  private deltaAt(i: number, bytes: boolean): number {
    if (this.whole) return this.whole[bytes ? 1 : 0][i] as number;
    const k = this.movedAt(i);
    return k < 0 ? 0 : ((bytes ? this.moved.bytes : this.moved.packets)[k] as number);
  }

  /** Row i as a FlowRate, built on first use; the same object every call. */
  row(i: number): FlowRate {
    return this.rows([i])[0] as FlowRate;
  }

  /** These rows as FlowRates, in their order (those not built yet, built together). */
  rows(rows: readonly number[]): FlowRate[] {
    const missing = rows.filter((i) => !this.built[i]);
    if (missing.length > 0) {
      const windows = this.source.at(missing);
      missing.forEach((i, k) => (this.built[i] = this.rate(this.flows.record(i), i, windows[k] as WindowRates & Peaks)));
    }
    return rows.map((i) => this.built[i] as FlowRate);
  }

  /** Every row, in row order. */
  all(): readonly FlowRate[] {
    if (!this.everything) {
      this.everything = this.rows(Array.from({ length: this.length }, (_, i) => i));
    }
    return this.everything;
  }

  private rate(flow: FlowRecord, i: number, w: WindowRates & Peaks): FlowRate {
    const s = this.seconds(i);
    const dp = this.deltaAt(i, false);
    const db = this.deltaAt(i, true);
    // Fields copied one by one: an object spread is ten times slower on this V8.
    const rate: FlowRate = {
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
      deltaPackets: dp,
      deltaBytes: db,
      pps: s > 0 ? dp / s : 0,
      bps: s > 0 ? (db * 8) / s : 0,
      isNew: this.isNew[i] === 1,
      pps2: w.pps2,
      bps2: w.bps2,
      pps10: w.pps10,
      bps10: w.bps10,
      pps40: w.pps40,
      bps40: w.bps40,
      peakPps: w.peakPps,
      peakBps: w.peakBps,
    };
    // Only with health, so that rows without it have no member for it at all.
    if (this.health) (rate as { health?: HealthRow }).health = healthRow(this.health, i);
    // Only with owners, so that rows without them have no member for it at all.
    if (this.owners) (rate as { owner?: Owner | null }).owner = this.owners.owner(i);
    return rate;
  }
}
