/**
 * The interactive view: the run loop's ticks go into the store, Ink draws it, and what the state
 * asks for (quit, detach, host names) goes back to the loop or the resolver; the terminal is given
 * back when the run ends. Nothing is written to the terminal except through Ink.
 */
import { render } from 'ink';
import { createElement } from 'react';
import type { Options } from '../app/options.js';
import type { RunLoop } from '../app/run-loop.js';
import type { ExportStatus } from '../model/types.js';
import { NameResolver } from '../names/resolver.js';
import { App } from './App.js';
import { addressesOnScreen, initialState, reducer, type UiStore } from './state.js';
import { createStore } from './store.js';
import { themeFor } from './theme.js';

export type TuiOptions = Pick<Options, 'sort' | 'reverse' | 'filter'> & Partial<Pick<Options, 'window' | 'aggregate'>>;

export interface TuiArgs {
  /** Runs the ticks; its count, its signal and the TUI's q end it. */
  readonly loop: RunLoop;
  readonly options: TuiOptions;
  /** The terminal: process.stdin and process.stdout unless given (tests). */
  readonly stdin?: NodeJS.ReadStream;
  readonly stdout?: NodeJS.WriteStream;
  /** The flow exporters' counts, read at each tick for the header (--ipfix). */
  readonly exports?: readonly (() => ExportStatus)[];
}

/** Runs the loop under the TUI; resolves when it ends (q, Ctrl-C, an abort, its count), once Ink has unmounted; rejects if a tick fails. */
export async function runTui(args: TuiArgs): Promise<void> {
  const { loop, options } = args;
  const stdout = args.stdout ?? process.stdout;
  const stdin = args.stdin ?? process.stdin;
  const store: UiStore = createStore(
    reducer,
    initialState({
      meta: loop.meta,
      columns: stdout.columns || 80,
      rows: stdout.rows || 24,
      sort: options.sort,
      descending: !options.reverse,
      filter: options.filter,
      window: options.window,
      aggregation: options.aggregate,
    }),
  );
  const resolver = new NameResolver((addr, name) => store.dispatch({ type: 'names', names: new Map([[addr, name]]) }));
  const ink = render(createElement(App, { store, theme: themeFor(process.env) }), {
    stdout,
    stdin,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: 10,
  });

  let detaching = false;
  const detach = (): void => {
    try {
      store.dispatch({ type: 'detached', lines: loop.detach() });
    } catch (err) {
      loop.stop(err);
    }
  };
  const onChange = (): void => {
    const state = store.getState();
    if (state.quit) return loop.stop();
    if (state.detach === 'requested' && !detaching) {
      detaching = true;
      // Out of the dispatch that asked for it: detaching dispatches again.
      queueMicrotask(detach);
    }
    if (state.showNames) resolver.want(addressesOnScreen(state));
  };
  const onResize = (): void => store.dispatch({ type: 'resize', columns: stdout.columns, rows: stdout.rows });

  const unsubscribeTicks = loop.subscribe({
    tick: (tick) => store.dispatch({ type: 'tick', tick, ...(args.exports ? { exports: args.exports.map((status) => status()) } : {}) }),
    // A paused view goes on showing (and sorting, filtering) the tick it froze.
    holds: (tick) => store.getState().frozen?.tick === tick,
  });
  const unsubscribe = store.subscribe(onChange);
  stdout.on('resize', onResize);
  // Ink ends by itself only on a render error.
  ink.waitUntilExit().catch((err: unknown) => loop.stop(err));
  try {
    await loop.run();
  } finally {
    unsubscribeTicks();
    unsubscribe();
    stdout.off('resize', onResize);
    resolver.close();
    ink.unmount();
    await ink.waitUntilExit().catch(() => undefined);
  }
}
