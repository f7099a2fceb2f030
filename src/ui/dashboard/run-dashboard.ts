/**
 * The dashboard's lifecycle, as runTui's: sample on a fixed schedule into the state, draw it, act
 * on keys, and give the terminal back. q and Ctrl-C end it; the caller (bin/) then detaches the
 * hooks, exactly as after the TUI. Nothing is written to the terminal except through blessed.
 */
import type { Options } from '../../../bin/cli.js';
import type { Collector } from '../../collectors/collector.js';
import { Sampler } from '../../collectors/sampler.js';
import { DashboardScreen } from './dashboard-screen.js';
import { dashReducer, initialDashState, type DashAction, type DashMeta, type DashState } from './dashboard-state.js';

export type DashboardOptions = Pick<Options, 'sort' | 'reverse' | 'filter' | 'intervalS' | 'count' | 'idleTimeoutS'>;

export interface DashboardArgs {
  readonly collector: Collector;
  readonly options: DashboardOptions;
  readonly interfaces: readonly string[];
  /** Aborting ends the dashboard (signals). */
  readonly signal: AbortSignal;
  /** The terminal: process.stdin and process.stdout unless given (tests). */
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: NodeJS.WritableStream;
  /** terminfo name; default $TERM. */
  readonly terminal?: string;
  /** Called after each draw with the state drawn (tests). */
  readonly onDraw?: (state: DashState, screen: DashboardScreen) => void;
}

/** Resolves after q, Ctrl-C, an abort or options.count ticks, once the terminal is restored; rejects if sampling fails. */
export async function runDashboard(args: DashboardArgs): Promise<void> {
  const { collector, options, signal } = args;
  const sampler = new Sampler(collector, options.idleTimeoutS * 1e9);
  sampler.prime();
  const meta: DashMeta = { interfaces: args.interfaces, hooks: collector.hooks, mapKind: collector.mapKind, maxFlows: collector.maxFlows };
  const screen = new DashboardScreen(
    { input: args.stdin ?? process.stdin, output: args.stdout ?? process.stdout, ...(args.terminal ? { terminal: args.terminal } : {}) },
    meta,
  );
  const { columns, rows } = screen.size();
  let state = initialDashState({
    meta,
    columns,
    rows,
    sort: options.sort,
    descending: !options.reverse,
    filter: options.filter,
  });

  return new Promise<void>((resolve, reject) => {
    const intervalMs = options.intervalS * 1000;
    const start = performance.now();
    let ticks = 0;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;

    const draw = (): void => {
      screen.draw(state);
      args.onDraw?.(state, screen);
    };
    const finish = (err?: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      screen.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    const dispatch = (action: DashAction): void => {
      const next = dashReducer(state, action);
      if (next === state) return;
      state = next;
      if (state.quit) return finish();
      try {
        draw();
      } catch (err) {
        finish(err);
      }
    };
    // Scheduled from the start, so that slow ticks do not make the intervals drift.
    const schedule = (): void => {
      timer = setTimeout(onTimer, Math.max(0, start + (ticks + 1) * intervalMs - performance.now()));
    };
    const onTimer = (): void => {
      ticks++;
      try {
        dispatch({ type: 'tick', tick: sampler.tick() });
      } catch (err) {
        finish(err);
        return;
      }
      if (finished) return;
      if (options.count !== undefined && ticks >= options.count) finish();
      else schedule();
    };
    const onAbort = (): void => finish();

    screen.onKey((press) => dispatch(press));
    screen.screen.on('resize', () => dispatch({ type: 'resize', ...screen.size() }));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) return finish();
    try {
      draw();
    } catch (err) {
      return finish(err);
    }
    schedule();
  });
}
