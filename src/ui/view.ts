/**
 * The table's rows from a tick: filtered, grouped, and ordered only as far as the screen needs.
 * Each frame costs O(flows) for the filter and the selection's rank plus O(flows log rows shown)
 * for the top-N; no frame sorts every flow. Results are cached per input, so the reducer and the
 * components asking for the same rows in the same frame pay once.
 */
import { aggregate, type AggregateMode, type AggRow } from '../model/aggregate.js';
import { matches, type Filter } from '../model/filter.js';
import { compareBy, sortRows, topN, type SortKey } from '../model/sort.js';
import type { FlowRate, Tick } from '../model/types.js';

/** What one sampler tick gives the UI (the model's Tick). */
export type TickData = Tick;

/** A table row: one flow, or a group of flows. */
export type Row = FlowRate | AggRow;

const NO_ROWS: readonly Row[] = [];

/**
 * Caches fn's last result per first argument (held weakly), so the live and the paused view
 * each keep their own entry.
 */
function cached<F extends object, A extends unknown[], R>(fn: (first: F, ...rest: A) => R): (first: F, ...rest: A) => R {
  const cache = new WeakMap<F, { readonly rest: A; readonly result: R }>();
  return (first, ...rest) => {
    const hit = cache.get(first);
    if (hit && hit.rest.every((v, i) => Object.is(v, rest[i]))) return hit.result;
    const result = fn(first, ...rest);
    cache.set(first, { rest, result });
    return result;
  };
}

const groupedRows = cached((tick: TickData, filter: Filter, mode: AggregateMode): readonly Row[] => {
  const kept = filter.kind === 'all' ? tick.rates : tick.rates.filter((r) => matches(filter, r));
  return mode === 'flow' ? kept : aggregate(kept, mode);
});

/** The rows the table orders, in no particular order. */
export function tableRows(tick: TickData | undefined, filter: Filter, mode: AggregateMode): readonly Row[] {
  return tick ? groupedRows(tick, filter, mode) : NO_ROWS;
}

/** Position of the row with this key in the sorted order, or -1 when no row has it. */
export const rankOf = cached((rows: readonly Row[], field: SortKey, descending: boolean, key: string): number => {
  const target = rows.find((r) => r.key === key);
  if (!target) return -1;
  const order = compareBy<Row>(field, descending);
  let rank = 0;
  for (const row of rows) if (order(row, target) < 0) rank++;
  return rank;
});

/** Rows start .. start+count-1 of the sorted order. */
export const windowRows = cached(
  (rows: readonly Row[], field: SortKey, descending: boolean, start: number, count: number): readonly Row[] =>
    topN(rows, field, descending, start + count).slice(start),
);

/** A frozen order of row keys, and the rows in it. */
export interface Steady {
  readonly keys: readonly string[];
  readonly rows: readonly Row[];
}

const steadyCache = new WeakMap<readonly Row[], Steady & { readonly field: SortKey; readonly descending: boolean }>();

/**
 * A frozen order brought up to date with the rows, in one pass: rows that are gone leave it, rows
 * it lacks are appended in sort order. Its keys are the same array when nothing changed, and
 * asking again with them is free (the answer is cached per rows at that fixed point).
 */
export function steadyOrder(rows: readonly Row[], order: readonly string[], field: SortKey, descending: boolean): Steady {
  const hit = steadyCache.get(rows);
  if (hit && hit.keys === order && hit.field === field && hit.descending === descending) return hit;
  const unplaced = new Map(rows.map((r) => [r.key, r]));
  const placed: Row[] = [];
  for (const key of order) {
    const row = unplaced.get(key);
    if (!row) continue;
    placed.push(row);
    unplaced.delete(key);
  }
  const added = sortRows([...unplaced.values()], field, descending);
  const all = added.length === 0 ? placed : [...placed, ...added];
  const keys = all.length === order.length && added.length === 0 ? order : all.map((r) => r.key);
  const result = { keys, rows: all, field, descending };
  steadyCache.set(rows, result);
  return result;
}

/** A flow created less than this long ago is marked as new. */
const NEW_FOR_NS = 3e9;

export function isNewRow(row: Row, nowNs: number): boolean {
  return ('isNew' in row && row.isNew) || nowNs - row.firstSeenNs < NEW_FOR_NS;
}

/** No packets during the last interval. */
export function isIdleRow(row: Row): boolean {
  return row.deltaPackets === 0;
}

/** Member flows of a row. */
export function flowCount(row: Row): number {
  return 'flows' in row ? row.flows : 1;
}
