/**
 * The kernel collector's FlowSet: one map read kept as it came, the 48-byte keys in a buffer that is
 * never written again while the set is looked at (the batch lookup's own buffer, or the mmap kind's
 * KeyStore, where each row points at its flow's key position) and the values summed into typed
 * columns. Nothing per flow is allocated on a read: a key becomes strings (hex key, addresses,
 * interface name) only when a view asks for that row's record. Flows of two reads are matched by
 * their key position when both point into one KeyStore buffer (same position, same kernel entry),
 * else by their key bytes, through a hash table of the older read built once (RowIndex).
 */
import { DIR_EGRESS, FlowKey, FlowValue } from '../ffi/layout.js';
import { formatIPv4, formatIPv6, type Prefix } from '../model/address.js';
import { RowIndex, type FlowSet } from '../model/flow-set.js';
import type { Direction, FlowRecord } from '../model/types.js';
import type { ValueSink } from './map-reader.js';

const KEY_WORDS = FlowKey.size / 4;
/** How far from its hint find() looks for a row before it asks the hash table. */
const NEAR = 4;
const TWO_32 = 0x1_0000_0000;

/** Hash of the key's 12 words (a multiply-xorshift mix, as murmur3's finaliser). */
function hashKey(words: Int32Array, at: number): number {
  let h = 0x9e3779b9 | 0;
  for (let k = 0; k < KEY_WORDS; k++) {
    h = Math.imul(h ^ (words[at + k] as number), 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return (h ^ (h >>> 15)) | 0;
}

/** One step of a multiply-xorshift hash. */
function mix(h: number, word: number): number {
  h = Math.imul(h ^ word, 0x85ebca6b);
  return h ^ (h >>> 13);
}

function sameKey(a: Int32Array, at: number, b: Int32Array, bt: number): boolean {
  for (let k = 0; k < KEY_WORDS; k++) if (a[at + k] !== b[bt + k]) return false;
  return true;
}

/** The counter columns of a read. */
export interface Columns {
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  readonly firstSeenNs: Float64Array;
  readonly lastSeenNs: Float64Array;
  /** The programs OR the TCP header's flag byte (bpf/tc_top.bpf.c, parse_l4): 8 bits, kept in 1 byte of 4. */
  readonly tcpFlags: Uint8Array;
}

/**
 * Values into columns as a read delivers them (a ValueSink). For the per-CPU map `cpus` slots of
 * `slot` bytes are summed: packets and bytes added, the earliest first_seen and latest last_seen
 * kept, flags ORed. The columns grow by doubling from `expect` entries.
 */
export class ValueColumns implements ValueSink {
  private c: Columns;
  private count = 0;

  constructor(
    private readonly cpus: number,
    private readonly slot: number,
    expect: number,
  ) {
    this.c = columns(Math.max(16, expect));
  }

  begin(): void {
    this.count = 0;
  }

  take(values: Buffer, first: number, count: number): void {
    this.grow(first + count);
    const c = this.c;
    const u32 = new Uint32Array(values.buffer, values.byteOffset, Math.floor(values.length / 4));
    const cpus = this.cpus;
    const slotWords = this.slot / 4;
    const entry = cpus * slotWords;
    const u64 = (w: number): number => (u32[w] as number) + (u32[w + 1] as number) * TWO_32;
    for (let e = 0; e < count; e++) {
      const i = first + e;
      let packets = 0;
      let bytes = 0;
      let firstSeen = 0;
      let last = 0;
      let flags = 0;
      for (let cpu = 0; cpu < cpus; cpu++) {
        const v = e * entry + cpu * slotWords;
        const p = u64(v + P);
        if (p === 0 && cpus > 1) continue; /* this CPU never saw the flow */
        packets += p;
        bytes += u64(v + B);
        const f = u64(v + F);
        if (f !== 0 && (firstSeen === 0 || f < firstSeen)) firstSeen = f;
        last = Math.max(last, u64(v + L));
        flags |= u32[v + T] as number;
      }
      c.packets[i] = packets;
      c.bytes[i] = bytes;
      c.firstSeenNs[i] = firstSeen;
      c.lastSeenNs[i] = last;
      c.tcpFlags[i] = flags >>> 0;
    }
    this.count = Math.max(this.count, first + count);
  }

  private grow(n: number): void {
    if (n <= this.c.packets.length) return;
    let size = this.c.packets.length;
    while (size < n) size *= 2;
    const bigger = columns(size);
    for (const k of COLUMNS) bigger[k].set(this.c[k] as Float64Array & Uint8Array);
    this.c = bigger;
  }

  /**
   * Columns with room for `n` entries, for a reader that decodes single values itself (the slots'
   * walk); it then says how many it wrote with wrote(). Rows past those are left as they were.
   */
  room(n: number): Columns {
    this.grow(n);
    return this.c;
  }

  wrote(count: number): void {
    this.count = count;
  }

  /** The columns of the entries taken. */
  done(): Columns {
    const n = this.count;
    const c = this.c;
    return {
      packets: c.packets.subarray(0, n),
      bytes: c.bytes.subarray(0, n),
      firstSeenNs: c.firstSeenNs.subarray(0, n),
      lastSeenNs: c.lastSeenNs.subarray(0, n),
      tcpFlags: c.tcpFlags.subarray(0, n),
    };
  }
}

const P = FlowValue.packets / 4;
const B = FlowValue.bytes / 4;
const F = FlowValue.firstSeen / 4;
const L = FlowValue.lastSeen / 4;
const T = FlowValue.tcpFlags / 4;
const COLUMNS = ['packets', 'bytes', 'firstSeenNs', 'lastSeenNs', 'tcpFlags'] as const;

function columns(n: number): Columns {
  return {
    packets: new Float64Array(n),
    bytes: new Float64Array(n),
    firstSeenNs: new Float64Array(n),
    lastSeenNs: new Float64Array(n),
    tcpFlags: new Uint8Array(n),
  };
}

/** The values of `count` entries, in one buffer, into columns. */
export function decodeValues(values: Buffer, count: number, cpus: number, slot: number): Columns {
  const sink = new ValueColumns(cpus, slot, count);
  sink.take(values, 0, count);
  return sink.done();
}

/**
 * Per key position, a row or -1, for matchLater: kept all -1 between matches (each clears what it
 * wrote), so a tick does not allocate and fill one the size of the key store.
 */
let byPosition = new Int32Array(0);

function positionScratch(n: number): Int32Array {
  if (byPosition.length < n) byPosition = new Int32Array(n).fill(-1);
  return byPosition;
}

export class KernelFlowSet implements FlowSet {
  readonly length: number;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  readonly firstSeenNs: Float64Array;
  readonly lastSeenNs: Float64Array;
  readonly tcpFlags: Uint8Array;
  private readonly words: Int32Array;
  /** The keys as host-order 16- and 32-bit fields (ports, ifindex), as the kernel wrote them. */
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly built: (FlowRecord | undefined)[] = [];
  private hashes: Int32Array | undefined;
  private index: RowIndex | undefined;

  /**
   * @param keys the read's key bytes, FlowKey.size per entry (never written again while this set is used)
   * @param at   for each row, its entry in `keys` (undefined: row i is entry i)
   */
  constructor(
    private readonly keys: Buffer,
    columns: Columns,
    private readonly ifnameOf: (ifindex: number) => string,
    private readonly at?: Int32Array,
  ) {
    this.length = columns.packets.length;
    this.packets = columns.packets;
    this.bytes = columns.bytes;
    this.firstSeenNs = columns.firstSeenNs;
    this.lastSeenNs = columns.lastSeenNs;
    this.tcpFlags = columns.tcpFlags;
    this.words = new Int32Array(keys.buffer, keys.byteOffset, Math.floor(keys.length / 4));
    this.u16 = new Uint16Array(keys.buffer, keys.byteOffset, Math.floor(keys.length / 2));
    this.u32 = new Uint32Array(keys.buffer, keys.byteOffset, Math.floor(keys.length / 4));
  }

  /** Byte offset of row i's key. */
  private off(i: number): number {
    return (this.at ? (this.at[i] as number) : i) * FlowKey.size;
  }

  private hashAt(i: number): number {
    if (!this.hashes) {
      const hashes = new Int32Array(this.length);
      for (let r = 0; r < this.length; r++) hashes[r] = hashKey(this.words, this.off(r) / 4);
      this.hashes = hashes;
    }
    return this.hashes[i] as number;
  }

  private rowIndex(): RowIndex {
    if (!this.index) {
      this.hashAt(0);
      this.index = new RowIndex(this.length, this.hashes as Int32Array);
    }
    return this.index;
  }

  /** The row whose key is these words, or -1. */
  private findWords(words: Int32Array, at: number, hash: number): number {
    if (this.length === 0) return -1;
    const { table, mask, hashes } = this.rowIndex();
    for (let pos = hash & mask; ; pos = (pos + 1) & mask) {
      const row = (table[pos] as number) - 1;
      if (row < 0) return -1;
      if (hashes[row] === hash && sameKey(this.words, this.off(row) / 4, words, at)) return row;
    }
  }

  find(other: FlowSet, j: number, hint = -1): number {
    if (!(other instanceof KernelFlowSet)) return this.indexOfKey(other.keyAt(j));
    const at = other.off(j) / 4;
    // The hint, then its neighbours (a flow inserted or gone in the same bucket moves the rest by one or two).
    for (let d = 0; d <= NEAR; d = d > 0 ? -d : 1 - d) {
      const i = hint + d;
      if (hint >= 0 && i >= 0 && i < this.length && sameKey(this.words, this.off(i) / 4, other.words, at)) return i;
    }
    return this.findWords(other.words, at, other.hashAt(j));
  }

  /**
   * For each row of `cur`, the row of this set holding its flow, or -1: by key position when both
   * sets point into one KeyStore buffer (a position is one kernel entry), then by key bytes among the
   * rows left on both sides (a flow evicted and created again has a new position and the same key).
   * Undefined when the sets do not share a buffer (find() then matches row by row).
   */
  matchLater(cur: FlowSet): Int32Array | undefined {
    if (!(cur instanceof KernelFlowSet) || cur.keys !== this.keys || !this.at || !cur.at) return undefined;
    const old = new Int32Array(cur.length).fill(-1);
    const rowOfPos = positionScratch(this.keys.length / FlowKey.size);
    for (let r = 0; r < this.length; r++) rowOfPos[this.at[r] as number] = r;
    const curAt = cur.at;
    const newRows: number[] = [];
    for (let j = 0; j < cur.length; j++) {
      const pos = curAt[j] as number;
      const r = rowOfPos[pos] as number;
      if (r < 0) {
        newRows.push(j);
        continue;
      }
      old[j] = r;
      rowOfPos[pos] = -1; /* each row of this set once */
    }
    if (newRows.length === 0) return this.cleared(old, rowOfPos);
    // The rows of this set no row of cur took, by key hash: the flows gone, or come back elsewhere.
    const gone = new Map<number, number[]>();
    for (let r = 0; r < this.length; r++) {
      if (rowOfPos[this.at[r] as number] !== r) continue;
      const h = hashKey(this.words, this.off(r) / 4);
      const rows = gone.get(h);
      if (rows) rows.push(r);
      else gone.set(h, [r]);
    }
    if (gone.size === 0) return this.cleared(old, rowOfPos);
    for (const j of newRows) {
      const rows = gone.get(hashKey(cur.words, cur.off(j) / 4));
      const at = cur.off(j) / 4;
      const r = rows?.findIndex((row) => sameKey(this.words, this.off(row) / 4, cur.words, at)) ?? -1;
      if (r < 0) continue;
      old[j] = rows![r]!;
      rows!.splice(r, 1);
    }
    return this.cleared(old, rowOfPos);
  }

  /** `result`, once the position scratch is all -1 again (only this set's rows' positions were written in it). */
  private cleared(result: Int32Array, rowOfPos: Int32Array): Int32Array {
    const at = this.at as Int32Array;
    for (let r = 0; r < this.length; r++) rowOfPos[at[r] as number] = -1;
    return result;
  }

  indexOfKey(key: string): number {
    if (key.length !== 2 * FlowKey.size || !/^[0-9a-f]+$/.test(key)) return -1;
    const bytes = Buffer.from(key, 'hex');
    const words = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + FlowKey.size));
    return this.findWords(words, 0, hashKey(words, 0));
  }

  /** Rows whose key an earlier row already has (a get_next_key walk can meet a key twice). */
  /**
   * The rows to drop so that the keys of `rows` are each left in one row, the last: a pass of
   * hashes over every row, with no index built (`rows` are few: the flows new during a walk).
   */
  repeatsOf(rows: readonly number[]): number[] {
    if (rows.length === 0) return [];
    const byHash = new Map<number, number[]>();
    for (const r of rows) {
      const h = hashKey(this.words, this.off(r) / 4);
      byHash.set(h, [...(byHash.get(h) ?? []), r]);
    }
    /** A row of `rows` -> every row with its key, in order. */
    const groups = new Map<number, number[]>();
    for (let i = 0; i < this.length; i++) {
      const at = this.off(i) / 4;
      const same = byHash.get(hashKey(this.words, at))?.find((r) => sameKey(this.words, this.off(r) / 4, this.words, at));
      if (same === undefined) continue;
      const group = groups.get(same);
      if (group) group.push(i);
      else groups.set(same, [i]);
    }
    const drop: number[] = [];
    for (const group of groups.values()) drop.push(...group.slice(0, -1));
    return drop;
  }

  duplicates(): number[] {
    const dup: number[] = [];
    for (let i = 0; i < this.length; i++) if (this.find(this, i) !== i) dup.push(i);
    return dup;
  }

  keyAt(i: number): string {
    const o = this.off(i);
    return this.keys.toString('hex', o, o + FlowKey.size);
  }

  compareKeys(i: number, j: number): number {
    const a = this.off(i);
    const b = this.off(j);
    // Byte order is the order of the hex strings.
    return this.keys.compare(this.keys, b, b + FlowKey.size, a, a + FlowKey.size);
  }

  family(i: number): 4 | 6 {
    return this.keys[this.off(i) + FlowKey.family] === 6 ? 6 : 4;
  }

  proto(i: number): number {
    return this.keys[this.off(i) + FlowKey.proto] as number;
  }

  sport(i: number): number {
    return this.u16[(this.off(i) + FlowKey.sport) >> 1] as number;
  }

  dport(i: number): number {
    return this.u16[(this.off(i) + FlowKey.dport) >> 1] as number;
  }

  dir(i: number): Direction {
    return this.keys[this.off(i) + FlowKey.dir] === DIR_EGRESS ? 'egress' : 'ingress';
  }

  ifname(i: number): string {
    return this.ifnameOf(this.u32[(this.off(i) + FlowKey.ifindex) >> 2] as number);
  }

  addressIn(i: number, which: 'src' | 'dst', prefix: Prefix): boolean {
    if (prefix.family !== this.family(i)) return false;
    const a = this.off(i) + (which === 'src' ? FlowKey.src : FlowKey.dst);
    const whole = prefix.len >> 3;
    for (let b = 0; b < whole; b++) if (prefix.bytes[b] !== this.keys[a + b]) return false;
    const rest = prefix.len & 7;
    if (rest === 0) return true;
    const mask = (0xff << (8 - rest)) & 0xff;
    return (((prefix.bytes[whole] ?? 0) ^ (this.keys[a + whole] as number)) & mask) === 0;
  }

  addressSortKey(i: number, which: 'src' | 'dst'): string {
    const family = this.family(i);
    const a = this.off(i) + (which === 'src' ? FlowKey.src : FlowKey.dst);
    return `${family}${this.keys.toString('hex', a, a + (family === 6 ? 16 : 4))}`;
  }

  address(i: number, which: 'src' | 'dst'): string {
    const built = this.built[i];
    if (built) return built[which];
    const o = this.off(i);
    return (this.family(i) === 6 ? formatIPv6 : formatIPv4)(this.keys, o + (which === 'src' ? FlowKey.src : FlowKey.dst));
  }

  addressHash(i: number, which: 'src' | 'dst'): number {
    const o = this.off(i);
    // The text is the family's bytes alone (an IPv4 address is the first 4 of its 16), and the family.
    const at = (o + (which === 'src' ? FlowKey.src : FlowKey.dst)) >> 2;
    const words = this.words;
    if (this.keys[o + FlowKey.family] !== 6) return mix(mix(0x2545f491, 4), words[at] as number);
    return mix(mix(mix(mix(mix(0x2545f491, 6), words[at] as number), words[at + 1] as number), words[at + 2] as number), words[at + 3] as number);
  }

  sameAddress(i: number, which: 'src' | 'dst', j: number, whichJ: 'src' | 'dst'): boolean {
    const oi = this.off(i);
    const oj = this.off(j);
    const v6 = this.keys[oi + FlowKey.family] === 6;
    if (v6 !== (this.keys[oj + FlowKey.family] === 6)) return false;
    const a = (oi + (which === 'src' ? FlowKey.src : FlowKey.dst)) >> 2;
    const b = (oj + (whichJ === 'src' ? FlowKey.src : FlowKey.dst)) >> 2;
    const words = this.words;
    if (words[a] !== words[b]) return false;
    return !v6 || (words[a + 1] === words[b + 1] && words[a + 2] === words[b + 2] && words[a + 3] === words[b + 3]);
  }

  record(i: number): FlowRecord {
    let r = this.built[i];
    if (r) return r;
    const o = this.off(i);
    const family = this.family(i);
    const addr = family === 6 ? formatIPv6 : formatIPv4;
    const ifindex = this.u32[(o + FlowKey.ifindex) >> 2] as number;
    r = {
      key: this.keyAt(i),
      family,
      proto: this.proto(i),
      src: addr(this.keys, o + FlowKey.src),
      dst: addr(this.keys, o + FlowKey.dst),
      sport: this.sport(i),
      dport: this.dport(i),
      dir: this.dir(i),
      ifindex,
      ifname: this.ifnameOf(ifindex),
      packets: this.packets[i] as number,
      bytes: this.bytes[i] as number,
      firstSeenNs: this.firstSeenNs[i] as number,
      lastSeenNs: this.lastSeenNs[i] as number,
      tcpFlags: this.tcpFlags[i] as number,
    };
    this.built[i] = r;
    return r;
  }

  subset(rows: ArrayLike<number>): FlowSet {
    const n = rows.length;
    const at = new Int32Array(n);
    const c = columns(n);
    for (let k = 0; k < n; k++) {
      const i = rows[k] as number;
      at[k] = this.off(i) / FlowKey.size;
      c.packets[k] = this.packets[i] as number;
      c.bytes[k] = this.bytes[i] as number;
      c.firstSeenNs[k] = this.firstSeenNs[i] as number;
      c.lastSeenNs[k] = this.lastSeenNs[i] as number;
      c.tcpFlags[k] = this.tcpFlags[i] as number;
    }
    return new KernelFlowSet(this.keys, c, this.ifnameOf, at);
  }
}
