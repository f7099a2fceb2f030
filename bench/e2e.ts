/**
 * End to end: a fixed number of UDP frames (trafgen, from Debian's netsniff-ng) sent from one test
 * namespace over a veth pair into the other, where tc-top (TC or XDP) or iftop watches the
 * receiving end. Measured for each run: the CPU seconds of the run's own processes (the sender, the
 * monitor, ksoftirqd), the busy CPU seconds of the whole machine (/proc/stat), and the sender's
 * wall time. On a shared machine other sessions' work moves the machine's figure, not ours: with
 * tick-based accounting (no IRQ_TIME_ACCOUNTING) softirq work, the veth receive path included, is
 * charged to the task it interrupts (here the sender) or to ksoftirqd. The configurations take turns, in a rotating order, several times, and the
 * medians are compared with the run that had nothing attached.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bed, withBed } from '../test/helpers/netns.js';
import { frame } from '../test/helpers/packets.js';
import { type Running, startTcTop } from '../test/helpers/run.js';
import { exited, holdEmpty, ksoftirqdPids, machineBusySeconds, median, nowNs, processCpuSeconds, progress, reapedChildrenCpuSeconds, sleep, stopChild, track } from './lib.js';

export const E2E_PACKETS = 1_000_000;
export const E2E_FLOWS = 64;
const REPS = 5;
/** After a monitor has attached: let its own start-up work end before the window opens. */
const SETTLE_MS = 700;
/** After the sender is done: let a monitor that reads a ring catch up, inside the window. */
const DRAIN_MS = 300;

export type E2eConfig = 'none' | 'tc' | 'tc-empty' | 'xdp' | 'xdp-empty' | 'iftop';
export const E2E_CONFIGS: readonly E2eConfig[] = ['none', 'tc', 'tc-empty', 'xdp', 'xdp-empty', 'iftop'];

export interface E2eRow {
  readonly config: E2eConfig;
  /** Median CPU seconds of the run's own processes during the window (what the comparison uses). */
  readonly cpuS: number;
  /** Median busy CPU seconds of the machine during the window. */
  readonly busyS: number;
  /** Median wall seconds of the sender. */
  readonly wallS: number;
  /** Median frames received by the watched interface. */
  readonly delivered: number;
  /** Frames per second received, median over runs. */
  readonly pps: number;
  /** What the monitor said about its hooks (tc-top), or its command line (iftop). */
  readonly detail: string;
  /** Frames tc-top counted on the interface during the run (its own totals), median. */
  readonly counted?: number;
  readonly runs: number;
}

export interface E2eResult {
  readonly packets: number;
  readonly flows: number;
  readonly frameBytes: number;
  readonly reps: number;
  readonly rows: E2eRow[];
  readonly trafgenArgs: string;
}

interface Sample {
  /** CPU seconds of the run's own processes: the sender, the monitor, ksoftirqd. */
  cpuS: number;
  /** Busy CPU seconds of the whole machine (/proc/stat), which other work on a shared machine also moves. */
  busyS: number;
  wallS: number;
  delivered: number;
  counted?: number;
}

function statistic(bed: Bed, ns: string, ifc: string, name: string): number {
  return Number(bed.exec(ns, 'cat', [`/sys/class/net/${ifc}/statistics/${name}`]).trim());
}

interface Monitor {
  readonly detail: string;
  /** Pids whose CPU time is the monitor's (none for 'none'). */
  readonly pids: readonly number[];
  /** tc-top's count of frames in on the interface, read from its next JSON line. */
  counted(): Promise<number | undefined>;
  stop(): Promise<void>;
}

async function startMonitor(bed: Bed, config: E2eConfig): Promise<Monitor> {
  if (config === 'none') return { detail: 'nothing attached', pids: [], counted: async () => undefined, stop: async () => {} };
  if (config === 'xdp-empty' || config === 'tc-empty') {
    const hook = config === 'xdp-empty' ? 'xdp' : 'tc';
    const empty = await holdEmpty([hook, bed.ifA], bed.nsA);
    return {
      detail: hook === 'xdp' ? 'bench/empty.bpf.o empty_xdp, native, XDP link' : 'bench/empty.bpf.o empty_tc, tcx ingress link',
      pids: [empty.pid],
      counted: async () => undefined,
      stop: empty.stop,
    };
  }
  if (config === 'iftop') {
    const args = ['-t', '-n', '-N', '-P', '-i', bed.ifA];
    const child = track(spawn('ip', ['netns', 'exec', bed.nsA, 'iftop', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    child.stdout!.resume();
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const end = Date.now() + 10_000;
    // iftop names the interface's addresses once it has opened it.
    while (!/MAC address is/.test(err)) {
      if (child.exitCode !== null || Date.now() > end) {
        await stopChild(child, 1000);
        throw new Error(`iftop did not start: ${err.trim()}`);
      }
      await sleep(20);
    }
    return { detail: `iftop ${args.join(' ')}`, pids: [child.pid!], counted: async () => undefined, stop: async () => void (await stopChild(child, 5000)) };
  }
  const tc: Running = startTcTop(bed.nsA, ['-i', bed.ifA, '--hook', config, '--json', '-d', '1']);
  track(tc.child);
  try {
    const want = config === 'tc' ? 2 : 1;
    await tc.waitFor(() => (tc.stderr().match(/attached/g) ?? []).length >= want, 15_000, `tc-top --hook ${config} to attach`);
  } catch (err) {
    await tc.stop('SIGKILL');
    throw err;
  }
  const detail = tc
    .stderr()
    .split('\n')
    .filter((l) => /attached|notice|generic|native/.test(l))
    .map((l) => l.replace(/^tc-top: /, '').replace(bed.ifA, 'veth'))
    .join('; ');
  return {
    detail,
    pids: [tc.child.pid!],
    async counted() {
      const seen = tc.lines.length;
      try {
        await tc.waitFor(() => tc.lines.length > seen, 3000, 'a JSON line');
      } catch {
        return undefined;
      }
      return (JSON.parse(tc.lines[tc.lines.length - 1]!) as { totals: { packets_in: number } }).totals.packets_in;
    },
    async stop() {
      await tc.stop('SIGINT');
    },
  };
}

/** CPU and wall time of one send, with the monitor already attached. */
async function sendOnce(bed: Bed, trafgenArgs: readonly string[], monitorPids: readonly number[]): Promise<Sample> {
  const rx0 = statistic(bed, bed.nsA, bed.ifA, 'rx_packets');
  // The sender is our child: its CPU (and its own worker's) lands in our cutime/cstime once reaped.
  const own = [...monitorPids, ...ksoftirqdPids()];
  const ownCpu = (): number => reapedChildrenCpuSeconds() + own.reduce((t, pid) => t + processCpuSeconds(pid), 0);
  const cpu0 = ownCpu();
  const busy0 = machineBusySeconds();
  const t0 = nowNs();
  const child = track(spawn('ip', ['netns', 'exec', bed.nsB, 'trafgen', ...trafgenArgs], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await exited(child);
  const wallS = (nowNs() - t0) / 1e9;
  if (code !== 0) throw new Error(`trafgen exited ${code}: ${err.trim()}`);
  await sleep(DRAIN_MS);
  const busyS = machineBusySeconds() - busy0;
  const cpuS = ownCpu() - cpu0;
  const delivered = statistic(bed, bed.nsA, bed.ifA, 'rx_packets') - rx0;
  return { cpuS, busyS, wallS, delivered };
}

export async function benchE2e(): Promise<E2eResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tc-top-bench-'));
  try {
    return await withBed(async (bed) => {
      const frames = Array.from({ length: E2E_FLOWS }, (_, i) =>
        frame({ dstMac: bed.macA, srcMac: bed.macB, ip: { v: 4, src: '10.200.0.2', dst: '10.200.0.1' }, l4: { kind: 'udp', sport: 20000 + i, dport: 9 }, payload: 22 }),
      );
      // One trafgen packet per flow, sent round robin; raw bytes, so the frames are exactly the tests' frames.
      const conf = join(dir, 'flows.cfg');
      writeFileSync(conf, frames.map((f) => `{ ${[...f].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ')} }`).join('\n') + '\n');
      // One sender process; leave the system's socket memory and IRQ affinities alone.
      const trafgenArgs = ['-i', conf, '-o', bed.ifB, '-n', String(E2E_PACKETS), '-P', '1', '--no-sock-mem', '--notouch-irq', '--no-cpu-stats'];
      const samples = new Map<E2eConfig, Sample[]>(E2E_CONFIGS.map((c) => [c, []]));
      const details = new Map<E2eConfig, string>();
      for (let rep = 0; rep < REPS; rep++) {
        // A rotating order, so that no configuration always runs first or after the same one.
        const order = E2E_CONFIGS.map((_, i) => E2E_CONFIGS[(i + rep) % E2E_CONFIGS.length]!);
        for (const config of order) {
          progress(`end to end: run ${rep + 1}/${REPS}, ${config}`);
          const monitor = await startMonitor(bed, config);
          try {
            details.set(config, monitor.detail);
            await sleep(SETTLE_MS);
            const s = await sendOnce(bed, trafgenArgs, monitor.pids);
            const counted = await monitor.counted();
            samples.get(config)!.push(counted === undefined ? s : { ...s, counted });
          } finally {
            await monitor.stop();
          }
        }
      }
      const rows = E2E_CONFIGS.map((config): E2eRow => {
        const s = samples.get(config)!;
        const counted = s.filter((x) => x.counted !== undefined).map((x) => x.counted!);
        return {
          config,
          cpuS: median(s.map((x) => x.cpuS)),
          busyS: median(s.map((x) => x.busyS)),
          wallS: median(s.map((x) => x.wallS)),
          delivered: median(s.map((x) => x.delivered)),
          pps: median(s.map((x) => x.delivered / x.wallS)),
          detail: details.get(config) ?? '',
          counted: counted.length ? median(counted) : undefined,
          runs: s.length,
        };
      });
      return { packets: E2E_PACKETS, flows: E2E_FLOWS, frameBytes: frames[0]!.length, reps: REPS, rows, trafgenArgs: `trafgen ${trafgenArgs.join(' ').replace(conf, 'flows.cfg').replace(bed.ifB, 'VETH')}` };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
