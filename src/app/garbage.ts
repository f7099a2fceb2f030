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
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
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

/** Flow maps from this size up keep V8's young generation at the size it has (youngGenerationFor). */
export const LARGE_MAP = 2 ** 19;

/**
 * Sizes V8's young generation for a flow map of `maxFlows`: from LARGE_MAP up, it stops growing at
 * the size it has when this is called (bin/tc-top.ts calls it once the command line is parsed:
 * 4 MiB then), where V8 would double it up to 32 MiB as the modules load and the ticks run. At a
 * million flows a tick's bulk is typed arrays, outside V8's heap, and the space it would grow to is
 * resident memory the ticks hardly need: the bench's peak at 1M flows went 449 -> 426 MB with the
 * tick unchanged (197 -> 191 ms, one run each, tick-child). Smaller maps are left to V8: held from
 * the start, the 100k-flow tick went 28.6 -> 33 ms. V8 reads the growth factor each time it grows
 * the space, so the flag works set at run time, unlike --max-semi-space-size (read only at start).
 * Returns whether it held it.
 */
export function youngGenerationFor(maxFlows: number): boolean {
  if (maxFlows < LARGE_MAP) return false;
  try {
    setFlagsFromString('--semi-space-growth-factor=1');
    return true;
  } catch {
    return false;
  }
}

/** The young generation's size now (one semi-space), bytes. */
export function youngGenerationSize(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? NaN;
}
