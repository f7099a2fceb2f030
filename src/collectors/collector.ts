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
  /** Detach everything; one line per hook detached. Idempotent. */
  close(): string[];
}
