/**
 * Rate windows (iftop's 2, 10 and 40 s averages) and peaks, from a short history of samples.
 *
 * Each sample is one interval (between two snapshots) and keeps only what counted in it: the
 * deltas of the flows that moved, as computeRateTable takes them (so an evicted and recreated
 * entry, or a counter that restarts, adds its new count instead of going backwards), and the
 * deltas of the global counters. A window's rate is exact: the deltas of the intervals inside the
 * window, plus the part of the interval that straddles its start taken as spread evenly over it
 * (so a missed tick or timer jitter moves no boundary), over the window's length. With less than
 * W seconds of history, the window is the whole history.
 *
 * A step's cost is the flows of its snapshot; a window is summed from the samples when a view
 * asks for it, a whole column (to sort by) or one row (to show), so its cost is the deltas of the
 * samples it spans. Memory is the deltas of the last 40 s: flows that sat idle cost nothing in
 * the samples. (One column of every flow per sample would be 750 MB for a million flows.)
 *
 * Samples closer than SPACING_NS are merged (the newer replaces the newest kept one), samples older
 * than the longest window are dropped. A flow keeps its slot while it stays in the snapshots; the
 * slot of one that left goes to a new flow from the next sample on, and each slot remembers the
 * sample its flow was born in, so the old flow's deltas still kept are skipped and two flows'
 * counts never mix (slots, and memory, grow with the flows live, not with those seen in 40 s).
 * The history is immutable: a step returns a new one and never writes what an older one holds.
 */
import { RateTable, type RateSource, type WindowColumn } from './rate-table.js';
import { computeRateTable, computeTotals, counterDelta, matchRows, type Totals } from './rates.js';
import type { FlowRate, Peaks, Snapshot, Window, WindowRates } from './types.js';

export const WINDOWS: readonly Window[] = [2, 10, 40];

const LONGEST_NS = 40e9;
/**
 * Samples closer than this are merged, so that memory does not grow with the tick rate: a little
 * under the default 1 s interval, so that timer jitter never merges two default ticks.
 */
const SPACING_NS = 0.9e9;

export interface Rate {
  readonly pps: number;
  readonly bps: number;
}

/** One window's packets and bits per second. */
export function windowRate(r: WindowRates, w: Window): Rate {
  return { pps: r[`pps${w}`], bps: r[`bps${w}`] };
}

/** What counted in one interval. */
interface Sample {
  /** Monotonic time of the snapshot that ends the interval. */
  readonly monoNs: number;
  /** The flows that moved: slot, packets, bytes (a slot may appear more than once after a merge). */
  readonly slots: Int32Array;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  /** The global counters' deltas: packets in, bytes in, packets out, bytes out. */
  readonly totals: readonly [number, number, number, number];
}

/** Slots waiting to be reused, in the order their flows left. */
export interface FreedSlots {
  readonly slots: Int32Array;
  readonly serials: Float64Array;
}

export interface RateHistory {
  /** The latest snapshot, where the next interval starts. */
  readonly last: Snapshot | undefined;
  /** Kept samples, oldest first; the oldest only marks where the history starts (its deltas count in no window). */
  readonly samples: readonly Sample[];
  /** Serial number of samples[0] (samples are numbered as they are kept). */
  readonly first: number;
  /** The slot of each row of the latest snapshot's flows. */
  readonly slotOfRow: Int32Array;
  /** Per slot: the serial of its flow's first sample (deltas in earlier samples were another flow's). */
  readonly born: Float64Array;
  /** Per slot: its flow's highest 2 s rates. */
  readonly slotPeakPps: Float64Array;
  readonly slotPeakBps: Float64Array;
  /** Slots of flows that left, oldest first, and the serial of the first sample each was gone in. */
  readonly freed: FreedSlots;
  /** Of the global counters, in + out. */
  readonly peakPps: number;
  readonly peakBps: number;
}

export const NO_HISTORY: RateHistory = {
  last: undefined,
  samples: [],
  first: 0,
  slotOfRow: new Int32Array(0),
  born: new Float64Array(0),
  slotPeakPps: new Float64Array(0),
  slotPeakBps: new Float64Array(0),
  freed: { slots: new Int32Array(0), serials: new Float64Array(0) },
  peakPps: 0,
  peakBps: 0,
};

export interface Step {
  readonly history: RateHistory;
  /** Seconds since the previous snapshot (0 for the first). */
  readonly intervalS: number;
  /** computeRateTable's rates with the windows and peaks of the history, in the snapshot's row order. */
  readonly table: RateTable;
  /** The table's rows as objects (built on first use). */
  readonly rates: readonly FlowRate[];
  /** computeTotals' totals, with the windows and peaks of the history. */
  readonly totals: Totals;
}

/** A Step whose rates are built from its table only when asked for. */
function step(history: RateHistory, intervalS: number, table: RateTable, totals: Totals): Step {
  return {
    history,
    intervalS,
    table,
    totals,
    get rates() {
      return table.all();
    },
  };
}

/** Where a window starts among the samples. */
interface Bracket {
  /** Serial of the sample the start falls in (the oldest when the history is shorter than the window). */
  readonly bound: number;
  /** The share of that sample's interval inside the window (0 when it is the oldest). */
  readonly inside: number;
  /** The window's length, or the whole history's when that is shorter. */
  readonly seconds: number;
}

function bracket(samples: readonly Sample[], first: number, now: number, w: Window): Bracket {
  const start = now - w * 1e9;
  const oldest = (samples[0] as Sample).monoNs;
  if (start <= oldest) return { bound: first, inside: 0, seconds: (now - oldest) / 1e9 };
  let i = 0;
  while ((samples[i + 1] as Sample).monoNs <= start) i++;
  const from = (samples[i] as Sample).monoNs;
  const to = (samples[i + 1] as Sample).monoNs;
  return { bound: first + i + 1, inside: (to - start) / (to - from), seconds: w };
}

/** How many of the oldest samples no window reaches any more (one at or before now - 40 s stays). */
function dropped(samples: readonly Sample[], now: number): number {
  let drop = 0;
  while (drop + 1 < samples.length && (samples[drop + 1] as Sample).monoNs <= now - LONGEST_NS) drop++;
  return drop;
}

function concat<T extends Int32Array | Float64Array>(a: T, b: T): T {
  const out = new (a.constructor as new (n: number) => T)(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Rows asked for at once up to which their windows are summed alone; beyond, whole columns are. */
const FEW_ROWS = 1024;

/** The windows of a step's flows, summed from the samples on demand (a RateSource). */
class FlowWindows implements RateSource {
  constructor(
    private readonly samples: readonly Sample[],
    private readonly first: number,
    private readonly slotOfRow: Int32Array,
    private readonly rowOfSlot: Int32Array,
    /** Per slot, its flow's first sample: deltas of the slot in earlier samples were a flow gone since. */
    private readonly born: Float64Array,
    private readonly brackets: readonly Bracket[],
    private readonly peakPps: Float64Array,
    private readonly peakBps: Float64Array,
  ) {}

  /**
   * Calls add(row, packets, bytes) for every delta of window w, in one fixed order (so that sums
   * of a row agree to the last bit however they are taken): the samples after its start, and the
   * share of the one it falls in.
   */
  private each(w: number, add: (row: number, packets: number, bytes: number) => void): void {
    const b = this.brackets[w] as Bracket;
    if (b.seconds <= 0) return;
    for (let serial = b.bound; serial < this.first + this.samples.length; serial++) {
      const share = serial === b.bound ? b.inside : 1;
      if (share <= 0) continue;
      const s = this.samples[serial - this.first] as Sample;
      for (let k = 0; k < s.slots.length; k++) {
        const slot = s.slots[k] as number;
        const i = this.rowOfSlot[slot] as number;
        if (i >= 0 && serial >= (this.born[slot] as number)) add(i, share * (s.packets[k] as number), share * (s.bytes[k] as number));
      }
    }
  }

  /** Per row, packets and bits per second over window w. */
  private rates(w: number, rowsOf: (i: number) => number, count: number): [pps: Float64Array, bps: Float64Array] {
    const pps = new Float64Array(count);
    const bps = new Float64Array(count);
    const b = this.brackets[w] as Bracket;
    if (b.seconds <= 0) return [pps, bps];
    this.each(w, (i, p, y) => {
      const k = rowsOf(i);
      if (k < 0) return;
      pps[k] = (pps[k] as number) + p;
      bps[k] = (bps[k] as number) + y;
    });
    for (let k = 0; k < count; k++) {
      pps[k] = (pps[k] as number) / b.seconds;
      bps[k] = ((bps[k] as number) * 8) / b.seconds;
    }
    return [pps, bps];
  }

  /** Per window, every row's rates, once computed. */
  private readonly whole: ([Float64Array, Float64Array] | undefined)[] = [];

  private wholeWindow(w: number): [Float64Array, Float64Array] {
    let both = this.whole[w];
    if (!both) {
      both = this.rates(w, (i) => i, this.slotOfRow.length);
      this.whole[w] = both;
    }
    return both;
  }

  column(name: WindowColumn): Float64Array {
    const rows = this.slotOfRow.length;
    if (name === 'peakPps' || name === 'peakBps') {
      const out = new Float64Array(rows);
      const peaks = name === 'peakPps' ? this.peakPps : this.peakBps;
      for (let i = 0; i < rows; i++) out[i] = peaks[this.slotOfRow[i] as number] as number;
      return out;
    }
    const w = name.endsWith('40') ? 2 : name.endsWith('10') ? 1 : 0;
    return this.wholeWindow(w)[name.startsWith('bps') ? 1 : 0];
  }

  at(rows: readonly number[]): (WindowRates & Peaks)[] {
    const n = rows.length;
    const place = new Map<number, number>();
    rows.forEach((i, k) => place.set(i, k));
    const windows = WINDOWS.map((_, w): [Float64Array, Float64Array] => {
      if (n <= FEW_ROWS && !this.whole[w]) return this.rates(w, (i) => place.get(i) ?? -1, n);
      const [pps, bps] = this.wholeWindow(w);
      return [Float64Array.from(rows, (i) => pps[i] as number), Float64Array.from(rows, (i) => bps[i] as number)];
    });
    const [w2, w10, w40] = windows as [[Float64Array, Float64Array], [Float64Array, Float64Array], [Float64Array, Float64Array]];
    return rows.map((i, k) => {
      const slot = this.slotOfRow[i] as number;
      return {
        pps2: w2[0][k] as number,
        bps2: w2[1][k] as number,
        pps10: w10[0][k] as number,
        bps10: w10[1][k] as number,
        pps40: w40[0][k] as number,
        bps40: w40[1][k] as number,
        peakPps: this.peakPps[slot] as number,
        peakBps: this.peakBps[slot] as number,
      };
    });
  }
}

/**
 * The next snapshot's rates and totals, and the history that includes it: computeRateTable's and
 * computeTotals' numbers, with the windows and peaks of the history. The first snapshot only
 * starts the history: its rates are computeRateTable's first-read rates, and peaks start at 0.
 */
export function advance(h: RateHistory, cur: Snapshot): Step {
  const prev = h.last;
  const totals = computeTotals(prev, cur);
  const newest = h.samples.at(-1);
  const now = Math.max(cur.monoNs, newest?.monoNs ?? -Infinity);

  // A new sample replaces the newest kept one when that one is too close to the one before it.
  const n = h.samples.length;
  const merge = n >= 2 && (newest as Sample).monoNs - (h.samples[n - 2] as Sample).monoNs < SPACING_NS;
  const serial = h.first + (merge ? n - 1 : n);

  // Slots: a flow keeps its own; a new one takes a slot no kept sample counts in, or a new one.
  const flows = cur.flows;
  const rows = flows.length;
  const old = matchRows(prev, cur);
  const stays = new Uint8Array(h.slotOfRow.length);
  let size = h.slotPeakPps.length;
  const slotOfRow = new Int32Array(rows);
  const prevSlot = h.slotOfRow;
  const freedSlots = h.freed.slots;
  const freedSerials = h.freed.serials;
  // Freed slots in order of freeing: the first one freed in this very sample ends the reuse.
  let reused = 0;
  let newRows = 0;
  for (let i = 0; i < rows; i++) {
    let p = old[i] as number;
    // Two rows of one read never share a flow; if they did, the second would count as new.
    if (p >= 0 && stays[p]) old[i] = p = -1;
    if (p >= 0) {
      stays[p] = 1;
      slotOfRow[i] = prevSlot[p] as number;
      continue;
    }
    newRows++;
    // A slot freed in an earlier sample: its old flow's deltas are all in samples before this one.
    if (reused < freedSlots.length && (freedSerials[reused] as number) < serial) slotOfRow[i] = freedSlots[reused++] as number;
    else slotOfRow[i] = size++;
  }
  // Per slot: the sample its flow was born in, its row, and its peaks (a new flow's from 0).
  const born = new Float64Array(size);
  born.set(h.born);
  const rowOfSlot = new Int32Array(size).fill(-1);
  const slotPeakPps = new Float64Array(size);
  const slotPeakBps = new Float64Array(size);
  slotPeakPps.set(h.slotPeakPps);
  slotPeakBps.set(h.slotPeakBps);
  for (let i = 0; i < rows; i++) {
    const slot = slotOfRow[i] as number;
    rowOfSlot[slot] = i;
    if (newRows === 0 || (old[i] as number) >= 0) continue;
    born[slot] = serial;
    slotPeakPps[slot] = 0;
    slotPeakBps[slot] = 0;
  }
  let gone = 0;
  for (let p = 0; p < stays.length; p++) if (!stays[p]) gone++;
  const waiting = h.freed.slots.length - reused;
  const freed: FreedSlots = { slots: new Int32Array(waiting + gone), serials: new Float64Array(waiting + gone) };
  freed.slots.set(h.freed.slots.subarray(reused));
  freed.serials.set(h.freed.serials.subarray(reused));
  for (let p = 0, k = waiting; p < stays.length; p++) {
    if (stays[p]) continue;
    freed.slots[k] = h.slotOfRow[p] as number;
    freed.serials[k++] = serial;
  }

  // The interval's deltas, as computeRateTable takes them.
  const t = computeRateTable(prev, cur, old);
  let moved = 0;
  for (let i = 0; i < rows; i++) if (t.deltaPackets[i] !== 0 || t.deltaBytes[i] !== 0) moved++;
  // The first snapshot's deltas (whole counts so far) fall in no window: not kept.
  if (!prev) moved = 0;
  const fresh = {
    slots: new Int32Array(moved),
    packets: new Float64Array(moved),
    bytes: new Float64Array(moved),
  };
  for (let i = 0, k = 0; i < rows && k < moved; i++) {
    if (t.deltaPackets[i] === 0 && t.deltaBytes[i] === 0) continue;
    fresh.slots[k] = slotOfRow[i] as number;
    fresh.packets[k] = t.deltaPackets[i] as number;
    fresh.bytes[k++] = t.deltaBytes[i] as number;
  }
  const c = cur.counters;
  const pc = prev?.counters;
  const delta: [number, number, number, number] = [
    counterDelta(c.packetsIn, pc?.packetsIn ?? 0),
    counterDelta(c.bytesIn, pc?.bytesIn ?? 0),
    counterDelta(c.packetsOut, pc?.packetsOut ?? 0),
    counterDelta(c.bytesOut, pc?.bytesOut ?? 0),
  ];
  const sample: Sample =
    merge && newest
      ? {
          monoNs: now,
          slots: concat(newest.slots, fresh.slots),
          packets: concat(newest.packets, fresh.packets),
          bytes: concat(newest.bytes, fresh.bytes),
          totals: [0, 1, 2, 3].map((k) => (newest.totals[k] as number) + (delta[k] as number)) as unknown as Sample['totals'],
        }
      : { monoNs: now, ...fresh, totals: delta };

  const all = [...(merge ? h.samples.slice(0, -1) : h.samples), sample];
  const drop = dropped(all, now);
  const samples = all.slice(drop);
  const first = h.first + drop;
  const brackets = WINDOWS.map((w) => bracket(samples, first, now, w));

  // The first snapshot only starts the history: computeRateTable's first-read rates stand, and peaks start at 0.
  if (!prev) return step({ last: cur, samples, first, slotOfRow, born, slotPeakPps, slotPeakBps, freed, peakPps: 0, peakBps: 0 }, 0, t, totals);
  const windows = new FlowWindows(samples, first, slotOfRow, rowOfSlot, born, brackets, slotPeakPps, slotPeakBps);
  const pps2 = t.withSource(windows).pps2;
  const bps2 = t.bps2;
  const two = brackets[0] as Bracket;
  for (let serial = two.bound; serial < first + samples.length; serial++) {
    const { slots } = samples[serial - first] as Sample;
    for (let k = 0; k < slots.length; k++) {
      const slot = slots[k] as number;
      const i = rowOfSlot[slot] as number;
      if (i < 0) continue;
      slotPeakPps[slot] = Math.max(slotPeakPps[slot] as number, pps2[i] as number);
      slotPeakBps[slot] = Math.max(slotPeakBps[slot] as number, bps2[i] as number);
    }
  }

  /** The global counters' window rates: in (0) or out (1). */
  const windowsOf = (dir: 0 | 1): WindowRates => {
    const rate = (w: number, k: 0 | 1): number => {
      const b = brackets[w] as Bracket;
      if (b.seconds <= 0) return 0;
      let sum = 0;
      for (let s = b.bound; s < first + samples.length; s++) {
        const share = s === b.bound ? b.inside : 1;
        sum += share * ((samples[s - first] as Sample).totals[2 * dir + k] as number);
      }
      return (sum * (k === 1 ? 8 : 1)) / b.seconds;
    };
    return { pps2: rate(0, 0), bps2: rate(0, 1), pps10: rate(1, 0), bps10: rate(1, 1), pps40: rate(2, 0), bps40: rate(2, 1) };
  };
  const windowsIn = windowsOf(0);
  const windowsOut = windowsOf(1);
  const peakPps = Math.max(h.peakPps, windowsIn.pps2 + windowsOut.pps2);
  const peakBps = Math.max(h.peakBps, windowsIn.bps2 + windowsOut.bps2);
  const history: RateHistory = { last: cur, samples, first, slotOfRow, born, slotPeakPps, slotPeakBps, freed, peakPps, peakBps };
  return step(history, Math.max(0, (cur.monoNs - prev.monoNs) / 1e9), t, { ...totals, windowsIn, windowsOut, peakPps, peakBps });
}
