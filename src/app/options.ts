/**
 * The options a run is made of, as bin/cli.ts parses them from the command line: what to watch, how
 * to count, what to show. Plain data; every layer below bin/ that needs an option takes it from here.
 */
import type { AggregateMode } from '../model/aggregate.js';
import type { SortField } from '../model/sort.js';
import type { Window } from '../model/types.js';
import type { CollectorAddress } from '../output/ipfix-exporter.js';
import type { ListenAddress } from '../output/listen-address.js';

export interface Options {
  readonly interfaces: readonly string[];
  readonly hook: 'tc' | 'xdp' | 'both';
  readonly xdpMode: 'auto' | 'native' | 'generic';
  readonly tcMode: 'auto' | 'tcx' | 'legacy';
  readonly map: 'mmap' | 'lru' | 'percpu';
  readonly maxFlows: number;
  /** RTT, retransmits and drops per flow (the health programs); --no-tcp-stats: off, nothing more loaded. */
  readonly tcpStats: boolean;
  /** The local process behind each flow (the owner programs); --no-processes: off, nothing more loaded. */
  readonly processes: boolean;
  readonly intervalS: number;
  readonly count: number | undefined;
  readonly sort: SortField;
  readonly reverse: boolean;
  /** Seconds the rates of the sort and of the RATE column are averaged over (--window). */
  readonly window: Window;
  /** One row per flow, or per group of flows (--aggregate). */
  readonly aggregate: AggregateMode;
  readonly idleTimeoutS: number;
  readonly output: 'json' | 'batch' | 'tui' | 'dashboard' | 'none';
  readonly filter: string;
  readonly top: number | undefined;
  /** Serve Prometheus/OpenMetrics metrics here (--metrics); undefined: no exporter. */
  readonly metrics: ListenAddress | undefined;
  /** Per-flow metric series for at most this many flows (--metrics-top). */
  readonly metricsTop: number;
  /** Export IPFIX flow records to a collector (--ipfix and its options); undefined: no export. */
  readonly ipfix:
    | {
        readonly collector: CollectorAddress;
        readonly activeTimeoutS: number;
        readonly domainId: number;
        readonly templateRefreshS: number;
      }
    | undefined;
  /** Remove tc-top programs left by a killed run, then exit. */
  readonly cleanup: boolean;
  /** Give up root and capabilities once the hooks are attached. */
  readonly dropPrivileges: boolean;
  /** Build a test bed of namespaces with traffic and watch it (--demo). */
  readonly demo: boolean;
  /** Whether --idle-timeout was given (the demo shortens the default). */
  readonly idleTimeoutGiven: boolean;
  /** Read this capture (pcap or pcapng; '-': standard input) instead of watching interfaces (-r). */
  readonly read: string | undefined;
  /** With read: print a table per --interval of capture time, not only at the end. */
  readonly followTime: boolean;
}
