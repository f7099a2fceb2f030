/**
 * The kernel collector's FlowSet: one map read kept as it came, the values summed into typed
 * columns and the 48-byte keys left where they are: in the batch lookup's own buffer, never written
 * again while the set is looked at, or, for the mmap kind, in the slots shared with the programs,
 * where each row names its flow by slot and seq. A row's key is read there while the slot keeps
 * that seq (each read is checked after it, as the walk checks a slot), and from the keys that left
 * their slot after (evicted-keys.ts), copied once into the set. Nothing per flow is allocated on a
 * read: a key becomes strings (hex key, addresses, interface name) only when a view asks for that
 * row's record. Flows of two reads of the slots are matched by slot and seq (the same kernel
 * entry), then by key among the rows left; other reads by their key bytes, through a hash table of
 * the older read built once (RowIndex).
 */
import { DIR_EGRESS, FlowKey, FlowSlot, FlowValue } from '../ffi/layout.js';
import { formatIPv4, formatIPv6, type Prefix } from '../model/address.js';
import { RowIndex, type FlowSet } from '../model/flow-set.js';
import type { Direction, FlowRecord } from '../model/types.js';
import type { ValueSink } from './map-reader.js';
import { seqOf, stillHolds, type Calm, type SharedSlots } from './slot-reader.js';

const KEY_WORDS = FlowKey.size / 4;
const FAMILY = FlowKey.family;
const PROTO = FlowKey.proto;
const DIR = FlowKey.dir;
const SPORT = FlowKey.sport;
const DPORT = FlowKey.dport;
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
 * Per slot, a row or -1, for matchLater: kept all -1 between matches (each clears what it wrote),
 * so a tick does not allocate and fill one the size of the map.
 */
let byPosition = new Int32Array(0);

function positionScratch(n: number): Int32Array {
  if (byPosition.length < n) byPosition = new Int32Array(n).fill(-1);
  return byPosition;
}

/** Typed views of one buffer of keys. */
interface KeyViews {
  readonly bytes: Buffer;
  readonly words: Int32Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
}

function viewsOf(bytes: Buffer): KeyViews {
  return {
    bytes,
    words: new Int32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4)),
    u16: new Uint16Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 2)),
    u32: new Uint32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4)),
  };
}

/** Two keys' words, for the reads that take a whole key (hash, compare, record). */
const KEY_A = viewsOf(Buffer.alloc(FlowKey.size));
const KEY_B = viewsOf(Buffer.alloc(FlowKey.size));
/** The key being hashed, when a set's hashes are made (while KEY_A or KEY_B may hold a key being looked for). */
const KEY_H = viewsOf(Buffer.alloc(FlowKey.size));
/** The counts of a set whose keys are not in the slots: words that never move. */
const STILL = new Uint32Array(2);
/** The key of a row whose key was lost (the ring of evicted keys overwritten before it was read). */
const LOST_KEY = Buffer.alloc(FlowKey.size);
/** Tries to read a key while its slot or its entry of the ring is still being written. */
const CATCH_UP_TRIES = 1000;

/** The hash of the address `which` of the key at byte `o` of `v`: of its text's bytes, the family's alone, and the family. */
function addressHashAt(v: KeyViews, o: number, which: 'src' | 'dst'): number {
  const at = (o + (which === 'src' ? FlowKey.src : FlowKey.dst)) >> 2;
  const words = v.words;
  if (v.bytes[o + FlowKey.family] !== 6) return mix(mix(0x2545f491, 4), words[at] as number);
  return mix(mix(mix(mix(mix(0x2545f491, 6), words[at] as number), words[at + 1] as number), words[at + 2] as number), words[at + 3] as number);
}

/** Whether the load of the programs' head must be a read-modify-write to order the loads before it (not x86). */
const FENCE = process.arch !== 'x64' && process.arch !== 'ia32';

/**
 * The low word of the programs' evicted_head, loaded after the loads of the key it guards. On x86 a
 * plain load: the CPU does not reorder loads, and V8 neither merges nor hoists typed-array loads
 * (test/slots.test.ts holds it to that; Atomics.load costs the flow view's filter half its speed,
 * as it stops the accessors being inlined). Elsewhere a read-modify-write (of 0) orders the loads.
 */
function headNow(words: Uint32Array): number {
  return FENCE ? Atomics.add(words, 0, 0) : (words[0] as number);
}

/** The mmap kind's rows: in the shared slots, row i in slot at[i] while the slot has seq seqs[i]. */
export interface SlotRows {
  readonly shared: SharedSlots;
  readonly seqs: Uint32Array;
  /** The counts of evictions and frees before the walk (SlotRead.calm): while they stay, every row is in its slot. */
  readonly calm: Calm;
}

export class KernelFlowSet implements FlowSet {
  readonly length: number;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  readonly firstSeenNs: Float64Array;
  readonly lastSeenNs: Float64Array;
  readonly tcpFlags: Uint8Array;
  /** Where the keys are: FlowKey.size apart, or FlowSlot.size for the slots. */
  private readonly stride: number;
  private readonly main: KeyViews;
  /**
   * The counts of flows that left their slots (the programs' evicted_head, low word; tc-top's
   * frees), and the ones this set has caught up with (its rows that left have their key in `side`).
   * While they are equal, every other row's key is in its slot. Words that never move, for keys not
   * in the slots; seenHead -1 while the set checks each row's slot (keys were lost behind it).
   */
  private readonly headWords: Uint32Array;
  private readonly freesWord: Uint32Array;
  private seenHead: number;
  private seenFrees: number;
  /** The evicted keys' log index this set has read up to. */
  private logPos: number;
  private checked: boolean;
  /** 1 for the rows whose key is in `side`: the key, by row, and the copies. */
  private mark: Uint8Array | undefined;
  private moved: Map<number, number> | undefined;
  private side: KeyViews | undefined;
  /** Whether the rows are in slot order (made on first use): rowOf() searches them. */
  private inOrder: boolean | undefined;
  private readonly built: (FlowRecord | undefined)[] = [];
  private hashes: Int32Array | undefined;
  private index: RowIndex | undefined;

  /**
   * @param keys  the read's key bytes, FlowKey.size per entry (never written again while this set is
   *              used), or the shared slots' bytes (with `slots`)
   * @param at    for each row, its entry in `keys` (undefined: row i is entry i)
   * @param slots the mmap kind's rows: `keys` is the slots, at[i] row i's slot, with seq slots.seqs[i]
   */
  constructor(
    private readonly keys: Buffer,
    columns: Columns,
    private readonly ifnameOf: (ifindex: number) => string,
    private readonly at?: Int32Array,
    private readonly slots?: SlotRows,
  ) {
    this.length = columns.packets.length;
    this.packets = columns.packets;
    this.bytes = columns.bytes;
    this.firstSeenNs = columns.firstSeenNs;
    this.lastSeenNs = columns.lastSeenNs;
    this.tcpFlags = columns.tcpFlags;
    this.stride = slots ? FlowSlot.size : FlowKey.size;
    this.main = viewsOf(keys);
    this.headWords = slots?.shared.evicted.headWords ?? STILL;
    this.freesWord = slots?.shared.evicted.freesWord ?? STILL;
    this.checked = slots?.calm.checked === true;
    this.seenHead = this.checked ? -1 : (slots?.calm.evictions ?? 0);
    this.seenFrees = slots?.calm.frees ?? 0;
    this.logPos = slots?.calm.log ?? 0;
  }

  /** Byte offset of row i's key in the main buffer (its slot's, for the slots). */
  private offset(i: number): number {
    return (this.at ? (this.at[i] as number) : i) * this.stride;
  }

  /** Whether no flow left its slot since this set last caught up. */
  private quiet(): boolean {
    return headNow(this.headWords) === this.seenHead && this.freesWord[0] === this.seenFrees;
  }

  /**
   * Whether what an accessor just read at offset(i) is row i's key: nothing left its slot since
   * the set caught up, and row i's key did not before (the accessors' fast path: loads of two
   * words every row shares, after the row's; else the accessor reads the key through keyInto).
   */
  private fast(i: number): boolean {
    const mark = this.mark;
    return headNow(this.headWords) === this.seenHead && this.freesWord[0] === this.seenFrees && (mark === undefined || mark[i] === 0);
  }

  /**
   * Row i's key into `into` (the shared scratch KEY_A, KEY_B or KEY_H): from the set's copy when it
   * left its slot, else from the slot, read again if a flow left some slot meanwhile.
   */
  private keyInto(i: number, into: KeyViews): KeyViews {
    const w = into.words;
    for (let t = 0; ; t++) {
      if (!this.quiet()) this.catchUp();
      const mark = this.mark;
      if (mark !== undefined && mark[i] !== 0) {
        const src = (this.side as KeyViews).words;
        const o = ((this.moved as Map<number, number>).get(i) as number) * KEY_WORDS;
        for (let k = 0; k < KEY_WORDS; k++) w[k] = src[o + k] as number;
        return into;
      }
      const src = this.main.words;
      const o = this.offset(i) >> 2;
      for (let k = 0; k < KEY_WORDS; k++) w[k] = src[o + k] as number;
      if (this.checked ? this.seqCheck(i) : this.quiet()) return into;
      // An entry of the ring that stays half written: check each row's slot from now on.
      if (t >= CATCH_UP_TRIES) this.check();
    }
  }

  /**
   * Reads the evicted keys' log from where the set was: each flow that left a slot of a row of
   * this set, under the row's seq, gives that row its key. When keys were lost behind the set (or
   * its rows are not in slot order), it checks each row's slot from then on.
   */
  private catchUp(): void {
    const slots = this.slots as SlotRows;
    const ev = slots.shared.evicted;
    ev.drain();
    // Keys lost behind the set, or log entries it needs let go (a set read after its read was released).
    if (ev.lostAt >= this.logPos || this.logPos < ev.logStart || !this.ordered()) this.check();
    const end = ev.logEnd;
    if (this.ordered()) {
      for (let g = Math.max(this.logPos, ev.logStart); g < end; g++) {
        const left = ev.entry(g);
        const row = this.rowOf(left.slot, left.seq);
        if (row >= 0 && this.mark?.[row] !== 1) this.adopt(row, left.key);
      }
    }
    this.logPos = end;
    if (!this.checked) this.seenHead = ev.taken % 2 ** 32;
    this.seenFrees = this.freesWord[0] as number;
  }

  /** From now on the set checks each row's slot (its fast path is off). */
  private check(): void {
    this.checked = true;
    this.seenHead = -1;
  }

  /** Whether row i's slot still has the row's seq, read after the row's key (the set checks each row). */
  private seqCheck(i: number): boolean {
    const words = this.slots!.shared.words;
    if (stillHolds(words, this.at![i] as number, this.slots!.seqs[i] as number)) return true;
    this.displace(i);
    return false;
  }

  /** Row i's slot moved on: its key from the evicted keys (a claim still being written is waited for), or zeros when lost. */
  private displace(i: number): void {
    const { shared, seqs } = this.slots!;
    const slot = this.at![i] as number;
    const seq = seqs[i] as number;
    let key: Buffer | undefined;
    for (let t = 0; t < CATCH_UP_TRIES; t++) {
      // A claim that changed nothing puts the seq back: the key is in its slot again.
      if (stillHolds(shared.words, slot, seq)) return;
      key = shared.evicted.key(slot, seq);
      // Found, or never to be: the slot settled (seq even) and no entry of the ring is being written.
      if (key || ((seqOf(shared.words, slot) & 1) === 0 && !shared.evicted.pending)) break;
    }
    this.adopt(i, key ?? LOST_KEY);
  }

  /** The row in `slot` with seq `seq`, or -1 (the rows are in slot order: a binary search). */
  private rowOf(slot: number, seq: number): number {
    const at = this.at as Int32Array;
    let lo = 0;
    let hi = this.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = at[mid] as number;
      if (s === slot) return this.slots!.seqs[mid] === seq ? mid : -1;
      if (s < slot) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private ordered(): boolean {
    if (this.inOrder === undefined) {
      const at = this.at as Int32Array;
      let ok = true;
      for (let r = 1; r < this.length && ok; r++) ok = (at[r] as number) > (at[r - 1] as number);
      this.inOrder = ok;
    }
    return this.inOrder;
  }

  /** Row i's key is `key` (a copy this set keeps), wherever its slot is now. */
  private adopt(i: number, key: Buffer): void {
    const moved = (this.moved ??= new Map());
    const p = moved.size;
    if (!this.side || this.side.bytes.length < (p + 1) * FlowKey.size) {
      const bigger = Buffer.alloc(Math.max(16, 2 * p) * FlowKey.size);
      this.side?.bytes.copy(bigger);
      this.side = viewsOf(bigger);
    }
    key.copy(this.side.bytes, p * FlowKey.size, 0, FlowKey.size);
    moved.set(i, p);
    (this.mark ??= new Uint8Array(this.length))[i] = 1;
  }

  private hashAt(i: number): number {
    if (!this.hashes) {
      const hashes = new Int32Array(this.length);
      for (let r = 0; r < this.length; r++) hashes[r] = hashKey(this.keyInto(r, KEY_H).words, 0);
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
      if (hashes[row] === hash && sameKey(this.keyInto(row, KEY_B).words, 0, words, at)) return row;
    }
  }

  find(other: FlowSet, j: number, hint = -1): number {
    if (!(other instanceof KernelFlowSet)) return this.indexOfKey(other.keyAt(j));
    const hash = other.hashAt(j);
    const want = other.keyInto(j, KEY_A).words;
    // The hint, then its neighbours (a flow inserted or gone in the same bucket moves the rest by one or two).
    for (let d = 0; d <= NEAR; d = d > 0 ? -d : 1 - d) {
      const i = hint + d;
      if (hint >= 0 && i >= 0 && i < this.length && sameKey(this.keyInto(i, KEY_B).words, 0, want, 0)) return i;
    }
    return this.findWords(want, 0, hash);
  }

  /**
   * For each row of `cur`, the row of this set holding its flow, or -1: by slot and seq when both
   * sets are rows of the same shared slots (one kernel entry), then by key among the rows left on
   * both sides (a flow evicted and created again has another slot and the same key). Undefined for
   * other sets (find() then matches row by row).
   */
  matchLater(cur: FlowSet): Int32Array | undefined {
    if (!(cur instanceof KernelFlowSet) || !this.slots || !cur.slots || cur.slots.shared !== this.slots.shared) return undefined;
    const at = this.at as Int32Array;
    const seqs = this.slots.seqs;
    const curAt = cur.at as Int32Array;
    const curSeqs = cur.slots.seqs;
    const old = new Int32Array(cur.length).fill(-1);
    const rowOfSlot = positionScratch(this.slots.shared.words.length / (FlowSlot.size / 4));
    for (let r = 0; r < this.length; r++) rowOfSlot[at[r] as number] = r;
    const newRows: number[] = [];
    for (let j = 0; j < cur.length; j++) {
      const slot = curAt[j] as number;
      const r = rowOfSlot[slot] as number;
      if (r < 0 || seqs[r] !== curSeqs[j]) {
        newRows.push(j);
        continue;
      }
      old[j] = r;
      rowOfSlot[slot] = -1; /* each row of this set once */
    }
    if (newRows.length === 0) return this.cleared(old, rowOfSlot);
    // The rows of this set no row of cur took, by key hash: the flows gone, or come back elsewhere.
    const gone = new Map<number, number[]>();
    for (let r = 0; r < this.length; r++) {
      if (rowOfSlot[at[r] as number] !== r) continue;
      const h = hashKey(this.keyInto(r, KEY_A).words, 0);
      const rows = gone.get(h);
      if (rows) rows.push(r);
      else gone.set(h, [r]);
    }
    if (gone.size === 0) return this.cleared(old, rowOfSlot);
    for (const j of newRows) {
      const want = cur.keyInto(j, KEY_A).words;
      const rows = gone.get(hashKey(want, 0));
      const r = rows?.findIndex((row) => sameKey(this.keyInto(row, KEY_B).words, 0, want, 0)) ?? -1;
      if (r < 0) continue;
      old[j] = rows![r]!;
      rows!.splice(r, 1);
    }
    return this.cleared(old, rowOfSlot);
  }

  /** `result`, once the slot scratch is all -1 again (only this set's rows' slots were written in it). */
  private cleared(result: Int32Array, rowOfSlot: Int32Array): Int32Array {
    const at = this.at as Int32Array;
    for (let r = 0; r < this.length; r++) rowOfSlot[at[r] as number] = -1;
    return result;
  }

  indexOfKey(key: string): number {
    if (key.length !== 2 * FlowKey.size || !/^[0-9a-f]+$/.test(key)) return -1;
    const bytes = Buffer.from(key, 'hex');
    const words = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + FlowKey.size));
    return this.findWords(words, 0, hashKey(words, 0));
  }

  /**
   * The rows to drop so that the keys of `rows` are each left in one row, the last: a pass of
   * hashes over every row, with no index built (`rows` are few: the flows new during a walk).
   */
  repeatsOf(rows: readonly number[]): number[] {
    if (rows.length === 0) return [];
    const byHash = new Map<number, number[]>();
    for (const r of rows) {
      const h = hashKey(this.keyInto(r, KEY_A).words, 0);
      byHash.set(h, [...(byHash.get(h) ?? []), r]);
    }
    /** A row of `rows` -> every row with its key, in order. */
    const groups = new Map<number, number[]>();
    for (let i = 0; i < this.length; i++) {
      const key = this.keyInto(i, KEY_A).words;
      const same = byHash.get(hashKey(key, 0))?.find((r) => sameKey(this.keyInto(r, KEY_B).words, 0, key, 0));
      if (same === undefined) continue;
      const group = groups.get(same);
      if (group) group.push(i);
      else groups.set(same, [i]);
    }
    const drop: number[] = [];
    for (const group of groups.values()) drop.push(...group.slice(0, -1));
    return drop;
  }

  /** Rows whose key an earlier row already has (a get_next_key walk can meet a key twice). */
  duplicates(): number[] {
    const dup: number[] = [];
    for (let i = 0; i < this.length; i++) if (this.find(this, i) !== i) dup.push(i);
    return dup;
  }

  keyAt(i: number): string {
    return this.keyInto(i, KEY_A).bytes.toString('hex');
  }

  compareKeys(i: number, j: number): number {
    const a = this.keyInto(i, KEY_A).bytes;
    const b = this.keyInto(j, KEY_B).bytes;
    // Byte order is the order of the hex strings.
    return a.compare(b);
  }

  /** Byte `at` of row i's key, read through keyInto (the accessors' slow path). */
  private slowByte(i: number, at: number): number {
    return this.keyInto(i, KEY_A).bytes[at] as number;
  }

  /** The 16-bit word at byte `at` of row i's key, read through keyInto. */
  private slowU16(i: number, at: number): number {
    return this.keyInto(i, KEY_A).u16[at >> 1] as number;
  }

  family(i: number): 4 | 6 {
    let f = this.main.bytes[this.offset(i) + FAMILY] as number;
    if (!this.fast(i)) f = this.slowByte(i, FAMILY);
    return f === 6 ? 6 : 4;
  }

  proto(i: number): number {
    const r = this.main.bytes[this.offset(i) + PROTO] as number;
    return this.fast(i) ? r : this.slowByte(i, PROTO);
  }

  sport(i: number): number {
    const r = this.main.u16[(this.offset(i) + SPORT) >> 1] as number;
    return this.fast(i) ? r : this.slowU16(i, SPORT);
  }

  dport(i: number): number {
    const r = this.main.u16[(this.offset(i) + DPORT) >> 1] as number;
    return this.fast(i) ? r : this.slowU16(i, DPORT);
  }

  dir(i: number): Direction {
    let d = this.main.bytes[this.offset(i) + DIR] as number;
    if (!this.fast(i)) d = this.slowByte(i, DIR);
    return d === DIR_EGRESS ? 'egress' : 'ingress';
  }

  ifname(i: number): string {
    let r = this.main.u32[(this.offset(i) + FlowKey.ifindex) >> 2] as number;
    if (!this.fast(i)) r = this.keyInto(i, KEY_A).u32[FlowKey.ifindex >> 2] as number;
    return this.ifnameOf(r);
  }

  addressIn(i: number, which: 'src' | 'dst', prefix: Prefix): boolean {
    const k = this.keyInto(i, KEY_A).bytes;
    if (prefix.family !== (k[FlowKey.family] === 6 ? 6 : 4)) return false;
    const a = which === 'src' ? FlowKey.src : FlowKey.dst;
    const whole = prefix.len >> 3;
    for (let b = 0; b < whole; b++) if (prefix.bytes[b] !== k[a + b]) return false;
    const rest = prefix.len & 7;
    if (rest === 0) return true;
    const mask = (0xff << (8 - rest)) & 0xff;
    return (((prefix.bytes[whole] ?? 0) ^ (k[a + whole] as number)) & mask) === 0;
  }

  addressSortKey(i: number, which: 'src' | 'dst'): string {
    const k = this.keyInto(i, KEY_A).bytes;
    const family = k[FlowKey.family] === 6 ? 6 : 4;
    const a = which === 'src' ? FlowKey.src : FlowKey.dst;
    return `${family}${k.toString('hex', a, a + (family === 6 ? 16 : 4))}`;
  }

  address(i: number, which: 'src' | 'dst'): string {
    const built = this.built[i];
    if (built) return built[which];
    const k = this.keyInto(i, KEY_A).bytes;
    return (k[FlowKey.family] === 6 ? formatIPv6 : formatIPv4)(k, which === 'src' ? FlowKey.src : FlowKey.dst);
  }

  addressHash(i: number, which: 'src' | 'dst'): number {
    const h = addressHashAt(this.main, this.offset(i), which);
    return this.fast(i) ? h : addressHashAt(this.keyInto(i, KEY_A), 0, which);
  }

  sameAddress(i: number, which: 'src' | 'dst', j: number, whichJ: 'src' | 'dst'): boolean {
    const a = this.keyInto(i, KEY_A);
    const b = this.keyInto(j, KEY_B);
    const v6 = a.bytes[FlowKey.family] === 6;
    if (v6 !== (b.bytes[FlowKey.family] === 6)) return false;
    const x = (which === 'src' ? FlowKey.src : FlowKey.dst) >> 2;
    const y = (whichJ === 'src' ? FlowKey.src : FlowKey.dst) >> 2;
    const wa = a.words;
    const wb = b.words;
    if (wa[x] !== wb[y]) return false;
    return !v6 || (wa[x + 1] === wb[y + 1] && wa[x + 2] === wb[y + 2] && wa[x + 3] === wb[y + 3]);
  }

  record(i: number): FlowRecord {
    let r = this.built[i];
    if (r) return r;
    const k = this.keyInto(i, KEY_A);
    const family = k.bytes[FlowKey.family] === 6 ? 6 : 4;
    const addr = family === 6 ? formatIPv6 : formatIPv4;
    const ifindex = k.u32[FlowKey.ifindex >> 2] as number;
    r = {
      key: k.bytes.toString('hex'),
      family,
      proto: k.bytes[FlowKey.proto] as number,
      src: addr(k.bytes, FlowKey.src),
      dst: addr(k.bytes, FlowKey.dst),
      sport: k.u16[FlowKey.sport >> 1] as number,
      dport: k.u16[FlowKey.dport >> 1] as number,
      dir: k.bytes[FlowKey.dir] === DIR_EGRESS ? 'egress' : 'ingress',
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
    const seqs = this.slots ? new Uint32Array(n) : undefined;
    const c = columns(n);
    for (let k = 0; k < n; k++) {
      const i = rows[k] as number;
      at[k] = this.at ? (this.at[i] as number) : i;
      if (seqs) seqs[k] = this.slots!.seqs[i] as number;
      c.packets[k] = this.packets[i] as number;
      c.bytes[k] = this.bytes[i] as number;
      c.firstSeenNs[k] = this.firstSeenNs[i] as number;
      c.lastSeenNs[k] = this.lastSeenNs[i] as number;
      c.tcpFlags[k] = this.tcpFlags[i] as number;
    }
    if (!seqs) return new KernelFlowSet(this.keys, c, this.ifnameOf, at);
    // The subset starts where this set is, caught up now, with the keys of its rows that left.
    if (!this.quiet()) this.catchUp();
    const calm = { evictions: this.seenHead, frees: this.seenFrees, log: this.logPos, checked: this.checked };
    const set = new KernelFlowSet(this.keys, c, this.ifnameOf, at, { shared: this.slots!.shared, seqs, calm });
    const moved = this.moved;
    if (moved) {
      for (let k = 0; k < n; k++) {
        const p = moved.get(rows[k] as number);
        if (p !== undefined) set.adopt(k, (this.side as KeyViews).bytes.subarray(p * FlowKey.size, (p + 1) * FlowKey.size));
      }
    }
    return set;
  }

}
