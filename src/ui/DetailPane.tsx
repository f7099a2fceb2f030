/**
 * The selected row in full: identity, all counters with the last interval's deltas and a flow's
 * peak, the rates over every window (the chosen one bold), first and last seen, duration, TCP flags
 * (or ICMP type and code), and a sparkline of its rate.
 */
import { Box } from 'ink';
import { hasPorts, icmpTypeCode, protoName, tcpFlagsString } from '../model/format.js';
import { monoToWallMs } from '../model/rates.js';
import type { Snapshot, Window } from '../model/types.js';
import { WINDOWS } from '../model/windows.js';
import { cellText, endpoint, rateIn, type CellContext } from './columns.js';
import { Line } from './Line.js';
import { portName } from '../names/services.js';
import {
  formatBytes,
  formatClock,
  formatCount,
  formatDuration,
  formatPps,
  formatRate,
  rule,
  sparkline,
  type Segment,
} from '../model/text.js';
import type { Theme } from './theme.js';
import { flowCount, type Row } from '../model/rows.js';
import { dropReasonsText, formatRttUs, type HealthRow } from '../model/health.js';
import { procText, type Owner } from '../model/owners.js';

export interface DetailPaneProps {
  /** Undefined when the table is empty. */
  readonly row: Row | undefined;
  readonly snapshot: Snapshot | undefined;
  /** The row's bits/s while it was on screen, oldest first. */
  readonly rates: readonly number[];
  /** The window the table shows. */
  readonly window: Window;
  readonly ctx: CellContext;
  readonly width: number;
  readonly height: number;
  readonly theme: Theme;
}

/** What the row is: labels its flows share, '*' where they differ. */
function identity(row: Row, ctx: CellContext): string {
  const ports = row.proto !== undefined && hasPorts(row.proto);
  const src = cellText(endpoint(row.src, ports ? row.sport : undefined, ctx));
  const dst = cellText(endpoint(row.dst, ports ? row.dport : undefined, ctx));
  const dir = row.dir ?? '*';
  const flows = flowCount(row);
  const port = 'port' in row && row.port !== undefined ? `  service port ${portName(row.port, ctx.services)}` : '';
  const group = 'flows' in row ? `  ·  ${flows} flow${flows === 1 ? '' : 's'}` : '';
  return `${row.proto === undefined ? '*' : protoName(row.proto)}  ${src} → ${dst}  ${dir} on ${row.ifname ?? '*'}${port}${group}`;
}

/**
 * The local process: comm[pid], its user, its cgroup (and container), then its command line, read
 * once when first shown. Absent without owners (--no-processes).
 */
function ownerLines(row: Row): Segment[][] {
  if (!('owner' in row)) return [];
  const owner: Owner | null | undefined = row.owner;
  if (owner === undefined) return [[{ text: 'process *  (the flows of this group belong to several)' }], []];
  if (owner === null) return [[{ text: "process -  (no local socket: forwarded, the kernel's own, or injected)" }], []];
  const user = owner.user ? `${owner.user} (${owner.uid})` : String(owner.uid);
  const cgroup = owner.cgroup ? `${owner.cgroup}${owner.container ? ` (${owner.container})` : ''}` : '?';
  const cmdline = owner.cmdline?.();
  return [
    [{ text: `process ${procText(owner)}  ·  pid ${owner.pid}  ·  comm ${owner.comm}  ·  user ${user}  ·  cgroup ${cgroup}` }],
    [{ text: `command ${cmdline ?? '(gone)'}`, dim: cmdline === undefined }],
  ];
}

function protocolLine(row: Row): string {
  const parts: string[] = [];
  if (row.proto === 6 || (row.proto === undefined && row.tcpFlags !== 0)) {
    parts.push(`tcp flags ${tcpFlagsString(row.tcpFlags) || 'none'}`);
  }
  if ((row.proto === 1 || row.proto === 58) && row.dport !== undefined) {
    const { type, code } = icmpTypeCode(row.dport);
    parts.push(`icmp type ${type} code ${code}`);
  }
  parts.push(row.family === undefined ? 'IPv4 and IPv6' : `IPv${row.family}`);
  return parts.join('  ·  ');
}

/**
 * 'rtt 1.20ms (900us..1.50ms)  ·  retransmits 10 (+7)', then 'drops 3 (+1): NETFILTER_DROP 2,
 * NO_SOCKET 1' (every reason, on a line of its own); '-' where nothing is known or the kernel
 * refused the hook.
 */
export function healthLines(h: HealthRow): [string, string] {
  const r = h.rttUs;
  const range = r?.min !== undefined && r.max !== undefined ? ` (${formatRttUs(r.min)}..${formatRttUs(r.max)})` : '';
  const rtt = `rtt ${formatRttUs(r?.last)}${range}${r?.handshake ? ' (handshake at the hook)' : ''}`;
  const retrans = `retransmits ${h.retrans === undefined ? '-' : `${formatCount(h.retrans)} (+${formatCount(h.deltaRetrans ?? 0)})`}`;
  const reasons = h.dropReasons.size > 0 ? `: ${dropReasonsText(h.dropReasons)}` : '';
  const drops = `drops ${h.drops === undefined ? '-' : `${formatCount(h.drops)} (+${formatCount(h.deltaDrops ?? 0)})${reasons}`}`;
  return [`${rtt}  ·  ${retrans}`, drops];
}

/** '2s 8 kbit/s 10 pkt/s  ·  10s …  ·  40s …', the shown window bold. */
function windowSegments(row: Row, shown: Window, ctx: CellContext): Segment[] {
  return WINDOWS.flatMap((w, i) => {
    const { bps, pps } = rateIn(row, w);
    return [{ text: i === 0 ? '' : '  ·  ' }, { text: `${w}s ${formatRate(bps, ctx.units)} ${formatPps(pps)} pkt/s`, bold: w === shown }];
  });
}

function lines(row: Row, props: DetailPaneProps, snapshot: Snapshot): Segment[][] {
  const { ctx, width } = props;
  const wall = (ns: number): string => formatClock(monoToWallMs(ns, snapshot));
  const label = 'rate, last minute  ';
  // A group's peak would need its own history: only flows have one.
  const peak = 'peakBps' in row ? `  ·  peak ${formatRate(row.peakBps, ctx.units)} ${formatPps(row.peakPps)} pkt/s` : '';
  return [
    [{ text: identity(row, ctx), bold: true }],
    ...ownerLines(row),
    [
      {
        text:
          `packets ${formatCount(row.packets)} (+${formatCount(row.deltaPackets)})  ·  ` +
          `bytes ${formatBytes(row.bytes)} (+${formatBytes(row.deltaBytes)})${peak}`,
      },
    ],
    windowSegments(row, props.window, ctx),
    [
      {
        text:
          `first seen ${wall(row.firstSeenNs)}  ·  last seen ${wall(row.lastSeenNs)}  ·  ` +
          `duration ${formatDuration((row.lastSeenNs - row.firstSeenNs) / 1e9)}  ·  ` +
          `idle ${formatDuration((ctx.nowNs - row.lastSeenNs) / 1e9)}`,
      },
    ],
    [{ text: protocolLine(row) }],
    ...(row.health ? healthLines(row.health).map((text) => [{ text }]) : []),
    [{ text: label }, { text: sparkline(props.rates, width - label.length), color: props.theme.accent }],
  ];
}

export function DetailPane(props: DetailPaneProps) {
  const { row, snapshot, width, height } = props;
  const body: Segment[][] = row && snapshot ? lines(row, props, snapshot) : [[{ text: 'no row selected', dim: true }]];
  const all: Segment[][] = [[{ text: rule('details (Enter or Esc closes)', width), color: props.theme.accent }], ...body];
  return (
    <Box flexDirection="column" height={height}>
      {all.slice(0, height).map((segments, i) => (
        <Line key={i} segments={segments} width={width} />
      ))}
    </Box>
  );
}
