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
import { computeRates, computeTotals, counterDelta, flowRate, intervalSeconds, perSecond, wasRecreated, type Totals } from './rates.js';
import type { FlowRate, FlowRecord, Peaks, Snapshot, Window, WindowRates } from './types.js';

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

interface Slot {
  readonly index: number;
  /** Serial of the first sample the flow is in: earlier samples count it as 0. */
  readonly born: number;
  /** The flow as the latest snapshot has it. */
  readonly flow: FlowRecord;
  readonly peakPps: number;
  readonly peakBps: number;
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
  /** The latest snapshot's flows. */
  readonly slots: ReadonlyMap<string, Slot>;
  /** Of the global counters, in + out. */
  readonly peakPps: number;
  readonly peakBps: number;
}

const NO_PEAKS: Peaks = { peakPps: 0, peakBps: 0 };

export const NO_HISTORY: RateHistory = { last: undefined, times: [], first: 0, columns: [], slots: new Map(), peakPps: 0, peakBps: 0 };

export interface Step {
  readonly history: RateHistory;
  /** Seconds since the previous snapshot (0 for the first). */
  readonly intervalS: number;
  /** computeRates' rates and computeTotals' totals, with the windows and peaks of the history. */
  readonly rates: FlowRate[];
  readonly totals: Totals;
}

/**
 * The next snapshot's rates and totals, and the history that includes it: computeRates' and
 * computeTotals' numbers, with the windows and peaks of the history. The first snapshot only
 * starts the history: its rates are computeRates' first-read rates, and peaks start at 0.
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
  const olds = flows.map((f) => h.slots.get(f.key));
  const prevColumn = h.columns.at(-1) ?? new Float64Array(2 * TOTAL_SLOTS);
  const taken = new Uint8Array(prevColumn.length / 2);
  for (const old of olds) if (old) taken[old.index] = 1;
  const index = new Int32Array(flows.length);
  let free = TOTAL_SLOTS;
  let size = TOTAL_SLOTS;
  for (let i = 0; i < flows.length; i++) {
    const old = olds[i];
    if (old) index[i] = old.index;
    else {
      while (taken[free]) free++;
      index[i] = free++;
    }
    size = Math.max(size, (index[i] as number) + 1);
  }

  const column = new Float64Array(2 * size);
  const c = cur.counters;
  const p = prev?.counters;
  column[2 * IN] = (prevColumn[2 * IN] as number) + counterDelta(c.packetsIn, p?.packetsIn ?? 0);
  column[2 * IN + 1] = (prevColumn[2 * IN + 1] as number) + counterDelta(c.bytesIn, p?.bytesIn ?? 0);
  column[2 * OUT] = (prevColumn[2 * OUT] as number) + counterDelta(c.packetsOut, p?.packetsOut ?? 0);
  column[2 * OUT + 1] = (prevColumn[2 * OUT + 1] as number) + counterDelta(c.bytesOut, p?.bytesOut ?? 0);

  const all = [...h.times.slice(0, kept), now];
  const drop = dropped(all, now);
  const times = all.slice(drop);
  const columns = [...h.columns.slice(0, kept), column].slice(drop);
  const first = h.first + drop;
  const [w2, w10, w40] = WINDOWS.map((w) => bracket(times, columns, first, now, w)) as [Bracket, Bracket, Bracket];
  /** A slot's window rates (its column entries written), and its peaks raised to its 2 s rates. */
  const windowsAt = (slot: number, born: number, peaks: Peaks): WindowRates & Peaks => {
    const pps2 = overWindow(w2, column, slot, born, 0);
    const bps2 = overWindow(w2, column, slot, born, 1);
    return {
      pps2,
      bps2,
      pps10: overWindow(w10, column, slot, born, 0),
      bps10: overWindow(w10, column, slot, born, 1),
      pps40: overWindow(w40, column, slot, born, 0),
      bps40: overWindow(w40, column, slot, born, 1),
      peakPps: Math.max(peaks.peakPps, pps2),
      peakBps: Math.max(peaks.peakBps, bps2),
    };
  };

  // Each flow's delta as computeRates takes it, added to its slot; then its windows.
  const seconds = prev ? intervalSeconds(prev, cur) : 0;
  const slots = new Map<string, Slot>();
  const rates: FlowRate[] = new Array(flows.length);
  for (let i = 0; i < flows.length; i++) {
    const flow = flows[i] as FlowRecord;
    const old = olds[i];
    const slot = index[i] as number;
    const at = 2 * slot;
    const since = old && !wasRecreated(flow, old.flow) ? old.flow : undefined;
    const deltaPackets = flow.packets - (since?.packets ?? 0);
    const deltaBytes = flow.bytes - (since?.bytes ?? 0);
    column[at] = (old ? (prevColumn[at] as number) : 0) + deltaPackets;
    column[at + 1] = (old ? (prevColumn[at + 1] as number) : 0) + deltaBytes;
    const born = old ? old.born : serial;
    const w = windowsAt(slot, born, old ?? NO_PEAKS);
    slots.set(flow.key, { index: slot, born, flow, peakPps: w.peakPps, peakBps: w.peakBps });
    const pps = perSecond(deltaPackets, seconds);
    const bps = perSecond(deltaBytes * 8, seconds);
    rates[i] = flowRate(flow, { deltaPackets, deltaBytes, pps, bps, isNew: !old }, w, w);
  }

  const windowsIn = windowsAt(IN, -Infinity, NO_PEAKS);
  const windowsOut = windowsAt(OUT, -Infinity, NO_PEAKS);
  const peakPps = Math.max(h.peakPps, windowsIn.pps2 + windowsOut.pps2);
  const peakBps = Math.max(h.peakBps, windowsIn.bps2 + windowsOut.bps2);
  const history = compacted({ last: cur, times, first, columns, slots, peakPps, peakBps }, size);
  // The first snapshot has no interval yet: computeRates' first-read rates stand.
  if (!prev) return { history, intervalS: 0, rates: computeRates(undefined, cur), totals };
  return {
    history,
    intervalS: Math.max(0, (cur.monoNs - prev.monoNs) / 1e9),
    rates,
    totals: { ...totals, windowsIn, windowsOut, peakPps, peakBps },
  };
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

/** The history with its slots renumbered densely, when fewer than half of `size` slots live. */
function compacted(h: RateHistory, size: number): RateHistory {
  const live = TOTAL_SLOTS + h.slots.size;
  if (size <= 2 * live) return h;
  const slots = new Map<string, Slot>();
  const moves: [from: number, to: number, born: number][] = [];
  for (const [key, slot] of h.slots) {
    const to = TOTAL_SLOTS + slots.size;
    slots.set(key, { ...slot, index: to });
    moves.push([slot.index, to, slot.born]);
  }
  const columns = h.columns.map((old, j) => {
    const col = new Float64Array(2 * live);
    col.set(old.subarray(0, 2 * TOTAL_SLOTS));
    for (const [from, to, born] of moves) {
      if (h.first + j < born) continue;
      col[2 * to] = old[2 * from] ?? 0;
      col[2 * to + 1] = old[2 * from + 1] ?? 0;
    }
    return col;
  });
  return { ...h, columns, slots };
}
