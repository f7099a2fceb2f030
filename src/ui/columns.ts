/**
 * The TUI table's columns: the label columns of each grouping, then the counter columns of the
 * field registry (src/model/fields.ts), read in the view's rate window and counter mode. Numbers are right-aligned in fixed widths so they do not jitter from frame to frame;
 * addresses share the rest, and when they would get too narrow the least useful columns go first.
 */
import type { AggregateMode } from '../model/aggregate.js';
import { rateIn, TUI_CONVERSATION, TUI_COUNTERS, type Field, type FieldView } from '../model/fields.js';
import { hasPorts, protoName } from '../model/format.js';
import type { SortField } from '../model/sort.js';
import { portName } from '../names/services.js';
import { fit, fitKeepingTail, formatCount, type Align, type Units } from '../model/text.js';
import { flowCount, type Row } from '../model/rows.js';
import { containerName, procText } from '../model/owners.js';

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
export type ColumnView = FieldView;

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

export { rateIn };

/** The label columns, the TUI's own layout; the counter columns come from the field registry. */
const LABELS = {
  proto: { title: 'PROTO', align: 'left', width: 6, sort: 'proto', cell: (r) => (r.proto === undefined ? '*' : protoName(r.proto)) },
  src: { title: 'SOURCE', align: 'left', sort: 'src', cell: (r, ctx) => endpoint(r.src, ports(r) ? r.sport : undefined, ctx) },
  dst: { title: 'DESTINATION', align: 'left', sort: 'dst', cell: (r, ctx) => endpoint(r.dst, ports(r) ? r.dport : undefined, ctx) },
  srcHost: { title: 'SOURCE', align: 'left', sort: 'src', cell: (r, ctx) => host(r.src, ctx) },
  dstHost: { title: 'DESTINATION', align: 'left', sort: 'dst', cell: (r, ctx) => host(r.dst, ctx) },
  local: { title: 'LOCAL', align: 'left', sort: 'src', cell: (r, ctx) => endpoint(r.src, ports(r) ? r.sport : undefined, ctx) },
  remote: { title: 'REMOTE', align: 'left', sort: 'dst', cell: (r, ctx) => endpoint(r.dst, ports(r) ? r.dport : undefined, ctx) },
  localHost: { title: 'LOCAL', align: 'left', sort: 'src', cell: (r, ctx) => host(r.src, ctx) },
  remoteHost: { title: 'REMOTE', align: 'left', sort: 'dst', cell: (r, ctx) => host(r.dst, ctx) },
  dir: { title: 'DIR', align: 'left', width: 4, sort: 'dir', drop: 4, cell: (r) => (r.dir === undefined ? '*' : r.dir === 'ingress' ? 'in' : 'out') },
  port: {
    title: 'PORT',
    align: 'left',
    width: 13,
    cell: (r, ctx) => ('port' in r && r.port !== undefined ? portName(r.port, ctx.services) : '-'),
  },
  flows: { title: 'FLOWS', align: 'right', width: 6, cell: (r) => formatCount(flowCount(r)) },
  proc: { title: 'PROCESS', align: 'left', sort: 'proc', cell: (r) => procText(r.owner) },
  cgroup: { title: 'CGROUP', align: 'left', cell: (r) => cgroupText(r) },
} satisfies Record<string, Column>;

type LabelId = keyof typeof LABELS;

/** A registry field as a counter column of a view. */
function counterColumn(f: Field, v: ColumnView): Column {
  const tui = f.tui!;
  return {
    title: tui.title ? tui.title(v) : f.title,
    align: tui.align,
    width: tui.width,
    ...(f.sort ? { sort: f.id } : {}),
    ...(tui.drop !== undefined ? { drop: tui.drop } : {}),
    cell: (r, ctx) => tui.cell(r, v, ctx),
  };
}

const BY_MODE: Record<AggregateMode, readonly LabelId[]> = {
  flow: ['proto', 'src', 'dst', 'dir'],
  src: ['srcHost', 'flows'],
  dst: ['dstHost', 'flows'],
  pair: ['srcHost', 'dstHost', 'flows'],
  port: ['proto', 'port', 'flows'],
  proto: ['proto', 'flows'],
  conversation: ['proto', 'local', 'remote'],
  'host-conversation': ['localHost', 'remoteHost', 'flows'],
  process: ['proc', 'flows'],
  cgroup: ['cgroup', 'flows'],
};

/** A group's cgroup path with its container's name: '-' for none, '*' where its flows differ. */
function cgroupText(r: Row): string {
  const path = 'flows' in r ? r.cgroup : r.owner?.cgroup;
  if (path === undefined) return 'flows' in r ? '*' : '-';
  if (path === null) return '-';
  const name = containerName(path);
  return name ? `${name}  ${path}` : path;
}

/** A view's columns, left to right: its labels, then the registry's counters (a conversation's own). */
function columnsFor(mode: AggregateMode, v: ColumnView): readonly Column[] {
  const conversation = mode === 'conversation' || mode === 'host-conversation';
  const counters = conversation ? TUI_CONVERSATION : TUI_COUNTERS;
  // Health columns only with health; PROC only with owners, and not beside the process view's own PROCESS column.
  const shown = counters.filter((f) => (!f.tui?.health || v.health) && (!f.tui?.owners || (v.owners && mode !== 'process')));
  return [...BY_MODE[mode].map((id) => LABELS[id] as Column), ...shown.map((f) => counterColumn(f, v))];
}

/** What `columns` leave for their flexible ones in `width`, and how many share it. */
function flexRoom(columns: readonly Column[], width: number): { room: number; flexible: number } {
  const fixed = columns.reduce((sum, c) => sum + (c.width ?? 0), 0) + GAP * (columns.length - 1);
  return { room: width - fixed, flexible: columns.filter((c) => c.width === undefined).length };
}

/**
 * The columns shown for a grouping in `width` columns (the gutter not included), with their widths.
 * The column of the sort is never the one dropped: what the rows are ordered by stays on screen.
 */
export function placeColumns(mode: AggregateMode, width: number, view: ColumnView = {}, sort?: SortField): readonly PlacedColumn[] {
  const all = columnsFor(mode, view);
  const fits = (columns: readonly Column[]): boolean => {
    const { room, flexible } = flexRoom(columns, width);
    return room >= MIN_FLEX * flexible;
  };
  const droppable = all.filter((c) => c.drop !== undefined && c.sort !== sort).sort((a, b) => (a.drop as number) - (b.drop as number));
  const dropped = new Set<Column>();
  for (const column of droppable) {
    if (fits(all.filter((c) => !dropped.has(c)))) break;
    dropped.add(column);
  }
  // A wide column dropped late may have made room for a narrower one dropped before it: put back
  // what fits, the most important first (BYTES beside PPS and RATE at 80 columns, once PROC went).
  for (const column of [...dropped].reverse()) {
    dropped.delete(column);
    if (!fits(all.filter((c) => !dropped.has(c)))) dropped.add(column);
  }
  const shown = all.filter((c) => !dropped.has(c));
  let { room, flexible } = flexRoom(shown, width);
  return shown.map((column) => {
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
