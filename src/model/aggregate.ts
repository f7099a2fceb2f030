/**
 * Grouping flows into rows for the other views (per host, per pair, per service, per protocol).
 * Counters and rates add up; a label is kept only while every member agrees on it, so a group
 * never shows a value that is true of some of its flows only.
 */
import { hasPorts, protoName } from './format.js';
import type { Direction, FlowRate } from './types.js';

/**
 * - flow: one row per flow.
 * - src / dst: by source / destination address.
 * - pair: by ordered (src, dst): the two directions of a conversation are two rows, as the
 *   kernel counts them (and as tc-top's flows are keyed).
 * - port: by protocol and service port (see servicePort); protocols without ports by protocol alone.
 * - proto: by protocol.
 */
export type AggregateMode = 'flow' | 'src' | 'dst' | 'pair' | 'port' | 'proto';

/** Cycle order of the view key. */
export const AGGREGATE_MODES: readonly AggregateMode[] = ['flow', 'src', 'dst', 'pair', 'port', 'proto'];

export interface AggRow {
  /** Group id, also the last sort tie-break: the flow key, 'addr', 'src dst', 'tcp/443', 'tcp'. */
  readonly key: string;
  /** Labels: undefined where the members differ. */
  readonly family: 4 | 6 | undefined;
  readonly proto: number | undefined;
  readonly src: string | undefined;
  readonly dst: string | undefined;
  readonly sport: number | undefined;
  readonly dport: number | undefined;
  readonly dir: Direction | undefined;
  readonly ifname: string | undefined;
  /** The service port of a 'port' group; undefined in the other modes and for portless protocols. */
  readonly port: number | undefined;
  readonly packets: number;
  readonly bytes: number;
  readonly deltaPackets: number;
  readonly deltaBytes: number;
  readonly pps: number;
  readonly bps: number;
  /** Member flows. */
  readonly flows: number;
  readonly firstSeenNs: number;
  readonly lastSeenNs: number;
  readonly tcpFlags: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const LABELS = ['family', 'proto', 'src', 'dst', 'sport', 'dport', 'dir', 'ifname'] as const;

/**
 * The lower of the two ports: servers usually listen on the low, well-known port and clients
 * send from a high ephemeral one, so this names the service in either direction of the traffic.
 * A heuristic: a server on a port above its client's ephemeral port is grouped by the client's.
 */
export function servicePort(flow: Pick<FlowRate, 'proto' | 'sport' | 'dport'>): number | undefined {
  return hasPorts(flow.proto) ? Math.min(flow.sport, flow.dport) : undefined;
}

function groupKey(row: FlowRate, mode: AggregateMode): string {
  switch (mode) {
    case 'flow':
      return row.key;
    case 'src':
      return row.src;
    case 'dst':
      return row.dst;
    case 'pair':
      return `${row.src} ${row.dst}`;
    case 'port': {
      const port = servicePort(row);
      return port === undefined ? protoName(row.proto) : `${protoName(row.proto)}/${port}`;
    }
    case 'proto':
      return protoName(row.proto);
  }
}

/** Groups rows by mode, in order of each group's first member (sort afterwards). */
export function aggregate(rows: readonly FlowRate[], mode: AggregateMode): AggRow[] {
  const groups = new Map<string, Mutable<AggRow>>();
  for (const row of rows) {
    const key = groupKey(row, mode);
    const group = groups.get(key);
    if (!group) {
      groups.set(key, {
        key,
        family: row.family,
        proto: row.proto,
        src: row.src,
        dst: row.dst,
        sport: row.sport,
        dport: row.dport,
        dir: row.dir,
        ifname: row.ifname,
        port: mode === 'port' ? servicePort(row) : undefined,
        packets: row.packets,
        bytes: row.bytes,
        deltaPackets: row.deltaPackets,
        deltaBytes: row.deltaBytes,
        pps: row.pps,
        bps: row.bps,
        flows: 1,
        firstSeenNs: row.firstSeenNs,
        lastSeenNs: row.lastSeenNs,
        tcpFlags: row.tcpFlags,
      });
      continue;
    }
    // A member's labels are always defined, so a label once cleared stays cleared.
    for (const label of LABELS) {
      if (group[label] !== row[label]) group[label] = undefined;
    }
    group.packets += row.packets;
    group.bytes += row.bytes;
    group.deltaPackets += row.deltaPackets;
    group.deltaBytes += row.deltaBytes;
    group.pps += row.pps;
    group.bps += row.bps;
    group.flows += 1;
    group.firstSeenNs = Math.min(group.firstSeenNs, row.firstSeenNs);
    group.lastSeenNs = Math.max(group.lastSeenNs, row.lastSeenNs);
    group.tcpFlags |= row.tcpFlags;
  }
  return [...groups.values()];
}
