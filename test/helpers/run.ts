/** Running the real tc-top binary (dist/, built by `npm test`) inside a test namespace. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { wait } from './kernel.js';

export const BIN = fileURLToPath(new URL('../../dist/bin/tc-top.js', import.meta.url));

export interface Running {
  readonly child: ChildProcess;
  /** stdout lines so far. */
  readonly lines: string[];
  stderr(): string;
  /** Resolve when pred holds for stdout/stderr, or reject after timeoutMs (times SLOW). */
  waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void>;
  /** Send a signal (default SIGINT) and wait for the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  exited(): Promise<number | string>;
}

/**
 * Start tc-top in a namespace. `ip netns exec` gives it a /sys of its own, without the cgroup
 * mounts; `enter: 'nsenter'` joins only the network namespace, for runs that need the cgroup v2
 * hierarchy (the owner programs attach to its root).
 */
export function startTcTop(ns: string | undefined, args: readonly string[], enter: 'ip' | 'nsenter' = 'ip'): Running {
  const argv = !ns ? [BIN, ...args] : enter === 'ip' ? ['netns', 'exec', ns, process.execPath, BIN, ...args] : [`--net=/run/netns/${ns}`, process.execPath, BIN, ...args];
  const child = spawn(!ns ? process.execPath : enter === 'ip' ? 'ip' : 'nsenter', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    const parts = out.split('\n');
    out = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    child,
    lines,
    stderr: () => err,
    exited: () => exit,
    async waitFor(pred, timeoutMs, what) {
      const end = Date.now() + wait(timeoutMs);
      while (!pred()) {
        if (child.exitCode !== null) throw new Error(`tc-top exited (${child.exitCode}) while waiting for ${what}: ${err}`);
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stderr: ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), wait(10_000));
      const code = await exit;
      clearTimeout(t);
      return code;
    },
  };
}
