/**
 * The table's rows from a tick: filtered, grouped, and ordered only as far as the screen needs.
 * Each frame costs O(flows) for the filter and the selection's rank plus O(flows log rows shown)
 * for the top-N; no frame sorts every flow. Results are cached per input, so the reducer and the
 * components asking for the same rows in the same frame pay once.
 */
import type { AggregateMode, AggRow } from './aggregate.js';
import { matchingRows, type Filter } from './filter.js';
import { GroupTable } from './group-table.js';
import type { RateTable } from './rate-table.js';
import { compareBy, groupOrder, sortRows, tableOrder, topIndices, topN, type SortKey } from './sort.js';
import type { FlowRate, Tick } from './types.js';

/** What one sampler tick gives the UI (the model's Tick). */
export type TickData = Tick;

/** A table row: one flow, or a group of flows. */
export type Row = FlowRate | AggRow;

/**
 * The rows a table orders, without ordering them all: a frame asks for the rows on screen and
 * for the rank of the selected one, each O(rows) at most.
 */
export interface RowSource {
  readonly length: number;
  /** Rows start .. start+count-1 of the sorted order. */
  window(field: SortKey, descending: boolean, start: number, count: number): readonly Row[];
  /** Position of the row with this key in the sorted order, or -1 when no row has it. */
  rankOf(field: SortKey, descending: boolean, key: string): number;
  /** Every row, in no particular order. */
  all(): readonly Row[];
}

/** Answers the same question twice in a row (the reducer, then the components) from one computation. */
function lastCall<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  let last: { readonly args: A; readonly result: R } | undefined;
  return (...args) => {
    if (last && last.args.every((v, i) => Object.is(v, args[i]))) return last.result;
    const result = fn(...args);
    last = { args, result };
    return result;
  };
}

/** Rows held as objects: groups, or flows given as a list. */
class ArrayRows implements RowSource {
  constructor(private readonly rows: readonly Row[]) {}

  get length(): number {
    return this.rows.length;
  }

  window = lastCall((field: SortKey, descending: boolean, start: number, count: number): readonly Row[] =>
    topN(this.rows, field, descending, start + count).slice(start),
  );

  rankOf = lastCall((field: SortKey, descending: boolean, key: string): number => {
    const target = this.rows.find((r) => r.key === key);
    if (!target) return -1;
    const order = compareBy<Row>(field, descending);
    let rank = 0;
    for (const row of this.rows) if (order(row, target) < 0) rank++;
    return rank;
  });

  all(): readonly Row[] {
    return this.rows;
  }
}

/**
 * Rows numbered 0..n-1 in columns (a tick's flows, or its groups), ordered by index comparators:
 * objects only for the rows asked for. Each order's comparator and its longest top-N are kept, so
 * the screen's rows and the selection's rank share them.
 */
abstract class IndexRows implements RowSource {
  private readonly orders = new Map<string, (i: number, j: number) => number>();
  private readonly tops = new Map<string, number[]>();
  private every: Int32Array | undefined;
  private everything: readonly Row[] | undefined;

  constructor(
    readonly length: number,
    /** Row numbers to choose from (a filter's); undefined for every row. */
    private readonly picked: Int32Array | undefined,
  ) {}

  /** The order of two row numbers under a sort key. */
  protected abstract makeOrder(field: SortKey, descending: boolean): (i: number, j: number) => number;
  /** These rows as objects, in this order. */
  protected abstract rowsOf(indices: readonly number[]): readonly Row[];
  /** The row number of the row with this key, or -1. */
  protected abstract indexOf(key: string): number;
  /** Every row as an object. */
  protected abstract everyRow(): readonly Row[];

  private order(field: SortKey, descending: boolean): (i: number, j: number) => number {
    const id = `${field} ${descending}`;
    let order = this.orders.get(id);
    if (!order) {
      order = this.makeOrder(field, descending);
      this.orders.set(id, order);
    }
    return order;
  }

  private candidates(): ArrayLike<number> {
    if (this.picked) return this.picked;
    if (!this.every) {
      this.every = new Int32Array(this.length);
      for (let i = 0; i < this.every.length; i++) this.every[i] = i;
    }
    return this.every;
  }

  window(field: SortKey, descending: boolean, start: number, count: number): readonly Row[] {
    const id = `${field} ${descending}`;
    let top = this.tops.get(id);
    if (!top || (top.length < start + count && top.length < this.length)) {
      top = topIndices(this.candidates(), this.order(field, descending), start + count);
      this.tops.set(id, top);
    }
    return this.rowsOf(top.slice(start, start + count));
  }

  rankOf = lastCall((field: SortKey, descending: boolean, key: string): number => {
    const target = this.indexOf(key);
    if (target < 0 || (this.picked && !this.picked.includes(target))) return -1;
    const order = this.order(field, descending);
    const rows = this.candidates();
    let rank = 0;
    for (let k = 0; k < rows.length; k++) if (order(rows[k] as number, target) < 0) rank++;
    return rank;
  });

  all(): readonly Row[] {
    this.everything ??= this.everyRow();
    return this.everything;
  }
}

/** A tick's flows straight from its columns (the rows a filter kept, or all). */
class TableRows extends IndexRows {
  constructor(
    private readonly table: RateTable,
    /** Row numbers the filter kept; undefined for every row. */
    private readonly kept: Int32Array | undefined,
  ) {
    super(kept ? kept.length : table.length, kept);
  }
  protected makeOrder(field: SortKey, descending: boolean) {
    return tableOrder(this.table, field, descending);
  }
  protected rowsOf(indices: readonly number[]): readonly Row[] {
    return this.table.rows(indices);
  }
  protected indexOf(key: string): number {
    return this.table.flows.indexOfKey(key);
  }
  protected everyRow(): readonly Row[] {
    return this.kept ? this.table.rows(Array.from(this.kept)) : this.table.all();
  }
}

/** A tick's flows grouped on the columns (group-table.ts). */
class GroupRows extends IndexRows {
  constructor(private readonly groups: GroupTable) {
    super(groups.length, undefined);
  }
  protected makeOrder(field: SortKey, descending: boolean) {
    return groupOrder(this.groups, field, descending);
  }
  protected rowsOf(indices: readonly number[]): readonly Row[] {
    return this.groups.rowsOf(indices);
  }
  protected indexOf(key: string): number {
    return this.groups.indexOfKey(key);
  }
  protected everyRow(): readonly Row[] {
    return this.groups.all();
  }
}

const NO_ROWS: RowSource = new ArrayRows([]);

/** Caches fn's last result per first argument (held weakly), so the live and the paused view each keep their own. */
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

// Cached per table, not per tick: a retired tick lets its table go, and the cache's entry with it
// (a stale reference to the tick, such as React's previous props, does not keep them).
const keptRowsOf = cached((table: RateTable, filter: Filter): Int32Array | undefined =>
  filter.kind === 'all' ? undefined : matchingRows(filter, table.flows, { health: table.health, owners: table.owners }),
);

/** Row numbers of the tick's flows the filter keeps (undefined: every row), once per tick and filter. */
export function keptRows(tick: TickData, filter: Filter): Int32Array | undefined {
  return keptRowsOf(tick.table, filter);
}

const groupedRows = cached((table: RateTable, filter: Filter, mode: AggregateMode): RowSource => {
  const picked = keptRowsOf(table, filter);
  if (mode === 'flow') return new TableRows(table, picked);
  return new GroupRows(new GroupTable(table, mode, picked));
});

/** The rows the table orders. */
export function tableRows(tick: TickData | undefined, filter: Filter, mode: AggregateMode): RowSource {
  return tick ? groupedRows(tick.table, filter, mode) : NO_ROWS;
}

/** Rows of the flows new in this tick, in row order. */
export function newRows(tick: TickData): number[] {
  const rows: number[] = [];
  for (let i = 0; i < tick.table.length; i++) if (tick.table.isNew[i]) rows.push(i);
  return rows;
}

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
