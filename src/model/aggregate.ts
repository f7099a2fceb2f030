/**
 * Grouping flows into rows for the other views (per host, per pair, per service, per protocol,
 * per conversation). Counters and rates add up; a label is kept only while every member agrees on
 * it, so a group never shows a value that is true of some of its flows only.
 */
import { formatEndpoint, hasPorts, protoName } from './format.js';
import { combineHealth, type HealthRow } from './health.js';
import type { Owner } from './owners.js';
import type { Direction, FlowRate, FlowRecord, WindowRates } from './types.js';

/**
 * - flow: one row per flow.
 * - src / dst: by source / destination address.
 * - pair: by ordered (src, dst): the two directions of a conversation are two rows, as the
 *   kernel counts them (and as tc-top's flows are keyed).
 * - port: by protocol and service port (see servicePort); protocols without ports by protocol alone.
 * - proto: by protocol.
 * - conversation: both directions of a 5-tuple in one row, seen from the local side (see local):
 *   src and sport are the local end, dst and dport the remote one (ports only where they are ports).
 * - host-conversation: the same for host pairs.
 * - process: by the local process (pid and comm); flows without an owner in one group, '-'.
 * - cgroup: by the local process's cgroup v2 path (its container); flows without an owner in '-'.
 */
export type AggregateMode = 'flow' | 'src' | 'dst' | 'pair' | 'port' | 'proto' | 'conversation' | 'host-conversation' | 'process' | 'cgroup';

/** Cycle order of the view key. */
export const AGGREGATE_MODES: readonly AggregateMode[] = ['flow', 'src', 'dst', 'pair', 'port', 'proto', 'conversation', 'host-conversation', 'process', 'cgroup'];

/** What adds up across flows. */
export interface Traffic extends WindowRates {
  readonly packets: number;
  readonly bytes: number;
  readonly deltaPackets: number;
  readonly deltaBytes: number;
  readonly pps: number;
  readonly bps: number;
}

export interface AggRow extends Traffic {
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
  /** The sums of the members counted at ingress and at egress: a conversation's in and out. */
  readonly ingress: Traffic;
  readonly egress: Traffic;
  /** Member flows. */
  readonly flows: number;
  readonly firstSeenNs: number;
  readonly lastSeenNs: number;
  readonly tcpFlags: number;
  /** The members' RTT (its range), retransmits and drops (summed); absent without health. */
  readonly health?: HealthRow | undefined;
  /**
   * The members' owner where they share it (null: none of them has one), undefined where they
   * differ; the member is absent when the flows carry no owners (--no-processes).
   */
  readonly owner?: Owner | null | undefined;
  /** The members' cgroup path where they share it (null: no owner, or no path known), undefined where they differ. */
  readonly cgroup?: string | null | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The labels of a group's ends; the others (family, proto, dir, ifname) are the flow's own. */
const END_LABELS = ['src', 'dst', 'sport', 'dport'] as const;
const OWN_LABELS = ['family', 'proto', 'dir', 'ifname'] as const;

type Ends = Pick<FlowRecord, (typeof END_LABELS)[number]>;

/**
 * The lower of the two ports: servers usually listen on the low, well-known port and clients
 * send from a high ephemeral one, so this names the service in either direction of the traffic.
 * A heuristic: a server on a port above its client's ephemeral port is grouped by the client's.
 */
export function servicePort(flow: Pick<FlowRate, 'proto' | 'sport' | 'dport'>): number | undefined {
  return hasPorts(flow.proto) ? Math.min(flow.sport, flow.dport) : undefined;
}

/**
 * A flow's ends seen from the local side: what a hook counts at egress leaves from the flow's
 * source, what it counts at ingress arrives at its destination. (So on a router each interface's
 * view of a conversation is a row of its own, and no packet is counted twice in one row.)
 */
export function fromLocal(row: Pick<FlowRecord, 'dir' | 'src' | 'dst' | 'sport' | 'dport'>): Ends {
  return row.dir === 'egress' ? row : { src: row.dst, dst: row.src, sport: row.dport, dport: row.sport };
}

/** A process or cgroup group's id from its flows' owner (the columnar aggregation makes it once per owner). */
export function ownerGroupKey(owner: Owner | null | undefined, mode: 'process' | 'cgroup'): string {
  if (mode === 'process') return owner ? `${owner.pid} ${owner.comm}` : '-';
  return owner?.cgroup ?? '-';
}

/** A group's id from any of its flows (the columnar aggregation makes it from the group's first). */
export function groupKey(row: Pick<FlowRecord, 'key' | 'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport'> & Pick<FlowRate, 'owner'>, ends: Ends, mode: AggregateMode): string {
  switch (mode) {
    case 'flow':
      return row.key;
    case 'src':
      return row.src;
    case 'dst':
      return row.dst;
    case 'pair':
    case 'host-conversation':
      return `${ends.src} ${ends.dst}`;
    case 'port': {
      const port = servicePort(row);
      return port === undefined ? protoName(row.proto) : `${protoName(row.proto)}/${port}`;
    }
    case 'proto':
      return protoName(row.proto);
    case 'process':
    case 'cgroup':
      return ownerGroupKey(row.owner, mode);
    case 'conversation': {
      const ports = hasPorts(row.proto);
      const local = formatEndpoint(ends.src, ends.sport, row.family, ports);
      return `${protoName(row.proto)} ${local} ${formatEndpoint(ends.dst, ends.dport, row.family, ports)}`;
    }
  }
}

// Fields written out, not looped over or spread: V8 is several times slower at either, which
// shows at 100k flows.

function traffic(r: Traffic): Mutable<Traffic> {
  return {
    packets: r.packets,
    bytes: r.bytes,
    deltaPackets: r.deltaPackets,
    deltaBytes: r.deltaBytes,
    pps: r.pps,
    bps: r.bps,
    pps2: r.pps2,
    bps2: r.bps2,
    pps10: r.pps10,
    bps10: r.bps10,
    pps40: r.pps40,
    bps40: r.bps40,
  };
}

function add(s: Mutable<Traffic>, r: Traffic): void {
  s.packets += r.packets;
  s.bytes += r.bytes;
  s.deltaPackets += r.deltaPackets;
  s.deltaBytes += r.deltaBytes;
  s.pps += r.pps;
  s.bps += r.bps;
  s.pps2 += r.pps2;
  s.bps2 += r.bps2;
  s.pps10 += r.pps10;
  s.bps10 += r.bps10;
  s.pps40 += r.pps40;
  s.bps40 += r.bps40;
}

/** A direction without members: shared until one arrives, which saves an object per group. */
export const NONE: Traffic = { packets: 0, bytes: 0, deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0, pps2: 0, bps2: 0, pps10: 0, bps10: 0, pps40: 0, bps40: 0 };

function addDirection(group: { ingress: Traffic; egress: Traffic }, row: FlowRate): void {
  const sum = group[row.dir];
  // Every sum but NONE is one of ours, made by traffic().
  if (sum === NONE) group[row.dir] = traffic(row);
  else add(sum as Mutable<Traffic>, row);
}

/** Groups rows by mode, in order of each group's first member (sort afterwards). */
export function aggregate(rows: readonly FlowRate[], mode: AggregateMode): AggRow[] {
  const groups = new Map<string, Mutable<AggRow>>();
  const conversation = mode === 'conversation' || mode === 'host-conversation';
  for (const row of rows) {
    const ends = conversation ? fromLocal(row) : row;
    const key = groupKey(row, ends, mode);
    const group = groups.get(key);
    if (!group) {
      groups.set(key, {
        key,
        family: row.family,
        proto: row.proto,
        src: ends.src,
        dst: ends.dst,
        sport: ends.sport,
        dport: ends.dport,
        dir: row.dir,
        ifname: row.ifname,
        port: mode === 'port' ? servicePort(row) : undefined,
        packets: row.packets,
        bytes: row.bytes,
        deltaPackets: row.deltaPackets,
        deltaBytes: row.deltaBytes,
        pps: row.pps,
        bps: row.bps,
        pps2: row.pps2,
        bps2: row.bps2,
        pps10: row.pps10,
        bps10: row.bps10,
        pps40: row.pps40,
        bps40: row.bps40,
        ingress: row.dir === 'ingress' ? traffic(row) : NONE,
        egress: row.dir === 'egress' ? traffic(row) : NONE,
        flows: 1,
        firstSeenNs: row.firstSeenNs,
        lastSeenNs: row.lastSeenNs,
        tcpFlags: row.tcpFlags,
      });
      if (row.health) (groups.get(key) as Mutable<AggRow>).health = row.health;
      if ('owner' in row) {
        const g = groups.get(key) as Mutable<AggRow>;
        g.owner = row.owner ?? null;
        g.cgroup = row.owner?.cgroup ?? null;
      }
      continue;
    }
    // A member's labels are always defined, so a label once cleared stays cleared.
    for (const label of OWN_LABELS) {
      if (group[label] !== row[label]) group[label] = undefined;
    }
    for (const label of END_LABELS) {
      if (group[label] !== ends[label]) group[label] = undefined;
    }
    add(group, row);
    addDirection(group, row);
    group.flows += 1;
    group.firstSeenNs = Math.min(group.firstSeenNs, row.firstSeenNs);
    group.lastSeenNs = Math.max(group.lastSeenNs, row.lastSeenNs);
    group.tcpFlags |= row.tcpFlags;
    if (row.health) group.health = combineHealth(group.health, row.health);
    if ('owner' in group) {
      if (group.owner !== (row.owner ?? null)) group.owner = undefined;
      if (group.cgroup !== (row.owner?.cgroup ?? null)) group.cgroup = undefined;
    }
  }
  return [...groups.values()];
}
