/**
 * Reads the mmap map kind: the flow_slots array that the kernel shares with tc-top (see
 * bpf/tc_top.h). A read is a walk over memory, no system call: each slot in use whose seq is even
 * and did not change while it was read gives one entry, its value decoded straight into the
 * columns and its key's position in the KeyStore (copied there only when the read first meets the
 * flow: a slot with a seq not seen in it before).
 */
import { FlowKey, FlowSlot, FlowValue } from '../ffi/layout.js';
import type { ValueColumns } from './kernel-flows.js';
import { KeyStore } from './key-store.js';

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

/** One read of the slots: `count` flows, row n's key at position at[n] of `keys`. */
export interface SlotRead {
  /** The store's buffer after this read (positions are FlowKey.size bytes apart). */
  readonly keys: Buffer;
  readonly at: Int32Array;
  readonly count: number;
  /** The read's number: release it (release()) once no flow set of it is looked at. */
  readonly read: number;
}

export class SlotReader {
  private readonly words: Uint32Array;
  /** The flows' keys, each once (key-store.ts). */
  readonly store: KeyStore;
  /** A key copied from a slot, until the slot's seq says it was stable. */
  private readonly key = new Uint32Array(KEY_WORDS);
  /** Slots skipped by the last read because they were being rewritten. */
  busy = 0;

  constructor(
    shared: ArrayBuffer,
    private readonly slots: number,
  ) {
    if (shared.byteLength < slots * FlowSlot.size) throw new RangeError(`the flow_slots mapping holds ${shared.byteLength} bytes, ${slots * FlowSlot.size} needed`);
    this.words = new Uint32Array(shared, 0, slots * SLOT_WORDS);
    this.store = new KeyStore(slots);
  }

  /**
   * Every flow in the slots: values decoded into `values`, rows' key positions into `at` (at least
   * `slots` long; a new array unless given one no flow set reads any more).
   */
  read(values: ValueColumns, at: Int32Array = new Int32Array(this.slots)): SlotRead {
    const w = this.words;
    const store = this.store;
    const key = this.key;
    if (at.length < this.slots) throw new RangeError(`a row array of ${at.length}, ${this.slots} needed`);
    const read = store.begin();
    values.begin();
    const c = values.room(this.slots);
    const { packets, bytes, firstSeenNs, lastSeenNs, tcpFlags } = c;
    let n = 0;
    let busy = 0;
    for (let s = 0, base = 0; s < this.slots; s++, base += SLOT_WORDS) {
      if (((w[base] as number) & FAMILY_MASK) === 0) {
        store.vacate(s);
        continue;
      }
      const seq = Atomics.load(w, base + SEQ_AT);
      if ((seq & 1) !== 0) {
        busy++;
        continue;
      }
      // A flow met before keeps its key's position: same slot, same seq, same key.
      let pos = store.positionOf(s, seq);
      if (pos < 0) for (let i = 0; i < KEY_WORDS; i++) key[i] = w[base + i] as number;
      const v = base + VALUE_AT;
      packets[n] = u64(w, v + P);
      bytes[n] = u64(w, v + B);
      firstSeenNs[n] = (w[v + F] as number) + (w[v + F + 1] as number) * TWO_32;
      lastSeenNs[n] = (w[v + L] as number) + (w[v + L + 1] as number) * TWO_32;
      tcpFlags[n] = w[v + T] as number;
      // Rewritten (or freed) while we read it: leave it for the next read. (An x86 load is not
      // reordered with earlier loads; elsewhere a read-modify-write of seq orders them.)
      const after = FENCE ? Atomics.add(w, base + SEQ_AT, 0) : Atomics.load(w, base + SEQ_AT);
      if (after !== seq || ((w[base] as number) & FAMILY_MASK) === 0) {
        busy++;
        continue;
      }
      if (pos < 0) pos = store.place(s, seq, key, 0);
      at[n++] = pos;
    }
    values.wrote(n);
    this.busy = busy;
    return { keys: store.buffer, at: at.subarray(0, n), count: n, read };
  }

  /** The read numbered `read` is no longer looked at (its keys' positions may be given out again). */
  release(read: number): void {
    this.store.release(read);
  }

  /**
   * Free the slot `slot` if it still holds `key` (48 bytes) and nobody is rewriting it: claim it
   * (seq odd, compare-and-swap, as the programs do), let `unindex` delete the key from flow_index,
   * clear the slot, then make seq even. Returns whether the flow was freed.
   */
  free(slot: number, key: Buffer, unindex: () => boolean): boolean {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) return false;
    const w = this.words;
    const base = slot * SLOT_WORDS;
    const seq = Atomics.load(w, base + SEQ_AT);
    if ((seq & 1) !== 0 || Atomics.compareExchange(w, base + SEQ_AT, seq, seq + 1) !== seq) return false;
    try {
      for (let i = 0; i < KEY_WORDS; i++) if (w[base + i] !== key.readUInt32LE(i * 4)) return false;
      const freed = unindex();
      if (freed) {
        for (let i = 0; i < KEY_WORDS; i++) w[base + i] = 0;
        for (let i = 0; i < VALUE_WORDS; i++) if (VALUE_AT + i !== SEQ_AT) w[base + VALUE_AT + i] = 0;
      }
      return freed;
    } finally {
      Atomics.add(w, base + SEQ_AT, 1);
    }
  }
}
