/**
 * Everything the TUI shows, as one immutable state, and the pure reducer that every input goes
 * through: sampler ticks, key presses (via the keymap), terminal resizes, resolved host names and
 * the detach. After each action the selection is settled: it stays on the same row key while the
 * table re-sorts, falls back to its position when its row goes away, and is kept on screen; a
 * frozen row order is brought up to date (rows gone leave it, new ones go last).
 */
import { AGGREGATE_MODES, type AggregateMode } from '../model/aggregate.js';
import { filterToString, MATCH_ALL, parseFilter, type Filter } from '../model/filter.js';
import { monoToWallMs } from '../model/rates.js';
import { sortKey, type SortField, type SortKey } from '../model/sort.js';
import type { ExportStatus, FlowRecord, Meta, Window } from '../model/types.js';
import { GUTTER, placeColumns, sortFields, type PlacedColumn } from './columns.js';
import { commandFor, type Command, type KeyAction } from './keymap.js';
import { layout, type Layout, type Pane } from './layout.js';
import type { Store } from './store.js';
import type { Units } from '../model/text.js';
import { newRows, steadyOrder, tableRows, type Row, type RowSource, type TickData } from '../model/rows.js';
import { applySortCommand } from './sort-commands.js';

export type { Meta };

export interface Sample {
  readonly monoNs: number;
  readonly value: number;
}

export interface FlowEvent {
  readonly kind: 'new' | 'expired';
  readonly wallMs: number;
  readonly flow: FlowRecord;
}

/** The sampled side of the state: what a pause freezes as a whole. */
export interface Data {
  readonly tick: TickData | undefined;
  /** Monotonic time when sampling began (the first tick's interval before it). */
  readonly startNs: number | undefined;
  /** Total bits/s (in + out), last minute, oldest first. */
  readonly totalRate: readonly Sample[];
  /** bits/s of the rows while they were on screen, last minute, by rowRateKey. */
  readonly rowRates: ReadonlyMap<string, readonly Sample[]>;
  /** Newest last, at most MAX_EVENTS. */
  readonly events: readonly FlowEvent[];
  /** The flow exporters' counts (--ipfix) as of the tick. */
  readonly exports?: readonly ExportStatus[];
}

export interface UiState {
  readonly meta: Meta;
  readonly size: { readonly columns: number; readonly rows: number };
  readonly live: Data;
  /** The data shown while paused; undefined when not paused. */
  readonly frozen: Data | undefined;
  readonly sort: SortField;
  readonly descending: boolean;
  readonly filter: Filter;
  /** The last filter typed, when it did not parse (the previous filter stays in force). */
  readonly filterError: { readonly text: string; readonly message: string } | undefined;
  /** The filter being typed; undefined when the prompt is closed. */
  readonly prompt: string | undefined;
  readonly aggregation: AggregateMode;
  /** The window the rates are shown over and sorted by. */
  readonly window: Window;
  /** Packet and byte columns: since start, or the last interval's. */
  readonly cumulative: boolean;
  /** The frozen row order (row keys); undefined while the table follows the sort. */
  readonly steady: readonly string[] | undefined;
  /** The selected row's key (undefined: whichever row is at rank) and its position in the order. */
  readonly selection: { readonly key: string | undefined; readonly rank: number };
  /** Rank of the first row on screen. */
  readonly scroll: number;
  readonly pane: Pane;
  readonly help: boolean;
  readonly units: Units;
  /** Show host names (reverse DNS) instead of addresses. */
  readonly showNames: boolean;
  /** Names resolved so far, by address. */
  readonly names: ReadonlyMap<string, string>;
  /** Show service names instead of port numbers. */
  readonly services: boolean;
  readonly detach: 'none' | 'requested' | 'done';
  readonly detachLines: readonly string[];
  readonly quit: boolean;
}

export type Action =
  | KeyAction
  | { readonly type: 'tick'; readonly tick: TickData; readonly exports?: readonly ExportStatus[] }
  | { readonly type: 'resize'; readonly columns: number; readonly rows: number }
  | { readonly type: 'names'; readonly names: ReadonlyMap<string, string> }
  | { readonly type: 'detached'; readonly lines: readonly string[] };

export type UiStore = Store<UiState, Action>;

const HISTORY_NS = 60e9;
const MAX_EVENTS = 500;

const NO_DATA: Data = { tick: undefined, startNs: undefined, totalRate: [], rowRates: new Map(), events: [] };

export interface InitialOptions {
  readonly meta: Meta;
  readonly columns: number;
  readonly rows: number;
  readonly sort: SortField;
  readonly descending: boolean;
  /** Filter text (--filter); one that does not parse shows its error and filters nothing. */
  readonly filter: string;
  /** --window (default 2) and --aggregate (default flow). */
  readonly window?: Window;
  readonly aggregation?: AggregateMode;
}

export function initialState(o: InitialOptions): UiState {
  const parsed = parseFilter(o.filter);
  return {
    meta: o.meta,
    size: { columns: o.columns, rows: o.rows },
    live: NO_DATA,
    frozen: undefined,
    sort: o.sort,
    descending: o.descending,
    filter: parsed.ok ? parsed.filter : MATCH_ALL,
    filterError: parsed.ok ? undefined : { text: o.filter, message: parsed.error },
    prompt: undefined,
    aggregation: o.aggregation ?? 'flow',
    window: o.window ?? 2,
    cumulative: true,
    steady: undefined,
    selection: { key: undefined, rank: 0 },
    scroll: 0,
    pane: 'none',
    help: false,
    units: 'bits',
    showNames: false,
    names: new Map(),
    services: false,
    detach: 'none',
    detachLines: [],
    quit: false,
  };
}

// Selectors: what the components and the reducer derive from the state, the same way.

export function shownData(s: UiState): Data {
  return s.frozen ?? s.live;
}

export function currentLayout(s: UiState): Layout {
  const tick = shownData(s).tick;
  const extra = (tick?.snapshot.health !== undefined ? 2 : 0) + (tick?.table.owners !== undefined ? 2 : 0);
  return layout(s.size.columns, s.size.rows, s.pane, s.detach !== 'none', extra);
}

export function shownColumns(s: UiState): readonly PlacedColumn[] {
  const tick = shownData(s).tick;
  const health = tick?.snapshot.health !== undefined;
  const owners = tick?.table.owners !== undefined;
  return placeColumns(s.aggregation, s.size.columns - GUTTER, { window: s.window, cumulative: s.cumulative, health, owners }, s.sort);
}

export function shownRows(s: UiState): RowSource {
  return tableRows(shownData(s).tick, s.filter, s.aggregation);
}

/** What the sort reads: the sort field in the shown window and counter mode. */
function shownSortKey(s: UiState): SortKey {
  return sortKey(s.sort, s.window, s.cumulative);
}

/** Rows start .. start+count-1 of the table's order: the frozen one, or the sort's. */
function rowsAt(s: UiState, rows: RowSource, start: number, count: number): readonly Row[] {
  if (s.steady) return steadyOrder(rows.all(), s.steady, shownSortKey(s), s.descending).rows.slice(start, start + count);
  return rows.window(shownSortKey(s), s.descending, start, count);
}

/** The rows on screen, in order. */
export function visibleRows(s: UiState): readonly Row[] {
  return rowsAt(s, shownRows(s), s.scroll, currentLayout(s).tableRows);
}

export function selectedRow(s: UiState): Row | undefined {
  return rowsAt(s, shownRows(s), s.selection.rank, 1)[0];
}

/** Addresses of the rows on screen and of the detailed row: what reverse DNS is asked for. */
export function addressesOnScreen(s: UiState): string[] {
  const rows = [...visibleRows(s)];
  const detailed = s.pane === 'detail' ? selectedRow(s) : undefined;
  if (detailed) rows.push(detailed);
  return rows.flatMap((r) => [r.src, r.dst]).filter((addr): addr is string => addr !== undefined);
}

/** Row keys are only unique within a grouping ('10.0.0.1' is a source and a destination group). */
export function rowRateKey(mode: AggregateMode, key: string): string {
  return `${mode} ${key}`;
}

export function reducer(s: UiState, a: Action): UiState {
  switch (a.type) {
    case 'tick':
      // After a detach the collector is closed; a tick already under way is dropped.
      return s.detach === 'none' ? recordRowRates(settle({ ...s, live: withTick(s.live, a.tick, a.exports) })) : s;
    case 'resize':
      return settle({ ...s, size: { columns: a.columns, rows: a.rows } });
    case 'names':
      return { ...s, names: new Map([...s.names, ...a.names]) };
    case 'detached':
      return settle({ ...s, detach: 'done', detachLines: a.lines });
    case 'key':
    case 'text':
      return settle(onKey(s, a));
  }
}

function withTick(d: Data, tick: TickData, exports: readonly ExportStatus[] | undefined): Data {
  const now = tick.snapshot.monoNs;
  const created = tick.table
    .rows(newRows(tick).slice(-MAX_EVENTS))
    .map((flow): FlowEvent => ({ kind: 'new', wallMs: monoToWallMs(flow.firstSeenNs, tick.snapshot), flow }));
  const expired = tick.expired.map((flow): FlowEvent => ({ kind: 'expired', wallMs: tick.snapshot.wallMs, flow }));
  return {
    tick,
    startNs: d.startNs ?? now - tick.intervalS * 1e9,
    totalRate: [...recent(d.totalRate, now), { monoNs: now, value: tick.totals.bpsIn + tick.totals.bpsOut }],
    rowRates: d.rowRates,
    events: [...d.events, ...created, ...expired].slice(-MAX_EVENTS),
    ...(exports ? { exports } : {}),
  };
}

function recent(samples: readonly Sample[], nowNs: number): readonly Sample[] {
  return samples.filter((x) => x.monoNs > nowNs - HISTORY_NS);
}

/**
 * Adds the live tick's rate of each row on screen to its history (for the detail pane's
 * sparkline): bounded by the screen, where keeping every flow's history would not be.
 */
function recordRowRates(s: UiState): UiState {
  const tick = s.live.tick;
  if (!tick) return s;
  const now = tick.snapshot.monoNs;
  const rates = new Map<string, readonly Sample[]>();
  for (const [key, samples] of s.live.rowRates) {
    const kept = recent(samples, now);
    if (kept.length > 0) rates.set(key, kept);
  }
  const rows = tableRows(tick, s.filter, s.aggregation);
  for (const row of rowsAt(s, rows, s.scroll, currentLayout(s).tableRows)) {
    const key = rowRateKey(s.aggregation, row.key);
    rates.set(key, [...(rates.get(key) ?? []), { monoNs: now, value: row.bps }]);
  }
  return { ...s, live: { ...s.live, rowRates: rates } };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/**
 * The frozen order up to date with the rows; the selection on its key's current rank (or its old
 * rank if the key is gone), and on screen.
 */
function settle(state: UiState): UiState {
  const rows = shownRows(state);
  const steady = state.steady && steadyOrder(rows.all(), state.steady, shownSortKey(state), state.descending).keys;
  const s = steady === state.steady ? state : { ...state, steady };
  const height = currentLayout(s).tableRows;
  let { key, rank } = s.selection;
  if (key !== undefined) {
    const found = steady ? steady.indexOf(key) : rows.rankOf(shownSortKey(s), s.descending, key);
    if (found < 0) key = undefined;
    else rank = found;
  }
  rank = clamp(rank, 0, Math.max(0, rows.length - 1));
  const scroll = clamp(clamp(s.scroll, rank - height + 1, rank), 0, Math.max(0, rows.length - height));
  if (key === s.selection.key && rank === s.selection.rank && scroll === s.scroll) return s;
  return { ...s, selection: { key, rank }, scroll };
}

function onKey(s: UiState, press: KeyAction): UiState {
  if (press.type === 'key' && press.key === 'ctrl-c') return { ...s, quit: true };
  if (s.prompt !== undefined) return onPromptKey(s, s.prompt, press);
  if (s.help) return { ...s, help: false };
  const command = commandFor(press);
  if (!command) return s;
  const next = run(s, command);
  // A new sort while the order is frozen sorts once, and the order stays frozen.
  const resorted = next.steady && (shownSortKey(next) !== shownSortKey(s) || next.descending !== s.descending);
  return resorted ? { ...next, steady: freeze(next) } : next;
}

/** The table's current order, to freeze. */
function freeze(s: UiState): readonly string[] {
  return steadyOrder(shownRows(s).all(), [], shownSortKey(s), s.descending).keys;
}

function onPromptKey(s: UiState, prompt: string, press: KeyAction): UiState {
  if (press.type === 'text') return { ...s, prompt: prompt + press.text.replace(/[\u0000-\u001f\u007f]/g, '') };
  switch (press.key) {
    case 'backspace':
      return { ...s, prompt: [...prompt].slice(0, -1).join('') };
    case 'enter': {
      const parsed = parseFilter(prompt);
      return parsed.ok
        ? { ...s, prompt: undefined, filter: parsed.filter, filterError: undefined }
        : { ...s, prompt: undefined, filterError: { text: prompt, message: parsed.error } };
    }
    case 'esc':
      return { ...s, prompt: undefined };
    default:
      return s;
  }
}

/** Selects the row at rank (clamped), pinning the selection to its key. */
function select(s: UiState, rank: number): UiState {
  const rows = shownRows(s);
  if (rows.length === 0) return s;
  const at = clamp(rank, 0, rows.length - 1);
  // Usually the row is on screen already, which saves a top-N over every row.
  const row = visibleRows(s)[at - s.scroll] ?? rowsAt(s, rows, at, 1)[0];
  return { ...s, selection: { key: row?.key, rank: at } };
}

/** The next sort column left or right; from a field with no column shown, the first or last. */
function next<T>(list: readonly T[], current: T): T {
  return list[(list.indexOf(current) + 1) % list.length] as T;
}

function run(s: UiState, command: Command): UiState {
  const page = currentLayout(s).tableRows;
  switch (command) {
    case 'sortLeft':
    case 'sortRight':
    case 'reverse':
    case 'sortBytes':
    case 'sortPackets':
    case 'sortRate':
      return applySortCommand(s, command, sortFields(shownColumns(s))) ?? s;
    case 'window2':
      return { ...s, window: 2 };
    case 'window10':
      return { ...s, window: 10 };
    case 'window40':
      return { ...s, window: 40 };
    case 'cumulative':
      return { ...s, cumulative: !s.cumulative };
    case 'up':
      return select(s, s.selection.rank - 1);
    case 'down':
      return select(s, s.selection.rank + 1);
    case 'pageUp':
      return select(s, s.selection.rank - page);
    case 'pageDown':
      return select(s, s.selection.rank + page);
    case 'home':
      return select(s, 0);
    case 'end':
      return select(s, Infinity);
    case 'detail':
      return s.pane === 'detail' ? { ...s, pane: 'none' } : select({ ...s, pane: 'detail' }, s.selection.rank);
    case 'close':
      return { ...s, pane: 'none', filterError: undefined };
    case 'filter':
      return { ...s, prompt: s.filterError?.text ?? filterToString(s.filter), filterError: undefined };
    case 'aggregate':
      return { ...s, aggregation: next(AGGREGATE_MODES, s.aggregation) };
    case 'pause':
      return { ...s, frozen: s.frozen ? undefined : s.live };
    case 'steady':
      return { ...s, steady: s.steady ? undefined : freeze(s) };
    case 'units':
      return { ...s, units: s.units === 'bits' ? 'bytes' : 'bits' };
    case 'names':
      return { ...s, showNames: !s.showNames };
    case 'services':
      return { ...s, services: !s.services };
    case 'events':
      return { ...s, pane: s.pane === 'events' ? 'none' : 'events' };
    case 'help':
      return { ...s, help: true };
    case 'detach':
      return s.detach === 'none' ? { ...s, detach: 'requested' } : s;
    case 'quit':
      return { ...s, quit: true };
  }
}
