/**
 * The non-interactive views: one JSON object per update (--json) and plain text tables like
 * `top -b` (--batch). Pure functions of a tick; the caller writes the result.
 */
import prettyBytes from 'pretty-bytes';
import stringWidth from 'string-width';
import { formatEndpoint, hasPorts, protoName, tcpFlagsString } from '../model/format.js';
import { monoToWallMs, type Totals } from '../model/rates.js';
import type { FlowRate, FlowRecord, Snapshot } from '../model/types.js';

export interface HookView {
  readonly ifname: string;
  readonly kind: 'xdp' | 'tc';
  readonly dir: string;
  readonly mode: string;
}

export interface TickView {
  readonly snapshot: Snapshot;
  readonly intervalS: number;
  /** The rows to show, already filtered, sorted and limited. */
  readonly rows: readonly FlowRate[];
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
    ...(rates ? { pps: round(rates.pps), bps: round(rates.bps) } : {}),
    first_seen: iso(f.firstSeenNs, snap),
    last_seen: iso(f.lastSeenNs, snap),
    tcp_flags: tcpFlagsString(f.tcpFlags),
  };
}

/** One JSON line (without the newline). Schema documented in the README. */
export function jsonLine(v: TickView): string {
  const t = v.totals;
  const c = v.snapshot.counters;
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
    flows: v.rows.map((r) => flowJson(r, v.snapshot, r)),
    expired: v.expired.map((f) => flowJson(f, v.snapshot)),
  });
}

function bits(bps: number): string {
  // With bits: true, pretty-bytes takes a number of bits.
  return prettyBytes(bps, { bits: true }) + '/s';
}

function pad(text: string, width: number, right: boolean): string {
  const gap = Math.max(0, width - stringWidth(text));
  return right ? ' '.repeat(gap) + text : text + ' '.repeat(gap);
}

const COLUMNS: readonly { title: string; right: boolean; cell: (r: FlowRate) => string }[] = [
  { title: 'PROTO', right: false, cell: (r) => protoName(r.proto) },
  { title: 'SOURCE', right: false, cell: (r) => formatEndpoint(r.src, r.sport, r.family, hasPorts(r.proto)) },
  { title: 'DESTINATION', right: false, cell: (r) => formatEndpoint(r.dst, r.dport, r.family, hasPorts(r.proto)) },
  { title: 'DIR', right: false, cell: (r) => (r.dir === 'ingress' ? 'in' : 'out') },
  { title: 'IFACE', right: false, cell: (r) => r.ifname },
  { title: 'PACKETS', right: true, cell: (r) => String(r.packets) },
  { title: 'BYTES', right: true, cell: (r) => prettyBytes(r.bytes) },
  { title: 'PPS', right: true, cell: (r) => r.pps.toFixed(1) },
  { title: 'RATE', right: true, cell: (r) => bits(r.bps) },
];

/** A `top -b` style block: a summary, a blank line, then the flow table. */
export function batchText(v: TickView): string {
  const t = v.totals;
  const c = v.snapshot.counters;
  const hooks = v.hooks.map((h) => `${h.ifname}:${h.kind}${h.kind === 'tc' ? `-${h.dir}` : ''}(${h.mode})`).join(' ');
  const lines = [
    `tc-top - ${new Date(v.snapshot.wallMs).toISOString()}  interval ${v.intervalS.toFixed(2)}s  hooks ${hooks}`,
    `in:  ${bits(t.bpsIn)}  ${t.ppsIn.toFixed(1)} pkt/s  total ${prettyBytes(t.bytesIn)} ${t.packetsIn} pkts`,
    `out: ${bits(t.bpsOut)}  ${t.ppsOut.toFixed(1)} pkt/s  total ${prettyBytes(t.bytesOut)} ${t.packetsOut} pkts`,
    `flows: ${t.activeFlows}/${v.snapshot.maxFlows}  expired ${v.snapshot.flowsDeleted}  evicted ${t.evictions}  ` +
      `update-failed ${c.updateFailed}  non-ip ${c.nonIp}  malformed ${c.malformed}`,
    '',
  ];
  const cells = v.rows.map((r) => COLUMNS.map((col) => col.cell(r)));
  const widths = COLUMNS.map((col, i) => Math.max(stringWidth(col.title), ...cells.map((row) => stringWidth(row[i]!))));
  const line = (row: readonly string[]) => row.map((text, i) => pad(text, widths[i]!, COLUMNS[i]!.right)).join('  ').trimEnd();
  lines.push(line(COLUMNS.map((c) => c.title)));
  for (const row of cells) lines.push(line(row));
  return lines.join('\n') + '\n';
}
