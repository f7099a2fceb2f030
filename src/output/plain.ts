/**
 * The non-interactive views: one JSON object per update (--json) and plain text tables like
 * `top -b` (--batch). Pure functions of a tick; the caller writes the result.
 */
import type { Options } from '../app/options.js';
import { MATCH_ALL, parseFilter, type Filter } from '../model/filter.js';
import { tableRows } from '../model/rows.js';
import { sortKey } from '../model/sort.js';
import prettyBytes from 'pretty-bytes';
import { formatRate, textWidth } from '../model/text.js';
import type { AggregateMode, AggRow, Traffic } from '../model/aggregate.js';
import { formatEndpoint, hasPorts, protoName, tcpFlagsString } from '../model/format.js';
import { monoToWallMs, type Totals } from '../model/rates.js';
import type { FlowRate, FlowRecord, HookView, Meta, Snapshot, Tick, Window, WindowRates } from '../model/types.js';
import { windowRate, WINDOWS } from '../model/windows.js';


export interface TickView {
  readonly snapshot: Snapshot;
  readonly intervalS: number;
  /** The rows to show, already filtered, grouped by `aggregate`, sorted and limited. */
  readonly rows: readonly (FlowRate | AggRow)[];
  readonly aggregate: AggregateMode;
  /** The window of the batch table's RATE and PPS. */
  readonly window: Window;
  readonly totals: Totals;
  readonly expired: readonly FlowRecord[];
  readonly interfaces: readonly string[];
  readonly hooks: readonly HookView[];
}

const KNOWN_PROTOS = new Set([1, 6, 17, 58, 132, 136]);

function iso(monoNs: number, snap: Snapshot): string {
  return new Date(Math.round(monoToWallMs(monoNs, snap))).toISOString();
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** '2s', '10s', '40s' → that window's rates. */
function windowsJson<T>(each: (w: Window) => T): Record<string, T> {
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

/** A group of flows (--aggregate): labels its flows share, null where they differ. */
function groupJson(g: AggRow, snap: Snapshot) {
  return {
    key: g.key,
    flows: g.flows,
    proto: g.proto === undefined ? null : KNOWN_PROTOS.has(g.proto) ? protoName(g.proto) : g.proto,
    family: g.family ?? null,
    src: g.src ?? null,
    sport: g.sport ?? null,
    dst: g.dst ?? null,
    dport: g.dport ?? null,
    dir: g.dir ?? null,
    ifname: g.ifname ?? null,
    ...trafficJson(g),
    ingress: trafficJson(g.ingress),
    egress: trafficJson(g.egress),
    first_seen: iso(g.firstSeenNs, snap),
    last_seen: iso(g.lastSeenNs, snap),
    tcp_flags: tcpFlagsString(g.tcpFlags),
  };
}

function flowJson(f: FlowRecord, snap: Snapshot, rates?: FlowRate) {
  return {
    proto: KNOWN_PROTOS.has(f.proto) ? protoName(f.proto) : f.proto,
    family: f.family,
    src: f.src,
    sport: f.sport,
    dst: f.dst,
    dport: f.dport,
    dir: f.dir,
    ifname: f.ifname,
    packets: f.packets,
    bytes: f.bytes,
    ...(rates
      ? { pps: round(rates.pps), bps: round(rates.bps), windows: ratesJson(rates), peak: { pps: round(rates.peakPps), bps: round(rates.peakBps) } }
      : {}),
    first_seen: iso(f.firstSeenNs, snap),
    last_seen: iso(f.lastSeenNs, snap),
    tcp_flags: tcpFlagsString(f.tcpFlags),
  };
}

/** One JSON line (without the newline). Schema documented in the README. */
export function jsonLine(v: TickView): string {
  const t = v.totals;
  const c = v.snapshot.counters;
  const rows = v.rows.map((r) => ('flows' in r ? groupJson(r, v.snapshot) : flowJson(r, v.snapshot, r)));
  return JSON.stringify({
    time: new Date(v.snapshot.wallMs).toISOString(),
    interval: round(v.intervalS),
    interfaces: v.interfaces,
    hooks: v.hooks.map((h) => ({ ifname: h.ifname, kind: h.kind, dir: h.dir, mode: h.mode })),
    totals: {
      packets_in: t.packetsIn,
      packets_out: t.packetsOut,
      bytes_in: t.bytesIn,
      bytes_out: t.bytesOut,
      pps_in: round(t.ppsIn),
      pps_out: round(t.ppsOut),
      bps_in: round(t.bpsIn),
      bps_out: round(t.bpsOut),
      windows: windowsJson((w) => {
        const [rin, rout] = [windowRate(t.windowsIn, w), windowRate(t.windowsOut, w)];
        return { pps_in: round(rin.pps), pps_out: round(rout.pps), bps_in: round(rin.bps), bps_out: round(rout.bps) };
      }),
      peak: { pps: round(t.peakPps), bps: round(t.peakBps) },
      flows: t.activeFlows,
    },
    counters: {
      non_ip: c.nonIp,
      non_ip_bytes: c.nonIpBytes,
      malformed: c.malformed,
      malformed_bytes: c.malformedBytes,
      update_failed: c.updateFailed,
      flows_created: c.flowsCreated,
      flows_expired: v.snapshot.flowsDeleted,
      evictions: t.evictions,
      max_flows: v.snapshot.maxFlows,
    },
    ...(v.aggregate === 'flow' ? { flows: rows } : { aggregate: v.aggregate, groups: rows }),
    expired: v.expired.map((f) => flowJson(f, v.snapshot)),
  });
}

function bits(bps: number): string {
  return formatRate(bps, 'bits');
}

function pad(text: string, width: number, right: boolean): string {
  const gap = Math.max(0, width - textWidth(text));
  return right ? ' '.repeat(gap) + text : text + ' '.repeat(gap);
}

/** addr:port, or '*' where a group's flows differ. */
function end(r: FlowRate | AggRow, addr: string | undefined, port: number | undefined): string {
  if (addr === undefined) return '*';
  const ports = port !== undefined && r.proto !== undefined && hasPorts(r.proto);
  return formatEndpoint(addr, port ?? 0, addr.includes(':') ? 6 : 4, ports);
}

interface BatchColumn {
  readonly title: string;
  readonly right: boolean;
  /** Only when rows are groups. */
  readonly groups?: boolean;
  readonly cell: (r: FlowRate | AggRow, w: Window) => string;
}

const COLUMNS: readonly BatchColumn[] = [
  { title: 'PROTO', right: false, cell: (r) => (r.proto === undefined ? '*' : protoName(r.proto)) },
  { title: 'SOURCE', right: false, cell: (r) => end(r, r.src, r.sport) },
  { title: 'DESTINATION', right: false, cell: (r) => end(r, r.dst, r.dport) },
  { title: 'DIR', right: false, cell: (r) => (r.dir === undefined ? '*' : r.dir === 'ingress' ? 'in' : 'out') },
  { title: 'IFACE', right: false, cell: (r) => r.ifname ?? '*' },
  { title: 'FLOWS', right: true, groups: true, cell: (r) => String('flows' in r ? r.flows : 1) },
  { title: 'PACKETS', right: true, cell: (r) => String(r.packets) },
  { title: 'BYTES', right: true, cell: (r) => prettyBytes(r.bytes) },
  { title: 'IN', right: true, groups: true, cell: (r, w) => ('flows' in r ? bits(windowRate(r.ingress, w).bps) : '') },
  { title: 'OUT', right: true, groups: true, cell: (r, w) => ('flows' in r ? bits(windowRate(r.egress, w).bps) : '') },
  { title: 'PPS', right: true, cell: (r, w) => windowRate(r, w).pps.toFixed(1) },
  { title: 'RATE', right: true, cell: (r, w) => bits(windowRate(r, w).bps) },
];

/** A `top -b` style block: a summary, a blank line, then the flow (or group) table; rates over the window. */
export function batchText(v: TickView): string {
  const t = v.totals;
  const c = v.snapshot.counters;
  const rin = windowRate(t.windowsIn, v.window);
  const rout = windowRate(t.windowsOut, v.window);
  const hooks = v.hooks.map((h) => `${h.ifname}:${h.kind}${h.kind === 'tc' ? `-${h.dir}` : ''}(${h.mode})`).join(' ');
  const lines = [
    `tc-top - ${new Date(v.snapshot.wallMs).toISOString()}  interval ${v.intervalS.toFixed(2)}s  window ${v.window}s  hooks ${hooks}`,
    `in:  ${bits(rin.bps)}  ${rin.pps.toFixed(1)} pkt/s  total ${prettyBytes(t.bytesIn)} ${t.packetsIn} pkts`,
    `out: ${bits(rout.bps)}  ${rout.pps.toFixed(1)} pkt/s  total ${prettyBytes(t.bytesOut)} ${t.packetsOut} pkts  peak ${bits(t.peakBps)}`,
    `flows: ${t.activeFlows}/${v.snapshot.maxFlows}  expired ${v.snapshot.flowsDeleted}  evicted ${t.evictions}  ` +
      `update-failed ${c.updateFailed}  non-ip ${c.nonIp}  malformed ${c.malformed}`,
    '',
  ];
  const columns = v.aggregate === 'flow' ? COLUMNS.filter((col) => !col.groups) : COLUMNS;
  const cells = v.rows.map((r) => columns.map((col) => col.cell(r, v.window)));
  const widths = columns.map((col, i) => Math.max(textWidth(col.title), ...cells.map((row) => textWidth(row[i]!))));
  const line = (row: readonly string[]) => row.map((text, i) => pad(text, widths[i]!, columns[i]!.right)).join('  ').trimEnd();
  lines.push(line(columns.map((c) => c.title)));
  for (const row of cells) lines.push(line(row));
  return lines.join('\n') + '\n';
}

export type PlainOptions = Pick<Options, 'output' | 'filter' | 'aggregate' | 'sort' | 'window' | 'reverse' | 'top'>;

/** The rows of a tick as --json and --batch print them: filtered, grouped, sorted, at most --top. */
export function selectRows(tick: Tick, o: PlainOptions, filter: Filter): (FlowRate | AggRow)[] {
  const rows = tableRows(tick, filter, o.aggregate);
  return [...rows.window(sortKey(o.sort, o.window, true), !o.reverse, 0, o.top ?? rows.length)];
}

/** Turns each tick into the text --json (a line) or --batch (a block) prints for it. */
export function plainWriter(o: PlainOptions, meta: Meta): (tick: Tick) => string {
  // Parsed once: the command line already rejected a filter that does not parse.
  const parsed = parseFilter(o.filter);
  const filter = parsed.ok ? parsed.filter : MATCH_ALL;
  return (tick) => {
    // Fields named, not spread: spreading a tick would build every flow of it as an object (tick.rates).
    const view: TickView = {
      snapshot: tick.snapshot,
      intervalS: tick.intervalS,
      totals: tick.totals,
      expired: tick.expired,
      rows: selectRows(tick, o, filter),
      aggregate: o.aggregate,
      window: o.window,
      interfaces: meta.interfaces,
      hooks: meta.hooks,
    };
    return (o.output === 'json' ? jsonLine(view) : batchText(view)) + '\n';
  };
}
