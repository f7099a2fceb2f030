/**
 * The tick and the frame: one whole TUI tick at 1k, 100k and 1M flows (each size in a process of
 * its own, bench/tick-child.ts, so that its resident memory is its own); the other views' ticks
 * beside the flow view's (the TUI grouped by conversation, --json --top 50, --json); and the
 * start-up time of the real binary from launch to its first JSON line with hooks attached.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withBed } from '../test/helpers/netns.js';
import { BIN, startTcTop } from '../test/helpers/run.js';
import { median, nodeJson, nowNs, progress, run, track } from './lib.js';
import type { TickChildResult, TickView } from './tick-child.js';

export const TICK_SIZES = [1_000, 100_000, 1_000_000] as const;
/** The other views, each beside the flow view's tick at the same size (TICK_SIZES, same run). */
export const VIEW_CASES: readonly { readonly flows: number; readonly view: Exclude<TickView, 'flow'> }[] = [
  { flows: 100_000, view: 'conversation' },
  { flows: 100_000, view: 'json-top50' },
  { flows: 100_000, view: 'json' },
  { flows: 1_000_000, view: 'json-top50' },
];
/** Compiled by `npm run bench` (bench/tsconfig.child.json), so that the child runs on node alone, as the binary does. */
const CHILD = fileURLToPath(new URL('../dist-bench/bench/tick-child.js', import.meta.url));
const STARTS = 5;

/** Rounds of a view measured in turns with the flow view at the same size, for a ratio target. */
const ROUNDS = 3;

/** The flow view's tick measured in turns with a view (the median of ROUNDS processes), the view's own ratio's base. */
export interface Beside {
  readonly tickMs: number;
  readonly rounds: number;
}

export type TickRow =
  | ({ readonly ok: true; readonly beside?: Beside } & TickChildResult)
  | { readonly ok: false; readonly flows: number; readonly view: TickView; readonly error: string; readonly seconds: number; readonly peakRss: number };

export interface StartupResult {
  /** Medians, ms from spawn: node itself (`node -e 0`), `tc-top --version`, the hooks attached, the first JSON line. */
  readonly nodeMs: number;
  readonly versionMs: number;
  readonly attachedMs: number;
  readonly firstLineMs: number;
  readonly runs: number;
  readonly args: string;
}

export interface TickResult {
  /** The TUI's flow view. */
  readonly rows: TickRow[];
  /** The other views (VIEW_CASES); absent in results of runs before they were measured. */
  readonly views?: TickRow[];
  /** 1k flows again without NODE_ENV (React's development build), for the render's share. */
  readonly development: TickRow;
  readonly startup: StartupResult;
}

/** Peak resident memory of a running process (VmHWM), bytes; NaN once it is gone. */
function peakOf(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The child's environment: NODE_ENV=production as bin/tc-top.ts sets it, or none (React's development build). */
function childEnv(production: boolean): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (production) env.NODE_ENV = 'production';
  else delete env.NODE_ENV;
  return env;
}

/** One tick child's figures; `child` is another build's compiled child (bench/baseline.ts), `label` names it in the progress. */
export async function tickAt(n: number, production = true, view: TickView = 'flow', child = CHILD, label = ''): Promise<TickRow> {
  progress(`tick${label}: ${n.toLocaleString('en-US')} flows${view === 'flow' ? '' : `, ${view}`}${production ? '' : ' (React development build)'}`);
  const env = childEnv(production);
  const t = nowNs();
  let peak = NaN;
  let poll: NodeJS.Timeout | undefined;
  try {
    const r = await nodeJson<TickChildResult>(child, [String(n), view], {
      timeoutMs: 240_000,
      env,
      // Watched from outside too, so that a child that dies of its heap still has a peak to report.
      onSpawn: (child) => (poll = setInterval(() => (peak = Math.max(Number.isNaN(peak) ? 0 : peak, peakOf(child.pid!) || 0)), 250)),
    });
    return { ok: true, ...r };
  } catch (err) {
    // The figure is then the failure itself (e.g. the heap limit), reported rather than thrown.
    return { ok: false, flows: n, view, error: (err as Error).message, seconds: (nowNs() - t) / 1e9, peakRss: peak };
  } finally {
    clearInterval(poll);
  }
}

function timeCommand(argv: readonly string[]): number {
  const t = nowNs();
  run(argv[0]!, argv.slice(1));
  return (nowNs() - t) / 1e6;
}

async function startup(): Promise<StartupResult> {
  progress('tick: start-up of the real binary');
  return withBed(async (bed) => {
    const node: number[] = [];
    const version: number[] = [];
    const attached: number[] = [];
    const first: number[] = [];
    const args = ['-i', bed.ifA, '--json', '-d', '0.05', '-n', '1'];
    for (let i = 0; i < STARTS; i++) {
      node.push(timeCommand(['ip', 'netns', 'exec', bed.nsA, process.execPath, '-e', '0']));
      version.push(timeCommand(['ip', 'netns', 'exec', bed.nsA, process.execPath, BIN, '--version']));
      const t0 = nowNs();
      const tc = startTcTop(bed.nsA, args);
      track(tc.child);
      let attachedAt = NaN;
      let firstAt = NaN;
      tc.child.stderr!.on('data', (d: Buffer) => {
        if (Number.isNaN(attachedAt) && /attached/.test(String(d))) attachedAt = nowNs();
      });
      tc.child.stdout!.once('data', () => (firstAt = nowNs()));
      try {
        await tc.waitFor(() => tc.lines.length > 0, 10_000, 'the first JSON line');
      } finally {
        await tc.stop('SIGINT');
      }
      attached.push((attachedAt - t0) / 1e6);
      first.push((firstAt - t0) / 1e6);
    }
    return {
      nodeMs: median(node),
      versionMs: median(version),
      attachedMs: median(attached),
      firstLineMs: median(first),
      runs: STARTS,
      args: `tc-top ${args.join(' ').replace(bed.ifA, 'VETH')}`,
    };
  });
}

/** The views whose target is a ratio to the flow view's tick (100k flows, but not every flow printed). */
function ratioTarget(c: (typeof VIEW_CASES)[number]): boolean {
  return c.flows === 100_000 && c.view !== 'json';
}

/**
 * A view and the flow view at the same size, in turns, ROUNDS processes each: the view's run whose
 * tick is the median of its rounds, with the median of the flow view's (a ratio of two processes
 * run minutes apart moves with the machine's load in between).
 */
async function inTurns(n: number, view: TickView): Promise<TickRow> {
  const own: TickRow[] = [];
  const flow: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const f = await tickAt(n, true, 'flow', CHILD, ` (beside ${view}, round ${k + 1}/${ROUNDS})`);
    if (f.ok) flow.push(f.tickMs);
    own.push(await tickAt(n, true, view, CHILD, ` (round ${k + 1}/${ROUNDS})`));
  }
  const done = own.filter((r) => r.ok).sort((a, b) => (a as TickChildResult).tickMs - (b as TickChildResult).tickMs);
  const mid = done[Math.floor((done.length - 1) / 2)];
  if (!mid || !mid.ok) return own[0] as TickRow;
  return flow.length > 0 ? { ...mid, beside: { tickMs: median(flow), rounds: flow.length } } : mid;
}

export async function benchTick(): Promise<TickResult> {
  const rows: TickRow[] = [];
  for (const n of TICK_SIZES) rows.push(await tickAt(n));
  const views: TickRow[] = [];
  for (const c of VIEW_CASES) views.push(ratioTarget(c) ? await inTurns(c.flows, c.view) : await tickAt(c.flows, true, c.view));
  const development = await tickAt(TICK_SIZES[0], false);
  return { rows, views, development, startup: await startup() };
}
