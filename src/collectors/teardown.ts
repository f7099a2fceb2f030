/**
 * A stack of releases run in reverse order of acquisition, on every path (cilium/ebpf's
 * `defer x.Close()`; Node 20 has no DisposableStack). A failing release does not stop the others.
 */
export interface Released {
  readonly label: string;
  /** Internal bookkeeping the user need not hear about (closing the object, say). */
  readonly quiet: boolean;
  readonly error?: Error;
}

export class Teardown {
  private readonly stack: { label: string; release: () => string | void; quiet: boolean }[] = [];

  /**
   * Register the release of a resource right after acquiring it. A release may return a line
   * that replaces the label (when it chose to keep the resource, say).
   */
  defer(label: string, release: () => string | void, quiet = false): void {
    this.stack.push({ label, release, quiet });
  }

  get size(): number {
    return this.stack.length;
  }

  /** Release everything, newest first. Safe to call twice: the second call does nothing. */
  run(): Released[] {
    const done: Released[] = [];
    for (let item = this.stack.pop(); item; item = this.stack.pop()) {
      try {
        const said = item.release();
        done.push({ label: said ?? item.label, quiet: item.quiet });
      } catch (err) {
        done.push({ label: item.label, quiet: item.quiet, error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
    return done;
  }
}
