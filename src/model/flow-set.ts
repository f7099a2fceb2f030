/**
 * The flows of one snapshot, in columns: the counters in typed arrays, one row per flow, and the
 * rest (addresses, ports, names) read on demand. A tick touches every flow's counters but shows
 * forty rows, so only those become FlowRecord objects; at a million flows, objects for every flow
 * on every tick cost seconds and gigabytes (docs/BENCHMARKS.md).
 *
 * Two implementations: RecordFlowSet here, over FlowRecord objects (tests, scripted input), and
 * the kernel collector's, over the key bytes of a map read (src/collectors/kernel-flows.ts). The
 * model's algorithms see only this interface. A set is immutable once built.
 */
import { addressSortKey, parseAddress, prefixContains, type Address, type Prefix } from './address.js';
import type { Direction, FlowRecord } from './types.js';

export interface FlowSet {
  readonly length: number;
  /** Cumulative counters of row i, as FlowRecord has them. */
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  readonly firstSeenNs: Float64Array;
  readonly lastSeenNs: Float64Array;
  /** OR of the TCP flags seen, as FlowRecord.tcpFlags (a kernel read's: the header's flag byte, so 8 bits). */
  readonly tcpFlags: Uint8Array | Uint32Array;
  /** Row i as a record, built on first use; the same object every call. */
  record(i: number): FlowRecord;
  /** FlowRecord.key of row i. */
  keyAt(i: number): string;
  /** The order of the rows' keys as strings (the sort tie-break). */
  compareKeys(i: number, j: number): number;
  /**
   * The row holding the flow of row j of `other` (a set from the same source), or -1. `hint` is
   * where it likely is (two reads of one map list their flows in nearly the same order): tried
   * first, before any hashing.
   */
  find(other: FlowSet, j: number, hint?: number): number;
  /**
   * For each row of `cur` (a later set from the same source), the row of this set holding its flow,
   * or -1, as find() would give them, when this set can tell them all at once without comparing keys
   * (the mmap kind: rows of the same shared slots). Undefined when it cannot.
   */
  matchLater?(cur: FlowSet): Int32Array | undefined;
  /** The row with this key, or -1. */
  indexOfKey(key: string): number;
  family(i: number): 4 | 6;
  proto(i: number): number;
  sport(i: number): number;
  dport(i: number): number;
  dir(i: number): Direction;
  ifname(i: number): string;
  /** Whether row i's source or destination address has the prefix. */
  addressIn(i: number, which: 'src' | 'dst', prefix: Prefix): boolean;
  /** addressSortKey of row i's source or destination address. */
  addressSortKey(i: number, which: 'src' | 'dst'): string;
  /** Row i's source or destination address as its record has it, without building the record. */
  address(i: number, which: 'src' | 'dst'): string;
  /**
   * A hash of row i's source or destination address, without its text: rows whose addresses have
   * the same text hash the same (grouping by address compares these first, then sameAddress).
   */
  addressHash(i: number, which: 'src' | 'dst'): number;
  /** Whether row i's `which` address and row j's `whichJ` address have the same text, without making it. */
  sameAddress(i: number, which: 'src' | 'dst', j: number, whichJ: 'src' | 'dst'): boolean;
  /** A set of these rows, in this order. */
  subset(rows: ArrayLike<number>): FlowSet;
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h | 0;
}

/**
 * An open-addressing table from a row's hash to the row, for find(): built once per set, on first
 * use (a set is looked up in when it is the previous snapshot of the next tick). Linear probing
 * over a power-of-two table at most half full; it stores row + 1, 0 is empty.
 */
export class RowIndex {
  /** Row + 1 per position, 0 for empty; probe from hash & mask onwards. */
  readonly table: Int32Array;
  readonly mask: number;

  constructor(
    length: number,
    readonly hashes: Int32Array,
  ) {
    let size = 16;
    while (size < 2 * length) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < length; i++) {
      let at = (hashes[i] as number) & this.mask;
      while (this.table[at] !== 0) at = (at + 1) & this.mask;
      this.table[at] = i + 1;
    }
  }

  /** The first row with this hash for which `same` holds, or -1. */
  find(hash: number, same: (row: number) => boolean): number {
    for (let at = hash & this.mask; ; at = (at + 1) & this.mask) {
      const row = (this.table[at] as number) - 1;
      if (row < 0) return -1;
      if (this.hashes[row] === hash && same(row)) return row;
    }
  }
}

/** A FlowSet over records. */
export class RecordFlowSet implements FlowSet {
  readonly length: number;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  readonly firstSeenNs: Float64Array;
  readonly lastSeenNs: Float64Array;
  readonly tcpFlags: Uint32Array;
  private index: RowIndex | undefined;
  private hashes: Int32Array | undefined;
  private readonly addresses: (Address | undefined)[] = [];
  /** hashString of each row's source and destination, on first use. */
  private addressHashes: Int32Array | undefined;

  constructor(private readonly records: readonly FlowRecord[]) {
    const n = records.length;
    this.length = n;
    this.packets = new Float64Array(n);
    this.bytes = new Float64Array(n);
    this.firstSeenNs = new Float64Array(n);
    this.lastSeenNs = new Float64Array(n);
    this.tcpFlags = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const r = records[i] as FlowRecord;
      this.packets[i] = r.packets;
      this.bytes[i] = r.bytes;
      this.firstSeenNs[i] = r.firstSeenNs;
      this.lastSeenNs[i] = r.lastSeenNs;
      this.tcpFlags[i] = r.tcpFlags;
    }
  }

  record(i: number): FlowRecord {
    return this.records[i] as FlowRecord;
  }

  keyAt(i: number): string {
    return this.record(i).key;
  }

  compareKeys(i: number, j: number): number {
    const a = this.keyAt(i);
    const b = this.keyAt(j);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  private rowIndex(): { index: RowIndex; hashes: Int32Array } {
    if (!this.index || !this.hashes) {
      this.hashes = Int32Array.from(this.records, (r) => hashString(r.key));
      this.index = new RowIndex(this.length, this.hashes);
    }
    return { index: this.index, hashes: this.hashes };
  }

  find(other: FlowSet, j: number, hint = -1): number {
    const key = other.keyAt(j);
    if (hint >= 0 && hint < this.length && this.keyAt(hint) === key) return hint;
    return this.indexOfKey(key);
  }

  indexOfKey(key: string): number {
    return this.rowIndex().index.find(hashString(key), (row) => this.keyAt(row) === key);
  }

  family(i: number): 4 | 6 {
    return this.record(i).family;
  }

  proto(i: number): number {
    return this.record(i).proto;
  }

  sport(i: number): number {
    return this.record(i).sport;
  }

  dport(i: number): number {
    return this.record(i).dport;
  }

  dir(i: number): Direction {
    return this.record(i).dir;
  }

  ifname(i: number): string {
    return this.record(i).ifname;
  }

  addressIn(i: number, which: 'src' | 'dst', prefix: Prefix): boolean {
    const at = 2 * i + (which === 'src' ? 0 : 1);
    if (!(at in this.addresses)) this.addresses[at] = parseAddress(this.record(i)[which]);
    const addr = this.addresses[at];
    // An address the collector could not have produced never matches.
    return addr !== undefined && prefixContains(prefix, addr);
  }

  addressSortKey(i: number, which: 'src' | 'dst'): string {
    return addressSortKey(this.record(i)[which]);
  }

  address(i: number, which: 'src' | 'dst'): string {
    return this.record(i)[which];
  }

  addressHash(i: number, which: 'src' | 'dst'): number {
    if (!this.addressHashes) {
      const hashes = new Int32Array(2 * this.length);
      for (let r = 0; r < this.length; r++) {
        hashes[2 * r] = hashString(this.record(r).src);
        hashes[2 * r + 1] = hashString(this.record(r).dst);
      }
      this.addressHashes = hashes;
    }
    return this.addressHashes[2 * i + (which === 'src' ? 0 : 1)] as number;
  }

  sameAddress(i: number, which: 'src' | 'dst', j: number, whichJ: 'src' | 'dst'): boolean {
    return this.record(i)[which] === this.record(j)[whichJ];
  }

  subset(rows: ArrayLike<number>): FlowSet {
    return new RecordFlowSet(Array.from(rows, (i) => this.record(i)));
  }
}

/** Every row as a record. */
export function allRecords(set: FlowSet): FlowRecord[] {
  const out = new Array<FlowRecord>(set.length);
  for (let i = 0; i < set.length; i++) out[i] = set.record(i);
  return out;
}

/** The set without these rows. */
export function withoutRows(set: FlowSet, rows: Iterable<number>): FlowSet {
  const drop = new Uint8Array(set.length);
  let dropped = 0;
  for (const row of rows) {
    if (row < 0 || row >= set.length || drop[row]) continue;
    drop[row] = 1;
    dropped++;
  }
  if (dropped === 0) return set;
  const kept = new Int32Array(set.length - dropped);
  let k = 0;
  for (let i = 0; i < set.length; i++) if (!drop[i]) kept[k++] = i;
  return set.subset(kept);
}

/** The set without the rows whose key is in `keys`. */
export function withoutKeys(set: FlowSet, keys: Iterable<string>): FlowSet {
  return withoutRows(set, Array.from(keys, (key) => set.indexOfKey(key)));
}
