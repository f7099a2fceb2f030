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
 * A step returns a new history and never writes what an older one holds, unless told that no view
 * reads an older step any more (AdvanceOptions.reuse: the run loop's ticks not held), when the
 * per-slot arrays (born, peaks, each slot's row) are written in place: three a million flows long.
 */
import { RateTable, type RateSource, type WindowColumn } from './rate-table.js';
import { computeRateTable, computeTotals, matchRows, type Totals } from './rates.js';
import { bracket, counterDeltas, keepSamples, makeSample, mergesNewest, movedDeltas, type Bracket, type Sample } from './samples.js';
import { assignSlots, NO_SLOTS, type Slots } from './slots.js';
import type { FlowRate, Peaks, Snapshot, Window, WindowRates } from './types.js';

export type { FreedSlots } from './slots.js';

export const WINDOWS: readonly Window[] = [2, 10, 40];

export interface Rate {
  readonly pps: number;
  readonly bps: number;
}

/** One window's packets and bits per second. */
export function windowRate(r: WindowRates, w: Window): Rate {
  return { pps: r[`pps${w}`], bps: r[`bps${w}`] };
}

/** The history's slots (slots.ts: slotOfRow, born, freed), samples and peaks. */
export interface RateHistory extends Slots {
  /** The latest snapshot, where the next interval starts. */
  readonly last: Snapshot | undefined;
  /** Kept samples, oldest first; the oldest only marks where the history starts (its deltas count in no window). */
  readonly samples: readonly Sample[];
  /** Serial number of samples[0] (samples are numbered as they are kept). */
  readonly first: number;
  /** Per slot: its flow's highest 2 s rates. */
  readonly slotPeakPps: Float64Array;
  readonly slotPeakBps: Float64Array;
  /** Of the global counters, in + out. */
  readonly peakPps: number;
  readonly peakBps: number;
  /** Per slot, the row of `last` that holds it, or -1 (kept to be written again by a step that may reuse it). */
  readonly rowOfSlot?: Int32Array;
  /** The history this one continues, and its steps so far (RowIdentity); absent before the first. */
  readonly lineage?: Lineage;
}

/** A history's identity and how many steps it has taken. */
export interface Lineage {
  readonly id: object;
  readonly step: number;
}

/** Histories a step was taken from: a second step from one starts a lineage of its own. */
const continued = new WeakSet<RateHistory>();

/** The lineage of the step after h's. */
function nextLineage(h: RateHistory): Lineage {
  const branch = !h.lineage || continued.has(h);
  continued.add(h);
  return branch ? { id: {}, step: 1 } : { id: h.lineage!.id, step: h.lineage!.step + 1 };
}

export const NO_HISTORY: RateHistory = {
  last: undefined,
  samples: [],
  first: 0,
  ...NO_SLOTS,
  slotPeakPps: new Float64Array(0),
  slotPeakBps: new Float64Array(0),
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

/** Rows asked for at once up to which their windows are summed alone; beyond, whole columns are. */
const FEW_ROWS = 1024;
const NONE = new Float64Array(0);

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

  /** Per row, packets and bits per second over window w (only the one asked for: `only` 0 for packets, 1 for bits). */
  private rates(w: number, rowsOf: (i: number) => number, count: number, only?: 0 | 1): [pps: Float64Array, bps: Float64Array] {
    const pps = only === 1 ? NONE : new Float64Array(count);
    const bps = only === 0 ? NONE : new Float64Array(count);
    const b = this.brackets[w] as Bracket;
    if (b.seconds <= 0) return [pps, bps];
    this.each(w, (i, p, y) => {
      const k = rowsOf(i);
      if (k < 0) return;
      if (only !== 1) pps[k] = (pps[k] as number) + p;
      if (only !== 0) bps[k] = (bps[k] as number) + y;
    });
    if (only !== 1) for (let k = 0; k < count; k++) pps[k] = (pps[k] as number) / b.seconds;
    if (only !== 0) for (let k = 0; k < count; k++) bps[k] = ((bps[k] as number) * 8) / b.seconds;
    return [pps, bps];
  }

  /** Per window, each of its two whole columns (packets, bits per second), once computed. */
  private readonly whole: (Float64Array | undefined)[][] = [[], [], []];

  /** Window w's whole column of packets (0) or bits (1) per second. */
  private wholeColumn(w: number, which: 0 | 1): Float64Array {
    let column = (this.whole[w] as (Float64Array | undefined)[])[which];
    if (!column) {
      column = this.rates(w, (i) => i, this.slotOfRow.length, which)[which];
      (this.whole[w] as (Float64Array | undefined)[])[which] = column;
    }
    return column;
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
    return this.wholeColumn(w, name.startsWith('bps') ? 1 : 0);
  }

  /** The 2 s window's rates of `count` rows alone, row i at place(i) or -1 (summed as the whole column is: equal to the last bit). */
  twoSecond(place: ReadonlyMap<number, number>, count: number): [pps: Float64Array, bps: Float64Array] {
    return this.rates(0, (i) => place.get(i) ?? -1, count);
  }

  at(rows: readonly number[]): (WindowRates & Peaks)[] {
    const n = rows.length;
    const place = new Map<number, number>();
    rows.forEach((i, k) => place.set(i, k));
    const windows = WINDOWS.map((_, w): [Float64Array, Float64Array] => {
      const whole = this.whole[w] as (Float64Array | undefined)[];
      const pick = (column: Float64Array): Float64Array => Float64Array.from(rows, (i) => column[i] as number);
      const rowsOf = (i: number): number => place.get(i) ?? -1;
      if (n > FEW_ROWS) return [pick(this.wholeColumn(w, 0)), pick(this.wholeColumn(w, 1))];
      // Few rows: a whole column made already is read, one not made is summed for these rows alone.
      if (!whole[0] && !whole[1]) return this.rates(w, rowsOf, n);
      const pps = whole[0] ? pick(whole[0]) : (this.rates(w, rowsOf, n, 0)[0] as Float64Array);
      const bps = whole[1] ? pick(whole[1]) : (this.rates(w, rowsOf, n, 1)[1] as Float64Array);
      return [pps, bps];
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

/** Per slot, a peak of `size` slots: as before, and 0 for the slots of new flows (in `prev` itself when `reuse` and as long). */
export function carryPeaks(prev: Float64Array, size: number, newSlots: Int32Array, reuse = false): Float64Array {
  const peaks = reuse && prev.length === size ? prev : new Float64Array(size);
  if (peaks !== prev) peaks.set(prev);
  for (let k = 0; k < newSlots.length; k++) peaks[newSlots[k] as number] = 0;
  return peaks;
}

/**
 * Raises, in place, the peaks of the slots that moved in the samples from serial `from` on to
 * their row's 2 s rates (the flows gone have no row and keep theirs). The rates are pps2[k] and
 * bps2[k] for row i at k = at(i) (the row itself by default: whole columns).
 */
export function raisePeaks(
  samples: readonly Sample[],
  first: number,
  from: number,
  rowOfSlot: Int32Array,
  pps2: Float64Array,
  bps2: Float64Array,
  peakPps: Float64Array,
  peakBps: Float64Array,
  at: (row: number) => number = (i) => i,
): void {
  for (let serial = from; serial < first + samples.length; serial++) {
    const { slots } = samples[serial - first] as Sample;
    for (let k = 0; k < slots.length; k++) {
      const slot = slots[k] as number;
      const i = rowOfSlot[slot] as number;
      if (i < 0) continue;
      const r = at(i);
      peakPps[slot] = Math.max(peakPps[slot] as number, pps2[r] as number);
      peakBps[slot] = Math.max(peakBps[slot] as number, bps2[r] as number);
    }
  }
}

/** Rows whose 2 s rates raisePeaks sums alone, up to which; beyond, it takes the whole columns. */
const FEW_RAISED = 65_536;

/**
 * The rows that moved in the samples from serial `from` on, each once, in the order met; undefined
 * when more than FEW_RAISED.
 */
function movedRows(samples: readonly Sample[], first: number, from: number, rowOfSlot: Int32Array): number[] | undefined {
  const rows = new Set<number>();
  for (let serial = from; serial < first + samples.length; serial++) {
    const { slots } = samples[serial - first] as Sample;
    for (let k = 0; k < slots.length; k++) {
      const i = rowOfSlot[slots[k] as number] as number;
      if (i < 0) continue;
      rows.add(i);
      if (rows.size > FEW_RAISED) return undefined;
    }
  }
  return [...rows];
}

/** One global counter's rate over a window: its deltas' sum (totals[index]) over the bracket, times scale, per second. */
function counterRate(samples: readonly Sample[], first: number, b: Bracket, index: number, scale: number): number {
  if (b.seconds <= 0) return 0;
  let sum = 0;
  for (let s = b.bound; s < first + samples.length; s++) {
    const share = s === b.bound ? b.inside : 1;
    sum += share * ((samples[s - first] as Sample).totals[index] as number);
  }
  return (sum * scale) / b.seconds;
}

/** The global counters' window rates, in (dir 0) or out (1), over the brackets of WINDOWS. */
export function counterWindows(samples: readonly Sample[], first: number, brackets: readonly Bracket[], dir: 0 | 1): WindowRates {
  const rate = (w: number, k: 0 | 1): number => counterRate(samples, first, brackets[w] as Bracket, 2 * dir + k, k === 1 ? 8 : 1);
  return { pps2: rate(0, 0), bps2: rate(0, 1), pps10: rate(1, 0), bps10: rate(1, 1), pps40: rate(2, 0), bps40: rate(2, 1) };
}

/** How a step may treat the history it is given. */
export interface AdvanceOptions {
  /**
   * No view reads the tables of earlier steps any more (none is held): the history's per-slot arrays
   * (born, peaks, row of each slot) are written in place instead of copied, when their size stays.
   */
  readonly reuse?: boolean;
}

/**
 * The next snapshot's rates and totals, and the history that includes it: computeRateTable's and
 * computeTotals' numbers, with the windows and peaks of the history. The first snapshot only
 * starts the history: its rates are computeRateTable's first-read rates, and peaks start at 0.
 */
export function advance(h: RateHistory, cur: Snapshot, opts: AdvanceOptions = {}): Step {
  const reuse = opts.reuse === true;
  const prev = h.last;
  const totals = computeTotals(prev, cur);
  const newest = h.samples.at(-1);
  const now = Math.max(cur.monoNs, newest?.monoNs ?? -Infinity);
  const merge = mergesNewest(h.samples);
  const serial = h.first + (merge ? h.samples.length - 1 : h.samples.length);

  // Slots first: they unmatch a repeated row in `old`, which then counts as new in the deltas too.
  const old = matchRows(prev, cur);
  const slots = assignSlots(h, old, serial, reuse, h.rowOfSlot);
  const { slotOfRow, born, freed, rowOfSlot, newSlots } = slots;
  const lineage = nextLineage(h);
  const slotPeakPps = carryPeaks(h.slotPeakPps, born.length, newSlots, reuse);
  const slotPeakBps = carryPeaks(h.slotPeakBps, born.length, newSlots, reuse);

  // The interval's deltas, as computeRateTable takes them.
  const t = computeRateTable(prev, cur, old);
  t.identity = { lineage: lineage.id, step: lineage.step, slotOfRow, born };
  const sample = makeSample(now, movedDeltas(t.movedRows(), slotOfRow, prev !== undefined), counterDeltas(prev, cur), merge ? newest : undefined);
  const { samples, first } = keepSamples(h, sample, merge, now);
  const brackets = WINDOWS.map((w) => bracket(samples, first, now, w));

  // The first snapshot only starts the history: computeRateTable's first-read rates stand, and peaks start at 0.
  if (!prev) return step({ last: cur, samples, first, slotOfRow, born, slotPeakPps, slotPeakBps, freed, peakPps: 0, peakBps: 0, rowOfSlot, lineage }, 0, t, totals);
  const windows = new FlowWindows(samples, first, slotOfRow, rowOfSlot, born, brackets, slotPeakPps, slotPeakBps);
  t.withSource(windows);
  // Only the flows that moved in the 2 s window can raise a peak: their rates alone when they are few.
  const from = (brackets[0] as Bracket).bound;
  const moved = movedRows(samples, first, from, rowOfSlot);
  if (moved) {
    const place = new Map<number, number>();
    moved.forEach((i, k) => place.set(i, k));
    const [pps2, bps2] = windows.twoSecond(place, moved.length);
    raisePeaks(samples, first, from, rowOfSlot, pps2, bps2, slotPeakPps, slotPeakBps, (i) => place.get(i) as number);
  } else raisePeaks(samples, first, from, rowOfSlot, t.pps2, t.bps2, slotPeakPps, slotPeakBps);

  const windowsIn = counterWindows(samples, first, brackets, 0);
  const windowsOut = counterWindows(samples, first, brackets, 1);
  const peakPps = Math.max(h.peakPps, windowsIn.pps2 + windowsOut.pps2);
  const peakBps = Math.max(h.peakBps, windowsIn.bps2 + windowsOut.bps2);
  const history: RateHistory = { last: cur, samples, first, slotOfRow, born, slotPeakPps, slotPeakBps, freed, peakPps, peakBps, rowOfSlot, lineage };
  return step(history, Math.max(0, (cur.monoNs - prev.monoNs) / 1e9), t, { ...totals, windowsIn, windowsOut, peakPps, peakBps });
}
