/**
 * `tc-top --demo`: builds the demo bed (src/collectors/demo.ts) and runs tc-top inside it with the
 * user's other flags, in the same terminal. Owns the bed's removal on every way out.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createDemoBed, sweepDemoBeds } from '../src/collectors/demo.js';

const BIN = fileURLToPath(new URL('./tc-top.js', import.meta.url));

/** Runs the demo; resolves with the exit code of the tc-top inside it. */
export async function runDemo(argv: readonly string[], idleTimeoutGiven: boolean): Promise<number> {
  for (const line of sweepDemoBeds()) process.stderr.write(`tc-top: ${line}\n`);
  const bed = createDemoBed();
  process.on('exit', bed.remove);
  try {
    const args = [...argv.filter((a) => a !== '--demo'), '-i', bed.iface, ...(idleTimeoutGiven ? [] : ['--idle-timeout', '5'])];
    const child = spawn('ip', ['netns', 'exec', bed.ns, process.execPath, BIN, ...args], { stdio: 'inherit' });
    // Ctrl-C in the terminal reaches the child too (one process group); a signal sent to the
    // demo alone is passed on, so the child detaches and exits first.
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
    return await new Promise<number>((resolve) => {
      child.on('exit', (code) => resolve(code ?? 1));
      child.on('error', () => resolve(1));
    });
  } finally {
    bed.remove();
  }
}
