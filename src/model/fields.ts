/**
 * The one table of fields (htop's Process_fields[]): each field of a row written once, with its
 * column title, its description, how it sorts, how the TUI and `--batch` print it, and its name and
 * value in `--json`. The order of the table is the order of the batch columns, of the TUI's counter
 * columns and of the JSON members. The TUI's counter columns, the batch columns, the JSON objects, the sort keys
 * and `--sort`'s choices all derive from this table; a new field is one entry here plus its test.
 *
 * A row is a flow (FlowRate) or a group of flows (AggRow); a label a group's flows do not share is
 * undefined there (shown '*', null in JSON, sorted last). Values that depend on the view (a
 * window's rate, counts since start or of the last interval) take the view as an argument.
 */
import type { AggRow, Traffic } from './aggregate.js';
import { hasPorts, protoName, tcpFlagsString } from './format.js';
import { addressSortKey } from './address.js';
import { procText, type Owner } from './owners.js';
import { monoToWallMs } from './rates.js';
import type { RateTable } from './rate-table.js';
import type { GroupSum, GroupTable } from './group-table.js';
import { formatBytes, formatCount, formatDuration, formatPps, formatRate, type Units } from './text.js';
import type { FlowRate, FlowRecord, Snapshot, Window, WindowRates } from './types.js';
import { windowRate, WINDOWS } from './windows.js';
import { formatRttUs, type HealthRow } from './health.js';

/** A table row: one flow, or a group of flows. */
export type Row = FlowRate | AggRow;

/** What the counter fields show: one window's rates (the last interval's when none), counts since start or per interval. */
export interface FieldView {
  readonly window?: Window | undefined;
  readonly cumulative?: boolean | undefined;
  /** The tick has health (RTT, retransmits, drops): their columns are shown. */
  readonly health?: boolean | undefined;
  /** Whether the tick carries owners (the owner programs run): the owner columns are shown only then. */
  readonly owners?: boolean | undefined;
}

/** What a cell needs besides its row and view. */
export interface CellContext {
  readonly units: Units;
  /** The tick's monotonic time, for ages. */
  readonly nowNs: number;
}

export type SortValue = number | string | undefined;

/** The name a view sorts by: a field under a window and a counter mode ('bps10', 'deltaPackets', 'avg'). */
export type SortKey = string;

/** How a field orders rows. */
export interface FieldSort {
  /** The key it sorts by in a view (a window's rate, the counts of the interval); default: the field's id. */
  readonly key?: (window: Window, cumulative: boolean) => SortKey;
  /** Every key it can give (a sort key names one field). */
  readonly keys?: readonly SortKey[];
  /** A row object's value under one of its keys. */
  readonly row: (r: Row, key: SortKey) => SortValue;
  /** The whole column of a tick's flows under one of its keys, read once per sort. */
  readonly column: (t: RateTable, key: SortKey) => ArrayLike<SortValue>;
  /** The whole column of a tick's groups under one of its keys; absent: each group read as a row is. */
  readonly groups?: (t: GroupTable, key: SortKey) => ArrayLike<SortValue>;
}

/** A column of the TUI's counter columns (the label columns are the TUI's own layout). */
export interface TuiColumn {
  readonly align: 'left' | 'right';
  /** Room for the values and the title with a sort mark. */
  readonly width: number;
  /**
   * Hidden, lowest first, while the columns do not fit; absent: always shown. At 80 columns a flow
   * row keeps its packet and byte rates side by side (PPS and RATE) and its bytes.
   */
  readonly drop?: number;
  /** Among the counter columns of the flow and group views (in the registry's order). */
  readonly counter?: boolean;
  /** Its place among a conversation's counter columns; absent: not there. */
  readonly conversation?: number;
  /** Shown only when the tick has health (not with --no-tcp-stats, nor on scripted input without it). */
  readonly health?: boolean;
  /** Shown only when the tick has owners (not with --no-processes). */
  readonly owners?: boolean;
  readonly title?: (v: FieldView) => string;
  readonly cell: (r: Row, v: FieldView, ctx: CellContext) => string;
}

/** A column of `--batch`'s table; rates over the view's window. */
export interface BatchColumn {
  readonly right: boolean;
  /** Only when rows are groups. */
  readonly groups?: boolean;
  /** Only when the tick has health (RTT, retransmits, drops) or owners, as the TUI's columns. */
  readonly only?: 'health' | 'owners';
  readonly cell: (r: Row, w: Window) => string;
}

/** A member of the JSON objects of `--json`: flows (with rates, or expired without), and groups. */
export interface JsonMember {
  readonly name: string;
  /** A flow's value; undefined leaves the member out (rates of an expired flow). Absent: not on flows. */
  readonly flow?: (f: FlowRecord, rates: FlowRate | undefined, snap: Snapshot) => unknown;
  /** A group's value. Absent: not on groups. */
  readonly group?: (g: AggRow, snap: Snapshot) => unknown;
}

export interface Field {
  /** Its name on the command line (`--sort avg`) and in the code. */
  readonly id: string;
  /** Column title. */
  readonly title: string;
  /** One line for `--help`, the README and the help screens. */
  readonly description: string;
  readonly sort?: FieldSort;
  readonly tui?: TuiColumn;
  readonly batch?: BatchColumn;
  readonly json?: readonly JsonMember[];
}

const KNOWN_PROTOS = new Set([1, 6, 17, 58, 132, 136]);

/** JSON's numbers: three decimals. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function iso(monoNs: number, snap: Snapshot): string {
  return new Date(Math.round(monoToWallMs(monoNs, snap))).toISOString();
}

/** '2s', '10s', '40s' → that window's rates. */
export function windowsJson<T>(each: (w: Window) => T): Record<string, T> {
  return Object.fromEntries(WINDOWS.map((w) => [`${w}s`, each(w)]));
}

function ratesJson(r: WindowRates) {
  return windowsJson((w) => {
    const { pps, bps } = windowRate(r, w);
    return { pps: round(pps), bps: round(bps) };
  });
}

function trafficJson(t: Traffic) {
  return { packets: t.packets, bytes: t.bytes, pps: round(t.pps), bps: round(t.bps), windows: ratesJson(t) };
}

/** A row's (or a direction's) bits and packets per second in the view's window. */
export function rateIn(t: Traffic, window: Window | undefined): { bps: number; pps: number } {
  return window ? { bps: t[`bps${window}`], pps: t[`pps${window}`] } : t;
}

function protoJson(proto: number): string | number {
  return KNOWN_PROTOS.has(proto) ? protoName(proto) : proto;
}

/** A label of the flow's own, and of a group's where its flows share it. */
function label<K extends 'family' | 'src' | 'dst' | 'sport' | 'dport' | 'dir' | 'ifname'>(name: string, key: K): JsonMember {
  return { name, flow: (f) => f[key], group: (g) => g[key] ?? null };
}

/** A label field: sorted by its value, the table's column read per row. */
function labelSort(read: (r: Row) => SortValue, column: (t: RateTable, i: number) => SortValue): FieldSort {
  return { row: read, column: (t) => Array.from({ length: t.length }, (_, i) => column(t, i)) };
}

/** An address as a string that orders numerically; a group's mixed label stays undefined. */
function addressKey(text: string | undefined): SortValue {
  return text === undefined ? undefined : addressSortKey(text);
}

const cumulativeOr = (v: FieldView): boolean => v.cumulative !== false;

/** Mean bytes per packet; undefined without packets (sorted last, shown '-'). */
function average(bytes: number, packets: number): number | undefined {
  return packets > 0 ? bytes / packets : undefined;
}

function averages(bytes: ArrayLike<number>, packets: ArrayLike<number>): Float64Array {
  const out = new Float64Array(bytes.length);
  for (let i = 0; i < out.length; i++) out[i] = average(bytes[i] as number, packets[i] as number) ?? NaN;
  return out;
}

export const FIELDS: readonly Field[] = [
  {
    id: 'proto',
    title: 'PROTO',
    description: 'IP protocol',
    sort: labelSort((r) => r.proto, (t, i) => t.flows.proto(i)),
    batch: { right: false, cell: (r) => (r.proto === undefined ? '*' : protoName(r.proto)) },
    json: [{ name: 'proto', flow: (f) => protoJson(f.proto), group: (g) => (g.proto === undefined ? null : protoJson(g.proto)) }, label('family', 'family')],
  },
  {
    id: 'src',
    title: 'SOURCE',
    description: 'source address (numerically)',
    sort: labelSort((r) => addressKey(r.src), (t, i) => t.flows.addressSortKey(i, 'src')),
    batch: { right: false, cell: (r) => endpointText(r, r.src, r.sport) },
    json: [label('src', 'src'), label('sport', 'sport')],
  },
  {
    id: 'dst',
    title: 'DESTINATION',
    description: 'destination address (numerically)',
    sort: labelSort((r) => addressKey(r.dst), (t, i) => t.flows.addressSortKey(i, 'dst')),
    batch: { right: false, cell: (r) => endpointText(r, r.dst, r.dport) },
    json: [label('dst', 'dst'), label('dport', 'dport')],
  },
  {
    id: 'sport',
    title: 'SPORT',
    description: 'source port',
    sort: labelSort((r) => r.sport, (t, i) => t.flows.sport(i)),
  },
  {
    id: 'dport',
    title: 'DPORT',
    description: 'destination port (ICMP: type × 256 + code)',
    sort: labelSort((r) => r.dport, (t, i) => t.flows.dport(i)),
  },
  {
    id: 'dir',
    title: 'DIR',
    description: 'direction: in (ingress) or out (egress)',
    sort: labelSort((r) => r.dir, (t, i) => t.flows.dir(i)),
    batch: { right: false, cell: (r) => (r.dir === undefined ? '*' : r.dir === 'ingress' ? 'in' : 'out') },
    json: [label('dir', 'dir')],
  },
  {
    id: 'iface',
    title: 'IFACE',
    description: 'interface',
    batch: { right: false, cell: (r) => r.ifname ?? '*' },
    json: [label('ifname', 'ifname')],
  },
  {
    id: 'proc',
    title: 'PROC',
    description: "the local process behind the flow, comm[pid] ('-': forwarded, the kernel's own or injected)",
    sort: labelSort((r) => procSortKey(r.owner), (t, i) => (t.owners ? procSortKey(t.owners.owner(i)) : undefined)),
    // Dropped after the cumulative counters and before DIR, PPS and RATE: at 80 columns the rates keep priority.
    tui: { align: 'left', width: 16, drop: 3.5, counter: true, owners: true, cell: (r) => procText(r.owner) },
    batch: { right: false, only: 'owners', cell: (r) => procText(r.owner) },
    json: [
      ownerMember('pid', (o) => o.pid),
      ownerMember('comm', (o) => o.comm),
      ownerMember('uid', (o) => o.uid),
      { name: 'cgroup', flow: (_f, r) => (r && 'owner' in r ? (r.owner?.cgroup ?? null) : undefined), group: (g) => ('owner' in g ? (g.cgroup ?? null) : undefined) },
    ],
  },
  {
    id: 'flows',
    title: 'FLOWS',
    description: 'flows in the group',
    batch: { right: true, groups: true, cell: (r) => String('flows' in r ? r.flows : 1) },
  },
  {
    id: 'packets',
    title: 'PACKETS',
    description: 'packets since the flow entered the map (c: of the last interval)',
    sort: {
      key: (_w, cumulative) => (cumulative ? 'packets' : 'deltaPackets'),
      keys: ['packets', 'deltaPackets'],
      row: (r, key) => (key === 'packets' ? r.packets : r.deltaPackets),
      column: (t, key) => (key === 'packets' ? t.flows.packets : t.deltaPackets),
      groups: groupSum,
    },
    tui: {
      align: 'right',
      width: 8,
      drop: 2,
      counter: true,
      title: (v) => (cumulativeOr(v) ? 'PACKETS' : '+PKTS'),
      cell: (r, v) => formatCount(cumulativeOr(v) ? r.packets : r.deltaPackets),
    },
    batch: { right: true, cell: (r) => String(r.packets) },
    json: [{ name: 'packets', flow: (f) => f.packets, group: (g) => g.packets }],
  },
  {
    id: 'bytes',
    title: 'BYTES',
    description: 'bytes since the flow entered the map (c: of the last interval)',
    sort: {
      key: (_w, cumulative) => (cumulative ? 'bytes' : 'deltaBytes'),
      keys: ['bytes', 'deltaBytes'],
      row: (r, key) => (key === 'bytes' ? r.bytes : r.deltaBytes),
      column: (t, key) => (key === 'bytes' ? t.flows.bytes : t.deltaBytes),
      groups: groupSum,
    },
    tui: {
      align: 'right',
      width: 7,
      drop: 3,
      counter: true,
      conversation: 4,
      title: (v) => (cumulativeOr(v) ? 'BYTES' : '+BYTES'),
      cell: (r, v) => formatBytes(cumulativeOr(v) ? r.bytes : r.deltaBytes),
    },
    batch: { right: true, cell: (r) => formatBytes(r.bytes) },
    json: [{ name: 'bytes', flow: (f) => f.bytes, group: (g) => g.bytes }],
  },
  {
    id: 'in',
    title: 'IN',
    description: "a group's traffic counted at ingress",
    tui: { align: 'right', width: 11, conversation: 1, cell: (r, v, ctx) => directionRate(r, 'ingress', v, ctx) },
    batch: { right: true, groups: true, cell: (r, w) => ('flows' in r ? formatRate(windowRate(r.ingress, w).bps, 'bits') : '') },
    json: [{ name: 'ingress', group: (g) => trafficJson(g.ingress) }],
  },
  {
    id: 'out',
    title: 'OUT',
    description: "a group's traffic counted at egress",
    tui: { align: 'right', width: 11, conversation: 2, cell: (r, v, ctx) => directionRate(r, 'egress', v, ctx) },
    batch: { right: true, groups: true, cell: (r, w) => ('flows' in r ? formatRate(windowRate(r.egress, w).bps, 'bits') : '') },
    json: [{ name: 'egress', group: (g) => trafficJson(g.egress) }],
  },
  {
    id: 'pps',
    title: 'PPS',
    description: 'packets per second over the window (--window, keys 1 2 3)',
    sort: {
      key: (w) => `pps${w}`,
      keys: ['pps', ...WINDOWS.map((w) => `pps${w}`)],
      row: (r, key) => r[key as 'pps'],
      column: (t, key) => t[key as 'pps'],
      groups: groupSum,
    },
    tui: { align: 'right', width: 6, drop: 5, counter: true, conversation: 5, cell: (r, v) => formatPps(rateIn(r, v.window).pps) },
    batch: { right: true, cell: (r, w) => windowRate(r, w).pps.toFixed(1) },
    json: [{ name: 'pps', flow: (_f, r) => (r ? round(r.pps) : undefined), group: (g) => round(g.pps) }],
  },
  {
    id: 'bps',
    title: 'RATE',
    description: 'bits per second over the window (the default sort)',
    sort: {
      key: (w) => `bps${w}`,
      keys: ['bps', ...WINDOWS.map((w) => `bps${w}`)],
      row: (r, key) => r[key as 'bps'],
      column: (t, key) => t[key as 'bps'],
      groups: groupSum,
    },
    tui: {
      align: 'right',
      width: 11,
      counter: true,
      conversation: 3,
      title: (v) => (v.window ? `${v.window}s RATE` : 'RATE'),
      cell: (r, v, ctx) => formatRate(rateIn(r, v.window).bps, ctx.units),
    },
    batch: { right: true, cell: (r, w) => formatRate(windowRate(r, w).bps, 'bits') },
    json: [
      { name: 'bps', flow: (_f, r) => (r ? round(r.bps) : undefined), group: (g) => round(g.bps) },
      { name: 'windows', flow: (_f, r) => (r ? ratesJson(r) : undefined), group: (g) => ratesJson(g) },
      { name: 'peak', flow: (_f, r) => (r ? { pps: round(r.peakPps), bps: round(r.peakBps) } : undefined) },
    ],
  },
  {
    id: 'avg',
    title: 'AVG',
    description: 'average packet size in bytes (bytes / packets; c: of the last interval)',
    sort: {
      key: (_w, cumulative) => (cumulative ? 'avg' : 'deltaAvg'),
      keys: ['avg', 'deltaAvg'],
      row: (r, key) => (key === 'avg' ? average(r.bytes, r.packets) : average(r.deltaBytes, r.deltaPackets)),
      column: (t, key) => (key === 'avg' ? averages(t.flows.bytes, t.flows.packets) : averages(t.deltaBytes, t.deltaPackets)),
    },
    tui: {
      align: 'right',
      width: 6,
      drop: 0,
      counter: true,
      cell: (r, v) => {
        const avg = cumulativeOr(v) ? average(r.bytes, r.packets) : average(r.deltaBytes, r.deltaPackets);
        return avg === undefined ? '-' : String(Math.round(avg));
      },
    },
    batch: { right: true, cell: (r) => String(Math.round(average(r.bytes, r.packets) ?? 0)) },
    json: [
      {
        name: 'avg',
        flow: (f) => (f.packets > 0 ? round(f.bytes / f.packets) : null),
        group: (g) => (g.packets > 0 ? round(g.bytes / g.packets) : null),
      },
    ],
  },
  {
    id: 'age',
    title: 'AGE',
    description: 'time since the first packet',
    // Older first when descending: age grows as firstSeenNs shrinks.
    sort: { row: (r) => -r.firstSeenNs, column: (t) => t.flows.firstSeenNs.map((ns) => -ns) },
    tui: { align: 'right', width: 6, drop: 1, counter: true, conversation: 6, cell: (r, _v, ctx) => formatDuration((ctx.nowNs - r.firstSeenNs) / 1e9) },
    json: [{ name: 'first_seen', flow: (f, _r, snap) => iso(f.firstSeenNs, snap), group: (g, snap) => iso(g.firstSeenNs, snap) }],
  },
  {
    id: 'last_seen',
    title: 'LAST SEEN',
    description: 'time of the latest packet',
    sort: { row: (r) => r.lastSeenNs, column: (t) => t.flows.lastSeenNs },
    json: [{ name: 'last_seen', flow: (f, _r, snap) => iso(f.lastSeenNs, snap), group: (g, snap) => iso(g.lastSeenNs, snap) }],
  },
  {
    id: 'tcp_flags',
    title: 'FLAGS',
    description: 'TCP flags seen, as letters (F S R P A U E C)',
    json: [{ name: 'tcp_flags', flow: (f) => tcpFlagsString(f.tcpFlags), group: (g) => tcpFlagsString(g.tcpFlags) }],
  },
  // Health (--no-tcp-stats leaves it out): counted per event by bpf/tc_top_health.bpf.c. Their
  // columns go first when narrow (drop ranks below AVG's), so that every layout without them is
  // kept and PPS and RATE keep priority.
  {
    id: 'rtt',
    title: 'RTT',
    description: "TCP: the socket's smoothed RTT (the last of the interval; min and max in --json and the details); a flow without a local socket (forwarded, or read from a capture): its handshake's RTT at the hook",
    sort: { row: (r) => r.health?.rttUs?.last ?? NaN, column: (t) => healthColumn(t, (h) => h.rttLast) },
    tui: { align: 'right', width: 7, drop: -1, counter: true, health: true, cell: (r) => formatRttUs(r.health?.rttUs?.last) },
    batch: { right: true, only: 'health', cell: (r) => formatRttUs(r.health?.rttUs?.last) },
    json: [{ name: 'rtt_us', flow: (_f, r) => healthJson(r?.health, rttJson), group: (g) => healthJson(g.health, rttJson) }],
  },
  {
    id: 'retrans',
    title: 'RETR',
    description: 'TCP: retransmitted segments since the flow entered the map (c: of the last interval)',
    sort: {
      key: (_w, cumulative) => (cumulative ? 'retrans' : 'deltaRetrans'),
      keys: ['retrans', 'deltaRetrans'],
      row: (r, key) => healthCount(r.health, key === 'retrans', 'retrans') ?? NaN,
      column: (t, key) => healthColumn(t, (h) => (key === 'retrans' ? h.retrans : h.deltaRetrans)),
    },
    tui: { align: 'right', width: 6, drop: -2, counter: true, health: true, cell: (r, v) => countCell(healthCount(r.health, cumulativeOr(v), 'retrans')) },
    // Since start, as the batch table's PACKETS and BYTES.
    batch: { right: true, only: 'health', cell: (r) => countCell(healthCount(r.health, true, 'retrans')) },
    json: [{ name: 'retrans', flow: (_f, r) => healthJson(r?.health, (h) => h.retrans ?? null), group: (g) => healthJson(g.health, (h) => h.retrans ?? null) }],
  },
  {
    id: 'drops',
    title: 'DROPS',
    description: 'packets the kernel dropped, with a reason (c: of the last interval; reasons in --json and the details)',
    sort: {
      key: (_w, cumulative) => (cumulative ? 'drops' : 'deltaDrops'),
      keys: ['drops', 'deltaDrops'],
      row: (r, key) => healthCount(r.health, key === 'drops', 'drops') ?? NaN,
      column: (t, key) => healthColumn(t, (h) => (key === 'drops' ? h.drops : h.deltaDrops)),
    },
    tui: { align: 'right', width: 6, drop: -3, counter: true, health: true, cell: (r, v) => countCell(healthCount(r.health, cumulativeOr(v), 'drops')) },
    batch: { right: true, only: 'health', cell: (r) => countCell(healthCount(r.health, true, 'drops')) },
    json: [{ name: 'drops', flow: (_f, r) => healthJson(r?.health, dropsJson), group: (g) => healthJson(g.health, dropsJson) }],
  },
];

/** A health count of a row under the view: since start, or of the last interval. */
function healthCount(h: HealthRow | undefined, cumulative: boolean, total: 'retrans' | 'drops'): number | undefined {
  if (!h) return undefined;
  return total === 'retrans' ? (cumulative ? h.retrans : h.deltaRetrans) : cumulative ? h.drops : h.deltaDrops;
}

/** A health column of the tick, NaN everywhere when it has none. */
function healthColumn(t: RateTable, pick: (h: NonNullable<RateTable['health']>) => Float64Array): Float64Array {
  return t.health ? pick(t.health) : new Float64Array(t.length).fill(NaN);
}

function countCell(n: number | undefined): string {
  return n === undefined ? '-' : formatCount(n);
}

/** A health count as a JSON member: the number, null where the kernel refused the hook. */
function healthJson(h: HealthRow | undefined, value: (h: HealthRow) => unknown): unknown {
  return h ? value(h) : undefined;
}

function rttJson(h: HealthRow): unknown {
  const r = h.rttUs;
  return r ? { last: r.last, min: r.min ?? null, max: r.max ?? null, source: r.handshake ? 'handshake' : 'socket' } : null;
}

function dropsJson(h: HealthRow): unknown {
  return h.drops === undefined ? null : Object.fromEntries(h.dropReasons);
}

/** 'comm[pid]' for sorting; none and a group's mixed owners sort last. */
function procSortKey(owner: Owner | null | undefined): SortValue {
  return owner ? `${owner.comm}[${owner.pid}]` : undefined;
}

/** An owner's member of a flow's and a group's JSON: null without one (or mixed), absent without owners at all. */
function ownerMember(name: string, read: (o: Owner) => unknown): JsonMember {
  return {
    name,
    flow: (_f, r) => (r && 'owner' in r ? (r.owner ? read(r.owner) : null) : undefined),
    group: (g) => ('owner' in g ? (g.owner ? read(g.owner) : null) : undefined),
  };
}

function directionRate(row: Row, dir: 'ingress' | 'egress', v: FieldView, ctx: CellContext): string {
  return 'flows' in row ? formatRate(rateIn(row[dir], v.window).bps, ctx.units) : '-';
}

/** addr:port, IPv6 in brackets; '*' where a group's flows differ. */
function endpointText(r: Row, addr: string | undefined, port: number | undefined): string {
  if (addr === undefined) return '*';
  if (port === undefined || r.proto === undefined || !hasPorts(r.proto)) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

const BY_ID: ReadonlyMap<string, Field> = new Map(FIELDS.map((f) => [f.id, f]));

export function fieldById(id: string): Field | undefined {
  return BY_ID.get(id);
}

/** The fields rows can be sorted by, in the table's order: `--sort`'s choices. */
export const SORT_FIELD_IDS: readonly string[] = FIELDS.filter((f) => f.sort).map((f) => f.id);

/** The field a sort key belongs to. */
const KEY_OWNER: ReadonlyMap<SortKey, Field> = new Map(
  FIELDS.flatMap((f) => (f.sort ? (f.sort.keys ?? [f.id]).map((k): [SortKey, Field] => [k, f]) : [])),
);

function sortOf(key: SortKey): FieldSort {
  const sort = KEY_OWNER.get(key)?.sort;
  if (!sort) throw new Error(`no field sorts by '${key}'`);
  return sort;
}

/** The key a field sorts by under a window and a counter mode. */
export function fieldSortKey(id: string, window: Window, cumulative: boolean): SortKey {
  const sort = BY_ID.get(id)?.sort;
  if (!sort) throw new Error(`no field '${id}' to sort by`);
  return sort.key ? sort.key(window, cumulative) : id;
}

/** A sum of the groups' members, whose sort keys are all GroupSum names (packets, bytes, pps, bps). */
function groupSum(t: GroupTable, key: SortKey): Float64Array {
  return t.column(key as GroupSum);
}

/** A row object's value under a sort key. */
export function sortValueOf(key: SortKey, row: Row): SortValue {
  return sortOf(key).row(row, key);
}

/** sortValueOf under one key, the field looked up once: for the values of many rows. */
export function sortValueReader(key: SortKey): (row: Row) => SortValue {
  const sort = sortOf(key);
  return (row) => sort.row(row, key);
}

/** A sort key's value for every group of a tick, when its field reads groups as a column (else undefined). */
export function sortGroupColumnOf(key: SortKey, groups: GroupTable): ArrayLike<SortValue> | undefined {
  return sortOf(key).groups?.(groups, key);
}

/** A sort key's value for every row of a tick's table. */
export function sortColumnOf(key: SortKey, table: RateTable): ArrayLike<SortValue> {
  return sortOf(key).column(table, key);
}

/** The members of a flow's JSON object, in the registry's order (rates left out for an expired flow). */
export function flowJsonOf(f: FlowRecord, snap: Snapshot, rates?: FlowRate): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of JSON_FLOW) {
    const value = m.flow!(f, rates, snap);
    if (value !== undefined) out[m.name] = value;
  }
  return out;
}

/** A group's JSON object: its key and member count, then the registry's members. */
export function groupJsonOf(g: AggRow, snap: Snapshot): Record<string, unknown> {
  const out: Record<string, unknown> = { key: g.key, flows: g.flows };
  for (const m of JSON_GROUP) {
    const value = m.group!(g, snap);
    if (value !== undefined) out[m.name] = value;
  }
  return out;
}

/** JSON members in the registry's order. */
const MEMBERS = FIELDS.flatMap((f) => f.json ?? []);
const JSON_FLOW = MEMBERS.filter((m) => m.flow);
const JSON_GROUP = MEMBERS.filter((m) => m.group);

/** The batch table's columns, in the registry's order. */
export const BATCH_FIELDS: readonly Field[] = FIELDS.filter((f) => f.batch);

/** The TUI's counter columns of the flow and group views, and of the conversation views, in order. */
export const TUI_COUNTERS: readonly Field[] = FIELDS.filter((f) => f.tui?.counter);
export const TUI_CONVERSATION: readonly Field[] = FIELDS.filter((f) => f.tui?.conversation !== undefined).sort(
  (a, b) => a.tui!.conversation! - b.tui!.conversation!,
);

/** The fields as a Markdown table, for the README (a test keeps the README's copy identical). */
export function fieldsMarkdown(): string {
  const json = (f: Field): string => (f.json ? f.json.map((m) => `\`${m.name}\``).join(' ') : '-');
  const rows = FIELDS.map((f) => `| ${f.sort ? `\`${f.id}\`` : '-'} | ${f.title} | ${f.description} | ${json(f)} |`);
  return ['| `--sort` | column | meaning | `--json` |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
