/**
 * A stack of releases run in reverse order of acquisition, on every path (cilium/ebpf's
 * `defer x.Close()`; Node 20 has no DisposableStack). A failing release does not stop the others.
 */
export interface Released {
  readonly label: string;
  readonly error?: Error;
}

export class Teardown {
  private readonly stack: { label: string; release: () => void }[] = [];

  /** Register the release of a resource right after acquiring it. */
  defer(label: string, release: () => void): void {
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
        item.release();
        done.push({ label: item.label });
      } catch (err) {
        done.push({ label: item.label, error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
    return done;
  }
}
