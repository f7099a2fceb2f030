/**
 * Aggregation on the columns: a tick's flows grouped as aggregate() groups them, without an object
 * per flow. One pass gives each flow its group from the key's columns (protocol, ports, direction,
 * and the addresses by FlowSet.addressHash and sameAddress: no address text); a group's sums are
 * typed columns, made when a view sorts by them; a group becomes an AggRow only when a view shows
 * it (or asks for every row). A conversation view has about as many groups as flows, so building
 * every group would cost what building every flow did.
 *
 * The rows equal aggregate()'s over the same flows as objects, to the last bit: groups in the order
 * of their first member, sums added in row order, a label kept only where every member has the
 * first's (test/columnar.test.ts holds the two together on random flows, in every mode).
 */
import { fromLocal, groupKey, NONE, servicePort, type AggregateMode, type AggRow, type Traffic } from './aggregate.js';
import { hashString, type FlowSet } from './flow-set.js';
import { hasPorts } from './format.js';
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
type Label = 'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport' | 'dir' | 'ifname';

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0xcc9e2d51);
  return h ^ (h >>> 15);
}

/** murmur3's finaliser: every input bit reaches the low bits, which pick the table position. */
function avalanche(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** How a mode tells groups apart on the columns: equal group keys (aggregate's text) iff same(). */
interface Grouping {
  hash(i: number): number;
  same(i: number, j: number): boolean;
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

function grouping(flows: FlowSet, mode: AggregateMode): Grouping {
  switch (mode) {
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
  private members: { readonly start: Int32Array; readonly rows: Int32Array } | undefined;
  private readonly built: (AggRow | undefined)[] = [];
  private readonly keys: (string | undefined)[] = [];
  private byKey: Map<string, number> | undefined;

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
    const n = picked.length;
    const g = grouping(flows, mode);
    // Open addressing, linear probing, at most half full; group + 1 per position, 0 for empty.
    let size = 16;
    while (size < 2 * n) size *= 2;
    const positions = new Int32Array(size);
    const mask = size - 1;
    const first = new Int32Array(n);
    const hashes = new Int32Array(n);
    const groupOf = new Int32Array(n);
    let count = 0;
    for (let k = 0; k < n; k++) {
      const i = picked[k] as number;
      const h = avalanche(g.hash(i));
      for (let at = h & mask; ; at = (at + 1) & mask) {
        const group = (positions[at] as number) - 1;
        if (group < 0) {
          positions[at] = count + 1;
          first[count] = i;
          hashes[count] = h;
          groupOf[k] = count++;
          break;
        }
        if (hashes[group] === h && g.same(i, first[group] as number)) {
          groupOf[k] = group;
          break;
        }
      }
    }
    this.length = count;
    this.firstRow = first.slice(0, count);
    this.groupOf = groupOf;
  }

  /**
   * The values these rows add up, one array per sum in the rows' order: the windows of few rows
   * summed for them alone (RateTable.windowsOf), so showing a few groups makes no window column.
   */
  private valuesOf(rows: readonly number[]): SumColumns {
    const t = this.table;
    const gather = (column: Float64Array): Float64Array => Float64Array.from(rows, (i) => column[i] as number);
    return {
      packets: gather(this.flows.packets),
      bytes: gather(this.flows.bytes),
      deltaPackets: gather(t.deltaPackets),
      deltaBytes: gather(t.deltaBytes),
      pps: gather(t.pps),
      bps: gather(t.bps),
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
    if (!this.sharedLabel(label)[g]) return undefined;
    const first = this.flows.record(this.firstRow[g] as number);
    const ends = this.conversation ? fromLocal(first) : first;
    const value = label === 'src' || label === 'dst' || label === 'sport' || label === 'dport' ? ends[label as 'src' | 'dst' | 'sport' | 'dport'] : first[label];
    return value as AggRow[L];
  }

  /**
   * Group g's key (aggregate's text), made on first use from its first member's columns and the
   * address text the mode needs (no record: a sort's ties make keys of groups never shown).
   */
  keyOf(g: number): string {
    let key = this.keys[g];
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
      };
      key = groupKey(first, this.conversation ? fromLocal(first) : first, mode);
      this.keys[g] = key;
    }
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
   * The members of these groups, group after group, each group's in row order. A few groups (a
   * screen's) are gathered in one pass over the rows; more, from every group's list, made once.
   */
  private membersOf(groups: readonly number[]): number[] {
    const out: number[] = [];
    if (groups.length > FEW_GROUPS || this.members) {
      const { start, rows: members } = this.memberLists();
      for (const g of groups) for (let k = start[g] as number; k < (start[g + 1] as number); k++) out.push(members[k] as number);
      return out;
    }
    const mark = new Int32Array(this.length);
    groups.forEach((g, x) => (mark[g] = x + 1));
    const lists = groups.map((): number[] => []);
    const { rows, groupOf } = this;
    for (let k = 0; k < rows.length; k++) {
      const x = mark[groupOf[k] as number] as number;
      if (x !== 0) (lists[x - 1] as number[]).push(rows[k] as number);
    }
    for (const list of lists) for (const i of list) out.push(i);
    return out;
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
    const missing = [...new Set(groups.filter((g) => !this.built[g]))];
    if (missing.length > 0) {
      const rows = this.membersOf(missing);
      const values = this.valuesOf(rows);
      const counts = this.column('flows');
      let at = 0;
      for (const g of missing) {
        this.built[g] = this.build(g, rows, values, at);
        at += counts[g] as number;
      }
    }
    return groups.map((g) => this.built[g] as AggRow);
  }

  /** Every group, in the order of their first members (aggregate()'s order). */
  all(): AggRow[] {
    return this.rowsOf(Array.from({ length: this.length }, (_, g) => g));
  }

  /**
   * aggregate()'s steps for one group: its members are rows[from ..] (as many as it has), their
   * values at the same positions of `values`.
   */
  private build(g: number, rows: readonly number[], values: SumColumns, from: number): AggRow {
    const f = this.flows;
    const count = this.column('flows')[g] as number;
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
    }
    return {
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
}
