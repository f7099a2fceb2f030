/**
 * The kernel's own BPF run-time statistics (sysctl kernel.bpf_stats_enabled: run_time_ns and
 * run_cnt per program, as bpftool shows them), for the programs the real binary holds while it
 * watches a test bed: what each hook costs per run, measured on the running kernel, not in a
 * test run. Shared by the health (bench/health.ts) and process attribution (bench/owners.ts) cases.
 */
import { readFileSync } from 'node:fs';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { heldPrograms } from '../src/collectors/leftovers.js';
import { exited, run, stopChild, track } from './lib.js';

const BIN = fileURLToPath(new URL('../dist/bin/tc-top.js', import.meta.url));

export interface ProgStat {
  readonly ns: number;
  readonly runs: number;
}

export type ProgStats = ReadonlyMap<string, ProgStat>;

/** run_time_ns and run_cnt of the programs some processes (and their children) hold, by program name. */
export function progStats(...of: number[]): ProgStats {
  const pids = new Set(of.flatMap((pid) => [pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number)]));
  const ids = new Set([...heldPrograms()].filter(([, p]) => pids.has(p)).map(([id]) => id));
  const out = new Map<string, ProgStat>();
  for (const p of JSON.parse(run('bpftool', ['prog', 'show', '-j'])) as { id: number; name?: string; run_time_ns?: number; run_cnt?: number }[]) {
    if (ids.has(p.id) && p.name) {
      const prev = out.get(p.name) ?? { ns: 0, runs: 0 };
      out.set(p.name, { ns: prev.ns + (p.run_time_ns ?? 0), runs: prev.runs + (p.run_cnt ?? 0) });
    }
  }
  return out;
}

/** What ran between two snapshots; programs that did not run are left out. */
export function progDelta(start: ProgStats, end: ProgStats): Map<string, ProgStat> {
  const out = new Map<string, ProgStat>();
  for (const [name, e] of end) {
    const s = start.get(name) ?? { ns: 0, runs: 0 };
    if (e.runs > s.runs) out.set(name, { ns: e.ns - s.ns, runs: e.runs - s.runs });
  }
  return out;
}

/** Runs fn with kernel.bpf_stats_enabled=1, restoring the sysctl's value afterwards. */
export async function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  const sysctl = '/proc/sys/kernel/bpf_stats_enabled';
  const before = readFileSync(sysctl, 'utf8').trim();
  try {
    run('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
    return await fn();
  } finally {
    run('sysctl', ['-q', '-w', `kernel.bpf_stats_enabled=${before}`], { allowFail: true });
  }
}

/**
 * Runs the built binary (`--json -d 1`, privileges kept so that its programs stay readable) in a
 * namespace until its first line, then fn with its process, then stops it. `via: 'nsenter'` keeps
 * the cgroup v2 mount that the owner programs attach to (`ip netns exec` hides it).
 */
export async function watching<T>(ns: string, args: readonly string[], via: 'ip' | 'nsenter', fn: (child: ChildProcess) => Promise<T>): Promise<T> {
  const cmd = via === 'ip' ? ['ip', 'netns', 'exec', ns] : ['nsenter', `--net=/run/netns/${ns}`];
  const child = track(spawn(cmd[0]!, [...cmd.slice(1), process.execPath, BIN, ...args, '--json', '-d', '1', '--no-drop-privileges'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      void exited(child).then((code) => reject(new Error(`tc-top exited (${code}): ${err.trim()}`)));
    });
    child.stdout!.resume();
    return await fn(child);
  } finally {
    await stopChild(child);
  }
}
