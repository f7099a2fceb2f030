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

/** Per slot, a peak of `size` slots: as before, and 0 for the slots of new flows. */
export function carryPeaks(prev: Float64Array, size: number, newSlots: Int32Array): Float64Array {
  const peaks = new Float64Array(size);
  peaks.set(prev);
  for (let k = 0; k < newSlots.length; k++) peaks[newSlots[k] as number] = 0;
  return peaks;
}

/**
 * Raises, in place, the peaks of the slots that moved in the samples from serial `from` on to
 * their row's 2 s rates (the flows gone have no row and keep theirs).
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
): void {
  for (let serial = from; serial < first + samples.length; serial++) {
    const { slots } = samples[serial - first] as Sample;
    for (let k = 0; k < slots.length; k++) {
      const slot = slots[k] as number;
      const i = rowOfSlot[slot] as number;
      if (i < 0) continue;
      peakPps[slot] = Math.max(peakPps[slot] as number, pps2[i] as number);
      peakBps[slot] = Math.max(peakBps[slot] as number, bps2[i] as number);
    }
  }
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
  const merge = mergesNewest(h.samples);
  const serial = h.first + (merge ? h.samples.length - 1 : h.samples.length);

  // Slots first: they unmatch a repeated row in `old`, which then counts as new in the deltas too.
  const old = matchRows(prev, cur);
  const slots = assignSlots(h, old, serial);
  const { slotOfRow, born, freed, rowOfSlot, newSlots } = slots;
  const slotPeakPps = carryPeaks(h.slotPeakPps, born.length, newSlots);
  const slotPeakBps = carryPeaks(h.slotPeakBps, born.length, newSlots);

  // The interval's deltas, as computeRateTable takes them.
  const t = computeRateTable(prev, cur, old);
  const sample = makeSample(now, movedDeltas(t.deltaPackets, t.deltaBytes, slotOfRow, prev !== undefined), counterDeltas(prev, cur), merge ? newest : undefined);
  const { samples, first } = keepSamples(h, sample, merge, now);
  const brackets = WINDOWS.map((w) => bracket(samples, first, now, w));

  // The first snapshot only starts the history: computeRateTable's first-read rates stand, and peaks start at 0.
  if (!prev) return step({ last: cur, samples, first, slotOfRow, born, slotPeakPps, slotPeakBps, freed, peakPps: 0, peakBps: 0 }, 0, t, totals);
  const windows = new FlowWindows(samples, first, slotOfRow, rowOfSlot, born, brackets, slotPeakPps, slotPeakBps);
  raisePeaks(samples, first, (brackets[0] as Bracket).bound, rowOfSlot, t.withSource(windows).pps2, t.bps2, slotPeakPps, slotPeakBps);

  const windowsIn = counterWindows(samples, first, brackets, 0);
  const windowsOut = counterWindows(samples, first, brackets, 1);
  const peakPps = Math.max(h.peakPps, windowsIn.pps2 + windowsOut.pps2);
  const peakBps = Math.max(h.peakBps, windowsIn.bps2 + windowsOut.bps2);
  const history: RateHistory = { last: cur, samples, first, slotOfRow, born, slotPeakPps, slotPeakBps, freed, peakPps, peakBps };
  return step(history, Math.max(0, (cur.monoNs - prev.monoNs) / 1e9), t, { ...totals, windowsIn, windowsOut, peakPps, peakBps });
}
