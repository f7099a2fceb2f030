/** Builders for the UI tests: scripted snapshots, ticks through the real Sampler, and the rendered App. */
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import type { HookInfo } from '../../src/collectors/hooks.js';
import { RunLoop } from '../../src/app/run-loop.js';
import type { Collector } from '../../src/collectors/collector.js';
import { ScriptedCollector } from '../../src/collectors/scripted-collector.js';
import type { FlowRecord, Snapshot } from '../../src/model/types.js';
import { App } from '../../src/ui/App.js';
import { initialState, reducer, type InitialOptions, type Meta, type UiState, type UiStore } from '../../src/ui/state.js';
import { createStore } from '../../src/ui/store.js';
import { themeFor } from '../../src/ui/theme.js';
import type { TickData } from '../../src/model/rows.js';
import { counters, flow, snapshot } from './model-fixtures.js';

export const HOOKS: readonly HookInfo[] = [
  { ifname: 'eth0', ifindex: 2, kind: 'tc', dir: 'ingress', mode: 'tcx', link: true },
  { ifname: 'eth0', ifindex: 2, kind: 'tc', dir: 'egress', mode: 'tcx', link: true },
];

export const META: Meta = { interfaces: ['eth0'], hooks: HOOKS, mapKind: 'lru', maxFlows: 65536 };

/** 2024-01-02 03:04:05 UTC: wall time at monotonic 0. */
export const EPOCH_MS = Date.UTC(2024, 0, 2, 3, 4, 5);

/** The snapshot at `second` seconds, with counters summed from the flows. */
export function at(second: number, flows: readonly FlowRecord[]): Snapshot {
  const sum = (dir: 'ingress' | 'egress', field: 'packets' | 'bytes'): number =>
    flows.filter((f) => f.dir === dir).reduce((n, f) => n + f[field], 0);
  return snapshot({
    monoNs: second * 1e9,
    wallMs: EPOCH_MS + second * 1000,
    flows,
    counters: counters({
      packetsIn: sum('ingress', 'packets'),
      packetsOut: sum('egress', 'packets'),
      bytesIn: sum('ingress', 'bytes'),
      bytesOut: sum('egress', 'bytes'),
      flowsCreated: flows.length,
    }),
  });
}

/** A TCP flow from 10.0.0.<n>:4000<n> to 192.0.2.1:443 with these cumulative counters. */
export function tcp(n: number, bytes: number, packets: number, over: Partial<FlowRecord> = {}): FlowRecord {
  return flow({
    key: `f${n}`,
    src: `10.0.0.${n}`,
    sport: 40000 + n,
    dst: '192.0.2.1',
    dport: 443,
    bytes,
    packets,
    firstSeenNs: 0,
    lastSeenNs: 1e9,
    ...over,
  });
}

/** Ticks from the real run loop over a ScriptedCollector: the first snapshot primes it. */
export function ticksOf(snapshots: readonly Snapshot[], idleTimeoutS = 30): TickData[] {
  const loop = new RunLoop({ collector: new ScriptedCollector(snapshots, { hooks: HOOKS }), interfaces: ['eth0'], intervalS: 1, idleTimeoutS });
  // The test feeds them to a view afterwards, each one: it holds them all (no tick is retired).
  loop.subscribe({ tick: () => undefined, holds: () => true });
  loop.prime();
  return snapshots.slice(1).map(() => loop.step());
}

/** The schedule a test runs a view at. */
export interface Timing {
  readonly intervalS: number;
  readonly count: number | undefined;
  readonly idleTimeoutS: number;
}

/** A run loop over a collector, watching eth0. */
export function loopOf(collector: Collector, t: Timing, signal?: AbortSignal): RunLoop {
  return new RunLoop({ collector, interfaces: ['eth0'], intervalS: t.intervalS, idleTimeoutS: t.idleTimeoutS, count: t.count, signal });
}

export function storeOf(over: Partial<InitialOptions> = {}): UiStore {
  return createStore(
    reducer,
    initialState({ meta: META, columns: 80, rows: 24, sort: 'bps', descending: true, filter: '', ...over }),
  );
}

/** The state after these actions, from initialState with `over`. */
export function stateAfter(over: Partial<InitialOptions>, ...actions: Parameters<typeof reducer>[1][]): UiState {
  const store = storeOf(over);
  for (const action of actions) store.dispatch(action);
  return store.getState();
}

export interface Rendered {
  readonly store: UiStore;
  frame(): string;
  lines(): string[];
  /** Writes each key to stdin as a terminal would, letting Ink and React settle after each. */
  press(...keys: string[]): Promise<void>;
  dispatch(...actions: Parameters<typeof reducer>[1][]): Promise<void>;
  unmount(): void;
}

/** Lets Ink read stdin (escape sequences wait one setImmediate) and React commit. */
export function settle(): Promise<void> {
  return delay(15);
}

export async function renderApp(store: UiStore): Promise<Rendered> {
  const app = render(createElement(App, { store, theme: themeFor({ NO_COLOR: '1' }) }));
  await settle();
  return {
    store,
    frame: () => app.lastFrame() ?? '',
    lines: () => (app.lastFrame() ?? '').split('\n'),
    async press(...keys) {
      for (const key of keys) {
        app.stdin.write(key);
        await settle();
      }
    },
    async dispatch(...actions) {
      for (const action of actions) store.dispatch(action);
      await settle();
    },
    unmount: () => app.unmount(),
  };
}

export const KEY = {
  up: '\u001B[A',
  down: '\u001B[B',
  pageUp: '\u001B[5~',
  pageDown: '\u001B[6~',
  home: '\u001B[H',
  end: '\u001B[F',
  enter: '\r',
  esc: '\u001B',
  backspace: '\u007F',
  ctrlC: '\u0003',
} as const;

/** A terminal for runTui: stdout records what Ink writes, stdin takes key presses. */
export function fakeTerminal(columns = 80, rows = 24) {
  const stdout = Object.assign(new EventEmitter(), {
    columns,
    rows,
    written: '',
    write(data: string): boolean {
      stdout.written += data;
      return true;
    },
  });
  let pending: string | null = null;
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    setRawMode: () => stdin,
    setEncoding: () => stdin,
    resume: () => stdin,
    pause: () => stdin,
    ref: () => stdin,
    unref: () => stdin,
    read(): string | null {
      const data = pending;
      pending = null;
      return data;
    },
    press(data: string): void {
      pending = data;
      stdin.emit('readable');
    },
  });
  return {
    stdout,
    stdin,
    /** The streams as runTui takes them. */
    io: { stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream },
  };
}
