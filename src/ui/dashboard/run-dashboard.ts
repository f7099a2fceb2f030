/**
 * The dashboard: the run loop's ticks go into its state, blessed draws it, keys act on it, and the
 * terminal is given back when the run ends. q and Ctrl-C end the run; the caller (bin/) then
 * detaches the hooks, exactly as after the TUI. Nothing is written to the terminal except through blessed.
 */
import type { Options } from '../../app/options.js';
import type { RunLoop } from '../../app/run-loop.js';
import type { ExportStatus } from '../../model/types.js';
import { DashboardScreen } from './dashboard-screen.js';
import { dashReducer, initialDashState, type DashAction, type DashState } from './dashboard-state.js';

export type DashboardOptions = Pick<Options, 'sort' | 'reverse' | 'filter'>;

export interface DashboardArgs {
  /** Runs the ticks; its count, its signal and the dashboard's q end it. */
  readonly loop: RunLoop;
  readonly options: DashboardOptions;
  /** The terminal: process.stdin and process.stdout unless given (tests). */
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: NodeJS.WritableStream;
  /** terminfo name; default $TERM. */
  readonly terminal?: string;
  /** Called after each draw with the state drawn (tests). */
  readonly onDraw?: (state: DashState, screen: DashboardScreen) => void;
  /** The flow exporters' counts, read at each tick for the header (--ipfix). */
  readonly exports?: readonly (() => ExportStatus)[];
}

/** Runs the loop under the dashboard; resolves when it ends, once the terminal is restored; rejects if a tick fails. */
export async function runDashboard(args: DashboardArgs): Promise<void> {
  const { loop, options } = args;
  const meta = loop.meta;
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

  const draw = (): void => {
    screen.draw(state);
    args.onDraw?.(state, screen);
  };
  const dispatch = (action: DashAction): void => {
    const next = dashReducer(state, action);
    if (next === state) return;
    state = next;
    if (state.quit) return loop.stop();
    draw();
  };
  // A key or a resize that fails to draw ends the run with its error, as a tick's does.
  const safely = (action: DashAction): void => {
    try {
      dispatch(action);
    } catch (err) {
      loop.stop(err);
    }
  };

  const unsubscribe = loop.subscribe({
    tick: (tick) => dispatch({ type: 'tick', tick, ...(args.exports ? { exports: args.exports.map((status) => status()) } : {}) }),
  });
  screen.onKey((press) => safely(press));
  screen.screen.on('resize', () => safely({ type: 'resize', ...screen.size() }));
  try {
    draw();
    await loop.run();
  } finally {
    unsubscribe();
    screen.destroy();
  }
}
