/**
 * The keys of the mmap map kind's flows, each kept once while its flow lives, not once per read.
 *
 * A read of the slots (slot-reader.ts) copies a flow's 48-byte key only the first time it meets the
 * flow: its slot with a seq it has not seen there (the programs add 2 to a slot's seq for each flow
 * it holds, and no key changes without seq changing). The key goes to a position of one buffer that
 * every read's flow set points into; later reads point their rows at the same position. So a
 * position names one kernel entry (a slot and a seq): two reads' rows at the same position of the
 * same buffer hold the same flow, and matching them compares integers, not keys.
 *
 * A position is not written again while a read that may point at it is live (not released): a
 * slot's position is superseded when a read meets the slot with another seq, or free, and given out
 * again only once every read before that one was released. When no position is free (a read held
 * for long, or heavy churn), the store moves to a new buffer that holds the live slots' keys at the
 * same positions; the reads pointing at the old buffer keep it, and it goes when they do.
 */
import { FlowKey } from '../ffi/layout.js';

const KEY_WORDS = FlowKey.size / 4;

export class KeyStore {
  /** The keys, FlowKey.size bytes a position; replaced (never rewritten under a live read) when full. */
  private buf: Buffer;
  private words: Uint32Array;
  /** Per slot, the position of its flow's key, or -1; and the seq that flow has. */
  private readonly posOf: Int32Array;
  private readonly seqOf: Uint32Array;
  /** Positions given out again once free, as a stack; and the first position never given out. */
  private free = new Int32Array(64);
  private freeTop = 0;
  private fresh = 0;
  /** Positions superseded, by the read that superseded them, oldest first. */
  private retiring: { read: number; positions: number[] }[] = [];
  /** Reads not released yet, by number. */
  private readonly live = new Set<number>();
  private reads = 0;
  /** The read now being taken, and how many positions it placed. */
  private current = -1;
  private placed = 0;
  /** Buffers started since the store was made (for tests and the bench). */
  renewals = 0;

  constructor(
    private readonly slots: number,
    private headroom = Math.max(1024, slots >> 3),
  ) {
    this.posOf = new Int32Array(slots).fill(-1);
    this.seqOf = new Uint32Array(slots);
    const capacity = slots + headroom;
    this.buf = Buffer.allocUnsafeSlow(capacity * FlowKey.size);
    this.words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, capacity * KEY_WORDS);
  }

  /** The buffer the positions of the latest read are in (a read's flow set keeps the one it got). */
  get buffer(): Buffer {
    return this.buf;
  }

  /** Positions the buffer has room for. */
  get capacity(): number {
    return this.buf.length / FlowKey.size;
  }

  /** Starts a read; its number, for release(). */
  begin(): number {
    this.current = this.reads++;
    this.placed = 0;
    this.live.add(this.current);
    return this.current;
  }

  /** The position of the flow in `slot` with this seq, if a read placed it; else -1. */
  positionOf(slot: number, seq: number): number {
    const p = this.posOf[slot] as number;
    return p >= 0 && this.seqOf[slot] === seq ? p : -1;
  }

  /** `slot` holds no flow (or another one): its position, if any, goes once the reads before this one are released. */
  vacate(slot: number): void {
    const p = this.posOf[slot] as number;
    if (p < 0) return;
    this.posOf[slot] = -1;
    const last = this.retiring.at(-1);
    if (last?.read === this.current) last.positions.push(p);
    else this.retiring.push({ read: this.current, positions: [p] });
  }

  /** The flow in `slot` with this seq has the key in `key` (words from `at`): its new position. */
  place(slot: number, seq: number, key: Uint32Array, at: number): number {
    this.vacate(slot);
    if (this.freeTop === 0 && this.fresh === this.capacity) this.renew();
    const p = this.freeTop > 0 ? (this.free[--this.freeTop] as number) : this.fresh++;
    this.words.set(key.subarray(at, at + KEY_WORDS), p * KEY_WORDS);
    this.posOf[slot] = p;
    this.seqOf[slot] = seq;
    this.placed++;
    return p;
  }

  /** The read numbered `read` is no longer looked at: positions no live read can point at are given out again. */
  release(read: number): void {
    if (!this.live.delete(read)) return;
    let oldest = Infinity;
    for (const r of this.live) oldest = Math.min(oldest, r);
    // Superseded in read r: only reads before r can point at them.
    while (this.retiring.length > 0 && (this.retiring[0]!.read <= oldest)) {
      for (const p of this.retiring.shift()!.positions) this.push(p);
    }
  }

  private push(p: number): void {
    if (this.freeTop === this.free.length) {
      const bigger = new Int32Array(2 * this.free.length);
      bigger.set(this.free);
      this.free = bigger;
    }
    this.free[this.freeTop++] = p;
  }

  /**
   * No position is free: a new buffer with the live slots' keys at their positions, every other
   * position free in it. Reads taken before keep the old buffer. A read that placed many keys (heavy
   * churn) grows the headroom, so that the next one does not renew again and again.
   */
  private renew(): void {
    if (this.placed >= this.headroom >> 1) this.headroom = Math.min(2 * this.headroom, Math.max(this.slots, 1024));
    const capacity = Math.max(this.capacity, this.slots + this.headroom);
    const buf = Buffer.allocUnsafeSlow(capacity * FlowKey.size);
    const words = new Uint32Array(buf.buffer, buf.byteOffset, capacity * KEY_WORDS);
    const used = new Uint8Array(capacity);
    for (let s = 0; s < this.slots; s++) {
      const p = this.posOf[s] as number;
      if (p < 0) continue;
      used[p] = 1;
      words.set(this.words.subarray(p * KEY_WORDS, (p + 1) * KEY_WORDS), p * KEY_WORDS);
    }
    this.freeTop = 0;
    this.fresh = capacity;
    for (let p = capacity - 1; p >= 0; p--) if (!used[p]) this.push(p);
    this.retiring = [];
    this.buf = buf;
    this.words = words;
    this.renewals++;
  }
}
