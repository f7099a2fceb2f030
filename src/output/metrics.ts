/**
 * The exporter's view: each sampler tick becomes the values of Prometheus metrics, exposed by
 * prom-client in the Prometheus text format or in OpenMetrics, whichever the scraper asks for.
 *
 * Values are those of the last tick (every --interval), not of the moment of the scrape. Counters
 * are set to absolute values: the kernel's own cumulative counters, or sums kept here from the
 * model's per-flow deltas. Per-flow series exist only for the top-K flows by rate; everything else
 * is summed per interface and direction into one `other` series, so that cardinality stays bounded.
 */
import { Counter, Gauge, Registry, type OpenMetricsContentType } from 'prom-client';
import { hasPorts, protoName } from '../model/format.js';
import { tableOrder, topIndices } from '../model/sort.js';
import type { Direction, FlowRate } from '../model/types.js';
import type { HookView } from '../model/types.js';
import type { TickData } from '../model/rows.js';

export const DEFAULT_METRICS_TOP = 50;

export interface MetricsOptions {
  /** Per-flow series for at most this many flows, by rate (0: only the `other` aggregate). */
  readonly topK: number;
  /** The hooks attached: their interfaces and directions get series from the start, at 0. */
  readonly hooks: readonly HookView[];
}

const FLOW_LABELS = ['interface', 'direction', 'proto', 'src', 'sport', 'dst', 'dport', 'process'] as const;
type FlowLabel = (typeof FLOW_LABELS)[number];
type Labels<L extends string> = Partial<Record<L, string>>;

/** The `proto` label value of the aggregate of the flows outside the top K. */
export const OTHER = 'other';

interface Sums {
  packets: number;
  bytes: number;
}

function ifDirKey(ifname: string, dir: Direction): string {
  return `${ifname}\u0000${dir}`;
}

function splitIfDir(key: string): { interface: string; direction: string } {
  const [ifname, dir] = key.split('\u0000') as [string, string];
  return { interface: ifname, direction: dir };
}

function flowLabels(f: FlowRate): Labels<FlowLabel> {
  // Ports are labels only for protocols that have them; ICMP's type*256+code stays in dport, as in --json.
  const ports = hasPorts(f.proto);
  return {
    interface: f.ifname,
    direction: f.dir,
    proto: protoName(f.proto),
    src: f.src,
    sport: ports ? String(f.sport) : '',
    dst: f.dst,
    dport: ports || f.dport !== 0 ? String(f.dport) : '',
    // The local process, comm[pid] ('' for none); no label at all with --no-processes. One per top-K series: bounded.
    ...('owner' in f ? { process: f.owner ? `${f.owner.comm}[${f.owner.pid}]` : '' } : {}),
  };
}

export class TcTopMetrics {
  private readonly prometheus = new Registry();
  private readonly openMetrics = new Registry<OpenMetricsContentType>();
  private readonly topK: number;

  /** Sums of flow deltas since start, by interface and direction: all flows, and those outside the top K. */
  private readonly ifaceSums = new Map<string, Sums>();
  private readonly otherSums = new Map<string, Sums>();

  private readonly packets: Counter<'direction'>;
  private readonly bytes: Counter<'direction'>;
  private readonly ifacePackets: Counter<'interface' | 'direction'>;
  private readonly ifaceBytes: Counter<'interface' | 'direction'>;
  private readonly nonIpPackets: Counter;
  private readonly nonIpBytes: Counter;
  private readonly malformedPackets: Counter;
  private readonly malformedBytes: Counter;
  private readonly updateFailed: Counter;
  private readonly flowsCreated: Counter;
  private readonly flowsExpired: Counter;
  private readonly evictions: Counter;
  private readonly flows: Gauge;
  private readonly flowsMax: Gauge;
  private readonly flowPackets: Counter<FlowLabel>;
  private readonly flowBytes: Counter<FlowLabel>;
  private readonly hookAttached: Gauge<'interface' | 'hook' | 'direction' | 'mode'>;
  private readonly drops: Counter<'interface' | 'reason'>;
  private readonly flowRtt: Gauge<FlowLabel>;
  /** Drops since start by interface NUL reason, summed from the ticks' deltas. */
  private readonly dropSums = new Map<string, number>();
  private readonly lastSample: Gauge;

  constructor(options: MetricsOptions) {
    this.topK = Math.max(0, Math.floor(options.topK));
    this.openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const registers = [this.prometheus, this.openMetrics];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers });

    this.packets = counter('tctop_packets_total', 'Frames seen by the hooks on all watched interfaces (kernel counter)', ['direction']);
    this.bytes = counter('tctop_bytes_total', 'Bytes of the frames seen by the hooks on all watched interfaces (kernel counter)', ['direction']);
    this.ifacePackets = counter('tctop_interface_packets_total', 'IP frames counted in flows on this interface since tc-top started', ['interface', 'direction']);
    this.ifaceBytes = counter('tctop_interface_bytes_total', 'Bytes of IP frames counted in flows on this interface since tc-top started', ['interface', 'direction']);
    this.nonIpPackets = counter('tctop_non_ip_packets_total', 'Frames without IPv4/IPv6 (ARP, LLDP, a third VLAN tag)');
    this.nonIpBytes = counter('tctop_non_ip_bytes_total', 'Bytes of frames without IPv4/IPv6');
    this.malformedPackets = counter('tctop_malformed_packets_total', 'IP frames too short for their headers or with impossible header fields');
    this.malformedBytes = counter('tctop_malformed_bytes_total', 'Bytes of malformed IP frames');
    this.updateFailed = counter('tctop_update_failed_packets_total', 'Frames whose new flow could not be inserted into the flow map');
    this.flowsCreated = counter('tctop_flows_created_total', 'Flows inserted into the flow map');
    this.flowsExpired = counter('tctop_flows_expired_total', 'Flows removed by tc-top after --idle-timeout without packets');
    this.evictions = counter('tctop_flow_evictions_total', 'Flows the full LRU map dropped to make room (created - live - expired)');
    this.flows = gauge('tctop_flows', 'Flows in the flow map');
    this.flowsMax = gauge('tctop_flows_max', 'Capacity of the flow map (--max-flows)');
    this.flowPackets = counter('tctop_flow_packets_total', `Packets of a top-K flow by rate since it entered the map; proto="${OTHER}": flows outside the top K, summed`, FLOW_LABELS);
    this.flowBytes = counter('tctop_flow_bytes_total', `Bytes of a top-K flow by rate since it entered the map; proto="${OTHER}": flows outside the top K, summed`, FLOW_LABELS);
    this.hookAttached = gauge('tctop_hook_attached', 'A hook tc-top attached (always 1)', ['interface', 'hook', 'direction', 'mode']);
    this.drops = counter('tctop_drops_total', 'Packets of the watched interfaces the kernel dropped with a reason (skb:kfree_skb), since tc-top started; reason as the kernel names it (enum skb_drop_reason)', ['interface', 'reason']);
    this.flowRtt = gauge('tctop_flow_rtt_seconds', "Smoothed RTT of a top-K TCP flow's socket (the last of the interval); a flow without a local socket (forwarded): its TCP handshake's RTT at the hook", FLOW_LABELS);
    this.lastSample = gauge('tctop_last_sample_timestamp_seconds', 'Wall-clock time of the kernel read the values come from');

    for (const h of options.hooks) {
      this.hookAttached.set({ interface: h.ifname, hook: h.kind, direction: h.dir, mode: h.mode }, 1);
      // Known series start at 0, so that rate() sees their first increase.
      const dir = h.dir as Direction;
      this.ifaceSums.set(ifDirKey(h.ifname, dir), { packets: 0, bytes: 0 });
      this.otherSums.set(ifDirKey(h.ifname, dir), { packets: 0, bytes: 0 });
    }
    for (const direction of ['ingress', 'egress']) {
      this.packets.inc({ direction }, 0);
      this.bytes.inc({ direction }, 0);
    }
    this.writeSums();
    this.writeFlows([]);
  }

  /** Takes the values of one tick. Ticks must come in order, each one once. */
  update(tick: TickData): void {
    const snap = tick.snapshot;
    const c = snap.counters;
    setCounter(this.packets, [
      [{ direction: 'ingress' }, c.packetsIn],
      [{ direction: 'egress' }, c.packetsOut],
    ]);
    setCounter(this.bytes, [
      [{ direction: 'ingress' }, c.bytesIn],
      [{ direction: 'egress' }, c.bytesOut],
    ]);
    setCounter(this.nonIpPackets, [[{}, c.nonIp]]);
    setCounter(this.nonIpBytes, [[{}, c.nonIpBytes]]);
    setCounter(this.malformedPackets, [[{}, c.malformed]]);
    setCounter(this.malformedBytes, [[{}, c.malformedBytes]]);
    setCounter(this.updateFailed, [[{}, c.updateFailed]]);
    setCounter(this.flowsCreated, [[{}, c.flowsCreated]]);
    setCounter(this.flowsExpired, [[{}, snap.flowsDeleted]]);
    setCounter(this.evictions, [[{}, tick.totals.evictions]]);
    this.flows.set(tick.totals.activeFlows);
    this.flowsMax.set(snap.maxFlows);
    this.lastSample.set(snap.wallMs / 1000);

    // From the tick's columns: objects only for the top flows.
    const t = tick.table;
    const all = new Int32Array(t.length);
    for (let i = 0; i < all.length; i++) all[i] = i;
    const topRows = topIndices(all, tableOrder(t, 'bps', true), this.topK);
    const inTop = new Uint8Array(t.length);
    for (const i of topRows) inTop[i] = 1;
    for (let i = 0; i < t.length; i++) {
      const key = ifDirKey(t.flows.ifname(i), t.flows.dir(i));
      add(this.ifaceSums, key, t.deltaPackets[i] as number, t.deltaBytes[i] as number);
      if (!inTop[i]) add(this.otherSums, key, t.deltaPackets[i] as number, t.deltaBytes[i] as number);
    }
    const top = t.rows(topRows);
    this.writeSums();
    this.writeFlows(top);
    this.writeHealth(tick, top);
  }

  /** Drops by interface and reason (every entry of the health maps, in a flow or not), the top flows' RTT. */
  private writeHealth(tick: TickData, top: readonly FlowRate[]): void {
    const h = tick.table.health;
    if (!h) return;
    for (const [key, n] of h.deltaDropsByIface) this.dropSums.set(key, (this.dropSums.get(key) ?? 0) + n);
    setCounter(this.drops, [...this.dropSums].map(([key, n]) => {
      const [ifname, reason] = key.split('\u0000') as [string, string];
      return [{ interface: ifname, reason }, n] as const;
    }));
    this.flowRtt.reset();
    for (const f of top) {
      const rtt = f.health?.rttUs?.last;
      if (rtt !== undefined) this.flowRtt.set(flowLabels(f), rtt / 1e6);
    }
  }

  private writeSums(): void {
    const series = (field: keyof Sums) => [...this.ifaceSums].map(([key, s]): [Labels<'interface' | 'direction'>, number] => [splitIfDir(key), s[field]]);
    setCounter(this.ifacePackets, series('packets'));
    setCounter(this.ifaceBytes, series('bytes'));
  }

  /** The top flows' own cumulative counts, then one `other` series per interface and direction. */
  private writeFlows(top: readonly FlowRate[]): void {
    const series = (field: keyof Sums): [Labels<FlowLabel>, number][] => [
      ...top.map((f): [Labels<FlowLabel>, number] => [flowLabels(f), f[field]]),
      ...[...this.otherSums].map(([key, s]): [Labels<FlowLabel>, number] => [{ ...splitIfDir(key), proto: OTHER, src: '', sport: '', dst: '', dport: '' }, s[field]]),
    ];
    setCounter(this.flowPackets, series('packets'));
    setCounter(this.flowBytes, series('bytes'));
  }

  /**
   * The exposition for a scrape: OpenMetrics when the Accept header asks for it (Prometheus does),
   * else the Prometheus text format 0.0.4.
   */
  async exposition(accept: string | undefined): Promise<{ contentType: string; body: string }> {
    const registry = accept?.includes('application/openmetrics-text') ? this.openMetrics : this.prometheus;
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
}

function add(sums: Map<string, Sums>, key: string, packets: number, bytes: number): void {
  const s = sums.get(key) ?? { packets: 0, bytes: 0 };
  s.packets += packets;
  s.bytes += bytes;
  sums.set(key, s);
}

/** Replaces every series of a counter with these absolute values (prom-client counters only add). */
function setCounter<L extends string>(counter: Counter<L>, series: readonly (readonly [Labels<L>, number])[]): void {
  counter.reset();
  for (const [labels, value] of series) counter.inc(labels, Math.max(0, value));
}
