/**
 * A stack of releases run in reverse order of acquisition, on every path (cilium/ebpf's
 * `defer x.Close()`; Node 20 has no DisposableStack). A failing release does not stop the others.
 */
export interface Released {
  readonly label: string;
  readonly error?: Error;
}

export class Teardown {
  private readonly stack: { label: string; release: () => string | void }[] = [];

  /**
   * Register the release of a resource right after acquiring it. A release may return a line
   * that replaces the label (when it chose to keep the resource, say).
   */
  defer(label: string, release: () => string | void): void {
    this.stack.push({ label, release });
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
        done.push({ label: said ?? item.label });
      } catch (err) {
        done.push({ label: item.label, error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
    return done;
  }
}
