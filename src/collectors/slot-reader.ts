/**
 * Reads the mmap map kind: the flow_slots array that the kernel shares with tc-top (see
 * bpf/tc_top.h). A read is a walk over memory, no system call: each slot in use whose seq is even
 * and did not change while it was read gives one row, its value decoded straight into the columns,
 * and its slot and seq, by which the row's key is read in place for as long as the slot keeps that
 * seq (kernel-flows.ts), and from the evicted keys after (evicted-keys.ts). No key is copied.
 */
import { FlowKey, FlowSlot, FlowValue } from '../ffi/layout.js';
import type { ValueColumns } from './kernel-flows.js';
import { EvictedKeys } from './evicted-keys.js';

const SLOT_WORDS = FlowSlot.size / 4;
const KEY_WORDS = FlowKey.size / 4;
const VALUE_WORDS = FlowValue.size / 4;
const VALUE_AT = FlowSlot.value / 4;
const P = FlowValue.packets / 4;
const B = FlowValue.bytes / 4;
const F = FlowValue.firstSeen / 4;
const L = FlowValue.lastSeen / 4;
const T = FlowValue.tcpFlags / 4;
const SEQ_AT = (FlowSlot.value + FlowValue.seq) / 4;
/** Word 0 of a key holds family (byte 0), proto, dir and a zero pad: 0 only in a free slot. */
const FAMILY_MASK = 0xff;
const TWO_32 = 2 ** 32;
/** Whether the second read of seq must be a read-modify-write to order the loads before it. */
const FENCE = process.arch !== 'x64' && process.arch !== 'ia32';
/** A low word this far from wrapping cannot carry between the two loads of a counter. */
const CARRY_GUARD = 2 ** 24;

/**
 * A u64 counter that the programs add to while it is read, as two u32 words: the adds do not touch
 * seq, so a carry between the loads of the low and high words would go unseen (a jump of 2^32).
 * On x86 the low word is loaded first (loads are not reordered), so only a low word close below
 * 2^32 can be followed by a carry; elsewhere loads may be reordered and a low word just past 0 may
 * be a carry too. There the high word is read before and after the low one until they agree.
 */
function u64(w: Uint32Array, at: number): number {
  const lo = w[at] as number;
  if (lo <= 0xffffffff - CARRY_GUARD && (!FENCE || lo >= CARRY_GUARD)) return lo + (w[at + 1] as number) * TWO_32;
  for (;;) {
    const hi = Atomics.load(w, at + 1);
    const low = Atomics.load(w, at);
    if (Atomics.load(w, at + 1) === hi) return low + hi * TWO_32;
  }
}

/** One read of the slots: `count` flows, row n in slot at[n], which had seq seqs[n]. */
export interface SlotRead {
  readonly at: Int32Array;
  readonly seqs: Uint32Array;
  readonly count: number;
  /** Where the evicted keys' log was when the walk began (the flow set follows it from there). */
  readonly calm: Calm;
  /** The read's number: release it (release()) once no flow set of it is looked at. */
  readonly read: number;
}

/** The shared slots as a flow set reads its rows' keys there: the bytes, their words, and the keys that left. */
export interface SharedSlots {
  readonly bytes: Buffer;
  readonly words: Uint32Array;
  readonly evicted: EvictedKeys;
}

/**
 * What a flow set has caught up with: the ring's entries taken (their count's low word, as the
 * programs' evicted_head), tc-top's frees, and the log's end. `checked`: the set checks each row's
 * slot instead (keys were lost behind it).
 */
export interface Calm {
  readonly evictions: number;
  readonly frees: number;
  readonly log: number;
  readonly checked?: boolean;
}

export class SlotReader implements SharedSlots {
  readonly words: Uint32Array;
  readonly bytes: Buffer;
  /** The keys of flows that left their slot (evicted-keys.ts). */
  readonly evicted: EvictedKeys;
  /** Slots skipped by the last read because they were being rewritten. */
  busy = 0;

  /**
   * @param shared  the mapping of flow_slots
   * @param evicted the keys that leave the slots (default: none from a ring, only the ones free() puts)
   */
  constructor(
    shared: ArrayBuffer,
    private readonly slots: number,
    evicted = new EvictedKeys(undefined),
  ) {
    if (shared.byteLength < slots * FlowSlot.size) throw new RangeError(`the flow_slots mapping holds ${shared.byteLength} bytes, ${slots * FlowSlot.size} needed`);
    this.words = new Uint32Array(shared, 0, slots * SLOT_WORDS);
    this.bytes = Buffer.from(shared, 0, slots * FlowSlot.size);
    this.evicted = evicted;
  }

  /**
   * Every flow in the slots: values decoded into `values`, rows' slots into `at` and their seqs into
   * `seqs` (each at least `slots` long; new arrays unless given ones no flow set reads any more).
   */
  read(values: ValueColumns, at: Int32Array = new Int32Array(this.slots), seqs: Uint32Array = new Uint32Array(this.slots)): SlotRead {
    const w = this.words;
    if (at.length < this.slots || seqs.length < this.slots) throw new RangeError(`row arrays of ${Math.min(at.length, seqs.length)}, ${this.slots} needed`);
    const read = this.evicted.begin();
    const ev = this.evicted;
    const calm: Calm = { evictions: ev.taken % 2 ** 32, frees: ev.freesWord[0] as number, log: ev.logEnd };
    values.begin();
    const c = values.room(this.slots);
    const { packets, bytes, firstSeenNs, lastSeenNs, tcpFlags } = c;
    let n = 0;
    let busy = 0;
    for (let s = 0, base = 0; s < this.slots; s++, base += SLOT_WORDS) {
      if (((w[base] as number) & FAMILY_MASK) === 0) continue;
      const seq = Atomics.load(w, base + SEQ_AT);
      if ((seq & 1) !== 0) {
        busy++;
        continue;
      }
      const v = base + VALUE_AT;
      packets[n] = u64(w, v + P);
      bytes[n] = u64(w, v + B);
      firstSeenNs[n] = (w[v + F] as number) + (w[v + F + 1] as number) * TWO_32;
      lastSeenNs[n] = (w[v + L] as number) + (w[v + L + 1] as number) * TWO_32;
      tcpFlags[n] = w[v + T] as number;
      // Rewritten (or freed) while we read it: leave it for the next read. (An x86 load is not
      // reordered with earlier loads; elsewhere a read-modify-write of seq orders them.)
      if (!stillHolds(w, s, seq) || ((w[base] as number) & FAMILY_MASK) === 0) {
        busy++;
        continue;
      }
      at[n] = s;
      seqs[n++] = seq;
    }
    values.wrote(n);
    this.busy = busy;
    return { at: at.subarray(0, n), seqs: seqs.subarray(0, n), count: n, read, calm };
  }

  /** The read numbered `read` is no longer looked at (the keys of flows that left since may go). */
  release(read: number): void {
    this.evicted.release(read);
  }

  /**
   * Free the slot `slot` if it still holds `key` (48 bytes) and nobody is rewriting it: claim it
   * (seq odd, compare-and-swap, as the programs do), let `unindex` delete the key from flow_index,
   * keep the key with the evicted ones, clear the slot, then publish the next seq. A claim that
   * frees nothing puts seq back (the key stayed). Returns whether the flow was freed.
   */
  free(slot: number, key: Buffer, unindex: () => boolean): boolean {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) return false;
    const w = this.words;
    const base = slot * SLOT_WORDS;
    const seq = Atomics.load(w, base + SEQ_AT);
    if ((seq & 1) !== 0 || Atomics.compareExchange(w, base + SEQ_AT, seq, seq + 1) !== seq) return false;
    let freed = false;
    try {
      for (let i = 0; i < KEY_WORDS; i++) if (w[base + i] !== key.readUInt32LE(i * 4)) return false;
      freed = unindex();
      if (freed) {
        this.evicted.put(slot, seq, key);
        for (let i = 0; i < KEY_WORDS; i++) w[base + i] = 0;
        for (let i = 0; i < VALUE_WORDS; i++) if (VALUE_AT + i !== SEQ_AT) w[base + VALUE_AT + i] = 0;
      }
      return freed;
    } finally {
      Atomics.store(w, base + SEQ_AT, freed ? seq + 2 : seq);
    }
  }
}

/**
 * Whether slot `slot` still has seq `seq`, read after the loads of what it holds: so what they read
 * is what the slot held under that seq. (An x86 load is not reordered with earlier loads;
 * elsewhere a read-modify-write of seq orders them.)
 */
export function stillHolds(w: Uint32Array, slot: number, seq: number): boolean {
  const at = slot * SLOT_WORDS + SEQ_AT;
  return (FENCE ? Atomics.add(w, at, 0) : Atomics.load(w, at)) === seq;
}

/** Slot `slot`'s seq now. */
export function seqOf(w: Uint32Array, slot: number): number {
  return Atomics.load(w, slot * SLOT_WORDS + SEQ_AT);
}
