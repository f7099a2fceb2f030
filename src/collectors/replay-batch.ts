/**
 * tc-top -r's frames, many to a test run. A BPF_PROG_TEST_RUN costs the kernel about 3 µs (an
 * xdp_buff or skb built and freed, the system call, koffi's call) against well under 0.2 µs for
 * the program itself, so the frames go in batches: up to Batch.max frames packed into one buffer
 * that the replay build's tctop_replay_batch (bpf/tc_top.bpf.c) walks, showing each frame to the
 * counter programs' own count() as the whole packet in turn, in order (bpf/tc_top.h, struct
 * tc_top_batch: the records first, the frames from the end).
 *
 * A frame is given whole up to PREFIX bytes; a longer one is given its first PREFIX bytes (CUT),
 * which hold the headers of every ordinary frame. When the parser runs out of a cut frame's bytes
 * (a long chain of IPv6 extension headers, or a malformed frame), the program stops before
 * counting it; run() then gives that frame whole, in a batch of its own, and goes on with the rest:
 * every frame is counted once, in file order, as if it had been given whole.
 */
import { FrameRunner } from '../ffi/libbpf.js';
import { Batch } from '../ffi/layout.js';

/** Bytes of a frame given to a test run (a page less the kernel's head- and tailroom, with room to spare). */
export const FRAME_MAX = 3440;
export const ETH_HLEN = 14;
/** A frame's bytes given in a batch, unless it must run whole: every header the parser reads, in any ordinary frame. */
export const PREFIX = 192;
/** The buffer of a run: one frame of FRAME_MAX with its head and record. */
export const BATCH_BYTES = FRAME_MAX + Batch.headSize + Batch.recordSize;

/** Writes frame i of the batch whole (its `len` bytes, from where it came) at out[at], out as words: into. */
export type WriteWhole = (i: number, out: Buffer, into: Int32Array, at: number, len: number) => void;

export class ReplayBatch {
  /** Write a frame's bytes at reserve()'s position, then commit() it. */
  readonly bytes: Buffer;
  readonly words: Int32Array;
  /** Frames in the batch. */
  private n = 0;
  /** Where the frames begin (they are packed from the end of the buffer). */
  private low = BATCH_BYTES;
  /** Each frame's bytes given, and its full length (what it is given when it runs whole). */
  private readonly givenOf = new Uint16Array(Batch.max);
  private readonly full = new Uint16Array(Batch.max);
  private readonly runner: FrameRunner;
  /** The batch a cut frame runs whole in (made at the first such frame). */
  private single: ReplayBatch | undefined;
  /** Frames run, test runs made, cut frames run again whole. */
  frames = 0;
  runs = 0;
  wholes = 0;

  constructor(private readonly prog: number) {
    this.runner = new FrameRunner(BATCH_BYTES);
    this.bytes = this.runner.bytes;
    this.words = new Int32Array(this.bytes.buffer, this.bytes.byteOffset, BATCH_BYTES >> 2);
  }

  get size(): number {
    return this.n;
  }

  /** The bytes a frame of `len` is given here: itself, or its first PREFIX bytes. */
  static prefixOf(len: number): number {
    return len <= PREFIX ? len : PREFIX;
  }

  /** Where `given` bytes of the next frame go (4-byte aligned), or -1 when the batch is full (run() it). */
  reserve(given: number): number {
    const at = this.low - ((given + 3) & ~3);
    if (this.n === Batch.max || at < Batch.headSize + (this.n + 1) * Batch.recordSize) return -1;
    return at;
  }

  /**
   * Adds the frame written at reserve(given): `given` bytes of a frame of `full` (a cut frame when
   * fewer), counted as `wire` bytes, going out or in. Returns the index of its record's time words
   * (low, then high 32 bits of ns), for the caller to write: a time passed here would be boxed.
   */
  commit(given: number, full: number, wire: number, egress: boolean): number {
    const i = this.n++;
    this.low -= (given + 3) & ~3;
    this.givenOf[i] = given;
    this.full[i] = full;
    const r = (Batch.headSize + i * Batch.recordSize) >> 2;
    const w = this.words;
    w[r] = given | (egress ? Batch.egress : 0) | (given < full ? Batch.cut : 0);
    w[r + 1] = wire;
    return r + 2;
  }

  /**
   * Runs the batch's frames, in order, each once; `whole` writes a cut frame whole when its prefix
   * did not do. The batch is empty afterwards, also when a run fails (its frames are not run twice).
   */
  run(whole: WriteWhole): void {
    const w = this.words;
    // The first frame not run yet (its record first in the table) and where its bytes end.
    let from = 0;
    let end = BATCH_BYTES;
    try {
      while (from < this.n) {
        const n = this.n - from;
        w[0] = n;
        const done = this.runner.run(this.prog, 0, end, 0, 0);
        this.runs++;
        if (done === n) break;
        const r = (Batch.headSize + done * Batch.recordSize) >> 2;
        if (done < 0 || done > n || (w[r]! & Batch.cut) === 0) throw new Error(`tc-top's replay program stopped at frame ${done} of a batch of ${n}`);
        const stop = from + done;
        this.runWhole(stop, r, whole);
        for (let i = from; i <= stop; i++) end -= (this.givenOf[i]! + 3) & ~3;
        from = stop + 1;
        // The records of the frames left, to the front of the table.
        w.copyWithin(Batch.headSize >> 2, r + (Batch.recordSize >> 2), (Batch.headSize + n * Batch.recordSize) >> 2);
      }
      this.frames += this.n;
    } finally {
      this.n = 0;
      this.low = BATCH_BYTES;
    }
  }

  /** Frame `stop` (its record at word r) whole, in a batch of its own. */
  private runWhole(stop: number, r: number, whole: WriteWhole): void {
    this.wholes++;
    const single = (this.single ??= new ReplayBatch(this.prog));
    const full = this.full[stop]!;
    const at = single.reserve(full);
    whole(stop, single.bytes, single.words, at, full);
    const t = single.commit(full, full, this.words[r + 1]!, (this.words[r]! & Batch.egress) !== 0);
    single.words[t] = this.words[r + 2]!;
    single.words[t + 1] = this.words[r + 3]!;
    single.run(() => {
      throw new Error('tc-top replay program: a frame given whole ran out of bytes');
    });
    this.runs += single.runs;
    single.runs = 0;
    single.frames = 0;
  }

  free(): void {
    this.runner.free();
    this.single?.free();
  }
}
