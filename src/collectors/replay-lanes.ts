/**
 * tc-top -r on several CPUs: each test run costs the kernel microseconds (an skb or xdp_buff built
 * and freed per frame) and runs on the calling CPU, so the frames are spread over lanes, one worker
 * thread each (src/collectors/replay-lane.ts) with a runner of its own, into the same maps. The
 * capture is read and each frame placed by the main thread only.
 *
 * - Order: a frame's lane is a hash of its flow's key with the ends in either order
 *   (flow-lane.ts), and each lane runs its frames in file order, so the frames of a connection keep
 *   theirs. Frames of different flows may run in another order than the file's: the maps are built
 *   for CPUs counting at once (atomic adds, a per-CPU counters map), as on a live link.
 * - Snapshots: drain() returns once every frame given to a lane has run; the collector drains before
 *   each snapshot's time is reached, so a read sees every frame before it and none after.
 * - Memory: each lane is a ring of RING_BYTES in shared memory; the main thread waits for room
 *   (asynchronously: the event loop keeps running) when a lane is full.
 *
 * A ring holds records, 4-byte aligned: four words (the frame's length, or'ed with EGRESS; its
 * length on the wire; its time, low and high 32 bits), then the frame as an Ethernet frame. A first
 * word of -1 says the next record is at the start of the ring. The control words: HEAD and TAIL, the
 * bytes written and run (modulo 2^32); SEQ, moved at each publication and at stop, for the worker's
 * wait; WAKE, when not 0, asks the worker for a notification once fewer than WAKE bytes wait;
 * STATE; the programs.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BpfError, hintFor } from '../ffi/errors.js';
import { FRAME_MAX, type Refused } from './replay-runner.js';

export const RING_BYTES = 1 << 20;
export const RECORD_HEAD = 16;
export const EGRESS = 1 << 16;
export const SKIP = -1;
export const Ctl = { HEAD: 0, TAIL: 1, SEQ: 2, WAKE: 3, STATE: 4, ERRNO: 5, PROG_IN: 6, PROG_OUT: 7, XDP: 8, WORDS: 16 } as const;
export const State = { RUN: 0, STOP: 1, STOPPED: 2, FAILED: 3 } as const;
/** Records written to a lane before they are handed over (each hand-over may wake the worker: a system call). */
const PUBLISH_EVERY = 64;
/**
 * At most this many lanes: each is a thread with a V8 heap of its own (about 15 MB resident), and the main
 * thread reads and places a few million frames a second, which 8 lanes of test runs at 2 to 3 µs
 * each already take.
 */
const MAX_LANES = 8;
/** How long close() waits for a lane to finish the frame it is running. */
const STOP_WAIT_MS = 2000;

/** Atomics.waitAsync (ES2024, in Node since 16), which the ES2022 library's types lack. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string } }).waitAsync;

/**
 * Lanes for this machine: one per CPU the process may use (up to MAX_LANES); none (the frames run on
 * the main thread) with one CPU, or when this module runs from its TypeScript source (tsx), which a
 * worker thread cannot load.
 */
export function defaultLanes(): number {
  const n = Math.min(availableParallelism(), MAX_LANES);
  return n > 1 && !import.meta.url.endsWith('.ts') ? n : 0;
}

interface Lane {
  readonly worker: Worker;
  readonly ctl: Int32Array;
  readonly words: Int32Array;
  readonly bytes: Buffer;
  readonly refused: Float64Array;
  /** Bytes written (published or not) and the record being written. */
  head: number;
  at: number;
  unpublished: number;
  published: boolean;
  error: Error | undefined;
}

export class ReplayLanes {
  private readonly lanes: Lane[] = [];
  private stopped = false;

  /** Starts `count` worker threads; they wait for programs() and frames. */
  constructor(readonly count: number) {
    const url = new URL('./replay-lane.js', import.meta.url);
    for (let i = 0; i < count; i++) {
      const ctl = new Int32Array(new SharedArrayBuffer(Ctl.WORDS * 4));
      const data = new SharedArrayBuffer(RING_BYTES);
      const refused = new Float64Array(new SharedArrayBuffer(4 * 8));
      const worker = new Worker(url, { workerData: { ctl, data, refused } });
      const lane: Lane = { worker, ctl, words: new Int32Array(data), bytes: Buffer.from(data), refused, head: 0, at: 0, unpublished: 0, published: false, error: undefined };
      const fail = (err: Error): void => {
        lane.error ??= err;
        Atomics.store(ctl, Ctl.STATE, State.FAILED);
        Atomics.notify(ctl, Ctl.TAIL);
      };
      worker.on('error', fail);
      worker.on('exit', () => Atomics.load(ctl, Ctl.STATE) === State.RUN && fail(new Error('a replay lane exited')));
      worker.unref();
      this.lanes.push(lane);
    }
  }

  /** The programs the lanes run (fds are the process's, shared by its threads). */
  programs(progIn: number, progOut: number, xdp: boolean): void {
    for (const { ctl } of this.lanes) {
      Atomics.store(ctl, Ctl.PROG_IN, progIn);
      Atomics.store(ctl, Ctl.PROG_OUT, progOut);
      Atomics.store(ctl, Ctl.XDP, xdp ? 1 : 0);
    }
  }

  /**
   * Where to write a frame of len bytes for `lane` (in bytes(lane)), then commit(); -1 when the lane
   * is full (await room() and ask again).
   */
  reserve(lane: number, len: number): number {
    const l = this.lanes[lane]!;
    const need = RECORD_HEAD + ((len + 3) & ~3);
    const off = l.head % RING_BYTES;
    const skip = off + need > RING_BYTES ? RING_BYTES - off : 0;
    if (RING_BYTES - used(l, l.head) < skip + need) return -1;
    if (skip > 0) {
      l.words[off >> 2] = SKIP;
      l.head += skip;
    }
    l.at = l.head % RING_BYTES;
    return l.at + RECORD_HEAD;
  }

  bytes(lane: number): Buffer {
    return this.lanes[lane]!.bytes;
  }

  /** The same bytes as 32-bit words. */
  words(lane: number): Int32Array {
    return this.lanes[lane]!.words;
  }

  /** The frame written at reserve()'s place: len bytes, counted as `wire`, at time t. */
  commit(lane: number, len: number, wire: number, t: number, egress: boolean): void {
    const l = this.lanes[lane]!;
    const w = l.at >> 2;
    l.words[w] = egress ? len | EGRESS : len;
    l.words[w + 1] = wire;
    l.words[w + 2] = t % 4294967296;
    l.words[w + 3] = Math.floor(t / 4294967296);
    l.head += RECORD_HEAD + ((len + 3) & ~3);
    if (++l.unpublished >= PUBLISH_EVERY) publish(l);
  }

  /** Waits until `lane` has room for a frame (half the ring free), handing every lane what it has. */
  async room(lane: number): Promise<void> {
    for (const l of this.lanes) publish(l);
    await this.waitUsed(this.lanes[lane]!, RING_BYTES / 2 - RECORD_HEAD - FRAME_MAX);
  }

  /** Returns once every frame committed so far has run. */
  async drain(): Promise<void> {
    for (const l of this.lanes) publish(l);
    for (const l of this.lanes) await this.waitUsed(l, 0);
  }

  /** Hands the frames written so far to the lanes (before the main thread turns to other work). */
  publish(): void {
    for (const l of this.lanes) publish(l);
  }

  /** The lanes' refused frames, summed (valid after drain()). */
  refused(): Refused {
    const r = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 };
    for (const { refused: f } of this.lanes) {
      r.packetsIn += f[0]!;
      r.packetsOut += f[1]!;
      r.bytesIn += f[2]!;
      r.bytesOut += f[3]!;
    }
    return r;
  }

  /** Until at most `max` bytes wait in the lane; throws the lane's failure. */
  private async waitUsed(l: Lane, max: number): Promise<void> {
    // A wait on shared memory holds no handle: the worker's keeps the process alive meanwhile.
    l.worker.ref();
    try {
      for (;;) {
        if (this.ended(l) || used(l, l.head) <= max) return;
        Atomics.store(l.ctl, Ctl.WAKE, max + 1);
        // Read after WAKE is set: the worker either sees WAKE or ran the frames before this read.
        const tail = Atomics.load(l.ctl, Ctl.TAIL);
        if ((((l.head | 0) - tail) | 0) <= max) continue;
        const r = waitAsync(l.ctl, Ctl.TAIL, tail);
        if (r.async) await r.value;
      }
    } finally {
      Atomics.store(l.ctl, Ctl.WAKE, 0);
      l.worker.unref();
    }
  }

  /** True once the lanes are stopped (close()); throws the lane's failure. */
  private ended(l: Lane): boolean {
    const state = Atomics.load(l.ctl, Ctl.STATE);
    if (state === State.FAILED) {
      const errno = Atomics.load(l.ctl, Ctl.ERRNO);
      throw l.error ?? new BpfError('bpf_prog_test_run_opts', errno, hintFor(errno));
    }
    return state !== State.RUN;
  }

  /** Stops every lane; returns once none runs a frame (the programs may then be closed). */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const { ctl } of this.lanes) {
      Atomics.compareExchange(ctl, Ctl.STATE, State.RUN, State.STOP);
      Atomics.add(ctl, Ctl.SEQ, 1);
      Atomics.notify(ctl, Ctl.SEQ);
    }
    // A lane that was never given a frame runs none; the others say when they stop.
    for (const l of this.lanes) if (l.published) Atomics.wait(l.ctl, Ctl.STATE, State.STOP, STOP_WAIT_MS);
  }
}

/** Bytes written to the lane and not yet run. */
function used(l: Lane, head: number): number {
  return ((head | 0) - Atomics.load(l.ctl, Ctl.TAIL)) | 0;
}

function publish(l: Lane): void {
  if (l.unpublished === 0 && Atomics.load(l.ctl, Ctl.HEAD) === (l.head | 0)) return;
  l.unpublished = 0;
  l.published = true;
  Atomics.store(l.ctl, Ctl.HEAD, l.head | 0);
  Atomics.add(l.ctl, Ctl.SEQ, 1);
  Atomics.notify(l.ctl, Ctl.SEQ);
}
