/**
 * Health per flow: the RTT, retransmissions and kernel drops the health programs count per event
 * (bpf/tc_top_health.bpf.c), joined to a tick's flows. The kernel keys a socket by its addresses
 * and ports and a drop by the packet's flow without its direction, so one entry joins several
 * flows: the collector names them (HealthEntry.flows, keys as FlowRecord.key has them) and the
 * join looks each up in the tick's flows. Entries are few (only flows with events), so the join
 * costs the entries, not the flows. Pure: no clock, no I/O.
 */
import type { FlowSet } from './flow-set.js';

/** The smoothed RTT of the interval, in microseconds; min and max are absent when no ACK came in it. */
export interface RttUs {
  readonly last: number;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
  /** Measured from the TCP handshake at the hook (a flow without a local socket), not a socket's smoothed RTT. */
  readonly handshake?: boolean | undefined;
}

/** One entry of the health maps, cumulative since the kernel made it. */
export interface HealthEntry {
  /** Identity across reads (the kernel key), for the interval's deltas. */
  readonly id: string;
  /** The keys of the flows it joins (both directions; every watched interface for a socket). */
  readonly flows: readonly string[];
  /** A drop entry's interface (drops are counted where the packet was). */
  readonly ifname?: string | undefined;
  readonly rtt?: RttUs | undefined;
  readonly retrans?: number | undefined;
  /** Packets dropped, by the kernel's reason name. */
  readonly drops?: ReadonlyMap<string, number> | undefined;
}

/** What one read of the health maps gives; a part the kernel refused to hook is false. */
export interface HealthSample {
  readonly entries: readonly HealthEntry[];
  readonly rtt: boolean;
  readonly retrans: boolean;
  readonly drops: boolean;
}

/** A flow's (or a group's) health, as a row object carries it. */
export interface HealthRow {
  /** Undefined: no RTT known for this flow. */
  readonly rttUs: RttUs | undefined;
  /** Undefined where the kernel refused the hook. */
  readonly retrans: number | undefined;
  readonly deltaRetrans: number | undefined;
  readonly drops: number | undefined;
  readonly deltaDrops: number | undefined;
  /** Drops by reason, since start; empty without drops. */
  readonly dropReasons: ReadonlyMap<string, number>;
}

/** A tick's health in columns, one row per flow of its table (NaN: nothing known). */
export interface HealthColumns {
  readonly sample: HealthSample;
  readonly rttLast: Float64Array;
  readonly rttMin: Float64Array;
  readonly rttMax: Float64Array;
  /** 1: the row's RTT is its TCP handshake's, seen at the hook. */
  readonly rttHandshake: Uint8Array;
  readonly retrans: Float64Array;
  readonly deltaRetrans: Float64Array;
  readonly drops: Float64Array;
  readonly deltaDrops: Float64Array;
  /** Rows with drops: their reasons. */
  readonly dropReasons: ReadonlyMap<number, ReadonlyMap<string, number>>;
  /** The interval's drops of every entry (joined to a flow or not), by interface and reason: ifname NUL reason. */
  readonly deltaDropsByIface: ReadonlyMap<string, number>;
}

function sum(m: ReadonlyMap<string, number> | undefined): number {
  let n = 0;
  if (m) for (const v of m.values()) n += v;
  return n;
}

/** cur - prev of a cumulative count; all of cur when it went back (the entry was made again). */
function delta(cur: number, prev: number | undefined): number {
  return prev === undefined || cur < prev ? cur : cur - prev;
}

function filled(n: number, value: number): Float64Array {
  return new Float64Array(n).fill(value);
}

/** The sample's entries joined to the rows of `flows`, with the interval's deltas from `prev`. */
export function joinHealth(flows: FlowSet, cur: HealthSample, prev: HealthSample | undefined): HealthColumns {
  const n = flows.length;
  const before = new Map((prev?.entries ?? []).map((e) => [e.id, e]));
  const out = {
    sample: cur,
    rttLast: filled(n, NaN),
    rttMin: filled(n, NaN),
    rttMax: filled(n, NaN),
    rttHandshake: new Uint8Array(n),
    retrans: filled(n, cur.retrans ? 0 : NaN),
    deltaRetrans: filled(n, cur.retrans ? 0 : NaN),
    drops: filled(n, cur.drops ? 0 : NaN),
    deltaDrops: filled(n, cur.drops ? 0 : NaN),
    dropReasons: new Map<number, Map<string, number>>(),
    deltaDropsByIface: new Map<string, number>(),
  };
  for (const e of cur.entries) {
    const old = before.get(e.id);
    const dRetrans = e.retrans === undefined ? 0 : delta(e.retrans, old?.retrans);
    let dDrops = 0;
    if (e.drops) {
      for (const [reason, count] of e.drops) {
        const d = delta(count, old?.drops?.get(reason));
        dDrops += d;
        if (d > 0 && e.ifname !== undefined) {
          const key = `${e.ifname}\u0000${reason}`;
          out.deltaDropsByIface.set(key, (out.deltaDropsByIface.get(key) ?? 0) + d);
        }
      }
    }
    for (const key of e.flows) {
      const i = flows.indexOfKey(key);
      if (i < 0) continue;
      // A socket's RTT wins over the handshake's: the collector lists handshake entries last.
      if (e.rtt && !(e.rtt.handshake && !Number.isNaN(out.rttLast[i] as number) && !out.rttHandshake[i])) {
        if (e.rtt.handshake) out.rttHandshake[i] = 1;
        out.rttLast[i] = e.rtt.last;
        if (e.rtt.min !== undefined) out.rttMin[i] = Number.isNaN(out.rttMin[i] as number) ? e.rtt.min : Math.min(out.rttMin[i] as number, e.rtt.min);
        if (e.rtt.max !== undefined) out.rttMax[i] = Number.isNaN(out.rttMax[i] as number) ? e.rtt.max : Math.max(out.rttMax[i] as number, e.rtt.max);
      }
      if (e.retrans !== undefined && cur.retrans) {
        out.retrans[i] = (out.retrans[i] as number) + e.retrans;
        out.deltaRetrans[i] = (out.deltaRetrans[i] as number) + dRetrans;
      }
      if (e.drops && e.drops.size > 0 && cur.drops) {
        out.drops[i] = (out.drops[i] as number) + sum(e.drops);
        out.deltaDrops[i] = (out.deltaDrops[i] as number) + dDrops;
        const reasons = out.dropReasons.get(i) ?? new Map<string, number>();
        for (const [reason, count] of e.drops) reasons.set(reason, (reasons.get(reason) ?? 0) + count);
        out.dropReasons.set(i, reasons);
      }
    }
  }
  return out;
}

const NO_REASONS: ReadonlyMap<string, number> = new Map();

function orUndefined(x: number): number | undefined {
  return Number.isNaN(x) ? undefined : x;
}

/** Row i's health as an object. */
export function healthRow(h: HealthColumns, i: number): HealthRow {
  const last = h.rttLast[i] as number;
  return {
    rttUs: Number.isNaN(last) ? undefined : { last, min: orUndefined(h.rttMin[i] as number), max: orUndefined(h.rttMax[i] as number), ...(h.rttHandshake[i] ? { handshake: true } : {}) },
    retrans: orUndefined(h.retrans[i] as number),
    deltaRetrans: orUndefined(h.deltaRetrans[i] as number),
    drops: orUndefined(h.drops[i] as number),
    deltaDrops: orUndefined(h.deltaDrops[i] as number),
    dropReasons: h.dropReasons.get(i) ?? NO_REASONS,
  };
}

function addOpt(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : a + b;
}

function pick(a: number | undefined, b: number | undefined, f: (x: number, y: number) => number): number | undefined {
  return a === undefined ? b : b === undefined ? a : f(a, b);
}

/** A group's health from two of its parts: counts add up, the RTT spans both (its last is the higher; from handshakes when both parts' are). */
export function combineHealth(a: HealthRow | undefined, b: HealthRow | undefined): HealthRow | undefined {
  if (!a || !b) return a ?? b;
  const rtt =
    a.rttUs && b.rttUs
      ? {
          last: Math.max(a.rttUs.last, b.rttUs.last),
          min: pick(a.rttUs.min, b.rttUs.min, Math.min),
          max: pick(a.rttUs.max, b.rttUs.max, Math.max),
          ...(a.rttUs.handshake && b.rttUs.handshake ? { handshake: true } : {}),
        }
      : (a.rttUs ?? b.rttUs);
  const reasons = new Map(a.dropReasons);
  for (const [r, n] of b.dropReasons) reasons.set(r, (reasons.get(r) ?? 0) + n);
  return {
    rttUs: rtt,
    retrans: addOpt(a.retrans, b.retrans),
    deltaRetrans: addOpt(a.deltaRetrans, b.deltaRetrans),
    drops: addOpt(a.drops, b.drops),
    deltaDrops: addOpt(a.deltaDrops, b.deltaDrops),
    dropReasons: reasons,
  };
}

/** '850us', '12.3ms', '1.20s'; '-' for none. */
export function formatRttUs(us: number | undefined): string {
  if (us === undefined || Number.isNaN(us)) return '-';
  if (us < 1000) return `${Math.round(us)}us`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)}ms`;
  return `${(us / 1e6).toFixed(2)}s`;
}

/** Reasons by count, highest first: 'NETFILTER_DROP 5, NO_SOCKET 2'. */
export function dropReasonsText(reasons: ReadonlyMap<string, number>): string {
  return [...reasons]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
}
