/**
 * Rate windows (iftop's 2, 10 and 40 s averages) and peaks, from a short history of snapshots.
 *
 * The history keeps, for each recent sample, every live flow's packets and bytes accumulated from
 * its deltas, taken as computeRates takes them (so an evicted and recreated entry, or a counter
 * that restarts, adds its new count instead of going backwards). A window's rate is then exact:
 * (accumulated now - accumulated at now - W) / W, where the value at now - W is interpolated
 * within the interval that holds it (each interval's packets taken as spread evenly over it), so a
 * missed tick or timer jitter moves no boundary. With less than W seconds of history, the window
 * is the whole history.
 *
 * Memory is bounded: samples closer than SPACING_NS are merged (the newer replaces the newest kept
 * one), samples older than the longest window are dropped, and only flows of the latest snapshot
 * have a slot: one Float64 pair per slot per sample, at most 40 s / 0.9 s + 3 samples. Slots of
 * flows that left are reused, and the columns are compacted when fewer than half their slots live.
 * Each step is O(flows). The history is immutable: a step returns a new one and shares the old
 * columns, which are never written after the step that made them.
 */
import { RateTable } from './rate-table.js';
import { computeRateTable, computeTotals, counterDelta, intervalSeconds, matchRows, perSecond, wasRecreated, type Totals } from './rates.js';
import type { FlowRate, Snapshot, Window, WindowRates } from './types.js';

export const WINDOWS: readonly Window[] = [2, 10, 40];

const LONGEST_NS = 40e9;
/**
 * Samples closer than this are merged, so that memory does not grow with the tick rate: a little
 * under the default 1 s interval, so that timer jitter never merges two default ticks.
 */
const SPACING_NS = 0.9e9;
/** Slots 0 and 1 hold the global counters, in and out. */
const IN = 0;
const OUT = 1;
const TOTAL_SLOTS = 2;

export interface Rate {
  readonly pps: number;
  readonly bps: number;
}

/** One window's packets and bits per second. */
export function windowRate(r: WindowRates, w: Window): Rate {
  return { pps: r[`pps${w}`], bps: r[`bps${w}`] };
}

export interface RateHistory {
  /** The latest snapshot, where the next interval starts. */
  readonly last: Snapshot | undefined;
  /** Monotonic times of the kept samples, oldest first. */
  readonly times: readonly number[];
  /** Serial number of times[0] (samples are numbered as they are kept). */
  readonly first: number;
  /** Per kept sample, accumulated packets at [2 * slot] and bytes at [2 * slot + 1]. */
  readonly columns: readonly Float64Array[];
  /** The slot of each row of the latest snapshot's flows. */
  readonly slotOfRow: Int32Array;
  /** Per slot: the serial of the first sample its flow is in (earlier samples count it as 0). */
  readonly born: Float64Array;
  /** Per slot: its flow's highest 2 s rates. */
  readonly slotPeakPps: Float64Array;
  readonly slotPeakBps: Float64Array;
  /** Of the global counters, in + out. */
  readonly peakPps: number;
  readonly peakBps: number;
}

export const NO_HISTORY: RateHistory = {
  last: undefined,
  times: [],
  first: 0,
  columns: [],
  slotOfRow: new Int32Array(0),
  born: new Float64Array(0),
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

/**
 * The next snapshot's rates and totals, and the history that includes it: computeRateTable's and
 * computeTotals' numbers, with the windows and peaks of the history. The first snapshot only
 * starts the history: its rates are computeRateTable's first-read rates, and peaks start at 0.
 * O(flows), with no object per flow: flows are matched to the previous snapshot's rows by
 * FlowSet.find, and every per-flow number lives in typed arrays.
 */
export function advance(h: RateHistory, cur: Snapshot): Step {
  const prev = h.last;
  const totals = computeTotals(prev, cur);
  const now = Math.max(cur.monoNs, h.times.at(-1) ?? -Infinity);

  // A new sample replaces the newest kept one when that one is too close to the one before it.
  const n = h.times.length;
  const kept = n >= 2 && (h.times[n - 1] as number) - (h.times[n - 2] as number) < SPACING_NS ? n - 1 : n;
  const serial = h.first + kept;

  // Slots: a flow keeps its own, a new one takes the lowest free one.
  const flows = cur.flows;
  const rows = flows.length;
  const old = matchRows(prev, cur);
  const prevColumn = h.columns.at(-1) ?? new Float64Array(2 * TOTAL_SLOTS);
  const taken = new Uint8Array(prevColumn.length / 2);
  for (let i = 0; i < rows; i++) {
    const p = old[i] as number;
    if (p < 0) continue;
    const slot = h.slotOfRow[p] as number;
    // Two rows of one read never share a flow; if they did, the second would count as new.
    if (taken[slot]) old[i] = -1;
    else taken[slot] = 1;
  }
  const slotOfRow = new Int32Array(rows);
  let free = TOTAL_SLOTS;
  let size = TOTAL_SLOTS;
  for (let i = 0; i < rows; i++) {
    const p = old[i] as number;
    let slot: number;
    if (p >= 0) slot = h.slotOfRow[p] as number;
    else {
      while (taken[free]) free++;
      slot = free++;
    }
    slotOfRow[i] = slot;
    if (slot + 1 > size) size = slot + 1;
  }

  const column = new Float64Array(2 * size);
  const c = cur.counters;
  const pc = prev?.counters;
  column[2 * IN] = (prevColumn[2 * IN] as number) + counterDelta(c.packetsIn, pc?.packetsIn ?? 0);
  column[2 * IN + 1] = (prevColumn[2 * IN + 1] as number) + counterDelta(c.bytesIn, pc?.bytesIn ?? 0);
  column[2 * OUT] = (prevColumn[2 * OUT] as number) + counterDelta(c.packetsOut, pc?.packetsOut ?? 0);
  column[2 * OUT + 1] = (prevColumn[2 * OUT + 1] as number) + counterDelta(c.bytesOut, pc?.bytesOut ?? 0);

  const all = [...h.times.slice(0, kept), now];
  const drop = dropped(all, now);
  const times = all.slice(drop);
  const columns = [...h.columns.slice(0, kept), column].slice(drop);
  const first = h.first + drop;
  const [w2, w10, w40] = WINDOWS.map((w) => bracket(times, columns, first, now, w)) as [Bracket, Bracket, Bracket];

  // Each flow's delta as computeRateTable takes it, added to its slot; then its windows.
  const seconds = prev ? intervalSeconds(prev, cur) : 0;
  const born = new Float64Array(size);
  const slotPeakPps = new Float64Array(size);
  const slotPeakBps = new Float64Array(size);
  const t = new RateTable(flows);
  for (let i = 0; i < rows; i++) {
    const p = old[i] as number;
    const slot = slotOfRow[i] as number;
    const at = 2 * slot;
    let dp = flows.packets[i] as number;
    let db = flows.bytes[i] as number;
    if (p >= 0 && prev && !wasRecreated(flows, i, prev.flows, p)) {
      dp -= prev.flows.packets[p] as number;
      db -= prev.flows.bytes[p] as number;
    }
    column[at] = (p >= 0 ? (prevColumn[at] as number) : 0) + dp;
    column[at + 1] = (p >= 0 ? (prevColumn[at + 1] as number) : 0) + db;
    const b = p >= 0 ? (h.born[slot] as number) : serial;
    born[slot] = b;
    const pps2 = overWindow(w2, column, slot, b, 0);
    const bps2 = overWindow(w2, column, slot, b, 1);
    const peakPps = Math.max(p >= 0 ? (h.slotPeakPps[slot] as number) : 0, pps2);
    const peakBps = Math.max(p >= 0 ? (h.slotPeakBps[slot] as number) : 0, bps2);
    slotPeakPps[slot] = peakPps;
    slotPeakBps[slot] = peakBps;
    t.deltaPackets[i] = dp;
    t.deltaBytes[i] = db;
    t.pps[i] = perSecond(dp, seconds);
    t.bps[i] = perSecond(db * 8, seconds);
    t.isNew[i] = p < 0 ? 1 : 0;
    t.pps2[i] = pps2;
    t.bps2[i] = bps2;
    t.pps10[i] = overWindow(w10, column, slot, b, 0);
    t.bps10[i] = overWindow(w10, column, slot, b, 1);
    t.pps40[i] = overWindow(w40, column, slot, b, 0);
    t.bps40[i] = overWindow(w40, column, slot, b, 1);
    t.peakPps[i] = peakPps;
    t.peakBps[i] = peakBps;
  }

  /** The global counters' window rates. */
  const windowsAt = (slot: number): WindowRates => ({
    pps2: overWindow(w2, column, slot, -Infinity, 0),
    bps2: overWindow(w2, column, slot, -Infinity, 1),
    pps10: overWindow(w10, column, slot, -Infinity, 0),
    bps10: overWindow(w10, column, slot, -Infinity, 1),
    pps40: overWindow(w40, column, slot, -Infinity, 0),
    bps40: overWindow(w40, column, slot, -Infinity, 1),
  });
  const windowsIn = windowsAt(IN);
  const windowsOut = windowsAt(OUT);
  const peakPps = Math.max(h.peakPps, windowsIn.pps2 + windowsOut.pps2);
  const peakBps = Math.max(h.peakBps, windowsIn.bps2 + windowsOut.bps2);
  const history = compacted({ last: cur, times, first, columns, slotOfRow, born, slotPeakPps, slotPeakBps, peakPps, peakBps }, size);
  // The first snapshot has no interval yet: computeRateTable's first-read rates stand.
  if (!prev) return step(history, 0, computeRateTable(undefined, cur, old), totals);
  return step(history, Math.max(0, (cur.monoNs - prev.monoNs) / 1e9), t, { ...totals, windowsIn, windowsOut, peakPps, peakBps });
}

/** How many of the oldest samples no window reaches any more (one at or before now - 40 s stays). */
function dropped(times: readonly number[], now: number): number {
  let drop = 0;
  while (drop + 1 < times.length && (times[drop + 1] as number) <= now - LONGEST_NS) drop++;
  return drop;
}

interface Bracket {
  /** The window starts between samples `a` and `b`, at `frac` of the way (a = b when it is the oldest). */
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly serialA: number;
  readonly serialB: number;
  readonly frac: number;
  /** The window's length, or the whole history's when that is shorter. */
  readonly seconds: number;
}

function bracket(times: readonly number[], columns: readonly Float64Array[], first: number, now: number, w: Window): Bracket {
  const start = now - w * 1e9;
  const oldest = times[0] as number;
  let i = 0;
  if (start > oldest) while ((times[i + 1] as number) <= start) i++;
  const j = start > oldest ? i + 1 : i;
  const from = times[i] as number;
  return {
    a: columns[i] as Float64Array,
    b: columns[j] as Float64Array,
    serialA: first + i,
    serialB: first + j,
    frac: j > i ? (start - from) / ((times[j] as number) - from) : 0,
    seconds: start > oldest ? w : (now - oldest) / 1e9,
  };
}

/** Packets (k = 0) or bits (k = 1) per second of a slot over a window; `born` is its first sample's serial. */
function overWindow(b: Bracket, column: Float64Array, slot: number, born: number, k: 0 | 1): number {
  if (b.seconds <= 0) return 0;
  const at = 2 * slot + k;
  const from = b.serialA < born ? 0 : (b.a[at] as number);
  const to = b.serialB < born ? 0 : (b.b[at] as number);
  return (((column[at] as number) - (from + (to - from) * b.frac)) * (k === 0 ? 1 : 8)) / b.seconds;
}

/** The history with its slots renumbered densely (row i to slot 2 + i), when fewer than half of `size` slots live. */
function compacted(h: RateHistory, size: number): RateHistory {
  const rows = h.slotOfRow.length;
  const live = TOTAL_SLOTS + rows;
  if (size <= 2 * live) return h;
  const slotOfRow = new Int32Array(rows);
  const born = new Float64Array(live);
  const slotPeakPps = new Float64Array(live);
  const slotPeakBps = new Float64Array(live);
  for (let r = 0; r < rows; r++) {
    const from = h.slotOfRow[r] as number;
    const to = TOTAL_SLOTS + r;
    slotOfRow[r] = to;
    born[to] = h.born[from] as number;
    slotPeakPps[to] = h.slotPeakPps[from] as number;
    slotPeakBps[to] = h.slotPeakBps[from] as number;
  }
  const columns = h.columns.map((old, j) => {
    const col = new Float64Array(2 * live);
    col.set(old.subarray(0, 2 * TOTAL_SLOTS));
    for (let r = 0; r < rows; r++) {
      const from = h.slotOfRow[r] as number;
      if (h.first + j < (h.born[from] as number)) continue;
      col[2 * (TOTAL_SLOTS + r)] = old[2 * from] ?? 0;
      col[2 * (TOTAL_SLOTS + r) + 1] = old[2 * from + 1] ?? 0;
    }
    return col;
  });
  return { ...h, columns, slotOfRow, born, slotPeakPps, slotPeakBps };
}
