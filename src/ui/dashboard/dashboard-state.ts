/**
 * The dashboard as one immutable state and a pure reducer (sampler ticks, keys, resizes), with
 * selectors that turn it into what each panel shows: the layout, the rate history per interface,
 * the top talkers, the protocol mix, the flow table and the event log. Everything numeric comes
 * from the model (rates, totals, sort, top-N, aggregation) and the table's columns, sort marks and
 * `<`/`>` order come from the TUI's column table, so both views sort and print flows alike.
 */
import { MATCH_ALL, parseFilter, type Filter } from '../../model/filter.js';
import { hasPorts, protoName } from '../../model/format.js';
import { monoToWallMs } from '../../model/rates.js';
import type { SortField } from '../../model/sort.js';
import { cellText, endpoint, GUTTER, placeColumns, rowText, sortFields, titleText, type CellContext, type PlacedColumn } from '../columns.js';
import { commandFor, KEYMAP, keyLabel, type Binding, type Command, type KeyAction } from '../keymap.js';
import type { ExportStatus, Meta } from '../../model/types.js';
import type { FlowEvent } from '../state.js';
import { exportText, fit, formatClock, formatRate, truncate } from '../../model/text.js';
import { flowCount, isNewRow, keptRows, newRows, tableRows, type TickData } from '../../model/rows.js';
import { applySortCommand } from '../sort-commands.js';

/** The run's fixed facts, as the TUI's header has them. */
export type DashMeta = Meta;

/** Bits per second in and out on one interface. */
export interface IfRate {
  readonly in: number;
  readonly out: number;
}

export interface RatePoint {
  readonly monoNs: number;
  /** By interface name, in meta.interfaces order. */
  readonly rates: ReadonlyMap<string, IfRate>;
}

export const PROTO_BUCKETS = ['tcp', 'udp', 'icmp', 'other'] as const;
export type ProtoBucket = (typeof PROTO_BUCKETS)[number];

export interface ProtoPoint {
  readonly monoNs: number;
  /** Bytes counted during the tick's interval, by bucket. */
  readonly bytes: Readonly<Record<ProtoBucket, number>>;
}

export interface DashState {
  readonly meta: DashMeta;
  readonly size: { readonly columns: number; readonly rows: number };
  readonly tick: TickData | undefined;
  /** Oldest first, the last HISTORY_NS. */
  readonly history: readonly RatePoint[];
  /** Oldest first, the last PROTO_WINDOW_NS. */
  readonly protoHistory: readonly ProtoPoint[];
  /** Newest last, at most MAX_EVENTS. */
  readonly events: readonly FlowEvent[];
  readonly sort: SortField;
  readonly descending: boolean;
  readonly filter: Filter;
  readonly help: boolean;
  readonly quit: boolean;
  /** The flow exporters' counts (--ipfix) as of the last tick. */
  readonly exports?: readonly ExportStatus[];
}

export type DashAction =
  | KeyAction
  | { readonly type: 'tick'; readonly tick: TickData; readonly exports?: readonly ExportStatus[] }
  | { readonly type: 'resize'; readonly columns: number; readonly rows: number };

/** The rate chart's span. */
export const HISTORY_NS = 300e9;
/** The protocol mix's span. */
export const PROTO_WINDOW_NS = 60e9;
const MAX_EVENTS = 200;

/** The TUI's bindings that the dashboard honours: help and behaviour come from the same table. */
const COMMANDS: ReadonlySet<Command> = new Set<Command>(['sortLeft', 'sortRight', 'reverse', 'sortBytes', 'sortPackets', 'sortRate', 'help', 'quit']);
export const DASHBOARD_KEYS: readonly Binding[] = KEYMAP.filter((b) => COMMANDS.has(b.command));

export interface DashInit {
  readonly meta: DashMeta;
  readonly columns: number;
  readonly rows: number;
  readonly sort: SortField;
  readonly descending: boolean;
  /** --filter: applies to the table, the talkers and the protocol mix (not to interface rates). */
  readonly filter: string;
}

export function initialDashState(o: DashInit): DashState {
  const parsed = parseFilter(o.filter);
  return {
    meta: o.meta,
    size: { columns: o.columns, rows: o.rows },
    tick: undefined,
    history: [],
    protoHistory: [],
    events: [],
    sort: o.sort,
    descending: o.descending,
    filter: parsed.ok ? parsed.filter : MATCH_ALL,
    help: false,
    quit: false,
  };
}

export function dashReducer(s: DashState, a: DashAction): DashState {
  switch (a.type) {
    case 'tick':
      return a.exports ? { ...withTick(s, a.tick), exports: a.exports } : withTick(s, a.tick);
    case 'resize':
      return a.columns === s.size.columns && a.rows === s.size.rows ? s : { ...s, size: { columns: a.columns, rows: a.rows } };
    case 'key':
    case 'text':
      return onKey(s, a);
  }
}

function onKey(s: DashState, press: KeyAction): DashState {
  if (press.type === 'key' && press.key === 'ctrl-c') return { ...s, quit: true };
  if (s.help) return { ...s, help: false };
  const command = commandFor(press);
  if (!command || !COMMANDS.has(command)) return s;
  const sorted = applySortCommand(s, command, sortFields(tableColumns(s)));
  if (sorted) return sorted;
  switch (command) {
    case 'help':
      return { ...s, help: true };
    case 'quit':
      return { ...s, quit: true };
    default:
      return s;
  }
}

/** As in the TUI: the next sort column left or right among those shown, stopping at the ends. */
function bucketOf(proto: number): ProtoBucket {
  const name = protoName(proto);
  return name === 'tcp' ? 'tcp' : name === 'udp' ? 'udp' : name === 'icmp' || name === 'icmpv6' ? 'icmp' : 'other';
}

function withTick(s: DashState, tick: TickData): DashState {
  const now = tick.snapshot.monoNs;
  const bytes: Record<ProtoBucket, number> = { tcp: 0, udp: 0, icmp: 0, other: 0 };
  // From the columns: no object per flow.
  const { table } = tick;
  const rows = keptRows(tick, s.filter);
  for (let k = 0, n = rows ? rows.length : table.length; k < n; k++) {
    const i = rows ? (rows[k] as number) : k;
    bytes[bucketOf(table.flows.proto(i))] += table.deltaBytes[i] as number;
  }
  const created = tick.table
    .rows(newRows(tick).slice(-MAX_EVENTS))
    .map((flow): FlowEvent => ({ kind: 'new', wallMs: monoToWallMs(flow.firstSeenNs, tick.snapshot), flow }));
  const expired = tick.expired.map((flow): FlowEvent => ({ kind: 'expired', wallMs: tick.snapshot.wallMs, flow }));
  return {
    ...s,
    tick,
    history: [...s.history.filter((p) => p.monoNs > now - HISTORY_NS), { monoNs: now, rates: interfaceRates(tick, s.meta.interfaces) }],
    protoHistory: [...s.protoHistory.filter((p) => p.monoNs > now - PROTO_WINDOW_NS), { monoNs: now, bytes }],
    events: [...s.events, ...created, ...expired].slice(-MAX_EVENTS),
  };
}


/**
 * bits/s in and out per interface. With one interface, the kernel's totals: every frame, non-IP
 * included. With several, the kernel counts all of them together, so each interface's rate is the
 * sum of its flows' rates (IP frames only).
 */
export function interfaceRates(tick: TickData, interfaces: readonly string[]): ReadonlyMap<string, IfRate> {
  if (interfaces.length === 1) return new Map([[interfaces[0]!, { in: tick.totals.bpsIn, out: tick.totals.bpsOut }]]);
  const sums = new Map(interfaces.map((name) => [name, { in: 0, out: 0 }]));
  const { table } = tick;
  for (let i = 0; i < table.length; i++) {
    const sum = sums.get(table.flows.ifname(i));
    if (!sum) continue;
    if (table.flows.dir(i) === 'ingress') sum.in += table.bps[i] as number;
    else sum.out += table.bps[i] as number;
  }
  return sums;
}

// Layout: one header line, then a top row (rate chart, talkers, protocol mix) and a bottom row
// (flow table, event log). Panels have a one-cell border.

export interface Rect {
  readonly top: number;
  readonly left: number;
  readonly width: number;
  readonly height: number;
}

export interface DashLayout {
  readonly header: Rect;
  readonly chart: Rect;
  readonly talkers: Rect;
  readonly proto: Rect;
  readonly table: Rect;
  readonly events: Rect;
}

export const MIN_COLUMNS = 60;
export const MIN_ROWS = 20;

/** From this width on, the protocol mix sits in the top row; below it, above the events. */
const WIDE = 120;

export function dashLayout(columns: number, rows: number): DashLayout {
  const W = Math.max(MIN_COLUMNS, columns);
  const H = Math.max(MIN_ROWS, rows);
  const body = H - 1;
  const topH = Math.min(body - 8, Math.max(9, Math.round(body * 0.45)));
  const bottom = { top: 1 + topH, height: body - topH };
  const tableW = Math.round(W * (W >= WIDE ? 0.64 : 0.6));
  const table = { ...bottom, left: 0, width: tableW };
  if (W >= WIDE) {
    const chartW = Math.round(W * 0.5);
    const talkersW = Math.round((W - chartW) / 2);
    return {
      header: { top: 0, left: 0, width: W, height: 1 },
      chart: { top: 1, left: 0, width: chartW, height: topH },
      talkers: { top: 1, left: chartW, width: talkersW, height: topH },
      proto: { top: 1, left: chartW + talkersW, width: W - chartW - talkersW, height: topH },
      table,
      events: { ...bottom, left: tableW, width: W - tableW },
    };
  }
  const chartW = Math.round(W * 0.55);
  const protoH = Math.round(bottom.height / 2);
  return {
    header: { top: 0, left: 0, width: W, height: 1 },
    chart: { top: 1, left: 0, width: chartW, height: topH },
    talkers: { top: 1, left: chartW, width: W - chartW, height: topH },
    proto: { top: bottom.top, left: tableW, width: W - tableW, height: protoH },
    table,
    events: { top: bottom.top + protoH, left: tableW, width: W - tableW, height: bottom.height - protoH },
  };
}

/** Inside a panel's border. */
function inner(r: Rect): { width: number; height: number } {
  return { width: Math.max(0, r.width - 2), height: Math.max(0, r.height - 2) };
}

/**
 * The flow table's columns, as the TUI places them, with the health columns where the tick has them
 * and the width allows (they go first when narrow). PROC stays in the TUI: at the table's width it
 * would push AGE and AVG out, and with them the sort's next columns.
 */
export function tableColumns(s: DashState): readonly PlacedColumn[] {
  const view = { health: s.tick?.snapshot.health !== undefined };
  return placeColumns('flow', inner(dashLayout(s.size.columns, s.size.rows).table).width - GUTTER, view, s.sort);
}

function cellContext(s: DashState): CellContext {
  return { units: 'bits', services: false, names: undefined, nowNs: s.tick?.snapshot.monoNs ?? 0 };
}

/** The header line: hooks, total rates, flows and the keys to know. */
export function headerText(s: DashState, hooks: string): string {
  const t = s.tick?.totals;
  const rates = t
    ? `  in ${formatRate(t.bpsIn, 'bits')}  out ${formatRate(t.bpsOut, 'bits')}  flows ${t.activeFlows}/${s.meta.maxFlows}` +
      (t.evictions > 0 ? `  evicted ${t.evictions}` : '') +
      (s.exports ?? []).map((e) => `  ${exportText(e)}`).join('')
    : '  waiting for the first interval…';
  const keys = '  ? help  q quit';
  const left = `tc-top dashboard  ${hooks}${rates}`;
  const width = dashLayout(s.size.columns, s.size.rows).header.width;
  return truncate(left, width - keys.length).padEnd(width - keys.length) + keys;
}

/** The flow table: titles with the sort mark, then as many rows as fit, '+' marking new flows. */
export function tableLines(s: DashState): string[] {
  const columns = tableColumns(s);
  const { width, height } = inner(dashLayout(s.size.columns, s.size.rows).table);
  const ctx = cellContext(s);
  const rows = s.tick ? tableRows(s.tick, s.filter, 'flow').window(s.sort, s.descending, 0, Math.max(0, height - 1)) : [];
  const lines = [fit(' '.repeat(GUTTER) + titleText(columns, s.sort, s.descending), width)];
  if (rows.length === 0) lines.push(fit(s.tick ? '  no flows' : '  waiting for the first interval…', width));
  for (const row of rows) lines.push(fit(` ${isNewRow(row, ctx.nowNs) ? '+' : ' '}${rowText(columns, row, ctx)}`, width));
  return lines;
}

export function tableLabel(s: DashState): string {
  const title = titleText(tableColumns(s), s.sort, s.descending);
  const shown = title.includes('▼') || title.includes('▲') ? '' : ` by ${s.sort} ${s.descending ? '▼' : '▲'}`;
  return ` top flows${shown}  < > sort  r reverse `;
}

export interface Talker {
  readonly host: string;
  readonly bps: number;
  readonly flows: number;
}

/**
 * Top senders: flows grouped by source address, by rate (the model's aggregation and top-N, on the
 * columns: an object for each of the n hosts shown, none per flow).
 */
export function topTalkers(s: DashState, n: number): Talker[] {
  if (!s.tick) return [];
  return tableRows(s.tick, s.filter, 'src')
    .window('bps', true, 0, n)
    .map((g) => ({ host: g.key, bps: g.bps, flows: flowCount(g) }));
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `fraction` (0..1) of `width` cells, in eighths of a cell. */
export function bar(fraction: number, width: number): string {
  const eighths = Math.round(Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0)) * width * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

/** One line per talker: host, a bar scaled to the first (largest), the rate. */
export function talkerLines(s: DashState, rect: Rect = dashLayout(s.size.columns, s.size.rows).talkers): string[] {
  const { width, height } = inner(rect);
  const talkers = topTalkers(s, height);
  if (talkers.length === 0) return [s.tick ? 'no traffic' : 'waiting for the first interval…'];
  const rateW = 11;
  const longest = Math.max(...talkers.map((t) => t.host.length));
  // The rate always shows; the host gets up to 45% of the rest, and at least 3 cells are left for the bar.
  const hostW = Math.max(4, Math.min(longest, Math.max(8, Math.floor(width * 0.45)), width - rateW - 2 - 3));
  const barW = Math.max(0, width - hostW - rateW - 2);
  const max = talkers[0]!.bps;
  return talkers.map((t) => `${fit(t.host, hostW)} ${fit(bar(max > 0 ? t.bps / max : 0, barW), barW)} ${fit(formatRate(t.bps, 'bits'), rateW, 'right')}`);
}

/** Shares of the bytes counted over the last minute, by bucket (all 0 when nothing was counted). */
export function protoMix(s: DashState): Record<ProtoBucket, number> {
  const sum: Record<ProtoBucket, number> = { tcp: 0, udp: 0, icmp: 0, other: 0 };
  for (const p of s.protoHistory) for (const b of PROTO_BUCKETS) sum[b] += p.bytes[b];
  const total = PROTO_BUCKETS.reduce((n, b) => n + sum[b], 0);
  for (const b of PROTO_BUCKETS) sum[b] = total > 0 ? sum[b] / total : 0;
  return sum;
}

/** The protocol mix as text bars, for a panel too small for donuts. */
export function protoLines(s: DashState, width: number): string[] {
  const mix = protoMix(s);
  const barW = Math.max(0, width - 6 - 5 - 2);
  return PROTO_BUCKETS.map((b) => `${fit(b, 6)}${fit(bar(mix[b], barW), barW)} ${fit(`${Math.round(mix[b] * 100)}%`, 5, 'right')}`);
}

/** The donuts' radius (in canvas dots) that fits four side by side with their labels; below 4 they are unreadable. */
export function donutRadius(r: Rect): number {
  const canvasW = r.width * 2 - 5;
  const canvasH = r.height * 4 - 12;
  return Math.floor(Math.min((canvasW - 10) / 8, (canvasH - 10) / 2));
}

/** Flows created and expired, newest first. */
export function eventLines(s: DashState, height = inner(dashLayout(s.size.columns, s.size.rows).events).height): string[] {
  if (s.events.length === 0) return ['no flow created or expired yet'];
  const ctx = cellContext(s);
  return s.events
    .slice(-height)
    .reverse()
    .map(({ kind, wallMs, flow }) => {
      const ports = hasPorts(flow.proto);
      const src = cellText(endpoint(flow.src, ports ? flow.sport : undefined, ctx));
      const dst = cellText(endpoint(flow.dst, ports ? flow.dport : undefined, ctx));
      return `${formatClock(wallMs)} ${kind === 'new' ? '+' : '-'} ${protoName(flow.proto)} ${src} → ${dst} ${flow.dir === 'ingress' ? 'in' : 'out'}`;
    });
}

export function eventsLabel(s: DashState): string {
  const created = s.events.filter((e) => e.kind === 'new').length;
  return ` events: + ${created} created  - ${s.events.length - created} expired `;
}

/** The help panel, from the key table the reducer acts on. */
export function helpLines(): string[] {
  return [
    'tc-top dashboard keys (any key closes this help)',
    '',
    ...DASHBOARD_KEYS.map((b) => `${fit(b.keys.map(keyLabel).join(' '), 9)}${b.help}`),
    '',
    'Panels: rate per interface (last 5 min), top talkers by source host,',
    'protocol mix by bytes (last minute), top flows, flows created/expired.',
  ];
}

export interface Series {
  readonly title: string;
  readonly values: readonly number[];
}

export interface ChartData {
  /** e.g. 'Mbit/s': the values are in this unit. */
  readonly unit: string;
  /** One label per point: '-4:10' … 'now' (see ago). */
  readonly labels: readonly string[];
  readonly series: readonly Series[];
  /** The top of the y axis (in unit), never 0. */
  readonly maxY: number;
}

const RATE_UNITS: readonly (readonly [number, string])[] = [
  [1e9, 'Gbit/s'],
  [1e6, 'Mbit/s'],
  [1e3, 'kbit/s'],
  [1, 'bit/s'],
];

/** How long before the newest point: '-1.5s' while the span is short, '-42s', then '-4:10'. */
function ago(ns: number, spanNs: number): string {
  if (ns <= 0) return 'now';
  if (spanNs < 20e9) return `-${(ns / 1e9).toFixed(1)}s`;
  const s = Math.round(ns / 1e9);
  return spanNs < 60e9 ? `-${s}s` : `-${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** A round number at least x: 1, 2, 5 times a power of ten. */
function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  return ([1, 2, 5, 10].find((m) => m * p >= x) ?? 10) * p;
}

/**
 * The rate history as chart series (in and out per interface), averaged down to at most
 * `maxPoints` points, in the largest unit that keeps the peak at 1 or more.
 */
export function chartData(s: DashState, maxPoints: number): ChartData {
  const points = s.history;
  const n = Math.max(1, Math.floor(maxPoints));
  const per = Math.max(1, Math.ceil(points.length / n));
  const buckets: RatePoint[][] = [];
  for (let i = 0; i < points.length; i += per) buckets.push(points.slice(i, i + per));
  const newest = points[points.length - 1]?.monoNs ?? 0;
  const span = newest - (points[0]?.monoNs ?? newest);
  const mean = (bucket: readonly RatePoint[], ifname: string, dir: keyof IfRate): number =>
    bucket.reduce((sum, p) => sum + (p.rates.get(ifname)?.[dir] ?? 0), 0) / bucket.length;
  const raw = s.meta.interfaces.flatMap((ifname) =>
    (['in', 'out'] as const).map((dir) => ({ title: `${ifname} ${dir}`, values: buckets.map((b) => mean(b, ifname, dir)) })),
  );
  const peak = Math.max(0, ...raw.flatMap((r) => r.values));
  const [scale, unit] = RATE_UNITS.find(([f]) => peak >= f) ?? RATE_UNITS[RATE_UNITS.length - 1]!;
  return {
    unit,
    labels: buckets.map((b) => ago(newest - b[b.length - 1]!.monoNs, span)),
    series: raw.map((r) => ({ title: r.title, values: r.values.map((v) => v / scale) })),
    maxY: niceCeil((peak / scale) * 1.1),
  };
}
