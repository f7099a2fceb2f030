/**
 * Before and after the structure issue (13), side by side in one run: the tick of the same views
 * at the same sizes, by tc-top as it was at BASE (the commit that issue measured) and as it is now.
 * BASE is checked out into a temporary git worktree, built with this checkout's node_modules, and
 * timed by bench/baseline/tick-child-028553d.ts (today's child written against that commit's
 * modules); today's build by bench/tick-child.ts. The cases alternate before/after, each in a
 * process of its own. The worktree is removed on every way out.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { progress, run, worktreeAt } from './lib.js';
import { tickAt, type TickRow } from './tick.js';
import type { TickView } from './tick-child.js';

export const BASE = '028553d';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BASE_CHILD = fileURLToPath(new URL(`./baseline/tick-child-${BASE}.ts`, import.meta.url));
const CHILD = fileURLToPath(new URL('../dist-bench/bench/tick-child.js', import.meta.url));

/** The views of item 4 and the memory of item 6: what the issue asked to compare. */
export const BASELINE_CASES: readonly { readonly flows: number; readonly view: TickView }[] = [
  { flows: 100_000, view: 'flow' },
  { flows: 100_000, view: 'conversation' },
  { flows: 100_000, view: 'json-top50' },
  { flows: 100_000, view: 'json' },
  { flows: 1_000_000, view: 'flow' },
  { flows: 1_000_000, view: 'json-top50' },
];

export interface BaselineRow {
  readonly flows: number;
  readonly view: TickView;
  readonly before: TickRow;
  readonly after: TickRow;
}

export interface BaselineResult {
  readonly base: string;
  readonly rows: readonly BaselineRow[];
  readonly seconds: number;
  readonly error?: string;
}

/** BASE built in a temporary worktree, with its child compiled; removed by the returned function. */
function prepareBase(): { child: string; remove(): void } {
  const { dir, remove } = worktreeAt(ROOT, BASE);
  try {
    copyFileSync(BASE_CHILD, join(dir, 'bench', 'baseline-child.ts'));
    writeFileSync(
      join(dir, 'tsconfig.baseline.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { rootDir: '.', outDir: 'dist-bench', sourceMap: false }, include: ['bench/baseline-child.ts'] }),
    );
    run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(dir, 'tsconfig.baseline.json')]);
    return { child: join(dir, 'dist-bench', 'bench', 'baseline-child.js'), remove };
  } catch (err) {
    remove();
    throw err;
  }
}

export async function benchBaseline(): Promise<BaselineResult> {
  const t0 = Date.now();
  let base: ReturnType<typeof prepareBase> | undefined;
  try {
    progress(`baseline: building ${BASE} in a worktree`);
    base = prepareBase();
    const rows: BaselineRow[] = [];
    for (const [k, c] of BASELINE_CASES.entries()) {
      // Alternating which goes first, so that neither always runs on a warmer machine.
      const first = k % 2 === 0;
      const a = await tickAt(c.flows, true, c.view, first ? base.child : CHILD, first ? ` (${BASE})` : ' (now)');
      const b = await tickAt(c.flows, true, c.view, first ? CHILD : base.child, first ? ' (now)' : ` (${BASE})`);
      rows.push({ flows: c.flows, view: c.view, before: first ? a : b, after: first ? b : a });
    }
    return { base: BASE, rows, seconds: (Date.now() - t0) / 1000 };
  } catch (err) {
    return { base: BASE, rows: [], seconds: (Date.now() - t0) / 1000, error: err instanceof Error ? err.message : String(err) };
  } finally {
    base?.remove();
  }
}

const VIEW_LABEL: Record<TickView, string> = {
  flow: 'TUI, flow view',
  conversation: 'TUI, `--aggregate conversation`',
  'json-top50': '`--json --top 50`',
  json: '`--json` (every flow)',
};

const ms = (r: TickRow): string => (r.ok ? `${r.tickMs.toFixed(r.tickMs < 100 ? 1 : 0)} ms` : `failed: ${r.error.slice(0, 80)}`);
const mb = (r: TickRow): string => (Number.isNaN(r.peakRss) ? '–' : `${Math.round(r.peakRss / 1e6)} MB`);

/** The section of docs/BENCHMARKS.md. */
export function baselineMarkdown(b: BaselineResult | undefined): string[] {
  if (!b) return [];
  const lines = [
    `## 8. Before and after the structure issue (13): ${b.base} and this commit`,
    '',
    `Method: bench/baseline.ts checks ${b.base} (the commit issue 13 measured before it began) out into a temporary git worktree, builds`,
    'it with this checkout\'s node_modules, and times its tick with bench/baseline/tick-child-' + b.base + '.ts: section 4\'s child written against that',
    'commit\'s modules. Each case runs once with each build, in processes of their own, the order alternating; 45 ticks, medians of the',
    'last 40, peak resident memory (VmHWM) of the whole process. The same synthetic flows, 1% of them moving each tick.',
    '',
  ];
  if (b.error) return [...lines, `Not measured: ${b.error}`, ''];
  return [
    ...lines,
    `| view | flows | tick, ${b.base} | tick, now | now / before | peak memory, ${b.base} | peak memory, now |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...b.rows.map((r) => {
      const ratio = r.before.ok && r.after.ok ? `${(r.after.tickMs / r.before.tickMs).toFixed(2)}×` : '–';
      return `| ${VIEW_LABEL[r.view]} | ${r.flows.toLocaleString('en-US')} | ${ms(r.before)} | ${ms(r.after)} | ${ratio} | ${mb(r.before)} | ${mb(r.after)} |`;
    }),
    '',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const b = await benchBaseline();
  process.stdout.write(baselineMarkdown(b).join('\n') + '\n');
}
