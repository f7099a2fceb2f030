/**
 * Small helpers shared by the benchmark sections: statistics, clocks, the machine's busy CPU time,
 * child processes, and the required tools. Benchmarks report; they never fail a build.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nanoseconds from a monotonic clock, as a number (exact to well below a microsecond). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

export function msSince(startNs: number): number {
  return (nowNs() - startNs) / 1e6;
}

/** Fixed-point text, or a dash for a figure that could not be measured. */
export function fmt(x: number | undefined, digits = 0): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Jiffies per second of /proc/stat (USER_HZ): 100 on every Linux architecture tc-top runs on. */
const USER_HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * Busy CPU seconds of the whole machine so far (all CPUs): user, nice, system, irq and softirq
 * from /proc/stat. Idle, iowait and steal (time the hypervisor gave to another guest) are not ours.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [, user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / USER_HZ;
}

/** utime + stime of a live process (all its threads), seconds; 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start at state, field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return 0;
  }
}

/** CPU seconds of this process's children that have exited and been waited for (cutime + cstime). */
export function reapedChildrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / USER_HZ;
}

/** The per-CPU softirq threads (ksoftirqd/N): receive work deferred under load is charged to them. */
export function ksoftirqdPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith('ksoftirqd/')) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

export interface Tool {
  readonly cmd: string;
  /** Debian package that provides it. */
  readonly pkg: string;
}

export const TOOLS: readonly Tool[] = [
  { cmd: 'bpftool', pkg: 'bpftool' },
  { cmd: 'trafgen', pkg: 'netsniff-ng' },
  { cmd: 'iftop', pkg: 'iftop' },
  { cmd: 'taskset', pkg: 'util-linux' },
  { cmd: 'ip', pkg: 'iproute2' },
  { cmd: 'iperf3', pkg: 'iperf3' },
  { cmd: 'nft', pkg: 'nftables' },
];

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

/** The tools that are missing, with the one apt-get line that installs them. */
export function missingTools(): { missing: Tool[]; hint: string } {
  const missing = TOOLS.filter((t) => !hasCommand(t.cmd));
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  return { missing, hint: pkgs.length ? `apt-get install -y ${pkgs.join(' ')}` : '' };
}

export function run(cmd: string, args: readonly string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Waits for a child's exit; resolves with the exit code or the signal's name. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode!);
  return new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
}

/** Stops a child we started: SIGINT, then SIGKILL after graceMs. */
export async function stopChild(child: ChildProcess, graceMs = 5000, signal: NodeJS.Signals = 'SIGINT'): Promise<number | string> {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const code = await exited(child);
  clearTimeout(t);
  return code;
}

/** Runs `node --import tsx script args` and returns its last stdout line parsed as JSON. */
export async function nodeJson<T>(
  script: string,
  args: readonly string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<T> {
  // A compiled script runs on node alone, as the binary does; a TypeScript one through tsx.
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  track(child);
  opts.onSpawn?.(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const code = await exited(child);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${script} ${args.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`);
  const last = out.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

const children = new Set<ChildProcess>();

/** Remember a child process, so that it is killed if the benchmark is interrupted. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Kill every child still running (SIGKILL: tc-top's BPF links go with its process). */
export function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Logs progress to stderr, so that stdout holds only the final table. */
export function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

const ATTACH_EMPTY = fileURLToPath(new URL('./attach-empty.ts', import.meta.url));

/**
 * Holds one of bench/empty.bpf.o's programs attached (bench/attach-empty.ts ARGS), inside namespace
 * `ns` when given, until stop(): the baselines of the hooks tc-top's programs run on.
 */
export async function holdEmpty(args: readonly string[], ns?: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const argv = [process.execPath, '--import', 'tsx', ATTACH_EMPTY, ...args];
  const child = track(ns ? spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const end = Date.now() + 15_000;
  while (!out.includes('attached')) {
    if (child.exitCode !== null || Date.now() > end) {
      await stopChild(child, 1000, 'SIGKILL');
      throw new Error(`bench/attach-empty.ts ${args.join(' ')} did not attach: ${err.trim()}`);
    }
    await sleep(20);
  }
  return {
    pid: child.pid!,
    stop: async () => {
      child.stdin!.end();
      await stopChild(child, 5000, 'SIGTERM');
    },
  };
}

/**
 * A commit of this repository checked out into a temporary git worktree that shares this checkout's
 * node_modules (for side-by-side runs of an older build); remove() deletes it, and must be called on
 * every way out.
 */
export function worktreeAt(root: string, commit: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tct-bench-base-'));
  rmSync(dir, { recursive: true, force: true });
  const remove = (): void => {
    run('git', ['-C', root, 'worktree', 'remove', '--force', dir], { allowFail: true });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('git', ['-C', root, 'worktree', 'add', '--detach', dir, commit]);
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    return { dir, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
