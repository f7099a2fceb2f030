/**
 * One tick of the TUI at a given number of flows, in a process of its own so that its resident
 * memory is its own: a real flows map filled with N synthetic flows, the real collector and
 * Sampler, the TUI's reducer, and the Screen re-rendered by one Ink instance, as the TUI draws it.
 *
 * Usage: tick-child.ts N [VIEW]   Prints one JSON line (TickChildResult). VIEW (TickView) is the TUI's
 * flow view (the default), the TUI grouped by conversation (`--aggregate conversation`), or the
 * `--json` writer with `--top 50` or without --top (each tick's line made, not written).
 * Between ticks 1% of the flows get new packets (outside the timing), so rates and order change.
 * The model's clock advances a second a tick, so its 40 s windows fill as in a real run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { Writable } from 'node:stream';
import type { Collector } from '../src/collectors/collector.js';
import type { FlowSet } from '../src/model/flow-set.js';
import type { Snapshot } from '../src/model/types.js';
import { parseArgs } from '../bin/cli.js';
import { youngGenerationFor } from '../src/app/garbage.js';

/** What a tick feeds: the TUI's flow view, the TUI grouped by conversation, --json --top 50, --json. */
export const TICK_VIEWS = ['flow', 'conversation', 'json-top50', 'json'] as const;
export type TickView = (typeof TICK_VIEWS)[number];

export interface TickChildResult {
  readonly flows: number;
  readonly view: TickView;
  readonly ticks: number;
  /** Medians, ms: the whole tick, and its parts. */
  readonly tickMs: number;
  readonly readMs: number;
  readonly ratesMs: number;
  /** TUI: the reducer (filter, grouping, top-N, state); --json: the rows selected and the line made. */
  readonly reduceMs: number;
  /** TUI: the frame; 0 for --json. */
  readonly renderMs: number;
  /** Resident memory after the ticks, and its peak (VmHWM), bytes. */
  readonly rss: number;
  readonly peakRss: number;
  /** TUI: lines drawn; --json: rows (flows or groups) in the line. */
  readonly rowsShown: number;
  readonly expired: number;
  /** Flows of the last tick turned into objects (FlowRecord), of all flows: the rows shown and the new flows' events. */
  readonly recordsBuilt: number;
  /** Full collections the run loop ran after ticks (src/app/garbage.ts). */
  readonly collections: number;
}

const COLUMNS = 120;
const ROWS = 40;
/** A filter that keeps almost every flow, so the tick pays for the filter pass in full. */
const FILTER = 'not port 22';

function peakRss(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Where the resident memory is, MB: the whole and its peak, anonymous (heap, typed arrays), file-backed (code, the mapped slots), and V8's view. */
function memory(): Record<string, number> {
  const status = readFileSync('/proc/self/status', 'utf8');
  const mb = (name: string): number => Math.round(Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024);
  const m = process.memoryUsage();
  return { rssMb: mb('VmRSS'), peakMb: mb('VmHWM'), anonMb: mb('RssAnon'), fileMb: mb('RssFile'), heapMb: Math.round(m.heapUsed / 2 ** 20), buffersMb: Math.round(m.arrayBuffers / 2 ** 20) };
}

/** How many rows of the set have their record built (a private cache of the kernel's set). */
function countRecords(flows: FlowSet): number {
  const built = (flows as unknown as { built?: unknown[] }).built;
  return built ? built.filter(Boolean).length : NaN;
}

const n = Number(process.argv[2]);
const view = (process.argv[3] ?? 'flow') as TickView;
if (!TICK_VIEWS.includes(view)) throw new Error(`unknown view '${view}' (${TICK_VIEWS.join(', ')})`);
const tui = view === 'flow' || view === 'conversation';
// As bin/tc-top.ts does, in its order: the command line parsed, V8's young generation sized for the
// map, then the rest loaded (the modules' loading grows the young generation as a run's does).
const parsed = parseArgs(['--max-flows', String(n)], true);
if ('exit' in parsed) throw new Error(parsed.text);
youngGenerationFor(parsed.maxFlows);
const { createElement } = await import('react');
const { render } = await import('ink');
const { KernelCollector } = await import('../src/collectors/kernel-collector.js');
const { returnLargeFreesToSystem } = await import('../src/ffi/process.js');
const { RunLoop } = await import('../src/app/run-loop.js');
const { Screen } = await import('../src/ui/Screen.js');
const { initialState, reducer } = await import('../src/ui/state.js');
const { plainWriter } = await import('../src/output/plain.js');
const { createStore } = await import('../src/ui/store.js');
const { themeFor } = await import('../src/ui/theme.js');
const { SlotFiller } = await import('./flows.js');
const { median, nowNs } = await import('./lib.js');
returnLargeFreesToSystem();
/**
 * Enough ticks for the 40 s window to fill (one tick a second on the model's clock, below), so the
 * memory is the steady state's; the first WARMUP ticks are left out of the medians.
 */
const ticks = 45;
const WARMUP = 5;
// The default map kind (mmap), sized as a user would size it for n flows.
const collector = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map: 'mmap', maxFlows: n, attach: false });
try {
  const filler = new SlotFiller(collector.sharedSlots!, collector.slotMapFds.index, n);
  filler.fill(n);
  // The collector's read, timed apart from the rest of the sampler's tick.
  let readNs = 0;
  let reads = 0;
  const clock0 = Number(process.hrtime.bigint());
  let last: Snapshot | undefined;
  const timed: Collector = {
    hooks: collector.hooks,
    notices: collector.notices,
    maxFlows: collector.maxFlows,
    mapKind: collector.mapKind,
    read() {
      const t = nowNs();
      const read = collector.read();
      readNs = nowNs() - t;
      // The ticks run back to back; the model sees one a second, as the default -d 1 gives.
      const s: Snapshot = { ...read, monoNs: clock0 + reads++ * 1e9 };
      last = s;
      return s;
    },
    deleteFlows: (keys) => collector.deleteFlows(keys),
    release: (s) => collector.release(s),
    close: () => collector.close(),
  };
  // An idle timeout longer than the run: filling a million flows takes longer than the default
  // 30 s, and the synthetic flows must stay live (the expiry pass over every flow is still timed).
  const loop = new RunLoop({ collector: timed, interfaces: ['veth0'], intervalS: 1, idleTimeoutS: 3600 });
  loop.prime();
  const meta = { interfaces: ['veth0'], hooks: [], mapKind: collector.mapKind, maxFlows: collector.maxFlows };
  const store = createStore(
    reducer,
    initialState({
      meta,
      columns: COLUMNS,
      rows: ROWS,
      sort: 'bps',
      descending: true,
      filter: FILTER,
      aggregation: view === 'conversation' ? 'conversation' : 'flow',
    }),
  );
  // --json as bin/tc-top.ts wires it (defaults of the command line: sort bps over 2 s), with the same filter.
  const json = plainWriter({ output: 'json', filter: FILTER, aggregate: 'flow', sort: 'bps', window: 2, reverse: false, top: view === 'json-top50' ? 50 : undefined }, meta);
  const theme = themeFor(process.env);
  // The frame as the TUI draws it: one Ink instance, re-rendered each tick (debug mode writes every
  // frame whole, at once, to this terminal of COLUMNS x ROWS).
  let written = '';
  const terminal = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, done) {
        written = chunk.toString();
        done();
      },
    }),
    { columns: COLUMNS, rows: ROWS, isTTY: true },
  ) as unknown as NodeJS.WriteStream;
  const screen = render(createElement(Screen, { state: store.getState(), theme }), {
    stdout: terminal,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  const total: number[] = [];
  const read: number[] = [];
  const rates: number[] = [];
  const reduce: number[] = [];
  const draw: number[] = [];
  let rowsShown = 0;
  let expired = 0;
  // The view takes its ticks from the loop as bin/tc-top.ts wires it (a consumer: the loop retires a
  // tick once the next one is handed out), timed apart from the rest of the step.
  let line = '';
  let reduceNs = 0;
  loop.subscribe({
    tick(tick) {
      const t = nowNs();
      if (tui) store.dispatch({ type: 'tick', tick });
      else line = json(tick);
      reduceNs = nowNs() - t;
    },
  });
  // TC_TOP_BENCH_PROFILE=FILE: a CPU profile of the ticks after the warm-up, as FILE (.cpuprofile),
  // taken through the inspector after the programs are loaded (--cpu-prof's SIGPROF makes the
  // verifier fail with EAGAIN).
  const profileTo = process.env.TC_TOP_BENCH_PROFILE;
  const session = profileTo ? new Session() : undefined;
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  for (let k = 0; k < ticks; k++) {
    if (session && k === WARMUP) {
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
    }
    // New packets on 1% of the flows, as traffic would bring (not timed).
    const now = process.hrtime.bigint();
    for (let i = k % 100; i < n; i += 100) filler.put(i, 2000 + k * 10 + (i % 977), (2000 + k * 10) * 700, now - 60_000_000_000n, now);
    const t0 = nowNs();
    const tick = loop.step();
    const t2 = nowNs();
    if (tui) screen.rerender(createElement(Screen, { state: store.getState(), theme }));
    const frame = written;
    const t3 = nowNs();
    total.push((t3 - t0) / 1e6);
    read.push(readNs / 1e6);
    rates.push((t2 - t0 - readNs - reduceNs) / 1e6);
    reduce.push(reduceNs / 1e6);
    draw.push((t3 - t2) / 1e6);
    // (A line of 100k flows is parsed only once, at the end.)
    if (tui) rowsShown = frame.split('\n').length;
    else if (k === ticks - 1) rowsShown = (JSON.parse(line) as { flows: unknown[] }).flows.length;
    expired += tick.expired.length;
    process.stdout.write(JSON.stringify({ progress: `tick ${k + 1}/${ticks}`, ms: total.at(-1), ...memory() }) + '\n');
  }
  if (session) {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(profileTo!, JSON.stringify(profile));
    session.disconnect();
  }
  screen.unmount();
  // Taken before the records are counted: that pass is the bench's own, not tc-top's.
  const rss = process.memoryUsage().rss;
  const peak = peakRss();
  const recordsBuilt = countRecords(last!.flows);
  const result: TickChildResult = {
    flows: n,
    view,
    ticks,
    tickMs: median(total.slice(WARMUP)),
    readMs: median(read.slice(WARMUP)),
    ratesMs: median(rates.slice(WARMUP)),
    reduceMs: median(reduce.slice(WARMUP)),
    renderMs: median(draw.slice(WARMUP)),
    rss,
    peakRss: peak,
    rowsShown,
    expired,
    recordsBuilt,
    collections: loop.collections,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  collector.close();
}
