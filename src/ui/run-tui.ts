/**
 * The interactive view's lifecycle: sample on a fixed schedule into the store, let Ink draw it,
 * carry out what the state asks for (quit, detach, host names), and give the terminal back.
 * Nothing is written to the terminal except through Ink.
 */
import { render } from 'ink';
import { createElement } from 'react';
import type { Options } from '../../bin/cli.js';
import type { Collector } from '../collectors/collector.js';
import { Sampler } from '../collectors/sampler.js';
import { App } from './App.js';
import { NameResolver } from './resolver.js';
import { addressesOnScreen, initialState, reducer, type UiStore } from './state.js';
import { createStore } from './store.js';
import { themeFor } from './theme.js';

export type TuiOptions = Pick<Options, 'sort' | 'reverse' | 'filter' | 'intervalS' | 'count' | 'idleTimeoutS'> &
  Partial<Pick<Options, 'window' | 'aggregate'>>;

export interface TuiArgs {
  readonly collector: Collector;
  readonly options: TuiOptions;
  readonly interfaces: readonly string[];
  /** Aborting ends the TUI (signals). */
  readonly signal: AbortSignal;
  /** Detaches the hooks for `D`; returns one line per hook detached. */
  readonly onDetach?: () => string[];
  /** The terminal: process.stdin and process.stdout unless given (tests). */
  readonly stdin?: NodeJS.ReadStream;
  readonly stdout?: NodeJS.WriteStream;
}

/** Resolves after q, Ctrl-C, an abort or options.count ticks, once Ink has unmounted; rejects if sampling fails. */
export async function runTui(args: TuiArgs): Promise<void> {
  const { collector, options, signal } = args;
  const stdout = args.stdout ?? process.stdout;
  const stdin = args.stdin ?? process.stdin;
  const store: UiStore = createStore(
    reducer,
    initialState({
      meta: { interfaces: args.interfaces, hooks: collector.hooks, mapKind: collector.mapKind, maxFlows: collector.maxFlows },
      columns: stdout.columns || 80,
      rows: stdout.rows || 24,
      sort: options.sort,
      descending: !options.reverse,
      filter: options.filter,
      window: options.window,
      aggregation: options.aggregate,
    }),
  );
  const sampler = new Sampler(collector, options.idleTimeoutS * 1e9);
  sampler.prime();
  const resolver = new NameResolver((addr, name) => store.dispatch({ type: 'names', names: new Map([[addr, name]]) }));
  const ink = render(createElement(App, { store, theme: themeFor(process.env) }), {
    stdout,
    stdin,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: 10,
  });

  return new Promise<void>((resolve, reject) => {
    const intervalMs = options.intervalS * 1000;
    const start = performance.now();
    let ticks = 0;
    let timer: NodeJS.Timeout | undefined;
    let detaching = false;
    let finished = false;

    const finish = (err?: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      stdout.off('resize', onResize);
      resolver.close();
      ink.unmount();
      ink.waitUntilExit().then(() => (err === undefined ? resolve() : reject(err)), reject);
    };
    // Scheduled from the start, so that slow ticks do not make the intervals drift.
    const schedule = (): void => {
      timer = setTimeout(onTimer, Math.max(0, start + (ticks + 1) * intervalMs - performance.now()));
    };
    const onTimer = (): void => {
      ticks++;
      try {
        store.dispatch({ type: 'tick', tick: sampler.tick() });
      } catch (err) {
        finish(err);
        return;
      }
      if (options.count !== undefined && ticks >= options.count) finish();
      else schedule();
    };
    const detach = (): void => {
      clearTimeout(timer);
      try {
        store.dispatch({ type: 'detached', lines: args.onDetach?.() ?? [] });
      } catch (err) {
        finish(err);
      }
    };
    const onChange = (): void => {
      const state = store.getState();
      if (state.quit) return finish();
      if (state.detach === 'requested' && !detaching) {
        detaching = true;
        // Out of the dispatch that asked for it: detaching dispatches again.
        queueMicrotask(detach);
      }
      if (state.showNames) resolver.want(addressesOnScreen(state));
    };
    const onAbort = (): void => finish();
    const onResize = (): void => store.dispatch({ type: 'resize', columns: stdout.columns, rows: stdout.rows });

    const unsubscribe = store.subscribe(onChange);
    signal.addEventListener('abort', onAbort, { once: true });
    stdout.on('resize', onResize);
    // Ink ends by itself only on a render error.
    ink.waitUntilExit().catch(finish);
    if (signal.aborted) finish();
    else schedule();
  });
}
