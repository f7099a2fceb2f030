/** What every view (JSON lines, batch text, the TUI) needs from a source of snapshots. */
import type { Snapshot } from '../model/types.js';
import type { HookInfo } from './hooks.js';

export interface Collector {
  /** The hooks attached, in attach order. */
  readonly hooks: readonly HookInfo[];
  /** Things the user should know about the start (e.g. a fallback to generic XDP). */
  readonly notices: readonly string[];
  readonly maxFlows: number;
  readonly mapKind: 'mmap' | 'lru' | 'percpu';
  /** One read of the kernel maps. */
  read(): Snapshot;
  /** Delete flows by key (idle expiry); returns how many were deleted. */
  deleteFlows(keys: readonly string[]): number;
  /**
   * Nothing reads this snapshot any more (the run loop retired its tick): the collector may reuse
   * what it holds for a later read. Optional; a snapshot still read must never be given here.
   */
  release?(snapshot: Snapshot): void;
  /** Detach everything; one line per hook detached. Idempotent. */
  close(): string[];
  /** Present when the collector keeps its own time (a capture file): the run loop moves it instead of sleeping. */
  readonly clock?: CollectorClock;
}

/**
 * The time of a collector whose snapshots are at moments it decides (tc-top -r: the capture's
 * clock), in ns on the snapshots' monoNs clock. read() is at the time of the last advanceTo().
 */
export interface CollectorClock {
  /** Gets the first frame ready: its time, or undefined for a capture without frames. */
  start(): Promise<number | undefined>;
  /** Counts every frame before `ns`; false when none is left (read() is then at the last frame). */
  advanceTo(ns: number): Promise<boolean>;
  /** The time of the next frame not yet counted; undefined when none is known. */
  readonly nextNs: number | undefined;
  /** Why the frames ended before the file did (a truncated file); the frames before were counted. */
  readonly error: Error | undefined;
}
