/**
 * Collecting a tick's garbage when there is much of it.
 *
 * A tick at many flows allocates tens of MB of typed arrays (the sort key's rates, the filter's
 * rows, each row's slot, the match of the rows to the last read's) that are dead once the next
 * tick is out. V8 counts them as external memory and collects them only once about 64 MB of it
 * has piled up since its last collection; at a million flows the process then peaks some 70 MB
 * above what it holds (docs/BENCHMARKS.md, section 1). After each tick the run loop asks this
 * policy; when the buffers grew past a bound since the last collection, it runs a full collection
 * (a V8 heap of some 30 MB: tens of ms, when a tick at a million flows takes some 200).
 *
 * Node exposes no collection to a program started without --expose-gc; the flag set at run time
 * installs `gc` in contexts made afterwards, and one context is made to fetch it (where V8 refuses,
 * nothing is collected by hand and V8 keeps its own schedule).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = () => void;

let exposed: Collect | null | undefined;

/** V8's full collection, or undefined where it cannot be had. */
export function fullCollection(): Collect | undefined {
  if (exposed === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as unknown;
      exposed = typeof gc === 'function' ? () => (gc as () => void)() : null;
    } catch {
      exposed = null;
    }
  }
  return exposed ?? undefined;
}

/** Growth of the buffers, in bytes, that is always left to V8. */
const FLOOR = 32 * 2 ** 20;
/** Above the floor: growth by this share of what was held after the last collection. */
const SHARE = 1 / 8;

export class GarbagePolicy {
  /** Collections run by this policy. */
  collections = 0;
  /** The buffers held after the last collection (or the lowest seen since). */
  private base: number;
  /** A collection ran: its buffers are freed by a background sweep, so the base is read at the next tick. */
  private pending = false;

  constructor(
    /** null: none to be had (V8 keeps its own schedule). */
    private readonly collect: Collect | null = fullCollection() ?? null,
    private readonly buffers: () => number = () => process.memoryUsage().arrayBuffers,
  ) {
    this.base = buffers();
  }

  /** Called before each tick: the base after a collection, its sweep done by now (the interval's sleep). */
  beforeTick(): void {
    if (!this.pending) return;
    this.pending = false;
    this.base = this.buffers();
  }

  /** Called after each tick: collects when the buffers grew past the bound. Returns whether it did. */
  afterTick(): boolean {
    if (!this.collect || this.pending) return false;
    const now = this.buffers();
    if (now - this.base <= Math.max(FLOOR, this.base * SHARE)) {
      // V8 collected on its own since.
      if (now < this.base) this.base = now;
      return false;
    }
    this.collect();
    this.pending = true;
    this.collections++;
    return true;
  }
}
