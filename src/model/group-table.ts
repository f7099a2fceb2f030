/**
 * Aggregation on the columns: a tick's flows grouped as aggregate() groups them, without an object
 * per flow. Each flow's group comes from the key's columns (protocol, ports, direction, and the
 * addresses by FlowSet.addressHash and sameAddress: no address text), hashed once per flow of a
 * history rather than once per tick (group-ids.ts); a group's sums are
 * typed columns, made when a view sorts by them; a group becomes an AggRow only when a view shows
 * it (or asks for every row). A conversation view has about as many groups as flows, so building
 * every group would cost what building every flow did.
 *
 * The process and cgroup modes group by the owner column (RateTable.owners): a flow's group is its
 * owner's, whose key text is made once per owner, not per flow. A group's health (RTT, retransmits,
 * drops) is folded from the health columns as combineHealth() folds the members' objects, and its
 * owner and cgroup are kept where every member shares them, as aggregate() keeps them.
 *
 * The rows equal aggregate()'s over the same flows as objects, to the last bit: groups in the order
 * of their first member, sums added in row order, a label kept only where every member has the
 * first's (test/columnar.test.ts holds the two together on random flows, with health and owners, in
 * every mode).
 */
import { fromLocal, groupKey, NONE, ownerGroupKey, servicePort, type AggregateMode, type AggRow, type Traffic } from './aggregate.js';
import { hashString, type FlowSet } from './flow-set.js';
import { assignGroups, keyCacheOf, type Grouping, type KeyCache } from './group-ids.js';
import { hasPorts } from './format.js';
import { healthRow, type HealthColumns, type HealthRow, type RttUs } from './health.js';
import type { Owner, OwnerColumn } from './owners.js';
import type { RateTable } from './rate-table.js';
import type { Direction } from './types.js';

type Side = 'src' | 'dst';
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The columns a group adds up (AggRow's Traffic). */
export const GROUP_SUMS = ['packets', 'bytes', 'deltaPackets', 'deltaBytes', 'pps', 'bps', 'pps2', 'bps2', 'pps10', 'bps10', 'pps40', 'bps40'] as const;
export type GroupSum = (typeof GROUP_SUMS)[number];

/** Groups built at once up to which their members are gathered by a pass over the rows (membersOf). */
const FEW_GROUPS = 256;

/** A group's labels: undefined where its members differ. */
type Label = 'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport' | 'dir' | 'ifname' | 'owner' | 'cgroup';

/**
 * The health a group folds from its members' columns (NaN: none of them has it): the RTT's last
 * and max are the highest, its min the lowest, the counts added (as combineHealth does).
 */
export const GROUP_HEALTH = ['rttLast', 'rttMin', 'rttMax', 'retrans', 'deltaRetrans', 'drops', 'deltaDrops'] as const;
export type GroupHealth = (typeof GROUP_HEALTH)[number];

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0xcc9e2d51);
  return h ^ (h >>> 15);
}

/**
 * A flow's local ends (aggregate's fromLocal): what a hook counts at egress leaves from the flow's
 * source, what it counts at ingress arrives at its destination.
 */
function localSide(flows: FlowSet, i: number, side: Side): Side {
  return flows.dir(i) === 'egress' ? side : side === 'src' ? 'dst' : 'src';
}

function portOf(flows: FlowSet, i: number, side: Side): number {
  return side === 'src' ? flows.sport(i) : flows.dport(i);
}

/** hasPorts per protocol number, as a table: the grouping pass asks once per flow. */
const PORTS = Uint8Array.from({ length: 256 }, (_, proto) => (hasPorts(proto) ? 1 : 0));

/**
 * Each row's process or cgroup group as a small number, equal iff aggregate()'s keys are: the key
 * text (ownerGroupKey) made once per owner id of the column, not per flow. Without owners every
 * flow is in '-', as aggregate() puts flows that carry no owner.
 */
function ownerGroups(owners: OwnerColumn | undefined, mode: 'process' | 'cgroup'): (i: number) => number {
  if (!owners) return () => 0;
  const byKey = new Map<string, number>();
  // At id + 1 (NONE, -1, at 0): the group, or -1 before the id is met.
  const ofId = new Int32Array(owners.sample.table.length + 1).fill(-1);
  return (i) => {
    const at = owners.id(i) + 1;
    let group = ofId[at] ?? -1;
    if (group < 0) {
      const key = ownerGroupKey(owners.owner(i), mode);
      group = byKey.get(key) ?? byKey.size;
      byKey.set(key, group);
      if (at < ofId.length) ofId[at] = group;
    }
    return group;
  };
}

function grouping(table: RateTable, mode: AggregateMode): Grouping {
  const flows = table.flows;
  switch (mode) {
    case 'process':
    case 'cgroup': {
      const group = ownerGroups(table.owners, mode);
      return { hash: group, same: (i, j) => group(i) === group(j) };
    }
    case 'flow':
      return { hash: (i) => hashString(flows.keyAt(i)), same: (i, j) => flows.keyAt(i) === flows.keyAt(j) };
    case 'src':
    case 'dst':
      return { hash: (i) => flows.addressHash(i, mode), same: (i, j) => flows.sameAddress(i, mode, j, mode) };
    case 'pair':
      return {
        hash: (i) => mix(flows.addressHash(i, 'src'), flows.addressHash(i, 'dst')),
        same: (i, j) => flows.sameAddress(i, 'src', j, 'src') && flows.sameAddress(i, 'dst', j, 'dst'),
      };
    case 'proto':
      return { hash: (i) => flows.proto(i), same: (i, j) => flows.proto(i) === flows.proto(j) };
    case 'port': {
      const port = (i: number): number => (PORTS[flows.proto(i)] === 1 ? Math.min(flows.sport(i), flows.dport(i)) : -1);
      return { hash: (i) => mix(flows.proto(i), port(i)), same: (i, j) => flows.proto(i) === flows.proto(j) && port(i) === port(j) };
    }
    case 'conversation':
    case 'host-conversation': {
      const ports = mode === 'conversation';
      return {
        hash: (i) => {
          const out = flows.dir(i) === 'egress';
          let h = mix(flows.addressHash(i, out ? 'src' : 'dst'), flows.addressHash(i, out ? 'dst' : 'src'));
          if (!ports) return h;
          const proto = flows.proto(i);
          h = mix(h, proto);
          if (PORTS[proto] !== 1) return h;
          const sport = flows.sport(i);
          const dport = flows.dport(i);
          return out ? mix(mix(h, sport), dport) : mix(mix(h, dport), sport);
        },
        same: (i, j) => {
          const ni = localSide(flows, i, 'src');
          const nj = localSide(flows, j, 'src');
          const fi = ni === 'src' ? 'dst' : 'src';
          const fj = nj === 'src' ? 'dst' : 'src';
          if (!flows.sameAddress(i, ni, j, nj) || !flows.sameAddress(i, fi, j, fj)) return false;
          if (!ports) return true;
          const proto = flows.proto(i);
          if (proto !== flows.proto(j)) return false;
          // The key's endpoints carry the ports, and IPv6 brackets: the family too.
          return PORTS[proto] !== 1 || (portOf(flows, i, ni) === portOf(flows, j, nj) && portOf(flows, i, fi) === portOf(flows, j, fj) && flows.family(i) === flows.family(j));
        },
      };
    }
  }
}

/**
 * Per group, a mark (membersOf): kept all 0 between uses (each clears what it set), so that showing
 * a screen of groups allocates no array as long as the groups.
 */
let marks = new Int32Array(0);

function markScratch(n: number): Int32Array {
  if (marks.length < n) marks = new Int32Array(n);
  return marks;
}

/** The values a group adds up, per member. */
type SumColumns = Readonly<Record<GroupSum, Float64Array>>;

// Fields written out, not looped over (as aggregate.ts: V8 is several times slower at a loop).
/** The values at position i as a Traffic. */
function trafficAt(c: SumColumns, i: number): Mutable<Traffic> {
  return {
    packets: c.packets[i] as number,
    bytes: c.bytes[i] as number,
    deltaPackets: c.deltaPackets[i] as number,
    deltaBytes: c.deltaBytes[i] as number,
    pps: c.pps[i] as number,
    bps: c.bps[i] as number,
    pps2: c.pps2[i] as number,
    bps2: c.bps2[i] as number,
    pps10: c.pps10[i] as number,
    bps10: c.bps10[i] as number,
    pps40: c.pps40[i] as number,
    bps40: c.bps40[i] as number,
  };
}

function addAt(s: Mutable<Traffic>, c: SumColumns, i: number): void {
  s.packets += c.packets[i] as number;
  s.bytes += c.bytes[i] as number;
  s.deltaPackets += c.deltaPackets[i] as number;
  s.deltaBytes += c.deltaBytes[i] as number;
  s.pps += c.pps[i] as number;
  s.bps += c.bps[i] as number;
  s.pps2 += c.pps2[i] as number;
  s.bps2 += c.bps2[i] as number;
  s.pps10 += c.pps10[i] as number;
  s.bps10 += c.bps10[i] as number;
  s.pps40 += c.pps40[i] as number;
  s.bps40 += c.bps40[i] as number;
}

/**
 * The health of the members rows[from .. from + count) (two or more), read from the columns: what
 * combineHealth() gives folded over their healthRow()s in row order, without an object per member.
 */
function foldHealth(h: HealthColumns, rows: readonly number[], from: number, count: number): HealthRow {
  let last = NaN;
  let min = NaN;
  let max = NaN;
  let retrans = NaN;
  let deltaRetrans = NaN;
  let drops = NaN;
  let deltaDrops = NaN;
  const reasons = new Map<string, number>();
  const add = (acc: number, v: number): number => (Number.isNaN(v) ? acc : Number.isNaN(acc) ? v : acc + v);
  for (let k = from; k < from + count; k++) {
    const i = rows[k] as number;
    const l = h.rttLast[i] as number;
    // A member without an RTT has no min or max either (joinHealth sets them with the last).
    if (!Number.isNaN(l)) {
      last = Number.isNaN(last) ? l : Math.max(last, l);
      const lo = h.rttMin[i] as number;
      const hi = h.rttMax[i] as number;
      if (!Number.isNaN(lo)) min = Number.isNaN(min) ? lo : Math.min(min, lo);
      if (!Number.isNaN(hi)) max = Number.isNaN(max) ? hi : Math.max(max, hi);
    }
    retrans = add(retrans, h.retrans[i] as number);
    deltaRetrans = add(deltaRetrans, h.deltaRetrans[i] as number);
    drops = add(drops, h.drops[i] as number);
    deltaDrops = add(deltaDrops, h.deltaDrops[i] as number);
    const r = h.dropReasons.get(i);
    if (r) for (const [reason, n] of r) reasons.set(reason, (reasons.get(reason) ?? 0) + n);
  }
  const orUndefined = (x: number): number | undefined => (Number.isNaN(x) ? undefined : x);
  const rttUs: RttUs | undefined = Number.isNaN(last) ? undefined : { last, min: orUndefined(min), max: orUndefined(max) };
  return {
    rttUs,
    retrans: orUndefined(retrans),
    deltaRetrans: orUndefined(deltaRetrans),
    drops: orUndefined(drops),
    deltaDrops: orUndefined(deltaDrops),
    dropReasons: reasons,
  };
}

/** The groups of a tick's flows (all, or the rows a filter kept) under one mode. Immutable once built. */
export class GroupTable {
  /** Groups. */
  readonly length: number;
  readonly flows: FlowSet;
  /** Per group, its first member's row. */
  private readonly firstRow: Int32Array;
  /** The rows grouped, in order, and each one's group. */
  private readonly rows: ArrayLike<number>;
  private readonly groupOf: Int32Array;
  private readonly conversation: boolean;
  private readonly sums: Partial<Record<GroupSum | 'firstSeenNs' | 'lastSeenNs' | 'flows', Float64Array>> = {};
  private readonly shared: Partial<Record<Label, Uint8Array>> = {};
  private readonly healthSums: Partial<Record<GroupHealth, Float64Array>> = {};
  private members: { readonly start: Int32Array; readonly rows: Int32Array } | undefined;
  /** Groups built, and keys made, by group: Maps, as few are (an array written at scattered indices turns to a slow dictionary). */
  private readonly built = new Map<number, AggRow>();
  private readonly keys = new Map<number, string>();
  private byKey: Map<string, number> | undefined;
  /** Keys made in earlier ticks of the table's history (undefined: none kept). */
  private readonly keyCache: KeyCache | undefined;

  constructor(
    readonly table: RateTable,
    readonly mode: AggregateMode,
    /** Row numbers to group, in order; undefined for every row. */
    rows?: ArrayLike<number>,
  ) {
    const flows = table.flows;
    this.flows = flows;
    this.conversation = mode === 'conversation' || mode === 'host-conversation';
    let picked = rows;
    if (!picked) {
      const every = new Int32Array(table.length);
      for (let i = 0; i < every.length; i++) every[i] = i;
      picked = every;
    }
    this.rows = picked;
    const { length, firstRow, groupOf } = assignGroups(table, mode, grouping(table, mode), picked);
    this.keyCache = keyCacheOf(table, mode);
    this.length = length;
    this.firstRow = firstRow;
    this.groupOf = groupOf;
  }

  /**
   * The values these rows add up, one array per sum in the rows' order: the interval's deltas and
   * rates read per row, and the windows of few rows summed for them alone (RateTable.intervalOf,
   * windowsOf), so showing a few groups makes no whole column.
   */
  private valuesOf(rows: readonly number[]): SumColumns {
    const t = this.table;
    const gather = (column: Float64Array): Float64Array => Float64Array.from(rows, (i) => column[i] as number);
    return {
      packets: gather(this.flows.packets),
      bytes: gather(this.flows.bytes),
      ...t.intervalOf(rows),
      ...t.windowsOf(rows),
    };
  }

  /**
   * A column of every group: a sum (added from -0 in row order: the first member's value exactly,
   * then as aggregate() adds), the earliest first seen, the latest last seen, or the member count.
   */
  column(name: GroupSum | 'firstSeenNs' | 'lastSeenNs' | 'flows'): Float64Array {
    let out = this.sums[name];
    if (out) return out;
    out = new Float64Array(this.length);
    const { rows, groupOf } = this;
    const n = rows.length;
    if (name === 'flows') {
      for (let k = 0; k < n; k++) {
        const g = groupOf[k] as number;
        out[g] = (out[g] as number) + 1;
      }
    } else if (name === 'firstSeenNs' || name === 'lastSeenNs') {
      const values = this.flows[name];
      const pick = name === 'firstSeenNs' ? Math.min : Math.max;
      for (let g = 0; g < this.length; g++) out[g] = values[this.firstRow[g] as number] as number;
      for (let k = 0; k < n; k++) {
        const g = groupOf[k] as number;
        out[g] = pick(out[g] as number, values[rows[k] as number] as number);
      }
    } else {
      const values = name === 'packets' || name === 'bytes' ? this.flows[name] : this.table[name];
      out.fill(-0);
      for (let k = 0; k < n; k++) {
        const g = groupOf[k] as number;
        out[g] = (out[g] as number) + (values[rows[k] as number] as number);
      }
    }
    this.sums[name] = out;
    return out;
  }

  /**
   * A health column of every group (undefined when the tick has no health): folded in row order
   * over the members that have the value, NaN where none has (combineHealth's fold of the members).
   */
  healthColumn(name: GroupHealth): Float64Array | undefined {
    const h = this.table.health;
    if (!h) return undefined;
    let out = this.healthSums[name];
    if (out) return out;
    out = new Float64Array(this.length).fill(NaN);
    const values = h[name];
    const pick = name === 'rttMin' ? Math.min : name === 'rttLast' || name === 'rttMax' ? Math.max : (a: number, b: number) => a + b;
    const { rows, groupOf } = this;
    for (let k = 0; k < rows.length; k++) {
      const v = values[rows[k] as number] as number;
      if (Number.isNaN(v)) continue;
      const g = groupOf[k] as number;
      const acc = out[g] as number;
      out[g] = Number.isNaN(acc) ? v : pick(acc, v);
    }
    this.healthSums[name] = out;
    return out;
  }

  /** Which side of row i holds the group's end `side` (the local end in the conversation modes). */
  private side(i: number, side: Side): Side {
    return this.conversation ? localSide(this.flows, i, side) : side;
  }

  /** Whether rows i and j agree on a label (as aggregate() compares a member to its group). */
  private agree(label: Label, i: number, j: number): boolean {
    const f = this.flows;
    switch (label) {
      case 'family':
        return f.family(i) === f.family(j);
      case 'proto':
        return f.proto(i) === f.proto(j);
      case 'dir':
        return f.dir(i) === f.dir(j);
      case 'ifname':
        return f.ifname(i) === f.ifname(j);
      case 'src':
      case 'dst':
        return f.sameAddress(i, this.side(i, label), j, this.side(j, label));
      case 'sport':
      case 'dport': {
        const end = label === 'sport' ? 'src' : 'dst';
        return portOf(f, i, this.side(i, end)) === portOf(f, j, this.side(j, end));
      }
      // aggregate() compares the owner objects (null for none) and their cgroup paths.
      case 'owner': {
        const owners = this.table.owners;
        return !owners || owners.owner(i) === owners.owner(j);
      }
      case 'cgroup': {
        const owners = this.table.owners;
        return !owners || (owners.owner(i)?.cgroup ?? null) === (owners.owner(j)?.cgroup ?? null);
      }
    }
  }

  /** Per group, 1 where every member has its first member's label. */
  private sharedLabel(label: Label): Uint8Array {
    let out = this.shared[label];
    if (out) return out;
    out = new Uint8Array(this.length).fill(1);
    const { rows, groupOf, firstRow } = this;
    for (let k = 0; k < rows.length; k++) {
      const g = groupOf[k] as number;
      if (out[g] && !this.agree(label, rows[k] as number, firstRow[g] as number)) out[g] = 0;
    }
    this.shared[label] = out;
    return out;
  }

  /** Group g's label, undefined where its members differ (its value is then the first member's). */
  label<L extends Label>(label: L, g: number): AggRow[L] {
    if (label === 'owner' || label === 'cgroup') {
      // Absent (undefined) when the flows carry no owners, as aggregate() leaves it out.
      const owners = this.table.owners;
      if (!owners || !this.sharedLabel(label)[g]) return undefined;
      const owner = owners.owner(this.firstRow[g] as number);
      return (label === 'owner' ? owner : (owner?.cgroup ?? null)) as AggRow[L];
    }
    if (!this.sharedLabel(label)[g]) return undefined;
    const first = this.flows.record(this.firstRow[g] as number);
    const ends = this.conversation ? fromLocal(first) : first;
    const value = label === 'src' || label === 'dst' || label === 'sport' || label === 'dport' ? ends[label as 'src' | 'dst' | 'sport' | 'dport'] : first[label as 'family' | 'proto' | 'dir' | 'ifname'];
    return value as AggRow[L];
  }

  /**
   * Group g's key (aggregate's text), made on first use from its first member's columns and the
   * address text the mode needs (no record: a sort's ties make keys of groups never shown), or
   * taken from an earlier tick that made it for the same flow.
   */
  keyOf(g: number): string {
    let key = this.keys.get(g);
    if (key === undefined) key = this.keyCache?.get(this.firstRow[g] as number);
    if (key === undefined) {
      const f = this.flows;
      const i = this.firstRow[g] as number;
      const mode = this.mode;
      const src = mode === 'src' || mode === 'pair' || this.conversation;
      const dst = mode === 'dst' || mode === 'pair' || this.conversation;
      const first = {
        key: mode === 'flow' ? f.keyAt(i) : '',
        family: f.family(i),
        proto: f.proto(i),
        src: src ? f.address(i, 'src') : '',
        dst: dst ? f.address(i, 'dst') : '',
        sport: f.sport(i),
        dport: f.dport(i),
        dir: f.dir(i),
        owner: mode === 'process' || mode === 'cgroup' ? this.table.owners?.owner(i) : undefined,
      };
      key = groupKey(first, this.conversation ? fromLocal(first) : first, mode);
      this.keyCache?.set(i, key);
    }
    this.keys.set(g, key);
    return key;
  }

  /** The group with this key, or -1 (every key made once, on first use). */
  indexOfKey(key: string): number {
    if (!this.byKey) {
      this.byKey = new Map();
      for (let g = 0; g < this.length; g++) this.byKey.set(this.keyOf(g), g);
    }
    return this.byKey.get(key) ?? -1;
  }

  /**
   * The members of these groups, group after group, each group's in row order, and how many each
   * has. A few groups (a screen's) are gathered in one pass over the rows; more, from every group's
   * list, made once.
   */
  private membersOf(groups: readonly number[]): { readonly rows: number[]; readonly counts: number[] } {
    const out: number[] = [];
    if (groups.length > FEW_GROUPS || this.members) {
      const { start, rows: members } = this.memberLists();
      const counts = groups.map((g) => (start[g + 1] as number) - (start[g] as number));
      for (const g of groups) for (let k = start[g] as number; k < (start[g + 1] as number); k++) out.push(members[k] as number);
      return { rows: out, counts };
    }
    const mark = markScratch(this.length);
    groups.forEach((g, x) => (mark[g] = x + 1));
    const lists = groups.map((): number[] => []);
    const { rows, groupOf } = this;
    for (let k = 0; k < rows.length; k++) {
      const x = mark[groupOf[k] as number] as number;
      if (x !== 0) (lists[x - 1] as number[]).push(rows[k] as number);
    }
    for (const g of groups) mark[g] = 0;
    for (const list of lists) for (const i of list) out.push(i);
    return { rows: out, counts: lists.map((list) => list.length) };
  }

  /** Each group's members, in row order. */
  private memberLists(): { readonly start: Int32Array; readonly rows: Int32Array } {
    if (!this.members) {
      const { rows, groupOf } = this;
      const start = new Int32Array(this.length + 1);
      for (let k = 0; k < rows.length; k++) {
        const at = (groupOf[k] as number) + 1;
        start[at] = (start[at] as number) + 1;
      }
      for (let g = 0; g < this.length; g++) start[g + 1] = (start[g + 1] as number) + (start[g] as number);
      const next = start.slice(0, this.length);
      const members = new Int32Array(rows.length);
      for (let k = 0; k < rows.length; k++) {
        const g = groupOf[k] as number;
        const at = next[g] as number;
        members[at] = rows[k] as number;
        next[g] = at + 1;
      }
      this.members = { start, rows: members };
    }
    return this.members;
  }

  /** Group g as an AggRow, built on first use; the same object every call. */
  row(g: number): AggRow {
    return this.rowsOf([g])[0] as AggRow;
  }

  /** These groups as AggRows, in their order (those not built yet, built together). */
  rowsOf(groups: readonly number[]): AggRow[] {
    const missing = [...new Set(groups.filter((g) => !this.built.has(g)))];
    if (missing.length > 0) {
      const { rows, counts } = this.membersOf(missing);
      const values = this.valuesOf(rows);
      let at = 0;
      missing.forEach((g, x) => {
        const count = counts[x] as number;
        this.built.set(g, this.build(g, rows, values, at, count));
        at += count;
      });
    }
    return groups.map((g) => this.built.get(g) as AggRow);
  }

  /** Every group, in the order of their first members (aggregate()'s order). */
  all(): AggRow[] {
    return this.rowsOf(Array.from({ length: this.length }, (_, g) => g));
  }

  /**
   * aggregate()'s steps for one group: its members are rows[from .. from + count), their values at
   * the same positions of `values`.
   */
  private build(g: number, rows: readonly number[], values: SumColumns, from: number, count: number): AggRow {
    const f = this.flows;
    const first = rows[from] as number;
    const rec = f.record(first);
    const ends = this.conversation ? fromLocal(rec) : rec;
    const own = {
      family: rec.family as AggRow['family'],
      proto: rec.proto as AggRow['proto'],
      dir: rec.dir as Direction | undefined,
      ifname: rec.ifname as AggRow['ifname'],
      src: ends.src as AggRow['src'],
      dst: ends.dst as AggRow['dst'],
      sport: ends.sport as AggRow['sport'],
      dport: ends.dport as AggRow['dport'],
    };
    const sum = trafficAt(values, from);
    const dirs: { ingress: Traffic; egress: Traffic } = { ingress: NONE, egress: NONE };
    dirs[rec.dir] = trafficAt(values, from);
    let firstSeenNs = rec.firstSeenNs;
    let lastSeenNs = rec.lastSeenNs;
    let tcpFlags = rec.tcpFlags;
    const owners = this.table.owners;
    const owner = owners ? owners.owner(first) : null;
    const cgroup = owner?.cgroup ?? null;
    let sameOwner = true;
    let sameCgroup = true;
    for (let k = from + 1; k < from + count; k++) {
      const i = rows[k] as number;
      if (own.family !== undefined && !this.agree('family', i, first)) own.family = undefined;
      if (own.proto !== undefined && !this.agree('proto', i, first)) own.proto = undefined;
      if (own.dir !== undefined && !this.agree('dir', i, first)) own.dir = undefined;
      if (own.ifname !== undefined && !this.agree('ifname', i, first)) own.ifname = undefined;
      if (own.src !== undefined && !this.agree('src', i, first)) own.src = undefined;
      if (own.dst !== undefined && !this.agree('dst', i, first)) own.dst = undefined;
      if (own.sport !== undefined && !this.agree('sport', i, first)) own.sport = undefined;
      if (own.dport !== undefined && !this.agree('dport', i, first)) own.dport = undefined;
      addAt(sum, values, k);
      const dir = f.dir(i);
      if (dirs[dir] === NONE) dirs[dir] = trafficAt(values, k);
      else addAt(dirs[dir] as Mutable<Traffic>, values, k);
      firstSeenNs = Math.min(firstSeenNs, f.firstSeenNs[i] as number);
      lastSeenNs = Math.max(lastSeenNs, f.lastSeenNs[i] as number);
      tcpFlags |= f.tcpFlags[i] as number;
      if (owners) {
        const o = owners.owner(i);
        if (o !== owner) sameOwner = false;
        if ((o?.cgroup ?? null) !== cgroup) sameCgroup = false;
      }
    }
    const out: Mutable<AggRow> = {
      key: this.keyOf(g),
      family: own.family,
      proto: own.proto,
      src: own.src,
      dst: own.dst,
      sport: own.sport,
      dport: own.dport,
      dir: own.dir,
      ifname: own.ifname,
      port: this.mode === 'port' ? servicePort(rec) : undefined,
      packets: sum.packets,
      bytes: sum.bytes,
      deltaPackets: sum.deltaPackets,
      deltaBytes: sum.deltaBytes,
      pps: sum.pps,
      bps: sum.bps,
      pps2: sum.pps2,
      bps2: sum.bps2,
      pps10: sum.pps10,
      bps10: sum.bps10,
      pps40: sum.pps40,
      bps40: sum.bps40,
      ingress: dirs.ingress,
      egress: dirs.egress,
      flows: count,
      firstSeenNs,
      lastSeenNs,
      tcpFlags,
    };
    // Members only where aggregate() has them: health with health, owner and cgroup with owners.
    const h = this.table.health;
    if (h) out.health = count === 1 ? healthRow(h, first) : foldHealth(h, rows, from, count);
    if (owners) {
      out.owner = sameOwner ? owner : undefined;
      out.cgroup = sameCgroup ? cgroup : undefined;
    }
    return out;
  }

  /**
   * One object that reads as group g's AggRow, for the field registry's sort values: the sums and
   * labels from the columns, whatever else from the built row. Moved from group to group.
   */
  cursor(): GroupCursor {
    return new GroupCursor(this);
  }
}

/** A view of one group as an AggRow, without building it (see GroupTable.cursor). */
export class GroupCursor {
  g = 0;
  /** The columns read so far. */
  private readonly c: Partial<Record<GroupSum | 'flows' | 'firstSeenNs' | 'lastSeenNs', Float64Array>> = {};
  constructor(private readonly t: GroupTable) {}
  get key(): string {
    return this.t.keyOf(this.g);
  }
  get family(): AggRow['family'] {
    return this.t.label('family', this.g);
  }
  get proto(): AggRow['proto'] {
    return this.t.label('proto', this.g);
  }
  get src(): AggRow['src'] {
    return this.t.label('src', this.g);
  }
  get dst(): AggRow['dst'] {
    return this.t.label('dst', this.g);
  }
  get sport(): AggRow['sport'] {
    return this.t.label('sport', this.g);
  }
  get dport(): AggRow['dport'] {
    return this.t.label('dport', this.g);
  }
  get dir(): AggRow['dir'] {
    return this.t.label('dir', this.g);
  }
  get ifname(): AggRow['ifname'] {
    return this.t.label('ifname', this.g);
  }
  get port(): AggRow['port'] {
    return this.t.row(this.g).port;
  }
  get packets(): number {
    return (this.c.packets ??= this.t.column('packets'))[this.g] as number;
  }
  get bytes(): number {
    return (this.c.bytes ??= this.t.column('bytes'))[this.g] as number;
  }
  get deltaPackets(): number {
    return (this.c.deltaPackets ??= this.t.column('deltaPackets'))[this.g] as number;
  }
  get deltaBytes(): number {
    return (this.c.deltaBytes ??= this.t.column('deltaBytes'))[this.g] as number;
  }
  get pps(): number {
    return (this.c.pps ??= this.t.column('pps'))[this.g] as number;
  }
  get bps(): number {
    return (this.c.bps ??= this.t.column('bps'))[this.g] as number;
  }
  get pps2(): number {
    return (this.c.pps2 ??= this.t.column('pps2'))[this.g] as number;
  }
  get bps2(): number {
    return (this.c.bps2 ??= this.t.column('bps2'))[this.g] as number;
  }
  get pps10(): number {
    return (this.c.pps10 ??= this.t.column('pps10'))[this.g] as number;
  }
  get bps10(): number {
    return (this.c.bps10 ??= this.t.column('bps10'))[this.g] as number;
  }
  get pps40(): number {
    return (this.c.pps40 ??= this.t.column('pps40'))[this.g] as number;
  }
  get bps40(): number {
    return (this.c.bps40 ??= this.t.column('bps40'))[this.g] as number;
  }
  get flows(): number {
    return (this.c.flows ??= this.t.column('flows'))[this.g] as number;
  }
  get firstSeenNs(): number {
    return (this.c.firstSeenNs ??= this.t.column('firstSeenNs'))[this.g] as number;
  }
  get lastSeenNs(): number {
    return (this.c.lastSeenNs ??= this.t.column('lastSeenNs'))[this.g] as number;
  }
  get ingress(): Traffic {
    return this.t.row(this.g).ingress;
  }
  get egress(): Traffic {
    return this.t.row(this.g).egress;
  }
  get tcpFlags(): number {
    return this.t.row(this.g).tcpFlags;
  }
  get owner(): Owner | null | undefined {
    return this.t.label('owner', this.g);
  }
  get cgroup(): string | null | undefined {
    return this.t.label('cgroup', this.g);
  }
  private healthView: GroupHealthView | undefined;
  /** The group's health from its columns (undefined without health), one object moved with the cursor. */
  get health(): HealthRow | undefined {
    if (!this.t.table.health) return undefined;
    return (this.healthView ??= new GroupHealthView(this.t, this));
  }
}

/** A group's HealthRow read from GroupTable.healthColumn at the cursor's group (see GroupCursor.health). */
class GroupHealthView implements HealthRow {
  private readonly rtt: { readonly last: number; readonly min: number | undefined; readonly max: number | undefined };
  constructor(
    private readonly t: GroupTable,
    private readonly at: { readonly g: number },
  ) {
    const value = (name: GroupHealth): number | undefined => this.value(name);
    this.rtt = {
      get last(): number {
        return value('rttLast') as number;
      },
      get min(): number | undefined {
        return value('rttMin');
      },
      get max(): number | undefined {
        return value('rttMax');
      },
    };
  }
  private value(name: GroupHealth): number | undefined {
    const v = (this.t.healthColumn(name) as Float64Array)[this.at.g] as number;
    return Number.isNaN(v) ? undefined : v;
  }
  get rttUs(): RttUs | undefined {
    return this.value('rttLast') === undefined ? undefined : this.rtt;
  }
  get retrans(): number | undefined {
    return this.value('retrans');
  }
  get deltaRetrans(): number | undefined {
    return this.value('deltaRetrans');
  }
  get drops(): number | undefined {
    return this.value('drops');
  }
  get deltaDrops(): number | undefined {
    return this.value('deltaDrops');
  }
  get dropReasons(): ReadonlyMap<string, number> {
    return (this.t.row(this.at.g).health as HealthRow).dropReasons;
  }
}
