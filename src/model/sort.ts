/**
 * Ordering for the table: one comparator per column with a tie-break on key, so rows with equal
 * values keep the same order from frame to frame instead of flickering, and a top-N selection that
 * avoids sorting tens of thousands of flows to show forty.
 */
import { fieldSortKey, SORT_FIELD_IDS, sortColumnOf, sortGroupColumnOf, sortValueOf, sortValueReader, type Row, type SortKey, type SortValue } from './fields.js';
import type { GroupTable } from './group-table.js';
import type { RateTable } from './rate-table.js';
import type { Direction, Window, WindowRates } from './types.js';

/** What the comparators read: a FlowRate has all of it, an aggregated row leaves labels undefined. */
export interface SortRow extends WindowRates {
  readonly key: string;
  readonly packets: number;
  readonly bytes: number;
  readonly deltaPackets: number;
  readonly deltaBytes: number;
  readonly pps: number;
  readonly bps: number;
  readonly firstSeenNs: number;
  readonly lastSeenNs: number;
  readonly src?: string | undefined;
  readonly dst?: string | undefined;
  readonly sport?: number | undefined;
  readonly dport?: number | undefined;
  readonly proto?: number | undefined;
  readonly dir?: Direction | undefined;
}

/** A field rows can be sorted by (`--sort`): an id of the field registry (fields.ts). */
export type SortField = string;

/** `--sort`'s choices, in the registry's order. */
export const SORT_FIELDS: readonly SortField[] = SORT_FIELD_IDS;

/** A field as a view shows it: the rates of one window, the counts since start or of the last interval. */
export type { SortKey };

export function sortKey(field: SortField, window: Window, cumulative: boolean): SortKey {
  return fieldSortKey(field, window, cumulative);
}

/** The value a key sorts by (the registry's); addresses become strings that order numerically. */
function sortValue(field: SortKey, row: SortRow): SortValue {
  return sortValueOf(field, row as Row);
}

/** Undefined (a label that varies within a group) and NaN are "missing". */
function isMissing(value: SortValue): value is undefined {
  return value === undefined || (typeof value === 'number' && Number.isNaN(value));
}

/** Missing values go last in either direction, so a group's mixed label never tops a column. */
function compareValues(va: SortValue, vb: SortValue, descending: boolean): number {
  const ma = isMissing(va);
  const mb = isMissing(vb);
  if (ma || mb) return ma === mb ? 0 : ma ? 1 : -1;
  if (va === vb) return 0;
  const order = (va as number | string) < (vb as number | string) ? -1 : 1;
  return descending ? -order : order;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A comparator for Array.prototype.sort. Equal values are ordered by key, ascending in either
 * direction, so the order is total and the same every frame. (sortRows and topN share this order
 * but read each row's value only once.)
 */
export function compareBy<R extends SortRow>(field: SortKey, descending: boolean): (a: R, b: R) => number {
  return (a, b) => compareValues(sortValue(field, a), sortValue(field, b), descending) || compareKeys(a.key, b.key);
}

/**
 * A comparator of row indices, with each row's value and key read once up front: parsing an
 * address, or even reading a property, on every comparison would dominate the sort. Input position
 * breaks the last ties, so the result is the same as a stable sort's even if keys repeat.
 */
function indexOrder(rows: readonly SortRow[], field: SortKey, descending: boolean): (i: number, j: number) => number {
  const values = rows.map((row) => sortValue(field, row));
  const keys = rows.map((row) => row.key);
  return (i, j) =>
    compareValues(values[i], values[j], descending) || compareKeys(keys[i] as string, keys[j] as string) || i - j;
}

/** A sorted copy. */
export function sortRows<R extends SortRow>(rows: readonly R[], field: SortKey, descending: boolean): R[] {
  const order = indexOrder(rows, field, descending);
  return rows
    .map((_, i) => i)
    .sort(order)
    .map((i) => rows[i] as R);
}

/**
 * The first n of `candidates` in `order`, in O(len log n): a bounded max-heap keeps the n best
 * seen so far with the worst of them at the root.
 */
export function topIndices(candidates: ArrayLike<number>, order: (a: number, b: number) => number, n: number): number[] {
  const limit = Math.floor(n);
  if (!(limit > 0)) return [];
  if (limit >= candidates.length) return Array.from(candidates).sort(order);

  const heap: number[] = []; // candidates; heap[0] is the worst kept
  const worse = (a: number, b: number): boolean => order(heap[a] as number, heap[b] as number) > 0;
  const swap = (a: number, b: number): void => {
    [heap[a], heap[b]] = [heap[b] as number, heap[a] as number];
  };
  const siftUp = (pos: number): void => {
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!worse(pos, parent)) return;
      swap(pos, parent);
      pos = parent;
    }
  };
  const siftDown = (pos: number): void => {
    for (;;) {
      const left = 2 * pos + 1;
      const right = left + 1;
      let worst = pos;
      if (left < heap.length && worse(left, worst)) worst = left;
      if (right < heap.length && worse(right, worst)) worst = right;
      if (worst === pos) return;
      swap(pos, worst);
      pos = worst;
    }
  };

  for (let k = 0; k < candidates.length; k++) {
    const c = candidates[k] as number;
    if (heap.length < limit) {
      heap.push(c);
      siftUp(heap.length - 1);
    } else if (order(c, heap[0] as number) < 0) {
      heap[0] = c;
      siftDown(0);
    }
  }
  return heap.sort(order);
}

/** The first n rows of sortRows(rows, field, descending), in O(len log n). */
export function topN<R extends SortRow>(rows: readonly R[], field: SortKey, descending: boolean, n: number): R[] {
  const all = new Int32Array(rows.length);
  for (let i = 0; i < all.length; i++) all[i] = i;
  return topIndices(all, indexOrder(rows, field, descending), n).map((i) => rows[i] as R);
}

/**
 * compareBy's order on numbered rows whose values are read up front: by value, then by key
 * (`compareKeys`, which may make keys only for the ties it meets), then by number.
 */
export function valueOrder(values: ArrayLike<SortValue>, compareKeys: (i: number, j: number) => number, descending: boolean): (i: number, j: number) => number {
  return (i, j) => compareValues(values[i], values[j], descending) || compareKeys(i, j) || i - j;
}

/** compareBy's order on the rows of a tick's table (row numbers), each value read once up front. */
export function tableOrder(table: RateTable, field: SortKey, descending: boolean): (i: number, j: number) => number {
  const flows = table.flows;
  return valueOrder(sortColumnOf(field, table), (i, j) => flows.compareKeys(i, j), descending);
}

/** compareBy's order on the groups of a GroupTable (group numbers): each group's value read once, keys made for ties only. */
export function groupOrder(groups: GroupTable, field: SortKey, descending: boolean): (i: number, j: number) => number {
  const keys = (i: number, j: number): number => compareKeys(groups.keyOf(i), groups.keyOf(j));
  const column = sortGroupColumnOf(field, groups);
  if (column) return valueOrder(column, keys, descending);
  // Numbers in a typed array (undefined as NaN: both are missing), strings in a plain one.
  const numbers = new Float64Array(groups.length);
  let values: SortValue[] | undefined;
  const cursor = groups.cursor();
  const read = sortValueReader(field);
  for (let g = 0; g < groups.length; g++) {
    cursor.g = g;
    const value = read(cursor as unknown as Row);
    if (values) values.push(value);
    else if (typeof value === 'string') values = [...numbers.subarray(0, g), value];
    else numbers[g] = value ?? NaN;
  }
  return valueOrder(values ?? numbers, keys, descending);
}
