/**
 * A collector that replays scripted snapshots instead of reading the kernel (bandwhich's fake
 * input): for UI tests and for running the whole app without root. Deleting a flow hides it
 * until a later snapshot shows it with new packets, as the kernel would recreate it.
 */
import { withoutRows } from '../model/flow-set.js';
import type { Snapshot } from '../model/types.js';
import type { Collector } from './collector.js';
import type { HookInfo } from './hooks.js';

export interface ScriptedCollectorOptions {
  readonly hooks?: readonly HookInfo[];
  readonly notices?: readonly string[];
  readonly mapKind?: 'mmap' | 'lru' | 'percpu';
  readonly maxFlows?: number;
}

export class ScriptedCollector implements Collector {
  readonly hooks: readonly HookInfo[];
  readonly notices: readonly string[];
  readonly mapKind: 'mmap' | 'lru' | 'percpu';
  readonly maxFlows: number;
  private readonly script: Iterator<Snapshot>;
  private last: Snapshot | undefined;
  /** Deleted keys, with the time of the read they were deleted after. */
  private readonly deleted = new Map<string, number>();
  private deletedCount = 0;
  private closed = false;

  /** Each read takes the next snapshot; once the script ends, the last one repeats. */
  constructor(script: Iterable<Snapshot>, options: ScriptedCollectorOptions = {}) {
    this.script = script[Symbol.iterator]();
    this.hooks = options.hooks ?? [];
    this.notices = options.notices ?? [];
    this.mapKind = options.mapKind ?? 'lru';
    this.maxFlows = options.maxFlows ?? 65536;
  }

  read(): Snapshot {
    if (this.closed) throw new Error('read from a closed collector');
    const step = this.script.next();
    const snap = step.done ? this.last : step.value;
    if (!snap) throw new Error('the script has no snapshot');
    this.last = snap;
    const hidden: number[] = [];
    for (let i = 0; i < snap.flows.length; i++) {
      if ((snap.flows.lastSeenNs[i] as number) <= (this.deleted.get(snap.flows.keyAt(i)) ?? -Infinity)) hidden.push(i);
    }
    return { ...snap, flows: withoutRows(snap.flows, hidden), flowsDeleted: snap.flowsDeleted + this.deletedCount };
  }

  deleteFlows(keys: readonly string[]): number {
    const now = this.last?.monoNs ?? 0;
    let n = 0;
    for (const key of keys) {
      if (!this.last || this.last.flows.indexOfKey(key) < 0) continue;
      this.deleted.set(key, now);
      n++;
    }
    this.deletedCount += n;
    return n;
  }

  close(): string[] {
    if (this.closed) return [];
    this.closed = true;
    // Spelled as describeHook does: hooks.js loads libbpf, which a scripted run must not need.
    return this.hooks.map((h) => `detached ${h.kind === 'xdp' ? `xdp (${h.mode})` : `tc ${h.dir} (${h.mode})`} from ${h.ifname}`);
  }
}
