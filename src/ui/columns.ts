/**
 * The table's columns as data: title, width, alignment, sort field and how to print a cell, per
 * grouping. Numbers are right-aligned in fixed widths so they do not jitter from frame to frame;
 * addresses share the rest, and when they would get too narrow the least useful columns go first.
 */
import type { AggregateMode } from '../model/aggregate.js';
import { hasPorts, protoName } from '../model/format.js';
import type { SortField } from '../model/sort.js';
import { portName } from './services.js';
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
} from './text.js';
import { flowCount, type Row } from './view.js';

export interface CellContext {
  readonly units: Units;
  /** Service names for ports. */
  readonly services: boolean;
  /** Host names by address, when names are on. */
  readonly names: ReadonlyMap<string, string> | undefined;
  /** The tick's monotonic time, for ages. */
  readonly nowNs: number;
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

const COLUMNS = {
  proto: { title: 'PROTO', align: 'left', width: 6, sort: 'proto', cell: (r) => (r.proto === undefined ? '*' : protoName(r.proto)) },
  src: { title: 'SOURCE', align: 'left', sort: 'src', cell: (r, ctx) => endpoint(r.src, ports(r) ? r.sport : undefined, ctx) },
  dst: { title: 'DESTINATION', align: 'left', sort: 'dst', cell: (r, ctx) => endpoint(r.dst, ports(r) ? r.dport : undefined, ctx) },
  srcHost: { title: 'SOURCE', align: 'left', sort: 'src', cell: (r, ctx) => host(r.src, ctx) },
  dstHost: { title: 'DESTINATION', align: 'left', sort: 'dst', cell: (r, ctx) => host(r.dst, ctx) },
  dir: { title: 'DIR', align: 'left', width: 4, sort: 'dir', drop: 3, cell: (r) => (r.dir === undefined ? '*' : r.dir === 'ingress' ? 'in' : 'out') },
  port: {
    title: 'PORT',
    align: 'left',
    width: 13,
    cell: (r, ctx) => ('port' in r && r.port !== undefined ? portName(r.port, ctx.services) : '-'),
  },
  flows: { title: 'FLOWS', align: 'right', width: 6, cell: (r) => formatCount(flowCount(r)) },
  packets: { title: 'PACKETS', align: 'right', width: 8, sort: 'packets', cell: (r) => formatCount(r.packets) },
  bytes: { title: 'BYTES', align: 'right', width: 7, sort: 'bytes', drop: 4, cell: (r) => formatBytes(r.bytes) },
  pps: { title: 'PPS', align: 'right', width: 6, sort: 'pps', drop: 1, cell: (r) => formatPps(r.pps) },
  rate: { title: 'RATE', align: 'right', width: 11, sort: 'bps', cell: (r, ctx) => formatRate(r.bps, ctx.units) },
  age: { title: 'AGE', align: 'right', width: 6, sort: 'age', drop: 2, cell: (r, ctx) => formatDuration((ctx.nowNs - r.firstSeenNs) / 1e9) },
} satisfies Record<string, Column>;

type ColumnId = keyof typeof COLUMNS;

const COUNTERS: readonly ColumnId[] = ['packets', 'bytes', 'pps', 'rate', 'age'];

const BY_MODE: Record<AggregateMode, readonly ColumnId[]> = {
  flow: ['proto', 'src', 'dst', 'dir', ...COUNTERS],
  src: ['srcHost', 'flows', ...COUNTERS],
  dst: ['dstHost', 'flows', ...COUNTERS],
  pair: ['srcHost', 'dstHost', 'flows', ...COUNTERS],
  port: ['proto', 'port', 'flows', ...COUNTERS],
  proto: ['proto', 'flows', ...COUNTERS],
};

/** What `ids` leave for their flexible columns in `width`, and how many share it. */
function flexRoom(ids: readonly ColumnId[], width: number): { room: number; flexible: number } {
  const columns: readonly Column[] = ids.map((id) => COLUMNS[id]);
  const fixed = columns.reduce((sum, c) => sum + (c.width ?? 0), 0) + GAP * (ids.length - 1);
  return { room: width - fixed, flexible: columns.filter((c) => c.width === undefined).length };
}

/** The columns shown for a grouping in `width` columns (the gutter not included), with their widths. */
export function placeColumns(mode: AggregateMode, width: number): readonly PlacedColumn[] {
  let ids = BY_MODE[mode];
  const droppable = ids.filter((id) => 'drop' in COLUMNS[id]).sort((a, b) => dropRank(a) - dropRank(b));
  for (const id of droppable) {
    const { room, flexible } = flexRoom(ids, width);
    if (room >= MIN_FLEX * flexible) break;
    ids = ids.filter((other) => other !== id);
  }
  let { room, flexible } = flexRoom(ids, width);
  return ids.map((id) => {
    const column: Column = COLUMNS[id];
    if (column.width !== undefined) return { column, width: column.width };
    const flex = Math.min(MAX_FLEX, Math.max(1, Math.ceil(room / flexible)));
    room -= flex;
    flexible--;
    return { column, width: flex };
  });
}

function dropRank(id: ColumnId): number {
  const column: Column = COLUMNS[id];
  return column.drop ?? Infinity;
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
