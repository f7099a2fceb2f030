/**
 * Soak: tc-top watches churning flows at a steady packet rate for 10 minutes (`--minutes N` to
 * change), while its resident memory and CPU are sampled each second. Reports the first and the
 * last minute side by side, checks for errors and a clean exit, and writes docs/RELIABILITY.md.
 * Not part of the default test run: `sudo node --import tsx bench/soak.ts [--minutes 10]`.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { hookState, withBed } from '../test/helpers/netns.js';
import { startTcTop } from '../test/helpers/run.js';

const minutes = Number(process.argv[process.argv.indexOf('--minutes') + 1] || 10) || 10;
const PPS = 2000;
const NEW_FLOWS_PER_S = 200;

/** UDP at PPS packets/s; every second NEW_FLOWS_PER_S flows are replaced by new source ports. */
const SENDER = `
const dgram = require('node:dgram');
let socks = [];
let gen = 0;
const end = Date.now() + ${minutes} * 60000 + 10000;
function churn() {
  for (let i = 0; i < ${NEW_FLOWS_PER_S} && socks.length > 0; i++) socks.shift().close();
  while (socks.length < ${NEW_FLOWS_PER_S * 4}) { const s = dgram.createSocket('udp4'); s.on('error', () => {}); s.bind(0, '10.200.0.2'); socks.push(s); }
}
churn();
setInterval(churn, 1000);
setInterval(() => {
  if (Date.now() > end) process.exit(0);
  for (let i = 0; i < ${PPS / 10}; i++) socks[(gen++) % socks.length].send(Buffer.alloc(200), 9000 + (i % 4), '10.200.0.1');
}, 100);
`;

interface Sample {
  readonly t: number;
  readonly rssMiB: number;
  readonly cpuPct: number;
  readonly flows: number;
}

function procStat(pid: number): { rss: number; cpuTicks: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { rss: Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) * 1024, cpuTicks: Number(stat[11]) + Number(stat[12]) };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

await withBed(async (bed) => {
  // A sink on every port, so that the receiver answers with no ICMP.
  const sink = spawn('ip', ['netns', 'exec', bed.nsA, process.execPath, '-e', `for (const p of [9000,9001,9002,9003]) require('node:dgram').createSocket('udp4').bind(p, '10.200.0.1').on('message', () => {}); setTimeout(() => process.exit(0), ${minutes * 60000 + 20000});`], { stdio: 'ignore' });
  const sender = spawn('ip', ['netns', 'exec', bed.nsB, process.execPath, '-e', SENDER], { stdio: 'ignore' });
  const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '1', '--idle-timeout', '5', '--top', '10']);
  const samples: Sample[] = [];
  try {
    await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
    const pid = run.child.pid!;
    const hz = 100;
    let prev = procStat(pid);
    const start = Date.now();
    while (Date.now() - start < minutes * 60_000) {
      await new Promise((r) => setTimeout(r, 1000));
      if (run.child.exitCode !== null) throw new Error(`tc-top exited early: ${run.stderr()}`);
      const now = procStat(pid);
      const last = JSON.parse(run.lines[run.lines.length - 1]!) as { totals: { flows: number } };
      samples.push({ t: (Date.now() - start) / 1000, rssMiB: now.rss / 2 ** 20, cpuPct: ((now.cpuTicks - prev.cpuTicks) / hz) * 100, flows: last.totals.flows });
      prev = now;
    }
    const code = await run.stop('SIGINT');
    const state = hookState(bed, bed.nsA, bed.ifA);
    const clean = state.programs.length === 0 && state.tcIngress === '' && state.tcEgress === '';
    const errors = run.stderr().split('\n').filter((l) => l && !/attached|detached/.test(l));
    const first = samples.filter((s) => s.t <= 60);
    const lastMin = samples.filter((s) => s.t > samples[samples.length - 1]!.t - 60);
    const row = (name: string, f: (s: Sample) => number, digits: number) =>
      `| ${name} | ${mean(first.map(f)).toFixed(digits)} | ${mean(lastMin.map(f)).toFixed(digits)} | ${Math.max(...samples.map(f)).toFixed(digits)} |`;
    const lines = run.lines.length;
    const report = `# Reliability

## Soak (${new Date().toISOString().slice(0, 10)})

\`sudo node --import tsx bench/soak.ts --minutes ${minutes}\`: tc-top (\`--json -d 1 --idle-timeout 5\`) watches a
veth between two test namespaces for ${minutes} minutes while ${PPS} UDP packets/s arrive and ${NEW_FLOWS_PER_S} new
flows replace old ones every second (so flows are created, expire and are deleted all the time).
Resident memory and CPU of the tc-top process are sampled every second from /proc.

Machine: ${os.cpus()[0]?.model ?? '?'} x ${os.cpus().length}, Linux ${os.release()}, Node ${process.version}.

| metric | first minute (mean) | last minute (mean) | max |
| --- | --- | --- | --- |
${row('resident memory (MiB)', (s) => s.rssMiB, 1)}
${row('CPU (% of one core)', (s) => s.cpuPct, 1)}
${row('live flows', (s) => s.flows, 0)}

- updates printed: ${lines} (one per second expected: ${minutes * 60})
- errors on stderr: ${errors.length === 0 ? 'none' : errors.join('; ')}
- exit on SIGINT: code ${code}; interface afterwards: ${clean ? 'clean (no XDP, tcx or tc program)' : JSON.stringify(state)}
`;
    writeFileSync(new URL('../docs/RELIABILITY.md', import.meta.url), report);
    process.stdout.write(report);
  } finally {
    await run.stop('SIGKILL');
    sender.kill('SIGKILL');
    sink.kill('SIGKILL');
  }
});
