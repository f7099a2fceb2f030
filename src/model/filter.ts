/**
 * Flow filters: the syntax tree parseFilter builds (see filter-parser.ts for the language),
 * matching a flow against it, and printing it back in canonical form.
 */
import { formatAddress, parseAddress, prefixContains, type Prefix } from './address.js';
import { hasPorts } from './format.js';
import type { FlowSet } from './flow-set.js';
import type { HealthColumns, HealthRow } from './health.js';
import type { Owner, OwnerColumn } from './owners.js';
import type { Direction, FlowRecord } from './types.js';

export { parseFilter } from './filter-parser.js';

/** Which address or port a primitive tests; 'either' is the unqualified form. */
export type Side = 'src' | 'dst' | 'either';

export type Filter =
  | { readonly kind: 'all' }
  | { readonly kind: 'and'; readonly terms: readonly Filter[] }
  | { readonly kind: 'or'; readonly terms: readonly Filter[] }
  | { readonly kind: 'not'; readonly term: Filter }
  /** label is how it was asked for: 'icmp' (1 and 58) is not 'proto 1'. */
  | { readonly kind: 'proto'; readonly protos: readonly number[]; readonly label: string }
  | { readonly kind: 'family'; readonly family: 4 | 6 }
  /** A host is a full-length prefix; kept apart from net only to print it back as written. */
  | { readonly kind: 'host' | 'net'; readonly side: Side; readonly prefix: Prefix }
  | { readonly kind: 'port'; readonly side: Side; readonly lo: number; readonly hi: number }
  | { readonly kind: 'dir'; readonly dir: Direction }
  | { readonly kind: 'iface'; readonly name: string }
  /** A health value compared with a number: rtt in microseconds (the last of the interval), retrans and drops since start. */
  | { readonly kind: 'health'; readonly what: HealthMetric; readonly op: Comparison; readonly value: number }
  /** The local process: its pid, comm (proc), cgroup path or container (a part of it), or user (name or uid). */
  | { readonly kind: 'owner'; readonly what: OwnerTerm; readonly value: string };

export type HealthMetric = 'rtt' | 'retrans' | 'drops';
export type Comparison = '>' | '>=' | '<' | '<=' | '=';
export type OwnerTerm = 'pid' | 'proc' | 'cgroup' | 'user';

/** The fields a filter reads; FlowRate and FlowRecord both qualify. */
export type FilterableFlow = Pick<FlowRecord, 'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport' | 'dir' | 'ifname'> & {
  readonly health?: HealthRow | undefined;
  readonly owner?: Owner | null | undefined;
};

export type ParseResult = { ok: true; filter: Filter } | { ok: false; error: string };

export const MATCH_ALL: Filter = { kind: 'all' };

/** What a filter reads of a row: a FlowSet qualifies. */
export type FilterRows = Pick<FlowSet, 'family' | 'proto' | 'sport' | 'dport' | 'dir' | 'ifname' | 'addressIn'> & {
  /** A health value of row i; NaN (or no method) where nothing is known, which no comparison matches. */
  readonly healthValue?: (i: number, what: HealthMetric) => number;
  /** Row i's owner (null: none); no method where nothing is known of owners, which no owner term matches. */
  readonly ownerOf?: (i: number) => Owner | null;
};

function healthOf(h: HealthRow | undefined, what: HealthMetric): number {
  const v = what === 'rtt' ? h?.rttUs?.last : what === 'retrans' ? h?.retrans : h?.drops;
  return v ?? NaN;
}

/** What a tick adds to its flows' columns for the filter: the health and owner columns, each where there is one. */
export interface TickColumns {
  readonly health?: HealthColumns | undefined;
  readonly owners?: OwnerColumn | undefined;
}

/** A FlowSet's rows with the tick's health and owner columns. */
class RowsOfTick implements FilterRows {
  readonly healthValue?: (i: number, what: HealthMetric) => number;
  readonly ownerOf?: (i: number) => Owner | null;
  constructor(
    private readonly set: FilterRows,
    extra: TickColumns,
  ) {
    const h = extra.health;
    if (h) this.healthValue = (i, what) => (what === 'rtt' ? h.rttLast : what === 'retrans' ? h.retrans : h.drops)[i] as number;
    const o = extra.owners;
    if (o) this.ownerOf = (i) => o.owner(i);
  }
  family(i: number): 4 | 6 {
    return this.set.family(i);
  }
  proto(i: number): number {
    return this.set.proto(i);
  }
  sport(i: number): number {
    return this.set.sport(i);
  }
  dport(i: number): number {
    return this.set.dport(i);
  }
  dir(i: number): Direction {
    return this.set.dir(i);
  }
  ifname(i: number): string {
    return this.set.ifname(i);
  }
  addressIn(i: number, which: 'src' | 'dst', prefix: Prefix): boolean {
    return this.set.addressIn(i, which, prefix);
  }
}

function compare(a: number, op: Comparison, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '=':
      return a === b;
  }
}

/** Whether an owner passes an owner term: pid and user (a name, or a uid) exactly, proc the comm exactly, cgroup a part of the path or the container's name. */
export function ownerMatches(owner: Owner | null | undefined, what: OwnerTerm, value: string): boolean {
  if (!owner) return false;
  switch (what) {
    case 'pid':
      return String(owner.pid) === value;
    case 'proc':
      return owner.comm === value;
    case 'cgroup':
      return (owner.cgroup?.includes(value) ?? false) || owner.container === value;
    case 'user':
      return /^\d+$/.test(value) ? String(owner.uid) === value : owner.user === value;
  }
}

/** One flow object as a one-row FilterRows. */
class OneFlow implements FilterRows {
  constructor(private readonly flow: FilterableFlow) {}
  family(): 4 | 6 {
    return this.flow.family;
  }
  proto(): number {
    return this.flow.proto;
  }
  sport(): number {
    return this.flow.sport;
  }
  dport(): number {
    return this.flow.dport;
  }
  dir(): Direction {
    return this.flow.dir;
  }
  ifname(): string {
    return this.flow.ifname;
  }
  healthValue(_: number, what: HealthMetric): number {
    return healthOf(this.flow.health, what);
  }
  ownerOf(): Owner | null {
    return this.flow.owner ?? null;
  }
  addressIn(_: number, which: 'src' | 'dst', prefix: Prefix): boolean {
    // An address the collector could not have produced never matches.
    const addr = parseAddress(this.flow[which]);
    return addr !== undefined && prefixContains(prefix, addr);
  }
}

/**
 * Whether the flow passes the filter. Addresses are compared as bytes, so any spelling of an IPv6
 * address matches the collector's compressed one; an address of the other family never matches.
 */
export function matches(filter: Filter, flow: FilterableFlow): boolean {
  return matchesRow(filter, new OneFlow(flow), 0);
}

/** Whether row i passes the filter; on a FlowSet, without building the row's record. */
export function matchesRow(filter: Filter, set: FilterRows, i: number): boolean {
  return predicate(filter)(set, i);
}

type Predicate = (set: FilterRows, i: number) => boolean;

const compiled = new WeakMap<Filter, Predicate>();

/** The filter as one function of a row, built once per filter: a frame tests every flow. */
function predicate(filter: Filter): Predicate {
  let p = compiled.get(filter);
  if (!p) {
    p = compile(filter);
    compiled.set(filter, p);
  }
  return p;
}

/** A side's test: src, dst, or either. */
function sided(side: Side, src: Predicate, dst: Predicate): Predicate {
  return side === 'src' ? src : side === 'dst' ? dst : (set, i) => src(set, i) || dst(set, i);
}

function compile(filter: Filter): Predicate {
  switch (filter.kind) {
    case 'all':
      return () => true;
    case 'and': {
      const terms = filter.terms.map(predicate);
      return (set, i) => terms.every((t) => t(set, i));
    }
    case 'or': {
      const terms = filter.terms.map(predicate);
      return (set, i) => terms.some((t) => t(set, i));
    }
    case 'not': {
      const term = predicate(filter.term);
      return (set, i) => !term(set, i);
    }
    case 'proto': {
      const protos = filter.protos;
      return (set, i) => protos.includes(set.proto(i));
    }
    case 'family': {
      const family = filter.family;
      return (set, i) => set.family(i) === family;
    }
    case 'host':
    case 'net': {
      const prefix = filter.prefix;
      return sided(filter.side, (set, i) => set.addressIn(i, 'src', prefix), (set, i) => set.addressIn(i, 'dst', prefix));
    }
    case 'port': {
      // Only these protocols carry ports; ICMP's dport holds type and code.
      const { lo, hi } = filter;
      const within = (port: number): boolean => port >= lo && port <= hi;
      const ports = sided(
        filter.side,
        (set, i) => within(set.sport(i)),
        (set, i) => within(set.dport(i)),
      );
      return (set, i) => hasPorts(set.proto(i)) && ports(set, i);
    }
    case 'dir': {
      const dir = filter.dir;
      return (set, i) => set.dir(i) === dir;
    }
    case 'iface': {
      const name = filter.name;
      return (set, i) => set.ifname(i) === name;
    }
    case 'health': {
      const { what, op, value } = filter;
      // NaN (nothing known) fails every comparison.
      return (set, i) => compare(set.healthValue?.(i, what) ?? NaN, op, value);
    }
    case 'owner': {
      const { what, value } = filter;
      return (set, i) => ownerMatches(set.ownerOf?.(i), what, value);
    }
  }
}

/** The rows of the set that pass the filter, in row order; health and owner terms read the tick's columns. */
export function matchingRows(filter: Filter, set: FlowSet, extra: TickColumns = {}): Int32Array {
  const rows = new Int32Array(set.length);
  let n = 0;
  const test = predicate(filter);
  const read: FilterRows = extra.health || extra.owners ? new RowsOfTick(set, extra) : set;
  for (let i = 0; i < set.length; i++) if (test(read, i)) rows[n++] = i;
  return rows.subarray(0, n);
}

/** Canonical text of a filter, with only the parentheses precedence needs (for the status line). */
export function filterToString(filter: Filter): string {
  const sided = (side: Side, text: string): string => (side === 'either' ? text : `${side} ${text}`);
  const operand = (term: Filter, parent: 'and' | 'not'): string => {
    const text = filterToString(term);
    const needs = term.kind === 'or' || (parent === 'not' && term.kind === 'and');
    return needs ? `(${text})` : text;
  };
  switch (filter.kind) {
    case 'all':
      return '';
    case 'or':
      return filter.terms.map(filterToString).join(' or ');
    case 'and':
      return filter.terms.map((t) => operand(t, 'and')).join(' and ');
    case 'not':
      return `not ${operand(filter.term, 'not')}`;
    case 'proto':
      return filter.label;
    case 'family':
      return filter.family === 4 ? 'ip' : 'ip6';
    case 'host':
      return sided(filter.side, `host ${formatAddress(filter.prefix)}`);
    case 'net':
      return sided(filter.side, `net ${formatAddress(filter.prefix)}/${filter.prefix.len}`);
    case 'port':
      return sided(filter.side, filter.lo === filter.hi ? `port ${filter.lo}` : `portrange ${filter.lo}-${filter.hi}`);
    case 'dir':
      return filter.dir;
    case 'iface':
      return `iface ${filter.name}`;
    case 'health': {
      if (filter.what !== 'rtt' && filter.op === '>' && filter.value === 0) return filter.what;
      const value = filter.what === 'rtt' ? (filter.value % 1000 === 0 ? `${filter.value / 1000}ms` : `${filter.value}us`) : String(filter.value);
      return `${filter.what} ${filter.op} ${value}`;
    }
    case 'owner':
      return `${filter.what} ${filter.value}`;
  }
}
