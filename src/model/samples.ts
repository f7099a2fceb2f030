/**
 * The samples of the rate history (windows.ts): one per interval between two snapshots, keeping
 * only what counted in it. Samples closer than SPACING_NS are merged (the newer replaces the newest
 * kept one), samples no window reaches any more are dropped. Pure functions: each returns new
 * arrays and never writes one it was given.
 */
import { counterDelta } from './rates.js';
import type { MovedRows } from './rate-table.js';
import type { Snapshot, Window } from './types.js';

/** The longest window, in ns. */
export const LONGEST_NS = 40e9;
/**
 * Samples closer than this are merged, so that memory does not grow with the tick rate: a little
 * under the default 1 s interval, so that timer jitter never merges two default ticks.
 */
export const SPACING_NS = 0.9e9;

/** The global counters' deltas: packets in, bytes in, packets out, bytes out. */
export type CounterDeltas = readonly [number, number, number, number];

/** The flows that moved in an interval: slot, packets, bytes (a slot may appear more than once after a merge). */
export interface Deltas {
  readonly slots: Int32Array;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
}

/** What counted in one interval. */
export interface Sample extends Deltas {
  /** Monotonic time of the snapshot that ends the interval. */
  readonly monoNs: number;
  readonly totals: CounterDeltas;
}

/** True when the next sample replaces the newest kept one: that one is too close to the one before it. */
export function mergesNewest(samples: readonly Sample[]): boolean {
  const n = samples.length;
  return n >= 2 && (samples[n - 1] as Sample).monoNs - (samples[n - 2] as Sample).monoNs < SPACING_NS;
}

/**
 * The deltas of the rows that moved (either delta non-zero: RateTable.movedRows), under their slots,
 * in row order; none when `keep` is false (the first snapshot's deltas are whole counts so far: no
 * window holds them).
 */
export function movedDeltas(moved: MovedRows, slotOfRow: Int32Array, keep: boolean): Deltas {
  if (!keep) return { slots: new Int32Array(0), packets: new Float64Array(0), bytes: new Float64Array(0) };
  const slots = new Int32Array(moved.rows.length);
  for (let k = 0; k < slots.length; k++) slots[k] = slotOfRow[moved.rows[k] as number] as number;
  return { slots, packets: moved.packets, bytes: moved.bytes };
}

/** The global counters' deltas from prev to cur (all of cur without prev, or after a reset). */
export function counterDeltas(prev: Snapshot | undefined, cur: Snapshot): CounterDeltas {
  const c = cur.counters;
  const pc = prev?.counters;
  return [
    counterDelta(c.packetsIn, pc?.packetsIn ?? 0),
    counterDelta(c.bytesIn, pc?.bytesIn ?? 0),
    counterDelta(c.packetsOut, pc?.packetsOut ?? 0),
    counterDelta(c.bytesOut, pc?.bytesOut ?? 0),
  ];
}

function concat<T extends Int32Array | Float64Array>(a: T, b: T): T {
  const out = new (a.constructor as new (n: number) => T)(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The sample ending at monoNs; merged into `into` (its deltas first) when given. */
export function makeSample(monoNs: number, deltas: Deltas, totals: CounterDeltas, into?: Sample): Sample {
  if (!into) return { monoNs, ...deltas, totals };
  return {
    monoNs,
    slots: concat(into.slots, deltas.slots),
    packets: concat(into.packets, deltas.packets),
    bytes: concat(into.bytes, deltas.bytes),
    totals: [0, 1, 2, 3].map((k) => (into.totals[k] as number) + (totals[k] as number)) as unknown as CounterDeltas,
  };
}

/** How many of the oldest samples no window reaches any more (one at or before now - 40 s stays). */
export function dropped(samples: readonly Sample[], now: number): number {
  let drop = 0;
  while (drop + 1 < samples.length && (samples[drop + 1] as Sample).monoNs <= now - LONGEST_NS) drop++;
  return drop;
}

/** The kept samples and the serial of the first. */
export interface Kept {
  readonly samples: readonly Sample[];
  readonly first: number;
}

/**
 * The samples after `sample` is added at `now`: it replaces the newest when `merge`, and the
 * samples no window reaches any more are dropped.
 */
export function keepSamples(kept: Kept, sample: Sample, merge: boolean, now: number): Kept {
  const all = [...(merge ? kept.samples.slice(0, -1) : kept.samples), sample];
  const drop = dropped(all, now);
  return { samples: all.slice(drop), first: kept.first + drop };
}

/** Where a window starts among the samples. */
export interface Bracket {
  /** Serial of the sample the start falls in (the oldest when the history is shorter than the window). */
  readonly bound: number;
  /** The share of that sample's interval inside the window (0 when it is the oldest). */
  readonly inside: number;
  /** The window's length, or the whole history's when that is shorter. */
  readonly seconds: number;
}

/** Where window w, ending at now, starts among the samples (at least one), the first numbered `first`. */
export function bracket(samples: readonly Sample[], first: number, now: number, w: Window): Bracket {
  const start = now - w * 1e9;
  const oldest = (samples[0] as Sample).monoNs;
  if (start <= oldest) return { bound: first, inside: 0, seconds: (now - oldest) / 1e9 };
  let i = 0;
  while ((samples[i + 1] as Sample).monoNs <= start) i++;
  const from = (samples[i] as Sample).monoNs;
  const to = (samples[i + 1] as Sample).monoNs;
  return { bound: first + i + 1, inside: (to - start) / (to - from), seconds: w };
}
