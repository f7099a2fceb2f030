/**
 * The data the collector hands to the model: immutable snapshots of cumulative kernel counters.
 * Everything here is plain data; time is always an input (monotonic ns and wall ms taken together
 * by the collector), never read by the model itself.
 */

import type { FlowSet } from './flow-set.js';
import type { HealthRow, HealthSample } from './health.js';
import type { Owner, OwnerSample } from './owners.js';
import type { RateTable } from './rate-table.js';
import type { Totals } from './rates.js';

export type Direction = 'ingress' | 'egress';

/** One flow as the kernel counted it, cumulative since it entered the map. */
export interface FlowRecord {
  /** Stable identity of the flow: hex of the kernel's 48-byte key. */
  readonly key: string;
  readonly family: 4 | 6;
  /** IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6, 132 sctp, 136 udplite, ...). */
  readonly proto: number;
  /** Dotted quad or compressed IPv6. */
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  /** Destination port; for ICMP and ICMPv6, type * 256 + code. */
  readonly dport: number;
  readonly dir: Direction;
  readonly ifindex: number;
  readonly ifname: string;
  readonly packets: number;
  readonly bytes: number;
  /** CLOCK_MONOTONIC nanoseconds of the first and latest frame (read coarse in the kernel: at most a jiffy behind). */
  readonly firstSeenNs: number;
  readonly lastSeenNs: number;
  /** OR of the TCP flags byte of every segment (FIN 0x01 ... CWR 0x80). */
  readonly tcpFlags: number;
}

/** The kernel's global counters, summed over CPUs, cumulative since load. */
export interface GlobalCounters {
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Frames that carry no IPv4/IPv6 (ARP, LLDP, a third VLAN tag, ...). */
  readonly nonIp: number;
  readonly nonIpBytes: number;
  /** IP frames too short for the headers they announce, or with bad header fields. */
  readonly malformed: number;
  readonly malformedBytes: number;
  /** Frames whose new flow could not be inserted into the flows map. */
  readonly updateFailed: number;
  /** Flows inserted into the map since load. */
  readonly flowsCreated: number;
}

/** What one read of the kernel maps gives. */
export interface Snapshot {
  /** CLOCK_MONOTONIC nanoseconds when the maps were read (same clock as the flow timestamps). */
  readonly monoNs: number;
  /** Wall clock (ms since the epoch) at the same moment. */
  readonly wallMs: number;
  /** Every flow in the map, in columns (see flow-set.ts). */
  readonly flows: FlowSet;
  readonly counters: GlobalCounters;
  /** Capacity of the flows map (--max-flows). */
  readonly maxFlows: number;
  /** Flows deleted from the map by tc-top itself (idle expiry), cumulative. */
  readonly flowsDeleted: number;
  /** RTT, retransmits and drops of the flows with events (health.ts); absent with --no-tcp-stats. */
  readonly health?: HealthSample | undefined;
  /** The sockets' owners as the owner programs recorded them (owners.ts); absent with --no-processes. */
  readonly owners?: OwnerSample | undefined;
}

/** The rate windows, in seconds: iftop's three averages. */
export type Window = 2 | 10 | 40;

/** Packets and bits per second averaged over the last 2, 10 and 40 seconds. */
export interface WindowRates {
  readonly pps2: number;
  readonly bps2: number;
  readonly pps10: number;
  readonly bps10: number;
  readonly pps40: number;
  readonly bps40: number;
}

/** The highest 2 s rates seen (packets and bits each at its own highest). */
export interface Peaks {
  readonly peakPps: number;
  readonly peakBps: number;
}

/** A flow with its rates over the last interval and over the windows. */
export interface FlowRate extends FlowRecord, WindowRates, Peaks {
  /** Packets and bytes counted during the last interval. */
  readonly deltaPackets: number;
  readonly deltaBytes: number;
  /** Packets per second and bits per second over the last interval. */
  readonly pps: number;
  readonly bps: number;
  /** True when the flow was not in the previous snapshot. */
  readonly isNew: boolean;
  /** RTT, retransmits and drops; absent when the snapshot has no health (--no-tcp-stats). */
  readonly health?: HealthRow | undefined;
  /** The local process behind the flow, null for none; absent when the snapshot has no owners (--no-processes). */
  readonly owner?: Owner | null | undefined;
}

/** What one tick of the sampler gives every view: a snapshot and what the model made of it. */
export interface Tick {
  readonly snapshot: Snapshot;
  /** Seconds since the previous tick (0 for the first). */
  readonly intervalS: number;
  /** Each flow's rates over the interval and the 2, 10 and 40 s windows, and its peaks, in columns. */
  readonly table: RateTable;
  /** The table's rows as objects, built on first use: for views that need every flow. */
  readonly rates: readonly FlowRate[];
  readonly totals: Totals;
  /** Flows idle longer than the timeout, deleted from the map during this tick. */
  readonly expired: readonly FlowRecord[];
}

/** A hook as the views name it: where, which kind, which direction, which attach mode. */
export interface HookView {
  readonly ifname: string;
  readonly kind: 'xdp' | 'tc';
  readonly dir: string;
  readonly mode: string;
}

/** What does not change while tc-top runs: what every view's header shows. */
export interface Meta {
  readonly interfaces: readonly string[];
  readonly hooks: readonly HookView[];
  readonly mapKind: 'mmap' | 'lru' | 'percpu';
  readonly maxFlows: number;
}

/** How a flow exporter (--ipfix) is doing: what the views show of it in their headers and JSON. */
export interface ExportStatus {
  /** 'ipfix' */
  readonly kind: string;
  /** Where the records go, as HOST:PORT. */
  readonly collector: string;
  /** Flow records and messages handed to the socket, and the sends that failed. */
  readonly records: number;
  readonly messages: number;
  readonly sendErrors: number;
  /** The latest failure (an errno name such as ECONNREFUSED), if any. */
  readonly lastError: string | undefined;
}
