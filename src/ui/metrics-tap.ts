/**
 * Ticks for a second consumer (the exporter) from the reads of whichever view drives the
 * collector (the TUI, the dashboard, --json, --batch or --no-ui), without a second kernel read and
 * without a second owner of expiry: the view's Sampler still decides what is idle and deletes it.
 *
 * The wrapper sees each read and the deletions the view's Sampler makes right after it in the same
 * tick, applies them to the snapshot as that Sampler does, and hands the result to a Sampler of its
 * own that never expires anything, so the rates and totals come from the same model code.
 */
import type { Collector } from '../collectors/collector.js';
import { Sampler } from '../collectors/sampler.js';
import { withoutKeys } from '../model/flow-set.js';
import type { Snapshot } from '../model/types.js';
import type { TickData } from './view.js';

/** A collector that returns the snapshot it is given: what the tap's Sampler reads. */
class Replay implements Collector {
  snapshot: Snapshot | undefined;
  constructor(private readonly inner: Collector) {}
  get hooks() {
    return this.inner.hooks;
  }
  get notices() {
    return this.inner.notices;
  }
  get maxFlows() {
    return this.inner.maxFlows;
  }
  get mapKind() {
    return this.inner.mapKind;
  }
  read(): Snapshot {
    if (!this.snapshot) throw new Error('no snapshot to replay');
    return this.snapshot;
  }
  deleteFlows(): number {
    return 0;
  }
  close(): string[] {
    return [];
  }
}

/**
 * Wraps `inner` so that every read also reaches `onTick` as a tick, once the reading view has
 * finished with it (its deletions applied). The first tick has no previous read: its deltas are the
 * flows' whole counts since the map was loaded, so sums kept from deltas start at the load.
 */
export function tapCollector(inner: Collector, onTick: (tick: TickData) => void): Collector {
  const replay = new Replay(inner);
  const sampler = new Sampler(replay, Infinity);
  let pending: Snapshot | undefined;
  const deleted = new Set<string>();
  let deletedCount = 0;

  const flush = (): void => {
    const snap = pending;
    if (!snap) return;
    pending = undefined;
    replay.snapshot =
      deleted.size === 0
        ? snap
        : { ...snap, flows: withoutKeys(snap.flows, deleted), flowsDeleted: snap.flowsDeleted + deletedCount };
    deleted.clear();
    deletedCount = 0;
    onTick(sampler.tick());
  };

  return {
    get hooks() {
      return inner.hooks;
    },
    get notices() {
      return inner.notices;
    },
    get maxFlows() {
      return inner.maxFlows;
    },
    get mapKind() {
      return inner.mapKind;
    },
    read(): Snapshot {
      flush();
      const snap = inner.read();
      pending = snap;
      // The view's Sampler deletes expired flows synchronously after this read; see them first.
      queueMicrotask(flush);
      return snap;
    },
    deleteFlows(keys: readonly string[]): number {
      const n = inner.deleteFlows(keys);
      if (pending) {
        for (const key of keys) deleted.add(key);
        deletedCount += n;
      }
      return n;
    },
    close(): string[] {
      flush();
      return inner.close();
    },
  };
}
