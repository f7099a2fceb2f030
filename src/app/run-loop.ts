/**
 * The one run loop of a tc-top process: it owns the collector and the Sampler, keeps the schedule,
 * and hands each tick to every consumer (the TUI's store, the dashboard, the JSON or batch writer,
 * the exporter), in the order they subscribed. One read and one advance() per tick, whatever the
 * consumers; none reads the kernel or runs the model itself.
 *
 * It ends after `count` ticks, on stop() (a view's q), or when the signal aborts (SIGINT, SIGTERM);
 * run() then resolves. A read or a consumer that throws ends it too: run() rejects with that error.
 * detach() closes the hooks early (the TUI's D): the loop stops ticking, and run() waits for stop()
 * or the signal, so that a view can go on showing what it last had. A pause is a view's own: the
 * loop keeps ticking (the exporter and the counts go on) while a paused view holds its tick.
 *
 * A collector with a clock of its own (a capture file, tc-top -r) is not slept on: the loop moves
 * its clock by one interval of its time per tick, as fast as it goes, and takes a last tick at the
 * end of its frames. Intervals without frames are skipped (one tick covers the gap, its deltas
 * zero), unless every interval is wanted (--follow-time). The same Sampler, the same ticks.
 */
import type { Collector, CollectorClock } from '../collectors/collector.js';
import type { Meta, Tick } from '../model/types.js';
import { GarbagePolicy } from './garbage.js';
import { Sampler, type LiveTick } from './sampler.js';

export interface TickConsumer {
  /** Every tick, in order. */
  tick(tick: Tick): void;
  /**
   * The read taken right after attaching, before the first interval: its deltas are each flow's
   * whole count since the map was loaded. For consumers that keep sums from deltas (the exporter);
   * views show nothing until the first full interval.
   */
  baseline?(tick: Tick): void;
  /**
   * Whether this consumer still reads `tick` although a newer one came (a paused view). A tick no
   * consumer holds is retired once the next one is handed out: its flows and columns are let go (it
   * reads as a tick without flows) and the collector may fill their buffers again. Consumers that
   * only use a tick while it is the newest need not say anything.
   */
  holds?(tick: Tick): boolean;
}

export interface RunLoopOptions {
  readonly collector: Collector;
  /** The interfaces watched, as the user named them (the views' headers). */
  readonly interfaces: readonly string[];
  readonly intervalS: number;
  readonly idleTimeoutS: number;
  /** Stop after this many ticks; undefined: until stopped. */
  readonly count?: number | undefined;
  /** Aborting ends the run (signals). */
  readonly signal?: AbortSignal | undefined;
  /** A collector with a clock: a tick at every interval of its time, also those without frames. */
  readonly everyInterval?: boolean;
  /** A collector with a clock: once its frames end, wait for stop() or the signal (a view stays open on the last tick). */
  readonly holdAtEnd?: boolean;
}

export class RunLoop {
  readonly meta: Meta;
  private readonly sampler: Sampler;
  private readonly consumers: TickConsumer[] = [];
  private readonly detachedLines: string[] = [];
  private closed = false;
  private primed = false;
  private running: Promise<void> | undefined;
  private ended = false;
  private failure: { readonly error: unknown } | undefined;
  /** Wakes the schedule's sleep (stop, abort, a failure). */
  private wake: (() => void) | undefined;
  private ticks = 0;
  /** Ticks handed out and not retired yet: the newest, and older ones a consumer holds. */
  private live: LiveTick[] = [];
  /** Collects the retired ticks' columns when they are many (garbage.ts). */
  private readonly garbage = new GarbagePolicy();

  constructor(private readonly o: RunLoopOptions) {
    const c = o.collector;
    this.meta = { interfaces: o.interfaces, hooks: c.hooks, mapKind: c.mapKind, maxFlows: c.maxFlows };
    this.sampler = new Sampler(c, o.idleTimeoutS * 1e9);
    o.signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  /** Adds a consumer; returns its removal. */
  subscribe(consumer: TickConsumer): () => void {
    this.consumers.push(consumer);
    return () => {
      const at = this.consumers.indexOf(consumer);
      if (at >= 0) this.consumers.splice(at, 1);
    };
  }

  /** Ticks handed out so far. */
  get count(): number {
    return this.ticks;
  }

  /** Whether the hooks were detached (by detach() or close()). */
  get detached(): boolean {
    return this.closed;
  }

  /** The baseline read (once; run() does it first). */
  prime(): void {
    if (this.primed) return;
    this.primed = true;
    const baseline = this.sampler.prime();
    for (const c of [...this.consumers]) c.baseline?.(baseline);
    this.handedOut(baseline);
  }

  /** One tick now: read, expire, advance, hand to every consumer. */
  step(): Tick {
    this.prime();
    this.garbage.beforeTick();
    // The ticks out now are retired once this one is handed out, unless held: when none is held, nothing
    // reads their tables any more, and the model may write its per-slot arrays in place.
    const tick = this.sampler.tick(!this.live.some((t) => this.held(t)));
    this.ticks++;
    for (const c of [...this.consumers]) c.tick(tick);
    this.handedOut(tick);
    this.garbage.afterTick();
    return tick;
  }

  /** Collections the loop ran after its ticks (garbage.ts). */
  get collections(): number {
    return this.garbage.collections;
  }

  /** `tick` is the newest now: the older ticks no consumer holds are retired. */
  private handedOut(tick: LiveTick): void {
    const older = this.live;
    this.live = [tick];
    for (const t of older) {
      if (this.held(t)) this.live.push(t);
      else t.retire();
    }
  }

  private held(tick: Tick): boolean {
    return this.consumers.some((c) => c.holds?.(tick) === true);
  }

  /** Runs the schedule until count, stop() or abort; the same promise for every call. */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Ends the run; with an error, run() rejects with it. */
  stop(error?: unknown): void {
    if (error !== undefined && !this.failure) this.failure = { error };
    this.ended = true;
    this.wake?.();
  }

  /** Detaches the hooks now and stops ticking; run() goes on until stop() or the signal. One line per hook. */
  detach(): string[] {
    const lines = this.close();
    // Kept for close(), which prints them once the view has given the terminal back.
    this.detachedLines.push(...lines);
    this.wake?.();
    return lines;
  }

  /** Detaches the hooks if detach() has not: one line per hook, with those of an earlier detach() (each line once). */
  close(): string[] {
    const earlier = this.detachedLines.splice(0);
    if (this.closed) return earlier;
    this.closed = true;
    return [...earlier, ...this.o.collector.close()];
  }

  private async loop(): Promise<void> {
    if (this.o.collector.clock) return this.replay(this.o.collector.clock);
    const intervalMs = this.o.intervalS * 1000;
    try {
      if (this.o.signal?.aborted) this.ended = true;
      if (!this.ended) this.prime();
      const start = performance.now();
      for (let n = 1; !this.ended && (this.o.count === undefined || n <= this.o.count); n++) {
        // Scheduled from the start, so that slow ticks do not make the intervals drift.
        await this.sleep(start + n * intervalMs - performance.now());
        while (this.closed && !this.ended) await this.sleep(Infinity);
        if (this.ended) break;
        this.step();
      }
    } catch (error) {
      this.stop(error);
    }
    this.ended = true;
    if (this.failure) throw this.failure.error;
  }

  /** The schedule of a collector with a clock: its time, one interval per tick, as fast as it goes. */
  private async replay(clock: CollectorClock): Promise<void> {
    const intervalNs = this.o.intervalS * 1e9;
    const more = (): boolean => !this.ended && (this.o.count === undefined || this.ticks < this.o.count);
    try {
      if (this.o.signal?.aborted) this.ended = true;
      const first = this.ended ? undefined : await clock.start();
      if (!this.ended) this.prime();
      if (first !== undefined) {
        for (let n = 1; more(); n++) {
          if (!(await clock.advanceTo(first + n * intervalNs))) break;
          if (this.ended) break;
          this.step();
          const next = clock.nextNs;
          // No frame until `next`: one tick at the last boundary before it covers the gap.
          if (!this.o.everyInterval && next !== undefined) n = Math.max(n, Math.floor((next - first) / intervalNs) - 1);
        }
      }
      // The frames after the last full interval, up to the end of the capture.
      if (more() && !this.closed) this.step();
      if (clock.error) throw clock.error;
      if (this.o.holdAtEnd) while (!this.ended) await this.sleep(Infinity);
    } catch (error) {
      this.stop(error);
    }
    this.ended = true;
    if (this.failure) throw this.failure.error;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined;
      this.wake = done;
    });
  }
}
