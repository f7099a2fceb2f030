/**
 * One frame of a capture through tc-top's replay program with BPF_PROG_TEST_RUN (tc-top -r): the
 * context or metadata that stamps it with its time and length, the run, and the frames the skb
 * test runner refuses. Shared by the capture collector (one CPU) and its replay lanes (worker
 * threads, src/collectors/replay-lane.ts), each with a runner of its own.
 */
import { BpfError } from '../ffi/errors.js';
import { FrameRunner } from '../ffi/libbpf.js';
import { Replay } from '../ffi/layout.js';

/** Bytes of a frame given to a test run (a page less the kernel's head- and tailroom, less the XDP metadata). */
export const FRAME_MAX = 3440;
export const ETH_HLEN = 14;
const CTX_AT = 0;
const DATA_AT = 256;
/** Where a runner's frame goes, as an Ethernet frame: after the XDP metadata. */
export const FRAME_AT = DATA_AT + Replay.metaSize;
/**
 * Up to this many bytes a frame is copied as 32-bit words: a Buffer copy costs about 60 ns to set
 * up (and allocates a view), a word 1 to 2 ns.
 */
export const SHORT_FRAME = 256;

/** Frames the skb test runner refused (malformed), per direction: packets and bytes. */
export interface Refused {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

export class ReplayRunner {
  /** Write the frame here, at FRAME_AT, then run() it; words: the same bytes as 32-bit words. */
  readonly bytes: Buffer;
  readonly words: Int32Array;
  private readonly runner: FrameRunner;

  /** progIn and progOut: the TC programs (progOut -1 when no frame goes out), or the XDP program twice (xdp); refused: where to count those. */
  constructor(
    private readonly progIn: number,
    private readonly progOut: number,
    private readonly xdp: boolean,
    readonly refused: Refused = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 },
  ) {
    this.runner = new FrameRunner(FRAME_AT + FRAME_MAX);
    this.bytes = this.runner.bytes;
    this.bytes.fill(0, 0, FRAME_AT + ETH_HLEN);
    this.words = new Int32Array(this.bytes.buffer, this.bytes.byteOffset, (FRAME_AT + FRAME_MAX) >> 2);
  }

  /** Runs the len bytes at FRAME_AT, counted as `wire` bytes at time t (ns on the snapshots' clock). */
  run(len: number, wire: number, t: number, egress: boolean): void {
    const w = this.words;
    const lo = t % 4294967296;
    const hi = Math.floor(t / 4294967296);
    if (this.xdp) {
      // struct tc_top_replay_meta before the frame; the context says how long it is.
      const meta = DATA_AT >> 2;
      w[meta + (Replay.metaTimeNs >> 2)] = lo;
      w[meta + (Replay.metaTimeNs >> 2) + 1] = hi;
      w[meta + (Replay.metaLen >> 2)] = wire;
      w[CTX_AT >> 2] = Replay.metaSize;
      w[(CTX_AT >> 2) + 1] = Replay.metaSize + len;
      this.runner.run(this.progIn, DATA_AT, Replay.metaSize + len, CTX_AT, Replay.xdpCtxSize);
      return;
    }
    const cb = (CTX_AT + Replay.skbCb) >> 2;
    w[cb] = lo;
    w[cb + 1] = hi;
    w[cb + 2] = wire;
    try {
      this.runner.run(egress ? this.progOut : this.progIn, FRAME_AT, len, CTX_AT, Replay.skbCtxSize);
    } catch (err) {
      if (!(err instanceof BpfError && err.errno === 22)) throw err;
      const r = this.refused;
      if (egress) {
        r.packetsOut++;
        r.bytesOut += wire;
      } else {
        r.packetsIn++;
        r.bytesIn += wire;
      }
    }
  }

  free(): void {
    this.runner.free();
  }
}
