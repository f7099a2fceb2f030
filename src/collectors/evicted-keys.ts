/**
 * The keys of the flows that left their slot while a read that met them may still be looked at
 * (the mmap map kind), in the order they left: a log that the flow sets of the reads follow.
 *
 * A read's rows name their flow by slot and seq, and its key is read in place, in the shared slot
 * (kernel-flows.ts): the programs change a slot's key only under a new seq (bpf/tc_top.h). A flow
 * leaves its slot in two ways. The programs evict it: they write it to the ring flow_evicted, and
 * count it in their evicted_head, before they rewrite the slot. Or tc-top's expiry frees it: it
 * puts the key here, and counts it in `frees`, before it clears the slot. Both go to the log, the
 * ring's entries as they are taken (at the start of each read, and when a flow set sees that the
 * head or the frees moved). A flow set compares those two counts with the ones it has caught up
 * with: while they are equal no row of it left its slot; when they moved it reads the log from
 * where it was, and keeps its own copy of the keys of its rows that left.
 *
 * A key taken while read r was the newest begun can be asked for only by reads up to r (a read
 * begun later met the slot's new seq), so it is kept until every read up to r is released. Keys the
 * ring overwrote before they were taken (more evictions between two looks than the ring holds) are
 * lost: counted, with the place in the log where it happened, so that a flow set that was behind
 * it checks each row's slot instead (its lost rows read as a key of zeros).
 */
import { EvictedKey, FlowKey } from '../ffi/layout.js';

const ENTRY_WORDS = EvictedKey.size / 4;
const KEY_WORDS = FlowKey.size / 4;

/** A flow that left its slot: the slot, the seq it had there, its key. */
export interface LeftKey {
  readonly slot: number;
  readonly seq: number;
  readonly key: Buffer;
  /** The newest read begun when it was taken. */
  readonly read: number;
}

export class EvictedKeys {
  /** Per slot, the keys it held (a slot can lose several flows while one read is held). */
  private readonly bySlot = new Map<number, LeftKey[]>();
  /** The log from `first` on; the entry at log index g is log[g - dropped]. */
  private log: LeftKey[] = [];
  private dropped = 0;
  private first = 0;
  private readonly live = new Set<number>();
  private reads = 0;
  /** The ring's entries taken so far (the ring's sequence number of the next one). */
  private tail = 0;
  /** Keys the ring overwrote before they were taken, and the log's end when the last such loss was seen (-1: none). */
  lost = 0;
  lostAt = -1;
  private waiting = false;
  /** Flows tc-top freed so far (one word, read by the flow sets as the programs' head is). */
  readonly freesWord = new Uint32Array(1);
  private readonly words: Uint32Array | undefined;
  private readonly stamps: BigUint64Array | undefined;
  private readonly entries: number;

  /**
   * @param ring      the mapping of flow_evicted (undefined: no ring, only the keys put())
   * @param headWords the programs' __u64 evicted_head as two words, low first, in their mapped .bss
   */
  constructor(
    ring: ArrayBuffer | undefined,
    readonly headWords: Uint32Array = new Uint32Array(2),
  ) {
    this.entries = ring ? ring.byteLength / EvictedKey.size : 0;
    if (this.entries & (this.entries - 1)) throw new RangeError(`flow_evicted has ${this.entries} entries, not a power of two`);
    this.words = ring && new Uint32Array(ring);
    this.stamps = ring && new BigUint64Array(ring);
  }

  /** Starts a read: its number, for release(). Takes what the ring has. */
  begin(): number {
    const read = this.reads++;
    this.live.add(read);
    this.drain();
    return read;
  }

  /** The ring's entries taken so far, as the programs count them in evicted_head. */
  get taken(): number {
    return this.tail;
  }

  /** The log index of the oldest entry kept. */
  get logStart(): number {
    return this.dropped;
  }

  /** The log index after the last entry. */
  get logEnd(): number {
    return this.dropped + this.log.length - this.first;
  }

  /** The log's entry at log index g (from the oldest kept one to logEnd). */
  entry(g: number): LeftKey {
    return this.log[g - this.dropped + this.first] as LeftKey;
  }

  /** Whether the last pass over the ring stopped at an entry its program is still writing. */
  get pending(): boolean {
    return this.waiting;
  }

  /** The key the flow in `slot` with this seq had, once it left the slot; undefined when none is known (yet). */
  key(slot: number, seq: number): Buffer | undefined {
    return this.find(slot, seq) ?? (this.drain(), this.find(slot, seq));
  }

  /** tc-top frees the flow in `slot` (seq `seq`) whose key is `key`: logged, and counted in freesWord. */
  put(slot: number, seq: number, key: Buffer): void {
    this.keep(slot, seq, Buffer.from(key.subarray(0, FlowKey.size)));
    this.freesWord[0] = (this.freesWord[0] as number) + 1;
  }

  /** The read numbered `read` is no longer looked at: the keys only it and older reads could ask for go. */
  release(read: number): void {
    if (!this.live.delete(read)) return;
    let oldest = this.reads;
    for (const r of this.live) oldest = Math.min(oldest, r);
    const log = this.log;
    while (this.first < log.length && (log[this.first] as LeftKey).read < oldest) {
      const k = log[this.first++] as LeftKey;
      this.dropped++;
      const list = this.bySlot.get(k.slot) as LeftKey[];
      list.splice(list.indexOf(k), 1);
      if (list.length === 0) this.bySlot.delete(k.slot);
    }
    if (this.first > 1024 && this.first * 2 > log.length) {
      this.log = log.slice(this.first);
      this.first = 0;
    }
  }

  /** Keys kept now (for tests and the bench). */
  get size(): number {
    return this.log.length - this.first;
  }

  private find(slot: number, seq: number): Buffer | undefined {
    const list = this.bySlot.get(slot);
    if (!list) return undefined;
    for (let k = list.length - 1; k >= 0; k--) if ((list[k] as LeftKey).seq === seq) return (list[k] as LeftKey).key;
    return undefined;
  }

  private keep(slot: number, seq: number, key: Buffer): void {
    const kept: LeftKey = { slot, seq, key, read: this.reads - 1 };
    const list = this.bySlot.get(slot);
    if (list) list.push(kept);
    else this.bySlot.set(slot, [kept]);
    this.log.push(kept);
  }

  /** evicted_head now. */
  private head(): number {
    const w = this.headWords;
    for (;;) {
      const hi = Atomics.load(w, 1);
      const lo = Atomics.load(w, 0);
      if (Atomics.load(w, 1) === hi) return lo + hi * 2 ** 32;
    }
  }

  /**
   * Takes the ring's entries up to the programs' head. An entry still being written (its stamp not
   * yet its number) ends the pass: it is taken at the next. One already written again by a later lap
   * is lost.
   */
  drain(): void {
    const words = this.words;
    const stamps = this.stamps;
    if (!words || !stamps) return;
    const head = this.head();
    this.waiting = false;
    if (head - this.tail > this.entries) this.lose(head - this.entries - this.tail, head - this.entries);
    for (; this.tail < head; this.tail++) {
      const e = this.tail % this.entries;
      const want = BigInt(this.tail + 1);
      const stampAt = (e * EvictedKey.size + EvictedKey.stamp) / 8;
      const before = Atomics.load(stamps, stampAt);
      if (before < want) {
        this.waiting = true; /* its program is still writing it */
        return;
      }
      if (before > want) {
        this.lose(1, this.tail);
        continue;
      }
      const base = e * ENTRY_WORDS;
      const key = Buffer.allocUnsafe(FlowKey.size);
      for (let w = 0; w < KEY_WORDS; w++) key.writeUInt32LE(words[base + w] as number, w * 4);
      const slot = words[base + EvictedKey.slot / 4] as number;
      const seq = words[base + EvictedKey.seq / 4] as number;
      if (Atomics.load(stamps, stampAt) !== want) {
        this.lose(1, this.tail);
        continue;
      }
      this.keep(slot, seq, key);
    }
  }

  private lose(n: number, tail: number): void {
    this.lost += n;
    this.lostAt = this.logEnd;
    this.tail = Math.max(this.tail, tail);
  }
}
