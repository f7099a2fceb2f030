/**
 * The table's columns as data: title, width, alignment, sort field and how to print a cell, per
 * grouping and view (rate window, counts since start or per interval). Numbers are right-aligned in fixed widths so they do not jitter from frame to frame;
 * addresses share the rest, and when they would get too narrow the least useful columns go first.
 */
import type { AggregateMode, Traffic } from '../model/aggregate.js';
import { hasPorts, protoName } from '../model/format.js';
import type { SortField } from '../model/sort.js';
import type { Window } from '../model/types.js';
import { portName } from '../names/services.js';
import {
  fit,
  fitKeepingTail,
  formatBytes,
  formatCount,
  formatDuration,
  formatPps,
  formatRate,
  type Align,
  type Units,
} from '../model/text.js';
import { flowCount, type Row } from '../model/rows.js';

export interface CellContext {
  readonly units: Units;
  /** Service names for ports. */
  readonly services: boolean;
  /** Host names by address, when names are on. */
  readonly names: ReadonlyMap<string, string> | undefined;
  /** The tick's monotonic time, for ages. */
  readonly nowNs: number;
}

/** What the counter columns show: one window's rates (the last interval's when none), counts since start or per interval. */
export interface ColumnView {
  readonly window?: Window;
  readonly cumulative?: boolean;
}

/** A cell's text, or a head that may be cut and a tail that is kept (an address and ':443'). */
export type Cell = string | readonly [head: string, tail: string];

interface Column {
  readonly title: string;
  readonly align: Align;
  /** Fixed width (room for the title and a sort mark); absent for the flexible address columns. */
  readonly width?: number;
  readonly sort?: SortField;
  /** Hidden, lowest first, while the columns do not fit with MIN_FLEX for each flexible one. */
  readonly drop?: number;
  readonly cell: (row: Row, ctx: CellContext) => Cell;
}

export interface PlacedColumn {
  readonly column: Column;
  readonly width: number;
}

/** Selection and new-flow marks before the first column. */
export const GUTTER = 2;
const GAP = 1;
/** Room for a typical IPv4 address and ephemeral port. */
const MIN_FLEX = 18;
/** An IPv6 address with brackets and port, or a long host name. */
const MAX_FLEX = 64;

function host(addr: string | undefined, ctx: CellContext): string {
  return addr === undefined ? '*' : (ctx.names?.get(addr) ?? addr);
}

/** host:port, IPv6 addresses in brackets (names need none); '*' for a label the group's flows do not share. */
export function endpoint(addr: string | undefined, port: number | undefined, ctx: CellContext): Cell {
  const name = host(addr, ctx);
  if (addr === undefined || port === undefined) return name;
  const portText = portName(port, ctx.services);
  return name === addr && addr.includes(':') ? [`[${addr}`, `]:${portText}`] : [name, `:${portText}`];
}

export function cellText(cell: Cell): string {
  return typeof cell === 'string' ? cell : cell[0] + cell[1];
}

function ports(row: Row): boolean {
  return row.proto !== undefined && hasPorts(row.proto);
}

/** A row's (or a direction's) bits and packets per second in the view's window. */
export function rateIn(t: Traffic, window: Window | undefined): { bps: number; pps: number } {
  return window ? { bps: t[`bps${window}`], pps: t[`pps${window}`] } : t;
}

function directionRate(row: Row, dir: 'ingress' | 'egress', v: ColumnView, ctx: CellContext): string {
  return 'flows' in row ? formatRate(rateIn(row[dir], v.window).bps, ctx.units) : '-';
}

/** The columns for a view: the counter columns read its window and counter mode. */
const columnsFor = (v: ColumnView) => ({
  proto: { title: 'PROTO', align: 'left', width: 6, sort: 'proto', cell: (r) => (r.proto === undefined ? '*' : protoName(r.proto)) },
  src: { title: 'SOURCE', align: 'left', sort: 'src', cell: (r, ctx) => endpoint(r.src, ports(r) ? r.sport : undefined, ctx) },
  dst: { title: 'DESTINATION', align: 'left', sort: 'dst', cell: (r, ctx) => endpoint(r.dst, ports(r) ? r.dport : undefined, ctx) },
  srcHost: { title: 'SOURCE', align: 'left', sort: 'src', cell: (r, ctx) => host(r.src, ctx) },
  dstHost: { title: 'DESTINATION', align: 'left', sort: 'dst', cell: (r, ctx) => host(r.dst, ctx) },
  local: { title: 'LOCAL', align: 'left', sort: 'src', cell: (r, ctx) => endpoint(r.src, ports(r) ? r.sport : undefined, ctx) },
  remote: { title: 'REMOTE', align: 'left', sort: 'dst', cell: (r, ctx) => endpoint(r.dst, ports(r) ? r.dport : undefined, ctx) },
  localHost: { title: 'LOCAL', align: 'left', sort: 'src', cell: (r, ctx) => host(r.src, ctx) },
  remoteHost: { title: 'REMOTE', align: 'left', sort: 'dst', cell: (r, ctx) => host(r.dst, ctx) },
  in: { title: 'IN', align: 'right', width: 11, cell: (r, ctx) => directionRate(r, 'ingress', v, ctx) },
  out: { title: 'OUT', align: 'right', width: 11, cell: (r, ctx) => directionRate(r, 'egress', v, ctx) },
  dir: { title: 'DIR', align: 'left', width: 4, sort: 'dir', drop: 3, cell: (r) => (r.dir === undefined ? '*' : r.dir === 'ingress' ? 'in' : 'out') },
  port: {
    title: 'PORT',
    align: 'left',
    width: 13,
    cell: (r, ctx) => ('port' in r && r.port !== undefined ? portName(r.port, ctx.services) : '-'),
  },
  flows: { title: 'FLOWS', align: 'right', width: 6, cell: (r) => formatCount(flowCount(r)) },
  packets: {
    title: v.cumulative === false ? '+PKTS' : 'PACKETS',
    align: 'right',
    width: 8,
    sort: 'packets',
    cell: (r) => formatCount(v.cumulative === false ? r.deltaPackets : r.packets),
  },
  bytes: {
    title: v.cumulative === false ? '+BYTES' : 'BYTES',
    align: 'right',
    width: 7,
    sort: 'bytes',
    drop: 4,
    cell: (r) => formatBytes(v.cumulative === false ? r.deltaBytes : r.bytes),
  },
  pps: { title: 'PPS', align: 'right', width: 6, sort: 'pps', drop: 2, cell: (r) => formatPps(rateIn(r, v.window).pps) },
  rate: {
    title: v.window ? `${v.window}s RATE` : 'RATE',
    align: 'right',
    width: 11,
    sort: 'bps',
    cell: (r, ctx) => formatRate(rateIn(r, v.window).bps, ctx.units),
  },
  age: { title: 'AGE', align: 'right', width: 6, sort: 'age', drop: 1, cell: (r, ctx) => formatDuration((ctx.nowNs - r.firstSeenNs) / 1e9) },
}) satisfies Record<string, Column>;

type ColumnId = keyof ReturnType<typeof columnsFor>;

const COUNTERS: readonly ColumnId[] = ['packets', 'bytes', 'pps', 'rate', 'age'];
/** A conversation's rate in, out, and in all; its bytes but not its packets, for room. */
const CONVERSATION: readonly ColumnId[] = ['in', 'out', 'rate', 'bytes', 'pps', 'age'];

const BY_MODE: Record<AggregateMode, readonly ColumnId[]> = {
  flow: ['proto', 'src', 'dst', 'dir', ...COUNTERS],
  src: ['srcHost', 'flows', ...COUNTERS],
  dst: ['dstHost', 'flows', ...COUNTERS],
  pair: ['srcHost', 'dstHost', 'flows', ...COUNTERS],
  port: ['proto', 'port', 'flows', ...COUNTERS],
  proto: ['proto', 'flows', ...COUNTERS],
  conversation: ['proto', 'local', 'remote', ...CONVERSATION],
  'host-conversation': ['localHost', 'remoteHost', 'flows', ...CONVERSATION],
};

/** What `ids` leave for their flexible columns in `width`, and how many share it. */
function flexRoom(all: Record<ColumnId, Column>, ids: readonly ColumnId[], width: number): { room: number; flexible: number } {
  const columns: readonly Column[] = ids.map((id) => all[id]);
  const fixed = columns.reduce((sum, c) => sum + (c.width ?? 0), 0) + GAP * (ids.length - 1);
  return { room: width - fixed, flexible: columns.filter((c) => c.width === undefined).length };
}

/** The columns shown for a grouping in `width` columns (the gutter not included), with their widths. */
export function placeColumns(mode: AggregateMode, width: number, view: ColumnView = {}): readonly PlacedColumn[] {
  const all: Record<ColumnId, Column> = columnsFor(view);
  const dropRank = (id: ColumnId): number => all[id].drop ?? Infinity;
  let ids = BY_MODE[mode];
  const droppable = ids.filter((id) => all[id].drop !== undefined).sort((a, b) => dropRank(a) - dropRank(b));
  for (const id of droppable) {
    const { room, flexible } = flexRoom(all, ids, width);
    if (room >= MIN_FLEX * flexible) break;
    ids = ids.filter((other) => other !== id);
  }
  let { room, flexible } = flexRoom(all, ids, width);
  return ids.map((id) => {
    const column = all[id];
    if (column.width !== undefined) return { column, width: column.width };
    const flex = Math.min(MAX_FLEX, Math.max(1, Math.ceil(room / flexible)));
    room -= flex;
    flexible--;
    return { column, width: flex };
  });
}

function fitCell(cell: Cell, width: number, align: Align): string {
  return typeof cell === 'string' ? fit(cell, width, align) : fitKeepingTail(cell[0], cell[1], width, align);
}

export function rowText(columns: readonly PlacedColumn[], row: Row, ctx: CellContext): string {
  return columns.map(({ column, width }) => fitCell(column.cell(row, ctx), width, column.align)).join(' '.repeat(GAP));
}

/** Column titles; the sort column's title carries ▼ (descending) or ▲. */
export function titleText(columns: readonly PlacedColumn[], sort: SortField, descending: boolean): string {
  return columns
    .map(({ column, width }) => fit(column.title + (column.sort === sort ? (descending ? '▼' : '▲') : ''), width, column.align))
    .join(' '.repeat(GAP));
}

/** The sort fields of the columns shown, left to right: what `<` and `>` move through. */
export function sortFields(columns: readonly PlacedColumn[]): SortField[] {
  return columns.flatMap(({ column }) => (column.sort ? [column.sort] : []));
}
