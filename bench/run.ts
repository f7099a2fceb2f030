/**
 * `npm run bench`: tc-top's benchmarks, side by side in one run (as root, on this machine), written
 * to docs/BENCHMARKS.md and summarised on stdout. Progress goes to stderr. The figures are
 * reported, never judged: a missed target does not change the exit code. Everything the run
 * creates (namespaces, processes, loaded programs) is removed before it ends, on every path.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchCapture } from './capture.js';
import { benchDataplane } from './dataplane.js';
import { benchE2e } from './e2e.js';
import { killChildren, missingTools, nowNs, progress } from './lib.js';
import { benchReader } from './reader.js';
import { type Machine, type Results, render } from './report.js';
import { benchTick } from './tick.js';
import { benchHealth } from './health.js';
import { benchOwners } from './owners.js';
import { benchBaseline } from './baseline.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOC = fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url));
/** The last run's raw figures (not committed): `bench/run.ts --report` writes the page again from them. */
const RAW = fileURLToPath(new URL('./last-run.json', import.meta.url));

function firstLine(cmd: string, args: readonly string[], pattern = /.*/): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return text.split('\n').find((l) => pattern.test(l))?.trim() ?? 'unknown';
}

async function machine(): Promise<Machine> {
  const { libbpfVersion } = await import('../src/ffi/libbpf.js');
  const cpuInfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    kernel: firstLine('uname', ['-sr']),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuInfo)?.[1] ?? 'unknown',
    cpus: cpus().length,
    node: process.version,
    libbpf: `${libbpfVersion()} (Debian libbpf1 ${firstLine('dpkg-query', ['-W', '-f', '${Version}', 'libbpf1'])})`,
    bpftool: firstLine('bpftool', ['--version'], /bpftool/).replace(/^bpftool\s+/, ''),
    trafgen: firstLine('trafgen', ['--version'], /trafgen/).replace(/^trafgen\s+/, ''),
    iftop: firstLine('dpkg-query', ['-W', '-f', '${Version}', 'iftop']),
    commit: firstLine('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    dirty: spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench', ':!docs/BENCHMARKS.md'], { encoding: 'utf8' }).stdout.trim() !== '',
    clocksource: readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'utf8').trim(),
  };
}

function write(results: Results): void {
  const { markdown, summary } = render(results);
  writeFileSync(DOC, markdown);
  process.stdout.write(`${summary}\n\nwritten to docs/BENCHMARKS.md (run took ${results.seconds.toFixed(0)} s)\n`);
}

async function main(): Promise<number> {
  if (process.argv.includes('--report')) {
    write(JSON.parse(readFileSync(RAW, 'utf8')) as Results);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (BPF, network namespaces): run `sudo npm run bench`\n');
    return 1;
  }
  const { missing, hint } = missingTools();
  if (missing.length) {
    process.stderr.write(`bench: missing ${missing.map((t) => t.cmd).join(', ')}: install with \`${hint}\`\n`);
    return 1;
  }
  if (process.argv.includes('--only=baseline')) {
    // Before and after issue 13 alone, printed, nothing written.
    const { baselineMarkdown } = await import('./baseline.js');
    process.stdout.write(baselineMarkdown(await benchBaseline()).join('\n') + '\n');
    return 0;
  }
  if (process.argv.includes('--only=owners')) {
    // One case alone (process attribution), printed, nothing written.
    const { ownersMarkdown } = await import('./owners.js');
    process.stdout.write(ownersMarkdown(await benchOwners()).join('\n') + '\n');
    return 0;
  }
  if (process.argv.includes('--only=capture')) {
    // One case alone (tc-top -r), printed, nothing written.
    const c = await benchCapture();
    for (const r of c.rows) process.stdout.write(`tc-top -r, ${r.hook}, ${r.build === 'now' ? 'this build' : c.before}: ${c.frames} frames in ${r.seconds.toFixed(2)} s = ${Math.round(r.fps)} frames/s (counted ${r.counted})\n`);
    if (c.error) process.stdout.write(`${c.error}\n`);
    process.stdout.write(`a test run: ${c.runUs.one.toFixed(2)} µs with one frame, ${c.runUs.batch.toFixed(2)} µs with ${c.runUs.full}; start-up ${c.startupS.toFixed(2)} s (a capture of one frame)\n`);
    return 0;
  }
  const t0 = nowNs();
  const m = await machine();
  progress(`${m.kernel}, ${m.cpuModel} x ${m.cpus}, Node ${m.node}, libbpf ${m.libbpf}`);
  const dataplane = await benchDataplane();
  const reader = await benchReader();
  const tick = await benchTick();
  const e2e = await benchE2e();
  const capture = await benchCapture();
  const health = await benchHealth();
  const owners = await benchOwners();
  const baseline = await benchBaseline();
  const results: Results = { machine: m, dataplane, e2e, reader, tick, capture, health, owners, baseline, seconds: (nowNs() - t0) / 1e9 };
  writeFileSync(RAW, JSON.stringify(results, null, 1) + '\n');
  write(results);
  return 0;
}

// An interrupted run still removes what it made: the exit handlers delete the test namespaces.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killChildren();
    process.exit(130);
  });
}
process.on('exit', killChildren);

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    killChildren();
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
